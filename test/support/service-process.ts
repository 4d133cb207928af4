// The demo (the service with the simulator feeding it) as a real child process on a given port and data
// folder, followed until it prints the dashboard's URL; SIGKILL and a restart on the same port and folder
// are what the browser test does to it.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const READY_DEADLINE_MS = 180_000;

export interface DemoProcess {
  child: ChildProcess;
  /** The URL the demo printed ("Dashboard: <url>"). */
  url: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** `node --import tsx src/demo.ts` on `port` with its database in `dataDir`. */
export async function startDemo(port: number, dataDir: string, env: Record<string, string> = {}): Promise<DemoProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/demo.ts'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      ENV_FILE: '/dev/null',
      SNOWFLAKE_DISABLE_PLATFORM_DETECTION: 'true',
      HOST: '127.0.0.1',
      PORT: String(port),
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      ...env,
    },
  });
  let text = '';
  let onUrl!: (url: string) => void;
  const printed = new Promise<string>((resolve) => (onUrl = resolve));
  const collect = (chunk: string) => {
    text += chunk;
    const match = /^Dashboard: (\S+)/m.exec(text);
    if (match) onUrl(match[1]!);
  };
  child.stdout?.setEncoding('utf8').on('data', collect);
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  let timer: NodeJS.Timeout | undefined;
  try {
    const url = await Promise.race([
      printed,
      exited.then(({ code, signal }) => {
        throw new Error(`the demo exited (${code ?? signal}) before it listened:\n${text}`);
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the demo did not listen within ${READY_DEADLINE_MS} ms:\n${text}`)), READY_DEADLINE_MS);
      }),
    ]);
    return { child, url, exited, output: () => text };
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** SIGTERM, then SIGKILL if it is still there after `graceMs`. */
export async function stopDemo(demo: DemoProcess, graceMs = 15_000): Promise<void> {
  if (demo.child.exitCode !== null || demo.child.signalCode !== null) return;
  demo.child.kill('SIGTERM');
  const timer = setTimeout(() => demo.child.kill('SIGKILL'), graceMs);
  await demo.exited;
  clearTimeout(timer);
}
