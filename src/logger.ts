import { pino, type Logger } from 'pino';

export type { Logger };

/** Paths pino blanks out wherever they appear in a log line: passwords, tokens and private keys. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.query.token',
  'password',
  '*.password',
  'token',
  '*.token',
  'privateKey',
  '*.privateKey',
  'privateKeyPass',
  '*.privateKeyPass',
  'apiToken',
  '*.apiToken',
  'masterToken',
  '*.masterToken',
];

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const options = {
    level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    base: { service: 'flakebench-delayed-enrichment' },
    // Fastify logs each request's URL; a WebSocket client may carry its token in `?token=`.
    serializers: {
      req: (req: { method?: string; url?: string; hostname?: string; ip?: string }) => ({
        method: req.method,
        url: req.url === undefined ? undefined : redactTokenInUrl(req.url),
        hostname: req.hostname,
        remoteAddress: req.ip,
      }),
    },
  };
  return destination ? pino(options, destination as pino.DestinationStream) : pino(options);
}

/** The URL with the value of any `token` query parameter replaced (logs must never hold a credential). */
export function redactTokenInUrl(url: string): string {
  return url.replace(/([?&]token=)[^&#]*/gi, '$1[redacted]');
}
