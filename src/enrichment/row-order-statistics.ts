// What one AGGREGATE_QUERY_HISTORY statistics object says about the sorted executions of its row.
//
// A row of n calls publishes min, median, p90, p99, p99.9 and max. The percentiles are PERCENTILE_CONT
// (https://docs.snowflake.com/en/sql-reference/functions/percentile_cont, linked from the view's page
// https://docs.snowflake.com/en/sql-reference/account-usage/aggregate_query_history): the q-quantile sits at
// sorted position h = q·(n−1) and is x[⌊h⌋] + (h−⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋]). So min and max are x[0] and
// x[n−1]; a quantile at a whole position is that execution; and a quantile between two executions of which one
// is known gives the other exactly. For n ≤ 101 the p99 and p99.9 lie between x[n−2] and x[n−1], so with max
// they pin the second-largest execution; for n ≤ 11 the p90 does too, and so on down. What stays unknown are
// runs of consecutive executions between two known values: each run is interval-censored (every member lies
// between its bounds), which is all a row says about them.
import type { RowStats } from './aggregate-stats.js';

/** Consecutive executions of a row known only to lie between two values. */
export interface CensoredRun {
  count: number;
  lower: number;
  upper: number;
  /** Sorted positions (0-based, fractional for a PERCENTILE_CONT value) of the bounds within the row. */
  lowerPosition: number;
  upperPosition: number;
}

export interface RowOrderStatistics {
  calls: number;
  /** Executions whose value the row determines. */
  exact: number[];
  runs: CensoredRun[];
  /** What the runs' members add up to: the row's sum less its exact executions (undefined without sum/avg). */
  runSum?: number;
}

const QUANTILE_KEYS: ReadonlyArray<[keyof RowStats, number]> = [
  ['median', 0.5],
  ['p90', 0.9],
  ['p99', 0.99],
  ['p99.9', 0.999],
];

/** Below this share of the gap a solved execution would amplify rounding of the published values too much. */
const MIN_WEIGHT = 1e-4;

const finite = (value: number | null | undefined): number | undefined =>
  typeof value === 'number' && Number.isFinite(value) ? value : undefined;

/** The executions a row pins down, and the censored runs between them. */
export function orderStatisticsOf(calls: number, stats: RowStats): RowOrderStatistics {
  const n = Math.floor(calls);
  const known = new Map<number, number>();
  const min = finite(stats.min);
  const max = finite(stats.max);
  if (min !== undefined) known.set(0, min);
  if (max !== undefined) known.set(n - 1, max);
  const between: Array<{ low: number; weight: number; value: number }> = [];
  for (const [key, q] of QUANTILE_KEYS) {
    const value = finite(stats[key]);
    if (value === undefined) continue;
    const position = q * (n - 1);
    const low = Math.floor(position + 1e-9);
    const weight = position - low;
    if (weight < 1e-9) {
      if (!known.has(low)) known.set(low, value);
    } else {
      between.push({ low, weight, value });
    }
  }
  // value = (1 − w)·x[low] + w·x[low+1]: solve for the unknown neighbour of a known one, until nothing changes.
  const open = [...between];
  for (let changed = true; changed; ) {
    changed = false;
    for (const constraint of [...open]) {
      const { low, weight, value } = constraint;
      const lowKnown = known.get(low);
      const highKnown = known.get(low + 1);
      if (lowKnown !== undefined && highKnown !== undefined) {
        open.splice(open.indexOf(constraint), 1);
      } else if (highKnown !== undefined && 1 - weight >= MIN_WEIGHT) {
        known.set(low, (value - weight * highKnown) / (1 - weight));
        changed = true;
      } else if (lowKnown !== undefined && weight >= MIN_WEIGHT) {
        known.set(low + 1, (value - (1 - weight) * lowKnown) / weight);
        changed = true;
      }
    }
  }
  // Anchors in sorted order: known executions (whole positions) and unresolved PERCENTILE_CONT values (between).
  const anchors = [
    ...[...known.entries()].map(([position, value]) => ({ position, value, whole: true })),
    ...open.map(({ low, weight, value }) => ({ position: low + weight, value, whole: false })),
  ].sort((a, b) => a.position - b.position);
  // Published values are monotone in theory; clamp so rounding never makes them decrease.
  for (let i = 1; i < anchors.length; i += 1) {
    if (anchors[i]!.value < anchors[i - 1]!.value) anchors[i]!.value = anchors[i - 1]!.value;
  }
  const exact = anchors.filter((a) => a.whole).map((a) => a.value);
  if (anchors.length === 0) return { calls: n, exact, runs: [] };
  // Without min or max the executions beyond the outermost anchor are unbounded: they take its value.
  for (let k = 0; k < Math.ceil(anchors[0]!.position); k += 1) exact.push(anchors[0]!.value);
  for (let k = Math.floor(anchors.at(-1)!.position) + 1; k < n; k += 1) exact.push(anchors.at(-1)!.value);
  const runs: CensoredRun[] = [];
  for (let i = 0; i + 1 < anchors.length; i += 1) {
    const a = anchors[i]!;
    const b = anchors[i + 1]!;
    // Whole positions strictly between the two anchors.
    const first = Math.floor(a.position) + 1;
    const last = Math.ceil(b.position) - 1;
    const count = last - first + 1;
    if (count <= 0) continue;
    if (a.value === b.value) for (let k = 0; k < count; k += 1) exact.push(a.value);
    else runs.push({ count, lower: a.value, upper: b.value, lowerPosition: a.position, upperPosition: b.position });
  }
  const sum = finite(stats.sum) ?? (finite(stats.avg) !== undefined ? (finite(stats.avg) as number) * n : undefined);
  if (sum === undefined || runs.length === 0) return { calls: n, exact, runs };
  return { calls: n, exact, runs, runSum: sum - exact.reduce((acc, x) => acc + x, 0) };
}
