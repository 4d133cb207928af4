// A demo left running: `npm run demo`'s own entry point (src/demo.ts) as a child process, its feeder
// simulating a test every DEMO_SIMULATE_EVERY_SECONDS and its pruner removing tests done for longer than
// DEMO_KEEP_MINUTES, while this script samples the database file (and its WAL) every 10 s. Figures: the
// growth rate before the first prune, the size once pruning runs, the growth over the last third of the run,
// and the size a day would reach at that rate. Fails when that day's projection is over 1 GB.
// A shorter run cannot tell a plateau from growth (the file settles only after the keep time plus the jobs'
// own time), so --quick runs the same 12 minutes; `npm test` does not run this script.
// Run: npx tsx test/reliability/demo-growth.ts [--minutes 12] [--every-seconds 5] [--keep-minutes 1]
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { EMBEDDED_DATABASE_FILE } from '../../src/engine.js';
import { report, scratchDir, withDatabase } from './backlog.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string' },
    'every-seconds': { type: 'string', default: '5' },
    'keep-minutes': { type: 'string' },
    quick: { type: 'boolean', default: false },
  },
});
const MINUTES = Number(values.minutes ?? 12);
const EVERY_SECONDS = Number(values['every-seconds']);
const KEEP_MINUTES = Number(values['keep-minutes'] ?? 1);
const DAY_LIMIT_BYTES = 2 ** 30;
const SAMPLE_MS = 10_000;
const DEMO = fileURLToPath(new URL('../../src/demo.ts', import.meta.url));

const dir = scratchDir('fbde-demo-growth-');
const file = join(dir.path, EMBEDDED_DATABASE_FILE);
const sizeOf = () => [file, `${file}.wal`].filter((path) => existsSync(path)).reduce((sum, path) => sum + statSync(path).size, 0);
const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(0);

const child = spawn(process.execPath, ['--import', 'tsx', DEMO], {
  env: {
    ...process.env,
    SNOWFLAKE_DISABLE_PLATFORM_DETECTION: 'true',
    ENV_FILE: '/dev/null',
    DATA_DIR: dir.path,
    PORT: '0',
    LOG_LEVEL: 'warn',
    DEMO_SIMULATE_EVERY_SECONDS: String(EVERY_SECONDS),
    DEMO_KEEP_MINUTES: String(KEEP_MINUTES),
  },
  stdio: ['ignore', 'ignore', 'pipe'],
});
let stderr = '';
child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

const samples: Array<{ minute: number; bytes: number }> = [];
const problems: string[] = [];
const started = performance.now();
try {
  while (performance.now() - started < MINUTES * 60_000) {
    const done = await Promise.race([exited.then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), SAMPLE_MS))]);
    if (done) throw new Error(`the demo exited early: ${stderr.slice(-500)}`);
    samples.push({ minute: (performance.now() - started) / 60_000, bytes: sizeOf() });
  }
} catch (error) {
  problems.push((error as Error).message);
} finally {
  child.kill('SIGTERM');
  const code = await exited;
  if (code !== 0 && problems.length === 0) problems.push(`the demo exited ${code} on SIGTERM: ${stderr.slice(-300)}`);
  // What the file holds at the end: rows per table, and DuckDB's used vs free blocks (freed space is reused).
  if (existsSync(file)) {
    await withDatabase(file, async (warehouse) => {
      const [size] = await warehouse.query('SELECT total_blocks, used_blocks, free_blocks, block_size FROM pragma_database_size()');
      const tables = await warehouse.query(
        "SELECT schema_name || '.' || table_name AS T, estimated_size AS N FROM duckdb_tables() WHERE estimated_size > 0 ORDER BY estimated_size DESC LIMIT 12",
      );
      console.log(`end of run: ${JSON.stringify(size)}; rows: ${tables.map((t) => `${String(t.T)} ${String(t.N)}`).join(', ')}`);
    });
  }
  dir.remove();
}

// Growth before pruning can start (the first keep period plus a minute for the pruner's first run) ...
const at = (minute: number) => samples.find((sample) => sample.minute >= minute) ?? samples.at(-1)!;
const early = at(Math.min(KEEP_MINUTES, MINUTES / 3));
const unprunedPerMinute = early.bytes / early.minute;
// ... and over the last third, when pruning runs: that rate, kept for a day, is the projection.
const lastThird = at((2 * MINUTES) / 3);
const last = samples.at(-1)!;
const prunedPerMinute = Math.max(0, (last.bytes - lastThird.bytes) / (last.minute - lastThird.minute));
const dayProjection = last.bytes + prunedPerMinute * (24 * 60 - last.minute);
if (dayProjection > DAY_LIMIT_BYTES) {
  problems.push(`a day at the last third's growth (${mb(prunedPerMinute)} MB/min) would reach ${mb(dayProjection)} MB, over ${mb(DAY_LIMIT_BYTES)} MB`);
}
report(
  'demo-growth',
  `${MINUTES} min, a test every ${EVERY_SECONDS} s, kept ${KEEP_MINUTES} min after done: ${mb(unprunedPerMinute)} MB/min before pruning, ` +
    `${mb(last.bytes)} MB at the end, ${mb(prunedPerMinute)} MB/min over the last third → ${mb(dayProjection)} MB after a day`,
  problems,
);
