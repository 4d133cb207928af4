// The shape crash and shutdown share: one backlog run uninterrupted (its duration sets the range of the
// interruption points, its rows are the reference), then trials on copies of it, each interrupted at a
// seeded random point, restarted, and run to completion. Every trial must end with every job COMPLETED, none
// lost, no type over its attempt limit, and exactly the reference's rows per target table and test.
import { Random } from '../../src/simulator/random.js';
import { copyBacklog, queueProblems, queueRows, rowCountProblems, targetRowCounts, withDatabase, type Backlog } from './backlog.js';
import { completedJobs, killChildren, startChild, stop, untilAllComplete, type RunningChild } from './children.js';

export interface Interruption {
  /** Names the trial in every problem, e.g. "trial 3 (SIGKILL at 812 ms)". */
  label: string;
  /** What the interruption itself broke (checked before the restart). */
  problems: string[];
}

export interface TrialOptions {
  template: Backlog;
  trials: number;
  seed: number;
  env: Record<string, string>;
  maxAttempts: number;
  /** Stops `child` (running `backlog` since `atMs` ago) and says what that broke. */
  interrupt(child: RunningChild, backlog: Backlog, trial: number, atMs: number): Promise<Interruption>;
}

/** Runs the trials; returns every problem found, each naming its trial and job. */
export async function runInterruptedTrials(options: TrialOptions): Promise<string[]> {
  const { template, env } = options;
  const problems: string[] = [];
  try {
    const clean = copyBacklog(template);
    const first = await startChild(clean.dir, env);
    const started = performance.now(); // from "ready", as the interruption delays are
    await untilAllComplete(first, new Set(), clean);
    const cleanMs = performance.now() - started;
    await stop(first);
    const reference = await withDatabase(clean.file, targetRowCounts);
    clean.remove();
    if (reference.size === 0) throw new Error('the uninterrupted run wrote no rows: nothing to compare with');

    const random = new Random(options.seed);
    for (let trial = 1; trial <= options.trials; trial += 1) {
      const backlog = copyBacklog(template);
      try {
        const atMs = Math.round(random.next() * cleanMs);
        const child = await startChild(backlog.dir, env);
        await new Promise((resolve) => setTimeout(resolve, atMs));
        const interruption = await options.interrupt(child, backlog, trial, atMs);
        problems.push(...interruption.problems.map((problem) => `${interruption.label}: ${problem}`));

        const survivor = await startChild(backlog.dir, env);
        await untilAllComplete(survivor, new Set(completedJobs(child.events)), backlog);
        await stop(survivor);
        const after = await withDatabase(backlog.file, async (warehouse) => [
          ...queueProblems(backlog, await queueRows(warehouse), { expected: 'COMPLETED', maxAttempts: options.maxAttempts }),
          ...rowCountProblems(reference, await targetRowCounts(warehouse)),
        ]);
        problems.push(...after.map((problem) => `${interruption.label}, after restart: ${problem}`));
      } catch (error) {
        problems.push(`trial ${trial}: ${(error as Error).message}`);
      } finally {
        await killChildren();
        backlog.remove();
      }
    }
  } catch (error) {
    problems.push((error as Error).message);
  } finally {
    await killChildren();
    template.remove();
  }
  return problems;
}
