// Entry point: configuration → service → listen, with graceful shutdown on SIGTERM/SIGINT.
import closeWithGrace from 'close-with-grace';
import { isEntryPoint } from './cli/entry.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger } from './logger.js';
import { startService, type RunningService, type StartOptions } from './service.js';

export async function main(overrides: Record<string, string | undefined> = {}, options: StartOptions = {}): Promise<RunningService> {
  let config: Config;
  try {
    config = loadConfig({ ...process.env, ...overrides });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const log = createLogger(config.logLevel);
  let service: RunningService;
  try {
    service = await startService(config, log, options);
  } catch (error) {
    log.fatal({ err: error instanceof Error ? { message: error.message, name: error.name } : error }, 'service failed to start');
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
  closeWithGrace({ delay: config.shutdownGraceMs + 5000, logger: log }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'stopping after an uncaught error');
    else log.info({ signal }, 'stopping');
    await service.stop();
  });
  const address = await service.app.listen({ host: config.host, port: config.port });
  log.info({ address, engine: service.services.engine.engine, data: service.services.engine.location }, 'listening');
  return service;
}

if (isEntryPoint(import.meta.url)) {
  await main();
}
