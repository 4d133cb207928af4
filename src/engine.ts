// Opens the configured engine: the embedded DuckDB file by default, Snowflake when an account is set.
import { join } from 'node:path';
import type { Config } from './config.js';
import { DuckDbDatabase } from './db/duckdb.js';
import type { Engine, Warehouse } from './db/warehouse.js';
import type { Logger } from './logger.js';

export interface EngineHandle {
  engine: Engine;
  /** The service's main connection (API reads, enqueue, processor writes). */
  warehouse: Warehouse;
  /** Another connection to the same database (a second processor, a benchmark); pooled on Snowflake. */
  connect(): Promise<Warehouse>;
  /** Where the data lives, for logs and /health (never includes credentials). */
  location: string;
  /** Resolves once the database takes a write again (src/storage-health.ts, while degraded); embedded only. */
  checkStorage?: () => Promise<void>;
  close(): Promise<void>;
}

export const EMBEDDED_DATABASE_FILE = 'flakebench.duckdb';

export async function openEngine(config: Config, log: Logger): Promise<EngineHandle> {
  if (config.snowflake) return openSnowflakeEngine(config, log);
  const path = join(config.dataDir, EMBEDDED_DATABASE_FILE);
  const database = await DuckDbDatabase.open(path);
  const warehouse = await database.connect();
  return {
    engine: 'duckdb',
    warehouse,
    connect: () => database.connect(),
    location: path,
    checkStorage: () => database.checkStorage(),
    close: () => database.close(),
  };
}

async function openSnowflakeEngine(config: Config, log: Logger): Promise<EngineHandle> {
  const settings = config.snowflake;
  if (!settings) throw new Error('Snowflake settings missing');
  // snowflake-sdk probes cloud metadata endpoints when it is first evaluated unless this is set; it is
  // loaded lazily below, only in Snowflake mode, after the variable is in place.
  process.env.SNOWFLAKE_DISABLE_PLATFORM_DETECTION = 'true';
  const { openSnowflakeWarehouse } = await import('./db/snowflake.js');
  const warehouse = await openSnowflakeWarehouse(settings, log);
  return {
    engine: 'snowflake',
    warehouse,
    connect: async () => warehouse,
    location: `${settings.account}/${settings.database}.${settings.schema}`,
    close: () => warehouse.close(),
  };
}
