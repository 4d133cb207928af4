// The workload simulator: ground truth against the raw simulated executions, view rows against the
// documented contracts and quirks, determinism.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGGREGATE_STAT_KEYS, HYBRID_METERING_ENDED_AT, INSIGHT_TYPES } from '../src/sources/account-usage.js';
import { planSimulation, simulate, type SimulationResult } from '../src/simulator/simulate.js';
import { statisticsObject } from '../src/simulator/statistics.js';
import { truthOf } from '../src/simulator/truth.js';
import type { BindValue } from '../src/db/warehouse.js';
import { FLAKEBENCH_QUERY_EXECUTIONS_COLUMNS, FLAKEBENCH_TEST_RESULTS_COLUMNS } from '../src/sources/flakebench-tables.js';
import { openTestDatabase, type TestDatabase } from './support/embedded.js';

const NOW = new Date('2026-01-15T12:00:00.000Z');

/** Linear-interpolation percentile written out independently of the simulator's statistics module. */
function expectedPercentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = p * (sorted.length - 1);
  const below = sorted[Math.floor(rank)] as number;
  const above = sorted[Math.ceil(rank)] as number;
  return below + (above - below) * (rank - Math.floor(rank));
}

describe('statistics objects', () => {
  it('publish STDDEV as the sample standard deviation (NULL for one call) and PERCENTILE_CONT percentiles', () => {
    // [1, 3]: mean 2, squared deviations 1 + 1 over n − 1 = 1 → √2 (the population form would give 1).
    expect(statisticsObject([1, 3]).stddev).toBeCloseTo(Math.SQRT2, 6);
    // [2, 4, 9]: mean 5, squared deviations 9 + 1 + 16 = 26 over 2 → √13.
    expect(statisticsObject([2, 4, 9]).stddev).toBeCloseTo(Math.sqrt(13), 6);
    expect(statisticsObject([5]).stddev).toBeNull();
    expect(statisticsObject([4, 4]).stddev).toBe(0);
    // PERCENTILE_CONT(0.9) of [2, 4, 9]: position 0.9 · 2 = 1.8 → 4 + 0.8 · (9 − 4) = 8.
    expect(statisticsObject([2, 4, 9]).p90).toBeCloseTo(8, 6);
  });
});

describe('ground truth', () => {
  it('matches percentiles, counts, waits and insights recomputed from the raw executions', () => {
    for (const tableType of ['HYBRID', 'STANDARD'] as const) {
      for (const shape of ['lognormal', 'bimodal', 'heavy_tail', 'drift'] as const) {
        const plan = planSimulation({ tableType, shape, seed: 9, durationMinutes: 8, sessions: 6, idSalt: 's' }, NOW, 1);
        const result = planTruth(plan);
        const measured = plan.workload.executions.filter((e) => e.test === 0 && e.phase === 'RUNNING');
        const exec = measured.map((e) => e.execMs);
        expect(result.overall.query_count).toBe(measured.length);
        expect(result.overall.p50_ms).toBeCloseTo(expectedPercentile(exec, 0.5), 9);
        expect(result.overall.p95_ms).toBeCloseTo(expectedPercentile(exec, 0.95), 9);
        expect(result.overall.p99_ms).toBeCloseTo(expectedPercentile(exec, 0.99), 9);
        expect(result.overall.max_ms).toBe(Math.max(...exec));
        for (const pattern of result.patterns) {
          const mine = measured.filter((e) => e.pattern.hash === pattern.hash);
          expect(pattern.query_count).toBe(mine.length);
          expect(pattern.p90_ms).toBeCloseTo(expectedPercentile(mine.map((e) => e.execMs), 0.9), 9);
          expect(pattern.errors_count).toBe(mine.filter((e) => e.error).length);
          expect(pattern.throttled_count).toBe(mine.filter((e) => e.throttled).length);
        }
        const waits = measured.filter((e) => e.blockedMs > 5000);
        expect(result.lock_waits.count).toBe(waits.length);
        expect(result.lock_waits.total_ms).toBe(waits.reduce((s, e) => s + e.blockedMs, 0));
        expect(result.insights.count).toBe(measured.filter((e) => e.insight).length);
      }
    }
  });

  it('is identical for the same seed and parameters, rows included', () => {
    const request = { tableType: 'HYBRID' as const, shape: 'heavy_tail' as const, seed: 3, durationMinutes: 4, sessions: 3, idSalt: 'x' };
    const a = planSimulation(request, NOW, 0.5);
    const b = planSimulation(request, NOW, 0.5);
    expect(b.rows).toEqual(a.rows);
    const c = planSimulation({ ...request, seed: 4 }, NOW, 0.5);
    expect(c.rows.QUERY_EXECUTIONS).not.toEqual(a.rows.QUERY_EXECUTIONS);
  });
});

/** The truth the route returns, on the in-memory plan (credit windows do not matter here). */
function planTruth(plan: ReturnType<typeof planSimulation>) {
  return truthOf(plan.workload, 0, plan.rows.creditWindows, plan.workload.tableType === 'HYBRID');
}

describe('simulated view rows in the database', () => {
  let db: TestDatabase;
  let hybrid: SimulationResult;
  let standard: SimulationResult;
  beforeAll(async () => {
    db = await openTestDatabase();
    hybrid = await simulate(db.warehouse, { tableType: 'HYBRID', seed: 21, durationMinutes: 12, sessions: 8 }, NOW, 1);
    standard = await simulate(db.warehouse, { tableType: 'STANDARD', seed: 22, durationMinutes: 20, sessions: 6, ratePerSession: 1 }, NOW, 1);
  });
  afterAll(async () => db.close());

  const q = async <T,>(sql: string, binds: BindValue[] = []) => (await db.warehouse.query(sql, binds)) as unknown as T[];
  const tagOf = (testId: string) => `flakebench:test_id=${testId}:phase=RUNNING`;

  it('AGGREGATE_QUERY_HISTORY: CALLS, statistics objects, errors and throttles add up to the truth', async () => {
    const truth = hybrid.tests[0]!.truth;
    const rows = await q<{ CALLS: number; EXECUTION_TIME: Record<string, number>; PERCENTAGE_SCANNED_FROM_CACHE: Record<string, number>; ERRORS: Array<Record<string, unknown>>; HYBRID_TABLE_REQUESTS_THROTTLED_COUNT: number; QUERY_PARAMETERIZED_HASH: string }>(
      'SELECT CALLS, EXECUTION_TIME, PERCENTAGE_SCANNED_FROM_CACHE, ERRORS, HYBRID_TABLE_REQUESTS_THROTTLED_COUNT, QUERY_PARAMETERIZED_HASH FROM SIMULATED_ACCOUNT_USAGE.AGGREGATE_QUERY_HISTORY WHERE QUERY_TAG = ?',
      [tagOf(hybrid.tests[0]!.test_id)],
    );
    expect(rows.reduce((s, r) => s + r.CALLS, 0)).toBe(truth.overall.query_count);
    expect(Math.max(...rows.map((r) => r.EXECUTION_TIME.max as number))).toBe(truth.overall.max_ms);
    expect(rows.reduce((s, r) => s + r.ERRORS.reduce((t, e) => t + (e.count as number), 0), 0)).toBe(truth.overall.errors_count);
    expect(rows.reduce((s, r) => s + r.HYBRID_TABLE_REQUESTS_THROTTLED_COUNT, 0)).toBe(truth.overall.throttled_count);
    for (const pattern of truth.patterns) {
      expect(rows.filter((r) => r.QUERY_PARAMETERIZED_HASH === pattern.hash).reduce((s, r) => s + r.CALLS, 0)).toBe(pattern.query_count);
    }
    for (const row of rows) {
      expect(Object.keys(row.EXECUTION_TIME).sort()).toEqual([...AGGREGATE_STAT_KEYS].sort());
      expect(row.PERCENTAGE_SCANNED_FROM_CACHE).not.toHaveProperty('sum');
      for (const error of row.ERRORS) expect(Object.keys(error).sort()).toEqual(['code', 'count', 'message']);
      if (row.CALLS === 1) expect(row.EXECUTION_TIME.p99).toBe(row.EXECUTION_TIME.max);
      // STDDEV is the sample standard deviation: NULL for a single call.
      if (row.CALLS === 1) expect(row.EXECUTION_TIME.stddev).toBeNull();
    }
    // Several rows per hash and minute (one per session).
    const perMinute = await q<{ N: number }>(
      'SELECT MAX(N) AS N FROM (SELECT COUNT(*) AS N FROM SIMULATED_ACCOUNT_USAGE.AGGREGATE_QUERY_HISTORY WHERE QUERY_TAG = ? GROUP BY INTERVAL_START_TIME, QUERY_PARAMETERIZED_HASH)',
      [tagOf(hybrid.tests[0]!.test_id)],
    );
    expect(perMinute[0]?.N).toBeGreaterThan(1);
  });

  it("writes TEST_RESULTS and QUERY_EXECUTIONS as FlakeBench fills them: NOT NULL columns, TEST_CONFIG's target, tags, warm-up", async () => {
    const testId = hybrid.tests[0]!.test_id;
    const [row] = await q<Record<string, unknown>>('SELECT * FROM TEST_RESULTS WHERE TEST_ID = ?', [testId]);
    for (const column of FLAKEBENCH_TEST_RESULTS_COLUMNS.filter((c) => c.notNull)) expect(row?.[column.name], column.name).not.toBeNull();
    expect(row).toMatchObject({ RUN_ID: hybrid.run_id, TABLE_TYPE: 'HYBRID', STATUS: 'COMPLETED', QUERY_TAG: `flakebench:test_id=${testId}`, CONCURRENT_CONNECTIONS: 8 });
    expect(row?.TOTAL_OPERATIONS).toBe(hybrid.tests[0]!.truth.overall.query_count);
    expect(row?.END_TIME).toEqual(hybrid.test_end_time);
    // The target lives in TEST_CONFIG:target and agrees with the table columns and with what QUERY_HISTORY saw.
    const target = (row?.TEST_CONFIG as { target: Record<string, string> }).target;
    expect(target).toMatchObject({ table_name: row?.TABLE_NAME, table_type: 'HYBRID', warehouse: row?.WAREHOUSE });
    const seen = await q<{ DATABASE_NAME: string; SCHEMA_NAME: string; WAREHOUSE_NAME: string }>(
      `SELECT DISTINCT h.DATABASE_NAME, h.SCHEMA_NAME, h.WAREHOUSE_NAME FROM SIMULATED_ACCOUNT_USAGE.QUERY_HISTORY h
       JOIN QUERY_EXECUTIONS e ON e.QUERY_ID = h.QUERY_ID WHERE e.TEST_ID = ?`,
      [testId],
    );
    expect(seen).toEqual([{ DATABASE_NAME: target.database, SCHEMA_NAME: target.schema, WAREHOUSE_NAME: target.warehouse }]);
    // Every execution row has FlakeBench's NOT NULL columns; warm-up rows are flagged and their sessions tagged WARMUP.
    const notNull = FLAKEBENCH_QUERY_EXECUTIONS_COLUMNS.filter((c) => c.notNull).map((c) => `COUNT(${c.name})`);
    const [counts] = await q<{ N: number; FILLED: number; WARMUP: number; KINDS: number }>(
      `SELECT COUNT(*) AS N, LEAST(${notNull.join(', ')}) AS FILLED, COUNT(*) FILTER (WHERE WARMUP) AS WARMUP, COUNT(QUERY_KIND) AS KINDS
       FROM QUERY_EXECUTIONS WHERE TEST_ID = ?`,
      [testId],
    );
    expect(counts?.FILLED).toBe(counts?.N);
    expect(counts?.KINDS).toBe(counts?.N);
    expect(counts?.WARMUP).toBeGreaterThan(0);
    expect((counts?.N ?? 0) - (counts?.WARMUP ?? 0)).toBe(hybrid.tests[0]!.truth.overall.query_count);
    const phases = await q<{ WARMUP: boolean; QUERY_TAG: string }>(
      `SELECT DISTINCT e.WARMUP, h.QUERY_TAG FROM QUERY_EXECUTIONS e JOIN SIMULATED_ACCOUNT_USAGE.QUERY_HISTORY h ON h.QUERY_ID = e.QUERY_ID
       WHERE e.TEST_ID = ? ORDER BY 1`,
      [testId],
    );
    expect(phases).toEqual([
      { WARMUP: false, QUERY_TAG: `flakebench:test_id=${testId}:phase=RUNNING` },
      { WARMUP: true, QUERY_TAG: `flakebench:test_id=${testId}:phase=WARMUP` },
    ]);
  });

  it('QUERY_HISTORY lacks exactly the short hybrid-only statements; QUERY_EXECUTIONS has them all', async () => {
    const testId = hybrid.tests[0]!.test_id;
    const [counts] = await q<{ TOTAL: number; MATCHED: number; MISSING_LONG: number }>(
      `SELECT COUNT(*) AS TOTAL, COUNT(h.QUERY_ID) AS MATCHED,
        COUNT(*) FILTER (WHERE h.QUERY_ID IS NULL AND (e.DURATION_MS > 600 OR e.QUERY_KIND = 'JOIN_DIMENSION')) AS MISSING_LONG
       FROM QUERY_EXECUTIONS e LEFT JOIN SIMULATED_ACCOUNT_USAGE.QUERY_HISTORY h ON h.QUERY_ID = e.QUERY_ID
       WHERE e.TEST_ID = ? AND NOT e.WARMUP`,
      [testId],
    );
    expect(counts?.TOTAL).toBe(hybrid.tests[0]!.truth.overall.query_count);
    expect(counts?.MATCHED).toBe(hybrid.tests[0]!.truth.query_history_coverage.matched);
    expect(counts?.MATCHED).toBeLessThan(counts?.TOTAL ?? 0);
    expect(counts?.MISSING_LONG).toBe(0);
  });

  it('LOCK_WAIT_HISTORY: row locks over 5 s only, one row per blocker, blocked time on the waiter', async () => {
    const testId = hybrid.tests[0]!.test_id;
    const rows = await q<{ QUERY_ID: string; OBJECT_NAME: string; LOCK_TYPE: string; SCHEMA_NAME: null; SCHEMA_ID: number; BLOCKER_QUERIES: unknown[]; BLOCKED: number }>(
      `SELECT l.QUERY_ID, l.OBJECT_NAME, l.LOCK_TYPE, l.SCHEMA_NAME, l.SCHEMA_ID, l.BLOCKER_QUERIES, h.TRANSACTION_BLOCKED_TIME AS BLOCKED
       FROM SIMULATED_ACCOUNT_USAGE.LOCK_WAIT_HISTORY l JOIN SIMULATED_ACCOUNT_USAGE.QUERY_HISTORY h ON h.QUERY_ID = l.QUERY_ID
       WHERE l.QUERY_ID IN (SELECT QUERY_ID FROM QUERY_EXECUTIONS WHERE TEST_ID = ?)`,
      [testId],
    );
    const truth = hybrid.tests[0]!.truth.lock_waits;
    expect(truth.count).toBeGreaterThan(0);
    expect(rows.length).toBe(truth.blocker_rows);
    expect(new Set(rows.map((r) => r.QUERY_ID)).size).toBe(truth.count);
    expect(rows.length).toBeGreaterThan(truth.count);
    const blocked = new Map(rows.map((r) => [r.QUERY_ID, r.BLOCKED]));
    expect([...blocked.values()].reduce((s, v) => s + v, 0)).toBe(truth.total_ms);
    for (const row of rows) {
      expect(row).toMatchObject({ OBJECT_NAME: 'ROW', LOCK_TYPE: 'ROW', SCHEMA_NAME: null, SCHEMA_ID: 0 });
      expect(row.BLOCKED).toBeGreaterThan(5000);
      expect(Array.isArray(row.BLOCKER_QUERIES)).toBe(true);
      expect(Object.keys(row.BLOCKER_QUERIES[0] as object).sort()).toEqual(['is_snowflake', 'query_id', 'transaction_id']);
    }
    // Shorter waits exist on QUERY_HISTORY rows but never reach LOCK_WAIT_HISTORY.
    const short = await q<{ N: number }>(
      'SELECT COUNT(*) AS N FROM SIMULATED_ACCOUNT_USAGE.QUERY_HISTORY WHERE TRANSACTION_BLOCKED_TIME BETWEEN 1 AND 5000 AND QUERY_ID IN (SELECT QUERY_ID FROM SIMULATED_ACCOUNT_USAGE.LOCK_WAIT_HISTORY)',
    );
    expect(short[0]?.N).toBe(0);
  });

  it('QUERY_INSIGHTS: documented types for standard-table queries, none for hybrid ones', async () => {
    const hybridInsights = await q<{ N: number }>(
      'SELECT COUNT(*) AS N FROM SIMULATED_ACCOUNT_USAGE.QUERY_INSIGHTS WHERE QUERY_ID IN (SELECT QUERY_ID FROM QUERY_EXECUTIONS WHERE TEST_ID = ?)',
      [hybrid.tests[0]!.test_id],
    );
    expect(hybridInsights[0]?.N).toBe(0);
    const rows = await q<{ INSIGHT_TYPE_ID: string; INSIGHT_TOPIC: string; SUGGESTIONS: unknown }>(
      `SELECT i.INSIGHT_TYPE_ID, i.INSIGHT_TOPIC, i.SUGGESTIONS FROM SIMULATED_ACCOUNT_USAGE.QUERY_INSIGHTS i
       JOIN QUERY_EXECUTIONS e ON e.QUERY_ID = i.QUERY_ID WHERE e.TEST_ID = ? AND NOT e.WARMUP`,
      [standard.tests[0]!.test_id],
    );
    expect(rows.length).toBe(standard.tests[0]!.truth.insights.count);
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      expect(INSIGHT_TYPES[row.INSIGHT_TOPIC]).toContain(row.INSIGHT_TYPE_ID);
      expect(Array.isArray(row.SUGGESTIONS)).toBe(true);
    }
  });

  it('HYBRID_TABLE_USAGE_HISTORY: account-level hourly rows on both sides of 2026-03-01 (no longer billed, still reported)', async () => {
    const rows = await q<{ OBJECT_TYPE: string; OBJECT_ID: null; OBJECT_NAME: null; START_TIME: Date; END_TIME: Date; CREDITS_USED: number }>(
      'SELECT OBJECT_TYPE, OBJECT_ID, OBJECT_NAME, START_TIME, END_TIME, CREDITS_USED FROM SIMULATED_ACCOUNT_USAGE.HYBRID_TABLE_USAGE_HISTORY',
    );
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      expect(row).toMatchObject({ OBJECT_TYPE: 'ACCOUNT', OBJECT_ID: null, OBJECT_NAME: null });
      expect(row.END_TIME.getTime() - row.START_TIME.getTime()).toBe(3_600_000);
    }
    // A 90-minute test around the date: its windows are published whichever side they fall on.
    const late = await simulate(db.warehouse, { tableType: 'UNISTORE', seed: 5, durationMinutes: 90, sessions: 2, ratePerSession: 0.2 }, new Date('2026-03-01T00:30:00Z'), 1);
    const overlapping = await q<{ START_TIME: Date }>(
      'SELECT START_TIME FROM SIMULATED_ACCOUNT_USAGE.HYBRID_TABLE_USAGE_HISTORY WHERE START_TIME < CAST(? AS TIMESTAMP) AND END_TIME > CAST(? AS TIMESTAMP)',
      [late.test_end_time, late.test_start_time],
    );
    expect(overlapping.length).toBeGreaterThan(0);
    expect(late.tests[0]!.truth.credits.windows).toBe(overlapping.length);
    expect(late.tests[0]!.truth.credits.unbilled_windows).toBe(overlapping.filter((w) => w.START_TIME.getTime() >= HYBRID_METERING_ENDED_AT.getTime()).length);
    const postMetering = await simulate(db.warehouse, { tableType: 'HYBRID', seed: 6, durationMinutes: 5, sessions: 2 }, new Date('2026-06-01T00:00:00Z'), 1);
    const credits = postMetering.tests[0]!.truth.credits;
    expect(credits.windows).toBeGreaterThan(0);
    expect(credits.unbilled_windows).toBe(credits.windows);
    expect(credits.credits_used).toBeGreaterThan(0);
  });

  it('background traffic shares the hashes but never the run\'s tags or query ids', async () => {
    const testId = hybrid.tests[0]!.test_id;
    const tags = await q<{ QUERY_TAG: string | null }>(
      'SELECT DISTINCT QUERY_TAG FROM SIMULATED_ACCOUNT_USAGE.QUERY_HISTORY WHERE QUERY_ID NOT IN (SELECT QUERY_ID FROM QUERY_EXECUTIONS)',
    );
    const list = tags.map((t) => t.QUERY_TAG);
    expect(list).toContain(null);
    expect(list.some((t) => t?.startsWith(`flakebench:test_id=${testId}0:`))).toBe(true);
    const matching = list.filter((t) => t === tagOf(testId) || t?.startsWith(`flakebench:test_id=${testId}:`));
    expect(matching).toEqual([]);
  });
});

describe('simulator options', () => {
  it('multi-worker runs: child tests under one run id, tagged in FlakeBench\'s form or the seed\'s, each with its own truth', () => {
    const flakebench = planSimulation({ tableType: 'HYBRID', seed: 8, durationMinutes: 4, sessions: 6, workers: 3, idSalt: 'w' }, NOW, 1);
    for (const [index, test] of flakebench.workload.tests.entries()) {
      // FlakeBench: TEST_RESULTS.QUERY_TAG without a phase, sessions tagged with the phase.
      expect(flakebench.rows.TEST_RESULTS[index]?.QUERY_TAG).toBe(`flakebench:test_id=${test.testId}`);
      const tags = new Set(flakebench.rows.views.QUERY_HISTORY.filter((r) => r.QUERY_ID && flakebench.workload.executions.some((e) => e.test === index && e.queryId === r.QUERY_ID)).map((r) => r.QUERY_TAG));
      expect([...tags].sort()).toEqual([`flakebench:test_id=${test.testId}:phase=RUNNING`, `flakebench:test_id=${test.testId}:phase=WARMUP`]);
    }
    const plan = planSimulation({ tableType: 'HYBRID', seed: 8, durationMinutes: 4, sessions: 6, workers: 3, idSalt: 'w', tagForm: 'run_id' }, NOW, 1);
    const { tests } = plan.workload;
    expect(tests).toHaveLength(3);
    expect(new Set(tests.map((t) => t.testId)).size).toBe(3);
    expect(plan.rows.TEST_RESULTS.map((r) => r.RUN_ID)).toEqual(tests.map(() => plan.workload.runId));
    for (const [index, test] of tests.entries()) {
      expect(plan.rows.TEST_RESULTS[index]?.QUERY_TAG).toBe(`flakebench:run_id=${plan.workload.runId}:test_id=${test.testId}`);
      const own = plan.workload.executions.filter((e) => e.test === index && e.phase === 'RUNNING');
      expect(own.length).toBeGreaterThan(0);
      expect(truthOf(plan.workload, index, [], true).overall.query_count).toBe(own.length);
      expect(plan.rows.QUERY_EXECUTIONS.filter((r) => r.TEST_ID === test.testId && r.WARMUP === false)).toHaveLength(own.length);
    }
  });

  it('jitter shows rows earlier than the documented latency but never later; late_minutes delays one view only', () => {
    const scale = 0.01;
    const jittered = planSimulation({ tableType: 'STANDARD', seed: 2, durationMinutes: 4, sessions: 2, jitter: 0.5, idSalt: 'j' }, NOW, scale);
    const documented = 45 * 60_000 * scale;
    const delays = jittered.rows.views.QUERY_HISTORY.map((r) => (r.VISIBLE_AT as Date).getTime() - (r.END_TIME as Date).getTime());
    expect(Math.max(...delays)).toBeLessThanOrEqual(documented);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(documented / 2);
    expect(Math.min(...delays)).toBeLessThan(documented * 0.9);
    const late = planSimulation({ tableType: 'STANDARD', seed: 2, durationMinutes: 4, sessions: 2, lateMinutes: { QUERY_HISTORY: 30 }, idSalt: 'j' }, NOW, scale);
    for (const row of late.rows.views.QUERY_HISTORY) {
      expect((row.VISIBLE_AT as Date).getTime() - (row.END_TIME as Date).getTime()).toBe(documented + 30 * 60_000 * scale);
    }
    for (const row of late.rows.views.AGGREGATE_QUERY_HISTORY) {
      expect((row.VISIBLE_AT as Date).getTime() - (row.INTERVAL_END_TIME as Date).getTime()).toBe(180 * 60_000 * scale);
    }
  });

  it('background lock waits exist but belong to no test query', () => {
    const plan = planSimulation({ tableType: 'HYBRID', seed: 12, durationMinutes: 20, sessions: 4, idSalt: 'b' }, NOW, 1);
    const testQueries = new Set(plan.rows.QUERY_EXECUTIONS.map((r) => r.QUERY_ID));
    const waits = plan.rows.views.LOCK_WAIT_HISTORY;
    const foreign = waits.filter((r) => !testQueries.has(r.QUERY_ID as string));
    expect(foreign.length).toBeGreaterThan(0);
    expect(waits.length - foreign.length).toBe(planTruth(plan).lock_waits.blocker_rows);
  });
});
