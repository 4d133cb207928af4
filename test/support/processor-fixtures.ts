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
  /** NULL: the test is still running (FlakeBench sets END_TIME when it finishes). */
  end?: Date | null;
  tableName?: string;
  status?: string;
  database?: string;
  schema?: string;
}

/**
 * Inserts FlakeBench TEST_RESULTS rows (what FlakeBench itself writes when a test ends): every NOT NULL column
 * of FlakeBench's table, the target in TEST_CONFIG:target, the test's QUERY_TAG.
 */
export async function insertTests(warehouse: Warehouse, rows: readonly TestRow[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 200) {
    const chunk = rows.slice(i, i + 200);
    const values = chunk.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ');
    const binds = chunk.flatMap((row) => {
      const tableType = row.tableType ?? 'STANDARD';
      const tableName = row.tableName ?? 'BENCH_TABLE';
      const target = { database: row.database ?? 'FLAKEBENCH', schema: row.schema ?? 'BENCH', table_name: tableName, table_type: tableType, warehouse: 'FB_WH' };
      return [
        row.testId,
        row.runId ?? `run-${row.testId}`,
        `test ${row.testId}`,
        `${tableType.toLowerCase()}_scenario`,
        tableType,
        tableName,
        `flakebench:test_id=${row.testId}`,
        row.status ?? 'COMPLETED',
        row.start ?? new Date('2026-01-15T10:00:00Z'),
        row.end === undefined ? new Date('2026-01-15T11:00:00Z') : row.end,
        JSON.stringify({ target }),
      ];
    });
    await warehouse.execute(
      `INSERT INTO TEST_RESULTS (TEST_ID, RUN_ID, TEST_NAME, SCENARIO_NAME, TABLE_TYPE, TABLE_NAME, QUERY_TAG, STATUS, START_TIME, END_TIME,
        CONCURRENT_CONNECTIONS, WAREHOUSE, TEST_CONFIG, CREATED_AT, UPDATED_AT, ENRICHMENT_STATUS)
      SELECT v.ID, v.RUN, v.NAME, v.SCENARIO, v.TYPE, v.TABLE_NAME, v.TAG, v.STATUS, CAST(v.S AS TIMESTAMP_NTZ), CAST(v.E AS TIMESTAMP_NTZ),
        8, 'FB_WH', PARSE_JSON(v.CONFIG), CAST(v.S AS TIMESTAMP_NTZ), COALESCE(CAST(v.E AS TIMESTAMP_NTZ), CAST(v.S AS TIMESTAMP_NTZ)), 'COMPLETED'
      FROM (VALUES ${values}) AS v(ID, RUN, NAME, SCENARIO, TYPE, TABLE_NAME, TAG, STATUS, S, E, CONFIG)`,
      binds,
    );
  }
}
