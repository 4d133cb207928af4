// Crash trials: a backlog of simulated tests processed by a real service process (the real enrichment types
// over the simulated views), SIGKILLed at a random point, restarted, run to completion. Each trial must end
// with every job COMPLETED, none lost, no type over its attempt limit, and exactly the rows an uninterrupted
// run of the same backlog writes (per target table and test: more is a duplicate, fewer a loss).
// The kill points are drawn from a seeded generator, uniformly over the uninterrupted run's duration (from
// the process's "ready" to its last completion).
// Run: npx tsx test/reliability/crash.ts [--trials 20] [--jobs 10] [--seed 1] [--quick]
import { parseArgs } from 'node:util';
import { Random } from '../../src/simulator/random.js';
import { completedJobs, killChildren, startChild, stop, untilAllComplete } from './children.js';
import { copyBacklog, queueProblems, queueRows, report, rowCountProblems, seedBacklog, targetRowCounts, withDatabase } from './backlog.js';

const { values } = parseArgs({
  options: { trials: { type: 'string' }, jobs: { type: 'string' }, seed: { type: 'string', default: '1' }, quick: { type: 'boolean', default: false } },
});
const TRIALS = Number(values.trials ?? (values.quick ? 2 : 20));
const JOBS = Number(values.jobs ?? (values.quick ? 6 : 10));
const SEED = Number(values.seed);
const MAX_ATTEMPTS = 3;
// Short leases, so the restarted process takes over the killed one's claims within seconds.
const CHILD_ENV = { CHILD_TYPES: 'real', LEASE_SECONDS: '2', MAX_CONCURRENT_JOBS: '3', MAX_ATTEMPTS: String(MAX_ATTEMPTS) };

const template = await seedBacklog(JOBS, SEED);
const problems: string[] = [];
let kills = 0;
let interruptedJobs = 0;
try {
  // The uninterrupted run: its duration sets the range of kill points, its rows are the reference.
  const clean = copyBacklog(template);
  const first = await startChild(clean.dir, CHILD_ENV);
  const started = performance.now(); // from "ready", as the kill delays are
  await untilAllComplete(first, new Set(), clean);
  const cleanMs = performance.now() - started;
  await stop(first);
  const reference = await withDatabase(clean.file, targetRowCounts);
  clean.remove();
  if (reference.size === 0) throw new Error('the uninterrupted run wrote no rows: nothing to compare with');

  const random = new Random(SEED);
  for (let trial = 1; trial <= TRIALS; trial += 1) {
    const backlog = copyBacklog(template);
    try {
      const killAfterMs = Math.round(random.next() * cleanMs);
      const victim = await startChild(backlog.dir, CHILD_ENV);
      await new Promise((resolve) => setTimeout(resolve, killAfterMs));
      victim.process.kill('SIGKILL');
      await victim.exited;
      kills += 1;
      const done = new Set(completedJobs(victim.events));
      interruptedJobs += backlog.jobs.size - done.size;

      const survivor = await startChild(backlog.dir, CHILD_ENV);
      await untilAllComplete(survivor, done, backlog);
      await stop(survivor);
      const trialProblems = await withDatabase(backlog.file, async (warehouse) => [
        ...queueProblems(backlog, await queueRows(warehouse), { expected: 'COMPLETED', maxAttempts: MAX_ATTEMPTS }),
        ...rowCountProblems(reference, await targetRowCounts(warehouse)),
      ]);
      problems.push(...trialProblems.map((problem) => `trial ${trial} (kill at ${killAfterMs} ms): ${problem}`));
    } catch (error) {
      problems.push(`trial ${trial}: ${(error as Error).message}`);
    } finally {
      await killChildren();
      backlog.remove();
    }
  }
} finally {
  await killChildren();
  template.remove();
}
report(
  'crash',
  `${TRIALS} trials × ${JOBS} jobs, ${kills} SIGKILLs, ${interruptedJobs} jobs unfinished at a kill; every trial checked for lost jobs, duplicate or missing rows, attempts over ${MAX_ATTEMPTS}`,
  problems,
);
