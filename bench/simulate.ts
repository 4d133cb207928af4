// Simulator speed: a 30-minute, 32-session hybrid test (the issue's yardstick), generated and written to a
// fresh embedded database, against a baseline measured in the same run: the same QUERY_EXECUTIONS rows
// inserted with the generic multi-row INSERT ... VALUES path (binds through the Warehouse port).
// Run: npx tsx bench/simulate.ts [--minutes 30] [--sessions 32] [--baseline-rows 20000]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DuckDbDatabase } from '../src/db/duckdb.js';
import { migrate } from '../src/db/migrations.js';
import type { BindValue } from '../src/db/warehouse.js';
import { ManualClock } from '../src/clock.js';
import { catalogColumns } from '../src/simulator/bulk-insert.js';
import { planSimulation, writeSimulation } from '../src/simulator/simulate.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    sessions: { type: 'string', default: '32' },
    'baseline-rows': { type: 'string', default: '20000' },
  },
});
const minutes = Number(values.minutes);
const sessions = Number(values.sessions);
const baselineRows = Number(values['baseline-rows']);
const now = new Date('2026-01-15T12:00:00.000Z');
const silent = { info: () => undefined, warn: () => undefined };

async function freshDatabase() {
  const dir = mkdtempSync(join(tmpdir(), 'fbde-bench-'));
  const database = await DuckDbDatabase.open(join(dir, 'bench.duckdb'));
  const warehouse = await database.connect();
  await migrate(warehouse, { clock: new ManualClock(now), log: silent });
  return { warehouse, async close() { await database.close(); rmSync(dir, { recursive: true, force: true }); } };
}

const request = { tableType: 'HYBRID' as const, seed: 1, durationMinutes: minutes, sessions, idSalt: 'bench' };

// 1. The simulator end to end: generate + derive rows (pure), then write everything in one transaction.
const t0 = performance.now();
const plan = planSimulation(request, now, 1);
const t1 = performance.now();
const target = await freshDatabase();
const t2 = performance.now();
const { rows } = await writeSimulation(target.warehouse, plan);
const t3 = performance.now();
await target.close();
const totalRows = Object.values(rows).reduce((sum, n) => sum + n, 0);

// 2. Baseline on the same rows: QUERY_EXECUTIONS through multi-row INSERT ... VALUES with binds (500 rows per
// statement), against the bulk path on the same slice; each measured three times on a fresh file, median kept.
const slice = plan.rows.QUERY_EXECUTIONS.slice(0, baselineRows);
const perStatement = 500;
const { bulkInsertRows } = await import('../src/simulator/bulk-insert.js');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const baselineRuns: number[] = [];
const bulkRuns: number[] = [];
for (let run = 0; run < 3; run += 1) {
  const baseline = await freshDatabase();
  const columns = (await catalogColumns(baseline.warehouse, 'main', 'QUERY_EXECUTIONS')).filter((c) => c.name in (slice[0] ?? {}));
  const b0 = performance.now();
  await baseline.warehouse.withTransaction(async (scope) => {
    for (let offset = 0; offset < slice.length; offset += perStatement) {
      const batch = slice.slice(offset, offset + perStatement);
      const tuple = `(${columns.map(() => '?').join(', ')})`;
      const binds: BindValue[] = batch.flatMap((row) => columns.map((c) => (row[c.name] ?? null) as BindValue));
      await scope.execute(`INSERT INTO QUERY_EXECUTIONS (${columns.map((c) => c.name).join(', ')}) VALUES ${batch.map(() => tuple).join(', ')}`, binds);
    }
  });
  baselineRuns.push(performance.now() - b0);
  await baseline.close();
  const bulk = await freshDatabase();
  const k0 = performance.now();
  await bulk.warehouse.withTransaction((scope) => bulkInsertRows(scope, 'main.QUERY_EXECUTIONS', columns, slice));
  bulkRuns.push(performance.now() - k0);
  await bulk.close();
}
const baselineMs = median(baselineRuns);
const bulkMs = median(bulkRuns);

const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const rate = (n: number, ms: number) => Math.round((n / ms) * 1000);
console.log(`simulated hybrid test: ${minutes} min, ${sessions} sessions, seed 1`);
console.log(`  rows: ${Object.entries(rows).map(([k, v]) => `${k}=${v}`).join(', ')}`);
console.log(`  generate + derive rows: ${fmt(t1 - t0)}`);
console.log(`  write (one transaction): ${fmt(t3 - t2)} (${rate(totalRows, t3 - t2)} rows/s)`);
console.log(`  total: ${fmt(t1 - t0 + t3 - t2)} for ${totalRows} rows (${rate(totalRows, t1 - t0 + t3 - t2)} rows/s end to end)`);
console.log(`baseline, same ${slice.length} QUERY_EXECUTIONS rows (median of 3):`);
console.log(`  multi-row INSERT ... VALUES (${perStatement} rows/statement): ${fmt(baselineMs)} (${rate(slice.length, baselineMs)} rows/s)`);
console.log(`  bulk JSON path: ${fmt(bulkMs)} (${rate(slice.length, bulkMs)} rows/s)`);
console.log(`  ratio: bulk path is ${(baselineMs / bulkMs).toFixed(1)}x faster than the baseline`);
console.log(`reproduce: npx tsx bench/simulate.ts --minutes ${minutes} --sessions ${sessions} --baseline-rows ${baselineRows}`);
