// Row-set statements: a write whose rows travel as ONE JSON array bind, turned into rows on the server by
// PARSE_JSON and `LATERAL FLATTEN(INPUT => p.J) r` (ROWS_FROM) (docs.snowflake.com/en/sql-reference/
// functions/flatten; DuckDB runs it through the prelude's FLATTEN). Each row names its own claim (keys `job`
// and `claim`) and the statement checks the fence per row, so the same text writes one claim's rows or the rows
// of many claims at once: statements with the same text and the same other binds are merged by joining their
// arrays (mergeRowSets), which is how statement-batcher.ts writes the groups of a whole claim batch with one
// statement per step instead of one per job.
//
// How values travel (as in enrichment/modules/write-rows.ts): scalars as the text a bind would carry (read
// back with AS_VARCHAR and cast), timestamps as UTC text, VARIANT values as JSON, a NULL as a missing key (a
// JSON null is not SQL NULL in either engine).
import { formatUtcTimestamp } from './binds.js';
import type { BindValue, JsonObject, JsonValue, Statement } from './warehouse.js';

/**
 * Largest statement (text plus binds, in bytes) sent as one: Snowflake runs larger requests but cannot retry
 * them past 1 MB (notes/snowflake-round-trips.md). A payload beyond it is split by its builder, and merged row
 * sets stay under it (processor/merge-groups.ts).
 */
export const MAX_STATEMENT_BYTES = 900_000;

/**
 * A JSON text bind as a one-row relation (column J, the parsed value) under `alias`. The bind is cast to
 * VARCHAR in a subquery of its own, outside any macro: DuckDB plans a prepared statement again at every
 * execution when a bind's type is left to inference or the bind sits inside a macro's arguments (PARSE_JSON
 * is a prelude macro there), and for a row-set write of dozens of columns that planning was 10 ms or more of
 * every statement (BENCHMARKS.md, "Backfill"). Snowflake reads the same text as PARSE_JSON(?).
 */
export const jsonBindRelation = (alias: string) => `(SELECT PARSE_JSON(b.JSON_TEXT) AS J FROM (SELECT CAST(? AS VARCHAR) AS JSON_TEXT) b) ${alias}`;

/** The rows of the statement's one JSON array bind, aliased `r` (r.VALUE the row, r.INDEX its position). */
export const ROWS_FROM = `${jsonBindRelation('p')}, LATERAL FLATTEN(INPUT => p.J) r`;

/** A row member as text (NULL when missing). */
export const textOf = (key: string) => `AS_VARCHAR(GET(r.VALUE, '${key}'))`;
/** A row member as TIMESTAMP_NTZ (it travels as UTC text). */
export const timestampOf = (key: string) => `CAST(${textOf(key)} AS TIMESTAMP_NTZ)`;
/** A row member kept as a VARIANT (an object or array). */
export const variantOf = (key: string) => `GET(r.VALUE, '${key}')`;

/** The claim fence checked per row: the row's job still carries the row's claim (see queue/fence.ts). */
export const ROW_FENCE_SQL = `EXISTS (SELECT 1 FROM DELAYED_ENRICHMENT_QUEUE q WHERE q.JOB_ID = ${textOf('job')} AND q.CLAIM_ID = ${textOf('claim')})`;

/** A row's test (members `test` and `run`) as TEST_ID and RUN_ID: the start of a SELECT list over ROWS_FROM. */
export const TEST_KEY_OF_ROW = `SELECT ${textOf('test')} AS TEST_ID, ${textOf('run')} AS RUN_ID`;

/** ROWS_FROM with only the rows whose claim holds, still aliased `r` (for an INSERT … SELECT of them). */
export const FENCED_ROWS_FROM = `(SELECT r.INDEX AS INDEX, r.VALUE AS VALUE FROM ${ROWS_FROM} WHERE ${ROW_FENCE_SQL}) r`;

export type RowValueKind = 'value' | 'variant';

/** A value as it travels in a row: scalars as their bind text, variants as JSON. */
export function rowValue(value: BindValue, kind: RowValueKind | undefined): JsonValue {
  if (kind === 'variant') return value instanceof Date ? formatUtcTimestamp(value) : value;
  if (value instanceof Date) return formatUtcTimestamp(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`cannot write non-finite number ${value}`);
    return String(value);
  }
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return value;
  // An object or array in a non-VARIANT column: its JSON text, as a bind would carry it.
  return JSON.stringify(value);
}

/** One row: scalar members as bind text, `variants` kept as JSON, NULLs left out. */
export function rowOf(scalars: Record<string, BindValue>, variants: Record<string, BindValue> = {}): JsonObject {
  const row: JsonObject = {};
  for (const [key, value] of Object.entries(scalars)) if (value !== null && value !== undefined) row[key] = rowValue(value, 'value');
  for (const [key, value] of Object.entries(variants)) if (value !== null && value !== undefined) row[key] = rowValue(value, 'variant');
  return row;
}

/** A row-set statement: `binds` are the text's other binds, the rows go in the bind at `at` (default last). */
export function rowSetStatement(sql: string, rows: readonly JsonObject[], binds: readonly BindValue[] = [], at = binds.length): Statement {
  return { sql, binds: [...binds.slice(0, at), JSON.stringify(rows), ...binds.slice(at)], rowsBind: at };
}

/**
 * What must agree for two row-set statements to be one (their text and every bind but the rows);
 * undefined for a statement that is not a row-set statement.
 */
export function rowSetKey(statement: Statement): string | undefined {
  const at = statement.rowsBind;
  if (at === undefined) return undefined;
  const others = (statement.binds ?? []).map((bind, index) => (index === at ? null : bind instanceof Date ? bind.toISOString() : bind));
  return `${at}\u0000${statement.sql}\u0000${JSON.stringify(others)}`;
}

/** Row-set statements of one key (rowSetKey) as one statement over all their rows, in order. */
export function mergeRowSets(statements: readonly Statement[]): Statement {
  const [first] = statements;
  const at = first?.rowsBind;
  if (first === undefined || at === undefined) throw new Error('mergeRowSets needs row-set statements');
  const arrays = statements.map((statement) => {
    const rows = statement.binds?.[at];
    if (typeof rows !== 'string' || !rows.startsWith('[') || !rows.endsWith(']')) throw new Error('a row-set statement without its JSON array of rows');
    return rows.slice(1, -1);
  });
  const binds = [...(first.binds ?? [])];
  binds[at] = `[${arrays.filter((rows) => rows !== '').join(',')}]`;
  return { sql: first.sql, binds, rowsBind: at };
}
