// Exact statistics over simulated executions, with Snowflake's definitions. AGGREGATE_QUERY_HISTORY links its
// keys to the functions that compute them (https://docs.snowflake.com/en/sql-reference/account-usage/aggregate_query_history):
// percentiles are PERCENTILE_CONT (linear interpolation between closest ranks,
// https://docs.snowflake.com/en/sql-reference/functions/percentile_cont), stddev is STDDEV, the *sample*
// standard deviation, NULL for a single value (https://docs.snowflake.com/en/sql-reference/functions/stddev).

/** PERCENTILE_CONT(fraction) over values sorted ascending. */
export function percentileCont(sorted: ArrayLike<number>, fraction: number): number {
  if (sorted.length === 0) throw new Error('percentile of no values');
  const position = fraction * (sorted.length - 1);
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  const low = sorted[lower] as number;
  const high = sorted[upper] as number;
  return low + (high - low) * (position - lower);
}

export function sortedCopy(values: readonly number[]): Float64Array {
  return Float64Array.from(values).sort();
}

export interface StatisticsObject {
  sum?: number;
  avg: number;
  /** STDDEV (sample); null for a single execution. */
  stddev: number | null;
  min: number;
  median: number;
  p90: number;
  p99: number;
  'p99.9': number;
  max: number;
}

/** One AGGREGATE_QUERY_HISTORY statistics object (keys lower case; `withSum: false` for the three without). */
export function statisticsObject(values: readonly number[], withSum = true): StatisticsObject {
  const n = values.length;
  let low = Infinity;
  let high = -Infinity;
  for (const value of values) {
    if (value < low) low = value;
    if (value > high) high = value;
  }
  // Most objects of a row are constant (zero waits, zero spill): no sort needed.
  if (low === high) {
    return { ...(withSum ? { sum: round(low * n) } : {}), avg: low, stddev: n > 1 ? 0 : null, min: low, median: low, p90: low, p99: low, 'p99.9': low, max: low };
  }
  const sorted = sortedCopy(values);
  let sum = 0;
  for (const value of sorted) sum += value;
  const avg = sum / n;
  let squares = 0;
  for (const value of sorted) squares += (value - avg) ** 2;
  const object: StatisticsObject = {
    ...(withSum ? { sum: round(sum) } : {}),
    avg: round(avg),
    stddev: round(Math.sqrt(squares / (n - 1))),
    min: sorted[0] as number,
    median: round(percentileCont(sorted, 0.5)),
    p90: round(percentileCont(sorted, 0.9)),
    p99: round(percentileCont(sorted, 0.99)),
    'p99.9': round(percentileCont(sorted, 0.999)),
    max: sorted[n - 1] as number,
  };
  return object;
}

/** Snowflake publishes these with a few decimals; keep six so sums stay exact for integer inputs. */
export function round(value: number, digits = 6): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
