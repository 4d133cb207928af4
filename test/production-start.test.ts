// The production start as an operator runs it: `npm run build`, then `npm start` (compiled JavaScript run by
// node, no tsx) and `npm run demo`, each a child process in its own process group. A signal sent to the npm
// process alone (as systemd, docker stop or a supervisor send it, not the terminal's Ctrl-C to the whole group)
// must stop the service cleanly: exit 0, the port free again, no process of the group left behind.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const GRACE_SECONDS = 5;
/** close-with-grace gives up SHUTDOWN_GRACE_SECONDS + 5 s after the signal; waiting longer means it hung. */
const EXIT_DEADLINE_MS = (GRACE_SECONDS + 5) * 1000 + 10_000;
/** Build check, migrations of a fresh database and start on a slow shared machine. */
const LISTEN_DEADLINE_MS = 240_000;

interface Started {
  child: ChildProcess;
  port: number;
  lines: Array<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

function tempDir(): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), 'fbde-start-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** `npm <args>` in its own process group, followed until its 'listening' log line. */
async function startNpm(args: string[], dataDir: string, env: Record<string, string> = {}): Promise<Started> {
  const child = spawn('npm', args, {
    cwd: ROOT,
    detached: true, // its own process group: what is left of it afterwards can be listed
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      ENV_FILE: '/dev/null',
      SNOWFLAKE_DISABLE_PLATFORM_DETECTION: 'true',
      HOST: '127.0.0.1',
      PORT: '0',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'info',
      SHUTDOWN_GRACE_SECONDS: String(GRACE_SECONDS),
      npm_config_update_notifier: 'false',
      ...env,
    },
  });
  const lines: Array<Record<string, unknown>> = [];
  let text = '';
  let buffer = '';
  let onListening!: (port: number) => void;
  const listening = new Promise<number>((resolve) => (onListening = resolve));
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    text += chunk;
    buffer += chunk;
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline).trim();
      buffer = buffer.slice(newline + 1);
      if (!line.startsWith('{')) continue; // npm's banner
      const entry = JSON.parse(line) as Record<string, unknown>;
      lines.push(entry);
      if (entry.msg === 'listening') onListening(Number(new URL(String(entry.address)).port));
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  let timer: NodeJS.Timeout | undefined;
  const tooLong = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      process.kill(-(child.pid as number), 'SIGKILL'); // the group this test started, before giving up on it
      reject(new Error(`npm ${args.join(' ')} did not listen within ${LISTEN_DEADLINE_MS} ms:\n${text}`));
    }, LISTEN_DEADLINE_MS);
  });
  try {
    const port = await Promise.race([
      listening,
      tooLong,
      exited.then(({ code, signal }) => {
        throw new Error(`npm ${args.join(' ')} exited (${code ?? signal}) before listening:\n${text}`);
      }),
    ]);
    return { child, port, lines, exited, output: () => text };
  } finally {
    clearTimeout(timer);
  }
}

/** Processes of process group `group` (pid and command line), from ps. */
function processesOf(group: number): Array<{ pid: number; args: string }> {
  const result = spawnSync('ps', ['-eo', 'pid=,pgid=,args='], { encoding: 'utf8' });
  expect(result.status).toBe(0);
  return result.stdout
    .split('\n')
    .map((line) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null && Number(match[2]) === group)
    .map((match) => ({ pid: Number(match[1]), args: match[3] ?? '' }));
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function exitWithin(started: Started, ms: number) {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still running ${ms} ms after the signal:\n${started.output()}`)), ms);
  });
  try {
    return await Promise.race([started.exited, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Sends `signal` to the npm process only, or to its whole process group as a terminal's Ctrl-C does (npm's
 * child then gets it twice: from the terminal and forwarded by npm), and checks the clean stop.
 */
async function stopsCleanly(started: Started, signal: NodeJS.Signals, to: 'npm' | 'group' = 'npm'): Promise<void> {
  const group = started.child.pid as number;
  process.kill(to === 'group' ? -group : group, signal);
  const { code, signal: killedBy } = await exitWithin(started, EXIT_DEADLINE_MS);
  expect({ code, signal: killedBy }, started.output()).toEqual({ code: 0, signal: null });
  // The service itself got the signal and went through its shutdown (not killed from outside).
  expect(started.lines.some((line) => line.msg === 'stopping' && line.signal === signal), started.output()).toBe(true);
  expect(started.lines.filter((line) => /^second /.test(String(line.msg))), started.output()).toEqual([]);
  expect(await portIsFree(started.port)).toBe(true);
  // A child that ends with its parent (esbuild's service, which watches its stdin) may take a moment.
  for (let waited = 0; processesOf(group).length > 0 && waited < 5_000; waited += 100) await new Promise((resolve) => setTimeout(resolve, 100));
  expect(processesOf(group)).toEqual([]);
}

/** Runs `check` on a started npm, then, whatever happened, kills what is left of its process group. */
async function withStarted(start: (dataDir: string) => Promise<Started>, check: (started: Started) => Promise<void>): Promise<void> {
  const data = tempDir();
  let group: number | undefined;
  try {
    const started = await start(data.path);
    group = started.child.pid;
    await check(started);
  } finally {
    for (const { pid } of group === undefined ? [] : processesOf(group)) process.kill(pid, 'SIGKILL');
    data.remove();
  }
}

beforeAll(() => {
  // `.ci/run` starts from a clean checkout: build what `npm start` runs, once for the whole file.
  const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8', timeout: 600_000 });
  expect(build.status, `${build.stdout}\n${build.stderr}`).toBe(0);
}, 600_000);

describe('npm start', () => {
  it('runs the compiled service with node (no tsx, no shell in between) and stops on SIGTERM: exit 0, port free, nothing left', async () => {
    await withStarted(
      (dataDir) => startNpm(['start'], dataDir),
      async (started) => {
        // npm and the service it exec'd: no `sh -c` left waiting, no tsx wrapper.
        expect(processesOf(started.child.pid as number).map((entry) => entry.args), started.output()).toEqual([
          expect.stringMatching(/^npm start/),
          expect.stringMatching(/^node --enable-source-maps dist\/src\/server\.js$/),
        ]);
        const health = await fetch(`http://127.0.0.1:${started.port}/health`);
        expect(health.status).toBe(200);
        expect((await health.json()) as { engine: string }).toMatchObject({ engine: 'duckdb' });
        // The compiled service finds the dashboard's files (public/, not compiled) from the package root.
        const page = await fetch(`http://127.0.0.1:${started.port}/`);
        expect(page.status).toBe(200);
        expect(await page.text()).toContain('src="/dashboard/app.js"');
        expect((await fetch(`http://127.0.0.1:${started.port}/dashboard/app.js`)).status).toBe(200);
        await stopsCleanly(started, 'SIGTERM');
      },
    );
  }, 300_000);
});

describe('npm run demo', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`stops on ${signal} sent to the npm process: exit 0, port free, no orphaned server`, async () => {
      await withStarted(
        (dataDir) => startNpm(['run', 'demo'], dataDir, { DEMO_SIMULATE_EVERY_SECONDS: '3600' }),
        async (started) => {
          // tsx may run esbuild's transform service as a child while it compiles (a cold cache, as in CI): that
          // one ends with its parent; the shell must not be there.
          const running = processesOf(started.child.pid as number).map((entry) => entry.args).filter((args) => !/\/esbuild --service=/.test(args));
          expect(running, started.output()).toEqual([
            expect.stringMatching(/^npm run demo/),
            expect.stringMatching(/^node --import tsx src\/demo\.ts$/),
          ]);
          await stopsCleanly(started, signal);
        },
      );
    }, 300_000);
  }

  it('stops on Ctrl-C (SIGINT to the whole process group, so the service gets it twice): exit 0, no forced exit', async () => {
    await withStarted(
      (dataDir) => startNpm(['run', 'demo'], dataDir, { DEMO_SIMULATE_EVERY_SECONDS: '3600' }),
      (started) => stopsCleanly(started, 'SIGINT', 'group'),
    );
  }, 300_000);
});

describe('the CLI from the same build', () => {
  it('migrate runs from dist/ in any working directory: it finds sql/ from the package, not from the cwd', () => {
    const data = tempDir();
    try {
      const run = (command: string) =>
        spawnSync(process.execPath, [join(ROOT, 'dist', 'src', 'cli', 'migrate.js'), command], {
          cwd: data.path,
          encoding: 'utf8',
          timeout: 120_000,
          env: { PATH: process.env.PATH, HOME: process.env.HOME, ENV_FILE: '/dev/null', DATA_DIR: data.path },
        });
      const before = run('status');
      expect(before.status, before.stderr).toBe(0);
      expect(before.stdout).toMatch(/^pending {2}0001_create_enrichment_tables\.sql$/m);
      const up = run('up');
      expect(up.status, up.stderr).toBe(0);
      const after = run('status');
      expect(after.stdout).toMatch(/^applied {2}0001_create_enrichment_tables /m);
      expect(after.stdout).not.toMatch(/^pending/m);
    } finally {
      data.remove();
    }
  }, 300_000);
});
