// Service processes for the reliability scripts (test/support/processor-child.ts, started by startChild),
// and waiting on what they report.
import { startChild as startSupportChild, type ChildEvent, type RunningChild } from '../support/child-process.js';
import type { Backlog } from './backlog.js';

export type { RunningChild };

const running = new Set<RunningChild>();

/** A service process on a backlog's folder; killed by killChildren() (a failed trial leaves none behind). */
export async function startChild(dataDir: string, env: Record<string, string>): Promise<RunningChild> {
  const child = await startSupportChild(dataDir, env);
  running.add(child);
  void child.exited.then(() => running.delete(child));
  return child;
}

/** SIGKILLs every service process still running and waits for their exits. */
export async function killChildren(): Promise<void> {
  const left = [...running];
  for (const child of left) child.process.kill('SIGKILL');
  await Promise.all(left.map((child) => child.exited));
}

/** How long a backlog may take to finish after a restart before the script names the jobs left. */
export const COMPLETION_TIMEOUT_MS = 120_000;

export const completedJobs = (events: readonly ChildEvent[]): string[] =>
  events.filter((event) => event.type === 'enrichment_complete' && event.enrichment_type === null).map((event) => event.job_id!);

/** Jobs whose work began (the child's `work_started` line; job_claimed commits only with a claim's first write). */
export const claimedJobs = (events: readonly ChildEvent[]): string[] =>
  events.filter((event) => event.type === 'work_started' || event.type === 'job_claimed').map((event) => event.job_id!);

/** Resolves when every job of the backlog has completed, counting `done` (completed by earlier processes). */
export async function untilAllComplete(child: RunningChild, done: ReadonlySet<string>, backlog: Pick<Backlog, 'jobs'>): Promise<void> {
  const finished = (events: readonly ChildEvent[]) => new Set([...done, ...completedJobs(events)]);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const seen = finished(child.events);
      const missing = [...backlog.jobs.keys()].filter((job) => !seen.has(job));
      reject(new Error(`not completed within ${COMPLETION_TIMEOUT_MS / 1000} s: ${missing.map((job) => `job ${job}`).join(', ')}`));
    }, COMPLETION_TIMEOUT_MS);
  });
  try {
    await Promise.race([child.waitFor((events) => finished(events).size >= backlog.jobs.size), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** SIGTERM, then the exit code and how long the exit took. */
export async function terminate(child: RunningChild): Promise<{ code: number | null; ms: number }> {
  const sent = performance.now();
  child.process.kill('SIGTERM');
  const { code } = await child.exited;
  return { code, ms: performance.now() - sent };
}

/** SIGTERM and insist on exit 0. */
export async function stop(child: RunningChild): Promise<void> {
  const { code } = await terminate(child);
  if (code !== 0) throw new Error(`the service exited ${code} on SIGTERM: ${child.stderr().slice(-500)}`);
}
