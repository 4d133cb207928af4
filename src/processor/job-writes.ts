// Fenced statements for a claimed job. A batch always starts with the fenced queue UPDATE (its row count
// says whether the claim still holds); every other statement in the batch carries the fence condition,
// so a lost claim writes nothing even when the batch travels as one request.
import { sql } from '../db/sql-registry.js';
import type { BindValue, Statement } from '../db/warehouse.js';
import { FENCE_SQL } from '../queue/fence.js';
import { isTerminal, nextDue, type ErrorRecord, type QueueJob, type TypeStates } from '../queue/job-state.js';

const SAVE_STATE = sql(
  'processor.job.save_state',
  `UPDATE DELAYED_ENRICHMENT_QUEUE
SET TYPE_STATE = PARSE_JSON(?), COMPLETED_TYPES = PARSE_JSON(?), ERROR_HISTORY = PARSE_JSON(?), ATTEMPTS = ?,
  LAST_ERROR = ?, NEXT_DUE_AT = CAST(? AS TIMESTAMP_NTZ), LEASE_EXPIRES_AT = CAST(? AS TIMESTAMP_NTZ),
  UPDATED_AT = CAST(? AS TIMESTAMP_NTZ)
WHERE JOB_ID = ? AND CLAIM_ID = ?`,
);

/** Ends the claim: job back to PENDING (types left) or terminal. Must be the batch's last statement. */
const RELEASE = sql(
  'processor.job.release',
  `UPDATE DELAYED_ENRICHMENT_QUEUE
SET STATUS = ?, CLAIM_ID = NULL, LEASE_EXPIRES_AT = NULL, COMPLETED_AT = CAST(? AS TIMESTAMP_NTZ),
  UPDATED_AT = CAST(? AS TIMESTAMP_NTZ)
WHERE JOB_ID = ? AND CLAIM_ID = ?`,
);

const RENEW_LEASE = sql(
  'processor.job.renew_lease',
  `UPDATE DELAYED_ENRICHMENT_QUEUE SET LEASE_EXPIRES_AT = CAST(? AS TIMESTAMP_NTZ) WHERE JOB_ID = ? AND CLAIM_ID = ?`,
);

const TEST_STATUS = sql(
  'processor.test.status',
  `UPDATE TEST_RESULTS
SET DELAYED_ENRICHMENT_STATUS = ?, DELAYED_ENRICHMENT_ERROR = ?, DELAYED_ENRICHMENT_COMPLETED_AT = CAST(? AS TIMESTAMP_NTZ)
WHERE TEST_ID = ? AND RUN_ID = ? AND ${FENCE_SQL}`,
);

const AGGREGATE_STATUS = sql(
  'processor.test.aggregate_status',
  `UPDATE TEST_RESULTS SET AGGREGATE_ENRICHMENT_STATUS = ? WHERE TEST_ID = ? AND RUN_ID = ? AND ${FENCE_SQL}`,
);

export function totalAttempts(states: TypeStates): number {
  return Object.values(states).reduce((sum, state) => sum + (state?.attempts ?? 0), 0);
}

export function completedTypes(states: TypeStates): string[] {
  return Object.entries(states)
    .filter(([, state]) => state?.status === 'COMPLETED')
    .map(([type]) => type);
}

/** The job's in-memory state written back (fenced); also renews the lease. */
export function saveState(
  job: QueueJob,
  claimId: string,
  options: { now: Date; leaseMs: number; lastError: string | null; errorHistory: ErrorRecord[] },
): Statement {
  const due = nextDue(job.typeState);
  const binds: BindValue[] = [
    job.typeState as unknown as Record<string, never>,
    completedTypes(job.typeState),
    options.errorHistory as unknown as Record<string, never>[],
    totalAttempts(job.typeState),
    options.lastError,
    due,
    new Date(options.now.getTime() + options.leaseMs),
    options.now,
    job.jobId,
    claimId,
  ];
  return { sql: SAVE_STATE, binds };
}

export function release(job: QueueJob, claimId: string, status: string, now: Date): Statement {
  return { sql: RELEASE, binds: [status, isTerminal(status) ? now : null, now, job.jobId, claimId] };
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
  return { sql: TEST_STATUS, binds: [status, error, completedAt, job.testId, job.runId, job.jobId, claimId] };
}

export function aggregateStatus(job: QueueJob, claimId: string, status: string): Statement {
  return { sql: AGGREGATE_STATUS, binds: [status, job.testId, job.runId, job.jobId, claimId] };
}
