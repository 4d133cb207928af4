// Rows read from an ACCOUNT_USAGE view are checked against the view's documented column types before any
// type's transform sees them: a changed view, a broken replay or a driver surprise must fail the type with a
// reason that names the view, the column and the value, never turn into NaN statistics or string-concatenated
// sums in published results. Only columns that carry a view column's name are checked (a statement's own
// aliases, COUNT(*) AS N and the like, are the statement's business).
import { withQuery, type BindValue, type Row, type StatementOptions, type Warehouse } from '../db/warehouse.js';
import { AGGREGATE_STAT_COLUMNS, SOURCE_VIEWS, type SourceColumnType, type SourceViewName } from './account-usage.js';

/** Not retryable: the same row comes back on every attempt. */
export class MalformedSourceRowError extends Error {
  readonly retryable = false;
  constructor(message: string) {
    super(message);
    this.name = 'MalformedSourceRowError';
  }
}

// NUMBER may arrive as text: the Snowflake adapter keeps integers beyond 2^53 exact as strings.
const NUMERIC_TEXT = /^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;
const isNumeric = (value: unknown) =>
  (typeof value === 'number' && Number.isFinite(value)) || typeof value === 'bigint' || (typeof value === 'string' && NUMERIC_TEXT.test(value));

function fits(type: SourceColumnType, value: unknown): boolean {
  if (value === null || value === undefined) return true;
  switch (type) {
    case 'NUMBER':
    case 'FLOAT':
      return isNumeric(value);
    case 'TEXT':
      return typeof value === 'string';
    case 'BOOLEAN':
      return typeof value === 'boolean';
    case 'TIMESTAMP_LTZ':
      return value instanceof Date && !Number.isNaN(value.getTime());
    default:
      return true; // OBJECT / ARRAY / VARIANT: semi-structured, checked below where the service reads inside
  }
}

const AGGREGATE_STATS = new Set<string>(AGGREGATE_STAT_COLUMNS);
const columnTypes = new Map(SOURCE_VIEWS.map((view) => [view.name, new Map(view.columns.map((column) => [column.name, column.type]))]));

const shown = (value: unknown) => (typeof value === 'string' ? `'${value.slice(0, 40)}'` : typeof value === 'object' ? JSON.stringify(value)?.slice(0, 60) : String(value));

/** Throws MalformedSourceRowError for the first value that does not fit its documented type. */
export function checkSourceRows(view: SourceViewName, rows: readonly Row[]): void {
  const types = columnTypes.get(view);
  if (!types) throw new Error(`unknown view ${view}`);
  rows.forEach((row, index) => {
    for (const [column, value] of Object.entries(row)) {
      const type = types.get(column);
      if (type === undefined) continue;
      if (!fits(type, value)) {
        throw new MalformedSourceRowError(`malformed row ${index + 1} from ${view}: ${column} is ${shown(value)}, documented as ${type}`);
      }
      // AGGREGATE_QUERY_HISTORY's statistics objects: every key the service pools is a number (or absent).
      if (view === 'AGGREGATE_QUERY_HISTORY' && AGGREGATE_STATS.has(column) && value !== null && typeof value === 'object') {
        for (const [key, stat] of Object.entries(value as Record<string, unknown>)) {
          if (stat !== null && !isNumeric(stat)) {
            throw new MalformedSourceRowError(`malformed row ${index + 1} from ${view}: ${column}:${key} is ${shown(stat)}, documented as a number`);
          }
        }
      }
    }
  });
}

/** The warehouse a type reads its view through: every row set it returns is checked against the view. */
export function checkedSourceWarehouse(warehouse: Warehouse, view: SourceViewName): Warehouse {
  return withQuery(warehouse, async <T extends Row = Row>(sql: string, binds?: readonly BindValue[], options?: StatementOptions): Promise<T[]> => {
    const rows = await warehouse.query<T>(sql, binds, options);
    checkSourceRows(view, rows);
    return rows;
  });
}
