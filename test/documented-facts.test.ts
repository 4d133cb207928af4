// Issue 9, items 5-8: what Snowflake documents, through the whole service on both engines.
// - one LOCK_CONTENTION_EVENTS row per lock wait, every blocker counted once, the table named for row locks
//   (docs.snowflake.com/en/sql-reference/account-usage/lock_wait_history, /en/user-guide/tables-hybrid-monitor-transactions);
// - BLOCKER_QUERIES[].transaction_id above 2^53 read exactly, also through the real driver's VARIANT parser;
// - hybrid credits: the test's first, partial minute counted, BILLED stored per window (2026-03-01);
// - the same stored values with the fake account, its sessions and this process in America/Los_Angeles, and
//   V_DELAYED_ENRICHMENT_STATUS giving a Los Angeles reader the same minutes as a UTC one.
// Expected values are hand-computed from the rows the test writes, or counted directly from QUERY_EXECUTIONS.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { migrate } from '../src/db/migrations.js';
import type { BindValue, Row } from '../src/db/warehouse.js';
import { openEngine } from '../src/engine.js';
import { startService, type RunningService } from '../src/service.js';
import { simulate, type SimulationRequest, type SimulationResult } from '../src/simulator/simulate.js';
import { VisibilityClock } from '../src/simulator/visibility.js';
import { FakeSnowflake } from './support/fake-snowflake.js';
import { fakeSnowflakeConfig, processDueJobs, silentLog, startTestService, tempDir } from './support/embedded.js';

const HOUR = 3_600_000;
/** 30 s past the minute: the simulated test starts inside a minute, as real ones do. */
const START = '2025-11-20T12:00:30Z';
const BLOCKER_A = '1700000000000000123';
const BLOCKER_B = '1700000000000000124';
const WAITER_1 = '1700000000000000777';
const WAITER_2 = '1700000000000000778';
const LOS_ANGELES = 'America/Los_Angeles';
const SIMULATION: SimulationRequest = { tableType: 'HYBRID', seed: 7, durationMinutes: 10, sessions: 8, lockContention: false, idSalt: 'documented-facts' };

type Query = (sql: string, binds?: BindValue[]) => Promise<Row[]>;

/**
 * Two waits of two measurement queries, as LOCK_WAIT_HISTORY holds hybrid waits: one row per blocker, OBJECT_NAME
 * the literal ROW, 19-digit ids written as JSON numbers. Wait 1: blockers A (holder since 2 s before) and B;
 * wait 2: A again (3 s before) and a Snowflake-internal blocker without ids. So: 2 waits, 4 blockers, 2 unique
 * identified blockers (A, B), 1 unidentified; the first blocker of both waits is A.
 */
async function seedLockWaits(query: Query, testId: string): Promise<string[]> {
  const waiting = await query(
    `SELECT e.QUERY_ID FROM QUERY_EXECUTIONS e JOIN SIMULATED_ACCOUNT_USAGE.QUERY_HISTORY h ON h.QUERY_ID = e.QUERY_ID
     WHERE e.TEST_ID = ? AND NOT e.WARMUP ORDER BY e.START_TIME, e.QUERY_ID LIMIT 2`,
    [testId],
  );
  const [first, second] = waiting.map((row) => String(row.QUERY_ID));
  const blocker = (queryId: string, transactionId: string) => `{"is_snowflake": false, "query_id": "${queryId}", "transaction_id": ${transactionId}}`;
  const rows: Array<[string, string, number, string]> = [
    [first!, WAITER_1, 2, blocker('blocker-a', BLOCKER_A)],
    [first!, WAITER_1, 1, blocker('blocker-b', BLOCKER_B)],
    [second!, WAITER_2, 3, blocker('blocker-a', BLOCKER_A)],
    [second!, WAITER_2, 1, '{"is_snowflake": true, "query_id": "", "transaction_id": ""}'],
  ];
  for (const [queryId, transactionId, heldSeconds, blockerJson] of rows) {
    await query(
      `INSERT INTO SIMULATED_ACCOUNT_USAGE.LOCK_WAIT_HISTORY (OBJECT_ID, OBJECT_NAME, SCHEMA_ID, SCHEMA_NAME, DATABASE_ID, DATABASE_NAME,
         QUERY_ID, TRANSACTION_ID, LOCK_TYPE, REQUESTED_AT, ACQUIRED_AT, BLOCKER_QUERIES)
       SELECT 4242, 'ROW', 0, NULL, 41, DATABASE_NAME, QUERY_ID, CAST(? AS DECIMAL(38,0)), 'ROW', START_TIME,
         START_TIME - to_seconds(CAST(? AS BIGINT)), PARSE_JSON(?)
       FROM SIMULATED_ACCOUNT_USAGE.QUERY_HISTORY WHERE QUERY_ID = ?`,
      [transactionId, heldSeconds, `[${blockerJson}]`, queryId],
    );
  }
  await query('UPDATE SIMULATED_ACCOUNT_USAGE.QUERY_HISTORY SET TRANSACTION_BLOCKED_TIME = 7000 WHERE QUERY_ID = ?', [first!]);
  await query('UPDATE SIMULATED_ACCOUNT_USAGE.QUERY_HISTORY SET TRANSACTION_BLOCKED_TIME = 9000 WHERE QUERY_ID = ?', [second!]);
  return [first!, second!];
}

function enqueueBody(sim: SimulationResult): Record<string, unknown> {
  return { test_id: sim.tests[0]!.test_id, run_id: sim.run_id, table_type: sim.table_type, test_end_time: sim.test_end_time.toISOString() };
}

interface Answers {
  locks: {
    summary: Record<string, unknown>;
    events: Array<{ event_id: string; query_id: string; transaction_id: string; blocking_transaction_id: string; blocking_query_id: string; object_name: string }>;
  };
  credits: {
    total_requests: number;
    windows: Array<{ start_time: string; requests_count: number; billed: boolean; requests_method: string }>;
    attribution: { requests_method: string; not_billed_since: string | null };
  };
}

async function readAnswers(service: RunningService, testId: string): Promise<Answers> {
  const locks = await service.app.inject({ method: 'GET', url: `/api/tests/${testId}/lock-contention` });
  expect(locks.statusCode, locks.body).toBe(200);
  const credits = await service.app.inject({ method: 'GET', url: `/api/tests/${testId}/hybrid-credits` });
  expect(credits.statusCode, credits.body).toBe(200);
  return { locks: locks.json(), credits: credits.json() };
}

/** The checks both engines must pass, against the hand-computed values of seedLockWaits and direct counts. */
async function expectDocumentedFacts(query: Query, sim: SimulationResult, waiting: string[], answers: Answers): Promise<void> {
  const testId = sim.tests[0]!.test_id;
  // One row per wait (the seed's V_LOCK_CONTENTION_SUMMARY counts rows), every blocker counted once.
  const events = await query('SELECT QUERY_ID, OBJECT_NAME, BLOCKER_COUNT FROM LOCK_CONTENTION_EVENTS WHERE TEST_ID = ? ORDER BY REQUESTED_AT', [testId]);
  expect(events.map((row) => [row.QUERY_ID, Number(row.BLOCKER_COUNT)])).toEqual([[waiting[0], 2], [waiting[1], 2]]);
  const [view] = await query('SELECT lock_wait_count, unique_blockers, total_wait_ms, affected_tables FROM V_LOCK_CONTENTION_SUMMARY WHERE TEST_ID = ?', [testId]);
  expect([view!.LOCK_WAIT_COUNT, view!.UNIQUE_BLOCKERS, view!.TOTAL_WAIT_MS, view!.AFFECTED_TABLES].map(Number)).toEqual([2, 2, 16000, 1]);
  const [summary] = await query('SELECT LOCK_WAIT_COUNT, LOCK_WAIT_TOTAL_MS FROM TEST_RESULTS WHERE TEST_ID = ?', [testId]);
  expect([summary!.LOCK_WAIT_COUNT, summary!.LOCK_WAIT_TOTAL_MS].map(Number)).toEqual([2, 16000]);
  expect(answers.locks.summary).toMatchObject({ lock_wait_count: 2, unique_blockers: 2, unidentified_blockers: 1, blocker_rows: 4, total_wait_ms: 16000 });
  // Ids exact (above 2^53), the first blocker the one holding the lock longest, the row lock's table named.
  expect(answers.locks.events.map((e) => [e.query_id, e.transaction_id, e.blocking_transaction_id, e.blocking_query_id, e.object_name])).toEqual([
    [waiting[0], WAITER_1, BLOCKER_A, 'blocker-a', sim.target_table],
    [waiting[1], WAITER_2, BLOCKER_A, 'blocker-a', sim.target_table],
  ]);
  const [raw] = await query('SELECT TO_VARCHAR(RAW_EVENT) AS RAW FROM LOCK_CONTENTION_EVENTS WHERE TEST_ID = ? AND QUERY_ID = ?', [testId, waiting[0]!]);
  expect(String(raw!.RAW)).toContain(BLOCKER_B);
  expect(String(raw!.RAW)).toContain('"OBJECT_NAME":"ROW"');

  // Credits: the test starts 30 s into a minute and its tagged requests of that minute count; per window, the
  // test's executions that started in it (every phase, as AGGREGATE_QUERY_HISTORY holds them).
  expect(sim.test_start_time.getUTCSeconds()).toBe(30);
  const [firstMinute] = await query(
    "SELECT COUNT(*) AS N FROM QUERY_EXECUTIONS WHERE TEST_ID = ? AND START_TIME < DATE_TRUNC('minute', CAST(? AS TIMESTAMP_NTZ)) + INTERVAL 1 MINUTE",
    [testId, sim.test_start_time],
  );
  expect(Number(firstMinute!.N)).toBeGreaterThan(0);
  const perWindow = await query(
    `SELECT c.START_TIME, c.REQUESTS_COUNT, c.BILLED, (SELECT COUNT(*) FROM QUERY_EXECUTIONS e WHERE e.TEST_ID = c.TEST_ID
       AND e.START_TIME >= c.START_TIME AND e.START_TIME < c.END_TIME) AS EXECUTIONS
     FROM HYBRID_TABLE_CREDITS c WHERE c.TEST_ID = ? ORDER BY c.START_TIME`,
    [testId],
  );
  expect(perWindow.length).toBeGreaterThan(0);
  for (const row of perWindow) expect(Number(row.REQUESTS_COUNT)).toBe(Number(row.EXECUTIONS));
  const [all] = await query('SELECT COUNT(*) AS N FROM QUERY_EXECUTIONS WHERE TEST_ID = ?', [testId]);
  expect(answers.credits.total_requests).toBe(Number(all!.N));
  // Stored BILLED (2025: billed), and the route reads it.
  expect(perWindow.map((row) => row.BILLED)).toEqual(perWindow.map(() => true));
  expect(answers.credits.windows.map((w) => [w.billed, w.requests_method])).toEqual(perWindow.map(() => [true, 'exact (whole minute buckets)']));
  expect(answers.credits.attribution.not_billed_since).toBeNull();
}

describe('documented facts on the embedded engine', () => {
  let clock: ManualClock;
  let service: Awaited<ReturnType<typeof startTestService>>;
  let visibility: VisibilityClock;
  let query: Query;

  beforeEach(async () => {
    clock = new ManualClock(START);
    service = await startTestService({ clock, env: { LATENCY_SCALE: '1' } });
    visibility = await VisibilityClock.bind(service.services.warehouse, clock);
    query = (sql, binds = []) => service.services.warehouse.query(sql, binds);
  });
  afterEach(async () => {
    visibility.stop();
    await service.stop();
  });

  async function enrich(sim: SimulationResult): Promise<void> {
    const response = await service.app.inject({ method: 'POST', url: '/api/enrichment/jobs', payload: enqueueBody(sim) });
    expect(response.statusCode, response.body).toBe(201);
    clock.advance(5 * HOUR);
    await visibility.settled();
    await processDueJobs(service);
  }

  it('one event per lock wait with exact ids, the first partial minute counted, BILLED stored', async () => {
    const sim = await simulate(service.services.warehouse, SIMULATION, clock.now(), 1);
    const waiting = await seedLockWaits(query, sim.tests[0]!.test_id);
    await enrich(sim);
    await expectDocumentedFacts(query, sim, waiting, await readAnswers(service, sim.tests[0]!.test_id));
  });

  it('stores BILLED false for the windows from 2026-03-01 on, keeping their usage', async () => {
    // A test across midnight of 2026-03-01: its hourly windows lie on both sides of the end of billing.
    clock.set('2026-03-01T00:10:30Z');
    const sim = await simulate(service.services.warehouse, { ...SIMULATION, durationMinutes: 25 }, clock.now(), 1);
    await enrich(sim);
    const testId = sim.tests[0]!.test_id;
    const rows = await query('SELECT START_TIME, BILLED, CREDITS_USED FROM HYBRID_TABLE_CREDITS WHERE TEST_ID = ? ORDER BY START_TIME', [testId]);
    expect(rows.map((row) => [(row.START_TIME as Date).toISOString(), row.BILLED])).toEqual([
      ['2026-02-28T23:00:00.000Z', true],
      ['2026-03-01T00:00:00.000Z', false],
    ]);
    expect(rows.every((row) => Number(row.CREDITS_USED) > 0)).toBe(true);
    const { credits } = await readAnswers(service, testId);
    expect(credits.windows.map((w) => w.billed)).toEqual([true, false]);
    expect(credits.attribution.not_billed_since).toBe('2026-03-01T00:00:00.000Z');
  });
});

describe('documented facts through the Snowflake driver, in UTC and in America/Los_Angeles', () => {
  const PASSWORD = 'service-user-password';
  afterEach(() => {
    process.env.TZ = 'UTC';
  });

  /** Excluded from the comparison: random ids, and the claim's tokens. */
  const SNAPSHOTS: Record<string, string> = {
    TEST_RESULTS: 'SELECT * FROM TEST_RESULTS ORDER BY TEST_ID',
    AGGREGATE_TEST_METRICS: 'SELECT * FROM AGGREGATE_TEST_METRICS ORDER BY TEST_ID',
    AGGREGATE_QUERY_METRICS: 'SELECT * EXCLUDE (METRIC_ID) FROM AGGREGATE_QUERY_METRICS ORDER BY TEST_ID, QUERY_PARAMETERIZED_HASH',
    LOCK_CONTENTION_EVENTS: 'SELECT * EXCLUDE (EVENT_ID) FROM LOCK_CONTENTION_EVENTS ORDER BY TEST_ID, REQUESTED_AT',
    HYBRID_TABLE_CREDITS: 'SELECT * EXCLUDE (CREDIT_ID) FROM HYBRID_TABLE_CREDITS ORDER BY TEST_ID, START_TIME',
    QUERY_EXECUTIONS: 'SELECT * FROM QUERY_EXECUTIONS ORDER BY EXECUTION_ID',
  };

  async function flow(timezone: string): Promise<{ stored: Record<string, Row[]>; answers: Answers; minutesUntilEligible: { utc: number; la: number; expected: number } }> {
    // The process (the service and the fake endpoint) and the account's default TIMEZONE in `timezone`.
    process.env.TZ = timezone;
    expect(new Date(Date.UTC(2025, 10, 20, 12)).getHours()).toBe(timezone === 'UTC' ? 12 : 4);
    const fake = await FakeSnowflake.start({ password: PASSWORD, timezone });
    const dir = tempDir('fbde-facts-');
    try {
      await fake.createFlakeBenchTables();
      await fake.createAccountUsageViews();
      const config = fakeSnowflakeConfig(fake.url, dir.path, PASSWORD, { LATENCY_SCALE: '1', SNOWFLAKE_POOL_SIZE: '1' });
      const setup = await openEngine(config, silentLog);
      try {
        await migrate(setup.warehouse, { clock: new ManualClock(), log: { info: () => undefined, warn: () => undefined } });
      } finally {
        await setup.close();
      }
      const clock = new ManualClock(START);
      const backing = await fake.backingConnection();
      let sim: SimulationResult;
      let waiting: string[];
      try {
        sim = await simulate(backing, SIMULATION, clock.now(), 1);
        waiting = await seedLockWaits((sql, binds = []) => backing.query(sql, binds), sim.tests[0]!.test_id);
      } finally {
        await backing.close();
      }
      const testId = sim.tests[0]!.test_id;
      const service = await startService(config, silentLog, { clock });
      let answers: Answers;
      try {
        const response = await service.app.inject({ method: 'POST', url: '/api/enrichment/jobs', payload: enqueueBody(sim) });
        expect(response.statusCode, response.body).toBe(201);
        clock.advance(5 * HOUR);
        await processDueJobs(service);
        answers = await readAnswers(service, testId);
      } finally {
        await service.stop();
      }
      const direct: Query = (sql, binds = []) => fake.runDirect(sql, binds);
      await expectDocumentedFacts(direct, sim, waiting, answers);

      // V_DELAYED_ENRICHMENT_STATUS read by a UTC session and by a Los Angeles one, through the driver.
      const reader = await openEngine(config, silentLog);
      const minutes: number[] = [];
      let expected = 0;
      try {
        for (const zone of ['UTC', LOS_ANGELES]) {
          await reader.warehouse.execute(`ALTER SESSION SET TIMEZONE = '${zone}'`);
          const [row] = await reader.warehouse.query('SELECT EARLIEST_ENRICHMENT_TIME, MINUTES_UNTIL_ELIGIBLE FROM V_DELAYED_ENRICHMENT_STATUS WHERE TEST_ID = ?', [testId]);
          minutes.push(Number(row!.MINUTES_UNTIL_ELIGIBLE));
          expected = ((row!.EARLIEST_ENRICHMENT_TIME as Date).getTime() - Date.now()) / 60_000;
        }
      } finally {
        await reader.close();
      }
      const stored: Record<string, Row[]> = {};
      for (const [table, sql] of Object.entries(SNAPSHOTS)) stored[table] = await fake.runDirect(sql);
      return { stored, answers, minutesUntilEligible: { utc: minutes[0]!, la: minutes[1]!, expected } };
    } finally {
      await fake.stop();
      dir.remove();
    }
  }

  it('stores the same values with the account, its sessions and the process in America/Los_Angeles', async () => {
    const utc = await flow('UTC');
    const la = await flow(LOS_ANGELES);
    for (const run of [utc, la]) {
      // Documented: DATEDIFF counts minute boundaries, so within one minute of the exact difference.
      expect(Math.abs(run.minutesUntilEligible.utc - run.minutesUntilEligible.expected)).toBeLessThanOrEqual(1);
      expect(Math.abs(run.minutesUntilEligible.la - run.minutesUntilEligible.expected)).toBeLessThanOrEqual(1);
    }
    for (const table of Object.keys(SNAPSHOTS)) {
      expect(la.stored[table]!.length, table).toBeGreaterThan(0);
      expect(la.stored[table], table).toEqual(utc.stored[table]);
    }
    const withoutEventIds = (answers: Answers) => ({ ...answers, locks: { ...answers.locks, events: answers.locks.events.map(({ event_id: _id, ...event }) => event) } });
    expect(withoutEventIds(la.answers)).toEqual(withoutEventIds(utc.answers));
  });
});
