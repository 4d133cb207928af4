// The pure transforms of each enrichment type, on hand-made source rows whose right answers are worked out
// from the documented view semantics (spec/sources.md).
import { describe, expect, it } from 'vitest';
import { transformAggregate, type AggregateSourceRow } from '../src/enrichment/aggregate-transform.js';
import { statsOfSample } from './support/sample-stats.js';
import { REQUESTS_EXACT, REQUESTS_PRORATED, transformCredits, type RequestBucket } from '../src/enrichment/credits-transform.js';
import { insightSeverity, transformInsights } from '../src/enrichment/insights-transform.js';
import { transformLocks, type LockSourceRow } from '../src/enrichment/lock-transform.js';
import { isLeftOut, parseTag, stripPhase, tagBelongsToTest, tagMatchesPrefix, tagPredicate, testTagPrefixes } from '../src/enrichment/query-tags.js';

const at = (iso: string) => new Date(`2025-06-01T${iso}Z`);

describe('query tags', () => {
  it('matches a prefix exactly or at a segment boundary, never as a LIKE pattern', () => {
    expect(tagMatchesPrefix('flakebench:run_id=12:test_id=a', 'flakebench:run_id=12')).toBe(true);
    expect(tagMatchesPrefix('flakebench:run_id=12', 'flakebench:run_id=12')).toBe(true);
    expect(tagMatchesPrefix('flakebench:run_id=123:test_id=a', 'flakebench:run_id=12')).toBe(false);
    expect(tagMatchesPrefix('flakebench:runXid=12', 'flakebench:run_id=12')).toBe(false);
    expect(tagMatchesPrefix(null, 'flakebench:run_id=12')).toBe(false);
  });

  it('parses key=value segments, strips the phase and excludes warm-up by default', () => {
    expect(parseTag('flakebench:test_id=t1:phase=RUNNING')).toEqual({ test_id: 't1', phase: 'RUNNING' });
    expect(stripPhase('flakebench:test_id=t1:phase=WARMUP')).toBe('flakebench:test_id=t1');
    const prefixes = testTagPrefixes('t1', 'r1', [{ testId: 't1', queryTag: 'flakebench:test_id=t1:phase=RUNNING' }]);
    expect(prefixes).toEqual(['flakebench:test_id=t1', 'flakebench:run_id=r1:test_id=t1']);
    expect(tagBelongsToTest('flakebench:test_id=t1:phase=RUNNING', prefixes)).toBe(true);
    expect(tagBelongsToTest('flakebench:test_id=t1:phase=WARMUP', prefixes)).toBe(false);
    expect(tagBelongsToTest('flakebench:test_id=t1', prefixes)).toBe(true);
    expect(tagBelongsToTest('flakebench:test_id=t10:phase=RUNNING', prefixes)).toBe(false);
    expect(tagBelongsToTest('flakebench:run_id=r1:test_id=t1:phase=WARMUP', prefixes, [])).toBe(true);
    expect(tagBelongsToTest('flakebench:run_id=r1:test_id=t9:phase=RUNNING', prefixes)).toBe(false);
  });

  it("covers both tag forms even when TEST_RESULTS.QUERY_TAG is NULL; a run's parent covers its children", () => {
    // FlakeBench's form and the seed's planned form, from the ids alone.
    const child = testTagPrefixes('t2', 'r1', [{ testId: 't2', queryTag: null }, { testId: 't3', queryTag: 'flakebench:test_id=t3' }]);
    expect(child).toEqual(['flakebench:test_id=t2', 'flakebench:run_id=r1:test_id=t2']);
    expect(tagBelongsToTest('flakebench:test_id=t2:phase=RUNNING', child)).toBe(true);
    expect(tagBelongsToTest('flakebench:run_id=r1:test_id=t2:phase=RUNNING', child)).toBe(true);
    expect(tagBelongsToTest('flakebench:test_id=t3:phase=RUNNING', child)).toBe(false);
    // The parent row (TEST_ID = RUN_ID) takes the run prefix and every child's, including one with a NULL TEST_ID's tag.
    const parent = testTagPrefixes('r1', 'r1', [
      { testId: 'r1', queryTag: 'flakebench:test_id=r1' },
      { testId: 't2', queryTag: null },
      { testId: null, queryTag: 'flakebench:test_id=t4:phase=RUNNING' },
    ]);
    expect(parent).toEqual(
      expect.arrayContaining(['flakebench:run_id=r1', 'flakebench:test_id=r1', 'flakebench:test_id=t2', 'flakebench:run_id=r1:test_id=t2', 'flakebench:test_id=t4']),
    );
    expect(tagBelongsToTest('flakebench:run_id=r1:test_id=t9:phase=RUNNING', parent)).toBe(true);
    expect(tagBelongsToTest('flakebench:run_id=r10:test_id=t9:phase=RUNNING', parent)).toBe(false);
    expect(testTagPrefixes('t1', 'r1', [], ['custom:job=7'])).toContain('custom:job=7');
  });

  it('leaves out warm-up by the tag phase and by the QUERY_EXECUTIONS.WARMUP flag', () => {
    expect(isLeftOut('flakebench:test_id=t1:phase=WARMUP', null)).toBe(true);
    expect(isLeftOut('flakebench:test_id=t1:phase=RUNNING', null)).toBe(false);
    expect(isLeftOut('flakebench:test_id=t1', 1)).toBe(true);
    expect(isLeftOut(null, true)).toBe(true);
    expect(isLeftOut(null, 0)).toBe(false);
    expect(isLeftOut(null, null)).toBe(false);
    // With no phase excluded, nothing is left out.
    expect(isLeftOut('flakebench:test_id=t1:phase=WARMUP', 1, [])).toBe(false);
  });

  it('builds a bound predicate and refuses a non-column', () => {
    const predicate = tagPredicate('QUERY_TAG', ['a', 'b']);
    expect(predicate.sql).toBe('(QUERY_TAG = ? OR STARTSWITH(QUERY_TAG, ?) OR QUERY_TAG = ? OR STARTSWITH(QUERY_TAG, ?))');
    expect(predicate.binds).toEqual(['a', 'a:', 'b', 'b:']);
    expect(() => tagPredicate('QUERY_TAG; DROP', ['a'])).toThrow();
  });
});

function aggregateRow(hash: string, minute: string, samples: number[], extra: Partial<AggregateSourceRow> = {}): AggregateSourceRow {
  const stats = statsOfSample(samples);
  return {
    QUERY_PARAMETERIZED_HASH: hash,
    QUERY_TAG: 'flakebench:test_id=t1:phase=RUNNING',
    INTERVAL_START_TIME: at(`10:${minute}:00`),
    INTERVAL_END_TIME: new Date(at(`10:${minute}:00`).getTime() + 60_000),
    CALLS: samples.length,
    EXECUTION_TIME: stats,
    COMPILATION_TIME: statsOfSample(samples.map(() => 1)),
    TOTAL_ELAPSED_TIME: statsOfSample(samples.map((v) => v + 1)),
    QUEUED_OVERLOAD_TIME: statsOfSample(samples.map(() => 0)),
    QUEUED_PROVISIONING_TIME: statsOfSample(samples.map(() => 0)),
    BYTES_SCANNED: statsOfSample(samples.map(() => 1024)),
    ROWS_PRODUCED: statsOfSample(samples.map(() => 1)),
    ERRORS: [],
    HYBRID_TABLE_REQUESTS_THROTTLED_COUNT: 0,
    ...extra,
  };
}

describe('AGGREGATE transform', () => {
  it('gives one row per hash with exact counts, sums, throttles and merged errors', () => {
    const rows = [
      aggregateRow('h1', '00', [1, 2, 3], { ERRORS: [{ code: '000630', message: 'timeout', count: 2 }], HYBRID_TABLE_REQUESTS_THROTTLED_COUNT: 4 }),
      aggregateRow('h1', '00', [4, 5]),
      aggregateRow('h1', '01', [6], { ERRORS: [{ code: '000630', message: 'timeout', count: 1 }, { code: '100', message: 'x', count: 1 }] }),
      aggregateRow('h2', '01', [10, 20]),
    ];
    const result = transformAggregate(rows);
    expect(result.patterns.map((p) => p.queryParameterizedHash)).toEqual(['h1', 'h2']);
    const h1 = result.patterns[0]!;
    expect(h1.queryCount).toBe(6);
    expect(h1.intervalCount).toBe(2);
    expect(h1.exec.sum).toBe(21);
    expect(h1.exec.avg).toBe(3.5);
    expect(h1.exec.min).toBe(1);
    expect(h1.exec.max).toBe(6);
    expect(h1.throttledCount).toBe(4);
    expect(h1.errorsBreakdown).toEqual([
      { code: '000630', message: 'timeout', count: 3 },
      { code: '100', message: 'x', count: 1 },
    ]);
    expect(h1.errorsCount).toBe(4);
    expect(h1.intervalStart).toEqual(at('10:00:00'));
    expect(h1.intervalEnd).toEqual(at('10:02:00'));
    expect(result.test.count).toBe(8);
    expect(result.test.max).toBe(20);
    expect(result.throttledTotal).toBe(4);
    expect(result.errorsTotal).toBe(4);
  });
});

function lockRow(queryId: string, requested: string, blockers: unknown[], extra: Partial<LockSourceRow> = {}): LockSourceRow {
  return {
    QUERY_ID: queryId,
    TRANSACTION_ID: 100,
    REQUESTED_AT: at(requested),
    ACQUIRED_AT: at('09:59:00'),
    LOCK_TYPE: 'Row',
    OBJECT_ID: 7,
    OBJECT_NAME: 'ROW',
    SCHEMA_NAME: null,
    DATABASE_NAME: 'DB',
    BLOCKER_QUERIES: blockers,
    ...extra,
  };
}

describe('LOCK_CONTENTION transform', () => {
  it('writes one event per wait, the first blocker in the seed columns and every blocker counted once', () => {
    const rows = [
      // A hybrid wait with two blockers is two view rows; the holder that acquired the lock first is the first.
      lockRow('q1', '10:00:10', [{ is_snowflake: false, query_id: 'b2', transaction_id: 202 }], { ACQUIRED_AT: at('09:59:30') }),
      lockRow('q1', '10:00:10', [{ is_snowflake: false, query_id: 'b1', transaction_id: 201 }]),
      lockRow('q2', '10:00:20', [{ is_snowflake: true, query_id: '', transaction_id: '' }], { TRANSACTION_ID: 101 }),
      // A standard-table wait lists its blockers in one row; b1 blocked q1 already.
      lockRow('q3', '10:00:30', [
        { is_snowflake: false, query_id: 'b3', transaction_id: 203 },
        { is_snowflake: false, query_id: 'b1', transaction_id: 201 },
      ], { TRANSACTION_ID: 102, LOCK_TYPE: 'PARTITION', OBJECT_NAME: 'ORDERS' }),
    ];
    const blocked = new Map([
      ['q1', 7000],
      ['q2', 5500],
    ]);
    const { events, summary } = transformLocks(rows, blocked, { tableName: 'HT_ORDERS', schemaName: 'BENCH', databaseName: 'DB' });
    expect(events).toHaveLength(3);
    expect(events.map((e) => e.blockingQueryId)).toEqual(['b1', null, 'b3']);
    expect(events.map((e) => e.blockers.map((b) => b.queryId))).toEqual([['b1', 'b2'], [null], ['b3', 'b1']]);
    expect(events.map((e) => [e.blockers.length, e.unidentifiedBlockers, e.firstSeenBlockers])).toEqual([[2, 0, 2], [1, 1, 0], [2, 0, 1]]);
    expect(events[1]!.blockingTransactionId).toBeNull();
    expect(events.map((e) => e.waitDurationMs)).toEqual([7000, 5500, null]);
    expect(events[0]!.lockType).toBe('ROW');
    // The view says ROW for a hybrid row lock: the event names the test's table, RAW_EVENT keeps the literal.
    expect(events.map((e) => [e.objectName, e.schemaName])).toEqual([['HT_ORDERS', 'BENCH'], ['HT_ORDERS', 'BENCH'], ['ORDERS', null]]);
    expect(events[0]!.rawEvent.OBJECT_NAME).toBe('ROW');
    expect(events[0]!.rawEvent.BLOCKER_QUERIES).toEqual([
      { is_snowflake: false, query_id: 'b1', transaction_id: 201 },
      { is_snowflake: false, query_id: 'b2', transaction_id: 202 },
    ]);
    // ACQUIRED_AT is the holder's time: carried over, never used as the wait.
    expect(events[0]!.lockAcquiredAt).toEqual(at('09:59:00'));
    expect(summary).toEqual({ waitCount: 3, totalMs: 12500, maxMs: 7000, waitsWithoutDuration: 1 });
  });

  it('does not hand a query total to each of several waits', () => {
    const rows = [lockRow('q1', '10:00:10', []), lockRow('q1', '10:00:40', [])];
    const { events, summary } = transformLocks(rows, new Map([['q1', 12000]]));
    expect(events.map((e) => e.waitDurationMs)).toEqual([null, null]);
    expect(summary.waitCount).toBe(2);
    expect(summary.totalMs).toBe(12000);
  });
});

const minute = (hhmm: string, requests: number): RequestBucket => ({ minute: at(`${hhmm}:00`).getTime(), requests });

describe('HYBRID_CREDITS transform', () => {
  const test = { testId: 't1', start: new Date('2025-06-01T10:30:00Z'), end: new Date('2025-06-01T11:15:00Z') };

  it('prorates each overlapping window and counts the other tests in it', () => {
    const windows = [
      { START_TIME: new Date('2025-06-01T10:00:00Z'), END_TIME: new Date('2025-06-01T11:00:00Z'), CREDITS_USED: 2 },
      { START_TIME: new Date('2025-06-01T11:00:00Z'), END_TIME: new Date('2025-06-01T12:00:00Z'), CREDITS_USED: 4 },
    ];
    const others = [test, { testId: 't2', start: new Date('2025-06-01T11:30:00Z'), end: new Date('2025-06-01T11:40:00Z') }];
    const requests = [minute('10:30', 30), minute('10:59', 2), minute('11:00', 4), minute('11:14', 1)];
    const outcome = transformCredits(test, windows, others, requests);
    expect(outcome.kind).toBe('rows');
    if (outcome.kind !== 'rows') return;
    expect(outcome.rows.map((r) => r.overlapFraction)).toEqual([0.5, 0.25]);
    expect(outcome.rows.map((r) => r.creditsUsed)).toEqual([1, 1]);
    expect(outcome.rows.map((r) => r.overlappingTests)).toEqual([0, 1]);
    expect(outcome.rows.map((r) => r.requestsCount)).toEqual([32, 5]);
    expect(outcome.rows.map((r) => [r.billed, r.requestsMethod])).toEqual([[true, REQUESTS_EXACT], [true, REQUESTS_EXACT]]);
    expect(outcome.totalCredits).toBe(2);
  });

  it("counts the test's first, partial minute, and shares a minute split by a window bound pro-rata", () => {
    // The test starts 20 s into 10:30; its tagged requests of that minute are its own.
    const late = { testId: 't1', start: new Date('2025-06-01T10:30:20Z'), end: new Date('2025-06-01T10:33:00Z') };
    const whole = transformCredits(late, [{ START_TIME: at('10:00:00'), END_TIME: at('11:00:00'), CREDITS_USED: 6 }], [], [minute('10:30', 9), minute('10:31', 3)]);
    expect(whole.kind === 'rows' && whole.rows.map((r) => [r.requestsCount, r.requestsMethod])).toEqual([[12, REQUESTS_EXACT]]);
    // Windows cut at 10:31:30: the 10:31 bucket (4 requests) is half in each.
    const split = transformCredits(
      late,
      [
        { START_TIME: at('10:00:00'), END_TIME: at('10:31:30'), CREDITS_USED: 1 },
        { START_TIME: at('10:31:30'), END_TIME: at('11:00:00'), CREDITS_USED: 1 },
      ],
      [],
      [minute('10:30', 9), minute('10:31', 4)],
    );
    expect(split.kind === 'rows' && split.rows.map((r) => [r.requestsCount, r.requestsMethod])).toEqual([
      [11, REQUESTS_PRORATED],
      [2, REQUESTS_PRORATED],
    ]);
  });

  it('flags windows from 2026-03-01 on as not billed and keeps their usage', () => {
    const march = { testId: 't4', start: new Date('2026-02-28T23:30:00Z'), end: new Date('2026-03-01T00:30:00Z') };
    const outcome = transformCredits(
      march,
      [
        { START_TIME: new Date('2026-02-28T23:00:00Z'), END_TIME: new Date('2026-03-01T00:00:00Z'), CREDITS_USED: 2 },
        { START_TIME: new Date('2026-03-01T00:00:00Z'), END_TIME: new Date('2026-03-01T01:00:00Z'), CREDITS_USED: 2 },
      ],
      [],
      [],
    );
    expect(outcome.kind === 'rows' && outcome.rows.map((r) => [r.billed, r.creditsUsed])).toEqual([[true, 1], [false, 1]]);
  });

  it('is not applicable after metering stopped, never zero credits', () => {
    const late = { testId: 't3', start: new Date('2026-05-01T10:00:00Z'), end: new Date('2026-05-01T10:30:00Z') };
    const outcome = transformCredits(late, [], [], []);
    expect(outcome.kind).toBe('not_applicable');
  });
});

describe('QUERY_INSIGHTS transform', () => {
  it('groups by insight type and hash, counts distinct queries, ranks by severity', () => {
    const rows = [
      { QUERY_ID: 'q1', QUERY_PARAMETERIZED_HASH: 'h1', INSIGHT_TYPE_ID: 'QUERY_INSIGHT_UNSELECTIVE_FILTER', INSIGHT_TOPIC: 'TABLE_SCAN', MESSAGE: { a: 1 }, SUGGESTIONS: ['Add a filter'], IS_OPPORTUNITY: true },
      { QUERY_ID: 'q2', QUERY_PARAMETERIZED_HASH: 'h1', INSIGHT_TYPE_ID: 'QUERY_INSIGHT_UNSELECTIVE_FILTER', INSIGHT_TOPIC: 'TABLE_SCAN', MESSAGE: { a: 2 }, SUGGESTIONS: ['Add a filter'], IS_OPPORTUNITY: true },
      { QUERY_ID: 'q3', QUERY_PARAMETERIZED_HASH: 'h2', INSIGHT_TYPE_ID: 'QUERY_INSIGHT_REMOTE_SPILLAGE', INSIGHT_TOPIC: 'WAREHOUSE', MESSAGE: 'spilled', SUGGESTIONS: [], IS_OPPORTUNITY: true },
      { QUERY_ID: 'q4', QUERY_PARAMETERIZED_HASH: 'h3', INSIGHT_TYPE_ID: 'QUERY_INSIGHT_SEARCH_OPTIMIZATION_USED', INSIGHT_TOPIC: 'TABLE_SCAN', MESSAGE: null, SUGGESTIONS: null, IS_OPPORTUNITY: false },
    ];
    const result = transformInsights(rows, new Map([['q1', 'SELECT 1']]));
    expect(result.rows.map((r) => [r.insightType, r.insightSeverity, r.affectedQueryCount])).toEqual([
      ['QUERY_INSIGHT_REMOTE_SPILLAGE', 'HIGH', 1],
      ['QUERY_INSIGHT_UNSELECTIVE_FILTER', 'MEDIUM', 2],
      ['QUERY_INSIGHT_SEARCH_OPTIMIZATION_USED', 'LOW', 1],
    ]);
    expect(result.rows[0]!.recommendation).toBe('spilled');
    expect(result.rows[1]!.recommendation).toBe('Add a filter');
    expect(result.rows[1]!.queryText).toBe('SELECT 1');
    expect(result.count).toBe(3);
    expect(result.highSeverityCount).toBe(1);
    expect(insightSeverity('QUERY_INSIGHT_EXPLODING_JOIN', null)).toBe('HIGH');
  });
});
