// Fidelity of server-side percentiles: what the AGGREGATE enrichment stores, estimated from simulated
// AGGREGATE_QUERY_HISTORY rows (one per minute × hash × session), against the true percentiles of the
// simulated executions; next to the seed design's method (MAX of interval percentiles, AVG of averages,
// p95 as the midpoint of p90 and p99) on the very same rows.
//
//   npx tsx bench/fidelity.ts
import { combineStatsSeedMethod, type RowStats } from '../src/enrichment/aggregate-stats.js';
import { transformAggregate, type AggregateSourceRow } from '../src/enrichment/aggregate-transform.js';
import { tagBelongsToTest, testTagPrefixes } from '../src/enrichment/query-tags.js';
import { planSimulation } from '../src/simulator/simulate.js';
import { truthOf } from '../src/simulator/truth.js';
import { SHAPES } from '../src/simulator/workload.js';

const QUANTILES = [['p50', 'median', 'p50_ms'], ['p90', 'p90', 'p90_ms'], ['p95', 'p95', 'p95_ms'], ['p99', 'p99', 'p99_ms']] as const;
const SEEDS = [1, 2, 3];
const now = new Date('2025-11-20T12:00:00Z');

const rel = (estimate: number | null, truth: number | null) =>
  estimate === null || truth === null || truth === 0 ? null : Math.abs(estimate - truth) / truth;

interface Tally { ours: number[]; seed: number[] }
const byShape = new Map<string, Record<string, Tally>>();
const started = Date.now();

for (const tableType of ['HYBRID', 'STANDARD'] as const) {
  for (const shape of SHAPES) {
    const tallies: Record<string, Tally> = Object.fromEntries(QUANTILES.map(([label]) => [label, { ours: [], seed: [] }]));
    for (const seed of SEEDS) {
      const plan = planSimulation({ tableType, shape, seed, durationMinutes: 30, idSalt: `fidelity-${seed}`, background: true }, now, 1);
      const test = plan.workload.tests[0]!;
      const prefixes = testTagPrefixes(test.testId, test.runId, [{ testId: test.testId, queryTag: test.queryTagBase }]);
      const rows = (plan.rows.views.AGGREGATE_QUERY_HISTORY as unknown as AggregateSourceRow[]).filter((row) =>
        tagBelongsToTest(row.QUERY_TAG, prefixes),
      );
      const truth = truthOf(plan.workload, 0, [], tableType === 'HYBRID');
      const result = transformAggregate(rows);
      for (const pattern of result.patterns) {
        const expected = truth.patterns.find((p) => p.hash === pattern.queryParameterizedHash);
        if (!expected || expected.query_count < 20) continue;
        const seedMethod = combineStatsSeedMethod(
          rows.filter((row) => row.QUERY_PARAMETERIZED_HASH === pattern.queryParameterizedHash).map((row) => ({ calls: row.CALLS, stats: row.EXECUTION_TIME as RowStats })),
        );
        for (const [label, field, truthKey] of QUANTILES) {
          const ours = rel(pattern.exec[field], expected[truthKey]);
          const theirs = rel(seedMethod[field], expected[truthKey]);
          if (ours !== null) tallies[label]!.ours.push(ours);
          if (theirs !== null) tallies[label]!.seed.push(theirs);
        }
      }
    }
    byShape.set(`${tableType.toLowerCase()} ${shape}`, tallies);
  }
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
const pct = (value: number) => `${(value * 100).toFixed(1)}%`;
console.log('Mean relative error of per-pattern execution-time percentiles vs the true PERCENTILE_CONT of the simulated executions');
console.log(`(${SEEDS.length} seeds × 30-minute tests per row; patterns with ≥ 20 measured executions)\n`);
console.log('| workload | p50 ours / seed | p90 ours / seed | p95 ours / seed | p99 ours / seed | seed error ÷ ours (mean) |');
console.log('|---|---|---|---|---|---|');
for (const [name, tallies] of byShape) {
  const cells = QUANTILES.map(([label]) => `${pct(mean(tallies[label]!.ours))} / ${pct(mean(tallies[label]!.seed))}`);
  const ratio = mean(QUANTILES.map(([label]) => mean(tallies[label]!.seed) / Math.max(1e-9, mean(tallies[label]!.ours))));
  console.log(`| ${name} | ${cells.join(' | ')} | ${ratio.toFixed(1)}× |`);
}
console.log(`\nran in ${((Date.now() - started) / 1000).toFixed(1)} s; reproduce: npx tsx bench/fidelity.ts`);
