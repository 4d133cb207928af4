import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import type { Warehouse } from '../src/db/warehouse.js';
import { HttpProblem } from '../src/http/problem.js';
import { enqueueJob } from '../src/queue/enqueue.js';
import { openTestDatabase, type TestDatabase } from './support/embedded.js';
import { insertTests, servicesFor } from './support/processor-fixtures.js';

const END = new Date('2026-01-15T11:00:00.000Z');

describe('enqueue', () => {
  let db: TestDatabase;
  let clock: ManualClock;
  beforeEach(async () => {
    clock = new ManualClock('2026-01-15T11:05:00.000Z');
    db = await openTestDatabase(clock);
  });
  afterEach(async () => db.close());

  const jobsOf = (warehouse: Warehouse, testId: string) =>
    warehouse.query('SELECT * FROM DELAYED_ENRICHMENT_QUEUE WHERE TEST_ID = ?', [testId]);
  const testRow = async (testId: string) =>
    (await db.warehouse.query('SELECT * FROM TEST_RESULTS WHERE TEST_ID = ?', [testId]))[0]!;

  it('creates a HYBRID job with five types, each due at end + latency + buffer, and marks the test PENDING', async () => {
    await insertTests(db.warehouse, [{ testId: 't1', runId: 'r1', tableType: 'HYBRID', tableName: 'ORDERS' }]);
    const services = servicesFor(db, clock);
    const result = await enqueueJob(services, { test_id: 't1', run_id: 'r1', table_type: 'HYBRID', test_end_time: END });
    expect(result.created).toBe(true);
    expect(result.status).toBe('PENDING');
    const [job] = await jobsOf(db.warehouse, 't1');
    expect(job!.JOB_ID).toBe(result.job_id);
    expect(job!.ENRICHMENT_TYPES).toEqual(['QUERY_HISTORY', 'AGGREGATE', 'LOCK_CONTENTION', 'HYBRID_CREDITS', 'QUERY_INSIGHTS']);
    const state = job!.TYPE_STATE as Record<string, { due_at: string; status: string }>;
    const minutes = (type: string) => (Date.parse(state[type]!.due_at) - END.getTime()) / 60_000;
    expect(minutes('QUERY_HISTORY')).toBe(50);
    expect(minutes('QUERY_INSIGHTS')).toBe(100);
    expect(minutes('AGGREGATE')).toBe(195);
    expect(minutes('LOCK_CONTENTION')).toBe(195);
    expect((job!.EARLIEST_ENRICHMENT_TIME as Date).getTime()).toBe(END.getTime() + 50 * 60_000);
    expect(job!.TARGET_TABLE).toBe('ORDERS');
    const test = await testRow('t1');
    expect(test.DELAYED_ENRICHMENT_STATUS).toBe('PENDING');
    expect(test.AGGREGATE_ENRICHMENT_STATUS).toBe('PENDING');
    const events = await db.warehouse.query('SELECT EVENT_TYPE, JOB_ID FROM ENRICHMENT_EVENTS');
    expect(events).toEqual([{ EVENT_TYPE: 'job_enqueued', JOB_ID: result.job_id }]);
  });

  it('gives STANDARD tables three types and scales due times by LATENCY_SCALE', async () => {
    await insertTests(db.warehouse, [{ testId: 't2', runId: 'r2' }]);
    const services = servicesFor(db, clock, { LATENCY_SCALE: '0.01' });
    await enqueueJob(services, { test_id: 't2', run_id: 'r2', table_type: 'standard', test_end_time: END });
    const [job] = await jobsOf(db.warehouse, 't2');
    expect(job!.ENRICHMENT_TYPES).toEqual(['QUERY_HISTORY', 'AGGREGATE', 'QUERY_INSIGHTS']);
    const state = job!.TYPE_STATE as Record<string, { due_at: string }>;
    expect(Date.parse(state.QUERY_HISTORY!.due_at) - END.getTime()).toBe(30_000); // 50 min × 0.01
  });

  it('POSTGRES: no job, test NOT_APPLICABLE', async () => {
    await insertTests(db.warehouse, [{ testId: 'pg', runId: 'r', tableType: 'POSTGRES' }]);
    const result = await enqueueJob(servicesFor(db, clock), { test_id: 'pg', run_id: 'r', table_type: 'POSTGRES', test_end_time: END });
    expect(result).toEqual({ job_id: null, created: false, status: 'NOT_APPLICABLE' });
    expect(await jobsOf(db.warehouse, 'pg')).toHaveLength(0);
    expect((await testRow('pg')).DELAYED_ENRICHMENT_STATUS).toBe('NOT_APPLICABLE');
  });

  it('returns the existing job on a second enqueue; force replaces only a terminal one', async () => {
    await insertTests(db.warehouse, [{ testId: 't3', runId: 'r3' }]);
    const services = servicesFor(db, clock);
    const request = { test_id: 't3', run_id: 'r3', table_type: 'STANDARD', test_end_time: END };
    const first = await enqueueJob(services, request);
    const again = await enqueueJob(services, { ...request, force: true });
    expect(again).toEqual({ job_id: first.job_id, created: false, status: 'PENDING' });
    await db.warehouse.execute(`UPDATE DELAYED_ENRICHMENT_QUEUE SET STATUS = 'FAILED' WHERE JOB_ID = ?`, [first.job_id]);
    const unforced = await enqueueJob(services, request);
    expect(unforced).toEqual({ job_id: first.job_id, created: false, status: 'FAILED' });
    const forced = await enqueueJob(services, { ...request, force: true });
    expect(forced.created).toBe(true);
    expect(forced.job_id).not.toBe(first.job_id);
    const jobs = await jobsOf(db.warehouse, 't3');
    expect(jobs.map((job) => job.JOB_ID)).toEqual([forced.job_id]);
  });

  it('two connections enqueuing the same tests at once create one job per test', async () => {
    const ids = Array.from({ length: 30 }, (_, i) => `race-${i}`);
    await insertTests(db.warehouse, ids.map((testId) => ({ testId, runId: 'r' })));
    const a = servicesFor(db, clock, {}, await db.database.connect());
    const b = servicesFor(db, clock, {}, await db.database.connect());
    const results = await Promise.all(
      ids.flatMap((testId) =>
        [a, b].map((services) => enqueueJob(services, { test_id: testId, run_id: 'r', table_type: 'STANDARD', test_end_time: END })),
      ),
    );
    expect(results.filter((result) => result.created)).toHaveLength(ids.length);
    const [count] = await db.warehouse.query('SELECT COUNT(*) AS N, COUNT(DISTINCT TEST_ID) AS T FROM DELAYED_ENRICHMENT_QUEUE');
    expect(count).toEqual({ N: ids.length, T: ids.length });
  });

  it("takes the target from FlakeBench's row: TABLE_NAME and TEST_CONFIG:target:database / :schema; request fields win", async () => {
    await insertTests(db.warehouse, [
      { testId: 'tc', runId: 'rc', tableType: 'HYBRID', tableName: 'ORDERS_HT', database: 'BENCH_DB', schema: 'TPCC' },
      { testId: 'tr', runId: 'rr', tableType: 'HYBRID', tableName: 'ORDERS_HT', database: 'BENCH_DB', schema: 'TPCC' },
    ]);
    const services = servicesFor(db, clock);
    await enqueueJob(services, { test_id: 'tc', run_id: 'rc', table_type: 'HYBRID', test_end_time: END });
    expect(await jobsOf(db.warehouse, 'tc')).toMatchObject([{ TARGET_TABLE: 'ORDERS_HT', TARGET_DATABASE: 'BENCH_DB', TARGET_SCHEMA: 'TPCC' }]);
    await enqueueJob(services, { test_id: 'tr', run_id: 'rr', table_type: 'HYBRID', test_end_time: END, target_database: 'OTHER_DB', target_schema: 'S2', target_table: 'T2' });
    expect(await jobsOf(db.warehouse, 'tr')).toMatchObject([{ TARGET_TABLE: 'T2', TARGET_DATABASE: 'OTHER_DB', TARGET_SCHEMA: 'S2' }]);
    // A row whose TEST_CONFIG has no target (or no TEST_CONFIG at all) leaves database and schema unknown.
    await db.warehouse.execute(
      `INSERT INTO TEST_RESULTS (TEST_ID, RUN_ID, TEST_NAME, SCENARIO_NAME, TABLE_NAME, TABLE_TYPE, STATUS, START_TIME, END_TIME, CONCURRENT_CONNECTIONS, TEST_CONFIG)
       SELECT 'tn', 'rn', 'n', 's', 'T3', 'HYBRID', 'COMPLETED', CAST(? AS TIMESTAMP_NTZ), CAST(? AS TIMESTAMP_NTZ), 1, PARSE_JSON('{"workload": {"threads": 4}}')`,
      [new Date(END.getTime() - 3_600_000), END],
    );
    await enqueueJob(services, { test_id: 'tn', run_id: 'rn', table_type: 'HYBRID', test_end_time: END });
    expect(await jobsOf(db.warehouse, 'tn')).toMatchObject([{ TARGET_TABLE: 'T3', TARGET_DATABASE: null, TARGET_SCHEMA: null }]);
  });

  it('creates one job when TEST_RESULTS holds the test twice (FlakeBench declares no key)', async () => {
    await insertTests(db.warehouse, [
      { testId: 'dup', runId: 'rd', tableType: 'STANDARD' },
      { testId: 'dup', runId: 'rd', tableType: 'STANDARD' },
    ]);
    const result = await enqueueJob(servicesFor(db, clock), { test_id: 'dup', run_id: 'rd', table_type: 'STANDARD', test_end_time: END });
    expect(result.created).toBe(true);
    expect(await jobsOf(db.warehouse, 'dup')).toHaveLength(1);
  });

  it('refuses a test that has not ended (END_TIME NULL) with a 409 naming END_TIME, changing nothing', async () => {
    await insertTests(db.warehouse, [
      { testId: 'running', runId: 'rr', tableType: 'HYBRID', end: null, status: 'RUNNING' },
      { testId: 'pg-running', runId: 'rr', tableType: 'POSTGRES', end: null, status: 'RUNNING' },
    ]);
    const services = servicesFor(db, clock);
    for (const [testId, tableType] of [['running', 'HYBRID'], ['pg-running', 'POSTGRES']] as const) {
      const refused = await enqueueJob(services, { test_id: testId, run_id: 'rr', table_type: tableType, test_end_time: END }).catch((e: unknown) => e);
      expect(refused, testId).toBeInstanceOf(HttpProblem);
      expect((refused as HttpProblem).statusCode, testId).toBe(409);
      expect((refused as HttpProblem).detail, testId).toMatch(new RegExp(`test ${testId} run rr has not ended: .*no END_TIME`));
    }
    expect(await db.warehouse.query('SELECT * FROM DELAYED_ENRICHMENT_QUEUE')).toHaveLength(0);
    expect(await db.warehouse.query('SELECT DELAYED_ENRICHMENT_STATUS AS S FROM TEST_RESULTS')).toEqual([{ S: null }, { S: null }]);
    expect(await db.warehouse.query('SELECT * FROM ENRICHMENT_EVENTS')).toHaveLength(0);
  });

  it('refuses a run whose TEST_RESULTS rows have a NULL TEST_ID with a 422 saying so; other unknown tests stay 404', async () => {
    await db.warehouse.execute(
      `INSERT INTO TEST_RESULTS (TEST_ID, RUN_ID, TEST_NAME, SCENARIO_NAME, TABLE_NAME, TABLE_TYPE, STATUS, START_TIME, END_TIME, CONCURRENT_CONNECTIONS)
       SELECT NULL, 'run-no-id', 'n', 's', 'T', 'STANDARD', 'COMPLETED', CAST(? AS TIMESTAMP_NTZ), CAST(? AS TIMESTAMP_NTZ), 1`,
      [new Date(END.getTime() - 3_600_000), END],
    );
    const services = servicesFor(db, clock);
    const refused = await enqueueJob(services, { test_id: 'run-no-id', run_id: 'run-no-id', table_type: 'STANDARD', test_end_time: END }).catch((e: unknown) => e);
    expect((refused as HttpProblem).statusCode).toBe(422);
    expect((refused as HttpProblem).detail).toMatch(/run run-no-id has 1 TEST_RESULTS row\(s\) with a NULL TEST_ID/);
    const other = await enqueueJob(services, { test_id: 'x', run_id: 'another-run', table_type: 'STANDARD', test_end_time: END }).catch((e: unknown) => e);
    expect((other as HttpProblem).statusCode).toBe(404);
    expect(await db.warehouse.query('SELECT * FROM DELAYED_ENRICHMENT_QUEUE')).toHaveLength(0);
    expect(await db.warehouse.query('SELECT DELAYED_ENRICHMENT_STATUS AS S FROM TEST_RESULTS')).toEqual([{ S: null }]);
  });

  it('rejects bad input with a 400 naming the problem and unknown tests with a 404, changing nothing', async () => {
    const services = servicesFor(db, clock);
    await expect(enqueueJob(services, { test_id: 'x', run_id: 'r', table_type: 'ICEBERG', test_end_time: END })).rejects.toThrow(/table_type/);
    await expect(
      enqueueJob(services, { test_id: 'x', run_id: 'r', table_type: 'STANDARD', test_end_time: END, enrichment_types: ['LOCK_CONTENTION'] }),
    ).rejects.toThrow(/does not apply/);
    const missing = await enqueueJob(services, { test_id: 'nope', run_id: 'r', table_type: 'STANDARD', test_end_time: END }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(HttpProblem);
    expect((missing as HttpProblem).statusCode).toBe(404);
    expect(await db.warehouse.query('SELECT * FROM DELAYED_ENRICHMENT_QUEUE')).toHaveLength(0);
  });
});
