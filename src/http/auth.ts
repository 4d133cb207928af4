// Bearer-token check for API_TOKEN, compared in constant time (hashing first makes the lengths equal).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

const digest = (text: string) => createHash('sha256').update(text).digest();

export function tokenMatches(expected: string, presented: string | undefined): boolean {
  if (presented === undefined) return false;
  return timingSafeEqual(digest(expected), digest(presented));
}

/** The token a request presents: `Authorization: Bearer <token>`, or `?token=` (WebSocket clients cannot set headers). */
export function presentedToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header === 'string' && header.startsWith('Bearer ')) return header.slice('Bearer '.length).trim();
  const query = request.query as Record<string, unknown> | undefined;
  return typeof query?.token === 'string' ? query.token : undefined;
}

/** The dashboard's page and assets hold no data (the page asks for the token and sends it on each call). */
function isDashboardShell(method: string, url: string): boolean {
  if (method !== 'GET' && method !== 'HEAD') return false;
  const path = url.split('?')[0];
  return path === '/' || (path !== undefined && path.startsWith('/dashboard/'));
}

export function requiresToken(method: string, url: string, scope: 'mutating' | 'all'): boolean {
  if (url === '/health' || url.startsWith('/health?')) return false;
  if (isDashboardShell(method, url)) return false;
  if (scope === 'all') return true;
  return method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS';
}
