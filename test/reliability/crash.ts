// Crash trials: a backlog of simulated tests processed by a real service process (the real enrichment types
// over the simulated views), SIGKILLed at a random point, restarted, run to completion. Each trial must end
// with every job COMPLETED, none lost, no type over its attempt limit, and exactly the rows an uninterrupted
// run of the same backlog writes (per target table and test: more is a duplicate, fewer a loss).
// The kill points are drawn from a seeded generator, uniformly over the uninterrupted run's duration (from
// the process's "ready" to its last completion). Odd trials run with the default CLAIM_BATCH_SIZE, even ones with 1.
// --engine snowflake runs the service processes in Snowflake mode (the real snowflake-sdk against a fake account
// in this script's process, trial-backlogs.ts); both (the default) runs the trials on each engine in turn.
// Run: npx tsx test/reliability/crash.ts [--engine duckdb|snowflake|both] [--trials 20] [--jobs 10] [--seed 1] [--quick]
import { parseArgs } from 'node:util';
import { report } from './backlog.js';
import { completedJobs } from './children.js';
import { parseEngines } from './trial-backlogs.js';
import { runInterruptedTrials, trialsOnEngines } from './trials.js';

const { values } = parseArgs({
  options: { engine: { type: 'string', default: 'both' }, trials: { type: 'string' }, jobs: { type: 'string' }, seed: { type: 'string', default: '1' }, quick: { type: 'boolean', default: false } },
});
const TRIALS = Number(values.trials ?? (values.quick ? 2 : 20));
const JOBS = Number(values.jobs ?? (values.quick ? 6 : 10));
const SEED = Number(values.seed);
const MAX_ATTEMPTS = 3;
// Short leases, so the restarted process takes over the killed one's claims within seconds.
const CHILD_ENV = { CHILD_TYPES: 'real', LEASE_SECONDS: '2', MAX_CONCURRENT_JOBS: '3', MAX_ATTEMPTS: String(MAX_ATTEMPTS) };

const { figures, problems } = await trialsOnEngines(parseEngines(values.engine), JOBS, SEED, async (source) => {
  let kills = 0;
  let interruptedJobs = 0;
  const problems = await runInterruptedTrials({
    source,
    trials: TRIALS,
    seed: SEED,
    env: CHILD_ENV,
    maxAttempts: MAX_ATTEMPTS,
    async interrupt(victim, backlog, trial, atMs) {
      victim.process.kill('SIGKILL');
      await victim.exited;
      kills += 1;
      interruptedJobs += backlog.jobs.size - new Set(completedJobs(victim.events)).size;
      return { label: `trial ${trial} (kill at ${atMs} ms)`, problems: [] };
    },
  });
  return {
    figure: `${TRIALS} trials × ${JOBS} jobs, ${kills} SIGKILLs, ${interruptedJobs} jobs unfinished at a kill; every trial checked for lost jobs, duplicate or missing rows, attempts over ${MAX_ATTEMPTS}`,
    problems,
  };
});
report('crash', figures, problems);
