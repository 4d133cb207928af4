// Fidelity of server-side percentiles: what the AGGREGATE enrichment stores, estimated from simulated
// AGGREGATE_QUERY_HISTORY rows (one per minute × hash × session), against the exact PERCENTILE_CONT of the
// simulated executions of the measurement phase (src/simulator/truth.ts); next to the seed design's method
// (MAX of interval percentiles, p95 as the midpoint of p90 and p99) on the very same rows. Both levels the
// service publishes are scored: test level (every pattern together) and per pattern.
//
//   npx tsx bench/fidelity.ts [--seeds 1,2,3,4] [--minutes 30]
import { isDeepStrictEqual, parseArgs } from 'node:util';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { combineStatsSeedMethod, type CombinedStats, type RowStats } from '../src/enrichment/aggregate-stats.js';
import { transformAggregate, transformAggregateYielding, type AggregateSourceRow } from '../src/enrichment/aggregate-transform.js';
import { tagBelongsToTest, testTagPrefixes } from '../src/enrichment/query-tags.js';
import { planSimulation } from '../src/simulator/simulate.js';
import { truthOf, type LatencySummary } from '../src/simulator/truth.js';
import { SHAPES } from '../src/simulator/workload.js';

const { values: args } = parseArgs({ options: { seeds: { type: 'string', default: '1,2,3,4' }, minutes: { type: 'string', default: '30' } } });
const SEEDS = (args.seeds as string).split(',').map(Number);
const MINUTES = Number(args.minutes);
const QUANTILES = [['p50', 'median', 'p50_ms'], ['p90', 'p90', 'p90_ms'], ['p95', 'p95', 'p95_ms'], ['p99', 'p99', 'p99_ms']] as const;
const GOAL = { median: 0.02, worst: 0.1, ratio: 20 };
const now = new Date('2025-11-20T12:00:00Z');

interface Estimate { workload: string; seed: number; level: string; quantile: string; ours: number; seedMethod: number }
const estimates: Estimate[] = [];
const started = Date.now();
/** The test with the most rows: the one whose transform blocks longest. */
let largest: { workload: string; seed: number; rows: AggregateSourceRow[] } | undefined;

const rel = (estimate: number | null, truth: number | null) =>
  estimate === null || truth === null || truth === 0 ? null : Math.abs(estimate - truth) / truth;

function score(workload: string, seed: number, level: string, ours: CombinedStats, seedMethod: ReturnType<typeof combineStatsSeedMethod>, truth: LatencySummary) {
  for (const [label, field, truthKey] of QUANTILES) {
    const mine = rel(ours[field], truth[truthKey]);
    const theirs = rel(seedMethod[field], truth[truthKey]);
    if (mine !== null && theirs !== null) estimates.push({ workload, seed, level, quantile: label, ours: mine, seedMethod: theirs });
  }
}

for (const tableType of ['HYBRID', 'STANDARD'] as const) {
  for (const shape of SHAPES) {
    const workload = `${tableType.toLowerCase()} ${shape}`;
    for (const seed of SEEDS) {
      const plan = planSimulation({ tableType, shape, seed, durationMinutes: MINUTES, idSalt: `fidelity-${seed}`, background: true }, now, 1);
      const test = plan.workload.tests[0]!;
      const prefixes = testTagPrefixes(test.testId, test.runId, [{ testId: test.testId, queryTag: test.queryTagBase }]);
      const rows = (plan.rows.views.AGGREGATE_QUERY_HISTORY as unknown as AggregateSourceRow[]).filter((row) => tagBelongsToTest(row.QUERY_TAG, prefixes));
      const truth = truthOf(plan.workload, 0, [], tableType === 'HYBRID');
      const result = transformAggregate(rows);
      if (!largest || rows.length > largest.rows.length) largest = { workload, seed, rows };
      const weighted = (subset: readonly AggregateSourceRow[]) => subset.map((row) => ({ calls: row.CALLS, stats: row.EXECUTION_TIME as RowStats }));
      score(workload, seed, 'test', result.test, combineStatsSeedMethod(weighted(rows)), truth.overall);
      for (const pattern of result.patterns) {
        const expected = truth.patterns.find((p) => p.hash === pattern.queryParameterizedHash);
        if (!expected || expected.query_count < 20) continue;
        const own = rows.filter((row) => row.QUERY_PARAMETERIZED_HASH === pattern.queryParameterizedHash);
        score(workload, seed, expected.query_kind, pattern.exec, combineStatsSeedMethod(weighted(own)), expected);
      }
    }
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
const worst = (values: number[]) => Math.max(...values);
const pct = (value: number) => `${(value * 100).toFixed(1)}%`;
const summary = (subset: Estimate[]) => {
  const ours = subset.map((e) => e.ours);
  const theirs = subset.map((e) => e.seedMethod);
  return { n: subset.length, median: median(ours), worst: worst(ours), mean: mean(ours), seedMedian: median(theirs), seedMean: mean(theirs), ratio: mean(theirs) / Math.max(1e-12, mean(ours)) };
};

console.log('Relative error of execution-time percentiles (p50, p90, p95, p99) against the exact PERCENTILE_CONT of the simulated');
console.log(`executions: ${SEEDS.length} seeds (${SEEDS.join(', ')}) × ${MINUTES}-minute tests per workload; test level and every pattern with ≥ 20 calls.\n`);
console.log('| workload | estimates | test level: median / worst | per pattern: median / worst | seed method: median / worst | seed ÷ ours (mean error) |');
console.log('|---|---|---|---|---|---|');
const workloads = [...new Set(estimates.map((e) => e.workload))];
let lowestRatio = Infinity;
for (const workload of workloads) {
  const all = estimates.filter((e) => e.workload === workload);
  const test = summary(all.filter((e) => e.level === 'test'));
  const patterns = summary(all.filter((e) => e.level !== 'test'));
  const overall = summary(all);
  lowestRatio = Math.min(lowestRatio, overall.ratio);
  console.log(`| ${workload} | ${overall.n} | ${pct(test.median)} / ${pct(test.worst)} | ${pct(patterns.median)} / ${pct(patterns.worst)} | ${pct(overall.seedMedian)} / ${pct(worst(all.map((e) => e.seedMethod)))} | ${overall.ratio.toFixed(0)}× |`);
}

console.log('\n| quantile | test level: median / worst | per pattern: median / worst |');
console.log('|---|---|---|');
for (const [label] of QUANTILES) {
  const test = summary(estimates.filter((e) => e.quantile === label && e.level === 'test'));
  const patterns = summary(estimates.filter((e) => e.quantile === label && e.level !== 'test'));
  console.log(`| ${label} | ${pct(test.median)} / ${pct(test.worst)} | ${pct(patterns.median)} / ${pct(patterns.worst)} |`);
}

const overall = summary(estimates);
const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');
console.log(`\nall ${overall.n} estimates: median ${pct(overall.median)} (goal ≤ ${pct(GOAL.median)}: ${verdict(overall.median <= GOAL.median)}), ` +
  `worst ${pct(overall.worst)} (goal ≤ ${pct(GOAL.worst)}: ${verdict(overall.worst <= GOAL.worst)}), ` +
  `lowest seed ÷ ours over workloads ${lowestRatio.toFixed(1)}× (goal ≥ ${GOAL.ratio}×: ${verdict(lowestRatio >= GOAL.ratio)})`);
const overGoal = estimates.filter((e) => e.ours > GOAL.worst);
console.log(`${overGoal.length} of ${overall.n} estimates above ${pct(GOAL.worst)} (${overGoal.filter((e) => e.level === 'test').length} at test level); largest errors:`);
for (const e of [...estimates].sort((a, b) => b.ours - a.ours).slice(0, 8)) {
  console.log(`  ${pct(e.ours)}  ${e.workload}, seed ${e.seed}, ${e.level} ${e.quantile} (seed method ${pct(e.seedMethod)})`);
}
// How long the transform holds the event loop: straight through, and as the service runs it (yielding).
if (largest) {
  const syncStart = performance.now();
  const straight = transformAggregate(largest.rows);
  const syncMs = performance.now() - syncStart;
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const yieldStart = performance.now();
  const yielded = await transformAggregateYielding(largest.rows);
  const yieldMs = performance.now() - yieldStart;
  delay.disable();
  console.log(`\nlargest test (${largest.workload}, seed ${largest.seed}, ${largest.rows.length} rows): transform ${syncMs.toFixed(0)} ms in one synchronous run; ` +
    `yielding: ${yieldMs.toFixed(0)} ms in all, longest event-loop delay ${(delay.max / 1e6).toFixed(1)} ms, result ${isDeepStrictEqual(straight, yielded) ? 'identical' : 'DIFFERENT'}`);
}
console.log(`\nran in ${((Date.now() - started) / 1000).toFixed(1)} s; reproduce: npx tsx bench/fidelity.ts --seeds ${SEEDS.join(',')} --minutes ${MINUTES}`);
