// Helpers for queue/processor tests: Services over a real embedded database, and FlakeBench test rows.
import type { Clock } from '../../src/clock.js';
import type { Warehouse } from '../../src/db/warehouse.js';
import { createServices, type Services } from '../../src/services.js';
import { silentLog, testConfig, type TestDatabase } from './embedded.js';

export function servicesFor(
  db: TestDatabase,
  clock: Clock,
  env: Record<string, string> = {},
  warehouse: Warehouse = db.warehouse,
): Services {
  const engine = warehouse === db.engine.warehouse ? db.engine : { ...db.engine, warehouse };
  return createServices({ config: testConfig(env), clock, log: silentLog, engine });
}

export interface TestRow {
  testId: string;
  runId?: string;
  tableType?: string;
  start?: Date;
  end?: Date;
  tableName?: string;
}

/** Inserts FlakeBench TEST_RESULTS rows (what FlakeBench itself writes when a test ends). */
export async function insertTests(warehouse: Warehouse, rows: readonly TestRow[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 200) {
    const chunk = rows.slice(i, i + 200);
    const values = chunk.map(() => '(?, ?, ?, ?, ?, CAST(? AS TIMESTAMP_NTZ), CAST(? AS TIMESTAMP_NTZ))').join(', ');
    const binds = chunk.flatMap((row) => [
      row.testId,
      row.runId ?? `run-${row.testId}`,
      row.tableType ?? 'STANDARD',
      row.tableName ?? 'BENCH_TABLE',
      `flakebench:test_id=${row.testId}`,
      row.start ?? new Date('2026-01-15T10:00:00Z'),
      row.end ?? new Date('2026-01-15T11:00:00Z'),
    ]);
    await warehouse.execute(
      `INSERT INTO TEST_RESULTS (TEST_ID, RUN_ID, TABLE_TYPE, TABLE_NAME, QUERY_TAG, START_TIME, END_TIME) VALUES ${values}`,
      binds,
    );
  }
}
