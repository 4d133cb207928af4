// How many statements each enrichment type costs (issue 10: every statement is a round trip on Snowflake and
// may resume a warehouse). Each type reads with one statement, a dense view's readiness included; a type's
// rows go in one INSERT per table however many there are. Counted on the real modules over a real DuckDB with
// the simulator's views, every statement the modules send recorded as it reaches the warehouse.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { withQuery, type Warehouse } from '../src/db/warehouse.js';
import { transformLocks, type LockSourceRow } from '../src/enrichment/lock-transform.js';
import { realModules } from '../src/enrichment/modules/index.js';
import { lockContentionModule } from '../src/enrichment/modules/lock-contention.js';
import { MAX_STATEMENT_BYTES } from '../src/enrichment/modules/write-rows.js';
import { tagPrefixes } from '../src/enrichment/modules/scope.js';
import type { EnrichmentContext, EnrichmentModule } from '../src/enrichment/types.js';
import { fenceOf } from '../src/queue/fence.js';
import { enqueueJob } from '../src/queue/enqueue.js';
import { JOB_COLUMNS, toQueueJob, type QueueJob } from '../src/queue/job-state.js';
import type { EnrichmentType } from '../src/queue/plan.js';
import { simulate, type SimulationResult } from '../src/simulator/simulate.js';
import { VisibilityClock } from '../src/simulator/visibility.js';
import { migrate } from '../src/db/migrations.js';
import { openEngine, type EngineHandle } from '../src/engine.js';
import { createServices } from '../src/services.js';
import { FakeSnowflake } from './support/fake-snowflake.js';
import { silentLog, startTestService, tempDir, testConfig } from './support/embedded.js';
import { insertTests } from './support/processor-fixtures.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

const HOUR = 3_600_000;
const module = (type: EnrichmentType) => realModules().find((m) => m.type === type) as EnrichmentModule;

let clock: ManualClock;
let service: Service;
let visibility: VisibilityClock;
let sim: SimulationResult;

beforeAll(async () => {
  clock = new ManualClock('2025-11-20T12:00:00Z');
  service = await startTestService({ clock, env: { LATENCY_SCALE: '1' } });
  visibility = await VisibilityClock.bind(service.services.warehouse, clock);
  // A hybrid test that has just ended: nothing of it is visible in ACCOUNT_USAGE yet.
  sim = await simulate(service.services.warehouse, { idSalt: 'statements', tableType: 'HYBRID', seed: 7, durationMinutes: 10, sessions: 8 }, clock.now(), 1);
  await enqueueJob(service.services, {
    test_id: sim.tests[0]!.test_id,
    run_id: sim.run_id,
    table_type: sim.table_type,
    test_end_time: sim.test_end_time,
    test_start_time: sim.test_start_time,
  });
});
afterAll(async () => {
  visibility?.stop();
  await service?.stop();
});

/** The warehouse as a module sees it, with every statement's text recorded. */
function recording(warehouse: Warehouse): { warehouse: Warehouse; sent: string[] } {
  const sent: string[] = [];
  const recorded = withQuery(warehouse, (sql, binds, options) => {
    sent.push(sql);
    return warehouse.query(sql, binds, options);
  });
  return { warehouse: recorded, sent };
}

async function job(): Promise<QueueJob> {
  const [row] = await service.services.warehouse.query(`SELECT ${JOB_COLUMNS} FROM DELAYED_ENRICHMENT_QUEUE WHERE TEST_ID = ?`, [sim.tests[0]!.test_id]);
  return toQueueJob(row!);
}

/**
 * What the processor does for one type (runner.ts JobRun.execute): readiness, then the read when ready.
 * Returns the result and the statements sent, the run's tag prefixes aside (read once per claim, not per type).
 */
async function checkAndRead(type: EnrichmentType): Promise<{ result: unknown; statements: string[] }> {
  const { warehouse, sent } = recording(service.services.warehouse);
  const context: EnrichmentContext = {
    services: service.services,
    warehouse,
    job: await job(),
    now: clock.now(),
    signal: new AbortController().signal,
    timeoutMs: 30_000,
  };
  await tagPrefixes(context);
  sent.length = 0;
  const subject = module(type);
  const readiness = subject.checkReady ? await subject.checkReady(context) : { ready: true as const };
  const result = readiness.ready ? await subject.read(context) : readiness;
  return { result, statements: [...sent] };
}

describe('statements per enrichment type', () => {
  it('a dense view behind the test: AGGREGATE and QUERY_HISTORY learn it with one statement, with the same reason as before', async () => {
    await visibility.settled();
    for (const [type, view] of [['AGGREGATE', 'AGGREGATE_QUERY_HISTORY'], ['QUERY_HISTORY', 'QUERY_HISTORY']] as const) {
      const { result, statements } = await checkAndRead(type);
      expect(statements, `${type}:\n${statements.join('\n---\n')}`).toHaveLength(1);
      expect(result, type).toMatchObject({ reason: `${view} has no rows from the test's last minute or later yet (the view lags behind)` });
    }
  });

  it('a dense view caught up: the readiness evidence and the rows come back in one statement', async () => {
    clock.advance(4 * HOUR);
    await visibility.settled();
    const truth = sim.tests[0]!.truth;

    const aggregate = await checkAndRead('AGGREGATE');
    expect(aggregate.statements, aggregate.statements.join('\n---\n')).toHaveLength(1);
    const rows = (aggregate.result as { rows: Array<{ QUERY_PARAMETERIZED_HASH: string; CALLS: number }> }).rows;
    // The simulator's ground truth: its patterns, every measured execution once.
    expect([...new Set(rows.map((row) => row.QUERY_PARAMETERIZED_HASH))].sort()).toEqual(truth.patterns.map((p) => p.hash).sort());
    expect(rows.reduce((sum, row) => sum + Number(row.CALLS), 0)).toBe(truth.overall.query_count);
    // The readiness column is not part of a view row (RAW_SAMPLE stores one).
    expect(rows.every((row) => !('CAUGHT_UP' in row))).toBe(true);

    const history = await checkAndRead('QUERY_HISTORY');
    expect(history.statements, history.statements.join('\n---\n')).toHaveLength(1);
    const [executions] = await service.services.warehouse.query<{ N: number }>(
      'SELECT COUNT(*) AS N FROM QUERY_EXECUTIONS WHERE TEST_ID = ? AND QUERY_ID IS NOT NULL',
      [sim.tests[0]!.test_id],
    );
    expect(history.result).toMatchObject({ total: Number(executions!.N) });
    expect((history.result as { matched: number }).matched).toBeGreaterThan(0);
  });

  it('HYBRID_CREDITS reads windows, overlapping tests and requests with one statement, from QUERY_EXECUTIONS when the view has none', async () => {
    const testId = sim.tests[0]!.test_id;
    const fromAggregate = await checkAndRead('HYBRID_CREDITS');
    expect(fromAggregate.statements, fromAggregate.statements.join('\n---\n')).toHaveLength(1);
    const source = fromAggregate.result as {
      windows: Array<{ START_TIME: Date; CREDITS_USED: number }>;
      others: Array<{ testId: string }>;
      requestsByMinute: Array<{ minute: number; requests: number }>;
    };
    // Oracle: the view's windows overlapping the test, read directly.
    const windows = await service.services.warehouse.query<{ START_TIME: Date }>(
      'SELECT START_TIME FROM SNOWFLAKE.ACCOUNT_USAGE.HYBRID_TABLE_USAGE_HISTORY WHERE END_TIME > CAST(? AS TIMESTAMP_NTZ) AND START_TIME < CAST(? AS TIMESTAMP_NTZ) ORDER BY START_TIME',
      [sim.test_start_time, sim.test_end_time],
    );
    expect(windows.length).toBeGreaterThan(0);
    expect(source.windows.map((w) => w.START_TIME)).toEqual(windows.map((w) => w.START_TIME));
    expect(source.others.map((o) => o.testId)).toContain(testId);
    // Every measured and warm-up request of the test is billed: the simulator's executions, counted directly.
    const [executions] = await service.services.warehouse.query<{ N: number }>('SELECT COUNT(*) AS N FROM QUERY_EXECUTIONS WHERE TEST_ID = ?', [testId]);
    expect(source.requestsByMinute.reduce((sum, bucket) => sum + bucket.requests, 0)).toBe(Number(executions!.N));

    // Without the test's AGGREGATE_QUERY_HISTORY rows the requests come from QUERY_EXECUTIONS, still one statement.
    await service.services.warehouse.execute("DELETE FROM SIMULATED_ACCOUNT_USAGE.AGGREGATE_QUERY_HISTORY WHERE QUERY_TAG LIKE '%' || ? || '%'", [testId]);
    const fromExecutions = await checkAndRead('HYBRID_CREDITS');
    expect(fromExecutions.statements, fromExecutions.statements.join('\n---\n')).toHaveLength(1);
    const perMinute = await service.services.warehouse.query<{ MINUTE_START: Date; N: number }>(
      "SELECT DATE_TRUNC('minute', START_TIME) AS MINUTE_START, COUNT(*) AS N FROM QUERY_EXECUTIONS WHERE TEST_ID = ? GROUP BY 1 ORDER BY 1",
      [testId],
    );
    const buckets = (fromExecutions.result as typeof source).requestsByMinute.sort((a, b) => a.minute - b.minute);
    expect(buckets).toEqual(perMinute.map((row) => ({ minute: row.MINUTE_START.getTime(), requests: Number(row.N) })));
  });

  it('every type reads with one statement once its view is ready', async () => {
    for (const type of ['LOCK_CONTENTION', 'QUERY_INSIGHTS'] as const) {
      const { statements } = await checkAndRead(type);
      expect(statements, `${type}:\n${statements.join('\n---\n')}`).toHaveLength(1);
    }
  });
});

const BASE_ID = 2n ** 62n;
/**
 * Lock waits written in one INSERT: about 1 KB each as rows travel (RAW_EVENT holds the view row, and every row
 * names its job, claim and test so a batch's rows merge), so 800 stay under MAX_STATEMENT_BYTES.
 */
const WAITS = 800;
const WAIT_START = Date.parse('2025-11-20T11:50:00Z');

/** LOCK_WAIT_HISTORY rows as the adapters return them (NUMBER(38,0) ids beyond 2^53 as decimal text), one blocker each. */
function lockWaits(count: number): { rows: LockSourceRow[]; blockedTimeByQuery: Map<string, number> } {
  const rows: LockSourceRow[] = Array.from({ length: count }, (_, i) => ({
    QUERY_ID: `01b2c3d4-0000-4000-8000-${String(i).padStart(12, '0')}`,
    TRANSACTION_ID: String(BASE_ID + BigInt(i)),
    REQUESTED_AT: new Date(WAIT_START + i * 37),
    ACQUIRED_AT: new Date(WAIT_START + i * 37 + 5),
    LOCK_TYPE: 'ROW',
    OBJECT_ID: String(BASE_ID + 10_000n),
    OBJECT_NAME: 'ROW',
    SCHEMA_NAME: 'BENCH',
    DATABASE_NAME: 'FLAKEBENCH',
    BLOCKER_QUERIES: [{ query_id: `01b2c3d4-0000-4000-9000-${String(i).padStart(12, '0')}`, transaction_id: String(BASE_ID + 5_000n + BigInt(i)) }],
  }));
  return { rows, blockedTimeByQuery: new Map(rows.map((row, i) => [row.QUERY_ID, i + 0.125])) };
}

/**
 * Writes WAITS lock waits for `current` (claimed as `claimId`) on `warehouse` and checks the statements and what
 * arrived: one INSERT, ids exact, timestamps to the millisecond, decimals, RAW_EVENT a VARIANT.
 */
async function writeManyWaits(warehouse: Warehouse, current: QueueJob, claimId: string, readAt: Date) {
  const { rows, blockedTimeByQuery } = lockWaits(WAITS);
  const output = { ...transformLocks(rows, blockedTimeByQuery, { tableName: 'BENCH_TABLE', schemaName: 'BENCH', databaseName: 'FLAKEBENCH' }), readAt };
  expect(output.events).toHaveLength(WAITS);
  const statements = lockContentionModule.writeStatements(output, current, fenceOf(current.jobId, claimId));
  const inserts = statements.filter((statement) => /^INSERT INTO LOCK_CONTENTION_EVENTS\b/.test(statement.sql));
  expect(inserts).toHaveLength(1);
  expect(statements).toHaveLength(3); // DELETE, INSERT, UPDATE TEST_RESULTS
  const results = await warehouse.transaction(statements);
  expect(results[1]!.rowsAffected).toBe(WAITS);

  const stored = await warehouse.query<{ Q: string; T: string; B: string; O: string; R: Date; A: Date; W: number; RAW: Record<string, never> }>(
    `SELECT QUERY_ID AS Q, CAST(LOCK_TRANSACTION_ID AS VARCHAR) AS T, CAST(BLOCKING_TRANSACTION_ID AS VARCHAR) AS B, CAST(OBJECT_ID AS VARCHAR) AS O,
       REQUESTED_AT AS R, LOCK_ACQUIRED_AT AS A, WAIT_DURATION_MS AS W, RAW_EVENT AS RAW
     FROM LOCK_CONTENTION_EVENTS WHERE TEST_ID = ? ORDER BY QUERY_ID`,
    [current.testId],
  );
  expect(stored).toHaveLength(WAITS);
  stored.forEach((row, i) => {
    const source = rows[i]!;
    expect(row.Q).toBe(source.QUERY_ID);
    expect(row.T).toBe(String(BASE_ID + BigInt(i)));
    expect(row.B).toBe(String(BASE_ID + 5_000n + BigInt(i)));
    expect(row.O).toBe(String(BASE_ID + 10_000n));
    expect(row.R).toEqual(source.REQUESTED_AT);
    expect(row.A).toEqual(source.ACQUIRED_AT);
    expect(Number(row.W)).toBe(i + 0.125);
    // A VARIANT stays a VARIANT: the wait's view row, the ids as the view gave them.
    expect(row.RAW).toMatchObject({ QUERY_ID: source.QUERY_ID, TRANSACTION_ID: source.TRANSACTION_ID, BLOCKER_QUERIES: source.BLOCKER_QUERIES });
  });
  const [summary] = await warehouse.query<{ N: number }>('SELECT LOCK_WAIT_COUNT AS N FROM TEST_RESULTS WHERE TEST_ID = ?', [current.testId]);
  expect(Number(summary!.N)).toBe(WAITS);
  return output;
}

describe('statements per write', () => {
  it('800 lock waits go in one INSERT, transaction ids above 2^53 exact, doubles, timestamps and variants intact', async () => {
    const current = await job();
    const claimId = 'claim-statements';
    await service.services.warehouse.execute('UPDATE DELAYED_ENRICHMENT_QUEUE SET CLAIM_ID = ? WHERE JOB_ID = ?', [claimId, current.jobId]);
    const output = await writeManyWaits(service.services.warehouse, current, claimId, clock.now());

    // Past MAX_STATEMENT_BYTES the payload is split by size, every statement under it, every row written once.
    const many = { ...output, events: Array.from({ length: 2500 }, (_, i) => ({ ...output.events[i % WAITS]!, queryId: `wait-${i}` })) };
    const split = lockContentionModule.writeStatements(many, current, fenceOf(current.jobId, claimId));
    const splitInserts = split.filter((statement) => /^INSERT INTO LOCK_CONTENTION_EVENTS\b/.test(statement.sql));
    const bytes = (statement: (typeof split)[number]) =>
      Buffer.byteLength(statement.sql) + (statement.binds ?? []).reduce((sum: number, bind) => sum + Buffer.byteLength(bind instanceof Date ? bind.toISOString() : String(bind)), 0);
    const payloadBytes = splitInserts.reduce((sum, statement) => sum + bytes(statement), 0);
    expect(splitInserts.length).toBe(Math.ceil(payloadBytes / MAX_STATEMENT_BYTES));
    for (const statement of splitInserts) expect(bytes(statement)).toBeLessThanOrEqual(MAX_STATEMENT_BYTES);
    await service.services.warehouse.transaction(split);
    const [written] = await service.services.warehouse.query<{ N: number; Q: number }>(
      'SELECT COUNT(*) AS N, COUNT(DISTINCT QUERY_ID) AS Q FROM LOCK_CONTENTION_EVENTS WHERE TEST_ID = ?',
      [current.testId],
    );
    expect(written).toEqual({ N: 2500, Q: 2500 });
  });
});

describe('statements per write, through the Snowflake driver', () => {
  const PASSWORD = 'statements-password';
  const dir = tempDir('fbde-sf-statements-');
  let fake: FakeSnowflake;
  let engine: EngineHandle;

  beforeAll(async () => {
    fake = await FakeSnowflake.start({ password: PASSWORD });
    await fake.createFlakeBenchTables();
    const config = testConfig({
      DATA_DIR: dir.path,
      SNOWFLAKE_ACCOUNT: 'FAKEACCOUNT',
      SNOWFLAKE_USER: 'SERVICE_USER',
      SNOWFLAKE_PASSWORD: PASSWORD,
      SNOWFLAKE_ACCESS_URL: fake.url,
      SNOWFLAKE_POOL_SIZE: '1',
      // Each statement its own request, so the INSERT is seen as the driver sends it (the default carrier
      // would send it inside its one CALL).
      SNOWFLAKE_WRITE_CARRIER: 'statements',
    });
    engine = await openEngine(config, silentLog);
    await migrate(engine.warehouse, { clock, log: { info: () => undefined, warn: () => undefined } });
  });
  afterAll(async () => {
    await engine?.close();
    await fake?.stop();
    dir.remove();
  });

  it('800 lock waits are one INSERT request with one text bind, the ids exact after the round trip', async () => {
    expect(engine.engine).toBe('snowflake');
    const services = createServices({ config: testConfig(), clock, log: silentLog, engine });
    await insertTests(engine.warehouse, [{ testId: 'sf-statements', tableType: 'HYBRID' }]);
    const { job_id: jobId } = await enqueueJob(services, { test_id: 'sf-statements', run_id: 'run-sf-statements', table_type: 'HYBRID', test_end_time: new Date('2026-01-15T11:00:00Z') });
    await engine.warehouse.execute('UPDATE DELAYED_ENRICHMENT_QUEUE SET CLAIM_ID = ? WHERE JOB_ID = ?', ['claim-sf', jobId!]);
    const [row] = await engine.warehouse.query(`SELECT ${JOB_COLUMNS} FROM DELAYED_ENRICHMENT_QUEUE WHERE JOB_ID = ?`, [jobId!]);
    const sentBefore = fake.statements.length;
    await writeManyWaits(engine.warehouse, toQueueJob(row!), 'claim-sf', clock.now());
    const inserts = fake.statements.slice(sentBefore).filter((statement) => /^INSERT INTO LOCK_CONTENTION_EVENTS\b/.test(statement.sqlText));
    expect(inserts).toHaveLength(1);
    // One bind: the rows as one JSON text, each naming its claim (the fence) and its test.
    expect(inserts[0]!.binds).toHaveLength(1);
  });
});
