// QUERY_HISTORY: SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY → QUERY_EXECUTIONS.SF_PARTITIONS_SCANNED,
// SF_PARTITIONS_TOTAL, SF_BYTES_SPILLED_LOCAL, SF_BYTES_SPILLED_REMOTE and QUERY_PARAMETERIZED_HASH, matched on
// QUERY_ID. A test can have 10^5 rows, so the update is one set-based statement on the server; the read only
// counts coverage (matched / total). Short hybrid-only queries never reach QUERY_HISTORY: a gap is coverage,
// not an error.
import { sql } from '../../db/sql-registry.js';
import { ROW_FENCE_SQL, ROWS_FROM, TEST_KEY_OF_ROW, timestampOf } from '../../db/row-set.js';
import type { Statement } from '../../db/warehouse.js';
import type { QueueJob } from '../../queue/job-state.js';
import type { BatchReadOptions, EnrichmentContext, EnrichmentModule, Fence, ViewNotReady } from '../types.js';
import { BATCH_JOB, BATCH_JOBS, batchBounds, batchCaughtUp, batchEvidenceWindow, batchJobs, batchJobsPayload, batchLatest, rowsPerJob } from './batch-scope.js';
import { DENSE_CAUGHT_UP, denseEvidenceWindow, denseViewNotReady } from './readiness.js';
import { testWindow, type TestWindow } from './scope.js';
import { fencedTestRow } from './write-rows.js';

// The test's rows of QUERY_HISTORY, bounded by the test window and restricted to its own query ids.
const MATCHED_HISTORY = `SELECT QUERY_ID, PARTITIONS_SCANNED, PARTITIONS_TOTAL, BYTES_SPILLED_TO_LOCAL_STORAGE,
    BYTES_SPILLED_TO_REMOTE_STORAGE, QUERY_PARAMETERIZED_HASH
  FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY
  WHERE START_TIME >= CAST(? AS TIMESTAMP_NTZ) AND START_TIME <= CAST(? AS TIMESTAMP_NTZ)
    AND QUERY_ID IN (SELECT QUERY_ID FROM QUERY_EXECUTIONS WHERE TEST_ID = ?)`;

// One statement: whether the view caught up with the test (readiness.ts), and the coverage.
const COVERAGE = sql(
  'enrichment.query_history.coverage',
  `SELECT
  ${DENSE_CAUGHT_UP.QUERY_HISTORY} AS CAUGHT_UP,
  (SELECT COUNT(*) FROM QUERY_EXECUTIONS WHERE TEST_ID = ? AND QUERY_ID IS NOT NULL) AS TOTAL,
  (SELECT COUNT(DISTINCT QUERY_ID) FROM (${MATCHED_HISTORY}) matched) AS MATCHED`,
);

/**
 * The coverage of several jobs (readMany): one row per job (JOB_INDEX) with its TOTAL and MATCHED as COVERAGE
 * counts them, and the view's latest time in the batch's evidence window (batch-scope.ts). QUERY_HISTORY is
 * matched on the job's own query ids, no tags; the first time bounds are the union of the windows, as plain
 * binds, so the view is pruned by time before the per-job window.
 */
const COVERAGE_MANY = sql(
  'enrichment.query_history.coverage_many',
  `WITH jobs AS (
  SELECT ${BATCH_JOB.INDEX} AS JOB_INDEX, ${BATCH_JOB.TEST_ID} AS TEST_ID, ${BATCH_JOB.FROM} AS WINDOW_FROM, ${BATCH_JOB.TO} AS WINDOW_TO
  FROM ${BATCH_JOBS}
)
SELECT jobs.JOB_INDEX, ready.VIEW_LATEST, COALESCE(total.N, 0) AS TOTAL, COALESCE(matched.N, 0) AS MATCHED
FROM jobs
CROSS JOIN (SELECT ${batchLatest('QUERY_HISTORY', 'START_TIME')} AS VIEW_LATEST) ready
LEFT JOIN (
  SELECT jobs.JOB_INDEX, COUNT(*) AS N
  FROM jobs JOIN QUERY_EXECUTIONS qe ON qe.TEST_ID = jobs.TEST_ID
  WHERE qe.QUERY_ID IS NOT NULL
  GROUP BY jobs.JOB_INDEX
) total ON total.JOB_INDEX = jobs.JOB_INDEX
LEFT JOIN (
  SELECT jobs.JOB_INDEX, COUNT(DISTINCT qh.QUERY_ID) AS N
  FROM jobs
  JOIN QUERY_EXECUTIONS qe ON qe.TEST_ID = jobs.TEST_ID
  JOIN SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY qh ON qh.QUERY_ID = qe.QUERY_ID
  WHERE qh.START_TIME >= CAST(? AS TIMESTAMP_NTZ) AND qh.START_TIME <= CAST(? AS TIMESTAMP_NTZ)
    AND qh.START_TIME >= jobs.WINDOW_FROM AND qh.START_TIME <= jobs.WINDOW_TO
  GROUP BY jobs.JOB_INDEX
) matched ON matched.JOB_INDEX = jobs.JOB_INDEX`,
);

/**
 * The update as a row-set statement (one row per job: its test and window, write-rows.ts), so the batcher
 * writes a claim batch's updates with one statement. The window bounds come from the rows, so QUERY_HISTORY
 * is not pruned by constants here; it is reached through the jobs' own query ids (QUERY_EXECUTIONS by
 * TEST_ID, then QUERY_HISTORY by QUERY_ID), as the coverage read matches them; DISTINCT keeps one source row
 * per (test, query id) even when the test lists a query id twice.
 */
const UPDATE_EXECUTIONS = fencedTestRow(
  'enrichment.query_history.update_executions',
  `UPDATE QUERY_EXECUTIONS
SET SF_PARTITIONS_SCANNED = qh.PARTITIONS_SCANNED,
    SF_PARTITIONS_TOTAL = qh.PARTITIONS_TOTAL,
    SF_BYTES_SPILLED_LOCAL = qh.BYTES_SPILLED_TO_LOCAL_STORAGE,
    SF_BYTES_SPILLED_REMOTE = qh.BYTES_SPILLED_TO_REMOTE_STORAGE,
    QUERY_PARAMETERIZED_HASH = qh.QUERY_PARAMETERIZED_HASH
FROM (
  SELECT DISTINCT w.TEST_ID, h.QUERY_ID, h.PARTITIONS_SCANNED, h.PARTITIONS_TOTAL, h.BYTES_SPILLED_TO_LOCAL_STORAGE,
    h.BYTES_SPILLED_TO_REMOTE_STORAGE, h.QUERY_PARAMETERIZED_HASH
  FROM (${TEST_KEY_OF_ROW}, ${timestampOf('c0')} AS WINDOW_FROM, ${timestampOf('c1')} AS WINDOW_TO
    FROM ${ROWS_FROM} WHERE ${ROW_FENCE_SQL}) w
  JOIN QUERY_EXECUTIONS qe ON qe.TEST_ID = w.TEST_ID
  JOIN SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY h ON h.QUERY_ID = qe.QUERY_ID
  WHERE h.START_TIME >= w.WINDOW_FROM AND h.START_TIME <= w.WINDOW_TO
) qh
WHERE QUERY_EXECUTIONS.TEST_ID = qh.TEST_ID AND QUERY_EXECUTIONS.QUERY_ID = qh.QUERY_ID`,
);

export interface QueryHistorySource {
  total: number;
  matched: number;
  from: Date;
  to: Date;
}

function coverageOf(row: { TOTAL: number; MATCHED: number } | undefined, window: TestWindow): QueryHistorySource {
  return { total: Number(row?.TOTAL ?? 0), matched: Number(row?.MATCHED ?? 0), from: window.from, to: window.to };
}

export const queryHistoryModule: EnrichmentModule<QueryHistorySource, QueryHistorySource> = {
  type: 'QUERY_HISTORY',
  view: 'QUERY_HISTORY',

  async read(context: EnrichmentContext): Promise<QueryHistorySource | ViewNotReady> {
    const window = testWindow(context.job);
    const [row] = await context.warehouse.query<{ CAUGHT_UP: number; TOTAL: number; MATCHED: number }>(
      COVERAGE,
      [...denseEvidenceWindow(context), context.job.testId, window.from, window.to, context.job.testId],
      { signal: context.signal, timeoutMs: context.timeoutMs },
    );
    if (Number(row?.CAUGHT_UP ?? 0) === 0) return denseViewNotReady('QUERY_HISTORY');
    return coverageOf(row, window);
  },

  async readMany(contexts: readonly EnrichmentContext[], options: BatchReadOptions): Promise<Array<QueryHistorySource | ViewNotReady>> {
    const jobs = await batchJobs(contexts);
    const rows = await options.warehouse.query<{ JOB_INDEX: number; VIEW_LATEST: Date | null; TOTAL: number; MATCHED: number }>(
      COVERAGE_MANY,
      [batchJobsPayload(jobs), ...batchEvidenceWindow(jobs), ...batchBounds(jobs)],
      { signal: options.signal, timeoutMs: options.timeoutMs },
    );
    const perJob = rowsPerJob(rows, jobs.length);
    return jobs.map((job, index) => {
      const [row, extra] = perJob[index] ?? [];
      if (row === undefined || extra !== undefined) throw new Error(`batched coverage returned ${perJob[index]?.length ?? 0} rows for job index ${index}, not 1`);
      if (!batchCaughtUp(row.VIEW_LATEST, job)) return denseViewNotReady('QUERY_HISTORY');
      return coverageOf(row, job.window);
    });
  },

  transform: (source) => source,

  rowCount: (output) => output.matched,

  writeStatements(output: QueryHistorySource, job: QueueJob, fence: Fence): Statement[] {
    return [UPDATE_EXECUTIONS(job, fence, [output.from, output.to])];
  },
};
