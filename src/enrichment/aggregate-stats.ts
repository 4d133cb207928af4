// Combining AGGREGATE_QUERY_HISTORY rows (one per minute × hash × session × tag …) into one set of
// statistics per query pattern and per test. Pure functions, no I/O.
//
// What combines exactly: count (ΣCALLS), sum, min, max, avg (Σsum / ΣCALLS) and stddev through the pooled
// sample variance. What does not: percentiles. Each row only publishes min, median, p90, p99, p99.9 and max of its own
// executions; the combined percentile is estimated from the mixture of the rows' distributions: every row's
// known points define a monotone piecewise-linear CDF, rows are weighted by CALLS, and the mixture CDF is
// inverted. p95 does not exist in the view and only ever comes from that mixture, never from (p90 + p99) / 2.

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
 * EXACT: a single source row, so its published median/p90/p99/p99.9 are exact (p95 interpolated on its CDF).
 * MIXTURE_CDF: several rows, percentiles estimated from the CALLS-weighted mixture of their CDFs.
 * NONE: no executions.
 */
export type PercentileMethod = 'EXACT_SINGLE_ROW' | 'MIXTURE_CDF' | 'NONE';

const num = (value: number | null | undefined): number | undefined =>
  typeof value === 'number' && Number.isFinite(value) ? value : undefined;

/** A monotone piecewise-linear CDF through a row's published points. */
interface RowCdf {
  weight: number;
  xs: number[];
  ps: number[];
}

const KNOWN_POINTS: ReadonlyArray<[keyof RowStats, number]> = [
  ['min', 0],
  ['median', 0.5],
  ['p90', 0.9],
  ['p99', 0.99],
  ['p99.9', 0.999],
  ['max', 1],
];

/**
 * Where a PERCENTILE_CONT value sits in the empirical distribution of n executions: the q-quantile is at
 * sorted position q·(n−1), whose mid-rank cumulative share is (q·(n−1) + ½)/n. For small rows this matters
 * a lot (a 20-call row's p99 lies at about the 97th percentile of its executions, not the 99th).
 */
export function plottingPosition(q: number, n: number): number {
  return (q * (n - 1) + 0.5) / n;
}

function rowCdf(row: WeightedStats): RowCdf | undefined {
  if (!(row.calls > 0)) return undefined;
  const xs: number[] = [];
  const ps: number[] = [];
  for (const [key, q] of KNOWN_POINTS) {
    const x = num(row.stats[key]);
    if (x === undefined) continue;
    // Published points are monotone in theory; clamp so rounding never makes the CDF decrease.
    const previous = xs.at(-1);
    xs.push(previous !== undefined && x < previous ? previous : x);
    ps.push(plottingPosition(q, row.calls));
  }
  if (xs.length === 0) return undefined;
  return { weight: row.calls, xs, ps };
}

/**
 * P(X <= x) for one row's CDF. Between two published points the CDF is interpolated as locally log-normal
 * (linear in log x against the normal quantile of p): latency tails are right-skewed, and straight-line
 * interpolation between p90 and p99 puts p95 about 20 % too high on a log-normal workload. Where a point is
 * not positive, the interpolation falls back to a straight line.
 */
function cdfAt(cdf: RowCdf, x: number): number {
  const { xs, ps } = cdf;
  if (x < (xs[0] as number)) return 0;
  // The row's smallest and largest executions carry the remaining half-steps of mass at min and max.
  if (x >= (xs.at(-1) as number)) return 1;
  for (let i = 0; i < xs.length - 1; i += 1) {
    const x0 = xs[i] as number;
    const x1 = xs[i + 1] as number;
    if (x >= x1) continue;
    const p0 = ps[i] as number;
    const p1 = ps[i + 1] as number;
    if (x1 === x0) return p1;
    if (x0 > 0) {
      const t = Math.log(x / x0) / Math.log(x1 / x0);
      const z0 = normalQuantile(p0);
      const z1 = normalQuantile(p1);
      return normalCdf(z0 + t * (z1 - z0));
    }
    return p0 + ((x - x0) / (x1 - x0)) * (p1 - p0);
  }
  return ps.at(-1) as number;
}

/** Standard normal CDF (Abramowitz & Stegun 7.1.26 through erf; absolute error below 1.5e-7). */
export function normalCdf(z: number): number {
  const t = 1 / (1 + 0.3275911 * (Math.abs(z) / Math.SQRT2));
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-(z * z) / 2);
  return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

/** Inverse of the standard normal CDF (Acklam's rational approximation; relative error below 1.2e-9). */
export function normalQuantile(p: number): number {
  if (p <= 0) return -Infinity;
  if (p >= 1) return Infinity;
  const a = [-39.69683028665376, 220.9460984245205, -275.928510446969, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  const tail = (q: number) =>
    (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  if (p < low) return tail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - low) return -tail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) /
    (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}

/**
 * The q-quantile (PERCENTILE_CONT sense) of all executions behind the rows: the smallest x at which the
 * CALLS-weighted mixture CDF reaches q's plotting position among all N executions (bisection; monotone CDF).
 */
function mixtureQuantile(cdfs: readonly RowCdf[], q: number): number | null {
  if (cdfs.length === 0) return null;
  const total = cdfs.reduce((acc, cdf) => acc + cdf.weight, 0);
  const target = plottingPosition(q, total);
  let lo = Math.min(...cdfs.map((cdf) => cdf.xs[0] as number));
  let hi = Math.max(...cdfs.map((cdf) => cdf.xs.at(-1) as number));
  if (lo === hi) return lo;
  const mixture = (x: number) => cdfs.reduce((acc, cdf) => acc + cdf.weight * cdfAt(cdf, x), 0) / total;
  if (mixture(lo) >= target) return lo;
  for (let i = 0; i < 200 && hi - lo > 1e-9 * Math.max(1, Math.abs(hi)); i += 1) {
    const mid = (lo + hi) / 2;
    if (mixture(mid) >= target) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** Combines rows into one set of statistics (see the module comment for what is exact and what is estimated). */
export function combineStats(rows: readonly WeightedStats[]): CombinedStats {
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
  const cdfs = live.map(rowCdf).filter((cdf): cdf is RowCdf => cdf !== undefined);
  const single = live.length === 1 ? live[0] : undefined;
  const quantile = (q: number, publishedKey?: keyof RowStats) => {
    if (single && publishedKey) {
      const published = num(single.stats[publishedKey]);
      if (published !== undefined) return published;
    }
    return mixtureQuantile(cdfs, q);
  };
  return {
    count,
    sum,
    avg,
    stddev,
    min: mins.length > 0 ? Math.min(...mins) : null,
    max: maxs.length > 0 ? Math.max(...maxs) : null,
    median: quantile(0.5, 'median'),
    p90: quantile(0.9, 'p90'),
    p95: quantile(0.95),
    p99: quantile(0.99, 'p99'),
    p999: quantile(0.999, 'p99.9'),
    method: cdfs.length === 0 ? 'NONE' : single ? 'EXACT_SINGLE_ROW' : 'MIXTURE_CDF',
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
