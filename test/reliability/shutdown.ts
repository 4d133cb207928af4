// Shutdown trials: SIGTERM to a real service process in the middle of a backlog (the real enrichment types
// over the simulated views), at a random point. Each trial must see exit 0 within the grace period (plus the
// close of the database), no claim left behind (every unfinished job PENDING, unclaimed, its unfinished types
// with their attempt given back), and, after a restart, every job COMPLETED with exactly the rows of an
// uninterrupted run. --engine as in crash.ts (Snowflake mode: the real driver against a fake account in this
// script's process; both, the default, runs each engine in turn).
// Run: npx tsx test/reliability/shutdown.ts [--engine duckdb|snowflake|both] [--trials 10] [--jobs 10] [--seed 2] [--quick]
import { parseArgs } from 'node:util';
import { queueRows, report, type QueueRow } from './backlog.js';
import { claimedJobs, completedJobs, terminate } from './children.js';
import { parseEngines } from './trial-backlogs.js';
import { runInterruptedTrials, trialsOnEngines } from './trials.js';

const { values } = parseArgs({
  options: { engine: { type: 'string', default: 'both' }, trials: { type: 'string' }, jobs: { type: 'string' }, seed: { type: 'string', default: '2' }, quick: { type: 'boolean', default: false } },
});
const TRIALS = Number(values.trials ?? (values.quick ? 2 : 10));
const JOBS = Number(values.jobs ?? (values.quick ? 6 : 10));
const SEED = Number(values.seed);
const MAX_ATTEMPTS = 3;
const GRACE_SECONDS = 2;
/** Closing the database and the HTTP server after the grace period. */
const EXIT_MARGIN_MS = 3000;
const CHILD_ENV = { CHILD_TYPES: 'real', MAX_CONCURRENT_JOBS: '3', MAX_ATTEMPTS: String(MAX_ATTEMPTS), SHUTDOWN_GRACE_SECONDS: String(GRACE_SECONDS) };

/** After a shutdown: finished jobs COMPLETED, the others handed back (PENDING, unclaimed, attempts 0). */
function releaseProblems(rows: readonly QueueRow[]): string[] {
  return rows.flatMap((row) => {
    if (row.status === 'COMPLETED') return [];
    const problems: string[] = [];
    if (row.status !== 'PENDING') problems.push(`job ${row.jobId}: ${row.status} after shutdown, expected PENDING or COMPLETED`);
    if (row.claimId !== null) problems.push(`job ${row.jobId}: still claimed (${row.claimId}) after shutdown`);
    for (const [type, state] of Object.entries(row.types)) {
      if (state.status !== 'COMPLETED' && state.attempts !== 0) problems.push(`job ${row.jobId}: ${type} kept ${state.attempts} attempts though it never failed`);
    }
    return problems;
  });
}

const { figures, problems } = await trialsOnEngines(parseEngines(values.engine), JOBS, SEED, async (source) => {
  let inFlight = 0;
  let slowestExitMs = 0;
  const problems = await runInterruptedTrials({
    source,
    trials: TRIALS,
    seed: SEED,
    env: CHILD_ENV,
    maxAttempts: MAX_ATTEMPTS,
    async interrupt(child, backlog, trial, atMs) {
      const unfinished = new Set(claimedJobs(child.events));
      for (const job of completedJobs(child.events)) unfinished.delete(job);
      inFlight += unfinished.size;
      const { code, ms } = await terminate(child);
      slowestExitMs = Math.max(slowestExitMs, ms);
      const found: string[] = [];
      if (code !== 0) found.push(`exit ${code}: ${child.stderr().slice(-300)}`);
      if (ms > GRACE_SECONDS * 1000 + EXIT_MARGIN_MS) found.push(`exit took ${Math.round(ms)} ms, grace ${GRACE_SECONDS} s`);
      found.push(...(await backlog.read(async (warehouse) => releaseProblems(await queueRows(warehouse)))));
      return { label: `trial ${trial} (SIGTERM at ${atMs} ms, ${unfinished.size} jobs in flight)`, problems: found };
    },
  });
  return {
    figure: `${TRIALS} trials × ${JOBS} jobs, ${inFlight} jobs in flight at a SIGTERM, slowest exit ${Math.round(slowestExitMs)} ms (grace ${GRACE_SECONDS} s)`,
    problems,
  };
});
report('shutdown', figures, problems);
