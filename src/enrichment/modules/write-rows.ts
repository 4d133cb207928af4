// A module's writes as row-set statements (db/row-set.ts), written once for both engines: the rows travel as
// one JSON text bind turned into rows on the server (ROWS_FROM: `PARSE_JSON` of the bind, `LATERAL FLATTEN(INPUT
// => p.J) r`, docs.snowflake.com/en/sql-reference/functions/flatten; DuckDB runs it through the prelude's
// FLATTEN), and every row names its job and claim and is fenced by itself (ROW_FENCE_SQL). So one text writes
// one job's rows or, merged by the batcher (processor/merge-groups.ts), the rows of every job of a claim batch
// at once: a statement's cost is mostly per statement and per column, hardly per row (BENCHMARKS.md,
// backfill), so a batch's writes cost one statement per step, not one per job.
//
// Three shapes, each keyed by the test (TEST_ID, RUN_ID): the type table's old rows deleted, the new ones
// inserted, the test's summary columns in TEST_RESULTS set; and fencedTestRow for a module's own text over one
// row per test (QUERY_HISTORY's update of QUERY_EXECUTIONS).
//
// How values travel: each inserted row is an object keyed by column position (`c0`, `c1`, ...: short keys keep
// the payload small), a NULL is a missing key (a JSON null is not SQL NULL in either engine). Scalars travel as
// JSON strings (the text a bind carries), read back with AS_VARCHAR and converted to the column's type by the
// INSERT or UPDATE (Snowflake coerces text to NUMBER/BOOLEAN: docs.snowflake.com/en/sql-reference/
// data-type-conversion): integers beyond 2^53 (transaction ids) stay exact, doubles keep their shortest
// round-trip text, timestamps are UTC text cast to TIMESTAMP_NTZ. VARIANT columns take the nested JSON value
// itself (GET), so they stay variants.
import { FENCED_ROWS_FROM, MAX_STATEMENT_BYTES, ROW_FENCE_SQL, ROWS_FROM, rowOf, rowSetStatement, rowValue, TEST_KEY_OF_ROW, textOf, timestampOf } from '../../db/row-set.js';
import { sql } from '../../db/sql-registry.js';
import type { BindValue, JsonValue, Statement } from '../../db/warehouse.js';
import type { QueueJob } from '../../queue/job-state.js';
import type { Fence } from '../types.js';

export { MAX_STATEMENT_BYTES } from '../../db/row-set.js';

export type ColumnKind = 'value' | 'timestamp' | 'variant';

export interface ColumnSpec {
  name: string;
  kind?: ColumnKind;
}

const NAME = /^[A-Z_][A-Z0-9_]*$/;

function checkedName(name: string, what: string): string {
  if (!NAME.test(name)) throw new Error(`not a ${what} name: ${name}`);
  return name;
}

/** The row members a row-set statement's fence checks (ROW_FENCE_SQL): the fence's job and claim. */
function claimMembers(fence: Fence): { job: string; claim: string } {
  return { job: fence.binds[0], claim: fence.binds[1] };
}

const key = (index: number) => `c${index}`;

/** The one row of a test's DELETE or UPDATE: the claim, the test's key, and `values` by position. */
function testRowStatement(text: string, job: QueueJob, fence: Fence, values: readonly BindValue[] = []): Statement {
  const members = Object.fromEntries(values.map((value, index) => [key(index), value]));
  return rowSetStatement(text, [rowOf({ ...claimMembers(fence), test: job.testId, run: job.runId, ...members })]);
}

function expression(column: ColumnSpec, index: number): string {
  const member = `GET(r.VALUE, '${key(index)}')`;
  if (column.kind === 'variant') return member;
  if (column.kind === 'timestamp') return `CAST(AS_VARCHAR(${member}) AS TIMESTAMP_NTZ)`;
  return `AS_VARCHAR(${member})`;
}

/** One row as JSON object text: the claim's members, then the values by position, NULLs left out. */
function rowJson(row: readonly BindValue[], columns: readonly ColumnSpec[], claim: { job: string; claim: string }): string {
  if (row.length !== columns.length) throw new Error(`row has ${row.length} values for ${columns.length} columns`);
  const object: Record<string, JsonValue> = { ...claim };
  row.forEach((value, index) => {
    if (value === null || value === undefined) return;
    object[key(index)] = rowValue(value, columns[index]?.kind === 'variant' ? 'variant' : 'value');
  });
  return JSON.stringify(object);
}

export type InsertBuilder = (rows: ReadonlyArray<readonly BindValue[]>, fence: Fence) => Statement[];

/**
 * Declares a fenced INSERT into `table` (call at module load: the text is registered for the offline Snowflake
 * check) and returns the builder of its statements: always at least one (an empty row set writes nothing, and
 * keeps every job's writes the same shape, so the batcher can merge them), more only when the payload passes
 * MAX_STATEMENT_BYTES.
 */
export function fencedInsert(table: string, columns: readonly ColumnSpec[]): InsertBuilder {
  const text = sql(
    `enrichment.insert.${checkedName(table, 'table')}`,
    `INSERT INTO ${table} (${columns.map((c) => checkedName(c.name, 'column')).join(', ')})
SELECT ${columns.map(expression).join(', ')}
FROM ${FENCED_ROWS_FROM}`,
  );
  const fixedBytes = Buffer.byteLength(text) + 2;
  return (rows, fence) => {
    const claim = claimMembers(fence);
    const chunks: string[][] = [[]];
    let chunkBytes = fixedBytes;
    for (const row of rows) {
      const json = rowJson(row, columns, claim);
      const bytes = Buffer.byteLength(json) + 1;
      // A row alone beyond the limit still goes (alone): Snowflake accepts up to 128 MB.
      if (chunks.at(-1)!.length > 0 && chunkBytes + bytes > MAX_STATEMENT_BYTES) {
        chunks.push([]);
        chunkBytes = fixedBytes;
      }
      chunks.at(-1)!.push(json);
      chunkBytes += bytes;
    }
    return chunks.map((chunk) => ({ sql: text, binds: [`[${chunk.join(',')}]`], rowsBind: 0 }));
  };
}

export type TestRowBuilder = (job: QueueJob, fence: Fence, values?: readonly BindValue[]) => Statement;

/**
 * Declares a fenced statement of the caller's own text over one row per test (members `job`, `claim`, `test`,
 * `run`, and `c0`, `c1`, … for `values`), for a write the builders here do not cover; the text reads its rows
 * from ROWS_FROM and checks ROW_FENCE_SQL on each. Returns its builder.
 */
export function fencedTestRow(name: string, text: string): TestRowBuilder {
  const registered = sql(name, text);
  return (job, fence, values = []) => testRowStatement(registered, job, fence, values);
}

export type TestDeleteBuilder = (job: QueueJob, fence: Fence) => Statement;

/** Declares the fenced DELETE of a test's rows from `table` (by TEST_ID and RUN_ID); returns its builder. */
export function fencedTestDelete(name: string, table: string): TestDeleteBuilder {
  const text = sql(
    name,
    `DELETE FROM ${checkedName(table, 'table')}
WHERE EXISTS (SELECT 1 FROM (${TEST_KEY_OF_ROW} FROM ${ROWS_FROM} WHERE ${ROW_FENCE_SQL}) s
  WHERE s.TEST_ID = ${table}.TEST_ID AND s.RUN_ID = ${table}.RUN_ID)`,
  );
  return (job, fence) => testRowStatement(text, job, fence);
}

export type TestUpdateBuilder = (job: QueueJob, fence: Fence, values: readonly BindValue[]) => Statement;

/**
 * Declares the fenced UPDATE of a test's summary columns in TEST_RESULTS (FlakeBench's table has no key: every
 * row of the test and run); returns its builder, which takes the values in `columns` order (null: SQL NULL).
 */
export function fencedTestUpdate(name: string, columns: ReadonlyArray<{ name: string; kind?: 'value' | 'timestamp' }>): TestUpdateBuilder {
  const value = (column: { kind?: 'value' | 'timestamp' }, index: number) => (column.kind === 'timestamp' ? timestampOf(key(index)) : textOf(key(index)));
  const text = sql(
    name,
    `UPDATE TEST_RESULTS
SET ${columns.map((c) => `${checkedName(c.name, 'column')} = s.${c.name}`).join(', ')}
FROM (${TEST_KEY_OF_ROW}, ${columns.map((c, index) => `${value(c, index)} AS ${c.name}`).join(', ')}
  FROM ${ROWS_FROM} WHERE ${ROW_FENCE_SQL}) s
WHERE TEST_RESULTS.TEST_ID = s.TEST_ID AND TEST_RESULTS.RUN_ID = s.RUN_ID`,
  );
  return (job, fence, values) => {
    if (values.length !== columns.length) throw new Error(`${name}: ${values.length} values for ${columns.length} columns`);
    return testRowStatement(text, job, fence, values);
  };
}
