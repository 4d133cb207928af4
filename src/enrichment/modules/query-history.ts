// QUERY_HISTORY: SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY → QUERY_EXECUTIONS.SF_PARTITIONS_SCANNED,
// SF_PARTITIONS_TOTAL, SF_BYTES_SPILLED_LOCAL, SF_BYTES_SPILLED_REMOTE and QUERY_PARAMETERIZED_HASH, matched on
// QUERY_ID. A test can have 10^5 rows, so the update is one set-based statement on the server; the read only
// counts coverage (matched / total). Short hybrid-only queries never reach QUERY_HISTORY: a gap is coverage,
// not an error.
import { sql } from '../../db/sql-registry.js';
import { FENCE_SQL } from '../../queue/fence.js';
import type { Statement } from '../../db/warehouse.js';
import type { QueueJob } from '../../queue/job-state.js';
import type { EnrichmentContext, EnrichmentModule, Fence, ViewNotReady } from '../types.js';
import { DENSE_CAUGHT_UP, denseEvidenceWindow, denseViewNotReady } from './readiness.js';
import { testWindow } from './scope.js';

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

const UPDATE_EXECUTIONS = sql(
  'enrichment.query_history.update_executions',
  `UPDATE QUERY_EXECUTIONS
SET SF_PARTITIONS_SCANNED = qh.PARTITIONS_SCANNED,
    SF_PARTITIONS_TOTAL = qh.PARTITIONS_TOTAL,
    SF_BYTES_SPILLED_LOCAL = qh.BYTES_SPILLED_TO_LOCAL_STORAGE,
    SF_BYTES_SPILLED_REMOTE = qh.BYTES_SPILLED_TO_REMOTE_STORAGE,
    QUERY_PARAMETERIZED_HASH = qh.QUERY_PARAMETERIZED_HASH
FROM (${MATCHED_HISTORY}) qh
WHERE QUERY_EXECUTIONS.TEST_ID = ? AND QUERY_EXECUTIONS.QUERY_ID = qh.QUERY_ID
  AND ${FENCE_SQL}`,
);

export interface QueryHistorySource {
  total: number;
  matched: number;
  from: Date;
  to: Date;
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
    return { total: Number(row?.TOTAL ?? 0), matched: Number(row?.MATCHED ?? 0), from: window.from, to: window.to };
  },

  transform: (source) => source,

  rowCount: (output) => output.matched,

  writeStatements(output: QueryHistorySource, job: QueueJob, fence: Fence): Statement[] {
    return [{ sql: UPDATE_EXECUTIONS, binds: [output.from, output.to, job.testId, job.testId, ...fence.binds] }];
  },
};
