// The set-based enqueue (src/queue/enqueue-batch.ts) against its oracle, the per-test enqueueJob: the same
// tests enqueued both ways on two databases give the same job rows, TEST_RESULTS status and events, in one
// transaction per ENQUEUE_BATCH tests; tests it cannot insert get enqueueJob's own answers; a failed batch falls
// back test by test. Then the same statements through the real driver against the fake Snowflake endpoint.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { migrate } from '../src/db/migrations.js';
import { registeredStatements } from '../src/db/sql-registry.js';
import type { Row, Warehouse } from '../src/db/warehouse.js';
import { openEngine, type EngineHandle as OpenEngine } from '../src/engine.js';
import { HttpProblem } from '../src/http/problem.js';
import { ENQUEUE_BATCH, enqueueJobs, type BatchEnqueueRequest } from '../src/queue/enqueue-batch.js';
import { enqueueJob } from '../src/queue/enqueue.js';
import { createServices } from '../src/services.js';
import { FakeSnowflake } from './support/fake-snowflake.js';
import { fakeSnowflakeConfig, openTestDatabase, silentLog, tempDir, testConfig, type TestDatabase } from './support/embedded.js';
import { HookedWarehouse } from './support/hooked-warehouse.js';
import { insertTests, servicesFor, type TestRow } from './support/processor-fixtures.js';

const END = new Date('2026-01-15T11:00:00.000Z');
const NOW = '2026-01-15T15:05:00.000Z';

/** The job columns both paths must write alike (JOB_ID and its timestamps aside, which are fresh per path). */
const JOB_COLUMNS = `TEST_ID, RUN_ID, TEST_END_TIME, EARLIEST_ENRICHMENT_TIME, TABLE_TYPE, ENRICHMENT_TYPES, STATUS, ATTEMPTS,
  COMPLETED_TYPES, CREATED_AT, NEXT_DUE_AT, PRIORITY, DEADLINE_AT, TYPE_STATE, ERROR_HISTORY, TEST_START_TIME, TAG_PREFIXES,
  TARGET_TABLE, TARGET_DATABASE, TARGET_SCHEMA`;

async function snapshot(warehouse: Warehouse): Promise<{ jobs: Row[]; tests: Row[]; events: Row[] }> {
  return {
    jobs: await warehouse.query(`SELECT ${JOB_COLUMNS} FROM DELAYED_ENRICHMENT_QUEUE ORDER BY TEST_ID`),
    tests: await warehouse.query(
      `SELECT TEST_ID, DELAYED_ENRICHMENT_STATUS, DELAYED_ENRICHMENT_ERROR, AGGREGATE_ENRICHMENT_STATUS FROM TEST_RESULTS ORDER BY TEST_ID`,
    ),
    events: await warehouse.query(
      `SELECT e.EVENT_TYPE, e.OCCURRED_AT, e.TEST_ID, e.RUN_ID, e.ENRICHMENT_TYPE, e.PAYLOAD, q.TEST_ID AS JOB_TEST
       FROM ENRICHMENT_EVENTS e LEFT JOIN DELAYED_ENRICHMENT_QUEUE q ON q.JOB_ID = e.JOB_ID ORDER BY e.TEST_ID`,
    ),
  };
}

// Every kind of test a backfill or a discovery poll meets: both table types with their types, a test without
// START_TIME in the request (taken from its row), a test that already has a job, one still running, one not in
// TEST_RESULTS, a POSTGRES test, a test stored twice (TEST_RESULTS has no key), and a custom priority.
const ROWS: TestRow[] = [
  { testId: 'h1', tableType: 'HYBRID', tableName: 'ORDERS', database: 'DB_H', schema: 'S_H' },
  { testId: 's1', tableType: 'STANDARD' },
  { testId: 'i1', tableType: 'INTERACTIVE' },
  { testId: 'has-job', tableType: 'STANDARD' },
  { testId: 'running', tableType: 'STANDARD', end: null },
  { testId: 'pg', tableType: 'POSTGRES' },
  { testId: 'twice', tableType: 'HYBRID' },
  { testId: 'twice', tableType: 'HYBRID' },
];
const request = (testId: string, tableType: string, extra: Partial<BatchEnqueueRequest> = {}): BatchEnqueueRequest => ({
  test_id: testId,
  run_id: `run-${testId}`,
  table_type: tableType,
  test_end_time: END,
  ...extra,
});
const REQUESTS: BatchEnqueueRequest[] = [
  request('h1', 'HYBRID', { test_start_time: new Date('2026-01-15T10:30:00Z') }),
  request('s1', 'STANDARD', { priority: 1000 }),
  request('i1', 'INTERACTIVE'),
  request('has-job', 'STANDARD'),
  request('running', 'STANDARD'),
  request('missing', 'STANDARD'),
  request('pg', 'POSTGRES'),
  request('twice', 'HYBRID'),
  request('s1', 'STANDARD', { priority: 1000 }),
];

const answerOf = (result: unknown) =>
  result instanceof HttpProblem ? { problem: result.statusCode, detail: result.message } : { ...(result as object), job_id: typeof (result as { job_id: unknown }).job_id };

describe('set-based enqueue on the embedded engine', () => {
  let batch: TestDatabase;
  let oracle: TestDatabase;
  let clock: ManualClock;
  beforeEach(async () => {
    clock = new ManualClock(NOW);
    batch = await openTestDatabase(clock);
    oracle = await openTestDatabase(clock);
    for (const db of [batch, oracle]) {
      await insertTests(db.warehouse, ROWS);
      await enqueueJob(servicesFor(db, clock), request('has-job', 'STANDARD'));
    }
  });
  afterEach(async () => {
    await batch.close();
    await oracle.close();
  });

  it('writes what enqueueJob writes, test by test, and answers as it does', async () => {
    const hooked = new HookedWarehouse(batch.warehouse);
    const answers = await enqueueJobs(servicesFor(batch, clock, {}, hooked), REQUESTS);
    const expected: unknown[] = [];
    for (const each of REQUESTS) expected.push(await enqueueJob(servicesFor(oracle, clock), each).catch((error: unknown) => error));

    expect(answers.map(answerOf)).toEqual(expected.map(answerOf));
    // The repeated request names the job its first created.
    expect(answers[8]).toEqual({ ...(answers[1] as object), created: false });
    expect(await snapshot(batch.warehouse)).toEqual(await snapshot(oracle.warehouse));
    // Four jobs were new: one transaction for them, then enqueueJob's for the five it could not insert.
    const [first] = hooked.transactions;
    expect(first?.some((text) => text.includes('enqueue_batch') || /LATERAL FLATTEN/.test(text))).toBe(true);
    expect(first).toHaveLength(5);
  });

  it('enqueues ENQUEUE_BATCH tests per transaction', async () => {
    const many = Array.from({ length: ENQUEUE_BATCH + 20 }, (_, i) => ({ testId: `m${String(i).padStart(3, '0')}` }));
    await insertTests(batch.warehouse, many);
    const hooked = new HookedWarehouse(batch.warehouse);
    const answers = await enqueueJobs(servicesFor(batch, clock, {}, hooked), many.map((row) => request(row.testId, 'STANDARD')));
    expect(answers.every((answer) => !(answer instanceof Error) && answer.created)).toBe(true);
    expect(hooked.transactions).toHaveLength(2);
    const [count] = await batch.warehouse.query(`SELECT COUNT(*) AS N, COUNT(DISTINCT TEST_ID) AS TESTS FROM DELAYED_ENRICHMENT_QUEUE WHERE TEST_ID LIKE 'm%'`);
    expect(count).toEqual({ N: ENQUEUE_BATCH + 20, TESTS: ENQUEUE_BATCH + 20 });
    const [events] = await batch.warehouse.query(`SELECT COUNT(*) AS N FROM ENRICHMENT_EVENTS WHERE EVENT_TYPE = 'job_enqueued' AND TEST_ID LIKE 'm%'`);
    expect(events?.N).toBe(ENQUEUE_BATCH + 20);
  });

  it('falls back to one test at a time when the batch statement fails, and loses no test', async () => {
    const hooked = new HookedWarehouse(batch.warehouse);
    // The batch's transaction fails at its insert (as a statement error would); the per-test path is untouched.
    const failing = new Proxy(hooked, {
      get(target, property) {
        if (property === 'transaction') {
          return async (statements: Parameters<Warehouse['transaction']>[0]) => {
            if (statements.some((statement) => statement.sql.includes('LATERAL FLATTEN'))) throw new Error('injected: the batch insert failed');
            return target.transaction(statements);
          };
        }
        const value = Reflect.get(target, property) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const answers = await enqueueJobs(servicesFor(batch, clock, {}, failing), REQUESTS);
    const expected: unknown[] = [];
    for (const each of REQUESTS) expected.push(await enqueueJob(servicesFor(oracle, clock), each).catch((error: unknown) => error));
    expect(answers.map(answerOf)).toEqual(expected.map(answerOf));
    expect(await snapshot(batch.warehouse)).toEqual(await snapshot(oracle.warehouse));
  });
});

describe('set-based enqueue through the Snowflake driver (fake endpoint, FlakeBench real columns)', () => {
  const PASSWORD = 'service-user-password';
  const dir = tempDir('fbde-enqueue-batch-');
  let fake: FakeSnowflake;
  let engine: OpenEngine;
  let oracle: TestDatabase;
  const clock = new ManualClock(NOW);

  beforeAll(async () => {
    fake = await FakeSnowflake.start({ password: PASSWORD });
    await fake.createFlakeBenchTables();
    const config = fakeSnowflakeConfig(fake.url, dir.path, PASSWORD, { SNOWFLAKE_POOL_SIZE: '1' });
    engine = await openEngine(config, silentLog);
    await migrate(engine.warehouse, { clock, log: { info: () => undefined, warn: () => undefined } });
    oracle = await openTestDatabase(clock);
    for (const warehouse of [engine.warehouse, oracle.warehouse]) await insertTests(warehouse, ROWS);
  });
  afterAll(async () => {
    await engine?.close();
    await oracle?.close();
    await fake?.stop();
    dir.remove();
  });

  it('writes what enqueueJob writes on the embedded engine, in one request for the new jobs', async () => {
    const services = createServices({ config: testConfig(), clock, log: silentLog, engine });
    await enqueueJob(services, request('has-job', 'STANDARD'));
    await enqueueJob(servicesFor(oracle, clock), request('has-job', 'STANDARD'));
    const before = fake.statements.length;
    const answers = await enqueueJobs(services, REQUESTS);
    const expected: unknown[] = [];
    for (const each of REQUESTS) expected.push(await enqueueJob(servicesFor(oracle, clock), each).catch((error: unknown) => error));
    expect(answers.map(answerOf)).toEqual(expected.map(answerOf));
    expect(await snapshot(engine.warehouse)).toEqual(await snapshot(oracle.warehouse));
    // The new jobs' five statements travelled as one request (the write carrier's CALL).
    const sent = fake.statements.slice(before).map((statement) => statement.sqlText);
    const batchTexts = new Set(
      registeredStatements()
        .filter((statement) => statement.name.startsWith('queue.enqueue_batch.') || statement.name === 'events.insert_many_if_jobs')
        .map((statement) => statement.text),
    );
    const carried = fake.procedureStatements.filter((statement) => batchTexts.has(statement.sqlText));
    expect(carried.length).toBeGreaterThanOrEqual(5);
    expect(sent.filter((text) => /^CALL /.test(text)).length).toBeGreaterThanOrEqual(1);
  });
});
