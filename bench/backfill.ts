// A year of FlakeBench tests backfilled on the embedded engine: 18,000 tests (50 a day for 360 days) already in
// TEST_RESULTS with their simulated ACCOUNT_USAGE rows, enqueued through POST /api/enrichment/backfill (500 a
// call, its rate limit obeyed) and enriched by the real service with its real processor, a progress line every
// few seconds. Reports: end-to-end time (first backfill call to the last job terminal), jobs/s, the service
// process's peak RSS, the database file per 1,000 tests (FlakeBench's rows and the simulated views vs what the
// service adds), and the cleanup 31 days later (RETENTION_DAYS=30), pass after pass until nothing is left: its
// time, passes, statements and rows removed.
// Goals (issue 12): under 10 minutes end to end and under 500 MB RSS. There is no seed-design counterpart
// (the seed has no backfill), so the goal figures are the comparison.
// Seeding runs in a child process, so the peak RSS reported is the service's alone.
// Run: npx tsx bench/backfill.ts [--tests 18000] [--per-day 50] [--batch 250]
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ManualClock } from '../src/clock.js';
import { loadConfig } from '../src/config.js';
import { EMBEDDED_DATABASE_FILE } from '../src/engine.js';
import { createLogger } from '../src/logger.js';
import { TERMINAL_STATUSES } from '../src/queue/job-state.js';
import type { TableType } from '../src/queue/plan.js';
import { runCleanup } from '../src/queue/cleanup.js';
import { startService } from '../src/service.js';
import { planSimulation, writeSimulations, type SimulationPlan } from '../src/simulator/simulate.js';

const { values } = parseArgs({
  options: {
    tests: { type: 'string', default: '18000' },
    'per-day': { type: 'string', default: '50' },
    batch: { type: 'string', default: '250' },
    'seed-into': { type: 'string' },
    now: { type: 'string' },
  },
});
const TESTS = Number(values.tests);
const PER_DAY = Number(values['per-day']);
const BATCH = Number(values.batch);
const TABLE_TYPES: readonly TableType[] = ['HYBRID', 'STANDARD', 'INTERACTIVE', 'DYNAMIC', 'UNISTORE'];
const log = createLogger('silent');
const baseEnv = { LOG_LEVEL: 'silent', PORT: '0', AUTO_ENQUEUE: 'false' };
const mb = (bytes: number) => Math.round(bytes / 2 ** 20);

/** The child: writes the tests and their views into DATA_DIR, in batches of plans per transaction. */
async function seed(dataDir: string, now: Date): Promise<void> {
  const service = await startService(loadConfig({ ...baseEnv, DATA_DIR: dataDir, ENRICHMENT_ENABLED: 'false' }), log);
  try {
    for (let first = 0; first < TESTS; first += BATCH) {
      const plans: SimulationPlan[] = [];
      for (let i = first; i < Math.min(TESTS, first + BATCH); i += 1) {
        // Small tests (1 minute, 2 sessions) spread evenly over the year, the newest ended 6 hours ago (past
        // every view's latency, so every job is due at once, as in a real backfill).
        const endedMinutesAgo = 360 + Math.floor((i * 24 * 60) / PER_DAY);
        plans.push(
          planSimulation(
            { tableType: TABLE_TYPES[i % TABLE_TYPES.length]!, seed: i + 1, durationMinutes: 1, warmupMinutes: 0, sessions: 2, ratePerSession: 0.5, endedMinutesAgo, background: false, idSalt: `backfill-${i}` },
            now,
            1,
          ),
        );
      }
      await writeSimulations(service.services.warehouse, plans);
    }
    await service.services.warehouse.execute('CHECKPOINT');
  } finally {
    await service.stop();
  }
}

if (values['seed-into'] !== undefined) {
  await seed(values['seed-into'], new Date(values.now ?? Date.now()));
  process.exit(0);
}

const dataDir = mkdtempSync(join(tmpdir(), 'fbde-backfill-'));
const databaseFile = join(dataDir, EMBEDDED_DATABASE_FILE);
try {
  const now = new Date();
  const seedStarted = performance.now();
  const child = fork(fileURLToPath(import.meta.url), ['--seed-into', dataDir, '--now', now.toISOString(), '--tests', String(TESTS), '--per-day', String(PER_DAY), '--batch', String(BATCH)], {
    execArgv: ['--import', 'tsx'],
    stdio: 'inherit',
  });
  const seedCode = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (seedCode !== 0) throw new Error(`seeding failed (exit ${seedCode})`);
  const seededBytes = statSync(databaseFile).size;
  console.log(`seeded ${TESTS} tests in ${((performance.now() - seedStarted) / 1000).toFixed(0)} s; database ${mb(seededBytes)} MB`);

  const service = await startService(loadConfig({ ...baseEnv, DATA_DIR: dataDir, ENRICHMENT_ENABLED: 'true' }), log);
  const { app, services } = service;
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;
  const terminal = async () => {
    const [row] = await services.warehouse.query(
      `SELECT COUNT(*) AS ALL_JOBS, COUNT_IF(STATUS IN (${TERMINAL_STATUSES.map((status) => `'${status}'`).join(', ')})) AS TERMINAL, COUNT_IF(STATUS = 'FAILED') AS FAILED FROM DELAYED_ENRICHMENT_QUEUE`,
    );
    return { all: Number(row!.ALL_JOBS), done: Number(row!.TERMINAL), failed: Number(row!.FAILED) };
  };
  const progress = setInterval(() => {
    void terminal().then(({ all, done }) =>
      console.log(`  ${elapsed().toFixed(0)} s: ${done}/${all} jobs terminal, ${(done / elapsed()).toFixed(1)} jobs/s, RSS ${mb(process.memoryUsage().rss)} MB`),
    );
  }, 10_000);

  // Enqueue: the route a user calls, 500 tests a call, waiting out its rate limit when it answers 429.
  let calls = 0;
  for (let more = true; more; ) {
    const response = await app.inject({
      method: 'POST',
      url: '/api/enrichment/backfill',
      payload: { from: new Date(now.getTime() - 365 * 86_400_000).toISOString(), to: now.toISOString() },
    });
    if (response.statusCode === 429) {
      await new Promise((resolve) => setTimeout(resolve, Number(response.headers['retry-after'] ?? 5) * 1000));
      continue;
    }
    if (response.statusCode !== 200) throw new Error(`backfill answered ${response.statusCode}: ${response.body}`);
    calls += 1;
    more = (response.json() as { more: boolean }).more;
  }
  const enqueuedAfter = elapsed();
  for (;;) {
    const { all, done } = await terminal();
    if (all >= TESTS && done === all) break;
    // Every 2 s: the count competes with the processor for the two cores, and a finer poll moves a
    // 10-minute figure by well under 1 %.
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
  const seconds = elapsed();
  clearInterval(progress);
  const { all, failed } = await terminal();
  await services.warehouse.execute('CHECKPOINT');
  const enrichedBytes = statSync(databaseFile).size;
  const peakRss = process.resourceUsage().maxRSS * 1024;
  await service.stop();

  // Cleanup 31 days later, on the same file (terminal jobs and events older than RETENTION_DAYS=30 go).
  const later = new ManualClock(new Date(now.getTime() + 31 * 86_400_000).toISOString());
  const cleaner = await startService(loadConfig({ ...baseEnv, DATA_DIR: dataDir, ENRICHMENT_ENABLED: 'false', RETENTION_DAYS: '30' }), log, { clock: later });
  const statementsBefore = cleaner.services.warehouse.counters.statements;
  const cleanupStarted = performance.now();
  // Pass after pass (the daily cron runs one, of at most CLEANUP_BATCH rows) until one removes nothing.
  const removed: Record<string, number> = {};
  let passes = 0;
  for (let more = true; more; passes += 1) {
    const counts = await runCleanup(cleaner.services);
    for (const [step, rows] of Object.entries(counts)) removed[step] = (removed[step] ?? 0) + rows;
    more = Object.values(counts).some((rows) => rows > 0);
  }
  const cleanupSeconds = (performance.now() - cleanupStarted) / 1000;
  const cleanupStatements = cleaner.services.warehouse.counters.statements - statementsBefore;
  await cleaner.stop();

  const perThousand = (bytes: number) => ((bytes / TESTS) * 1000) / 2 ** 20;
  console.log(`\nbackfill of ${all} tests (${failed} failed), ${calls} backfill calls (enqueued after ${enqueuedAfter.toFixed(0)} s)`);
  console.log(`| figure | value | goal |`);
  console.log(`|---|---|---|`);
  console.log(`| end to end (first backfill call → all terminal) | ${(seconds / 60).toFixed(1)} min | < 10 min |`);
  console.log(`| jobs/s | ${(all / seconds).toFixed(1)} | ≥ 30 (a year's 18,000 in 10 min) |`);
  console.log(`| peak RSS of the service process | ${mb(peakRss)} MB | < 500 MB |`);
  console.log(`| database per 1,000 tests: FlakeBench rows + simulated views | ${perThousand(seededBytes).toFixed(1)} MB | — |`);
  console.log(`| database per 1,000 tests: added by the service | ${perThousand(enrichedBytes - seededBytes).toFixed(1)} MB | — |`);
  console.log(`| cleanup at 30 days | ${cleanupSeconds.toFixed(1)} s, ${passes} passes (the last removing nothing), ${cleanupStatements} statements, removed ${JSON.stringify(removed)} | — |`);
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
