// Test helpers: a real embedded database in a fresh temporary folder, and the real service on top of it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock, type Clock } from '../../src/clock.js';
import { loadConfig, type Config } from '../../src/config.js';
import { DuckDbDatabase } from '../../src/db/duckdb.js';
import { migrate } from '../../src/db/migrations.js';
import type { Warehouse } from '../../src/db/warehouse.js';
import { openEngine, type EngineHandle } from '../../src/engine.js';
import { realModules } from '../../src/enrichment/modules/index.js';
import { EnrichmentRegistry } from '../../src/enrichment/registry.js';
import { createLogger } from '../../src/logger.js';
import { Processor } from '../../src/processor/processor.js';
import { startService, type RunningService } from '../../src/service.js';

export const silentLog = createLogger('silent');

export function tempDir(prefix = 'fbde-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export interface TestDatabase {
  dir: string;
  database: DuckDbDatabase;
  warehouse: Warehouse;
  engine: EngineHandle;
  close(): Promise<void>;
}

/** A migrated DuckDB file in a temporary folder. */
export async function openTestDatabase(clock: Clock = new ManualClock()): Promise<TestDatabase> {
  const dir = tempDir();
  const path = join(dir.path, 'flakebench.duckdb');
  const database = await DuckDbDatabase.open(path);
  const warehouse = await database.connect();
  await migrate(warehouse, { clock, log: { info: () => undefined, warn: () => undefined } });
  const engine: EngineHandle = {
    engine: 'duckdb',
    warehouse,
    connect: () => database.connect(),
    location: path,
    close: () => database.close(),
  };
  return {
    dir: dir.path,
    database,
    warehouse,
    engine,
    async close() {
      await database.close();
      dir.remove();
    },
  };
}

export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({ LOG_LEVEL: 'silent', ENRICHMENT_ENABLED: 'false', PORT: '0', ...overrides });
}

/** Snowflake mode against the fake endpoint at `url` (test/support/fake-snowflake.ts), logging in with `password`. */
export function fakeSnowflakeConfig(url: string, dataDir: string, password: string, overrides: Record<string, string> = {}): Config {
  return testConfig({
    DATA_DIR: dataDir,
    SNOWFLAKE_ACCOUNT: 'FAKEACCOUNT',
    SNOWFLAKE_USER: 'SERVICE_USER',
    SNOWFLAKE_PASSWORD: password,
    SNOWFLAKE_ACCESS_URL: url,
    ...overrides,
  });
}

/** Applies this service's migrations to the account `config` points at (the fake endpoint), through the driver. */
export async function migrateAccount(config: Config, clock: Clock = new ManualClock()): Promise<void> {
  const engine = await openEngine(config, silentLog);
  try {
    await migrate(engine.warehouse, { clock, log: { info: () => undefined, warn: () => undefined } });
  } finally {
    await engine.close();
  }
}

/** One poll of a real processor with the real enrichment modules, until it is idle. */
export async function processDueJobs(service: RunningService): Promise<void> {
  const processor = new Processor(service.services, { registry: new EnrichmentRegistry(realModules()) });
  await processor.poll();
  await processor.idle();
}

/** The whole service on a temporary embedded database (the app is not listening until you call listen). */
export async function startTestService(
  options: { env?: Record<string, string>; clock?: Clock } = {},
): Promise<RunningService & { dir: string; clock: Clock }> {
  const dir = tempDir();
  const clock = options.clock ?? new ManualClock();
  const config = testConfig({ DATA_DIR: dir.path, ...options.env });
  const service = await startService(config, silentLog, { clock });
  return {
    ...service,
    dir: dir.path,
    clock,
    async stop() {
      await service.stop();
      dir.remove();
    },
  };
}
