// Exact statistics over simulated executions, with Snowflake's definitions: percentiles are PERCENTILE_CONT
// (linear interpolation between closest ranks), the stddev of an AGGREGATE_QUERY_HISTORY object is the
// population stddev (what the pooled-variance combination in spec/sources.md assumes).

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
  stddev: number;
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
    return { ...(withSum ? { sum: round(low * n) } : {}), avg: low, stddev: 0, min: low, median: low, p90: low, p99: low, 'p99.9': low, max: low };
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
    stddev: round(Math.sqrt(squares / n)),
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
