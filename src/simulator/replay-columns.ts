// What a replayed export may carry, per file: the documented columns of each table or view and how to check a
// value of each. Documented means FlakeBench's own columns (src/sources/flakebench-tables.ts), the columns this
// service's migrations add to FlakeBench's tables in Snowflake (read from the migrations, so a new one is
// picked up), and Snowflake's view contracts (src/sources/account-usage.ts). A value is checked against the
// documented Snowflake type, as it appears in a `COPY INTO … FROM (SELECT OBJECT_CONSTRUCT(*) …)` export:
// numbers and booleans bare, VARIANT/OBJECT/ARRAY as nested JSON, timestamps as text.
import { FLAKEBENCH_TABLES, type FlakeBenchColumn } from '../sources/flakebench-tables.js';
import { SOURCE_VIEWS, type SourceViewContract } from '../sources/account-usage.js';
import { loadMigrations, statementsFor } from '../db/migrations.js';
import { duckDbTypeOf } from './view-tables.js';

export type FlakeBenchTable = keyof typeof FLAKEBENCH_TABLES;

export interface DocumentedColumn {
  name: string;
  /** The documented Snowflake type (`VARCHAR(36)`, `FLOAT`, `TIMESTAMP_LTZ`, `VARIANT`, …). */
  type: string;
  /** A row without it is refused (FlakeBench's NOT NULL columns, the views' placing columns). */
  required: boolean;
  /** Returns a problem with the value (never called with null), or undefined. */
  check: (value: unknown) => string | undefined;
  isTimestamp: boolean;
}

const ADD_COLUMN = /^ALTER\s+TABLE\s+(\w+)\s+ADD\s+COLUMN\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)\s+(.+?)\s*$/i;

/** Columns this service's migrations add to FlakeBench's tables on Snowflake (a real table has them once installed). */
export function serviceAddedColumns(table: FlakeBenchTable): FlakeBenchColumn[] {
  const added: FlakeBenchColumn[] = [];
  for (const migration of loadMigrations()) {
    if (migration.engine === 'duckdb') continue;
    for (const statement of statementsFor(migration, 'snowflake')) {
      const match = ADD_COLUMN.exec(statement);
      if (match && match[1]?.toUpperCase() === table && match[2] && match[3]) {
        added.push({ name: match[2].toUpperCase(), type: match[3].replace(/\s+NOT\s+NULL.*$/i, '').toUpperCase(), notNull: false });
      }
    }
  }
  return added;
}

// Snowflake writes a timestamp in a VARIANT as `2026-01-15 10:00:00.000` (NTZ) or `2026-01-15 02:00:00.000 -0800`
// (LTZ/TZ); ISO-8601 (`T`, `Z`, `+01:00`) is accepted too. No offset means UTC.
const TIMESTAMP_TEXT = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})? ?(Z|[+-]\d{2}(?::?\d{2})?)?$/;

/** The ISO-8601 form DuckDB casts exactly (offset as ±HH:MM), or undefined when the text is no valid timestamp. */
export function normalizedTimestamp(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const match = TIMESTAMP_TEXT.exec(value);
  if (!match) return undefined;
  const [, year, month, day, hour, minute, second, fraction = '', offset] = match;
  const parts = [year, month, day, hour, minute, second].map(Number) as [number, number, number, number, number, number];
  const date = new Date(Date.UTC(parts[0], parts[1] - 1, parts[2], parts[3], parts[4], parts[5]));
  // Date.UTC rolls 2026-02-30 over to March: a field out of range shows as a different date.
  if (date.getUTCFullYear() !== parts[0] || date.getUTCMonth() !== parts[1] - 1 || date.getUTCDate() !== parts[2] || date.getUTCHours() !== parts[3]) {
    return undefined;
  }
  if (parts[4] > 59 || parts[5] > 59) return undefined;
  let zone = '';
  if (offset === 'Z') zone = 'Z';
  else if (offset !== undefined) {
    const digits = offset.replace(':', '');
    const hours = Number(digits.slice(1, 3));
    const minutes = digits.length > 3 ? Number(digits.slice(3, 5)) : 0;
    if (hours > 18 || minutes > 59) return undefined;
    zone = `${digits[0]}${digits.slice(1, 3)}:${digits.length > 3 ? digits.slice(3, 5) : '00'}`;
  }
  return `${year}-${month}-${day}T${hour}:${minute}:${second}${fraction}${zone}`;
}

const describe = (value: unknown) => JSON.stringify(value);

function checkerFor(type: string, integerNumber: boolean): (value: unknown) => string | undefined {
  const base = type.replace(/\(.*$/, '');
  switch (base) {
    case 'VARCHAR':
    case 'TEXT':
    case 'STRING': {
      const length = /\((\d+)\)/.exec(type)?.[1];
      const max = length === undefined ? undefined : Number(length);
      return (v) =>
        typeof v !== 'string'
          ? `expected text, got ${describe(v)}`
          : max !== undefined && v.length > max
            ? `expected at most ${max} characters (${type}), got ${v.length}`
            : undefined;
    }
    case 'INTEGER':
    case 'INT':
    case 'BIGINT':
    case 'SMALLINT':
    case 'NUMBER':
    case 'FLOAT':
    case 'DOUBLE': {
      const integer = base !== 'FLOAT' && base !== 'DOUBLE' && (base !== 'NUMBER' || integerNumber);
      return (v) =>
        typeof v !== 'number' || !Number.isFinite(v)
          ? `expected a number, got ${describe(v)}`
          : integer && !Number.isInteger(v)
            ? `expected an integer, got ${v}`
            : undefined;
    }
    case 'BOOLEAN':
      return (v) => (typeof v === 'boolean' ? undefined : `expected true or false, got ${describe(v)}`);
    case 'TIMESTAMP_NTZ':
    case 'TIMESTAMP_LTZ':
    case 'TIMESTAMP_TZ':
    case 'TIMESTAMP':
      return (v) =>
        normalizedTimestamp(v) === undefined
          ? `expected a timestamp (2026-01-15 10:00:00.000, optionally with an offset, or ISO-8601), got ${describe(v)}`
          : undefined;
    case 'OBJECT':
      return (v) => (typeof v === 'object' && v !== null && !Array.isArray(v) ? undefined : `expected a JSON object, got ${describe(v)}`);
    case 'ARRAY':
      return (v) => (Array.isArray(v) ? undefined : `expected a JSON array, got ${describe(v)}`);
    default:
      // VARIANT: any JSON value.
      return () => undefined;
  }
}

function documented(name: string, type: string, required: boolean, integerNumber = true): DocumentedColumn {
  return { name, type, required, check: checkerFor(type, integerNumber), isTimestamp: /^TIMESTAMP/i.test(type) };
}

function viewColumns(view: SourceViewContract): DocumentedColumn[] {
  return view.columns.map((column) => documented(column.name, column.type, column.required === true, duckDbTypeOf(column) === 'DECIMAL(38,0)'));
}

function tableColumns(table: FlakeBenchTable): DocumentedColumn[] {
  const own = FLAKEBENCH_TABLES[table].map((column) => documented(column.name, column.type, column.notNull));
  const known = new Set(own.map((column) => column.name));
  const added = serviceAddedColumns(table)
    .filter((column) => !known.has(column.name))
    .map((column) => documented(column.name, column.type, false));
  return [...own, ...added];
}

export const REPLAY_TARGETS: readonly string[] = [...Object.keys(FLAKEBENCH_TABLES), ...SOURCE_VIEWS.map((view) => view.name)];

// Built once per target: the migrations are read from disk, and they do not change while the process runs.
const documentedCache = new Map<string, DocumentedColumn[]>();

/** The documented columns of a replay target, or undefined when the name is no table or view replay knows. */
export function documentedColumnsOf(target: string): DocumentedColumn[] | undefined {
  const cached = documentedCache.get(target);
  if (cached) return cached;
  const view = SOURCE_VIEWS.find((candidate) => candidate.name === target);
  const columns = Object.hasOwn(FLAKEBENCH_TABLES, target) ? tableColumns(target as FlakeBenchTable) : view ? viewColumns(view) : undefined;
  if (columns) documentedCache.set(target, columns);
  return columns;
}
