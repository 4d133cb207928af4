// Ground truth: what a perfect enrichment would report for each simulated test, computed from the raw
// simulated executions of its measurement phase (phase=RUNNING), never from the view rows. Execution
// times in ms; percentiles are PERCENTILE_CONT over the executions themselves.
import { HIGH_SEVERITY_INSIGHT_TYPES } from './patterns.js';
import { percentileCont, sortedCopy } from './statistics.js';
import type { CreditWindow } from './rows.js';
import type { Execution, SimulatedTest, Workload } from './workload.js';
import { HYBRID_METERING_ENDED_AT } from '../sources/account-usage.js';

export interface LatencySummary {
  query_count: number;
  p50_ms: number | null;
  p90_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
  max_ms: number | null;
}

export interface PatternTruth extends LatencySummary {
  hash: string;
  query_kind: string;
  errors_count: number;
  throttled_count: number;
}

export interface TestTruth {
  overall: LatencySummary & { errors_count: number; throttled_count: number };
  patterns: PatternTruth[];
  lock_waits: { count: number; total_ms: number; max_ms: number | null; blocker_rows: number };
  insights: { count: number; high_severity_count: number; distinct_type_hash_pairs: number };
  /**
   * Account-level credits of the hourly windows overlapping the test, prorated by overlap (null without windows);
   * unbilled_windows: those starting on or after 2026-03-01, when Snowflake stopped billing hybrid requests.
   */
  credits: { credits_used: number | null; windows: number; unbilled_windows: number; not_applicable_reason?: string };
  /** Measurement-phase QUERY_EXECUTIONS rows that QUERY_HISTORY records, out of all of them. */
  query_history_coverage: { matched: number; total: number };
}

export function summarize(values: readonly number[]): LatencySummary {
  if (values.length === 0) return { query_count: 0, p50_ms: null, p90_ms: null, p95_ms: null, p99_ms: null, max_ms: null };
  const sorted = sortedCopy(values);
  return {
    query_count: sorted.length,
    p50_ms: percentileCont(sorted, 0.5),
    p90_ms: percentileCont(sorted, 0.9),
    p95_ms: percentileCont(sorted, 0.95),
    p99_ms: percentileCont(sorted, 0.99),
    max_ms: sorted[sorted.length - 1] as number,
  };
}

export function truthOf(workload: Workload, testIndex: number, windows: readonly CreditWindow[], hybrid: boolean): TestTruth {
  const test = workload.tests[testIndex] as SimulatedTest;
  const measured = workload.executions.filter((e) => e.test === testIndex && e.phase === 'RUNNING');
  const byHash = new Map<string, Execution[]>();
  for (const e of measured) {
    const list = byHash.get(e.pattern.hash) ?? [];
    list.push(e);
    byHash.set(e.pattern.hash, list);
  }
  const patterns: PatternTruth[] = [...byHash.entries()]
    .sort((a, b) => a[0].localeCompare(b[0]))
    .map(([hash, list]) => ({
      hash,
      query_kind: (list[0] as Execution).pattern.kind,
      ...summarize(list.map((e) => e.execMs)),
      errors_count: list.filter((e) => e.error !== null).length,
      throttled_count: list.filter((e) => e.throttled).length,
    }));
  const waits = measured.filter((e) => e.lockWait !== null);
  const insights = measured.filter((e) => e.insight !== null);
  return {
    overall: {
      ...summarize(measured.map((e) => e.execMs)),
      errors_count: measured.filter((e) => e.error !== null).length,
      throttled_count: measured.filter((e) => e.throttled).length,
    },
    patterns,
    lock_waits: {
      count: waits.length,
      total_ms: waits.reduce((sum, e) => sum + e.blockedMs, 0),
      max_ms: waits.length === 0 ? null : Math.max(...waits.map((e) => e.blockedMs)),
      blocker_rows: waits.reduce((sum, e) => sum + (e.lockWait?.blockers.length ?? 0), 0),
    },
    insights: {
      count: insights.length,
      high_severity_count: insights.filter((e) => HIGH_SEVERITY_INSIGHT_TYPES.has(e.insight?.type ?? '')).length,
      distinct_type_hash_pairs: new Set(insights.map((e) => `${e.insight?.type}|${e.pattern.hash}`)).size,
    },
    credits: creditsOf(test, windows, hybrid),
    query_history_coverage: { matched: measured.filter((e) => e.inQueryHistory).length, total: measured.length },
  };
}

function creditsOf(test: SimulatedTest, windows: readonly CreditWindow[], hybrid: boolean): TestTruth['credits'] {
  if (!hybrid) return { credits_used: null, windows: 0, unbilled_windows: 0, not_applicable_reason: 'not a hybrid-table test' };
  let credits = 0;
  let count = 0;
  let unbilled = 0;
  for (const window of windows) {
    const overlap = Math.min(window.end, test.end) - Math.max(window.start, test.start);
    if (overlap <= 0) continue;
    count += 1;
    if (window.start >= HYBRID_METERING_ENDED_AT.getTime()) unbilled += 1;
    credits += (window.credits * overlap) / (window.end - window.start);
  }
  if (count === 0) return { credits_used: null, windows: 0, unbilled_windows: 0, not_applicable_reason: 'no usage rows overlap the test' };
  return { credits_used: Math.round(credits * 1e9) / 1e9, windows: count, unbilled_windows: unbilled };
}
