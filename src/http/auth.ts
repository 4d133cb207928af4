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

export function requiresToken(method: string, url: string, scope: 'mutating' | 'all'): boolean {
  if (url === '/health' || url.startsWith('/health?')) return false;
  if (scope === 'all') return true;
  return method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS';
}
