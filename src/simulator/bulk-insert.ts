// Fast loading for the embedded engine only (the simulator and replay): rows travel as JSON text and DuckDB
// turns them into rows in one statement, never one bind list per row. Small loads bind one JSON array
// (from_json + unnest); large ones go through a temporary NDJSON file read by read_json, which DuckDB parses
// in parallel (about twice as fast for 200k rows; bench/simulate.ts). DuckDB dialect on purpose, so these statements are not in the Snowflake SQL registry.
// Table and column names come from the contracts or the database catalog, never from a request.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TransactionScope, Warehouse } from '../db/warehouse.js';

export interface LoadColumn {
  name: string;
  /** DuckDB type of the target column (VARCHAR, DECIMAL(38,0), TIMESTAMP, JSON, ...). */
  duckType: string;
}

const ROWS_PER_BATCH = 20_000;
/** From this many rows on, a temporary file beats binding the JSON text. */
const FILE_THRESHOLD = 10_000;

export function isTimestampType(duckType: string): boolean {
  return /^TIMESTAMP/i.test(duckType);
}

/**
 * Timestamps are read as text and cast in SQL: a strict CAST fails loudly on a bad value, where from_json would
 * quietly yield NULL. TIMESTAMPTZ honours a zone offset (none means the session zone, UTC); timezone('UTC', ...)
 * stores the UTC wall time whatever the session's zone.
 */
function structureTypeOf(duckType: string): string {
  return isTimestampType(duckType) ? 'VARCHAR' : duckType;
}

export function bulkInsertSql(table: string, columns: readonly LoadColumn[]): string {
  const names = columns.map((c) => `"${c.name}"`).join(', ');
  return `INSERT INTO ${table} (${names}) SELECT ${selectList(columns, 'r.')} FROM (SELECT unnest(from_json(CAST(? AS JSON), ?)) AS r)`;
}

export function structureOf(columns: readonly LoadColumn[]): string {
  return JSON.stringify([Object.fromEntries(columns.map((c) => [c.name, structureTypeOf(c.duckType)]))]);
}

function selectList(columns: readonly LoadColumn[], prefix: string): string {
  return columns
    .map((c) => (isTimestampType(c.duckType) ? `timezone('UTC', CAST(${prefix}"${c.name}" AS TIMESTAMPTZ))` : `${prefix}"${c.name}"`))
    .join(', ');
}

export function fileInsertSql(table: string, columns: readonly LoadColumn[]): string {
  const names = columns.map((c) => `"${c.name}"`).join(', ');
  const types = columns.map((c) => `'${c.name}': '${structureTypeOf(c.duckType)}'`).join(', ');
  return `INSERT INTO ${table} (${names}) SELECT ${selectList(columns, '')} FROM read_json(?, format = 'newline_delimited', columns = {${types}})`;
}

/** Inserts rows given as JSON object texts, one line each (keys = column names; absent keys are NULL). */
export async function bulkInsertJson(
  target: TransactionScope | Warehouse,
  table: string,
  columns: readonly LoadColumn[],
  rowTexts: readonly string[],
): Promise<number> {
  if (rowTexts.length === 0) return 0;
  if (rowTexts.length >= FILE_THRESHOLD) {
    const dir = mkdtempSync(join(tmpdir(), 'fbde-load-'));
    try {
      const file = join(dir, 'rows.ndjson');
      writeFileSync(file, rowTexts.join('\n'));
      const result = await target.execute(fileInsertSql(table, columns), [file]);
      return result.rowsAffected;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const text = bulkInsertSql(table, columns);
  const structure = structureOf(columns);
  let inserted = 0;
  for (let offset = 0; offset < rowTexts.length; offset += ROWS_PER_BATCH) {
    const batch = rowTexts.slice(offset, offset + ROWS_PER_BATCH);
    const result = await target.execute(text, [`[${batch.join(',')}]`, structure]);
    inserted += result.rowsAffected;
  }
  return inserted;
}

/** Inserts plain row objects (Dates become ISO-8601 UTC text through JSON.stringify). */
export function bulkInsertRows(
  target: TransactionScope | Warehouse,
  table: string,
  columns: readonly LoadColumn[],
  rows: ReadonlyArray<Record<string, unknown>>,
): Promise<number> {
  return bulkInsertJson(target, table, columns, rows.map((row) => JSON.stringify(row)));
}

const TABLE_COLUMNS = `SELECT column_name AS NAME, data_type AS TYPE, is_nullable AS NULLABLE
FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = ? AND table_name = ? ORDER BY column_index`;

export interface CatalogColumn extends LoadColumn {
  nullable: boolean;
}

/** The columns of one of our tables as migrated (the FlakeBench tables' contract in embedded mode). */
export async function catalogColumns(warehouse: Warehouse | TransactionScope, schema: string, table: string): Promise<CatalogColumn[]> {
  const rows = await warehouse.query<{ NAME: string; TYPE: string; NULLABLE: boolean }>(TABLE_COLUMNS, [schema, table]);
  return rows.map((row) => ({ name: row.NAME, duckType: row.TYPE, nullable: row.NULLABLE }));
}
