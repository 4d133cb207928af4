// The discovery poll's one statement: when this instance should wake next (other instances' due jobs and
// expiring leases) and, with AUTO_ENQUEUE on, the finished FlakeBench tests that nobody enqueued. FlakeBench
// does not call this service, so finding its tests in TEST_RESULTS is what makes installing the service
// enough. Both answers come from one statement because on Snowflake each statement may resume a billed
// warehouse: an idle hour must stay at one.
//
// A test is found when, in FlakeBench's own columns (shared/notes/flakebench-tables.md):
// - it has a TEST_ID and a RUN_ID (the queue's key) and an END_TIME inside the look-back window;
// - its STATUS is terminal as FlakeBench writes it (upper case: COMPLETED, FAILED, CANCELLED, STOPPED, ERROR);
// - its first pass (ENRICHMENT_STATUS) is over: COMPLETED, FAILED or SKIPPED, or was never recorded and the
//   test ended over an hour ago (older FlakeBench versions do not write it; the first pass waits at most a
//   few minutes), so a second pass never races a first one still running;
// - it has no delayed status and no job yet, is not POSTGRES (no ACCOUNT_USAGE data), and is not the parent
//   row of a multi-node run (TEST_ID = RUN_ID with child rows sharing the RUN_ID: the children carry the
//   queries and their tags, the parent only aggregates them).
import { sql } from '../db/sql-registry.js';
import type { Row, Warehouse } from '../db/warehouse.js';
import { nextWakeSelect, runningJobsBind, wakeTimeOf } from './claim.js';

/** Tests enqueued by one discovery poll at most; more are found by the next one (the oldest first). */
export const DISCOVERY_BATCH = 100;

/** A first pass that never recorded a status is taken as over this long after the test ended. */
export const FIRST_PASS_GRACE_MS = 3_600_000;

/** FlakeBench's terminal STATUS values (upper case, as it writes them). */
export const TERMINAL_STATUS = `UPPER(tr.STATUS) IN ('COMPLETED', 'FAILED', 'CANCELLED', 'STOPPED', 'ERROR')`;

/**
 * A TEST_RESULTS row `tr` that is a finished test nobody enqueued (the conditions in the header). Shared by the
 * scan and the stream-fed poll (discovery-stream.ts). Binds: [lookBackStart, graceEnd].
 */
export const FINISHED_UNENQUEUED = `tr.TEST_ID IS NOT NULL AND tr.RUN_ID IS NOT NULL AND tr.END_TIME IS NOT NULL
    AND tr.END_TIME >= CAST(? AS TIMESTAMP_NTZ)
    AND ${TERMINAL_STATUS}
    AND (UPPER(tr.ENRICHMENT_STATUS) IN ('COMPLETED', 'FAILED', 'SKIPPED')
      OR (tr.ENRICHMENT_STATUS IS NULL AND tr.END_TIME < CAST(? AS TIMESTAMP_NTZ)))
    AND tr.DELAYED_ENRICHMENT_STATUS IS NULL
    AND UPPER(tr.TABLE_TYPE) <> 'POSTGRES'
    AND NOT EXISTS (SELECT 1 FROM TEST_RESULTS c WHERE c.RUN_ID = tr.TEST_ID AND c.TEST_ID <> tr.TEST_ID)
    AND NOT EXISTS (SELECT 1 FROM DELAYED_ENRICHMENT_QUEUE q WHERE q.TEST_ID = tr.TEST_ID AND q.RUN_ID = tr.RUN_ID)`;

/** The columns a found test is read with (finishedTestsOf reads them back). */
export const FOUND_COLUMNS = 'tr.TEST_ID, tr.RUN_ID, tr.TABLE_TYPE, tr.START_TIME, tr.END_TIME';

const DISCOVER = sql(
  'queue.discovery',
  `WITH wake AS (
${nextWakeSelect()}
),
found AS (
  SELECT ${FOUND_COLUMNS}
  FROM TEST_RESULTS tr
  WHERE CAST(? AS BOOLEAN) AND ${FINISHED_UNENQUEUED}
  ORDER BY tr.END_TIME, tr.TEST_ID
  LIMIT ${DISCOVERY_BATCH}
)
SELECT w.NEXT_DUE, w.NEXT_LEASE_EXPIRY, f.TEST_ID, f.RUN_ID, f.TABLE_TYPE, f.START_TIME, f.END_TIME
FROM wake w LEFT JOIN found f ON 1 = 1
ORDER BY f.END_TIME, f.TEST_ID`,
);

export interface FinishedTest {
  testId: string;
  runId: string;
  tableType: string;
  startTime: Date | null;
  endTime: Date;
}

export interface Discovery {
  /** Earliest time something may become claimable (null: the queue has no live job). */
  wake: Date | null;
  /** Finished tests nobody enqueued, oldest first (empty when auto-enqueue is off). */
  finished: FinishedTest[];
}

/** The look-back window's start and the end of the first-pass grace, the binds of FINISHED_UNENQUEUED. */
export function discoveryWindow(now: Date, lookBackMs: number): [lookBackStart: Date, graceEnd: Date] {
  return [new Date(now.getTime() - lookBackMs), new Date(now.getTime() - FIRST_PASS_GRACE_MS)];
}

/** The found tests among rows read with FOUND_COLUMNS (rows without a test, e.g. the wake-only row, are skipped). */
export function finishedTestsOf(rows: readonly Row[]): FinishedTest[] {
  return rows
    .filter((row) => row.TEST_ID !== null && row.TEST_ID !== undefined && row.END_TIME instanceof Date)
    .map((row) => ({
      testId: String(row.TEST_ID),
      runId: String(row.RUN_ID),
      tableType: String(row.TABLE_TYPE).toUpperCase(),
      startTime: row.START_TIME instanceof Date ? row.START_TIME : null,
      endTime: row.END_TIME as Date,
    }));
}

export async function discoverFinishedTests(
  warehouse: Warehouse,
  options: { running: Iterable<string>; now: Date; autoEnqueue: boolean; lookBackMs: number },
): Promise<Discovery> {
  const rows = await warehouse.query(DISCOVER, [runningJobsBind(options.running), options.autoEnqueue, ...discoveryWindow(options.now, options.lookBackMs)]);
  return { wake: wakeTimeOf(rows[0]), finished: finishedTestsOf(rows) };
}
