// What a row's PERCENTILE_CONT values pin down, checked on hand-computed rows, and the pooled estimate on a
// workload with a small slow mode (the case the mixture of interpolated CDFs got wrong).
import { describe, expect, it } from 'vitest';
import { combineStats, combineStatsSeedMethod, type WeightedStats } from '../src/enrichment/aggregate-stats.js';
import { orderStatisticsOf } from '../src/enrichment/row-order-statistics.js';
import { percentileCont, statsOfSample } from './support/sample-stats.js';

describe('orderStatisticsOf', () => {
  it('solves the top executions of a small row from max, p99 and p90 (PERCENTILE_CONT positions)', () => {
    // Sorted [1, 2, 3, 10, 50], n = 5, positions q·4: median x[2] = 3; p90 at 3.6 = 10 + 0.6·40 = 34;
    // p99 at 3.96 = 10 + 0.96·40 = 48.4; p99.9 at 3.996 = 49.84. With max = 50, p90 gives x[3] = (34 − 0.6·50)/0.4 = 10.
    const row = orderStatisticsOf(5, { sum: 66, avg: 13.2, min: 1, median: 3, p90: 34, p99: 48.4, 'p99.9': 49.84, max: 50 });
    expect([...row.exact].sort((a, b) => a - b)).toEqual([1, 3, 10, 50].map((x) => expect.closeTo(x, 9)));
    // Only x[1] is unknown: between min and median; the sum says it is 66 − 64 = 2.
    expect(row.runs).toEqual([{ count: 1, lower: 1, upper: 3, lowerPosition: 0, upperPosition: 2 }]);
    expect(row.runSum).toBeCloseTo(2, 9);
  });

  it('keeps a PERCENTILE_CONT value between two unknown executions as a split point with known counts', () => {
    // Sorted [1, 2, 3, 5, 8, 10], n = 6, positions q·5: median at 2.5 = 4 (x[2], x[3] both unknown); p90 at 4.5
    // = 8 + 0.5·2 = 9 → x[4] = (9 − 0.5·10) / 0.5 = 8; p99 at 4.95 = 9.9; p99.9 at 4.995 = 9.99.
    const row = orderStatisticsOf(6, { min: 1, median: 4, p90: 9, p99: 9.9, 'p99.9': 9.99, max: 10 });
    expect([...row.exact].sort((a, b) => a - b)).toEqual([1, 8, 10].map((x) => expect.closeTo(x, 9)));
    // x[1], x[2] lie between min and the median, x[3] between the median and x[4].
    expect(row.runs).toEqual([
      { count: 2, lower: 1, upper: 4, lowerPosition: 0, upperPosition: 2.5 },
      { count: 1, lower: 4, upper: expect.closeTo(8, 9), lowerPosition: 2.5, upperPosition: 4 },
    ]);
  });

  it('knows every execution of a constant row and of one call', () => {
    expect(orderStatisticsOf(3, { min: 4, median: 4, p90: 4, p99: 4, 'p99.9': 4, max: 4 })).toMatchObject({ exact: [4, 4, 4], runs: [] });
    expect(orderStatisticsOf(1, { min: 7, median: 7, p90: 7, p99: 7, 'p99.9': 7, max: 7 })).toMatchObject({ exact: [7], runs: [] });
  });
});

/** mulberry32: a small seeded generator, so every run sees the same samples. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const lognormal = (random: () => number, median: number, sigma: number) =>
  median * Math.exp(sigma * Math.sqrt(-2 * Math.log(Math.max(random(), 1e-12))) * Math.cos(2 * Math.PI * random()));

describe('percentiles across rows with a small slow mode', () => {
  // 240 rows of 30–70 calls: 96.5 % near 10 ms, 3.5 % near 400 ms, nothing in between. True p95 sits in the fast
  // mode's top; an interpolation between a row's p90 (fast) and its p99 (slow) puts calls into the empty gap.
  const random = generator(17);
  const all: number[] = [];
  const rows: WeightedStats[] = [];
  for (let r = 0; r < 240; r += 1) {
    const calls = 30 + Math.floor(random() * 40);
    const sample = Array.from({ length: calls }, () => (random() < 0.035 ? lognormal(random, 400, 0.1) : lognormal(random, 10, 0.2)));
    all.push(...sample);
    rows.push({ calls, stats: statsOfSample(sample) });
  }
  const sorted = Float64Array.from(all).sort();
  const combined = combineStats(rows);
  const seed = combineStatsSeedMethod(rows);

  it('stay within 3 % of the true PERCENTILE_CONT at p50, p90, p95 and p99, and put nothing into the gap', () => {
    for (const [key, q] of [['median', 0.5], ['p90', 0.9], ['p95', 0.95], ['p99', 0.99]] as const) {
      const truth = percentileCont(sorted, q);
      const error = Math.abs((combined[key] as number) - truth) / truth;
      expect(error, key).toBeLessThan(0.03);
      expect(error, key).toBeLessThan(Math.abs((seed[key] as number) - truth) / truth / 20);
    }
    // No true call lies between 25 and 200 ms; p95 must not land there.
    expect(sorted.filter((x) => x > 25 && x < 200).length).toBe(0);
    expect(combined.p95).toBeLessThan(25);
  });
});

describe('percentiles across query patterns', () => {
  // Two patterns of one test: A spread around 10 ms, B tight around 14 ms, in rows of 40 calls. A's unknown
  // executions lie between its own known ones; pooled with B they would be drawn towards B's 14 ms.
  const random = generator(23);
  const all: number[] = [];
  const rows: WeightedStats[] = [];
  for (let r = 0; r < 200; r += 1) {
    const pattern = r % 2 === 0 ? 'A' : 'B';
    const sample = Array.from({ length: 40 }, () => (pattern === 'A' ? lognormal(random, 10, 0.4) : lognormal(random, 14, 0.03)));
    all.push(...sample);
    rows.push({ calls: 40, stats: statsOfSample(sample), group: pattern });
  }
  const sorted = Float64Array.from(all).sort();

  it('keep each pattern\'s rows apart when the test-level distribution is estimated', () => {
    const combined = combineStats(rows);
    for (const [key, q] of [['median', 0.5], ['p90', 0.9], ['p95', 0.95], ['p99', 0.99]] as const) {
      const truth = percentileCont(sorted, q);
      expect(Math.abs((combined[key] as number) - truth) / truth, key).toBeLessThan(0.02);
    }
  });
});
