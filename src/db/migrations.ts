// Ordered SQL migrations in sql/, a ledger with checksums, and rollback scripts in sql/rollback/.
//
// File format: `NNNN_name.sql`, statements separated by `;` at the end of a line (not inside a `$$ … $$`
// procedure body). Markers in comments:
//   `-- @engine duckdb`            (file header) the whole file applies to that engine only
//   `-- @snowflake-only` / `-- @duckdb-only` (line before a statement) that statement only
//   `-- @optional`                 a failure is logged and the migration goes on (e.g. Enterprise-only DDL)
// Statements are idempotent (IF NOT EXISTS, OR REPLACE), so re-running a half-applied migration is safe.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../clock.js';
import { packagePath } from '../package-root.js';
import { ddlForDuckDb } from './ddl.js';
import { sql } from './sql-registry.js';
import { isWarehouseError, type BindValue, type Engine, type Warehouse } from './warehouse.js';

// From the package root: the same whether this runs from src/ or from the compiled dist/src/.
export const MIGRATIONS_DIR = packagePath('sql');

export interface MigrationStatement {
  text: string;
  engine: Engine | 'both';
  optional: boolean;
}

export interface Migration {
  version: string;
  name: string;
  file: string;
  checksum: string;
  engine: Engine | 'both';
  statements: MigrationStatement[];
}

export interface AppliedMigration {
  version: string;
  name: string;
  checksum: string;
  appliedAt: Date;
}

export interface MigrationStatus {
  applied: AppliedMigration[];
  pending: Migration[];
  /** Applied migrations whose file changed since (or disappeared). */
  mismatched: Array<{ version: string; name: string; problem: string }>;
}

export class MigrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MigrationError';
  }
}

interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
}

const FILE_PATTERN = /^(\d{4})_([a-z0-9_]+)\.sql$/;

export function loadMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((file) => FILE_PATTERN.test(file))
    .sort()
    .map((file) => {
      const [, version, name] = FILE_PATTERN.exec(file) as unknown as [string, string, string];
      const text = readFileSync(join(dir, file), 'utf8');
      return { version, name, file, checksum: checksumOf(text), ...parseMigration(text) };
    });
}

export function checksumOf(text: string): string {
  return createHash('sha256').update(text.replace(/\r\n/g, '\n')).digest('hex');
}

/**
 * Splits a migration into statements, reading the markers; comments are dropped from the statement text.
 * A `$$ … $$` body (a stored procedure's JavaScript) is kept verbatim: its semicolons, `--` and quotes are
 * the body's own, not statement ends or comments.
 */
export function parseMigration(text: string): { engine: Engine | 'both'; statements: MigrationStatement[] } {
  let fileEngine: Engine | 'both' = 'both';
  const statements: MigrationStatement[] = [];
  let pending: { engine: Engine | 'both'; optional: boolean } = { engine: 'both', optional: false };
  let buffer: string[] = [];
  let inBody = false;
  for (const rawLine of text.split(/\r?\n/)) {
    const trimmed = rawLine.trim();
    const marker = inBody ? null : /^--\s*@(.*)$/.exec(trimmed);
    if (marker) {
      const words = (marker[1] ?? '').trim().split(/\s+/).map((word) => word.replace(/^@/, ''));
      if (words[0] === 'engine') fileEngine = words[1] === 'snowflake' ? 'snowflake' : 'duckdb';
      if (words.includes('snowflake-only')) pending.engine = 'snowflake';
      if (words.includes('duckdb-only')) pending.engine = 'duckdb';
      if (words.includes('optional')) pending.optional = true;
      continue;
    }
    const startedInBody = inBody;
    const scanned = scanLine(rawLine, inBody);
    inBody = scanned.inBody;
    if (inBody) {
      buffer.push(scanned.code);
      continue;
    }
    const code = scanned.code.trimEnd();
    if (code.trim() === '' && !startedInBody) continue;
    buffer.push(code);
    if (code.endsWith(';')) {
      const statement = buffer.join('\n').replace(/;\s*$/, '').trim();
      statements.push({ text: statement, engine: pending.engine === 'both' ? fileEngine : pending.engine, optional: pending.optional });
      buffer = [];
      pending = { engine: 'both', optional: false };
    }
  }
  if (inBody) throw new MigrationError('migration ends inside a $$ body');
  if (buffer.join('').trim() !== '') throw new MigrationError('migration ends without a closing semicolon');
  return { engine: fileEngine, statements };
}

/**
 * One line's code: a `--` comment outside string literals and `$$` bodies removed. `inBody` says whether the
 * line starts inside a `$$` body, and the result whether it ends inside one.
 */
function scanLine(line: string, inBody: boolean): { code: string; inBody: boolean } {
  let inString = false;
  let body = inBody;
  for (let i = 0; i < line.length; i += 1) {
    if (body) {
      if (line.startsWith('$$', i)) {
        body = false;
        i += 1;
      }
      continue;
    }
    const char = line[i];
    if (char === "'") inString = !inString;
    else if (!inString && line.startsWith('$$', i)) {
      body = true;
      i += 1;
    } else if (!inString && char === '-' && line[i + 1] === '-') return { code: line.slice(0, i), inBody: body };
  }
  return { code: line, inBody: body };
}

export function statementsFor(migration: Migration, engine: Engine): string[] {
  return migration.statements
    .filter((statement) => statement.engine === 'both' || statement.engine === engine)
    .map((statement) => (engine === 'duckdb' ? ddlForDuckDb(statement.text) : statement.text));
}

const CREATE_LEDGER = sql(
  'migrations.create_ledger',
  `CREATE TABLE IF NOT EXISTS SCHEMA_MIGRATIONS (
    VERSION VARCHAR(10) NOT NULL,
    NAME VARCHAR(200) NOT NULL,
    CHECKSUM VARCHAR(64) NOT NULL,
    APPLIED_AT TIMESTAMP_NTZ NOT NULL,
    CONSTRAINT PK_SCHEMA_MIGRATIONS PRIMARY KEY (VERSION)
)`,
);
const SELECT_LEDGER = sql(
  'migrations.select_ledger',
  'SELECT VERSION, NAME, CHECKSUM, APPLIED_AT FROM SCHEMA_MIGRATIONS ORDER BY VERSION',
);
const INSERT_LEDGER = sql(
  'migrations.insert_ledger',
  'INSERT INTO SCHEMA_MIGRATIONS (VERSION, NAME, CHECKSUM, APPLIED_AT) SELECT ?, ?, ?, CAST(? AS TIMESTAMP_NTZ)',
);
const DELETE_LEDGER = sql('migrations.delete_ledger', 'DELETE FROM SCHEMA_MIGRATIONS WHERE VERSION = ?');
const LEDGER_EXISTS = sql(
  'migrations.ledger_exists',
  "SELECT COUNT(*) AS N FROM INFORMATION_SCHEMA.TABLES WHERE UPPER(TABLE_NAME) = 'SCHEMA_MIGRATIONS' AND UPPER(TABLE_SCHEMA) = UPPER(CURRENT_SCHEMA())",
);

async function readLedger(warehouse: Warehouse): Promise<AppliedMigration[]> {
  const exists = await warehouse.query<{ N: number }>(LEDGER_EXISTS);
  if ((exists[0]?.N ?? 0) === 0) return [];
  const rows = await warehouse.query<{ VERSION: string; NAME: string; CHECKSUM: string; APPLIED_AT: Date }>(SELECT_LEDGER);
  return rows.map((row) => ({ version: row.VERSION, name: row.NAME, checksum: row.CHECKSUM, appliedAt: row.APPLIED_AT }));
}

export async function migrationStatus(warehouse: Warehouse, dir: string = MIGRATIONS_DIR): Promise<MigrationStatus> {
  const migrations = loadMigrations(dir).filter((m) => m.engine === 'both' || m.engine === warehouse.engine);
  const applied = await readLedger(warehouse);
  const byVersion = new Map(applied.map((entry) => [entry.version, entry]));
  const mismatched: MigrationStatus['mismatched'] = [];
  for (const entry of applied) {
    const file = migrations.find((m) => m.version === entry.version);
    if (!file) {
      mismatched.push({ version: entry.version, name: entry.name, problem: 'applied, but its file is missing from sql/' });
    } else if (file.checksum !== entry.checksum) {
      mismatched.push({
        version: entry.version,
        name: entry.name,
        problem: `file ${file.file} was edited after it was applied (checksum ${entry.checksum.slice(0, 12)} applied, ${file.checksum.slice(0, 12)} now); restore it and put the change in a new migration`,
      });
    }
  }
  return { applied, pending: migrations.filter((m) => !byVersion.has(m.version)), mismatched };
}

/** Applies every pending migration in order. Refuses to run when an applied migration was edited. */
export async function migrate(
  warehouse: Warehouse,
  options: { clock: Clock; log: Logger; dir?: string },
): Promise<{ applied: string[] }> {
  await warehouse.execute(CREATE_LEDGER);
  const status = await migrationStatus(warehouse, options.dir);
  if (status.mismatched.length > 0) {
    throw new MigrationError(
      `refusing to migrate:\n${status.mismatched.map((m) => `  - ${m.version}_${m.name}: ${m.problem}`).join('\n')}`,
    );
  }
  const applied: string[] = [];
  for (const migration of status.pending) {
    const statements = statementsFor(migration, warehouse.engine);
    const optional = new Set(
      migration.statements.filter((s) => s.optional).map((s) => (warehouse.engine === 'duckdb' ? ddlForDuckDb(s.text) : s.text)),
    );
    const run = async (execute: (text: string, binds?: BindValue[]) => Promise<unknown>) => {
      for (const text of statements) {
        try {
          await execute(text);
        } catch (error) {
          if (!optional.has(text)) {
            const reason = isWarehouseError(error) ? error.message : String(error);
            throw new MigrationError(`migration ${migration.file} failed: ${reason}`);
          }
          options.log.warn(`migration ${migration.file}: optional statement skipped (${String(error)})`);
        }
      }
      await execute(INSERT_LEDGER, [migration.version, migration.name, migration.checksum, options.clock.now()]);
    };
    if (warehouse.engine === 'duckdb') {
      // DuckDB DDL is transactional: a failed migration leaves nothing behind.
      await warehouse.withTransaction((scope) => run((text, binds) => scope.execute(text, binds)));
    } else {
      // Snowflake DDL commits on its own; the statements are idempotent, so a rerun completes the work.
      await run((text, binds) => warehouse.execute(text, binds));
    }
    options.log.info(`applied migration ${migration.file}`);
    applied.push(`${migration.version}_${migration.name}`);
  }
  return { applied };
}

/** Throws when migrations are pending or edited (Snowflake mode refuses to start on such a database). */
export async function assertMigrationsCurrent(warehouse: Warehouse, dir?: string): Promise<MigrationStatus> {
  const status = await migrationStatus(warehouse, dir);
  const problems = [
    ...status.pending.map((m) => `  - ${m.file}: not applied`),
    ...status.mismatched.map((m) => `  - ${m.version}_${m.name}: ${m.problem}`),
  ];
  if (problems.length > 0) {
    throw new MigrationError(
      `the database schema is behind this version of the service:\n${problems.join('\n')}\n` +
        'Run `npm run migrate` with the same SNOWFLAKE_* settings, then start again.',
    );
  }
  return status;
}

// ---- rollback ------------------------------------------------------------------------------------

/**
 * Rolls back applied migrations newer than `toVersion` (exclusive), newest first, with the scripts in
 * sql/rollback/ (each backs up, then drops). `{{BACKUP_SUFFIX}}` in a script becomes a UTC timestamp.
 */
export async function rollback(
  warehouse: Warehouse,
  options: { toVersion: string; clock: Clock; log: Logger; dir?: string },
): Promise<{ rolledBack: string[] }> {
  const dir = options.dir ?? MIGRATIONS_DIR;
  const applied = (await readLedger(warehouse)).filter((m) => m.version > options.toVersion).reverse();
  const suffix = options.clock.now().toISOString().replace(/[-:T]/g, '').slice(0, 14);
  const rolledBack: string[] = [];
  for (const entry of applied) {
    const file = join(dir, 'rollback', `${entry.version}_${entry.name}.sql`);
    const parsed = parseMigration(readFileSync(file, 'utf8').replaceAll('{{BACKUP_SUFFIX}}', suffix));
    const texts = parsed.statements
      .filter((s) => s.engine === 'both' || s.engine === warehouse.engine)
      .map((s) => (warehouse.engine === 'duckdb' ? ddlForDuckDb(s.text) : s.text));
    for (const text of texts) await warehouse.execute(text);
    await warehouse.execute(DELETE_LEDGER, [entry.version]);
    options.log.info(`rolled back migration ${entry.version}_${entry.name}`);
    rolledBack.push(`${entry.version}_${entry.name}`);
  }
  return { rolledBack };
}
