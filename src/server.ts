// Entry point: configuration → service → listen, with graceful shutdown on SIGTERM/SIGINT.
// `npm start` runs the compiled dist/src/server.js; tests and the demo run this file through tsx.
import closeWithGrace from 'close-with-grace';
import { isEntryPoint } from './cli/entry.js';
import { ConfigError, loadConfig, readEnvironment, type Config, type Environment } from './config.js';
import { createLogger } from './logger.js';
import { onStopSignals, STOP_SIGNALS } from './stop-signals.js';
import { startService, type RunningService, type StartOptions } from './service.js';

/** The environment merged with the settings file, or exit 2 with the problem (an unreadable ENV_FILE). */
export function readEnvironmentOrExit(): Environment {
  try {
    return readEnvironment();
  } catch (error) {
    return exitOnConfigError(error);
  }
}

function exitOnConfigError(error: unknown): never {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  throw error;
}

/**
 * Starts the service. `overrides` win over everything (tests); `defaults` only fill what neither the
 * environment nor the settings file sets (the demo's fast latencies).
 */
export async function main(
  overrides: Record<string, string | undefined> = {},
  options: StartOptions = {},
  defaults: Record<string, string> = {},
): Promise<RunningService> {
  const environment = readEnvironmentOrExit();
  let config: Config;
  try {
    config = loadConfig({ ...defaults, ...environment.values, ...overrides }, environment);
  } catch (error) {
    exitOnConfigError(error);
  }
  const log = createLogger(config.logLevel);
  if (environment.file !== undefined) log.info({ file: environment.file, variables: environment.fromFile.size }, 'settings file read');
  let service: RunningService;
  try {
    service = await startService(config, log, options);
  } catch (error) {
    log.fatal({ err: error instanceof Error ? { message: error.message, name: error.name } : error }, 'service failed to start');
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
  // Signals are taken by onStopSignals (it tells npm's echo of a Ctrl-C from a second one); close-with-grace
  // runs the stop with its deadline, and handles uncaught errors.
  const graceful = closeWithGrace({ delay: config.shutdownGraceMs + 5000, logger: log, skip: [...STOP_SIGNALS] }, async ({ err }) => {
    if (err) log.error({ err }, 'stopping after an uncaught error');
    await service.stop();
  });
  onStopSignals({
    stop(signal) {
      log.info({ signal }, 'stopping');
      graceful.close();
    },
    exit(signal) {
      log.error({ signal }, `second ${signal}, exiting`);
      process.exit(1);
    },
  });
  const address = await service.app.listen({ host: config.host, port: config.port });
  log.info({ address, engine: service.services.engine.engine, data: service.services.engine.location }, 'listening');
  return service;
}

if (isEntryPoint(import.meta.url)) {
  await main();
}
