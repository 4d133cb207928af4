// The five real enrichment types end to end on the embedded engine: the simulator writes a test and what
// ACCOUNT_USAGE later publishes about it, the real processor enriches it once the views are visible, and
// the stored numbers are compared with the simulator's ground truth (computed from the raw executions).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { realModules } from '../src/enrichment/modules/index.js';
import { EnrichmentRegistry } from '../src/enrichment/registry.js';
import { Processor } from '../src/processor/processor.js';
import { enqueueJob } from '../src/queue/enqueue.js';
import { simulate, type SimulationRequest, type SimulationResult } from '../src/simulator/simulate.js';
import { VisibilityClock } from '../src/simulator/visibility.js';
import { startTestService } from './support/embedded.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

const HOUR = 3_600_000;

describe('real enrichment types against simulated ACCOUNT_USAGE', () => {
  let clock: ManualClock;
  let service: Service;
  let visibility: VisibilityClock;

  beforeEach(async () => {
    clock = new ManualClock('2025-11-20T12:00:00Z');
    service = await startTestService({ clock, env: { LATENCY_SCALE: '1' } });
    visibility = await VisibilityClock.bind(service.services.warehouse, clock);
  });
  afterEach(async () => {
    visibility.stop();
    await service.stop();
  });

  async function simulateAndEnqueue(request: SimulationRequest): Promise<SimulationResult> {
    const s = service.services;
    const result = await simulate(s.warehouse, { idSalt: 'integration', ...request }, clock.now(), s.config.latencyScale);
    for (const test of result.tests) {
      await enqueueJob(s, {
        test_id: test.test_id,
        run_id: result.run_id,
        table_type: result.table_type,
        test_end_time: result.test_end_time,
        test_start_time: result.test_start_time,
      });
    }
    return result;
  }

  async function processAt(advanceMs: number): Promise<Processor> {
    clock.advance(advanceMs);
    await visibility.settled();
    const processor = new Processor(service.services, { registry: new EnrichmentRegistry(realModules()) });
    await processor.poll();
    await processor.idle();
    return processor;
  }

  const one = async <T extends Record<string, unknown>>(sqlText: string, binds: unknown[] = []) =>
    (await service.services.warehouse.query(sqlText, binds as never[]))[0] as T;

  it('enriches a hybrid test: server percentiles, throttles, lock waits, credits and coverage match the truth', async () => {
    const sim = await simulateAndEnqueue({ tableType: 'HYBRID', seed: 7, durationMinutes: 10, sessions: 8 });
    const testId = sim.tests[0]!.test_id;
    const truth = sim.tests[0]!.truth;
    await processAt(4 * HOUR);

    const job = await one<{ STATUS: string; TYPE_STATE: Record<string, { status: string; attempts: number }> }>(
      'SELECT STATUS, TYPE_STATE FROM DELAYED_ENRICHMENT_QUEUE WHERE TEST_ID = ?',
      [testId],
    );
    expect(job.STATUS).toBe('COMPLETED');
    for (const state of Object.values(job.TYPE_STATE)) expect(state.status).toBe('COMPLETED');

    const test = await one<Record<string, number | string | null>>('SELECT * FROM TEST_RESULTS WHERE TEST_ID = ?', [testId]);
    expect(test.DELAYED_ENRICHMENT_STATUS).toBe('COMPLETED');
    expect(test.AGGREGATE_ENRICHMENT_STATUS).toBe('COMPLETED');
    expect(test.THROTTLED_QUERY_COUNT).toBe(truth.overall.throttled_count);
    expect(test.LOCK_WAIT_COUNT).toBe(truth.lock_waits.count);
    expect(test.LOCK_WAIT_TOTAL_MS).toBe(truth.lock_waits.total_ms);
    expect(test.LOCK_WAIT_MAX_MS).toBe(truth.lock_waits.max_ms);
    expect(test.HYBRID_CREDITS_USED).toBeCloseTo(truth.credits.credits_used as number, 6);
    expect(test.QUERY_INSIGHTS_COUNT).toBe(0); // never produced for hybrid-table queries

    const overall = await one<Record<string, number>>('SELECT * FROM AGGREGATE_TEST_METRICS WHERE TEST_ID = ?', [testId]);
    expect(overall.QUERY_COUNT).toBe(truth.overall.query_count);
    expect(overall.EXEC_MAX_MS).toBe(truth.overall.max_ms);
    for (const [column, key] of [['EXEC_P90_MS', 'p90_ms'], ['EXEC_P95_MS', 'p95_ms'], ['EXEC_P99_MS', 'p99_ms']] as const) {
      const expected = truth.overall[key] as number;
      expect(Math.abs(overall[column]! - expected) / expected, column).toBeLessThan(0.1);
    }

    const patterns = await service.services.warehouse.query<{ QUERY_PARAMETERIZED_HASH: string; QUERY_COUNT: number; ERRORS_COUNT: number; HYBRID_REQUESTS_THROTTLED_COUNT: number; EXEC_MAX_MS: number; PERCENTILE_METHOD: string }>(
      'SELECT QUERY_PARAMETERIZED_HASH, QUERY_COUNT, ERRORS_COUNT, HYBRID_REQUESTS_THROTTLED_COUNT, EXEC_MAX_MS, PERCENTILE_METHOD FROM AGGREGATE_QUERY_METRICS WHERE TEST_ID = ? ORDER BY QUERY_PARAMETERIZED_HASH',
      [testId],
    );
    expect(patterns.map((p) => p.QUERY_PARAMETERIZED_HASH)).toEqual(truth.patterns.map((p) => p.hash));
    truth.patterns.forEach((expected, index) => {
      const row = patterns[index]!;
      expect(row.QUERY_COUNT, expected.hash).toBe(expected.query_count);
      expect(row.ERRORS_COUNT, expected.hash).toBe(expected.errors_count);
      expect(row.HYBRID_REQUESTS_THROTTLED_COUNT, expected.hash).toBe(expected.throttled_count);
      expect(row.EXEC_MAX_MS, expected.hash).toBe(expected.max_ms);
      expect(row.PERCENTILE_METHOD).toBe('ORDER_STATISTICS_EM');
    });

    // One event row per wait (the seed), every blocker counted: the truth's waits and blocker rows.
    const events = await one<{ N: number; BLOCKERS: number }>(
      'SELECT COUNT(*) AS N, SUM(BLOCKER_COUNT) AS BLOCKERS FROM LOCK_CONTENTION_EVENTS WHERE TEST_ID = ?',
      [testId],
    );
    expect(events.N).toBe(truth.lock_waits.count);
    expect(Number(events.BLOCKERS)).toBe(truth.lock_waits.blocker_rows);

    const coverage = await one<{ MATCHED: number }>(
      'SELECT COUNT(*) AS MATCHED FROM QUERY_EXECUTIONS WHERE TEST_ID = ? AND SF_PARTITIONS_TOTAL IS NOT NULL',
      [testId],
    );
    expect(coverage.MATCHED).toBeGreaterThanOrEqual(truth.query_history_coverage.matched);
    expect(coverage.MATCHED).toBeLessThan(truth.query_history_coverage.total);
  });

  it('enriches a standard test with its query insights, and a re-run leaves exactly one set of rows', async () => {
    const sim = await simulateAndEnqueue({ tableType: 'STANDARD', seed: 11, durationMinutes: 30, sessions: 8, ratePerSession: 2 });
    const testId = sim.tests[0]!.test_id;
    const truth = sim.tests[0]!.truth;
    await processAt(4 * HOUR);
    const test = await one<Record<string, number | string | null>>('SELECT * FROM TEST_RESULTS WHERE TEST_ID = ?', [testId]);
    expect(test.DELAYED_ENRICHMENT_STATUS).toBe('COMPLETED');
    expect(test.LOCK_WAIT_COUNT).toBeNull(); // not applicable to standard tables: no such type in the job
    expect(truth.insights.distinct_type_hash_pairs).toBeGreaterThan(0);
    // TEST_RESULTS counts insight rows (one per insight type and query pattern); each row says how many of
    // the test's queries it covers, which adds up to the truth's count of insight instances.
    expect(test.QUERY_INSIGHTS_COUNT).toBe(truth.insights.distinct_type_hash_pairs);
    const cache = await service.services.warehouse.query<{ INSIGHT_SEVERITY: string; AFFECTED_QUERY_COUNT: number }>(
      'SELECT INSIGHT_SEVERITY, AFFECTED_QUERY_COUNT FROM QUERY_INSIGHTS_CACHE WHERE TEST_ID = ?',
      [testId],
    );
    const high = cache.filter((row) => row.INSIGHT_SEVERITY === 'HIGH');
    expect(test.QUERY_INSIGHTS_HIGH_SEVERITY_COUNT).toBe(high.length);
    expect(cache.reduce((acc, row) => acc + row.AFFECTED_QUERY_COUNT, 0)).toBe(truth.insights.count);
    expect(high.reduce((acc, row) => acc + row.AFFECTED_QUERY_COUNT, 0)).toBe(truth.insights.high_severity_count);

    const counts = async () =>
      one<{ A: number; I: number }>(
        'SELECT (SELECT COUNT(*) FROM AGGREGATE_QUERY_METRICS WHERE TEST_ID = ?) AS A, (SELECT COUNT(*) FROM QUERY_INSIGHTS_CACHE WHERE TEST_ID = ?) AS I',
        [testId, testId],
      );
    const before = await counts();
    await enqueueJob(service.services, {
      test_id: testId,
      run_id: sim.run_id,
      table_type: 'STANDARD',
      test_end_time: sim.test_end_time,
      test_start_time: sim.test_start_time,
      force: true,
    });
    await processAt(HOUR);
    expect(await counts()).toEqual(before);
    expect(before.A).toBe(truth.patterns.length);
  });

  it('waits for a view that is late beyond its documented latency, without spending attempts', async () => {
    const sim = await simulateAndEnqueue({
      tableType: 'STANDARD',
      seed: 3,
      durationMinutes: 5,
      background: false,
      lateMinutes: { AGGREGATE_QUERY_HISTORY: 120 },
    });
    const testId = sim.tests[0]!.test_id;
    await processAt(3.5 * HOUR);
    const early = await one<{ TYPE_STATE: Record<string, { status: string; attempts: number; last_error: string | null }> }>(
      'SELECT TYPE_STATE FROM DELAYED_ENRICHMENT_QUEUE WHERE TEST_ID = ?',
      [testId],
    );
    expect(early.TYPE_STATE.AGGREGATE!.status).toBe('PENDING');
    expect(early.TYPE_STATE.AGGREGATE!.attempts).toBe(0);
    expect(early.TYPE_STATE.QUERY_HISTORY!.status).toBe('COMPLETED');
    const rowsEarly = await one<{ N: number }>('SELECT COUNT(*) AS N FROM AGGREGATE_QUERY_METRICS WHERE TEST_ID = ?', [testId]);
    expect(rowsEarly.N).toBe(0);

    await processAt(3 * HOUR);
    const late = await one<{ STATUS: string; TYPE_STATE: Record<string, { status: string }> }>(
      'SELECT STATUS, TYPE_STATE FROM DELAYED_ENRICHMENT_QUEUE WHERE TEST_ID = ?',
      [testId],
    );
    expect(late.TYPE_STATE.AGGREGATE!.status).toBe('COMPLETED');
    expect(late.STATUS).toBe('COMPLETED');
    const rowsLate = await one<{ N: number }>('SELECT COUNT(*) AS N FROM AGGREGATE_QUERY_METRICS WHERE TEST_ID = ?', [testId]);
    expect(rowsLate.N).toBe(sim.tests[0]!.truth.patterns.length);
  });

  it('ends hybrid credits NOT_APPLICABLE for a test after metering stopped whose windows the view lacks, never zero credits', async () => {
    clock.set('2026-06-01T12:00:00Z');
    await visibility.settled();
    const sim = await simulateAndEnqueue({ tableType: 'HYBRID', seed: 5, durationMinutes: 5, sessions: 2 });
    const testId = sim.tests[0]!.test_id;
    // Metering was disabled: an account whose view kept no usage for the test's hours.
    await service.services.warehouse.execute('DELETE FROM SIMULATED_ACCOUNT_USAGE.HYBRID_TABLE_USAGE_HISTORY WHERE START_TIME >= CAST(? AS TIMESTAMP)', [new Date('2026-03-01T00:00:00Z')]);
    await processAt(4 * HOUR);
    const job = await one<{ STATUS: string; TYPE_STATE: Record<string, { status: string; last_error: string | null }> }>(
      'SELECT STATUS, TYPE_STATE FROM DELAYED_ENRICHMENT_QUEUE WHERE TEST_ID = ?',
      [testId],
    );
    expect(job.TYPE_STATE.HYBRID_CREDITS!.status).toBe('NOT_APPLICABLE');
    expect(job.TYPE_STATE.HYBRID_CREDITS!.last_error).toMatch(/no usage/);
    expect(job.STATUS).toBe('COMPLETED');
    const test = await one<{ HYBRID_CREDITS_USED: number | null }>('SELECT HYBRID_CREDITS_USED FROM TEST_RESULTS WHERE TEST_ID = ?', [testId]);
    expect(test.HYBRID_CREDITS_USED).toBeNull();
  });
});
