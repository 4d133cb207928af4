// Builds the Fastify app: plugins, the error handler, and every route plugin under routes/.
// server.ts starts it; tests build it and call app.inject() or listen on a real port.
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import websocket from '@fastify/websocket';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyError, type FastifyReply } from 'fastify';
import { routePlugins } from '../routes/index.js';
import { presentedToken, requiresToken, tokenMatches } from './http/auth.js';
import { HttpProblem, problem } from './http/problem.js';
import type { Services } from './services.js';
import { SERVICE_VERSION } from './version.js';

/** Largest JSON body accepted by default; routes that take more (replay) raise their own limit. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

export type App = Awaited<ReturnType<typeof buildApp>>;

export async function buildApp(services: Services) {
  const app = Fastify({
    loggerInstance: services.log,
    bodyLimit: DEFAULT_BODY_LIMIT,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
    // Errors the router raises before any route runs (a bad %-encoding, an over-long path parameter) get
    // the same problem body as every other error.
    frameworkErrors: (error, _request, reply: FastifyReply) => {
      const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 400;
      const detail = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'a path parameter is longer than the route allows' : error.code === 'FST_ERR_BAD_URL' ? 'the URL is not validly %-encoded' : error.message;
      void reply.code(status).send(problem(status, detail));
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.decorate('services', services);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'FlakeBench delayed-enrichment service',
        version: SERVICE_VERSION,
        description:
          'Durable queue and API for the metrics Snowflake publishes in ACCOUNT_USAGE hours after a FlakeBench test ends.',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      },
    },
  });
  await app.register(cors, { origin: services.config.corsOrigins.length > 0 ? services.config.corsOrigins : false });
  await app.register(rateLimit, { global: false });
  // Protocol cap (close 1009 beyond it); messages over src/events/frames.ts MAX_MESSAGE_BYTES get an error frame.
  await app.register(websocket, { options: { maxPayload: 1024 * 1024 } });

  // HTTP metrics by route pattern (never the raw URL: ids would explode the label set).
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const labels = { method: request.method, route };
    services.metrics.httpRequests.inc({ ...labels, status: String(reply.statusCode) });
    services.metrics.httpDuration.observe(labels, reply.elapsedTime / 1000);
  });

  const token = services.config.apiToken;
  if (token !== undefined) {
    app.addHook('onRequest', async (request, reply) => {
      if (!requiresToken(request.method, request.url, services.config.apiAuthScope)) return;
      if (!tokenMatches(token, presentedToken(request))) {
        await reply
          .code(401)
          .header('www-authenticate', 'Bearer')
          .send(problem(401, 'A valid bearer token is required (Authorization: Bearer <API_TOKEN>).'));
      }
    });
  }

  app.setErrorHandler((error: FastifyError | HttpProblem, request, reply) => {
    if (error instanceof HttpProblem) return reply.code(error.statusCode).send(problem(error.statusCode, error.detail));
    if (error.validation) {
      const first = error.validation[0];
      const where = `${error.validationContext ?? 'request'}${first?.instancePath ?? ''}`;
      const detail = first ? `${where} ${first.message ?? 'is invalid'}` : error.message;
      return reply.code(400).send(problem(400, detail));
    }
    const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status >= 500) {
      request.log.error({ err: error }, 'request failed');
      return reply.code(500).send(problem(500, 'The service could not complete the request; the error is in its log.'));
    }
    return reply.code(status).send(problem(status, error.message));
  });

  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send(problem(404, `No route ${request.method} ${request.url.split('?')[0]}`)),
  );

  for (const plugin of routePlugins) await app.register(plugin);
  return app;
}
