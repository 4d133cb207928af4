// The seed design's processor (section 5), replayed statement by statement with autocommit, as the seed
// describes it, on any Warehouse (the embedded engine in bench/processor.ts, the real Snowflake driver in
// bench/round-trips.ts):
//   per poll  : SELECT * FROM queue WHERE STATUS='PENDING' AND EARLIEST_ENRICHMENT_TIME <= now (3 jobs a poll)
//   per job   : UPDATE ... claim (D7), then per type: SELECT from the view, INSERT the rows,
//               UPDATE TEST_RESULTS summary; then UPDATE TEST_RESULTS status, UPDATE queue COMPLETED
//   → 3 + 3·T statements per job (+ one poll per 3 jobs, + the final empty poll), each its own request.
// The "view" SELECT is one cheap query on TEST_RESULTS (the same on both engines): the comparison is of the
// queue's own traffic, not of what a view costs to read.
import type { Warehouse } from '../src/db/warehouse.js';

/** Where the seed's INSERT puts its rows (create it next to the service's tables before the replay). */
export const SEED_ROWS_TABLE_DDL = 'CREATE TABLE BENCH_ROWS (TEST_ID VARCHAR, T VARCHAR, N INTEGER)';
/** Jobs the seed's poll fetches at once (seed: 3 concurrent jobs). */
export const SEED_POLL_SIZE = 3;

/** Runs the seed's processor over every PENDING job due at `now`; returns the jobs it completed. */
export async function replaySeedDesign(warehouse: Warehouse, now: Date, rowsPerType: number): Promise<number> {
  let completed = 0;
  for (;;) {
    const due = await warehouse.query(
      `SELECT JOB_ID, TEST_ID, ENRICHMENT_TYPES FROM DELAYED_ENRICHMENT_QUEUE WHERE STATUS = 'PENDING' AND EARLIEST_ENRICHMENT_TIME <= CAST(? AS TIMESTAMP_NTZ) LIMIT ${SEED_POLL_SIZE}`,
      [now],
    );
    if (due.length === 0) return completed;
    for (const job of due) {
      const claimed = await warehouse.execute(
        `UPDATE DELAYED_ENRICHMENT_QUEUE SET STATUS = 'IN_PROGRESS', CLAIMED_BY = 'seed', CLAIMED_AT = CAST(? AS TIMESTAMP_NTZ)
         WHERE JOB_ID IN (SELECT JOB_ID FROM DELAYED_ENRICHMENT_QUEUE WHERE JOB_ID = ? AND STATUS = 'PENDING')`,
        [now, String(job.JOB_ID)],
      );
      if (claimed.rowsAffected !== 1) continue;
      for (const type of job.ENRICHMENT_TYPES as string[]) {
        await warehouse.query('SELECT TEST_ID FROM TEST_RESULTS WHERE TEST_ID = ?', [String(job.TEST_ID)]);
        await warehouse.execute(
          `INSERT INTO BENCH_ROWS (TEST_ID, T, N) SELECT ?, ?, v.N FROM (VALUES ${Array(rowsPerType).fill('(?)').join(', ')}) AS v(N)`,
          [String(job.TEST_ID), type, ...Array.from({ length: rowsPerType }, (_, i) => i)],
        );
        await warehouse.execute('UPDATE TEST_RESULTS SET QUERY_INSIGHTS_COUNT = ? WHERE TEST_ID = ?', [rowsPerType, String(job.TEST_ID)]);
      }
      await warehouse.execute(
        `UPDATE TEST_RESULTS SET DELAYED_ENRICHMENT_STATUS = 'COMPLETED', DELAYED_ENRICHMENT_COMPLETED_AT = CAST(? AS TIMESTAMP_NTZ) WHERE TEST_ID = ?`,
        [now, String(job.TEST_ID)],
      );
      await warehouse.execute(`UPDATE DELAYED_ENRICHMENT_QUEUE SET STATUS = 'COMPLETED', COMPLETED_AT = CAST(? AS TIMESTAMP_NTZ) WHERE JOB_ID = ?`, [
        now,
        String(job.JOB_ID),
      ]);
      completed += 1;
    }
  }
}
