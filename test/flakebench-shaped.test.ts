// Issue 8's first acceptance line: FlakeBench-shaped rows (every NOT NULL column of FlakeBench's real tables,
// the benchmark target only in TEST_CONFIG:target, tags in FlakeBench's form, warm-up rows flagged and tagged)
// are enqueued through the API without any target field, enriched by the real processor, and the results equal
// the simulator's ground truth (computed from the raw executions, never from the view rows). Once on the
// embedded engine, once through the real Snowflake driver against the fake endpoint whose FlakeBench tables
// have exactly the real columns. Plus: warm-up left out by QUERY_EXECUTIONS.WARMUP when the tag has no phase.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import type { Config } from '../src/config.js';
import { migrate } from '../src/db/migrations.js';
import type { Row, Warehouse } from '../src/db/warehouse.js';
import { openEngine } from '../src/engine.js';
import { startService } from '../src/service.js';
import { simulate, type SimulationRequest, type SimulationResult } from '../src/simulator/simulate.js';
import { SIMULATED_RUN_COLUMN, VISIBILITY_COLUMN } from '../src/simulator/view-tables.js';
import { VisibilityClock } from '../src/simulator/visibility.js';
import { SOURCE_VIEWS } from '../src/sources/account-usage.js';
import { FLAKEBENCH_QUERY_EXECUTIONS_COLUMNS, FLAKEBENCH_TEST_RESULTS_COLUMNS } from '../src/sources/flakebench-tables.js';
import { exportLine } from './fixtures/flakebench-export.js';
import { FakeSnowflake } from './support/fake-snowflake.js';
import { fakeSnowflakeConfig, processDueJobs, silentLog, startTestService, tempDir } from './support/embedded.js';

const HOUR = 3_600_000;
const START = '2025-11-20T12:00:00Z';
type Query = (sql: string, binds?: unknown[]) => Promise<Row[]>;

/** The rows FlakeBench wrote for the test: every NOT NULL column filled, the target only inside TEST_CONFIG. */
async function expectFlakeBenchShaped(query: Query, testId: string): Promise<{ target: Record<string, string>; tableName: string }> {
  const [test] = await query('SELECT * FROM TEST_RESULTS WHERE TEST_ID = ?', [testId]);
  expect(test).toBeDefined();
  expect(Object.keys(test!).filter((name) => FLAKEBENCH_TEST_RESULTS_COLUMNS.every((c) => c.name !== name))).toEqual(
    // Only the columns this service's migrations add, and none of the old guesses.
    expect.not.arrayContaining(['DATABASE_NAME', 'SCHEMA_NAME', 'WAREHOUSE_NAME', 'CONCURRENCY']),
  );
  for (const column of FLAKEBENCH_TEST_RESULTS_COLUMNS.filter((c) => c.notNull)) expect(test![column.name], column.name).not.toBeNull();
  expect(test!.QUERY_TAG).toBe(`flakebench:test_id=${testId}`);
  const target = (test!.TEST_CONFIG as { target: Record<string, string> }).target;
  expect(Object.keys(target).sort()).toEqual(['database', 'schema', 'table_name', 'table_type', 'warehouse']);
  const notNull = FLAKEBENCH_QUERY_EXECUTIONS_COLUMNS.filter((c) => c.notNull).map((c) => `COUNT(${c.name})`);
  const [executions] = await query(
    `SELECT COUNT(*) AS N, LEAST(${notNull.join(', ')}) AS FILLED, SUM(IFF(WARMUP, 1, 0)) AS WARMUP FROM QUERY_EXECUTIONS WHERE TEST_ID = ?`,
    [testId],
  );
  expect(Number(executions!.FILLED)).toBe(Number(executions!.N));
  expect(Number(executions!.WARMUP)).toBeGreaterThan(0);
  return { target, tableName: String(test!.TABLE_NAME) };
}

/** The body FlakeBench (or a user) posts: the test's identity and end, no target, no tag prefixes, no start. */
function enqueueBody(sim: SimulationResult, testId: string): Record<string, unknown> {
  return { test_id: testId, run_id: sim.run_id, table_type: sim.table_type, test_end_time: sim.test_end_time.toISOString() };
}

/** The stored results of a hybrid test against its truth (the same checks on both engines). */
async function expectHybridTruth(query: Query, sim: SimulationResult, testId: string, target: Record<string, string>): Promise<void> {
  const truth = sim.tests.find((t) => t.test_id === testId)!.truth;
  const [job] = await query('SELECT STATUS, TYPE_STATE, TARGET_TABLE, TARGET_DATABASE, TARGET_SCHEMA FROM DELAYED_ENRICHMENT_QUEUE WHERE TEST_ID = ?', [testId]);
  expect(job).toMatchObject({ STATUS: 'COMPLETED', TARGET_TABLE: target.table_name, TARGET_DATABASE: target.database, TARGET_SCHEMA: target.schema });
  for (const [type, state] of Object.entries(job!.TYPE_STATE as Record<string, { status: string }>)) expect(state.status, type).toBe('COMPLETED');

  const [test] = await query(
    'SELECT DELAYED_ENRICHMENT_STATUS, THROTTLED_QUERY_COUNT, LOCK_WAIT_COUNT, LOCK_WAIT_TOTAL_MS, LOCK_WAIT_MAX_MS, HYBRID_CREDITS_USED FROM TEST_RESULTS WHERE TEST_ID = ?',
    [testId],
  );
  expect(test!.DELAYED_ENRICHMENT_STATUS).toBe('COMPLETED');
  expect(Number(test!.THROTTLED_QUERY_COUNT)).toBe(truth.overall.throttled_count);
  expect(truth.lock_waits.count).toBeGreaterThan(0);
  expect(Number(test!.LOCK_WAIT_COUNT)).toBe(truth.lock_waits.count);
  expect(Number(test!.LOCK_WAIT_TOTAL_MS)).toBe(truth.lock_waits.total_ms);
  expect(Number(test!.LOCK_WAIT_MAX_MS)).toBe(truth.lock_waits.max_ms);
  expect(Number(test!.HYBRID_CREDITS_USED)).toBeCloseTo(truth.credits.credits_used as number, 6);

  const [overall] = await query('SELECT QUERY_COUNT, EXEC_MAX_MS FROM AGGREGATE_TEST_METRICS WHERE TEST_ID = ?', [testId]);
  expect(Number(overall!.QUERY_COUNT)).toBe(truth.overall.query_count);
  expect(Number(overall!.EXEC_MAX_MS)).toBe(truth.overall.max_ms);
  const patterns = await query(
    'SELECT QUERY_PARAMETERIZED_HASH, QUERY_COUNT, ERRORS_COUNT, EXEC_MAX_MS FROM AGGREGATE_QUERY_METRICS WHERE TEST_ID = ? ORDER BY QUERY_PARAMETERIZED_HASH',
    [testId],
  );
  expect(patterns.map((p) => [p.QUERY_PARAMETERIZED_HASH, Number(p.QUERY_COUNT), Number(p.ERRORS_COUNT), Number(p.EXEC_MAX_MS)])).toEqual(
    truth.patterns.map((p) => [p.hash, p.query_count, p.errors_count, p.max_ms]),
  );
  const [events] = await query('SELECT COUNT(*) AS N FROM LOCK_CONTENTION_EVENTS WHERE TEST_ID = ?', [testId]);
  expect(Number(events!.N)).toBe(truth.lock_waits.count);
  // Credits are attributed to the target FlakeBench recorded: TABLE_NAME and TEST_CONFIG:target.
  const credits = await query('SELECT DISTINCT TABLE_NAME, SCHEMA_NAME, DATABASE_NAME FROM HYBRID_TABLE_CREDITS WHERE TEST_ID = ?', [testId]);
  expect(credits).toEqual([{ TABLE_NAME: target.table_name, SCHEMA_NAME: target.schema, DATABASE_NAME: target.database }]);
  // Pass 2 reached the measurement queries QUERY_HISTORY knows, matched by QUERY_ID.
  const [coverage] = await query(
    'SELECT COUNT(*) AS N FROM QUERY_EXECUTIONS WHERE TEST_ID = ? AND NOT WARMUP AND SF_PARTITIONS_TOTAL IS NOT NULL AND QUERY_PARAMETERIZED_HASH IS NOT NULL',
    [testId],
  );
  expect(Number(coverage!.N)).toBe(truth.query_history_coverage.matched);
}

/** Rows as `COPY INTO @stage FROM (SELECT OBJECT_CONSTRUCT(*) FROM t)` writes them: NULL-valued keys left out. */
function exportNdjson(rows: Row[], timestamps: 'NTZ' | 'LTZ'): string {
  return rows
    .map((row) => exportLine(Object.fromEntries(Object.entries(row).filter(([, value]) => value !== null && value !== undefined)), { timestamps }))
    .join('\n');
}

describe('FlakeBench-shaped rows on the embedded engine', () => {
  let clock: ManualClock;
  let service: Awaited<ReturnType<typeof startTestService>>;
  let visibility: VisibilityClock;
  let query: Query;

  beforeEach(async () => {
    clock = new ManualClock(START);
    service = await startTestService({ clock, env: { LATENCY_SCALE: '1' } });
    visibility = await VisibilityClock.bind(service.services.warehouse, clock);
    query = (sql, binds = []) => service.services.warehouse.query(sql, binds as never[]);
  });
  afterEach(async () => {
    visibility.stop();
    await service.stop();
  });

  const simulated = (request: SimulationRequest) =>
    simulate(service.services.warehouse, { idSalt: 'flakebench-shaped', ...request }, clock.now(), service.services.config.latencyScale);
  const post = (payload: Record<string, unknown>) => service.app.inject({ method: 'POST', url: '/api/enrichment/jobs', payload });
  async function processAfter(ms: number): Promise<void> {
    clock.advance(ms);
    await visibility.settled();
    await processDueJobs(service);
  }

  it('enqueued without target fields, a hybrid test is enriched to its ground truth', async () => {
    const sim = await simulated({ tableType: 'HYBRID', seed: 7, durationMinutes: 10, sessions: 8 });
    const testId = sim.tests[0]!.test_id;
    const { target, tableName } = await expectFlakeBenchShaped(query, testId);
    expect(target.table_name).toBe(tableName);
    const response = await post(enqueueBody(sim, testId));
    expect(response.statusCode).toBe(201);
    await processAfter(4 * HOUR);
    await expectHybridTruth(query, sim, testId, target);
  });

  it('loaded by replay of an OBJECT_CONSTRUCT(*) export of the two tables and the five views, a hybrid test is enriched to its ground truth', async () => {
    // The "account": another service whose simulator wrote FlakeBench's rows and Snowflake's view rows.
    const account = await startTestService({ clock, env: { LATENCY_SCALE: '1' } });
    let sim: SimulationResult;
    const files: Record<string, string> = {};
    try {
      sim = await simulate(account.services.warehouse, { idSalt: 'flakebench-replayed', tableType: 'HYBRID', seed: 7, durationMinutes: 10, sessions: 8 }, clock.now(), 1);
      const w = account.services.warehouse;
      files.TEST_RESULTS = exportNdjson(await w.query('SELECT * FROM TEST_RESULTS'), 'NTZ');
      files.QUERY_EXECUTIONS = exportNdjson(await w.query('SELECT * FROM QUERY_EXECUTIONS'), 'NTZ');
      // The documented columns only, as an export of SNOWFLAKE.ACCOUNT_USAGE has them (the simulation's own two go).
      for (const view of SOURCE_VIEWS) {
        const rows = await w.query(`SELECT * EXCLUDE (${VISIBILITY_COLUMN}, ${SIMULATED_RUN_COLUMN}) FROM SIMULATED_ACCOUNT_USAGE.${view.name}`);
        files[view.name] = exportNdjson(rows, 'LTZ');
      }
    } finally {
      await account.stop();
    }
    const replayed = await service.app.inject({ method: 'POST', url: '/api/dev/replay', payload: { files, strict: true } });
    expect(replayed.statusCode, replayed.body).toBe(200);
    expect(replayed.json()).toMatchObject({ undocumented_columns: [] });
    const testId = sim.tests[0]!.test_id;
    const { target } = await expectFlakeBenchShaped(query, testId);
    expect((await post(enqueueBody(sim, testId))).statusCode).toBe(201);
    await processAfter(4 * HOUR);
    await expectHybridTruth(query, sim, testId, target);
  });

  it("tags in the seed's planned form (flakebench:run_id=...:test_id=...) are matched too, per child test", async () => {
    const sim = await simulated({ tableType: 'HYBRID', seed: 8, durationMinutes: 8, sessions: 6, workers: 2, tagForm: 'run_id' });
    const [first, second] = sim.tests;
    const [row] = await query('SELECT QUERY_TAG, TEST_CONFIG FROM TEST_RESULTS WHERE TEST_ID = ?', [first!.test_id]);
    expect(row!.QUERY_TAG).toBe(`flakebench:run_id=${sim.run_id}:test_id=${first!.test_id}`);
    for (const test of [first!, second!]) expect((await post(enqueueBody(sim, test.test_id))).statusCode).toBe(201);
    await processAfter(4 * HOUR);
    for (const test of [first!, second!]) {
      const [metrics] = await query('SELECT QUERY_COUNT FROM AGGREGATE_TEST_METRICS WHERE TEST_ID = ?', [test.test_id]);
      expect(Number(metrics!.QUERY_COUNT), test.test_id).toBe(test.truth.overall.query_count);
      const [summary] = await query('SELECT THROTTLED_QUERY_COUNT, LOCK_WAIT_COUNT FROM TEST_RESULTS WHERE TEST_ID = ?', [test.test_id]);
      expect(Number(summary!.THROTTLED_QUERY_COUNT)).toBe(test.truth.overall.throttled_count);
      expect(Number(summary!.LOCK_WAIT_COUNT ?? 0)).toBe(test.truth.lock_waits.count);
    }
  });

  it('leaves out warm-up by QUERY_EXECUTIONS.WARMUP where the tag carries no phase (lock waits and insights)', async () => {
    const hybrid = await simulated({ tableType: 'HYBRID', seed: 7, durationMinutes: 10, sessions: 8 });
    const standard = await simulated({ tableType: 'STANDARD', seed: 11, durationMinutes: 20, sessions: 8, ratePerSession: 2 });
    const w = service.services.warehouse;
    for (const sim of [hybrid, standard]) {
      const testId = sim.tests[0]!.test_id;
      // A FlakeBench that tags its sessions without the phase: only the WARMUP flag still tells warm-up apart.
      await w.execute(
        `UPDATE SIMULATED_ACCOUNT_USAGE.QUERY_HISTORY SET QUERY_TAG = ? WHERE QUERY_ID IN (SELECT QUERY_ID FROM QUERY_EXECUTIONS WHERE TEST_ID = ? AND WARMUP)`,
        [`flakebench:test_id=${testId}`, testId],
      );
    }
    // Warm-up queries that waited on a row lock (recorded, > 5 s) and warm-up queries that earned an insight.
    const hybridId = hybrid.tests[0]!.test_id;
    const waiting = await w.query<{ QUERY_ID: string }>(
      `SELECT e.QUERY_ID FROM QUERY_EXECUTIONS e JOIN SIMULATED_ACCOUNT_USAGE.QUERY_HISTORY h ON h.QUERY_ID = e.QUERY_ID
       WHERE e.TEST_ID = ? AND e.WARMUP ORDER BY e.START_TIME LIMIT 2`,
      [hybridId],
    );
    expect(waiting).toHaveLength(2);
    for (const { QUERY_ID } of waiting) {
      await w.execute('UPDATE SIMULATED_ACCOUNT_USAGE.QUERY_HISTORY SET TRANSACTION_BLOCKED_TIME = 7000 WHERE QUERY_ID = ?', [QUERY_ID]);
      await w.execute(
        `INSERT INTO SIMULATED_ACCOUNT_USAGE.LOCK_WAIT_HISTORY (OBJECT_ID, OBJECT_NAME, SCHEMA_ID, DATABASE_ID, QUERY_ID, TRANSACTION_ID, LOCK_TYPE, REQUESTED_AT, ACQUIRED_AT, BLOCKER_QUERIES)
         SELECT 1, 'ROW', 0, 41, QUERY_ID, 99, 'ROW', START_TIME, START_TIME, PARSE_JSON('[{"is_snowflake": false, "query_id": "", "transaction_id": null}]')
         FROM SIMULATED_ACCOUNT_USAGE.QUERY_HISTORY WHERE QUERY_ID = ?`,
        [QUERY_ID],
      );
    }
    const standardId = standard.tests[0]!.test_id;
    const [insight] = await w.query<{ N: number }>(
      `INSERT INTO SIMULATED_ACCOUNT_USAGE.QUERY_INSIGHTS (START_TIME, END_TIME, TOTAL_ELAPSED_TIME, QUERY_ID, QUERY_HASH, QUERY_PARAMETERIZED_HASH, INSIGHT_INSTANCE_ID,
         INSIGHT_TYPE_ID, MESSAGE, SUGGESTIONS, IS_OPPORTUNITY, INSIGHT_TOPIC)
       SELECT h.START_TIME, h.END_TIME, h.TOTAL_ELAPSED_TIME, h.QUERY_ID, h.QUERY_HASH, h.QUERY_PARAMETERIZED_HASH, 900000 + ROW_NUMBER() OVER (ORDER BY h.QUERY_ID),
         'QUERY_INSIGHT_NO_FILTER_ON_TOP_OF_JOIN', PARSE_JSON('{"summary": "warm-up"}'), PARSE_JSON('[]'), TRUE, 'JOIN'
       FROM SIMULATED_ACCOUNT_USAGE.QUERY_HISTORY h JOIN QUERY_EXECUTIONS e ON e.QUERY_ID = h.QUERY_ID
       WHERE e.TEST_ID = ? AND e.WARMUP`,
      [standardId],
    ).then(async () => w.query<{ N: number }>("SELECT COUNT(*) AS N FROM SIMULATED_ACCOUNT_USAGE.QUERY_INSIGHTS WHERE INSIGHT_TYPE_ID = 'QUERY_INSIGHT_NO_FILTER_ON_TOP_OF_JOIN'"));
    expect(Number(insight!.N)).toBeGreaterThan(0);

    for (const sim of [hybrid, standard]) expect((await post(enqueueBody(sim, sim.tests[0]!.test_id))).statusCode).toBe(201);
    await processAfter(4 * HOUR);
    const [locks] = await query('SELECT LOCK_WAIT_COUNT FROM TEST_RESULTS WHERE TEST_ID = ?', [hybridId]);
    expect(Number(locks!.LOCK_WAIT_COUNT)).toBe(hybrid.tests[0]!.truth.lock_waits.count);
    const [events] = await query('SELECT COUNT(*) AS N FROM LOCK_CONTENTION_EVENTS WHERE TEST_ID = ? AND QUERY_ID IN (?, ?)', [hybridId, waiting[0]!.QUERY_ID, waiting[1]!.QUERY_ID]);
    expect(Number(events!.N)).toBe(0);
    const cache = await query('SELECT INSIGHT_TYPE, AFFECTED_QUERY_COUNT FROM QUERY_INSIGHTS_CACHE WHERE TEST_ID = ?', [standardId]);
    expect(cache.map((row) => row.INSIGHT_TYPE)).not.toContain('QUERY_INSIGHT_NO_FILTER_ON_TOP_OF_JOIN');
    expect(cache.reduce((sum, row) => sum + Number(row.AFFECTED_QUERY_COUNT), 0)).toBe(standard.tests[0]!.truth.insights.count);
  });
});

describe('FlakeBench-shaped rows through the Snowflake driver (fake endpoint with the real columns)', () => {
  const PASSWORD = 'service-user-password';
  const dir = tempDir('fbde-fb-shaped-');
  let fake: FakeSnowflake;
  let config: Config;
  let backing: Warehouse;

  beforeAll(async () => {
    fake = await FakeSnowflake.start({ password: PASSWORD });
    // The account before the service is installed: FlakeBench's tables with exactly their real columns, and the
    // ACCOUNT_USAGE views (the embedded simulation of them stands in for Snowflake's).
    await fake.createFlakeBenchTables();
    await fake.createAccountUsageViews();
    backing = await fake.backingConnection();
    config = fakeSnowflakeConfig(fake.url, dir.path, PASSWORD, { LATENCY_SCALE: '1', SNOWFLAKE_POOL_SIZE: '2' });
    const engine = await openEngine(config, silentLog);
    try {
      await migrate(engine.warehouse, { clock: new ManualClock(), log: { info: () => undefined, warn: () => undefined } });
    } finally {
      await engine.close();
    }
  });
  afterAll(async () => {
    await backing?.close();
    await fake?.stop();
    dir.remove();
  });

  it('enqueued through the API without target fields, a hybrid test is enriched to its ground truth', async () => {
    // The fake's views show a row once VISIBLE_AT has passed in real time: the test ran in 2025, so all are visible.
    const clock = new ManualClock(START);
    const sim = await simulate(backing, { tableType: 'HYBRID', seed: 7, durationMinutes: 10, sessions: 8, idSalt: 'fake-snowflake' }, clock.now(), 1);
    const testId = sim.tests[0]!.test_id;
    const query: Query = (sql, binds = []) => fake.runDirect(sql, binds as never[]);
    const { target } = await expectFlakeBenchShaped(query, testId);
    // The real columns only, plus what our migrations added through the driver.
    const columns = await fake.runDirect("SELECT column_name AS C FROM information_schema.columns WHERE table_name = 'TEST_RESULTS'");
    expect(columns.map((c) => c.C)).toEqual(expect.arrayContaining([...FLAKEBENCH_TEST_RESULTS_COLUMNS.map((c) => c.name), 'DELAYED_ENRICHMENT_STATUS']));
    expect(columns.map((c) => c.C)).not.toContain('DATABASE_NAME');

    const service = await startService(config, silentLog, { clock });
    try {
      expect(service.services.warehouse.engine).toBe('snowflake');
      const response = await service.app.inject({ method: 'POST', url: '/api/enrichment/jobs', payload: enqueueBody(sim, testId) });
      expect(response.statusCode, response.body).toBe(201);
      clock.advance(4 * HOUR);
      await processDueJobs(service);
    } finally {
      await service.stop();
    }
    // The statements reached the endpoint as Snowflake text (as requests, or inside the write carrier's CALL):
    // the target read by path from TEST_CONFIG.
    const sent = [...fake.statements, ...fake.procedureStatements].map((s) => s.sqlText);
    expect(sent.some((text) => text.includes("AS_VARCHAR(GET_PATH(tr.TEST_CONFIG, 'target.database'))"))).toBe(true);
    expect(sent.some((text) => /\bDATABASE_NAME\b/.test(text) && /\bTEST_RESULTS\b/.test(text) && /tr\.DATABASE_NAME/.test(text))).toBe(false);
    await expectHybridTruth(query, sim, testId, target);
  });
});
