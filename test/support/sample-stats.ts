// The statistics object AGGREGATE_QUERY_HISTORY would publish for a sample of executions (STDDEV, the sample
// standard deviation, NULL for one value; PERCENTILE_CONT percentiles), unrounded, for tests of the estimator.
import type { RowStats } from '../../src/enrichment/aggregate-stats.js';
import { percentileCont, sortedCopy } from '../../src/simulator/statistics.js';

export { percentileCont, sortedCopy };

export function statsOfSample(values: ArrayLike<number>): RowStats & { count: number } {
  const sorted = sortedCopy(Array.from(values));
  const n = sorted.length;
  const sum = sorted.reduce((a, b) => a + b, 0);
  const avg = sum / n;
  const variance = sorted.reduce((acc, v) => acc + (v - avg) * (v - avg), 0) / (n - 1);
  return {
    count: n,
    sum,
    avg,
    stddev: n > 1 ? Math.sqrt(variance) : null,
    min: sorted[0] as number,
    median: percentileCont(sorted, 0.5),
    p90: percentileCont(sorted, 0.9),
    p99: percentileCont(sorted, 0.99),
    'p99.9': percentileCont(sorted, 0.999),
    max: sorted[n - 1] as number,
  };
}
