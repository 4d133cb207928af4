// Operations the API exposes: retry, cancel, backfill, purge. Each change and its event go in one batch.
// Jobs are read, changed in TypeScript and written back with an optimistic check (UPDATED_AT and
// CLAIM_ID unchanged), so a concurrent processor write makes the operation try again, not clobber it.
import { limitClause } from '../db/limit.js';
import { sql, sqlSample } from '../db/sql-registry.js';
import { isWarehouseError, type JsonObject, type Statement } from '../db/warehouse.js';
import { eventBusOf } from '../events/bus.js';
import { insertEvent, type EnrichmentEvent } from '../events/outbox.js';
import { HttpProblem } from '../http/problem.js';
import type { Services } from '../services.js';
import { SOURCE_VIEWS } from '../sources/account-usage.js';
import { DEFAULT_PRIORITY } from './enqueue.js';
import { enqueueJobs, type BatchEnqueueRequest } from './enqueue-batch.js';
import { JOB_COLUMNS, isTerminal, toQueueJob, type QueueJob } from './job-state.js';
import { deadlineAt, isTableType, TABLE_TYPES, type EnrichmentType, type TableType } from './plan.js';

const OPTIMISTIC_RETRIES = 5;
export const BACKFILL_PRIORITY = 1000;
/** One backfill call enqueues at most this many tests (call again for the rest). */
export const BACKFILL_LIMIT = 500;

const READ_JOB = sql('queue.ops.read_job', `SELECT ${JOB_COLUMNS}, UPDATED_AT FROM DELAYED_ENRICHMENT_QUEUE WHERE JOB_ID = ?`);

// Optimistic write: only when nobody changed the job since it was read.
const WRITE_JOB = sql(
  'queue.ops.write_job',
  `UPDATE DELAYED_ENRICHMENT_QUEUE
SET STATUS = ?, TYPE_STATE = PARSE_JSON(?), NEXT_DUE_AT = CAST(? AS TIMESTAMP_NTZ), DEADLINE_AT = CAST(? AS TIMESTAMP_NTZ),
  CLAIM_ID = NULL, LEASE_EXPIRES_AT = NULL, LAST_ERROR = ?, COMPLETED_AT = CAST(? AS TIMESTAMP_NTZ),
  UPDATED_AT = CAST(? AS TIMESTAMP_NTZ)
WHERE JOB_ID = ? AND UPDATED_AT = CAST(? AS TIMESTAMP_NTZ) AND COALESCE(CLAIM_ID, '') = ?`,
);

const SET_TEST_STATUS = sql(
  'queue.ops.test_status',
  `UPDATE TEST_RESULTS SET DELAYED_ENRICHMENT_STATUS = ?, DELAYED_ENRICHMENT_ERROR = ?, DELAYED_ENRICHMENT_COMPLETED_AT = CAST(? AS TIMESTAMP_NTZ)
WHERE TEST_ID = ? AND RUN_ID = ?`,
);

async function readJob(services: Services, jobId: string): Promise<QueueJob & { updatedAt: Date }> {
  const [row] = await services.warehouse.query(READ_JOB, [jobId]);
  if (!row) throw new HttpProblem(404, `job ${jobId} does not exist`);
  return { ...toQueueJob(row), updatedAt: row.UPDATED_AT as Date };
}

function writeJob(
  job: QueueJob & { updatedAt: Date },
  change: { status: string; nextDueAt: Date | null; deadlineAt: Date | null; lastError: string | null; completedAt: Date | null; now: Date },
): Statement {
  return {
    sql: WRITE_JOB,
    binds: [
      change.status,
      job.typeState as unknown as JsonObject,
      change.nextDueAt,
      change.deadlineAt,
      change.lastError,
      change.completedAt,
      change.now,
      job.jobId,
      job.updatedAt,
      job.claimId ?? '',
    ],
  };
}

class NotApplied extends Error {}

/**
 * The optimistic write first; only when it applied, the rest and the events, in the same transaction
 * (an interactive one: the rest depends on the first statement's row count).
 */
async function optimistic(services: Services, statements: Statement[], events: EnrichmentEvent[]): Promise<boolean> {
  try {
    await services.warehouse.withTransaction(async (scope) => {
      const [first, ...rest] = statements;
      const applied = await scope.execute(first!.sql, first!.binds);
      if (applied.rowsAffected !== 1) throw new NotApplied();
      for (const statement of [...rest, ...events.map(insertEvent)]) await scope.execute(statement.sql, statement.binds);
    });
  } catch (error) {
    if (error instanceof NotApplied) return false;
    if (isWarehouseError(error) && error.kind === 'conflict') return false;
    throw error;
  }
  eventBusOf(services).publish(events);
  return true;
}

async function withOptimisticRetry<T>(work: () => Promise<T | undefined>, what: string): Promise<T> {
  for (let attempt = 0; attempt < OPTIMISTIC_RETRIES; attempt += 1) {
    const result = await work();
    if (result !== undefined) return result;
  }
  throw new HttpProblem(409, `${what}: the job kept changing while being updated; try again`);
}

export interface OperationResult {
  job_id: string;
  status: string;
  types: string[];
}

/**
 * Retry: a FAILED job, or the failed types of a COMPLETED (partially successful) one, back to PENDING
 * with fresh attempts, due now, with a new deadline.
 */
export async function retryJob(services: Services, jobId: string, onlyTypes?: readonly string[]): Promise<OperationResult> {
  return withOptimisticRetry(async () => {
    const job = await readJob(services, jobId);
    if (job.status !== 'FAILED' && job.status !== 'COMPLETED') {
      throw new HttpProblem(409, `job ${jobId} is ${job.status}; only FAILED jobs or COMPLETED jobs with failed types can be retried`);
    }
    const failed = job.types.filter((type) => job.typeState[type]?.status === 'FAILED');
    if (onlyTypes) {
      const unknown = onlyTypes.filter((type) => !failed.includes(type as EnrichmentType));
      if (unknown.length > 0) throw new HttpProblem(400, `types ${unknown.join(', ')} of job ${jobId} have not failed`);
    }
    const chosen = onlyTypes ? failed.filter((type) => onlyTypes.includes(type)) : failed;
    if (chosen.length === 0) throw new HttpProblem(409, `job ${jobId} has no failed types to retry`);
    const now = services.clock.now();
    for (const type of chosen) {
      const state = job.typeState[type]!;
      state.status = 'PENDING';
      state.attempts = 0;
      state.due_at = now.toISOString();
      state.last_error = null;
    }
    const deadline = new Date(Math.max(deadlineAt(services.config, job.testEndTime).getTime(), deadlineAt(services.config, now).getTime()));
    const event: EnrichmentEvent = { type: 'job_enqueued', at: now, job_id: jobId, test_id: job.testId, run_id: job.runId, payload: { retry: true, types: chosen } };
    const applied = await optimistic(
      services,
      [
        writeJob(job, { status: 'PENDING', nextDueAt: now, deadlineAt: deadline, lastError: null, completedAt: null, now }),
        { sql: SET_TEST_STATUS, binds: ['PENDING', null, null, job.testId, job.runId] },
      ],
      [event],
    );
    if (!applied) return undefined;
    services.signals.noteDue(now);
    return { job_id: jobId, status: 'PENDING', types: chosen };
  }, `retry of job ${jobId}`);
}

/** Cancel: the job and its unfinished types become SKIPPED; a running claim is aborted (fence). */
export async function cancelJob(services: Services, jobId: string): Promise<OperationResult> {
  const result = await withOptimisticRetry(async () => {
    const job = await readJob(services, jobId);
    if (isTerminal(job.status)) throw new HttpProblem(409, `job ${jobId} is already ${job.status}`);
    const now = services.clock.now();
    const skipped: string[] = [];
    for (const type of job.types) {
      const state = job.typeState[type];
      if (state && !isTerminal(state.status)) {
        state.status = 'SKIPPED';
        state.last_error = 'cancelled';
        skipped.push(type);
      }
    }
    const event: EnrichmentEvent = { type: 'job_cancelled', at: now, job_id: jobId, test_id: job.testId, run_id: job.runId, payload: { types: skipped } };
    const applied = await optimistic(
      services,
      [
        writeJob(job, { status: 'SKIPPED', nextDueAt: null, deadlineAt: job.deadlineAt, lastError: 'cancelled', completedAt: now, now }),
        { sql: SET_TEST_STATUS, binds: ['SKIPPED', 'cancelled', now, job.testId, job.runId] },
      ],
      [event],
    );
    return applied ? { job_id: jobId, status: 'SKIPPED', types: skipped } : undefined;
  }, `cancel of job ${jobId}`);
  services.signals.abort(jobId);
  return result;
}

// Optional table-type filter: one placeholder per requested type (at most the six table types).
const tableTypeFilter = (count: number): string => (count === 0 ? '' : `\n  AND UPPER(TABLE_TYPE) IN (${Array.from({ length: count }, () => '?').join(', ')})`);

/**
 * The candidates in end-time order; the limit is a validated integer written into the text (never bound).
 * FlakeBench's TEST_ID and RUN_ID are nullable: a row without them cannot be enqueued, so it is no candidate.
 */
function backfillCandidates(tableTypes: number, limit: number): string {
  return `SELECT TEST_ID, RUN_ID, TABLE_TYPE, START_TIME, END_TIME FROM TEST_RESULTS
WHERE DELAYED_ENRICHMENT_STATUS IS NULL AND END_TIME IS NOT NULL AND TEST_ID IS NOT NULL AND RUN_ID IS NOT NULL
  AND END_TIME >= CAST(? AS TIMESTAMP_NTZ) AND END_TIME < CAST(? AS TIMESTAMP_NTZ)${tableTypeFilter(tableTypes)}
ORDER BY END_TIME, TEST_ID, RUN_ID ${limitClause(limit, BACKFILL_LIMIT)}`;
}
sqlSample('queue.ops.backfill_candidates', backfillCandidates(2, BACKFILL_LIMIT));

function backfillCount(tableTypes: number): string {
  return `SELECT COUNT(*) AS N, SUM(IFF(END_TIME < CAST(? AS TIMESTAMP_NTZ), 1, 0)) AS TOO_OLD FROM TEST_RESULTS
WHERE DELAYED_ENRICHMENT_STATUS IS NULL AND END_TIME IS NOT NULL AND TEST_ID IS NOT NULL AND RUN_ID IS NOT NULL
  AND END_TIME >= CAST(? AS TIMESTAMP_NTZ) AND END_TIME < CAST(? AS TIMESTAMP_NTZ)${tableTypeFilter(tableTypes)}`;
}
sqlSample('queue.ops.backfill_count', backfillCount(2));

const MARK_TOO_OLD = sql(
  'queue.ops.backfill_too_old',
  `UPDATE TEST_RESULTS SET DELAYED_ENRICHMENT_STATUS = 'NOT_APPLICABLE',
  DELAYED_ENRICHMENT_ERROR = 'older than the ACCOUNT_USAGE views retention'
WHERE TEST_ID = ? AND RUN_ID = ? AND DELAYED_ENRICHMENT_STATUS IS NULL`,
);

export interface BackfillResult {
  dry_run: boolean;
  /** Tests in the range without a delayed status. */
  eligible: number;
  /** Of those, older than the views' retention (they end NOT_APPLICABLE). */
  beyond_retention: number;
  enqueued: number;
  not_applicable: number;
  /** More candidates remain beyond this call's limit. */
  more: boolean;
  /** At most this many tests were (or, in a dry run, would be) handled by this call. */
  limit: number;
  /** Table types the call was restricted to (null: all). */
  table_types: TableType[] | null;
}

/**
 * Backfill: enqueue tests in [from, to) with no delayed status (optionally only some table types, at most
 * `limit` of them, default and cap BACKFILL_LIMIT), at low priority; dry run counts only.
 */
export async function backfill(
  services: Services,
  options: { from: Date; to: Date; dryRun?: boolean; priority?: number; tableTypes?: readonly string[]; limit?: number },
): Promise<BackfillResult> {
  const { from, to } = options;
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) throw new HttpProblem(400, 'from and to must be valid timestamps');
  if (from.getTime() >= to.getTime()) throw new HttpProblem(400, 'from must be before to');
  const limit = options.limit ?? BACKFILL_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > BACKFILL_LIMIT) throw new HttpProblem(400, `limit must be an integer from 1 to ${BACKFILL_LIMIT}`);
  const unknownTypes = (options.tableTypes ?? []).filter((type) => !isTableType(type));
  if (unknownTypes.length > 0) throw new HttpProblem(400, `table_types: unknown table type ${unknownTypes.join(', ')} (known: ${TABLE_TYPES.join(', ')})`);
  const tableTypes = options.tableTypes ? ([...new Set(options.tableTypes)] as TableType[]) : null;
  if (tableTypes && tableTypes.length === 0) throw new HttpProblem(400, 'table_types must name at least one table type (omit it for all)');
  const typeBinds = tableTypes ?? [];
  const scope = { limit, table_types: tableTypes };
  const now = services.clock.now();
  // The shortest retention among the views decides: beyond it, some view has dropped the test's rows.
  const retentionDays = Math.min(...SOURCE_VIEWS.map((view) => view.retentionDays));
  const retentionStart = new Date(now.getTime() - retentionDays * 86_400_000);
  const [count] = await services.warehouse.query(backfillCount(typeBinds.length), [retentionStart, from, to, ...typeBinds]);
  const eligible = Number(count?.N ?? 0);
  const beyond = Number(count?.TOO_OLD ?? 0);
  if (options.dryRun) return { dry_run: true, eligible, beyond_retention: beyond, enqueued: 0, not_applicable: 0, more: eligible > limit, ...scope };
  const rows = await services.warehouse.query(backfillCandidates(typeBinds.length, limit), [from, to, ...typeBinds]);
  let notApplicable = 0;
  const requests: BatchEnqueueRequest[] = [];
  for (const row of rows) {
    const end = row.END_TIME as Date;
    const testId = String(row.TEST_ID);
    const runId = String(row.RUN_ID);
    const tableType = String(row.TABLE_TYPE).toUpperCase();
    if (end.getTime() < retentionStart.getTime() || !isTableType(tableType)) {
      await services.warehouse.execute(MARK_TOO_OLD, [testId, runId]);
      notApplicable += 1;
      continue;
    }
    requests.push({
      test_id: testId,
      run_id: runId,
      table_type: tableType,
      test_end_time: end,
      ...(row.START_TIME instanceof Date ? { test_start_time: row.START_TIME } : {}),
      priority: options.priority ?? BACKFILL_PRIORITY,
    });
  }
  // Set-based, ENQUEUE_BATCH tests per transaction (enqueue-batch.ts).
  const results = await enqueueJobs(services, requests);
  const failure = results.find((result): result is Error => result instanceof Error);
  if (failure) throw failure;
  const enqueued = results.filter((result) => !(result instanceof Error) && result.created).length;
  notApplicable += results.filter((result) => !(result instanceof Error) && result.status === 'NOT_APPLICABLE').length;
  return { dry_run: false, eligible, beyond_retention: beyond, enqueued, not_applicable: notApplicable, more: eligible > rows.length, ...scope };
}

// In lock order (db/lock-order.ts): the jobs first, then the type tables, then TEST_RESULTS.
const PURGE_STATEMENTS = [
  sql('queue.ops.purge.jobs', 'DELETE FROM DELAYED_ENRICHMENT_QUEUE WHERE TEST_ID = ?'),
  sql('queue.ops.purge.aggregate_metrics', 'DELETE FROM AGGREGATE_QUERY_METRICS WHERE TEST_ID = ?'),
  sql('queue.ops.purge.aggregate_test_metrics', 'DELETE FROM AGGREGATE_TEST_METRICS WHERE TEST_ID = ?'),
  sql('queue.ops.purge.lock_events', 'DELETE FROM LOCK_CONTENTION_EVENTS WHERE TEST_ID = ?'),
  sql('queue.ops.purge.credits', 'DELETE FROM HYBRID_TABLE_CREDITS WHERE TEST_ID = ?'),
  sql('queue.ops.purge.insights', 'DELETE FROM QUERY_INSIGHTS_CACHE WHERE TEST_ID = ?'),
  sql(
    'queue.ops.purge.executions',
    `UPDATE QUERY_EXECUTIONS SET SF_PARTITIONS_SCANNED = NULL, SF_PARTITIONS_TOTAL = NULL, SF_BYTES_SPILLED_LOCAL = NULL,
  SF_BYTES_SPILLED_REMOTE = NULL, QUERY_PARAMETERIZED_HASH = NULL WHERE TEST_ID = ?`,
  ),
  sql(
    'queue.ops.purge.test_summary',
    `UPDATE TEST_RESULTS SET DELAYED_ENRICHMENT_STATUS = NULL, DELAYED_ENRICHMENT_ERROR = NULL,
  DELAYED_ENRICHMENT_COMPLETED_AT = NULL, AGGREGATE_ENRICHMENT_STATUS = NULL, THROTTLED_QUERY_COUNT = NULL,
  HYBRID_CREDITS_USED = NULL, HYBRID_CREDITS_REQUESTS = NULL, HYBRID_CREDITS_START_TIME = NULL,
  HYBRID_CREDITS_END_TIME = NULL, LOCK_WAIT_COUNT = NULL, LOCK_WAIT_TOTAL_MS = NULL, LOCK_WAIT_MAX_MS = NULL,
  QUERY_INSIGHTS_COUNT = NULL, QUERY_INSIGHTS_HIGH_SEVERITY_COUNT = NULL
WHERE TEST_ID = ?`,
  ),
];

/**
 * Purge one test's enrichment data: its rows in the enrichment tables, its jobs (a running claim then
 * fails its fence and writes nothing), pass-2 columns and the TEST_RESULTS summary back to NULL.
 */
export async function purgeTestEnrichment(services: Services, testId: string): Promise<Record<string, number>> {
  if (typeof testId !== 'string' || testId === '' || testId.length > 36) throw new HttpProblem(400, 'test_id must be a non-empty string of at most 36 characters');
  const results = await services.warehouse.transaction(PURGE_STATEMENTS.map((text) => ({ sql: text, binds: [testId] })));
  const names = ['jobs', 'aggregate_metrics', 'aggregate_test_metrics', 'lock_events', 'credits', 'insights', 'executions', 'test_results'];
  const counts = Object.fromEntries(names.map((name, index) => [name, results[index]?.rowsAffected ?? 0]));
  // A purge writes no event (the job is gone), so this instance's read cache is told directly.
  services.testReads.invalidate(testId);
  services.log.info({ test_id: testId, ...counts }, 'purged test enrichment');
  return counts;
}

export { DEFAULT_PRIORITY };
