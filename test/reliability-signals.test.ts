// Real child processes on one database file: SIGKILL mid-job then restart, and SIGTERM mid-work.
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../src/clock.js';
import { DuckDbDatabase } from '../src/db/duckdb.js';
import { enqueueJob } from '../src/queue/enqueue.js';
import { EMBEDDED_DATABASE_FILE } from '../src/engine.js';
import { openTestDatabase, type TestDatabase } from './support/embedded.js';
import { startChild, type ChildEvent } from './support/child-process.js';
import { createControlledTables, ROWS_PER_TYPE } from './support/controlled-types.js';
import { insertTests, servicesFor } from './support/processor-fixtures.js';

const completedJobs = (events: ChildEvent[]) =>
  new Set(events.filter((event) => event.type === 'enrichment_complete' && event.enrichment_type === null).map((event) => event.job_id));

describe('processor processes under signals', () => {
  let db: TestDatabase;
  let path: string;
  beforeEach(async () => {
    db = await openTestDatabase(systemClock);
    path = join(db.dir, EMBEDDED_DATABASE_FILE);
    await createControlledTables(db.warehouse);
  });
  afterEach(async () => db.close());

  async function prepare(count: number): Promise<string[]> {
    const ids = Array.from({ length: count }, (_, i) => `sig-${i}`);
    await insertTests(db.warehouse, ids.map((testId) => ({ testId, runId: 'r' })));
    const services = servicesFor(db, systemClock);
    const end = new Date(Date.now() - 4 * 3_600_000);
    const jobs: string[] = [];
    for (const testId of ids) jobs.push((await enqueueJob(services, { test_id: testId, run_id: 'r', table_type: 'STANDARD', test_end_time: end })).job_id!);
    await db.database.close(); // the child process must own the file
    return jobs;
  }

  async function reopen() {
    const database = await DuckDbDatabase.open(path);
    return { database, warehouse: await database.connect() };
  }

  it('SIGKILL mid-job: after a restart every job completes with exactly one set of rows per type', async () => {
    const jobs = await prepare(12);
    // One job per claim, three at a time: the kill comes while later jobs hold finished types' writes (write
    // coalescing writes a job's types together), which the restarted processor must redo, not lose or double.
    // It comes as the fourth job starts its first type: that job's claim is committed and its type is running
    // (150 ms), so at least one claim is interrupted. (Counting progress events instead let the kill land
    // between one claim's end and the next claim's commit, when nothing was in flight.)
    const env = { CHILD_TYPE_MS: '150', LEASE_SECONDS: '1', MAX_CONCURRENT_JOBS: '3', CLAIM_BATCH_SIZE: '1' };
    const first = await startChild(db.dir, env);
    await first.waitFor((events) => events.filter((event) => event.type === 'work_started').length >= 4);
    first.process.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    const doneBefore = completedJobs(first.events);
    expect(doneBefore.size).toBeLessThan(jobs.length);

    const second = await startChild(db.dir, env);
    await second.waitFor((events) => new Set([...doneBefore, ...completedJobs(events)]).size === jobs.length);
    second.process.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);

    const { database, warehouse } = await reopen();
    try {
      const statuses = await warehouse.query('SELECT STATUS, COUNT(*) AS N FROM DELAYED_ENRICHMENT_QUEUE GROUP BY STATUS');
      expect(statuses).toEqual([{ STATUS: 'COMPLETED', N: jobs.length }]);
      const sets = await warehouse.query(
        'SELECT TEST_ID, ENRICHMENT_TYPE, COUNT(*) AS N, COUNT(DISTINCT CLAIM_ID) AS CLAIMS FROM TEST_TYPE_ROWS GROUP BY 1, 2',
      );
      expect(sets).toHaveLength(jobs.length * 3);
      for (const set of sets) expect({ n: set.N, claims: set.CLAIMS }).toEqual({ n: ROWS_PER_TYPE, claims: 1 });
      const writes = await warehouse.query('SELECT JOB_ID, ENRICHMENT_TYPE, COUNT(*) AS N FROM TEST_TYPE_WRITES GROUP BY 1, 2 HAVING COUNT(*) <> 1');
      expect(writes).toEqual([]);
      // The types the kill interrupted kept their attempt and ran again.
      const histories = await warehouse.query('SELECT ERROR_HISTORY FROM DELAYED_ENRICHMENT_QUEUE');
      const interrupted = histories.flatMap((row) => row.ERROR_HISTORY as Array<{ error: string }>).filter((entry) => /interrupted/.test(entry.error));
      expect(interrupted.length).toBeGreaterThan(0);
    } finally {
      await database.close();
    }
  }, 120_000);

  it('SIGTERM mid-work: exit 0, claims released with attempts given back, and the work completes later', async () => {
    const jobs = await prepare(3);
    const slow = await startChild(db.dir, { CHILD_TYPE_MS: '20000', SHUTDOWN_GRACE_SECONDS: '0.5', MAX_CONCURRENT_JOBS: '3' });
    await slow.waitFor((events) => events.filter((event) => event.type === 'work_started').length === jobs.length);
    slow.process.kill('SIGTERM');
    expect(await slow.exited).toEqual({ code: 0, signal: null });

    let { database, warehouse } = await reopen();
    try {
      const rows = await warehouse.query('SELECT STATUS, CLAIM_ID, LEASE_EXPIRES_AT, TYPE_STATE FROM DELAYED_ENRICHMENT_QUEUE');
      expect(rows).toHaveLength(jobs.length);
      for (const row of rows) {
        expect({ status: row.STATUS, claim: row.CLAIM_ID, lease: row.LEASE_EXPIRES_AT }).toEqual({ status: 'PENDING', claim: null, lease: null });
        for (const state of Object.values(row.TYPE_STATE as Record<string, { status: string; attempts: number }>)) {
          expect(state).toMatchObject({ status: 'PENDING', attempts: 0 });
        }
      }
      const tests = await warehouse.query('SELECT DISTINCT DELAYED_ENRICHMENT_STATUS AS S FROM TEST_RESULTS');
      expect(tests).toEqual([{ S: 'PENDING' }]);
      expect(await warehouse.query('SELECT * FROM TEST_TYPE_WRITES')).toEqual([]);
    } finally {
      await database.close();
    }

    // With a grace longer than a type, the running type finishes and the job's other types are released.
    const graceful = await startChild(db.dir, { CHILD_TYPE_MS: '1500', SHUTDOWN_GRACE_SECONDS: '10', MAX_CONCURRENT_JOBS: '3' });
    await graceful.waitFor((events) => events.filter((event) => event.type === 'work_started').length === jobs.length);
    graceful.process.kill('SIGTERM');
    expect((await graceful.exited).code).toBe(0);
    expect(graceful.events.filter((event) => event.type === 'enrichment_progress')).toHaveLength(jobs.length);

    // Nothing was lost: a fresh process completes everything, each type with exactly one attempt spent
    // beyond the finished ones.
    const fast = await startChild(db.dir, { CHILD_TYPE_MS: '10' });
    await fast.waitFor((events) => completedJobs(events).size === jobs.length);
    fast.process.kill('SIGTERM');
    expect((await fast.exited).code).toBe(0);
    ({ database, warehouse } = await reopen());
    try {
      const rows = await warehouse.query('SELECT STATUS, TYPE_STATE FROM DELAYED_ENRICHMENT_QUEUE');
      for (const row of rows) {
        expect(row.STATUS).toBe('COMPLETED');
        for (const state of Object.values(row.TYPE_STATE as Record<string, { status: string; attempts: number }>)) {
          expect(state).toMatchObject({ status: 'COMPLETED', attempts: 1 });
        }
      }
      const [writes] = await warehouse.query('SELECT COUNT(*) AS N FROM TEST_TYPE_WRITES');
      expect(writes!.N).toBe(jobs.length * 3);
    } finally {
      await database.close();
    }
  }, 120_000);
});
