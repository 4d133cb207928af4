// Replay of rows exported from a real account (NDJSON, one object per row, as `COPY INTO … FROM (SELECT
// OBJECT_CONSTRUCT(*) …)` writes them) into the embedded database. A file is named after its table or view.
//
// Keys match columns without regard to case (`SELECT *` to JSON tools often writes lower case). Every value of a
// documented column (replay-columns.ts) is checked against its documented type; a column nobody documents is
// reported and left out, or refused with `strict`. Only the documented columns the embedded table actually has
// are written (read from the catalog, so replay follows the migrations); a documented column the table lacks is
// reported as not stored. Any real problem (bad JSON or value, a missing required column) rejects the whole
// load, naming file, line and column; a valid load is one transaction, and replayed view rows are visible at
// once (VISIBLE_AT NULL). Keys absent from a row are NULL, as OBJECT_CONSTRUCT(*) leaves NULLs out.
import type { Logger } from '../logger.js';
import { SOURCE_VIEWS } from '../sources/account-usage.js';
import { isWarehouseError, type Warehouse } from '../db/warehouse.js';
import { bulkInsertJson, catalogColumns, type CatalogColumn, type LoadColumn } from './bulk-insert.js';
import { jsonObjectMembers } from './json-members.js';
import { documentedColumnsOf, normalizedTimestamp, REPLAY_TARGETS, type DocumentedColumn } from './replay-columns.js';
import { BASE_SCHEMA } from './view-tables.js';

export { REPLAY_TARGETS };
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

export interface ReplayOptions {
  /** Refuse the load when a row carries a column nobody documents (default: report it and leave it out). */
  strict?: boolean;
  /** Where the report is logged (undocumented columns as warnings). */
  log?: Pick<Logger, 'warn' | 'info'>;
}

/** A column nobody documents for the file's table or view: left out of every row. */
export interface UndocumentedColumn {
  file: string;
  /** As the file spells it (first occurrence). */
  column: string;
  rows: number;
  first_line: number;
}

/** A documented column with values in the file that the embedded table does not have (yet): left out. */
export interface NotStoredColumn {
  file: string;
  column: string;
  rows: number;
}

export interface ReplayResult {
  /** Rows loaded per table or view. */
  rows: Record<string, number>;
  undocumented_columns: UndocumentedColumn[];
  not_stored_columns: NotStoredColumn[];
}

interface ParsedFile {
  file: string;
  target: string;
  table: string;
  /** Stored columns with a value in at least one row, in table order. */
  load: LoadColumn[];
  /** Rows rewritten to the stored columns' names, values as written (timestamps normalized). */
  lines: string[];
}

interface Validated {
  files: ParsedFile[];
  undocumented: UndocumentedColumn[];
  notStored: NotStoredColumn[];
}

function targetOf(name: string): string | undefined {
  const bare = name.endsWith('.ndjson') ? name.slice(0, -'.ndjson'.length) : name;
  return REPLAY_TARGETS.includes(bare) ? bare : undefined;
}

function isFlakeBenchTable(target: string): boolean {
  return !SOURCE_VIEWS.some((view) => view.name === target);
}

/** The embedded table that takes the rows, and its columns by upper-case name. */
async function storageOf(warehouse: Warehouse, target: string): Promise<{ table: string; columns: Map<string, CatalogColumn> }> {
  const [schema, table] = isFlakeBenchTable(target) ? ['main', `main.${target}`] : [BASE_SCHEMA, `${BASE_SCHEMA}.${target}`];
  const columns = await catalogColumns(warehouse, schema, target);
  return { table, columns: new Map(columns.map((column) => [column.name.toUpperCase(), column])) };
}

/** Validates every file; throws ReplayError listing problems as `file:line: ...`. */
export async function validateReplay(warehouse: Warehouse, files: readonly ReplayFile[], strict = false): Promise<Validated> {
  const problems: string[] = [];
  const parsed: ParsedFile[] = [];
  const undocumented: UndocumentedColumn[] = [];
  const notStored: NotStoredColumn[] = [];
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
    const documented = new Map((documentedColumnsOf(target) as DocumentedColumn[]).map((column) => [column.name, column]));
    const storage = await storageOf(warehouse, target);
    const required = [...documented.values()].filter((column) => column.required || storage.columns.get(column.name)?.nullable === false);
    const extra = new Map<string, UndocumentedColumn>();
    const unstored = new Map<string, NotStoredColumn>();
    const present = new Set<string>();
    const lines: string[] = [];
    text.split(/\r?\n/).forEach((line, index) => {
      if (line.trim() === '' || problems.length >= MAX_REPORTED_PROBLEMS) return;
      const lineNumber = index + 1;
      const where = `${file}:${lineNumber}`;
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
      const keysSeen = new Map<string, string>();
      const filled = new Set<string>();
      const out: string[] = [];
      for (const member of jsonObjectMembers(line)) {
        const upper = member.key.toUpperCase();
        const earlier = keysSeen.get(upper);
        if (earlier !== undefined) {
          problems.push(
            earlier === member.key
              ? `${where}: key ${member.key} given twice`
              : `${where}: keys ${earlier} and ${member.key} name the same column (keys match columns without regard to case)`,
          );
          continue;
        }
        keysSeen.set(upper, member.key);
        const column = documented.get(upper);
        if (!column) {
          const entry = extra.get(upper);
          if (entry) entry.rows += 1;
          else extra.set(upper, { file, column: member.key, rows: 1, first_line: lineNumber });
          if (strict) problems.push(`${where}: column ${member.key} is not documented for ${target} (strict)`);
          continue;
        }
        const value = JSON.parse(member.raw) as unknown;
        if (value === null) continue;
        const problem = column.check(value);
        if (problem) {
          problems.push(`${where}: column ${column.name}: ${problem}`);
          continue;
        }
        filled.add(column.name);
        const stored = storage.columns.get(upper);
        if (!stored) {
          const entry = unstored.get(upper);
          if (entry) entry.rows += 1;
          else unstored.set(upper, { file, column: column.name, rows: 1 });
          continue;
        }
        present.add(upper);
        out.push(`${JSON.stringify(stored.name)}:${column.isTimestamp ? JSON.stringify(normalizedTimestamp(value)) : member.raw}`);
      }
      for (const column of required) {
        if (!filled.has(column.name)) problems.push(`${where}: required column ${column.name} is missing`);
      }
      lines.push(`{${out.join(',')}}`);
    });
    const load = [...storage.columns.entries()].filter(([upper]) => present.has(upper)).map(([, column]) => column);
    parsed.push({ file, target, table: storage.table, load, lines });
    undocumented.push(...extra.values());
    notStored.push(...unstored.values());
  }
  if (problems.length > 0) throw new ReplayError(problems);
  return { files: parsed, undocumented, notStored };
}

/** Validates, then loads every file in one transaction. Returns rows loaded and what was left out. */
export async function replay(warehouse: Warehouse, files: readonly ReplayFile[], options: ReplayOptions = {}): Promise<ReplayResult> {
  const validated = await validateReplay(warehouse, files, options.strict === true);
  const rows = await warehouse.withTransaction(async (scope) => {
    const counts: Record<string, number> = {};
    for (const file of validated.files) {
      try {
        counts[file.target] = await bulkInsertJson(scope, file.table, file.load, file.lines);
      } catch (error) {
        const message = isWarehouseError(error) ? error.message : String(error);
        const conflict = isWarehouseError(error) && error.kind === 'constraint';
        throw new ReplayError([`${file.file}: ${message}`], conflict ? 'conflict' : 'invalid');
      }
    }
    return counts;
  });
  for (const column of validated.undocumented) {
    options.log?.warn({ ...column }, `replay: ${column.file}: column ${column.column} is not documented; left out`);
  }
  for (const column of validated.notStored) {
    options.log?.info({ ...column }, `replay: ${column.file}: documented column ${column.column} is not stored by the embedded table; left out`);
  }
  return { rows, undocumented_columns: validated.undocumented, not_stored_columns: validated.notStored };
}
