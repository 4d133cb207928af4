// The sparse views' batched reads (issue 10, "batches for a backlog"): readMany(contexts) of LOCK_CONTENTION,
// QUERY_INSIGHTS and HYBRID_CREDITS must give every job exactly what its own read gives it, with one statement.
// The single read is the oracle; the fixture is small enough that each job's rows are also listed by hand
// (hand-computed from the rows below), so a batch and a single read that were wrong the same way still fail.
// Runs on a real DuckDB file and, once per module, through the real snowflake-sdk against the fake endpoint.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { openSnowflakeWarehouse } from '../src/db/snowflake.js';
import { withQuery, type BindValue, type Warehouse } from '../src/db/warehouse.js';
import { hybridCreditsModule, type CreditsSource } from '../src/enrichment/modules/hybrid-credits.js';
import { lockContentionModule, type LockSource } from '../src/enrichment/modules/lock-contention.js';
import { queryInsightsModule, type InsightsSource } from '../src/enrichment/modules/query-insights.js';
import type { EnrichmentContext, EnrichmentModule } from '../src/enrichment/types.js';
import type { QueueJob } from '../src/queue/job-state.js';
import type { Services } from '../src/services.js';
import { checkedSourceWarehouse } from '../src/sources/row-check.js';
import { FakeSnowflake, fakeSnowflakeSettings } from './support/fake-snowflake.js';
import { openTestDatabase, silentLog, tempDir, type TestDatabase } from './support/embedded.js';
import { servicesFor } from './support/processor-fixtures.js';

const at = (time: string, day = '2025-11-20') => new Date(`${day}T${time}Z`);
const sqlTime = (date: Date) => date.toISOString().replace('T', ' ').replace('Z', '');

// ---- The fixture -------------------------------------------------------------------------------------------
// Run R1: tests 12 and 123 (a prefix lookalike: `test_id=12` must not match `test_id=123`) and its parent row
// (TEST_ID = RUN_ID, covering the run's tags). Run R2: 77 (no rows of its own at all) and 88 (only
// QUERY_EXECUTIONS, no tagged history). R3: 99 a day earlier (nothing in any view). Windows overlap (± 5 min).

interface TestRow {
  testId: string;
  runId: string;
  start: Date;
  end: Date;
  tableType?: string;
}
const TESTS: TestRow[] = [
  { testId: '12', runId: 'R1', start: at('10:00:00'), end: at('10:20:00') },
  { testId: '123', runId: 'R1', start: at('10:10:00'), end: at('10:30:00') },
  { testId: 'R1', runId: 'R1', start: at('10:00:00'), end: at('10:30:00') },
  { testId: '77', runId: 'R2', start: at('10:15:00'), end: at('10:25:00') },
  { testId: '88', runId: 'R2', start: at('10:12:00'), end: at('10:22:00') },
  { testId: '99', runId: 'R3', start: at('10:00:00', '2025-11-19'), end: at('10:20:00', '2025-11-19') },
  // Other tests in the account: a standard one (not in hybrid credits), a hybrid one before and one after.
  { testId: 'S1', runId: 'R4', start: at('10:00:00'), end: at('10:30:00'), tableType: 'STANDARD' },
  { testId: 'early', runId: 'R5', start: at('09:40:00'), end: at('10:05:00') },
  { testId: 'late', runId: 'R6', start: at('10:35:00'), end: at('10:50:00') },
];
const tagOf = (testId: string) => `flakebench:test_id=${testId}`;

/** QUERY_EXECUTIONS: [test, query, start, warm-up]. q12b is recorded twice (the table has no key). */
const EXECUTIONS: Array<[string, string, string, boolean]> = [
  ['12', 'q12a', '10:01:00', true],
  ['12', 'q12b', '10:05:00', false],
  ['12', 'q12b', '10:05:00', false],
  ['12', 'q12c', '10:15:00', false],
  ['12', 'q12d', '10:07:00', false], // no QUERY_HISTORY row: the test's only through QUERY_EXECUTIONS
  ['123', 'q123a', '10:12:00', false],
  ['123', 'q123b', '10:11:00', true], // a warm-up known only by its flag (its tag says RUNNING)
  ['123', 'q123early', '10:02:00', false], // started before 123's window, waited inside it
  ['12', 'q88a', '10:13:00', true], // also recorded by test 88 of run R2: a warm-up flag counts in its own run only
  ['88', 'q88a', '10:13:00', false],
  ['88', 'q88b', '10:13:30', false],
  ['88', 'q88c', '10:16:00', false],
  ['88', 'q88w', '10:12:30', true],
];

/** QUERY_HISTORY: [query, start, tag]. */
const HISTORY: Array<[string, string, string]> = [
  ['q12a', '10:01:00', 'flakebench:test_id=12:phase=WARMUP'],
  ['q12b', '10:05:00', 'flakebench:test_id=12:phase=RUNNING'],
  // Matches two prefixes of test 12 and four of the run's parent: still one row per job.
  ['q12c', '10:15:00', 'flakebench:run_id=R1:test_id=12:phase=RUNNING'],
  ['q12e', '10:06:00', 'flakebench:test_id=12'], // tag only, no QUERY_EXECUTIONS row
  ['q12f', '09:50:00', 'flakebench:test_id=12:phase=RUNNING'], // tag only, started before every window of R1
  ['q12late', '10:28:00', 'flakebench:test_id=12:phase=RUNNING'], // after test 12's window, inside the run's
  ['q123a', '10:12:00', 'flakebench:test_id=123:phase=RUNNING'],
  ['q123b', '10:11:00', 'flakebench:test_id=123:phase=RUNNING'],
  ['q123c', '10:20:00', 'flakebench:test_id=123'],
  ['q123early', '10:02:00', 'flakebench:test_id=123:phase=RUNNING'], // outside 123's window: not its QUERY_HISTORY row
  ['qx', '10:14:00', 'other:app'],
];

/** LOCK_WAIT_HISTORY: [query, requested at]; q12c waited twice. */
const WAITS: Array<[string, string]> = [
  ['q12a', '10:01:10'],
  ['q12b', '10:05:10'],
  ['q12b', '10:29:00'], // after test 12's window, inside the run's
  ['q12c', '10:15:10'],
  ['q12c', '10:15:20'],
  ['q12d', '10:07:10'],
  ['q12e', '10:06:10'],
  ['q12f', '09:56:00'], // inside 12's window, but its query started outside it: not the test's
  ['q12late', '10:28:10'],
  ['q123a', '10:12:10'],
  ['q123b', '10:11:10'],
  ['q123c', '10:20:10'],
  ['q123early', '10:06:00'],
  ['qx', '10:14:10'],
  ['q88a', '10:13:10'],
  ['q88w', '10:12:40'],
  ['q88c', '10:16:10'],
];

/** QUERY_INSIGHTS: [query, start, insight type]; q12c has two insights. */
const INSIGHTS: Array<[string, string, string]> = [
  ['q12a', '10:01:00', 'QUERY_INSIGHT_UNSELECTIVE_FILTER'],
  ['q12b', '10:05:00', 'QUERY_INSIGHT_UNSELECTIVE_FILTER'],
  ['q12c', '10:15:00', 'QUERY_INSIGHT_UNSELECTIVE_FILTER'],
  ['q12c', '10:15:00', 'QUERY_INSIGHT_EXPLODING_JOIN'],
  ['q12d', '10:07:00', 'QUERY_INSIGHT_EXPLODING_JOIN'],
  ['q12e', '10:06:00', 'QUERY_INSIGHT_NO_FILTER_ON_TOP_OF_TABLE_SCAN'],
  ['q12late', '10:28:00', 'QUERY_INSIGHT_UNSELECTIVE_FILTER'],
  ['q123a', '10:12:00', 'QUERY_INSIGHT_UNSELECTIVE_FILTER'],
  ['q123b', '10:11:00', 'QUERY_INSIGHT_UNSELECTIVE_FILTER'],
  ['q123c', '10:20:00', 'QUERY_INSIGHT_EXPLODING_JOIN'],
  ['q123early', '10:02:00', 'QUERY_INSIGHT_EXPLODING_JOIN'],
  ['qx', '10:14:00', 'QUERY_INSIGHT_UNSELECTIVE_FILTER'],
  ['q88a', '10:13:00', 'QUERY_INSIGHT_EXPLODING_JOIN'],
];

/** HYBRID_TABLE_USAGE_HISTORY: [start, end, credits] (account-level, ten-minute windows). */
const USAGE: Array<[string, string, number]> = [
  ['09:50:00', '10:00:00', 0.5],
  ['10:00:00', '10:10:00', 1.25],
  ['10:10:00', '10:20:00', 2],
  ['10:20:00', '10:30:00', 0.75],
  ['10:30:00', '10:40:00', 0.1],
];

/** AGGREGATE_QUERY_HISTORY: [interval start, tag, calls]. Test 88 has none (its requests come from QUERY_EXECUTIONS). */
const AGGREGATE: Array<[string, string, number]> = [
  ['10:01:00', 'flakebench:test_id=12:phase=WARMUP', 5],
  ['10:05:00', 'flakebench:test_id=12:phase=RUNNING', 7],
  ['10:05:00', 'flakebench:test_id=123:phase=RUNNING', 100],
  ['10:15:00', 'flakebench:run_id=R1:test_id=12:phase=RUNNING', 3],
  ['10:15:00', 'flakebench:test_id=12:phase=RUNNING', 4],
  ['10:26:00', 'flakebench:test_id=12:phase=RUNNING', 9],
  ['10:12:00', 'flakebench:test_id=123:phase=RUNNING', 11],
  ['10:14:00', 'other:app', 50],
];

type Run = (sql: string, binds: BindValue[]) => Promise<unknown>;

/** Writes the fixture: FlakeBench's tables and the ACCOUNT_USAGE stand-ins' base tables (rows visible at once). */
async function populate(run: Run): Promise<void> {
  const values = (rows: readonly unknown[], row: string) => rows.map(() => row).join(', ');
  await run(
    `INSERT INTO TEST_RESULTS (TEST_ID, RUN_ID, TEST_NAME, SCENARIO_NAME, TABLE_NAME, TABLE_TYPE, QUERY_TAG, STATUS, START_TIME, END_TIME, CONCURRENT_CONNECTIONS)
     SELECT v.ID, v.RUN, v.ID, 'scenario', 'BENCH_TABLE', v.TYPE, v.TAG, 'COMPLETED', CAST(v.S AS TIMESTAMP), CAST(v.E AS TIMESTAMP), 8
     FROM (VALUES ${values(TESTS, '(?, ?, ?, ?, ?, ?)')}) AS v(ID, RUN, TYPE, TAG, S, E)`,
    TESTS.flatMap((t) => [t.testId, t.runId, t.tableType ?? 'HYBRID', tagOf(t.testId), sqlTime(t.start), sqlTime(t.end)]),
  );
  await run(
    `INSERT INTO QUERY_EXECUTIONS (EXECUTION_ID, TEST_ID, QUERY_ID, QUERY_TEXT, START_TIME, END_TIME, DURATION_MS, SUCCESS, WARMUP)
     SELECT v.ID, v.TEST, v.Q, 'SELECT 1', CAST(v.S AS TIMESTAMP), CAST(v.S AS TIMESTAMP), 1, TRUE, v.W
     FROM (VALUES ${values(EXECUTIONS, '(?, ?, ?, ?, ?)')}) AS v(ID, TEST, Q, S, W)`,
    EXECUTIONS.flatMap(([test, query, start, warmup], i) => [`e${i}`, test, query, sqlTime(at(start)), warmup]),
  );
  await run(
    `INSERT INTO SIMULATED_ACCOUNT_USAGE.QUERY_HISTORY (QUERY_ID, QUERY_TEXT, QUERY_TAG, START_TIME, END_TIME, TRANSACTION_BLOCKED_TIME)
     SELECT v.Q, 'SELECT ' || v.Q, v.TAG, CAST(v.S AS TIMESTAMP), CAST(v.S AS TIMESTAMP), v.B
     FROM (VALUES ${values(HISTORY, '(?, ?, ?, ?)')}) AS v(Q, S, TAG, B)`,
    HISTORY.flatMap(([query, start, tag], i) => [query, sqlTime(at(start)), tag, 10 * (i + 1)]),
  );
  await run(
    `INSERT INTO SIMULATED_ACCOUNT_USAGE.LOCK_WAIT_HISTORY (QUERY_ID, TRANSACTION_ID, REQUESTED_AT, ACQUIRED_AT, LOCK_TYPE, OBJECT_ID, OBJECT_NAME,
       SCHEMA_NAME, DATABASE_NAME, BLOCKER_QUERIES)
     SELECT v.Q, v.T, CAST(v.R AS TIMESTAMP), CAST(v.R AS TIMESTAMP) + INTERVAL 250 MILLISECOND, 'ROW', 42, 'ROW', 'BENCH', 'FLAKEBENCH', CAST(v.B AS JSON)
     FROM (VALUES ${values(WAITS, '(?, ?, ?, ?)')}) AS v(Q, T, R, B)`,
    WAITS.flatMap(([query, requested], i) => [
      query,
      1000 + i,
      sqlTime(at(requested)),
      JSON.stringify([{ query_id: `blocker-${i}`, transaction_id: 5000 + i }]),
    ]),
  );
  await run(
    `INSERT INTO SIMULATED_ACCOUNT_USAGE.QUERY_INSIGHTS (QUERY_ID, START_TIME, QUERY_PARAMETERIZED_HASH, INSIGHT_TYPE_ID, INSIGHT_TOPIC, MESSAGE,
       SUGGESTIONS, IS_OPPORTUNITY)
     SELECT v.Q, CAST(v.S AS TIMESTAMP), 'hash-' || v.Q, v.T, 'TOPIC', CAST(v.M AS JSON), CAST(v.G AS JSON), TRUE
     FROM (VALUES ${values(INSIGHTS, '(?, ?, ?, ?, ?)')}) AS v(Q, S, T, M, G)`,
    INSIGHTS.flatMap(([query, start, type]) => [query, sqlTime(at(start)), type, JSON.stringify(`${type} on ${query}`), JSON.stringify([`fix ${query}`])]),
  );
  await run(
    `INSERT INTO SIMULATED_ACCOUNT_USAGE.HYBRID_TABLE_USAGE_HISTORY (START_TIME, END_TIME, CREDITS_USED)
     SELECT CAST(v.S AS TIMESTAMP), CAST(v.E AS TIMESTAMP), v.C FROM (VALUES ${values(USAGE, '(?, ?, ?)')}) AS v(S, E, C)`,
    USAGE.flatMap(([start, end, credits]) => [sqlTime(at(start)), sqlTime(at(end)), credits]),
  );
  await run(
    `INSERT INTO SIMULATED_ACCOUNT_USAGE.AGGREGATE_QUERY_HISTORY (INTERVAL_START_TIME, INTERVAL_END_TIME, QUERY_TAG, CALLS)
     SELECT CAST(v.S AS TIMESTAMP), CAST(v.S AS TIMESTAMP) + INTERVAL 1 MINUTE, v.TAG, v.C FROM (VALUES ${values(AGGREGATE, '(?, ?, ?)')}) AS v(S, TAG, C)`,
    AGGREGATE.flatMap(([start, tag, calls]) => [sqlTime(at(start)), tag, calls]),
  );
}

// ---- Jobs, contexts and the statement count ---------------------------------------------------------------

/** The batch: every test above that the service enriches, in an order that is not the fixture's. */
const BATCH = ['123', 'R1', '77', '12', '99', '88'];

function jobOf(testId: string): QueueJob {
  const test = TESTS.find((t) => t.testId === testId)!;
  return {
    jobId: `job-${testId}`,
    testId,
    runId: test.runId,
    tableType: 'HYBRID',
    status: 'IN_PROGRESS',
    testEndTime: test.end,
    testStartTime: test.start,
    types: ['LOCK_CONTENTION', 'QUERY_INSIGHTS', 'HYBRID_CREDITS'],
    typeState: {},
    errorHistory: [],
    attempts: 0,
    priority: 0,
    deadlineAt: null,
    nextDueAt: null,
    claimId: 'claim',
    claimedBy: 'test',
    leaseExpiresAt: null,
    lastError: null,
    tagPrefixes: null,
    targetTable: 'BENCH_TABLE',
    targetDatabase: 'FLAKEBENCH',
    targetSchema: 'BENCH',
    createdAt: null,
    completedAt: null,
    // What the claim reads with the job: its run's TEST_RESULTS rows.
    runTags: TESTS.filter((t) => t.runId === test.runId).map((t) => ({ testId: t.testId, queryTag: tagOf(t.testId) })),
  };
}

/** The warehouse as the processor hands it to a type (the view's row check), every statement counted. */
function counted(warehouse: Warehouse, module: EnrichmentModule): { warehouse: Warehouse; sent: string[] } {
  const sent: string[] = [];
  const counting = withQuery(warehouse, (sql, binds, options) => {
    sent.push(sql);
    return warehouse.query(sql, binds, options);
  });
  return { warehouse: checkedSourceWarehouse(counting, module.view), sent };
}

const NOW = at('16:00:00');

function contextsFor(services: Services, warehouse: Warehouse): EnrichmentContext[] {
  return BATCH.map((testId) => ({ services, warehouse, job: jobOf(testId), now: NOW, signal: new AbortController().signal, timeoutMs: 30_000 }));
}

/** Each job's read alone (the oracle) and the batch's, and how many statements the batch sent. */
async function readBoth<S>(module: EnrichmentModule<S>, services: Services, warehouse: Warehouse) {
  const single = counted(warehouse, module as EnrichmentModule);
  const alone: unknown[] = [];
  for (const context of contextsFor(services, single.warehouse)) alone.push(await module.read(context));
  expect(single.sent).toHaveLength(BATCH.length);
  const batch = counted(warehouse, module as EnrichmentModule);
  const together = await module.readMany!(contextsFor(services, warehouse), { warehouse: batch.warehouse, signal: new AbortController().signal, timeoutMs: 30_000 });
  return { alone: alone as S[], together, statements: batch.sent.length };
}

// ---- Comparison (sources hold rows in the view's order, which no read promises: sorted before comparing) ----

const byJson = (a: unknown, b: unknown) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : JSON.stringify(a) > JSON.stringify(b) ? 1 : 0);
const sortedEntries = <K, V>(map: Map<K, V>) => [...map.entries()].sort(byJson);

const lockView = (source: LockSource) => ({ ...source, rows: [...source.rows].sort(byJson), blockedTimeByQuery: sortedEntries(source.blockedTimeByQuery) });
const insightsView = (source: InsightsSource) => ({ ...source, rows: [...source.rows].sort(byJson), queryTextById: sortedEntries(source.queryTextById) });
const creditsView = (source: CreditsSource) => ({
  ...source,
  others: [...source.others].sort(byJson),
  requestsByMinute: [...source.requestsByMinute].sort((a, b) => a.minute - b.minute),
});

/**
 * A transform's output, or its error's message (HYBRID_CREDITS' not applicable throws). Its row lists are
 * sorted: transformInsights orders rows of equal severity, coverage and type as the view gave them, and the
 * rows are written as a set.
 */
function outcome<S>(module: EnrichmentModule<S>, source: S, job: QueueJob): unknown {
  try {
    const output = module.transform(source, job) as Record<string, unknown>;
    return Object.fromEntries(Object.entries(output).map(([key, value]) => [key, Array.isArray(value) ? [...value].sort(byJson) : value]));
  } catch (error) {
    return { error: (error as Error).message };
  }
}

function expectSameAsAlone<S>(module: EnrichmentModule<S>, view: (source: S) => unknown, alone: S[], together: Array<S | unknown>) {
  expect(together).toHaveLength(alone.length);
  BATCH.forEach((testId, index) => {
    expect(view(together[index] as S), `job of test ${testId}`).toEqual(view(alone[index]!));
    const job = jobOf(testId);
    expect(outcome(module, together[index] as S, job), `transform of test ${testId}`).toEqual(outcome(module, alone[index]!, job));
  });
}

// Hand-computed from the fixture: each job's kept waits / insights by query (warm-ups out by tag or flag,
// each job's own window, the parent covering its children's tags but not their QUERY_EXECUTIONS rows).
const EXPECTED_WAITS: Record<string, string[]> = {
  '123': ['q123a', 'q123c', 'q123early'],
  R1: ['q123a', 'q123c', 'q123early', 'q12b', 'q12b', 'q12c', 'q12c', 'q12e', 'q12late'],
  '77': [],
  '12': ['q12b', 'q12c', 'q12c', 'q12d', 'q12e'],
  '99': [],
  '88': ['q88a', 'q88c'],
};
const EXPECTED_INSIGHT_QUERIES: Record<string, string[]> = {
  '123': ['q123a', 'q123c'],
  R1: ['q123a', 'q123c', 'q123early', 'q12b', 'q12c', 'q12c', 'q12e', 'q12late'],
  '77': [],
  '12': ['q12b', 'q12c', 'q12c', 'q12d', 'q12e'],
  '99': [],
  '88': ['q88a'],
};
// Requests per job: tag-matched AGGREGATE_QUERY_HISTORY calls in the window, else QUERY_EXECUTIONS per minute.
const EXPECTED_REQUESTS: Record<string, number> = { '123': 111, R1: 139, '77': 0, '12': 19, '99': 0, '88': 4 };
const EXPECTED_WINDOWS: Record<string, number> = { '123': 2, R1: 3, '77': 2, '12': 2, '99': 0, '88': 2 };
const EXPECTED_OTHERS: Record<string, string[]> = {
  '123': ['12', '123', '77', '88', 'R1'],
  R1: ['12', '123', '77', '88', 'R1', 'early'],
  '77': ['12', '123', '77', '88', 'R1'],
  '12': ['12', '123', '77', '88', 'R1', 'early'],
  '99': [],
  '88': ['12', '123', '77', '88', 'R1'],
};

const queriesOf = (rows: Array<{ QUERY_ID: string }>) => rows.map((row) => row.QUERY_ID).sort();

function expectHandComputed(type: string, sources: unknown[]) {
  BATCH.forEach((testId, index) => {
    const source = sources[index];
    if (type === 'LOCK_CONTENTION') expect(queriesOf((source as LockSource).rows), testId).toEqual(EXPECTED_WAITS[testId]);
    if (type === 'QUERY_INSIGHTS') expect(queriesOf((source as InsightsSource).rows), testId).toEqual(EXPECTED_INSIGHT_QUERIES[testId]);
    if (type === 'HYBRID_CREDITS') {
      const credits = source as CreditsSource;
      expect(credits.requestsByMinute.reduce((sum, bucket) => sum + bucket.requests, 0), testId).toBe(EXPECTED_REQUESTS[testId]);
      expect(credits.windows, testId).toHaveLength(EXPECTED_WINDOWS[testId]!);
      expect(credits.others.map((other) => other.testId).sort(), testId).toEqual(EXPECTED_OTHERS[testId]);
    }
  });
}

const MODULES = [
  { module: lockContentionModule as EnrichmentModule<LockSource>, view: lockView },
  { module: queryInsightsModule as EnrichmentModule<InsightsSource>, view: insightsView },
  { module: hybridCreditsModule as EnrichmentModule<CreditsSource>, view: creditsView },
] as Array<{ module: EnrichmentModule; view: (source: never) => unknown }>;

// ---- DuckDB ------------------------------------------------------------------------------------------------

describe('sparse views: readMany on DuckDB gives every job its single read, in one statement', () => {
  let db: TestDatabase;
  let services: Services;

  beforeAll(async () => {
    const clock = new ManualClock(NOW.toISOString());
    db = await openTestDatabase(clock);
    services = servicesFor(db, clock);
    await populate((sql, binds) => db.warehouse.execute(sql, binds));
  });
  afterAll(async () => {
    await db?.close();
  });

  for (const { module, view } of MODULES) {
    it(`${module.type}: one statement, each job's entry equal to its own read (and to the hand-computed rows)`, async () => {
      const { alone, together, statements } = await readBoth(module, services, db.warehouse);
      expect(statements).toBe(1);
      expectHandComputed(module.type, alone);
      expectSameAsAlone(module, view as (source: unknown) => unknown, alone, together);
    });
  }

  it('a job alone in a batch of one, and the same job twice, get their single read', async () => {
    for (const { module, view } of MODULES) {
      const single = contextsFor(services, db.warehouse)[1]!; // the run's parent
      const alone = await module.read(single);
      const twice = await module.readMany!([single, { ...single }], { warehouse: db.warehouse, signal: single.signal, timeoutMs: 30_000 });
      expect(twice.map((entry) => (view as (source: unknown) => unknown)(entry)), module.type).toEqual([alone, alone].map((entry) => (view as (source: unknown) => unknown)(entry)));
    }
  });
});

// ---- Through the Snowflake driver --------------------------------------------------------------------------

describe('sparse views: readMany through the real snowflake-sdk against the fake endpoint', () => {
  const PASSWORD = 'read-many-sparse';
  const dir = tempDir('fbde-sf-read-many-');
  const originalCwd = process.cwd();
  let fake: FakeSnowflake;
  let warehouse: Warehouse;
  let db: TestDatabase;
  let services: Services;

  beforeAll(async () => {
    // The driver writes snowflake.log into the working directory: run in a fresh one.
    process.chdir(dir.path);
    fake = await FakeSnowflake.start({ password: PASSWORD });
    await fake.createFlakeBenchTables();
    await fake.createAccountUsageViews();
    await populate((sql, binds) => fake.runDirect(sql, binds));
    warehouse = await openSnowflakeWarehouse(fakeSnowflakeSettings(fake, PASSWORD), silentLog);
    // Services only travel in the context (the reads use the context's warehouse): an embedded set will do.
    const clock = new ManualClock(NOW.toISOString());
    db = await openTestDatabase(clock);
    services = servicesFor(db, clock);
  });
  afterAll(async () => {
    await warehouse?.close();
    await fake?.stop();
    await db?.close();
    process.chdir(originalCwd);
    dir.remove();
  });

  for (const { module, view } of MODULES) {
    it(`${module.type}: one request to the endpoint, each job's entry equal to its own read through the driver`, async () => {
      const before = fake.statements.length;
      const { alone, together, statements } = await readBoth(module, services, warehouse);
      expect(statements).toBe(1);
      // The single reads' statements and the batch's: one request each.
      expect(fake.statements.length - before).toBe(BATCH.length + 1);
      expect(fake.statements.at(-1)!.sqlText).toMatch(/^WITH batch_prefixes AS/);
      expectHandComputed(module.type, alone);
      expectSameAsAlone(module, view as (source: unknown) => unknown, alone, together);
    });
  }
});
