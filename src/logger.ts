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
  };
  return destination ? pino(options, destination as pino.DestinationStream) : pino(options);
}
