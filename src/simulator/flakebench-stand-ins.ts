// The embedded stand-ins for FlakeBench's own TEST_RESULTS and QUERY_EXECUTIONS: exactly FlakeBench's
// columns, types and nullability (src/sources/flakebench-tables.ts), no primary key, plus the columns this
// service's migrations add in Snowflake too (0002, 0003). Embedded mode and test support only: in Snowflake
// these tables belong to FlakeBench and exist before the service is installed.
//
// Migration 0006 (sql/0006_embedded_flakebench_real_tables.sql) was rendered by
// renderRealTablesMigration() below; test/schema.test.ts checks the migrated tables against the column
// lists again, so an edit here that is not carried into a new migration fails there.
import { FLAKEBENCH_TABLES, type FlakeBenchColumn } from '../sources/flakebench-tables.js';

export type FlakeBenchTableName = keyof typeof FLAKEBENCH_TABLES;

/** Columns this service adds to FlakeBench's tables, as migrations 0002 and 0003 declare them. */
export const SERVICE_ADDED_COLUMNS: Readonly<Record<FlakeBenchTableName, readonly FlakeBenchColumn[]>> = {
  TEST_RESULTS: [
    { name: 'DELAYED_ENRICHMENT_STATUS', type: 'VARCHAR(20)', notNull: false },
    { name: 'DELAYED_ENRICHMENT_ERROR', type: 'TEXT', notNull: false },
    { name: 'DELAYED_ENRICHMENT_COMPLETED_AT', type: 'TIMESTAMP_NTZ', notNull: false },
    { name: 'AGGREGATE_ENRICHMENT_STATUS', type: 'VARCHAR(20)', notNull: false },
    { name: 'THROTTLED_QUERY_COUNT', type: 'INTEGER', notNull: false },
    { name: 'HYBRID_CREDITS_USED', type: 'FLOAT', notNull: false },
    { name: 'HYBRID_CREDITS_REQUESTS', type: 'BIGINT', notNull: false },
    { name: 'HYBRID_CREDITS_START_TIME', type: 'TIMESTAMP_NTZ', notNull: false },
    { name: 'HYBRID_CREDITS_END_TIME', type: 'TIMESTAMP_NTZ', notNull: false },
    { name: 'LOCK_WAIT_COUNT', type: 'INTEGER', notNull: false },
    { name: 'LOCK_WAIT_TOTAL_MS', type: 'FLOAT', notNull: false },
    { name: 'LOCK_WAIT_MAX_MS', type: 'FLOAT', notNull: false },
    { name: 'QUERY_INSIGHTS_COUNT', type: 'INTEGER', notNull: false },
    { name: 'QUERY_INSIGHTS_HIGH_SEVERITY_COUNT', type: 'INTEGER', notNull: false },
  ],
  QUERY_EXECUTIONS: [{ name: 'QUERY_PARAMETERIZED_HASH', type: 'VARCHAR(64)', notNull: false }],
};

/**
 * The DuckDB type standing for a Snowflake type of FlakeBench's DDL. Snowflake's FLOAT is a 64-bit double
 * (DuckDB's FLOAT is 32-bit: DOUBLE); VARIANT is JSON (as ddl.ts maps it); TIMESTAMP_NTZ is the prelude's alias.
 */
export function duckDbTypeOfSnowflake(type: string): string {
  const upper = type.toUpperCase();
  if (upper === 'FLOAT') return 'DOUBLE';
  if (upper === 'VARIANT' || upper === 'OBJECT' || upper === 'ARRAY') return 'JSON';
  if (/^(VARCHAR(\(\d+\))?|TEXT|INTEGER|BIGINT|BOOLEAN|TIMESTAMP_NTZ)$/.test(upper)) return upper;
  throw new Error(`no DuckDB type for Snowflake type ${type}`);
}

function columnLines(columns: readonly FlakeBenchColumn[]): string[] {
  return columns.map((column) => `    ${column.name} ${duckDbTypeOfSnowflake(column.type)}${column.notNull ? ' NOT NULL' : ''}`);
}

/** `CREATE TABLE <name>` with FlakeBench's columns only (a Snowflake account before this service's migrations). */
export function flakeBenchTableDdl(table: FlakeBenchTableName, name: string = table): string {
  return `CREATE TABLE ${name} (\n${columnLines(FLAKEBENCH_TABLES[table]).join(',\n')}\n)`;
}

/** FlakeBench's columns followed by the ones this service's migrations add: the stand-in after every migration. */
export function standInColumns(table: FlakeBenchTableName): FlakeBenchColumn[] {
  return [...FLAKEBENCH_TABLES[table], ...SERVICE_ADDED_COLUMNS[table]];
}

// ---- migration 0006 -----------------------------------------------------------------------------------

const EPOCH = "CAST('1970-01-01 00:00:00' AS TIMESTAMP_NTZ)";

/**
 * How the rows of the guessed stand-ins (migrations 0000, 0002, 0003) land in the real columns. A real column
 * that is NOT NULL but had no guessed counterpart (or a nullable one) gets a marked placeholder, so that no row
 * is lost; a guessed column without a real counterpart moves into TEST_CONFIG:target, where FlakeBench keeps it.
 */
const GUESSED_TO_REAL: Readonly<Record<FlakeBenchTableName, Readonly<Record<string, string>>>> = {
  TEST_RESULTS: {
    TEST_ID: 'TEST_ID',
    RUN_ID: 'RUN_ID',
    TEST_NAME: 'COALESCE(TEST_NAME, TEST_ID)',
    SCENARIO_NAME: 'COALESCE(TEST_NAME, TEST_ID)',
    TABLE_NAME: "COALESCE(TABLE_NAME, '')",
    TABLE_TYPE: 'TABLE_TYPE',
    WAREHOUSE: 'WAREHOUSE_NAME',
    STATUS: "COALESCE(STATUS, 'UNKNOWN')",
    START_TIME: `COALESCE(START_TIME, END_TIME, CREATED_AT, ${EPOCH})`,
    END_TIME: 'END_TIME',
    CONCURRENT_CONNECTIONS: 'COALESCE(CONCURRENCY, 0)',
    TEST_CONFIG:
      "json_object('target', json_object('database', DATABASE_NAME, 'schema', SCHEMA_NAME, 'table_name', TABLE_NAME, 'table_type', TABLE_TYPE, 'warehouse', WAREHOUSE_NAME))",
    QUERY_TAG: 'QUERY_TAG',
    ENRICHMENT_STATUS: 'ENRICHMENT_STATUS',
    CREATED_AT: 'CREATED_AT',
  },
  QUERY_EXECUTIONS: {
    EXECUTION_ID: 'EXECUTION_ID',
    TEST_ID: 'TEST_ID',
    QUERY_ID: "COALESCE(QUERY_ID, '')",
    QUERY_TEXT: "''",
    START_TIME: `COALESCE(START_TIME, END_TIME, ${EPOCH})`,
    END_TIME: `COALESCE(END_TIME, START_TIME, ${EPOCH})`,
    DURATION_MS: 'COALESCE(DURATION_MS, 0)',
    SUCCESS: 'COALESCE(SUCCESS, TRUE)',
    QUERY_KIND: 'QUERY_KIND',
    WARMUP: 'WARMUP',
    SF_EXECUTION_MS: 'SF_EXECUTION_MS',
    SF_COMPILATION_MS: 'SF_COMPILATION_MS',
    SF_CLUSTER_NUMBER: 'SF_CLUSTER_NUMBER',
    SF_PARTITIONS_SCANNED: 'SF_PARTITIONS_SCANNED',
    SF_PARTITIONS_TOTAL: 'SF_PARTITIONS_TOTAL',
    SF_BYTES_SPILLED_LOCAL: 'SF_BYTES_SPILLED_LOCAL',
    SF_BYTES_SPILLED_REMOTE: 'SF_BYTES_SPILLED_REMOTE',
  },
};

/** Migration 0004's view over TEST_RESULTS, recreated after the table is rebuilt (text as in 0004). */
const DELAYED_STATUS_VIEW = `CREATE OR REPLACE VIEW V_DELAYED_ENRICHMENT_STATUS AS
SELECT
    q.JOB_ID,
    q.TEST_ID,
    q.RUN_ID,
    q.TABLE_TYPE,
    q.STATUS,
    q.TEST_END_TIME,
    q.EARLIEST_ENRICHMENT_TIME,
    TIMESTAMPDIFF('minute', CURRENT_TIMESTAMP, q.EARLIEST_ENRICHMENT_TIME) AS minutes_until_eligible,
    q.ATTEMPTS,
    q.LAST_ERROR,
    q.CLAIMED_BY,
    q.CLAIMED_AT,
    tr.TEST_NAME,
    tr.ENRICHMENT_STATUS AS immediate_enrichment_status,
    tr.DELAYED_ENRICHMENT_STATUS
FROM DELAYED_ENRICHMENT_QUEUE q
JOIN TEST_RESULTS tr ON q.TEST_ID = tr.TEST_ID AND q.RUN_ID = tr.RUN_ID
ORDER BY q.EARLIEST_ENRICHMENT_TIME ASC;`;

function rebuildStatements(table: FlakeBenchTableName): string[] {
  const fresh = `${table}__REAL`;
  const mapping = GUESSED_TO_REAL[table];
  const added = SERVICE_ADDED_COLUMNS[table].map((column) => column.name);
  const targets = [...Object.keys(mapping), ...added];
  const sources = [...Object.values(mapping), ...added];
  return [
    `CREATE TABLE ${fresh} (\n${columnLines(standInColumns(table)).join(',\n')}\n);`,
    '',
    `INSERT INTO ${fresh} (${targets.join(', ')})\nSELECT ${sources.join(',\n    ')}\nFROM ${table};`,
    '',
    `DROP TABLE ${table};`,
    `ALTER TABLE ${fresh} RENAME TO ${table};`,
  ];
}

/** The text of migration 0006 (kept as committed; a later change of the column lists needs a new migration). */
export function renderRealTablesMigration(): string {
  return [
    "-- Migration 0006: FlakeBench's real TEST_RESULTS and QUERY_EXECUTIONS as the embedded stand-ins.",
    '-- @engine duckdb',
    '--',
    '-- Rendered by renderRealTablesMigration() (src/simulator/flakebench-stand-ins.ts) from',
    '-- src/sources/flakebench-tables.ts. 0000 guessed these tables; this rebuilds them with exactly',
    "-- FlakeBench's columns, types and nullability (no primary key) plus the columns 0002/0003 add, copying every",
    '-- row: guessed columns map to the real ones (CONCURRENCY -> CONCURRENT_CONNECTIONS, WAREHOUSE_NAME ->',
    '-- WAREHOUSE, DATABASE_NAME/SCHEMA_NAME -> TEST_CONFIG:target), NOT NULL columns without a value get a',
    "-- placeholder (STATUS 'UNKNOWN', QUERY_TEXT '', ...). Snowflake FLOAT is DOUBLE here. DuckDB cannot drop a",
    "-- primary key or alter columns in place, so each table is created anew, filled, swapped in, and 0004's view",
    '-- over TEST_RESULTS is recreated. Not idempotent on its own: DuckDB runs a migration in one transaction.',
    '',
    'DROP VIEW IF EXISTS V_DELAYED_ENRICHMENT_STATUS;',
    '',
    ...rebuildStatements('TEST_RESULTS'),
    '',
    ...rebuildStatements('QUERY_EXECUTIONS'),
    '',
    DELAYED_STATUS_VIEW,
    '',
  ].join('\n');
}
