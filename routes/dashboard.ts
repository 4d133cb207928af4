// GET /: the live dashboard page, and its static assets under /dashboard/ (plain ES modules and CSS from
// public/, served as they are: no build step). The files are found from the package root, so the compiled
// service (dist/) serves the same folder. The page holds no data; it reads the JSON routes and /ws.
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { packagePath } from '../src/package-root.js';

/** Where the page's files live (not compiled). */
export const DASHBOARD_ROOT = packagePath('public');
/** URL prefix of the assets; the page itself is GET /. */
export const DASHBOARD_ASSET_PREFIX = '/dashboard/';

// Only this origin's scripts, styles and connections (fetch and the WebSocket); no inline code, no framing.
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const dashboardRoutes: FastifyPluginAsyncTypebox = async (app) => {
  // Assets revalidate on every load (ETag): a restarted service with new files is picked up at once.
  await app.register(fastifyStatic, { root: DASHBOARD_ROOT, prefix: DASHBOARD_ASSET_PREFIX, index: false, maxAge: 0 });

  app.get(
    '/',
    {
      schema: {
        summary: 'The live dashboard page (queue, job list, per-test detail), an HTML document',
        tags: ['dashboard'],
        response: { 200: { content: { 'text/html': { schema: Type.String({ description: 'The page; it loads /dashboard/app.js.' }) } } } },
      },
    },
    async (_request, reply) =>
      reply.header('content-security-policy', CONTENT_SECURITY_POLICY).header('x-content-type-options', 'nosniff').sendFile('index.html', { maxAge: 0 }),
  );
};

export default dashboardRoutes;
