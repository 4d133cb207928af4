// LOCK_CONTENTION (hybrid tables): SNOWFLAKE.ACCOUNT_USAGE.LOCK_WAIT_HISTORY → LOCK_CONTENTION_EVENTS and
// TEST_RESULTS.LOCK_WAIT_COUNT / _TOTAL_MS / _MAX_MS.
//
// A wait belongs to the test when the waiting QUERY_ID is one of the test's queries (its QUERY_EXECUTIONS
// rows, or QUERY_HISTORY rows whose tag matches) and REQUESTED_AT is in the test window. OBJECT_NAME is the
// literal 'ROW' for hybrid row locks, so the seed's `OBJECT_NAME = <table>` filter would never match; the
// event row names the test's target table instead. One event row per wait (lock-transform.ts).
// Waits of warm-up queries are left out: by the waiter's tag phase, or by its QUERY_EXECUTIONS.WARMUP flag.
import { randomUUID } from 'node:crypto';
import { sql } from '../../db/sql-registry.js';
import type { BindValue, Statement } from '../../db/warehouse.js';
import type { QueueJob } from '../../queue/job-state.js';
import { transformLocks, type LockEvent, type LockSourceRow, type LockSummary, type LockTarget } from '../lock-transform.js';
import { isLeftOut, tagPredicate } from '../query-tags.js';
import type { BatchReadOptions, EnrichmentContext, EnrichmentModule, Fence } from '../types.js';
import { batchBounds, batchJobs, batchQueryScope, batchQueryScopeBinds, readPerJob } from './batch-scope.js';
import { sparseViewReady } from './readiness.js';
import { RUN_WARMUP_FLAGS, tagPrefixes, testWindow } from './scope.js';
import { fencedInsert, fencedTestDelete, fencedTestUpdate } from './write-rows.js';

function readText(prefixCount: number): string {
  const predicate = tagPredicate('QUERY_TAG', Array.from({ length: prefixCount }, (_, i) => `p${i}`)).sql;
  return `SELECT l.QUERY_ID, l.TRANSACTION_ID, l.REQUESTED_AT, l.ACQUIRED_AT, l.LOCK_TYPE, l.OBJECT_ID, l.OBJECT_NAME,
  l.SCHEMA_NAME, l.DATABASE_NAME, l.BLOCKER_QUERIES, qh.TRANSACTION_BLOCKED_TIME, qh.QUERY_TAG, qe.WARMUP_FLAG
FROM SNOWFLAKE.ACCOUNT_USAGE.LOCK_WAIT_HISTORY l
LEFT JOIN (
  SELECT QUERY_ID, TRANSACTION_BLOCKED_TIME, QUERY_TAG FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY
  WHERE START_TIME >= CAST(? AS TIMESTAMP_NTZ) AND START_TIME <= CAST(? AS TIMESTAMP_NTZ)
) qh ON qh.QUERY_ID = l.QUERY_ID
LEFT JOIN (${RUN_WARMUP_FLAGS}) qe ON qe.QUERY_ID = l.QUERY_ID
WHERE l.REQUESTED_AT >= CAST(? AS TIMESTAMP_NTZ) AND l.REQUESTED_AT <= CAST(? AS TIMESTAMP_NTZ)
  AND (l.QUERY_ID IN (SELECT QUERY_ID FROM QUERY_EXECUTIONS WHERE TEST_ID = ?)
    OR l.QUERY_ID IN (
      SELECT QUERY_ID FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY
      WHERE START_TIME >= CAST(? AS TIMESTAMP_NTZ) AND START_TIME <= CAST(? AS TIMESTAMP_NTZ) AND ${predicate}))`;
}
sql('enrichment.lock_contention.read', readText(2));

/**
 * Several jobs' reads in one statement (readMany): the single read's rows for every job, each with its
 * JOB_INDEX. A wait is the job's when it lies in the job's window and its query is one of the job's
 * (job_queries); its QUERY_HISTORY row and warm-up flag are looked up in the job's window and run, as alone.
 */
const READ_MANY = sql(
  'enrichment.lock_contention.read_many',
  `WITH ${batchQueryScope(['TRANSACTION_BLOCKED_TIME'])}
SELECT j.JOB_INDEX, l.QUERY_ID, l.TRANSACTION_ID, l.REQUESTED_AT, l.ACQUIRED_AT, l.LOCK_TYPE, l.OBJECT_ID, l.OBJECT_NAME,
  l.SCHEMA_NAME, l.DATABASE_NAME, l.BLOCKER_QUERIES, qh.TRANSACTION_BLOCKED_TIME, qh.QUERY_TAG, qe.WARMUP_FLAG
FROM SNOWFLAKE.ACCOUNT_USAGE.LOCK_WAIT_HISTORY l
JOIN batch_jobs j ON l.REQUESTED_AT >= j.WINDOW_FROM AND l.REQUESTED_AT <= j.WINDOW_TO
JOIN job_queries m ON m.JOB_INDEX = j.JOB_INDEX AND m.QUERY_ID = l.QUERY_ID
LEFT JOIN history qh ON qh.QUERY_ID = l.QUERY_ID AND qh.START_TIME >= j.WINDOW_FROM AND qh.START_TIME <= j.WINDOW_TO
LEFT JOIN run_warmup_flags qe ON qe.RUN_ID = j.RUN_ID AND qe.QUERY_ID = l.QUERY_ID
WHERE l.REQUESTED_AT >= CAST(? AS TIMESTAMP_NTZ) AND l.REQUESTED_AT <= CAST(? AS TIMESTAMP_NTZ)`,
);

const deleteEvents = fencedTestDelete('enrichment.lock_contention.delete', 'LOCK_CONTENTION_EVENTS');
const updateTest = fencedTestUpdate('enrichment.lock_contention.update_test', [
  { name: 'LOCK_WAIT_COUNT' },
  { name: 'LOCK_WAIT_TOTAL_MS' },
  { name: 'LOCK_WAIT_MAX_MS' },
]);
const insertEvents = fencedInsert('LOCK_CONTENTION_EVENTS', [
  { name: 'EVENT_ID' },
  { name: 'TEST_ID' },
  { name: 'RUN_ID' },
  { name: 'LOCK_TRANSACTION_ID' },
  { name: 'BLOCKING_TRANSACTION_ID' },
  { name: 'REQUESTED_AT', kind: 'timestamp' },
  { name: 'LOCK_ACQUIRED_AT', kind: 'timestamp' },
  { name: 'WAIT_DURATION_MS' },
  { name: 'LOCK_TYPE' },
  { name: 'OBJECT_ID' },
  { name: 'OBJECT_NAME' },
  { name: 'SCHEMA_NAME' },
  { name: 'DATABASE_NAME' },
  { name: 'QUERY_ID' },
  { name: 'BLOCKING_QUERY_ID' },
  { name: 'RAW_EVENT', kind: 'variant' },
  { name: 'CREATED_AT', kind: 'timestamp' },
  { name: 'BLOCKER_COUNT' },
  { name: 'UNIDENTIFIED_BLOCKERS' },
  { name: 'FIRST_SEEN_BLOCKERS' },
]);

type LockReadRow = LockSourceRow & { TRANSACTION_BLOCKED_TIME: number | null; QUERY_TAG: string | null; WARMUP_FLAG: number | null };

export interface LockSource {
  rows: LockSourceRow[];
  blockedTimeByQuery: Map<string, number>;
  target: LockTarget;
  readAt: Date;
}
export interface LockOutput {
  events: LockEvent[];
  summary: LockSummary;
  readAt: Date;
}

/** A job's read rows → its LockSource (the same for a single read and a batch's share). */
function lockSourceOf(rows: readonly LockReadRow[], context: EnrichmentContext): LockSource {
  // Waits of warm-up queries are not the measurement's (a query with neither a tag nor a QUERY_EXECUTIONS row is kept).
  const kept = rows.filter((row) => !isLeftOut(row.QUERY_TAG, row.WARMUP_FLAG));
  const blockedTimeByQuery = new Map<string, number>();
  for (const row of kept) {
    if (row.TRANSACTION_BLOCKED_TIME !== null) blockedTimeByQuery.set(row.QUERY_ID, Number(row.TRANSACTION_BLOCKED_TIME));
  }
  const sourceRows: LockSourceRow[] = kept.map(({ TRANSACTION_BLOCKED_TIME: _blocked, QUERY_TAG: _tag, WARMUP_FLAG: _warmup, ...row }) => row);
  const { job } = context;
  const target = { tableName: job.targetTable, schemaName: job.targetSchema, databaseName: job.targetDatabase };
  return { rows: sourceRows, blockedTimeByQuery, target, readAt: context.now };
}

/** Transaction ids are NUMBER(38,0): beyond 2^53 they arrive as decimal strings and are bound as such. */
const id = (value: number | string | null): BindValue => value;

export const lockContentionModule: EnrichmentModule<LockSource, LockOutput> = {
  type: 'LOCK_CONTENTION',
  view: 'LOCK_WAIT_HISTORY',

  checkReady: async (context) => sparseViewReady(context, 'LOCK_CONTENTION'),

  async read(context: EnrichmentContext): Promise<LockSource> {
    const window = testWindow(context.job);
    const prefixes = await tagPrefixes(context);
    const predicate = tagPredicate('QUERY_TAG', prefixes);
    const rows = await context.warehouse.query<LockReadRow & Record<string, never>>(
      readText(prefixes.length),
      [window.from, window.to, context.job.runId, window.from, window.to, context.job.testId, window.from, window.to, ...predicate.binds],
      { signal: context.signal, timeoutMs: context.timeoutMs },
    );
    return lockSourceOf(rows, context);
  },

  async readMany(contexts: readonly EnrichmentContext[], options: BatchReadOptions): Promise<LockSource[]> {
    const jobs = await batchJobs(contexts);
    const perJob = await readPerJob<LockReadRow>(options, READ_MANY, [...batchQueryScopeBinds(jobs), ...batchBounds(jobs)], jobs.length);
    return perJob.map((rows, index) => lockSourceOf(rows, contexts[index]!));
  },

  transform: (source) => ({ ...transformLocks(source.rows, source.blockedTimeByQuery, source.target), readAt: source.readAt }),

  rowCount: (output) => output.events.length,

  writeStatements(output: LockOutput, job: QueueJob, fence: Fence): Statement[] {
    const rows: BindValue[][] = output.events.map((event) => [
      randomUUID(),
      job.testId,
      job.runId,
      id(event.lockTransactionId),
      id(event.blockingTransactionId),
      event.requestedAt,
      event.lockAcquiredAt,
      event.waitDurationMs,
      event.lockType,
      id(event.objectId),
      event.objectName,
      event.schemaName,
      event.databaseName,
      event.queryId,
      event.blockingQueryId,
      event.rawEvent as unknown as BindValue,
      output.readAt,
      event.blockers.length,
      event.unidentifiedBlockers,
      event.firstSeenBlockers,
    ]);
    return [
      deleteEvents(job, fence),
      ...insertEvents(rows, fence),
      updateTest(job, fence, [output.summary.waitCount, output.summary.totalMs, output.summary.maxMs]),
    ];
  },
};
