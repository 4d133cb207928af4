// Fenced multi-row INSERTs written once for both engines, the rows bound as one JSON text and turned into rows
// on the server: `INSERT ... SELECT <conversions> FROM (SELECT PARSE_JSON(?) AS J) p, LATERAL FLATTEN(INPUT =>
// p.J) r` (docs.snowflake.com/en/sql-reference/functions/flatten; DuckDB runs it through the prelude's FLATTEN).
// One statement per table whatever the row count, instead of one per 200 rows.
//
// How values travel: each row is an object keyed by column position (`c0`, `c1`, ...: short keys keep the
// payload small), a NULL is a missing key (a JSON null is not SQL NULL in either engine). Scalars travel as
// JSON strings (the text a bind carries), read back with AS_VARCHAR and converted to the column's type by the
// INSERT (Snowflake coerces text to NUMBER/BOOLEAN: docs.snowflake.com/en/sql-reference/data-type-conversion):
// integers beyond 2^53 (transaction ids) stay exact, doubles keep their shortest round-trip text, timestamps
// are UTC text cast to TIMESTAMP_NTZ. VARIANT columns take the nested JSON value
// itself (GET), so they stay variants. Columns whose value is the same in every row (ColumnSpec.shared) are
// bound once instead.
import { toWireBind } from '../../db/binds.js';
import { rowValue } from '../../db/row-set.js';
import { sqlSample } from '../../db/sql-registry.js';
import type { BindValue, JsonValue, Statement } from '../../db/warehouse.js';
import { fenceOf } from '../../queue/fence.js';
import type { Fence } from '../types.js';

export type ColumnKind = 'value' | 'timestamp' | 'variant';

export interface ColumnSpec {
  name: string;
  kind?: ColumnKind;
  /**
   * The same value in every row (the test's ids, the read time): bound once per statement instead of
   * travelling in each row of the payload. The builder refuses rows that disagree.
   */
  shared?: boolean;
}

/**
 * Largest statement (text plus binds, in bytes) sent as one: Snowflake runs larger requests but cannot retry
 * them past 1 MB (notes/snowflake-round-trips.md). Only a payload beyond it is split, by size.
 */
export const MAX_STATEMENT_BYTES = 900_000;

const key = (index: number) => `c${index}`;

function expression(column: ColumnSpec, index: number): string {
  if (column.shared) return column.kind === 'timestamp' ? 'CAST(? AS TIMESTAMP_NTZ)' : column.kind === 'variant' ? 'PARSE_JSON(?)' : '?';
  const member = `GET(r.VALUE, '${key(index)}')`;
  if (column.kind === 'variant') return member;
  if (column.kind === 'timestamp') return `CAST(AS_VARCHAR(${member}) AS TIMESTAMP_NTZ)`;
  return `AS_VARCHAR(${member})`;
}

function insertText(table: string, columns: readonly ColumnSpec[], fence: Fence): string {
  return `INSERT INTO ${table} (${columns.map((c) => c.name).join(', ')})
SELECT ${columns.map(expression).join(', ')}
FROM (SELECT PARSE_JSON(?) AS J) p, LATERAL FLATTEN(INPUT => p.J) r
WHERE ${fence.sql}`;
}

/** One row as JSON object text, NULLs left out. */
function rowJson(row: readonly BindValue[], columns: readonly ColumnSpec[]): string {
  if (row.length !== columns.length) throw new Error(`row has ${row.length} values for ${columns.length} columns`);
  const object: Record<string, JsonValue> = {};
  row.forEach((value, index) => {
    if (value === null || value === undefined || columns[index]?.shared) return;
    object[key(index)] = rowValue(value, columns[index]?.kind === 'variant' ? 'variant' : 'value');
  });
  return JSON.stringify(object);
}

const sameValue = (a: BindValue, b: BindValue) =>
  a instanceof Date && b instanceof Date ? a.getTime() === b.getTime() : typeof a === 'object' && a !== null ? JSON.stringify(a) === JSON.stringify(b) : a === b;

/** The shared columns' values, bound in the statement's SELECT list (they come first in the text). */
function sharedBinds(rows: ReadonlyArray<readonly BindValue[]>, columns: readonly ColumnSpec[]): BindValue[] {
  const first = rows[0];
  if (!first) return [];
  return columns.flatMap((column, index) => {
    if (!column.shared) return [];
    const value = first[index] ?? null;
    if (rows.some((row) => !sameValue(row[index] ?? null, value))) throw new Error(`rows disagree on the shared column ${column.name}`);
    return [value];
  });
}

export type InsertBuilder = (rows: ReadonlyArray<readonly BindValue[]>, fence: Fence) => Statement[];

/**
 * Declares a fenced INSERT into `table` (call at module load: the text is registered for the offline Snowflake
 * check) and returns the builder of its statements: one, or more only when the payload passes MAX_STATEMENT_BYTES.
 */
export function fencedInsert(table: string, columns: readonly ColumnSpec[]): InsertBuilder {
  if (!/^[A-Z_][A-Z0-9_]*$/.test(table)) throw new Error(`not a table name: ${table}`);
  sqlSample(`enrichment.insert.${table}`, insertText(table, columns, fenceOf('sample-job', 'sample-claim')));
  return (rows, fence) => {
    const text = insertText(table, columns, fence);
    const shared = sharedBinds(rows, columns);
    const fixedBytes =
      Buffer.byteLength(text) + [...shared, ...fence.binds].reduce((sum: number, bind) => sum + Buffer.byteLength(String(toWireBind(bind) ?? '')), 0) + 2;
    const statements: Statement[] = [];
    let chunk: string[] = [];
    let chunkBytes = fixedBytes;
    const flush = () => {
      if (chunk.length === 0) return;
      statements.push({ sql: text, binds: [...shared, `[${chunk.join(',')}]`, ...fence.binds] });
      chunk = [];
      chunkBytes = fixedBytes;
    };
    for (const row of rows) {
      const json = rowJson(row, columns);
      const bytes = Buffer.byteLength(json) + 1;
      // A row alone beyond the limit still goes (alone): Snowflake accepts up to 128 MB.
      if (chunk.length > 0 && chunkBytes + bytes > MAX_STATEMENT_BYTES) flush();
      chunk.push(json);
      chunkBytes += bytes;
    }
    flush();
    return statements;
  };
}
