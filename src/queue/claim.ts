// Batch claim without RETURNING or SKIP LOCKED, correct under READ COMMITTED.
//
// Snowflake runs every statement at READ COMMITTED: "a statement sees only data that was committed before
// the statement began" (docs.snowflake.com/en/sql-reference/transactions, "Isolation level"). Two instances
// whose claim UPDATEs start before either commits can therefore both see the same due rows as claimable
// and both report them updated; the UPDATE's own conditions (unclaimed, or lease expired) cannot be relied
// on to keep the second one off. So the claim does not trust its row count:
//   1. the UPDATE writes a fresh claim token (one per claim, a second one for rescued leases) on the due
//      rows it picked, with the conditions repeated at write time (on DuckDB they are evaluated on the
//      current row, and a concurrent writer of the same row is a conflict: a lost race);
//   2. a second statement, which starts after the UPDATE committed, reads the rows back by token: only a
//      row that still carries our token is ours. Updated rows that no longer carry it were taken over by
//      a concurrent claim: a lost race, reported as such, and the jobs we do hold are still returned;
//   3. every later write for a job carries the fence (queue/fence.ts): a token overwritten even after the
//      read-back makes the next write touch nothing, and the run stops there (processor/runner.ts).
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

// What the instance needs to know to stay quiet until then: the next pending due time and the next lease
// expiry of a job no run on this instance is working on (continuous orphan recovery). That includes this
// instance's own claims whose run ended without releasing them (a run that threw, e.g. on a disk refusing
// writes): their lease runs out like any other, and this instance may take them back then. Leases of the jobs
// running here are left out, since those runs report their next due time when they finish.
// Binds: [the running job ids as JSON text]; `alsoRunning` adds a condition (with its own binds) for jobs the
// statement itself has just claimed. Job ids are UUIDs, so a quoted id found in the JSON text is that job.
// Also the `wake` part of the claim's read-back and of the discovery statement (queue/discovery.ts).
export function nextWakeSelect(alsoRunning = ''): string {
  return `SELECT MIN(IFF(STATUS = 'PENDING' AND CLAIM_ID IS NULL, NEXT_DUE_AT, NULL)) AS NEXT_DUE,
  MIN(IFF(STATUS = 'IN_PROGRESS' AND NOT CONTAINS(?, '"' || JOB_ID || '"')${alsoRunning}, LEASE_EXPIRES_AT, NULL)) AS NEXT_LEASE_EXPIRY
FROM DELAYED_ENRICHMENT_QUEUE WHERE STATUS IN ('PENDING', 'IN_PROGRESS')`;
}

/** The bind nextWakeSelect's statements take for the jobs running on this instance. */
export function runningJobsBind(running: Iterable<string>): string {
  return JSON.stringify([...running]);
}

/** A claim takes at most this many jobs at once (the processor asks for its free slots). */
export const MAX_CLAIM_BATCH = 1000;

const CLAIMABLE = `((STATUS = 'PENDING' AND CLAIM_ID IS NULL AND NEXT_DUE_AT <= CAST(? AS TIMESTAMP_NTZ))
    OR (STATUS = 'IN_PROGRESS' AND LEASE_EXPIRES_AT <= CAST(? AS TIMESTAMP_NTZ)))`;

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

/**
 * The claimed rows, each with the TEST_RESULTS rows of its run that its QUERY_TAG prefixes need: the test's
 * own rows, and for a run's parent row (TEST_ID = RUN_ID) every row of the run (query-tags.ts). One row per
 * (job, tag row); a job whose test has no row comes once, with NULL tag columns. Every row also carries the
 * queue's next wake-up (nextWakeSelect, read after the claim committed), so a claim that found fewer jobs
 * than it asked for needs no second statement to learn when to look again (the jobs it has just claimed run
 * here, like those in `running`). Binds: [running, claimId, rescueId, claimId, rescueId].
 */
const READ_CLAIMED = sql(
  'queue.claim.read',
  `WITH wake AS (
${nextWakeSelect(' AND CLAIM_ID NOT IN (?, ?)')}
),
claimed AS (
  SELECT ${qualified('q', JOB_COLUMNS)}, t.TEST_ID AS RUN_TAG_TEST_ID, t.QUERY_TAG AS RUN_TAG_QUERY_TAG,
    IFF(t.RUN_ID IS NULL, 0, 1) AS RUN_TAG_FOUND
  FROM DELAYED_ENRICHMENT_QUEUE q
  LEFT JOIN TEST_RESULTS t ON t.RUN_ID = q.RUN_ID AND (t.TEST_ID = q.TEST_ID OR q.TEST_ID = q.RUN_ID)
  WHERE q.CLAIM_ID IN (?, ?)
)
SELECT w.NEXT_DUE, w.NEXT_LEASE_EXPIRY, c.* FROM wake w LEFT JOIN claimed c ON 1 = 1`,
);

function qualified(alias: string, columns: string): string {
  return columns
    .split(',')
    .map((column) => `${alias}.${column.trim()}`)
    .join(', ');
}

/** One job per JOB_ID from READ_CLAIMED's rows, its run's tag rows gathered (claim order kept). */
export function claimedJobs(rows: readonly Row[]): QueueJob[] {
  const jobs = new Map<string, QueueJob>();
  for (const row of rows) {
    if (row.JOB_ID === null || row.JOB_ID === undefined) continue;
    const id = String(row.JOB_ID);
    let job = jobs.get(id);
    if (!job) {
      job = { ...toQueueJob(row), runTags: [] };
      jobs.set(id, job);
    }
    if (row.RUN_TAG_FOUND === 1) {
      job.runTags!.push({
        testId: typeof row.RUN_TAG_TEST_ID === 'string' ? row.RUN_TAG_TEST_ID : null,
        queryTag: typeof row.RUN_TAG_QUERY_TAG === 'string' ? row.RUN_TAG_QUERY_TAG : null,
      });
    }
  }
  for (const job of jobs.values()) job.testStored = job.runTags!.some((row) => row.testId === job.testId);
  return [...jobs.values()];
}

export interface ClaimResult {
  /** The token of the jobs that were pending; each job carries its own token in `claimId`. */
  claimId: string;
  /** The jobs that carry this claim's tokens after it committed: `claimId` above, or the rescue token. */
  jobs: QueueJob[];
  /** Jobs taken over from a claim whose lease had expired (orphan recovery). */
  rescued: string[];
  /**
   * When something may next become claimable, read with the claimed rows (null: the queue has no other live
   * job); undefined when the claim took nothing and read nothing back.
   */
  wake?: Date | null;
  /**
   * True when another instance won the race for some of the rows this claim picked: a conflict (DuckDB,
   * or Snowflake's lock and transaction aborts), or rows it updated that no longer carry its token.
   */
  lostRace: boolean;
}

export async function claimBatch(
  warehouse: Warehouse,
  options: { now: Date; leaseMs: number; limit: number; claimedBy: string; running?: Iterable<string> },
): Promise<ClaimResult> {
  const claimId = randomUUID();
  // A second token for rows that were IN_PROGRESS (an expired lease): the UPDATE sees each row's old
  // status, so the token a row gets says whether this claim rescued it, at no extra statement.
  const rescueId = randomUUID();
  const { now } = options;
  const lease = new Date(now.getTime() + options.leaseMs);
  let updated: number;
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
    updated = result.rowsAffected;
  } catch (error) {
    if (isWarehouseError(error) && error.kind === 'conflict') return { claimId, jobs: [], rescued: [], lostRace: true };
    throw error;
  }
  if (updated === 0) return { claimId, jobs: [], rescued: [], lostRace: false };
  const rows = await warehouse.query(READ_CLAIMED, [runningJobsBind(options.running ?? []), claimId, rescueId, claimId, rescueId]);
  const jobs = claimedJobs(rows);
  const rescued = jobs.filter((job) => job.claimId === rescueId).map((job) => job.jobId);
  // Fewer rows carry our token than the UPDATE reported: a concurrent claim overwrote them.
  return { claimId, jobs, rescued, wake: wakeTimeOf(rows[0]), lostRace: jobs.length < updated };
}

const NEXT_WAKE = sql('queue.next_wake', nextWakeSelect());

/** The earlier of a nextWakeSelect row's times (null: the queue has no live job). */
export function wakeTimeOf(row: Row | undefined): Date | null {
  const times = [row?.NEXT_DUE, row?.NEXT_LEASE_EXPIRY].filter((value): value is Date => value instanceof Date);
  if (times.length === 0) return null;
  return new Date(Math.min(...times.map((time) => time.getTime())));
}

/**
 * Earliest time something may become claimable (null: the queue has no live job), the leases of the jobs
 * `running` on this instance left out (see nextWakeSelect).
 */
export async function nextWakeTime(warehouse: Warehouse, running: Iterable<string>): Promise<Date | null> {
  const [row] = await warehouse.query(NEXT_WAKE, [runningJobsBind(running)]);
  return wakeTimeOf(row);
}
