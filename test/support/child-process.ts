// Spawns test/support/processor-child.ts and follows its JSON event lines.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./processor-child.ts', import.meta.url));

export interface ChildEvent {
  type: string;
  job_id: string | null;
  enrichment_type: string | null;
}

export interface RunningChild {
  process: ChildProcess;
  events: ChildEvent[];
  /** Resolves once `predicate` holds for the events seen so far. */
  waitFor(predicate: (events: ChildEvent[]) => boolean): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

export async function startChild(dataDir: string, env: Record<string, string>): Promise<RunningChild> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dataDir], {
    env: { ...process.env, SNOWFLAKE_DISABLE_PLATFORM_DETECTION: 'true', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const events: ChildEvent[] = [];
  const waiters: Array<{ predicate: (events: ChildEvent[]) => boolean; resolve: () => void }> = [];
  let errText = '';
  let buffer = '';
  let ready!: () => void;
  const readyPromise = new Promise<void>((resolve) => (ready = resolve));
  const check = () => {
    for (const waiter of [...waiters]) {
      if (waiter.predicate(events)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffer += chunk;
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline).trim();
      buffer = buffer.slice(newline + 1);
      if (line === 'ready') ready();
      else if (line.startsWith('{')) events.push(JSON.parse(line) as ChildEvent);
    }
    check();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (errText += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  await Promise.race([
    readyPromise,
    exited.then(({ code }) => {
      throw new Error(`child exited with ${code} before ready: ${errText}`);
    }),
  ]);
  return {
    process: child,
    events,
    waitFor(predicate) {
      if (predicate(events)) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        waiters.push({ predicate, resolve });
        void exited.then(({ code, signal }) => reject(new Error(`child exited (${code ?? signal}) while waiting: ${errText}`)));
      });
    },
    exited,
    stderr: () => errText,
  };
}
