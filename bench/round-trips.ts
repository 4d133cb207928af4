// Round trips per job on Snowflake, counted at the driver against the fake endpoint (issue 10's goals):
// the real processor and enrichment modules drain due jobs through snowflake-sdk, and every HTTP request the
// fake endpoint receives meanwhile is one round trip, split into claim, reads, writes (whole transactions,
// BEGIN/COMMIT included), lease renewals and other (wake-up queries, session logins and setup, telemetry).
// Baseline, in the same run on a fresh account with the same data: the seed design's processor
// (bench/seed-design.ts), every statement its own request. How it is measured: bench/round-trip-count.ts.
// Scenarios: one due hybrid job (5 types), one due standard job (3 types), then each backlog size (jobs due
// together; table types in turn HYBRID, STANDARD, INTERACTIVE, DYNAMIC, UNISTORE, so all five types run).
// Exits non-zero when a job did not reach COMPLETED or the counts do not add up: no figures from a broken run.
// Run: npx tsx bench/round-trips.ts [--backlogs 50[,100]] [--concurrency 3] [--batch 25] [--pool 4] [--trace]
// (--batch is CLAIM_BATCH_SIZE: jobs due together share their reads and writes, statement-batcher.ts.)
import '../test/support/loopback-guard.js';
import { parseArgs } from 'node:util';
import type { TableType } from '../src/queue/plan.js';
import { CATEGORIES, measure, type Measurement, type Scenario } from './round-trip-count.js';

const { values } = parseArgs({
  options: {
    backlogs: { type: 'string', default: '50' },
    concurrency: { type: 'string', default: '3' },
    batch: { type: 'string', default: '25' },
    pool: { type: 'string', default: '4' },
    /** Also print every query request of the single-job runs, in arrival order. */
    trace: { type: 'boolean', default: false },
  },
});
const BACKLOG_MIX: readonly TableType[] = ['HYBRID', 'STANDARD', 'INTERACTIVE', 'DYNAMIC', 'UNISTORE'];
const backlogs = values.backlogs!.split(',').filter((size) => size !== '').map(Number);
if (backlogs.some((size) => !Number.isInteger(size) || size < 1)) throw new Error(`--backlogs takes positive integers: ${values.backlogs}`);
const env = { MAX_CONCURRENT_JOBS: values.concurrency!, CLAIM_BATCH_SIZE: values.batch!, SNOWFLAKE_POOL_SIZE: values.pool! };

const scenarios: Scenario[] = [
  { name: '1 due job, HYBRID (5 types)', tableTypes: ['HYBRID'] },
  { name: '1 due job, STANDARD (3 types)', tableTypes: ['STANDARD'] },
  ...backlogs.map((size) => ({ name: `${size} due together`, tableTypes: Array.from({ length: size }, (_, i) => BACKLOG_MIX[i % BACKLOG_MIX.length]!) })),
];

/** Why a measurement cannot be reported (empty: it can). */
function problemsOf(m: Measurement): string[] {
  const problems: string[] = [];
  if (m.completed !== m.jobs) problems.push(`${m.jobs - m.completed} of ${m.jobs} jobs did not reach COMPLETED`);
  const sum = CATEGORIES.reduce((total, category) => total + m.byCategory[category], 0);
  if (sum !== m.requests) problems.push(`categories add up to ${sum}, the fake received ${m.requests} requests`);
  if (m.adapterRoundTrips !== m.queryRequests) problems.push(`the adapter counted ${m.adapterRoundTrips} round trips, the fake ${m.queryRequests} query requests`);
  return problems;
}

const fmt = (n: number) => n.toFixed(2);
const results: Array<{ scenario: Scenario; ours: Measurement; seed: Measurement }> = [];
let failed = false;
for (const scenario of scenarios) {
  const ours = await measure(scenario, 'ours', env);
  const seed = await measure(scenario, 'seed', env);
  for (const m of [ours, seed]) {
    const problems = problemsOf(m);
    if (problems.length > 0) {
      failed = true;
      console.error(`${scenario.name}, ${m.side}: ${problems.join('; ')}`);
    }
  }
  results.push({ scenario, ours, seed });
  console.error(`  measured: ${scenario.name} (ours ${fmt(ours.seconds)} s, seed ${fmt(seed.seconds)} s)`);
}
if (failed) {
  console.error('a run was broken: no figures reported');
  process.exit(1);
}

console.log(`Round trips (HTTP requests the driver sent to the fake endpoint) while the queue drained; MAX_CONCURRENT_JOBS=${env.MAX_CONCURRENT_JOBS}, CLAIM_BATCH_SIZE=${env.CLAIM_BATCH_SIZE}, SNOWFLAKE_POOL_SIZE=${env.SNOWFLAKE_POOL_SIZE}`);
console.log('| scenario | processor | jobs | types run | round trips | per job | per type | claim | reads | writes (BEGIN/COMMIT) | lease | other | per job ours/seed |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const { scenario, ours, seed } of results) {
  for (const m of [seed, ours]) {
    const c = m.byCategory;
    console.log(
      `| ${scenario.name} | ${m.side === 'ours' ? 'this processor' : 'seed design'} | ${m.jobs} | ${m.types} | ${m.requests} | ${fmt(m.requests / m.jobs)} | ${fmt(m.requests / m.types)} | ` +
        `${c.claim} | ${c.reads} | ${c.writes} (${m.transactionControl}) | ${c.lease} | ${c.other} | ${m.side === 'ours' ? fmt(ours.requests / seed.requests) : '1.00'} |`,
    );
  }
}

console.log('\nSingle due job, this processor, query requests by type in run order (logins and telemetry are not per type):');
console.log('| job | segment | claim | reads | writes | lease | other | total |');
console.log('|---|---|---|---|---|---|---|---|');
for (const { scenario, ours } of results) {
  if (scenario.tableTypes.length === 1 && ours.perType === undefined) {
    console.log(`| ${scenario.tableTypes[0]} | not available: the writes do not line up with the types (see --trace) | | | | | | |`);
  }
  for (const row of ours.perType ?? []) {
    const c = row.byCategory;
    console.log(`| ${scenario.tableTypes[0]} | ${row.segment} | ${c.claim} | ${c.reads} | ${c.writes} | ${c.lease} | ${c.other} | ${row.total} |`);
  }
}
console.log('\nOther, by request or statement (this processor):');
for (const { scenario, ours } of results) {
  console.log(`  ${scenario.name}: ${Object.entries(ours.otherDetail).map(([what, n]) => `${what} ${n}`).join(', ')}`);
}

if (values.trace) {
  for (const { scenario, ours, seed } of results.filter(({ scenario }) => scenario.tableTypes.length === 1)) {
    for (const m of [ours, seed]) console.log(`\n${scenario.name}, ${m.side}, query requests in arrival order:\n  ${m.sequence.join('\n  ')}`);
  }
}

const single = results.filter(({ scenario }) => scenario.tableTypes.length === 1);
const backlog = results.filter(({ scenario }) => scenario.tableTypes.length >= 50);
console.log(
  `\ngoal ≤ 2 per type for a single due job: ${single.map(({ scenario, ours }) => `${scenario.tableTypes[0]} ${fmt(ours.requests / ours.types)}`).join(', ')}` +
    (backlog.length > 0 ? `; goal ≤ 1 per job with ≥ 50 due together: ${backlog.map(({ ours }) => `${ours.jobs} jobs ${fmt(ours.requests / ours.jobs)}`).join(', ')}` : ''),
);

const summary = {
  settings: env,
  scenarios: results.map(({ scenario, ours, seed }) => ({
    name: scenario.name,
    jobs: ours.jobs,
    types: ours.types,
    ratio_per_job_to_seed: Number((ours.requests / seed.requests).toFixed(3)),
    ...Object.fromEntries(
      [ours, seed].map((m) => [
        m.side,
        {
          round_trips: m.requests,
          per_job: Number((m.requests / m.jobs).toFixed(3)),
          per_type: Number((m.requests / m.types).toFixed(3)),
          by_category: m.byCategory,
          transaction_control: m.transactionControl,
          query_requests: m.queryRequests,
          adapter_round_trips: m.adapterRoundTrips,
          other: m.otherDetail,
          ...(m.perType ? { per_type_in_run_order: m.perType } : {}),
          seconds: Number(m.seconds.toFixed(2)),
        },
      ]),
    ),
  })),
};
console.log(`\nJSON ${JSON.stringify(summary)}`);
