// Replay of rows exported from a real account (NDJSON, one object per row, the real upper-case column names,
// timestamps as ISO-8601 text, OBJECT/ARRAY/VARIANT as JSON) into the embedded database. Every row is checked
// against its contract first: the ACCOUNT_USAGE views against src/sources/account-usage.ts, FlakeBench's
// tables against their migrated columns. Any problem rejects the whole load, naming file and line; a valid
// load is one transaction, and replayed view rows are visible at once (VISIBLE_AT NULL).
import { SOURCE_VIEWS, type SourceColumnType, type SourceViewContract } from '../sources/account-usage.js';
import { isWarehouseError, type Warehouse } from '../db/warehouse.js';
import { bulkInsertJson, catalogColumns, type LoadColumn } from './bulk-insert.js';
import { baseTableOf, duckDbTypeOf } from './view-tables.js';

export const FLAKEBENCH_TABLES = ['TEST_RESULTS', 'QUERY_EXECUTIONS'] as const;
export const REPLAY_TARGETS: readonly string[] = [...FLAKEBENCH_TABLES, ...SOURCE_VIEWS.map((view) => view.name)];
const MAX_REPORTED_PROBLEMS = 20;

export class ReplayError extends Error {
  constructor(
    readonly problems: string[],
    readonly kind: 'invalid' | 'conflict' = 'invalid',
  ) {
    super(problems.slice(0, 5).join('; ') + (problems.length > 5 ? `; and ${problems.length - 5} more` : ''));
    this.name = 'ReplayError';
  }
}

export interface ReplayFile {
  /** `QUERY_HISTORY.ndjson` or `QUERY_HISTORY`. */
  name: string;
  text: string;
}

interface ExpectedColumn {
  name: string;
  /** A contract type, or the DuckDB type of one of our tables. */
  check: (value: unknown) => string | undefined;
  required: boolean;
  duckType: string;
}

/** ISO-8601 date and time with seconds, optional fraction and optional offset (none: UTC), as the loader casts it. */
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}(:?\d{2})?)?$/;

function checkTimestamp(value: unknown): string | undefined {
  if (typeof value !== 'string' || !ISO_TIMESTAMP.test(value) || Number.isNaN(Date.parse(value.replace(' ', 'T')))) {
    return `expected an ISO-8601 timestamp, got ${JSON.stringify(value)}`;
  }
  return undefined;
}

function checkerFor(type: SourceColumnType | 'INTEGER' | 'VARCHAR' | 'JSON', integer = false): (value: unknown) => string | undefined {
  switch (type) {
    case 'TEXT':
    case 'VARCHAR':
      return (v) => (typeof v === 'string' ? undefined : `expected text, got ${JSON.stringify(v)}`);
    case 'NUMBER':
    case 'FLOAT':
    case 'INTEGER':
      return (v) =>
        typeof v !== 'number' || !Number.isFinite(v)
          ? `expected a number, got ${JSON.stringify(v)}`
          : integer && !Number.isInteger(v)
            ? `expected an integer, got ${v}`
            : undefined;
    case 'BOOLEAN':
      return (v) => (typeof v === 'boolean' ? undefined : `expected true or false, got ${JSON.stringify(v)}`);
    case 'TIMESTAMP_LTZ':
      return checkTimestamp;
    case 'OBJECT':
      return (v) => (typeof v === 'object' && v !== null && !Array.isArray(v) ? undefined : `expected a JSON object, got ${JSON.stringify(v)}`);
    case 'ARRAY':
      return (v) => (Array.isArray(v) ? undefined : `expected a JSON array, got ${JSON.stringify(v)}`);
    case 'VARIANT':
    case 'JSON':
      return () => undefined;
  }
}

function viewColumns(view: SourceViewContract): ExpectedColumn[] {
  return view.columns.map((column) => {
    const duckType = duckDbTypeOf(column);
    return { name: column.name, required: column.required === true, duckType, check: checkerFor(column.type, duckType === 'DECIMAL(38,0)') };
  });
}

/** FlakeBench's tables: the columns as migrated (sql/0000 + 0002/0003), NOT NULL ones required. */
async function tableColumns(warehouse: Warehouse, table: string): Promise<ExpectedColumn[]> {
  const columns = await catalogColumns(warehouse, 'main', table);
  return columns.map((column) => {
    const type = column.duckType.toUpperCase();
    const check = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UBIGINT|UINTEGER|DECIMAL\(\d+,0\))$/.test(type)
      ? checkerFor('INTEGER', true)
      : /^(DOUBLE|FLOAT|REAL|DECIMAL)/.test(type)
        ? checkerFor('FLOAT')
        : type === 'BOOLEAN'
          ? checkerFor('BOOLEAN')
          : type.startsWith('TIMESTAMP') || type === 'DATE'
            ? checkTimestamp
            : type === 'JSON'
              ? checkerFor('JSON')
              : checkerFor('VARCHAR');
    return { name: column.name, required: !column.nullable, duckType: column.duckType, check };
  });
}

interface ParsedFile {
  file: string;
  target: string;
  table: string;
  columns: ExpectedColumn[];
  lines: string[];
  present: Set<string>;
}

function targetOf(name: string): string | undefined {
  const bare = name.endsWith('.ndjson') ? name.slice(0, -'.ndjson'.length) : name;
  return REPLAY_TARGETS.includes(bare) ? bare : undefined;
}

/** Validates every file; throws ReplayError listing problems as `file:line: ...`. */
export async function validateReplay(warehouse: Warehouse, files: readonly ReplayFile[]): Promise<ParsedFile[]> {
  const problems: string[] = [];
  const parsed: ParsedFile[] = [];
  const seen = new Set<string>();
  if (files.length === 0) throw new ReplayError(['no files to replay']);
  for (const { name, text } of files) {
    const target = targetOf(name);
    const file = name.endsWith('.ndjson') ? name : `${name}.ndjson`;
    if (target === undefined) {
      problems.push(`${name}: not a replayable table or view (expected one of ${REPLAY_TARGETS.map((t) => `${t}.ndjson`).join(', ')})`);
      continue;
    }
    if (seen.has(target)) {
      problems.push(`${file}: given twice`);
      continue;
    }
    seen.add(target);
    const view = SOURCE_VIEWS.find((v) => v.name === target);
    const columns = view ? viewColumns(view) : await tableColumns(warehouse, target);
    const byName = new Map(columns.map((column) => [column.name, column]));
    const lines: string[] = [];
    const present = new Set<string>();
    text.split(/\r?\n/).forEach((line, index) => {
      if (line.trim() === '' || problems.length >= MAX_REPORTED_PROBLEMS) return;
      const where = `${file}:${index + 1}`;
      let row: unknown;
      try {
        row = JSON.parse(line);
      } catch (error) {
        problems.push(`${where}: not valid JSON (${(error as Error).message})`);
        return;
      }
      if (typeof row !== 'object' || row === null || Array.isArray(row)) {
        problems.push(`${where}: expected one JSON object per line`);
        return;
      }
      const record = row as Record<string, unknown>;
      for (const [key, value] of Object.entries(record)) {
        const column = byName.get(key);
        if (!column) {
          problems.push(`${where}: unknown column ${key} (column names are upper case, as ${target} has them)`);
          continue;
        }
        present.add(key);
        if (value === null) continue;
        const problem = column.check(value);
        if (problem) problems.push(`${where}: column ${key}: ${problem}`);
      }
      for (const column of columns) {
        if (column.required && (record[column.name] === undefined || record[column.name] === null)) {
          problems.push(`${where}: required column ${column.name} is missing`);
        }
      }
      lines.push(line);
    });
    const table = view ? baseTableOf(view) : `main.${target}`;
    parsed.push({ file, target, table, columns, lines, present });
  }
  if (problems.length > 0) throw new ReplayError(problems);
  return parsed;
}

/** Validates, then loads every file in one transaction. Returns rows loaded per table or view. */
export async function replay(warehouse: Warehouse, files: readonly ReplayFile[]): Promise<Record<string, number>> {
  const parsed = await validateReplay(warehouse, files);
  return warehouse.withTransaction(async (scope) => {
    const counts: Record<string, number> = {};
    for (const file of parsed) {
      const columns: LoadColumn[] = file.columns.filter((column) => file.present.has(column.name));
      try {
        counts[file.target] = await bulkInsertJson(scope, file.table, columns, file.lines);
      } catch (error) {
        const message = isWarehouseError(error) ? error.message : String(error);
        const conflict = isWarehouseError(error) && error.kind === 'constraint';
        throw new ReplayError([`${file.file}: ${message}`], conflict ? 'conflict' : 'invalid');
      }
    }
    return counts;
  });
}
