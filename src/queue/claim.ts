// Batch claim without RETURNING or SKIP LOCKED: one UPDATE writes a fresh claim token on a batch of due
// jobs (pending and unclaimed, or in progress with an expired lease), re-checking those conditions in
// its outer WHERE so a job another instance claimed in between is not taken; then the claimed rows are
// read back by token. DuckDB reports two connections updating one row as a conflict: a lost race.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { limitClause } from '../db/limit.js';
import { sql, sqlSample } from '../db/sql-registry.js';
import { isWarehouseError, type Row, type Warehouse } from '../db/warehouse.js';
import { JOB_COLUMNS, toQueueJob, type QueueJob } from './job-state.js';

/** CLAIMED_BY: host:pid (seed 2.5), truncated to the column's 100 characters. */
export function instanceName(): string {
  return `${hostname()}:${process.pid}`.slice(0, 100);
}

const CLAIMABLE = `((STATUS = 'PENDING' AND CLAIM_ID IS NULL AND NEXT_DUE_AT <= CAST(? AS TIMESTAMP_NTZ))
    OR (STATUS = 'IN_PROGRESS' AND LEASE_EXPIRES_AT <= CAST(? AS TIMESTAMP_NTZ)))`;

/** A claim takes at most this many jobs at once (the processor asks for its free slots). */
export const MAX_CLAIM_BATCH = 1000;

/** The claim UPDATE; the batch size is written into the text (db/limit.ts). */
function claimBatchText(limit: number): string {
  return `UPDATE DELAYED_ENRICHMENT_QUEUE
SET CLAIM_ID = IFF(STATUS = 'IN_PROGRESS', ?, ?), CLAIMED_BY = ?, CLAIMED_AT = CAST(? AS TIMESTAMP_NTZ), LEASE_EXPIRES_AT = CAST(? AS TIMESTAMP_NTZ),
  STATUS = 'IN_PROGRESS', LAST_ATTEMPT_AT = CAST(? AS TIMESTAMP_NTZ), UPDATED_AT = CAST(? AS TIMESTAMP_NTZ)
WHERE JOB_ID IN (
    SELECT JOB_ID FROM DELAYED_ENRICHMENT_QUEUE
    WHERE ${CLAIMABLE}
    ORDER BY PRIORITY, NEXT_DUE_AT, JOB_ID
    ${limitClause(limit, MAX_CLAIM_BATCH)})
  AND ${CLAIMABLE}`;
}
sqlSample('queue.claim.batch', claimBatchText(8));

const READ_CLAIMED = sql('queue.claim.read', `SELECT ${JOB_COLUMNS} FROM DELAYED_ENRICHMENT_QUEUE WHERE CLAIM_ID IN (?, ?)`);

export interface ClaimResult {
  /** The token of the jobs that were pending; each job carries its own token in `claimId`. */
  claimId: string;
  /** Each with its claim token: `claimId` above, or the rescue token for a job whose lease had expired. */
  jobs: QueueJob[];
  /** Jobs taken over from a claim whose lease had expired (orphan recovery). */
  rescued: string[];
  /** True when another instance won the race for these rows (DuckDB conflict). */
  lostRace: boolean;
}

export async function claimBatch(
  warehouse: Warehouse,
  options: { now: Date; leaseMs: number; limit: number; claimedBy: string },
): Promise<ClaimResult> {
  const claimId = randomUUID();
  // A second token for rows that were IN_PROGRESS (an expired lease): the UPDATE sees each row's old
  // status, so the token a row gets says whether this claim rescued it, at no extra statement.
  const rescueId = randomUUID();
  const { now } = options;
  const lease = new Date(now.getTime() + options.leaseMs);
  let claimed: number;
  try {
    const result = await warehouse.execute(claimBatchText(options.limit), [
      rescueId,
      claimId,
      options.claimedBy,
      now,
      lease,
      now,
      now,
      now,
      now,
      now,
      now,
    ]);
    claimed = result.rowsAffected;
  } catch (error) {
    if (isWarehouseError(error) && error.kind === 'conflict') return { claimId, jobs: [], rescued: [], lostRace: true };
    throw error;
  }
  if (claimed === 0) return { claimId, jobs: [], rescued: [], lostRace: false };
  const rows = await warehouse.query(READ_CLAIMED, [claimId, rescueId]);
  const jobs = rows.map(toQueueJob);
  const rescued = jobs.filter((job) => job.claimId === rescueId).map((job) => job.jobId);
  return { claimId, jobs, rescued, lostRace: false };
}

// What the instance needs to know to stay quiet until then: the next pending due time and the next
// lease expiry of a job claimed elsewhere (continuous orphan recovery).
// Binds: [self]. Also the `wake` part of the discovery statement (queue/discovery.ts).
export const NEXT_WAKE_SELECT = `SELECT MIN(IFF(STATUS = 'PENDING' AND CLAIM_ID IS NULL, NEXT_DUE_AT, NULL)) AS NEXT_DUE,
  MIN(IFF(STATUS = 'IN_PROGRESS' AND CLAIMED_BY <> ?, LEASE_EXPIRES_AT, NULL)) AS NEXT_LEASE_EXPIRY
FROM DELAYED_ENRICHMENT_QUEUE WHERE STATUS IN ('PENDING', 'IN_PROGRESS')`;

const NEXT_WAKE = sql('queue.next_wake', NEXT_WAKE_SELECT);

/** The earlier of a NEXT_WAKE_SELECT row's times (null: the queue has no live job). */
export function wakeTimeOf(row: Row | undefined): Date | null {
  const times = [row?.NEXT_DUE, row?.NEXT_LEASE_EXPIRY].filter((value): value is Date => value instanceof Date);
  if (times.length === 0) return null;
  return new Date(Math.min(...times.map((time) => time.getTime())));
}

/**
 * Earliest time something may become claimable (null: the queue has no live job). Leases held by
 * `self` are left out: this instance's own jobs report their next due time when they finish.
 */
export async function nextWakeTime(warehouse: Warehouse, self: string): Promise<Date | null> {
  const [row] = await warehouse.query(NEXT_WAKE, [self]);
  return wakeTimeOf(row);
}
