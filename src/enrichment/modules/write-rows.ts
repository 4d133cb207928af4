// Fenced multi-row INSERTs written once for both engines: Snowflake rejects PARSE_JSON inside VALUES, so
// rows travel as plain binds in a derived table and are converted in the SELECT.
import { sqlSample } from '../../db/sql-registry.js';
import type { BindValue, Statement } from '../../db/warehouse.js';
import { fenceOf } from '../../processor/job-writes.js';
import type { Fence } from '../types.js';

export type ColumnKind = 'value' | 'timestamp' | 'variant';

export interface ColumnSpec {
  name: string;
  kind?: ColumnKind;
}

/** Rows per INSERT: keeps each statement's bind count moderate on both engines. */
export const ROWS_PER_INSERT = 200;

function expression(column: ColumnSpec, index: number): string {
  const ref = `v.C${index}`;
  if (column.kind === 'timestamp') return `CAST(${ref} AS TIMESTAMP_NTZ)`;
  if (column.kind === 'variant') return `PARSE_JSON(${ref})`;
  return ref;
}

function insertText(table: string, columns: readonly ColumnSpec[], rowCount: number, fence: Fence): string {
  const placeholders = `(${columns.map(() => '?').join(', ')})`;
  return `INSERT INTO ${table} (${columns.map((c) => c.name).join(', ')})
SELECT ${columns.map(expression).join(', ')}
FROM (VALUES ${Array.from({ length: rowCount }, () => placeholders).join(', ')}) AS v(${columns.map((_, i) => `C${i}`).join(', ')})
WHERE ${fence.sql}`;
}

export type InsertBuilder = (rows: ReadonlyArray<readonly BindValue[]>, fence: Fence) => Statement[];

/**
 * Declares a fenced multi-row INSERT into `table` (call at module load: the text is registered for the
 * offline Snowflake check) and returns the builder of its statements, chunked by ROWS_PER_INSERT.
 */
export function fencedInsert(table: string, columns: readonly ColumnSpec[]): InsertBuilder {
  if (!/^[A-Z_][A-Z0-9_]*$/.test(table)) throw new Error(`not a table name: ${table}`);
  sqlSample(`enrichment.insert.${table}`, insertText(table, columns, 2, fenceOf('sample-job', 'sample-claim')));
  return (rows, fence) => {
    const statements: Statement[] = [];
    for (let offset = 0; offset < rows.length; offset += ROWS_PER_INSERT) {
      const chunk = rows.slice(offset, offset + ROWS_PER_INSERT);
      statements.push({ sql: insertText(table, columns, chunk.length, fence), binds: [...chunk.flat(), ...fence.binds] });
    }
    return statements;
  };
}
