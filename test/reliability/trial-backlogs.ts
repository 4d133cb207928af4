// Where the crash and shutdown trials get their backlogs, one fresh and identical backlog per trial, on either
// engine: the embedded one (a copy of one seeded DuckDB file) or Snowflake's (a fresh fake account, see
// fake-account.ts, seeded with the same simulated tests; the service processes reach it through the real
// snowflake-sdk). Either way the checks read the backlog's database directly, not through the service.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock } from '../../src/clock.js';
import type { Warehouse } from '../../src/db/warehouse.js';
import { writeSimulations } from '../../src/simulator/simulate.js';
import { backlogPlans, copyBacklog, enqueuePlans, scratchDir, seedBacklog, withDatabase } from './backlog.js';
import { openFakeAccount } from './fake-account.js';

/** The file snowflake-sdk logs to by default (its working directory). */
const DRIVER_LOG = 'snowflake.log';

export const TRIAL_ENGINES = ['duckdb', 'snowflake'] as const;
export type TrialEngine = (typeof TRIAL_ENGINES)[number];

/** `--engine duckdb|snowflake|both` → the engines to run. */
export function parseEngines(value: string): TrialEngine[] {
  if (value === 'both') return [...TRIAL_ENGINES];
  if ((TRIAL_ENGINES as readonly string[]).includes(value)) return [value as TrialEngine];
  throw new Error(`--engine ${value}: expected duckdb, snowflake or both`);
}

export interface TrialBacklog {
  /** The service process's DATA_DIR. */
  dir: string;
  /** Job id → test id. */
  jobs: Map<string, string>;
  /** What a service process needs in its environment to reach this backlog's database. */
  env: Record<string, string>;
  /** Runs `work` on the backlog's database (no service process may be running on the embedded file). */
  read<T>(work: (warehouse: Warehouse) => Promise<T>): Promise<T>;
  /** After a kill: waits until what the killed process had already sent has finished (on Snowflake the account
   * runs a statement to its end after its client is gone; the embedded engine died with the process). */
  settled(): Promise<void>;
  remove(): Promise<void>;
}

export interface BacklogSource {
  engine: TrialEngine;
  /** A fresh backlog, the same tests each time. */
  next(): Promise<TrialBacklog>;
  /** Ends the source; what the engine's own rules found broken over its backlogs (named). */
  close(): Promise<string[]>;
}

export async function backlogSource(engine: TrialEngine, count: number, seed: number): Promise<BacklogSource> {
  return engine === 'duckdb' ? embeddedBacklogs(count, seed) : snowflakeBacklogs(count, seed);
}

/** Copies of one seeded embedded database file. */
async function embeddedBacklogs(count: number, seed: number): Promise<BacklogSource> {
  const template = await seedBacklog(count, seed);
  return {
    engine: 'duckdb',
    async next() {
      const copy = copyBacklog(template);
      return {
        dir: copy.dir,
        jobs: copy.jobs,
        env: {},
        read: (work) => withDatabase(copy.file, work),
        settled: async () => undefined,
        remove: async () => copy.remove(),
      };
    },
    async close() {
      template.remove();
      return [];
    },
  };
}

/**
 * A fresh fake account per backlog (its database lives in memory, so a copy is a reseed), with the same
 * simulated tests (same seed, same `now`) enqueued through the driver; the job ids differ per backlog.
 */
function snowflakeBacklogs(count: number, seed: number): BacklogSource {
  const plans = backlogPlans(count, seed, systemClock.now());
  // The driver must not write its log file (db/snowflake.ts routes it to our logger): not in the working
  // directory the service processes share with this script, not in their DATA_DIR.
  const cwdLog = join(process.cwd(), DRIVER_LOG);
  const cwdLogBefore = existsSync(cwdLog);
  const problems: string[] = cwdLogBefore ? [`${cwdLog} exists before the trials: remove it, the check needs its absence`] : [];
  return {
    engine: 'snowflake',
    async next() {
      const account = await openFakeAccount();
      const dir = scratchDir('fbde-trial-sf-');
      try {
        const backing = await account.fake.backingConnection();
        try {
          await writeSimulations(backing, plans);
        } finally {
          await backing.close();
        }
        const jobs = await enqueuePlans(account.services, plans);
        return {
          dir: dir.path,
          jobs,
          env: account.serviceEnv,
          settled: () => account.fake.settled(),
          async read(work) {
            const connection = await account.fake.backingConnection();
            try {
              return await work(connection);
            } finally {
              await connection.close();
            }
          },
          async remove() {
            await account.close();
            const dirLog = join(dir.path, DRIVER_LOG);
            if (existsSync(dirLog)) problems.push(`the driver wrote ${dirLog}`);
            dir.remove();
          },
        };
      } catch (error) {
        await account.close();
        dir.remove();
        throw error;
      }
    },
    async close() {
      if (!cwdLogBefore && existsSync(cwdLog)) problems.push(`the driver wrote ${cwdLog}`);
      return problems;
    },
  };
}
