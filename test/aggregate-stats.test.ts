// Combining per-minute AGGREGATE_QUERY_HISTORY statistics: exact where mathematics allows, estimated
// (mixture of the rows' CDFs) for percentiles, checked against the raw executions they came from.
import { describe, expect, it } from 'vitest';
import { combineStats, combineStatsSeedMethod, type WeightedStats } from '../src/enrichment/aggregate-stats.js';
import { percentileCont, statsOfSample } from './support/sample-stats.js';

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

function lognormal(random: () => number, median: number, sigma: number): number {
  const u = Math.max(random(), 1e-12);
  const v = random();
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  return median * Math.exp(sigma * z);
}

/** Executions split into rows the way the view does: per minute and per session. */
function simulateRows(seed: number, minutes: number, sessions: number, perRow: () => number, latency: (r: () => number, minute: number) => number) {
  const random = generator(seed);
  const all: number[] = [];
  const rows: WeightedStats[] = [];
  for (let minute = 0; minute < minutes; minute += 1) {
    for (let session = 0; session < sessions; session += 1) {
      const calls = perRow();
      if (calls === 0) continue;
      const sample = Array.from({ length: calls }, () => latency(random, minute));
      all.push(...sample);
      const stats = statsOfSample(sample);
      rows.push({ calls: stats.count, stats });
    }
  }
  return { all: Float64Array.from(all).sort(), rows };
}

const relativeError = (estimate: number | null, truth: number) => Math.abs((estimate as number) - truth) / truth;

describe('combineStats', () => {
  const callsRandom = generator(7);
  const workload = simulateRows(42, 30, 8, () => 5 + Math.floor(callsRandom() * 40), (r) => lognormal(r, 12, 0.6));

  it('combines count, sum, min, max, avg and stddev exactly', () => {
    const combined = combineStats(workload.rows);
    const truth = statsOfSample(workload.all);
    expect(combined.count).toBe(workload.all.length);
    expect(combined.sum).toBeCloseTo(truth.sum as number, 6);
    expect(combined.avg).toBeCloseTo(truth.avg as number, 9);
    expect(combined.min).toBe(truth.min);
    expect(combined.max).toBe(truth.max);
    expect(combined.stddev).toBeCloseTo(truth.stddev as number, 6);
    expect(combined.method).toBe('ORDER_STATISTICS_EM');
  });

  it('estimates percentiles close to the true ones, and closer than the seed design does', () => {
    const combined = combineStats(workload.rows);
    const seed = combineStatsSeedMethod(workload.rows);
    const truth = {
      median: percentileCont(workload.all, 0.5),
      p90: percentileCont(workload.all, 0.9),
      p95: percentileCont(workload.all, 0.95),
      p99: percentileCont(workload.all, 0.99),
    };
    for (const key of ['median', 'p90', 'p95', 'p99'] as const) {
      expect(relativeError(combined[key], truth[key]), key).toBeLessThan(0.05);
      expect(relativeError(combined[key], truth[key]), key).toBeLessThan(relativeError(seed[key], truth[key]));
    }
  });

  it('follows a latency drift over the test', () => {
    const calls = generator(3);
    const drifting = simulateRows(9, 30, 4, () => 10 + Math.floor(calls() * 20), (r, minute) => lognormal(r, 5 + minute, 0.3));
    const combined = combineStats(drifting.rows);
    expect(relativeError(combined.p95, percentileCont(drifting.all, 0.95))).toBeLessThan(0.05);
    expect(relativeError(combined.median, percentileCont(drifting.all, 0.5))).toBeLessThan(0.05);
  });

  it('stays close on a bimodal workload (cache hits and misses) where the seed method is far off', () => {
    const calls = generator(5);
    const bimodal = simulateRows(11, 30, 8, () => 5 + Math.floor(calls() * 40), (r) =>
      r() < 0.8 ? lognormal(r, 5, 0.2) : lognormal(r, 60, 0.3),
    );
    const combined = combineStats(bimodal.rows);
    const seed = combineStatsSeedMethod(bimodal.rows);
    for (const [key, q] of [['median', 0.5], ['p90', 0.9], ['p95', 0.95], ['p99', 0.99]] as const) {
      const truth = percentileCont(bimodal.all, q);
      expect(relativeError(combined[key], truth), key).toBeLessThan(0.12);
      expect(relativeError(combined[key], truth), key).toBeLessThan(relativeError(seed[key], truth));
    }
  });

  it('reports a single row exactly as published, and p95 from its CDF rather than the midpoint', () => {
    const sample = [1, 2, 3, 4, 5, 6, 7, 8, 9, 100];
    const stats = statsOfSample(sample);
    const combined = combineStats([{ calls: sample.length, stats }]);
    expect(combined.method).toBe('EXACT_SINGLE_ROW');
    expect(combined.median).toBe(stats.median);
    expect(combined.p90).toBe(stats.p90);
    expect(combined.p99).toBe(stats.p99);
    const midpoint = ((stats.p90 as number) + (stats.p99 as number)) / 2;
    expect(combined.p95).not.toBeCloseTo(midpoint, 3);
    expect(combined.p95).toBeGreaterThan(stats.p90 as number);
    expect(combined.p95).toBeLessThan(stats.p99 as number);
  });

  it('says NONE for no executions and handles point masses', () => {
    expect(combineStats([]).method).toBe('NONE');
    expect(combineStats([{ calls: 0, stats: {} }]).count).toBe(0);
    const constant = statsOfSample([4, 4, 4]);
    const combined = combineStats([
      { calls: 3, stats: constant },
      { calls: 3, stats: constant },
    ]);
    expect(combined.median).toBe(4);
    expect(combined.p99).toBe(4);
    expect(combined.stddev).toBe(0);
  });

  it('pools the rows\' sample standard deviations (STDDEV) into the sample standard deviation of all calls', () => {
    // Rows [1, 3], [5] and [2, 4, 9], hand-computed: means 2, 5, 5; sample variances 2, NULL (one call), 13.
    // All six calls: mean 4, squared deviations 9 + 1 + 1 + 4 + 0 + 25 = 40 over 5 → variance 8.
    // (The population formula on these rows would give 151 / 6 − 16 ≈ 9.17.)
    const combined = combineStats([
      { calls: 2, stats: { sum: 4, avg: 2, stddev: Math.SQRT2, min: 1, max: 3 } },
      { calls: 1, stats: { sum: 5, avg: 5, stddev: null, min: 5, max: 5 } },
      { calls: 3, stats: { sum: 15, avg: 5, stddev: Math.sqrt(13), min: 2, max: 9 } },
    ]);
    expect(combined.avg).toBe(4);
    expect(combined.stddev).toBeCloseTo(Math.sqrt(8), 9);
  });

  it('says NULL for the stddev of a single call, as STDDEV does, and 0 for two equal calls', () => {
    expect(combineStats([{ calls: 1, stats: { sum: 7, avg: 7, stddev: null, min: 7, max: 7 } }]).stddev).toBeNull();
    const twoRows = combineStats([
      { calls: 1, stats: { sum: 7, avg: 7, stddev: null, min: 7, max: 7 } },
      { calls: 1, stats: { sum: 7, avg: 7, stddev: null, min: 7, max: 7 } },
    ]);
    expect(twoRows.stddev).toBe(0);
    // Two 1-call rows 1 and 3: the sample stddev of [1, 3] is √2.
    const spread = combineStats([
      { calls: 1, stats: { sum: 1, avg: 1, stddev: null, min: 1, max: 1 } },
      { calls: 1, stats: { sum: 3, avg: 3, stddev: null, min: 3, max: 3 } },
    ]);
    expect(spread.stddev).toBeCloseTo(Math.SQRT2, 9);
  });

  it('leaves stddev unknown rather than understated when a multi-call row lacks it', () => {
    const combined = combineStats([
      { calls: 2, stats: { sum: 4, avg: 2, min: 1, max: 3 } },
      { calls: 1, stats: { sum: 5, avg: 5, min: 5, max: 5 } },
    ]);
    expect(combined.stddev).toBeNull();
    expect(combined.avg).toBe(3);
  });
});
