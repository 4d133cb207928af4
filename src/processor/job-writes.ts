// Fenced statements for a claimed job. A batch always starts with the fenced queue UPDATE (its row count
// says whether the claim still holds); every other statement in the batch carries the fence condition,
// so a lost claim writes nothing even when the batch travels as one request.
import { sql } from '../db/sql-registry.js';
import { ROW_FENCE_SQL, ROWS_FROM, rowOf, rowSetStatement, TEST_KEY_OF_ROW, textOf, timestampOf, variantOf } from '../db/row-set.js';
import type { Statement } from '../db/warehouse.js';
import { isTerminal, nextDue, type ErrorRecord, type QueueJob, type TypeStates } from '../queue/job-state.js';

// Row-set statements (db/row-set.ts): one row per claim, fenced per row, so the batcher can write the groups
// of many claims with one statement each (statement-batcher.ts). For the queue the fence is the join itself.
const QUEUE_ROWS = `SELECT ${textOf('job')} AS JOB_ID, ${textOf('claim')} AS CLAIM_ID`;
const OF_ROW_CLAIM = 'DELAYED_ENRICHMENT_QUEUE.JOB_ID = s.JOB_ID AND DELAYED_ENRICHMENT_QUEUE.CLAIM_ID = s.CLAIM_ID';

const SAVE_STATE = sql(
  'processor.job.save_state',
  `UPDATE DELAYED_ENRICHMENT_QUEUE
SET TYPE_STATE = s.TYPE_STATE, COMPLETED_TYPES = s.COMPLETED_TYPES, ERROR_HISTORY = s.ERROR_HISTORY, ATTEMPTS = s.ATTEMPTS,
  LAST_ERROR = s.LAST_ERROR, NEXT_DUE_AT = s.NEXT_DUE_AT, LEASE_EXPIRES_AT = s.LEASE_EXPIRES_AT, UPDATED_AT = s.UPDATED_AT
FROM (${QUEUE_ROWS}, ${variantOf('state')} AS TYPE_STATE, ${variantOf('completed')} AS COMPLETED_TYPES,
    ${variantOf('errors')} AS ERROR_HISTORY, CAST(${textOf('attempts')} AS INTEGER) AS ATTEMPTS, ${textOf('last_error')} AS LAST_ERROR,
    ${timestampOf('next_due')} AS NEXT_DUE_AT, ${timestampOf('lease')} AS LEASE_EXPIRES_AT, ${timestampOf('now')} AS UPDATED_AT
  FROM ${ROWS_FROM}) s
WHERE ${OF_ROW_CLAIM}`,
);

/** Ends the claim: job back to PENDING (types left) or terminal. Must be the batch's last statement. */
const RELEASE = sql(
  'processor.job.release',
  `UPDATE DELAYED_ENRICHMENT_QUEUE
SET STATUS = s.STATUS, CLAIM_ID = NULL, LEASE_EXPIRES_AT = NULL, COMPLETED_AT = s.COMPLETED_AT, UPDATED_AT = s.UPDATED_AT
FROM (${QUEUE_ROWS}, ${textOf('status')} AS STATUS, ${timestampOf('completed_at')} AS COMPLETED_AT, ${timestampOf('now')} AS UPDATED_AT
  FROM ${ROWS_FROM}) s
WHERE ${OF_ROW_CLAIM}`,
);

const RENEW_LEASE = sql(
  'processor.job.renew_lease',
  `UPDATE DELAYED_ENRICHMENT_QUEUE SET LEASE_EXPIRES_AT = CAST(? AS TIMESTAMP_NTZ) WHERE JOB_ID = ? AND CLAIM_ID = ?`,
);

/** TEST_RESULTS rows of the rows' tests, for the rows whose claim holds (FlakeBench's table has no key). */
const OF_ROW_TEST = 'TEST_RESULTS.TEST_ID = s.TEST_ID AND TEST_RESULTS.RUN_ID = s.RUN_ID';

const TEST_STATUS = sql(
  'processor.test.status',
  `UPDATE TEST_RESULTS
SET DELAYED_ENRICHMENT_STATUS = s.STATUS, DELAYED_ENRICHMENT_ERROR = s.ERROR, DELAYED_ENRICHMENT_COMPLETED_AT = s.COMPLETED_AT
FROM (${TEST_KEY_OF_ROW}, ${textOf('status')} AS STATUS, ${textOf('error')} AS ERROR, ${timestampOf('completed_at')} AS COMPLETED_AT
  FROM ${ROWS_FROM} WHERE ${ROW_FENCE_SQL}) s
WHERE ${OF_ROW_TEST}`,
);

const AGGREGATE_STATUS = sql(
  'processor.test.aggregate_status',
  `UPDATE TEST_RESULTS SET AGGREGATE_ENRICHMENT_STATUS = s.STATUS
FROM (${TEST_KEY_OF_ROW}, ${textOf('status')} AS STATUS FROM ${ROWS_FROM} WHERE ${ROW_FENCE_SQL}) s
WHERE ${OF_ROW_TEST}`,
);

export function totalAttempts(states: TypeStates): number {
  return Object.values(states).reduce((sum, state) => sum + (state?.attempts ?? 0), 0);
}

export function completedTypes(states: TypeStates): string[] {
  return Object.entries(states)
    .filter(([, state]) => state?.status === 'COMPLETED')
    .map(([type]) => type);
}

/** The job's in-memory state written back (fenced: it touches the row only while the claim holds); also renews the lease. */
export function saveState(
  job: QueueJob,
  claimId: string,
  options: { now: Date; leaseMs: number; lastError: string | null; errorHistory: ErrorRecord[] },
): Statement {
  const row = rowOf(
    {
      job: job.jobId,
      claim: claimId,
      attempts: totalAttempts(job.typeState),
      last_error: options.lastError,
      next_due: nextDue(job.typeState),
      lease: new Date(options.now.getTime() + options.leaseMs),
      now: options.now,
    },
    {
      state: job.typeState as unknown as Record<string, never>,
      completed: completedTypes(job.typeState),
      errors: options.errorHistory as unknown as Record<string, never>[],
    },
  );
  return rowSetStatement(SAVE_STATE, [row]);
}

export function release(job: QueueJob, claimId: string, status: string, now: Date): Statement {
  return rowSetStatement(RELEASE, [rowOf({ job: job.jobId, claim: claimId, status, completed_at: isTerminal(status) ? now : null, now })]);
}

export function renewLease(jobId: string, claimId: string, until: Date): Statement {
  return { sql: RENEW_LEASE, binds: [until, jobId, claimId] };
}

export function testStatus(
  job: QueueJob,
  claimId: string,
  status: string,
  error: string | null,
  completedAt: Date | null,
): Statement {
  return rowSetStatement(TEST_STATUS, [rowOf({ job: job.jobId, claim: claimId, test: job.testId, run: job.runId, status, error, completed_at: completedAt })]);
}

export function aggregateStatus(job: QueueJob, claimId: string, status: string): Statement {
  return rowSetStatement(AGGREGATE_STATUS, [rowOf({ job: job.jobId, claim: claimId, test: job.testId, run: job.runId, status })]);
}
