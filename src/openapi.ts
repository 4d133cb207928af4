// Renders the OpenAPI document from the route schemas of an app built on a throwaway in-memory database.
import { ManualClock } from './clock.js';
import { loadConfig } from './config.js';
import { DuckDbDatabase } from './db/duckdb.js';
import { createLogger } from './logger.js';
import { startService } from './service.js';

export async function renderOpenApi(): Promise<string> {
  const config = loadConfig({ LOG_LEVEL: 'silent', ENRICHMENT_ENABLED: 'false' });
  const log = createLogger('silent');
  const database = await DuckDbDatabase.open(':memory:');
  const warehouse = await database.connect();
  const engine = { engine: 'duckdb' as const, warehouse, connect: () => database.connect(), location: ':memory:', close: () => database.close() };
  const service = await startService(config, log, { engine, clock: new ManualClock() });
  try {
    await service.app.ready();
    return service.app.swagger({ yaml: true });
  } finally {
    await service.stop();
  }
}
