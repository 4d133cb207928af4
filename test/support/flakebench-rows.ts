// A TEST_RESULTS row written the way FlakeBench writes it (its NOT NULL columns, the target in TEST_CONFIG, its
// tag), straight into the table: FlakeBench does not call this service. Shared by the discovery tests.
import type { BindValue } from '../../src/db/warehouse.js';

const MINUTE = 60_000;

export interface FlakeBenchTestRow {
  testId: string;
  runId: string;
  tableType?: string;
  status?: string;
  /** null: still running (no END_TIME). */
  endedAgoMs: number | null;
  /** FlakeBench's first pass (ENRICHMENT_STATUS); default COMPLETED, null: never recorded. */
  enrichmentStatus?: string | null;
}

export const INSERT_FLAKEBENCH_TEST_ROW = `INSERT INTO TEST_RESULTS (TEST_ID, RUN_ID, TEST_NAME, SCENARIO_NAME, TABLE_NAME, TABLE_TYPE, WAREHOUSE, STATUS, START_TIME,
  END_TIME, CONCURRENT_CONNECTIONS, TEST_CONFIG, QUERY_TAG, ENRICHMENT_STATUS)
SELECT ?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS TIMESTAMP_NTZ), CAST(? AS TIMESTAMP_NTZ), ?, PARSE_JSON(?), ?, ?`;

/** The binds of INSERT_FLAKEBENCH_TEST_ROW for `row`, its times relative to `now`. */
export function flakeBenchTestRowBinds(now: Date, row: FlakeBenchTestRow): BindValue[] {
  const end = row.endedAgoMs === null ? null : new Date(now.getTime() - row.endedAgoMs);
  const startTime = new Date((end?.getTime() ?? now.getTime()) - 10 * MINUTE);
  const tableType = row.tableType ?? 'HYBRID';
  const config = { target: { database: 'BENCH_DB', schema: 'PUBLIC', table_name: 'ORDERS', table_type: tableType, warehouse: 'BENCH_WH' } };
  return [
    row.testId,
    row.runId,
    `discovery ${row.testId}`,
    'point lookups',
    'ORDERS',
    tableType,
    'BENCH_WH',
    row.status ?? 'COMPLETED',
    startTime,
    end,
    8,
    JSON.stringify(config),
    `flakebench:test_id=${row.testId}`,
    row.enrichmentStatus === undefined ? 'COMPLETED' : row.enrichmentStatus,
  ];
}
