// What the reliability scripts share: a backlog of simulated FlakeBench tests (their rows and their
// ACCOUNT_USAGE views) enqueued in a database file, and the checks of the promises the scripts measure.
// Every check returns the offending jobs by name, so a failing script says which job broke which promise.
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../../src/clock.js';
import { DuckDbDatabase } from '../../src/db/duckdb.js';
import { migrate } from '../../src/db/migrations.js';
import type { Warehouse } from '../../src/db/warehouse.js';
import { EMBEDDED_DATABASE_FILE } from '../../src/engine.js';
import { enqueueJob } from '../../src/queue/enqueue.js';
import type { TableType } from '../../src/queue/plan.js';
import { createServices, type Services } from '../../src/services.js';
import { planSimulation, writeSimulations, type SimulationPlan } from '../../src/simulator/simulate.js';
import { silentLog, testConfig } from '../support/embedded.js';

/** The tables the enrichment types write, one set of rows per test and type. */
export const TARGET_TABLES = ['AGGREGATE_QUERY_METRICS', 'AGGREGATE_TEST_METRICS', 'LOCK_CONTENTION_EVENTS', 'HYBRID_TABLE_CREDITS', 'QUERY_INSIGHTS_CACHE'] as const;

const TABLE_TYPES: readonly TableType[] = ['HYBRID', 'STANDARD', 'INTERACTIVE', 'DYNAMIC', 'UNISTORE'];

export interface Backlog {
  dir: string;
  file: string;
  jobs: Map<string, string>; // job id → test id
  remove(): void;
}

export function scratchDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * `count` small simulated tests of every table type (ended hours before `now`, so every view is ready).
 * Reproducible for a seed and `now`: the same tests, ids and view rows.
 */
export function backlogPlans(count: number, seed: number, now: Date): SimulationPlan[] {
  return Array.from({ length: count }, (_, i) =>
    planSimulation(
      {
        tableType: TABLE_TYPES[i % TABLE_TYPES.length]!,
        seed: seed * 10_000 + i,
        durationMinutes: 2,
        warmupMinutes: 0,
        sessions: 3,
        endedMinutesAgo: 6 * 60 + i,
        idSalt: `reliability-${seed}-${i}`,
      },
      now,
      1,
    ),
  );
}

/** Enqueues each plan's test as FlakeBench does; job id → test id. */
export async function enqueuePlans(services: Services, plans: readonly SimulationPlan[]): Promise<Map<string, string>> {
  const jobs = new Map<string, string>();
  for (const plan of plans) {
    const test = plan.workload.tests[0]!;
    const enqueued = await enqueueJob(services, {
      test_id: test.testId,
      run_id: test.runId,
      table_type: plan.workload.tableType,
      test_start_time: new Date(test.start),
      test_end_time: new Date(test.end),
    });
    jobs.set(enqueued.job_id!, test.testId);
  }
  return jobs;
}

/** A database file holding backlogPlans(count, seed), each test enqueued. */
export async function seedBacklog(count: number, seed: number): Promise<Backlog> {
  const dir = scratchDir('fbde-reliability-');
  const file = join(dir.path, EMBEDDED_DATABASE_FILE);
  const database = await DuckDbDatabase.open(file);
  try {
    const warehouse = await database.connect();
    await migrate(warehouse, { clock: systemClock, log: silentLog });
    const plans = backlogPlans(count, seed, systemClock.now());
    await writeSimulations(warehouse, plans);
    const services = createServices({
      config: testConfig(),
      clock: systemClock,
      log: silentLog,
      engine: { engine: 'duckdb', warehouse, connect: () => database.connect(), location: file, close: async () => undefined },
    });
    return { dir: dir.path, file, jobs: await enqueuePlans(services, plans), remove: dir.remove };
  } finally {
    await database.close();
  }
}

/** A copy of a backlog's file in a fresh folder (each trial starts from the same backlog). */
export function copyBacklog(backlog: Backlog): Backlog {
  const dir = scratchDir('fbde-trial-');
  const file = join(dir.path, EMBEDDED_DATABASE_FILE);
  copyFileSync(backlog.file, file);
  return { ...backlog, dir: dir.path, file, remove: dir.remove };
}

export async function withDatabase<T>(file: string, work: (warehouse: Warehouse) => Promise<T>): Promise<T> {
  const database = await DuckDbDatabase.open(file);
  try {
    return await work(await database.connect());
  } finally {
    await database.close();
  }
}

/** Rows per (target table, test): what a run wrote. */
export async function targetRowCounts(warehouse: Warehouse): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const table of TARGET_TABLES) {
    for (const row of await warehouse.query(`SELECT TEST_ID, COUNT(*) AS N FROM ${table} GROUP BY TEST_ID`)) {
      counts.set(`${table} ${String(row.TEST_ID)}`, Number(row.N));
    }
  }
  return counts;
}

/** Differences from a reference run's row counts, named by table and test ("" when equal). */
export function rowCountProblems(reference: Map<string, number>, actual: Map<string, number>): string[] {
  const problems: string[] = [];
  for (const key of new Set([...reference.keys(), ...actual.keys()])) {
    const want = reference.get(key) ?? 0;
    const got = actual.get(key) ?? 0;
    if (want !== got) problems.push(`${key}: ${got} rows, the uninterrupted run wrote ${want}${got > want ? ' (duplicates)' : ' (rows lost)'}`);
  }
  return problems;
}

export interface QueueRow {
  jobId: string;
  status: string;
  claimId: string | null;
  types: Record<string, { status: string; attempts: number }>;
}

export async function queueRows(warehouse: Warehouse): Promise<QueueRow[]> {
  const rows = await warehouse.query('SELECT JOB_ID, STATUS, CLAIM_ID, TYPE_STATE FROM DELAYED_ENRICHMENT_QUEUE ORDER BY JOB_ID');
  return rows.map((row) => ({
    jobId: String(row.JOB_ID),
    status: String(row.STATUS),
    claimId: row.CLAIM_ID === null ? null : String(row.CLAIM_ID),
    types: row.TYPE_STATE as QueueRow['types'],
  }));
}

/** Every job of the backlog present, in `expected` status, no type over the attempt limit. */
export function queueProblems(backlog: Pick<Backlog, 'jobs'>, rows: readonly QueueRow[], options: { expected: string; maxAttempts: number }): string[] {
  const problems: string[] = [];
  const seen = new Set(rows.map((row) => row.jobId));
  for (const jobId of backlog.jobs.keys()) if (!seen.has(jobId)) problems.push(`job ${jobId}: lost (no queue row)`);
  for (const row of rows) {
    if (!backlog.jobs.has(row.jobId)) problems.push(`job ${row.jobId}: not one of the backlog's jobs`);
    if (row.status !== options.expected) problems.push(`job ${row.jobId}: ${row.status}, expected ${options.expected}`);
    for (const [type, state] of Object.entries(row.types)) {
      if (state.attempts > options.maxAttempts) problems.push(`job ${row.jobId}: ${type} used ${state.attempts} attempts (limit ${options.maxAttempts})`);
    }
  }
  return problems;
}

/** Prints the figure lines and the problems, and exits 1 when there are any. */
export function report(name: string, figure: string | readonly string[], problems: readonly string[]): never {
  for (const line of typeof figure === 'string' ? [figure] : figure) console.log(`${name}: ${line}`);
  for (const problem of problems.slice(0, 50)) console.log(`  FAIL ${problem}`);
  if (problems.length > 50) console.log(`  … and ${problems.length - 50} more`);
  console.log(problems.length === 0 ? `${name}: PASS` : `${name}: FAIL (${problems.length} problems)`);
  process.exit(problems.length === 0 ? 0 : 1);
}
