// The shape crash and shutdown share: one backlog run uninterrupted (its duration sets the range of the
// interruption points, its rows are the reference), then trials on copies of it, each interrupted at a
// seeded random point, restarted, and run to completion. Every trial must end with every job COMPLETED, none
// lost, no type over its attempt limit, and exactly the reference's rows per target table and test.
import { Random } from '../../src/simulator/random.js';
import { queueProblems, queueRows, rowCountProblems, targetRowCounts } from './backlog.js';
import { completedJobs, killChildren, startChild, stop, untilAllComplete, type RunningChild } from './children.js';
import { backlogSource, type BacklogSource, type TrialBacklog, type TrialEngine } from './trial-backlogs.js';

export interface Interruption {
  /** Names the trial in every problem, e.g. "trial 3 (SIGKILL at 812 ms)". */
  label: string;
  /** What the interruption itself broke (checked before the restart). */
  problems: string[];
}

export interface TrialOptions {
  /** One fresh backlog per run (on the engine under test); closed at the end. */
  source: BacklogSource;
  trials: number;
  seed: number;
  env: Record<string, string>;
  maxAttempts: number;
  /** Stops `child` (running `backlog` since `atMs` ago) and says what that broke. */
  interrupt(child: RunningChild, backlog: TrialBacklog, trial: number, atMs: number): Promise<Interruption>;
}

/**
 * Odd trials run with the default CLAIM_BATCH_SIZE (jobs due together share their reads and write requests,
 * src/processor/statement-batcher.ts), even ones with CLAIM_BATCH_SIZE=1 (each job alone): both paths are
 * interrupted. The reference run uses the default; the rows must not depend on it.
 */
function claimBatchOf(trial: number): { env: Record<string, string>; label: string } {
  return trial % 2 === 0 ? { env: { CLAIM_BATCH_SIZE: '1' }, label: 'CLAIM_BATCH_SIZE 1' } : { env: {}, label: 'default CLAIM_BATCH_SIZE' };
}

/** The same trials on each engine in turn: one figure line per engine, problems prefixed with the engine. */
export async function trialsOnEngines(
  engines: readonly TrialEngine[],
  jobs: number,
  seed: number,
  run: (source: BacklogSource) => Promise<{ figure: string; problems: string[] }>,
): Promise<{ figures: string[]; problems: string[] }> {
  const figures: string[] = [];
  const problems: string[] = [];
  for (const engine of engines) {
    const started = performance.now();
    const result = await run(await backlogSource(engine, jobs, seed));
    figures.push(`[${engine}] ${result.figure}, ${((performance.now() - started) / 1000).toFixed(0)} s`);
    problems.push(...result.problems.map((problem) => `[${engine}] ${problem}`));
  }
  return { figures, problems };
}

/** Runs the trials; returns every problem found, each naming its trial and job. */
export async function runInterruptedTrials(options: TrialOptions): Promise<string[]> {
  const { source, env } = options;
  const serviceEnv = (backlog: TrialBacklog, trial?: number) => ({ ...env, ...(trial === undefined ? {} : claimBatchOf(trial).env), ...backlog.env });
  const problems: string[] = [];
  try {
    const clean = await source.next();
    const first = await startChild(clean.dir, serviceEnv(clean));
    const started = performance.now(); // from "ready", as the interruption delays are
    await untilAllComplete(first, new Set(), clean);
    const cleanMs = performance.now() - started;
    await stop(first);
    const reference = await clean.read(targetRowCounts);
    await clean.remove();
    // Every simulated test ran queries, so an uninterrupted run that left a test without rows in every target
    // table is broken itself (and would make it a useless reference).
    const testsWithRows = new Set([...reference.keys()].map((key) => key.slice(key.indexOf(' ') + 1)));
    const rowless = [...clean.jobs].filter(([, testId]) => !testsWithRows.has(testId));
    if (rowless.length > 0) {
      throw new Error(`the uninterrupted run wrote no rows for ${rowless.map(([jobId, testId]) => `job ${jobId} (test ${testId})`).join(', ')}: nothing to compare with`);
    }

    const random = new Random(options.seed);
    for (let trial = 1; trial <= options.trials; trial += 1) {
      let backlog: TrialBacklog | undefined;
      try {
        backlog = await source.next();
        const atMs = Math.round(random.next() * cleanMs);
        const child = await startChild(backlog.dir, serviceEnv(backlog, trial));
        await new Promise((resolve) => setTimeout(resolve, atMs));
        const interruption = await options.interrupt(child, backlog, trial, atMs);
        const label = `${interruption.label}, ${claimBatchOf(trial).label}`;
        problems.push(...interruption.problems.map((problem) => `${label}: ${problem}`));

        // Completed before the restart: what the database says once the killed process's last requests have
        // finished (on Snowflake they run to their end in the account), not only the events the child printed
        // (a kill can land between a job's last commit and its event line).
        await backlog.settled();
        const completedBefore = await backlog.read(async (warehouse) => (await queueRows(warehouse)).filter((row) => row.status === 'COMPLETED').map((row) => row.jobId));
        const survivor = await startChild(backlog.dir, serviceEnv(backlog, trial));
        await untilAllComplete(survivor, new Set([...completedJobs(child.events), ...completedBefore]), backlog);
        await stop(survivor);
        const trialBacklog = backlog;
        const after = await backlog.read(async (warehouse) => [
          ...queueProblems(trialBacklog, await queueRows(warehouse), { expected: 'COMPLETED', maxAttempts: options.maxAttempts }),
          ...rowCountProblems(reference, await targetRowCounts(warehouse)),
        ]);
        problems.push(...after.map((problem) => `${label}, after restart: ${problem}`));
      } catch (error) {
        problems.push(`trial ${trial}: ${(error as Error).message}`);
        await killChildren();
        // What the queue says about the jobs left behind (their status, claim and attempts).
        const left = backlog;
        if (left) {
          const rows = await left.read(queueRows).catch(() => []);
          for (const row of rows.filter((candidate) => candidate.status !== 'COMPLETED')) {
            problems.push(`trial ${trial}: job ${row.jobId} left ${row.status}, claim ${row.claimId ?? 'none'}, types ${Object.entries(row.types).map(([type, state]) => `${type} ${state.status} (${state.attempts} attempts)`).join(', ')}`);
          }
        }
      } finally {
        await killChildren();
        await backlog?.remove();
      }
    }
  } catch (error) {
    problems.push((error as Error).message);
  } finally {
    await killChildren();
    problems.push(...(await source.close()));
  }
  return problems;
}
