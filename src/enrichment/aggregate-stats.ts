// Combining AGGREGATE_QUERY_HISTORY rows (one per minute × hash × session × tag …) into one set of
// statistics per query pattern and per test. Pure functions, no I/O.
//
// What combines exactly: count (ΣCALLS), sum, min, max, avg (Σsum / ΣCALLS) and stddev through the pooled
// sample variance. What does not: percentiles. Each row only publishes min, median, p90, p99, p99.9 and max of its own
// executions; with CALLS these pin some of the row's sorted executions exactly and bound the rest
// (row-order-statistics.ts), and the combined percentile is read off the pooled distribution that the pinned
// executions and the bounded runs imply (censored-pool.ts). p95 does not exist in the view and only ever comes
// from that distribution, never from (p90 + p99) / 2.
import { CensoredPool, type PoolRow } from './censored-pool.js';
import { orderStatisticsOf } from './row-order-statistics.js';
import { runSteps, type Steps } from './steps.js';

/** One statistics OBJECT of a row (keys as Snowflake publishes them, lower case). */
export interface RowStats {
  sum?: number | null;
  avg?: number | null;
  stddev?: number | null;
  min?: number | null;
  median?: number | null;
  p90?: number | null;
  p99?: number | null;
  'p99.9'?: number | null;
  max?: number | null;
}

export interface WeightedStats {
  /** CALLS of the row: how many executions its statistics describe. */
  calls: number;
  stats: RowStats;
  /**
   * Rows with the same group share one distribution in the percentile estimate (same query pattern and stretch
   * of time); rows without one form a single group.
   */
  group?: string;
}

export interface CombinedStats {
  count: number;
  sum: number | null;
  avg: number | null;
  stddev: number | null;
  min: number | null;
  max: number | null;
  median: number | null;
  p90: number | null;
  p95: number | null;
  p99: number | null;
  p999: number | null;
  method: PercentileMethod;
}

/**
 * EXACT_SINGLE_ROW: a single source row, so its published median/p90/p99/p99.9 are exact (p95 from what the
 * row pins down). ORDER_STATISTICS_EM: several rows, percentiles of the pooled distribution estimated from the
 * executions the rows pin down and the censored runs between them (self-consistency/EM). NONE: no executions.
 * NOT_COMPUTED: percentiles not asked for.
 */
export type PercentileMethod = 'EXACT_SINGLE_ROW' | 'ORDER_STATISTICS_EM' | 'NONE' | 'NOT_COMPUTED';

const num = (value: number | null | undefined): number | undefined =>
  typeof value === 'number' && Number.isFinite(value) ? value : undefined;

/**
 * Combines rows into one set of statistics (see the module comment for what is exact and what is estimated).
 * `percentiles: false` skips the estimate (percentiles null, method NOT_COMPUTED) for statistics whose
 * percentiles nobody stores: it is the costly part.
 */
export function combineStats(rows: readonly WeightedStats[], options: { percentiles?: boolean } = {}): CombinedStats {
  return runSteps(combineStatsSteps(rows, options));
}

/** combineStats as steps (steps.ts): the percentile estimate yields between its passes. */
export function* combineStatsSteps(rows: readonly WeightedStats[], options: { percentiles?: boolean } = {}): Steps<CombinedStats> {
  const live = rows.filter((row) => row.calls > 0);
  const count = live.reduce((acc, row) => acc + row.calls, 0);
  if (count === 0) {
    return { count: 0, sum: null, avg: null, stddev: null, min: null, max: null, median: null, p90: null, p95: null, p99: null, p999: null, method: 'NONE' };
  }
  const sums = live.map((row) => num(row.stats.sum) ?? (num(row.stats.avg) !== undefined ? (num(row.stats.avg) as number) * row.calls : undefined));
  const sum = sums.every((value) => value !== undefined) ? sums.reduce<number>((acc, value) => acc + (value as number), 0) : null;
  const avg = sum === null ? null : sum / count;
  const mins = live.map((row) => num(row.stats.min)).filter((v): v is number => v !== undefined);
  const maxs = live.map((row) => num(row.stats.max)).filter((v): v is number => v !== undefined);
  const stddev = pooledStddev(live, avg);
  const exact = { count, sum, avg, stddev, min: mins.length > 0 ? Math.min(...mins) : null, max: maxs.length > 0 ? Math.max(...maxs) : null };
  if (options.percentiles === false) return { ...exact, median: null, p90: null, p95: null, p99: null, p999: null, method: 'NOT_COMPUTED' };
  const poolRows: PoolRow[] = [];
  for (const row of live) {
    poolRows.push({ ...orderStatisticsOf(row.calls, row.stats), group: row.group });
    yield;
  }
  const pool = new CensoredPool(poolRows);
  yield;
  yield* pool.fit();
  const single = live.length === 1 ? live[0] : undefined;
  const quantile = (q: number, publishedKey?: keyof RowStats) => {
    if (single && publishedKey) {
      const published = num(single.stats[publishedKey]);
      if (published !== undefined) return published;
    }
    return pool.quantile(q);
  };
  const median = quantile(0.5, 'median');
  yield;
  const p90 = quantile(0.9, 'p90');
  yield;
  const p95 = quantile(0.95);
  yield;
  const p99 = quantile(0.99, 'p99');
  yield;
  const p999 = quantile(0.999, 'p99.9');
  return {
    ...exact,
    median,
    p90,
    p95,
    p99,
    p999,
    method: pool.total === 0 ? 'NONE' : single ? 'EXACT_SINGLE_ROW' : 'ORDER_STATISTICS_EM',
  };
}

/**
 * Pooled sample standard deviation. Each row's `stddev` is Snowflake's STDDEV over the row's executions, the
 * *sample* standard deviation, NULL for a single call (AGGREGATE_QUERY_HISTORY links the key to STDDEV:
 * https://docs.snowflake.com/en/sql-reference/account-usage/aggregate_query_history,
 * https://docs.snowflake.com/en/sql-reference/functions/stddev). With n calls, mean m and sample stddev s per
 * row, the executions' sum of squares is Σ ((n−1)·s² + n·m²), so the pooled sample variance is
 * (Σ ((n−1)·s² + n·m²) − N·M²) / (N − 1). A 1-call row adds nothing to the first term; a multi-call row
 * without stddev makes the result unknown (null) rather than understated; one call in all is NULL, as STDDEV.
 */
function pooledStddev(rows: readonly WeightedStats[], mean: number | null): number | null {
  if (mean === null) return null;
  let squares = 0;
  let total = 0;
  for (const row of rows) {
    const rowMean = num(row.stats.avg) ?? (num(row.stats.sum) !== undefined ? (num(row.stats.sum) as number) / row.calls : undefined);
    const rowStd = row.calls === 1 ? 0 : num(row.stats.stddev);
    if (rowMean === undefined || rowStd === undefined) return null;
    squares += (row.calls - 1) * rowStd * rowStd + row.calls * rowMean * rowMean;
    total += row.calls;
  }
  if (total < 2) return null;
  const variance = (squares - total * mean * mean) / (total - 1);
  return Math.sqrt(Math.max(0, variance));
}

/**
 * The seed design's way (section 5.2), kept as the baseline the fidelity benchmark compares against:
 * AVG of interval averages, MAX of interval percentiles, p95 as the midpoint of p90 and p99.
 */
export function combineStatsSeedMethod(rows: readonly WeightedStats[]): Pick<CombinedStats, 'avg' | 'median' | 'p90' | 'p95' | 'p99' | 'max'> {
  const values = (key: keyof RowStats) => rows.map((row) => num(row.stats[key])).filter((v): v is number => v !== undefined);
  const maxOf = (key: keyof RowStats) => (values(key).length > 0 ? Math.max(...values(key)) : null);
  const avgs = values('avg');
  const p90 = maxOf('p90');
  const p99 = maxOf('p99');
  return {
    avg: avgs.length > 0 ? avgs.reduce((a, b) => a + b, 0) / avgs.length : null,
    median: maxOf('median'),
    p90,
    p95: p90 !== null && p99 !== null ? (p90 + p99) / 2 : null,
    p99,
    max: maxOf('max'),
  };
}
