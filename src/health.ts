// What GET /health reports, kept in memory so that answering it never queries the warehouse
// (on Snowflake every query can resume a billed warehouse).
import type { Engine } from './db/warehouse.js';
import type { StorageSnapshot } from './storage-health.js';

export type ViewProbe = { view: string; readable: boolean; checked_at: string; error?: string };

export interface HealthState {
  engine: Engine;
  startedAt: Date;
  migrations: { applied: number; pending: number; current: boolean; latest: string | null };
  /** Per ACCOUNT_USAGE view: readable by the service's role (filled by the start-up probe). */
  views: ViewProbe[];
  /** Filled by the processor when it runs; `undefined` when the processor is off. */
  processor: (() => Record<string, unknown>) | undefined;
  /** The embedded database's failing writes (src/storage-health.ts); null while writes succeed. */
  storage: () => StorageSnapshot | null;
}

export function createHealthState(engine: Engine, now: Date): HealthState {
  return {
    engine,
    startedAt: now,
    migrations: { applied: 0, pending: 0, current: false, latest: null },
    views: [],
    processor: undefined,
    storage: () => null,
  };
}
