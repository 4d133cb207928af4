// Offline Snowflake check of every statement the service can send: the migrations (Snowflake side),
// the rollback scripts, and every statement declared with sql()/sqlSample() anywhere under src/.
// Each must parse in Snowflake grammar and name only tables and columns that exist (FlakeBench's own tables
// with exactly their real columns, ours from the migrations, ACCOUNT_USAGE from the documented view
// contracts). No network, no account.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR, loadMigrations, parseMigration, statementsFor, type Migration } from '../src/db/migrations.js';
import { registeredStatements, type RegisteredStatement } from '../src/db/sql-registry.js';
import { AGGREGATE_QUERY_HISTORY, sourceViewName } from '../src/sources/account-usage.js';
import { FLAKEBENCH_TEST_RESULTS_COLUMNS, FLAKEBENCH_QUERY_EXECUTIONS_COLUMNS } from '../src/sources/flakebench-tables.js';
import { SnowflakeSchema, checkStatement, type Problem } from './support/snowflake-schema.js';

const SRC = join(dirname(fileURLToPath(import.meta.url)), '..', 'src');
/** Entry points start servers or write files when imported; every other module only registers statements. */
const ENTRY_POINTS = ['server.ts', 'demo.ts'];
/** The embedded migrations that stand in for FlakeBench's own tables (never sent to Snowflake, never part of the schema). */
const FLAKEBENCH_STAND_INS = ['embedded_flakebench_base', 'embedded_flakebench_real_tables'];

function sourceModules(): string[] {
  return readdirSync(SRC, { recursive: true, encoding: 'utf8' })
    .map((file) => file.split('\\').join('/'))
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
    .filter((file) => !ENTRY_POINTS.includes(file) && !file.startsWith('cli/'))
    .sort();
}

function report(failures: Array<{ name: string; problems: Problem[]; text: string }>): string {
  return failures
    .map((f) => `${f.name}:\n${f.problems.map((p) => `    [${p.stage}] ${p.message}`).join('\n')}\n    SQL: ${f.text.replace(/\s+/g, ' ').slice(0, 300)}`)
    .join('\n');
}

/** Walks the Snowflake migrations in order, checking each statement against the schema built by the ones before it. */
function checkMigrations(migrations: Migration[]): { schema: SnowflakeSchema; failures: Array<{ name: string; problems: Problem[]; text: string }>; count: number } {
  const schema = new SnowflakeSchema();
  const failures: Array<{ name: string; problems: Problem[]; text: string }> = [];
  let count = 0;
  for (const migration of migrations) {
    // Embedded-only files are never sent to Snowflake: the stand-ins for FlakeBench's tables (which exist there
    // already, with the real columns SnowflakeSchema starts from) and the simulated ACCOUNT_USAGE views (there
    // those names resolve to the documented views).
    if (migration.engine === 'duckdb') continue;
    statementsFor(migration, 'snowflake').forEach((text, index) => {
      count += 1;
      const name = `migration ${migration.file} #${index + 1}`;
      const problems = checkStatement(text, schema.toSchema());
      try {
        schema.apply(text);
      } catch (error) {
        problems.push({ stage: 'schema', message: (error as Error).message });
      }
      if (problems.length > 0) failures.push({ name, problems, text });
    });
  }
  return { schema, failures, count };
}

describe('offline Snowflake check', () => {
  let statements: RegisteredStatement[];
  let migrations: Migration[];

  beforeAll(async () => {
    for (const file of sourceModules()) {
      try {
        await import(pathToFileURL(join(SRC, file)).href);
      } catch (error) {
        throw new Error(`cannot import src/${file} to collect its statements: ${(error as Error).message}`, { cause: error });
      }
    }
    statements = registeredStatements();
    migrations = loadMigrations();
  });

  it('rejects a misspelled ACCOUNT_USAGE column, an unknown table, a DuckDB-only form and a syntax error', () => {
    const { schema } = checkMigrations(migrations);
    const known = schema.toSchema();
    // The seed's mistake: AGGREGATE_QUERY_HISTORY counts executions in CALLS, it has no QUERY_COUNT.
    const misspelled = checkStatement(`SELECT QUERY_COUNT FROM ${sourceViewName('AGGREGATE_QUERY_HISTORY')}`, known);
    expect(misspelled.map((p) => p.message).join('\n')).toMatch(/Unknown column 'query_count'/);
    expect(checkStatement(`SELECT CALLS FROM ${sourceViewName('AGGREGATE_QUERY_HISTORY')}`, known)).toEqual([]);
    // An ordered-set aggregate's ORDER BY column is checked like any other.
    const percentile = (column: string) => `SELECT QUERY_KIND, PERCENTILE_CONT(0.9) WITHIN GROUP (ORDER BY ${column}) AS P FROM QUERY_EXECUTIONS GROUP BY QUERY_KIND`;
    expect(checkStatement(percentile('DURATION_MS'), known)).toEqual([]);
    expect(checkStatement(percentile('DURATION_MSX'), known).map((p) => p.message).join('\n')).toMatch(/Unknown column 'duration_msx'/);
    // Through an alias, in a subquery, and in an UPDATE of our own table.
    expect(checkStatement('SELECT a.CALL FROM SNOWFLAKE.ACCOUNT_USAGE.AGGREGATE_QUERY_HISTORY a', known)).not.toEqual([]);
    expect(
      checkStatement('SELECT JOB_ID FROM DELAYED_ENRICHMENT_QUEUE WHERE TEST_ID IN (SELECT TEST_IDD FROM TEST_RESULTS)', known),
    ).not.toEqual([]);
    expect(checkStatement('UPDATE DELAYED_ENRICHMENT_QUEUE SET STATUSS = ? WHERE JOB_ID = ?', known)).not.toEqual([]);
    expect(checkStatement('UPDATE DELAYED_ENRICHMENT_QUEUE SET STATUS = ? WHERE JOB_ID = ?', known)).toEqual([]);
    expect(checkStatement('SELECT TEST_ID FROM NO_SUCH_TABLE', known).map((p) => p.message).join()).toMatch(/Unknown table/);
    expect(checkStatement('SELECT CALLS FROM SNOWFLAKE.ACCOUNT_USAGE.NO_SUCH_VIEW', known)).not.toEqual([]);
    // A view's output columns are known, and nothing else is.
    expect(checkStatement('SELECT TOTAL_QUERIES FROM V_AGGREGATE_QUERY_STATS', known)).toEqual([]);
    expect(checkStatement('SELECT TOTAL_QUERY FROM V_AGGREGATE_QUERY_STATS', known)).not.toEqual([]);
    expect(checkStatement('UPDATE DELAYED_ENRICHMENT_QUEUE SET STATUS = ? WHERE JOB_ID = ? RETURNING JOB_ID', known)).not.toEqual([]);
    expect(
      checkStatement('INSERT INTO ENRICHMENT_EVENTS (EVENT_TYPE, OCCURRED_AT, PAYLOAD) VALUES (?, CAST(? AS TIMESTAMP_NTZ), PARSE_JSON(?))', known),
    ).not.toEqual([]);
    expect(
      checkStatement(
        'INSERT INTO ENRICHMENT_EVENTS (EVENT_TYPE, OCCURRED_AT, PAYLOAD) SELECT v.T, CAST(v.O AS TIMESTAMP_NTZ), PARSE_JSON(v.P) FROM (VALUES (?, ?, ?)) AS v(T, O, P)',
        known,
      ),
    ).toEqual([]);
    // Rows from one JSON bind: FLATTEN's output columns are known, nothing else is.
    const flattened = (column: string) =>
      `INSERT INTO ENRICHMENT_EVENTS (EVENT_TYPE, OCCURRED_AT, PAYLOAD) SELECT AS_VARCHAR(GET(r.${column}, 'c0')), CAST(AS_VARCHAR(GET(r.VALUE, 'c1')) AS TIMESTAMP_NTZ), GET(r.VALUE, 'c2')
FROM (SELECT PARSE_JSON(?) AS J) p, LATERAL FLATTEN(INPUT => p.J) r`;
    expect(checkStatement(flattened('VALUE'), known)).toEqual([]);
    expect(checkStatement(flattened('VALUES'), known).map((p) => p.message).join()).toMatch(/r\.VALUES: FLATTEN has only the columns/);
    expect(() => schema.apply('ALTER TABLE DELAYED_ENRICHMENT_QUEUE CLUSTER BY (NO_SUCH_COLUMN)')).toThrow(/unknown column/);
    expect(() => schema.apply('ALTER TABLE NO_SUCH_TABLE ADD COLUMN X INTEGER')).toThrow(/unknown table/);
    // DuckDB-only functions parse fine; the function list catches them.
    for (const duckdbOnly of ["json_extract(PAYLOAD, '$.a')", 'now()', 'epoch_ms(OCCURRED_AT)', "date_diff('minute', OCCURRED_AT, OCCURRED_AT)"]) {
      expect(checkStatement(`SELECT ${duckdbOnly} AS X FROM ENRICHMENT_EVENTS`, known).map((p) => p.message).join(), duckdbOnly).toMatch(/not a Snowflake function/);
    }
    expect(checkStatement("SELECT TIMESTAMPDIFF('minute', OCCURRED_AT, CAST(? AS TIMESTAMP_NTZ)) AS X FROM ENRICHMENT_EVENTS", known)).toEqual([]);
    const broken = checkStatement('SELEC * FRM DELAYED_ENRICHMENT_QUEUE WHERE');
    expect(broken.length).toBeGreaterThan(0);
    expect(broken[0]?.stage).toBe('parse');
    expect(checkStatement('UPDATE DELAYED_ENRICHMENT_QUEUE SET WHERE JOB_ID = ?')).not.toEqual([]);
    expect(checkStatement('SELECT 1; SELECT 2')).not.toEqual([]);
  });

  it('rejects a bound row count (LIMIT ?, OFFSET ?, FETCH FIRST ?, TOP ?) and accepts a written-in integer', () => {
    const { schema } = checkMigrations(migrations);
    const known = schema.toSchema();
    const bound = [
      'SELECT SEQ FROM ENRICHMENT_EVENTS WHERE SEQ > ? ORDER BY SEQ LIMIT ?',
      'DELETE FROM ENRICHMENT_EVENTS WHERE SEQ IN (SELECT SEQ FROM ENRICHMENT_EVENTS ORDER BY SEQ LIMIT ?)',
      'SELECT SEQ FROM ENRICHMENT_EVENTS ORDER BY SEQ LIMIT 10 OFFSET ?',
      'SELECT SEQ FROM ENRICHMENT_EVENTS ORDER BY SEQ FETCH FIRST ? ROWS ONLY',
      'SELECT TOP ? SEQ FROM ENRICHMENT_EVENTS ORDER BY SEQ',
      'SELECT SEQ FROM ENRICHMENT_EVENTS ORDER BY SEQ LIMIT :1',
    ];
    for (const text of bound) {
      expect(checkStatement(text, known).map((p) => p.message).join('\n'), text).toMatch(/takes only an integer constant as a row count/);
    }
    expect(checkStatement('SELECT SEQ FROM ENRICHMENT_EVENTS WHERE SEQ > ? ORDER BY SEQ LIMIT 1000', known)).toEqual([]);
    // A string literal that mentions it is no row count.
    expect(checkStatement("SELECT SEQ FROM ENRICHMENT_EVENTS WHERE EVENT_TYPE <> 'LIMIT ?' ORDER BY SEQ LIMIT 5", known)).toEqual([]);
  });

  it('checks the write carrier: its JavaScript body compiles, reads its argument, and the inline CALL calls it', () => {
    expect(statements.map((statement) => statement.name)).toEqual(
      expect.arrayContaining(['write_carrier.create_procedure', 'write_carrier.call', 'write_carrier.inline']),
    );
    const create = (body: string, argument = 'GROUPS_JSON') =>
      `CREATE OR REPLACE PROCEDURE P(${argument} VARCHAR) RETURNS VARIANT LANGUAGE JAVASCRIPT EXECUTE AS CALLER AS $$${body}$$`;
    expect(checkStatement(create('return JSON.parse(GROUPS_JSON);'))).toEqual([]);
    expect(checkStatement(create('return JSON.parse(GROUPS_JSON;')).map((p) => p.message).join()).toMatch(/JavaScript body of P does not compile/);
    // JavaScript sees an unquoted argument only by its upper-case name.
    expect(checkStatement(create('return JSON.parse(groups_json);')).map((p) => p.message).join()).toMatch(/never reads argument GROUPS_JSON/);
    // SQL rules do not read the JavaScript: a `LIMIT ?` in the body is no bound row count.
    expect(checkStatement(create('var sqlText = "SELECT 1 LIMIT ?"; return GROUPS_JSON;'))).toEqual([]);
    const inline = (called: string) =>
      `WITH P AS PROCEDURE (GROUPS_JSON VARCHAR) RETURNS VARIANT LANGUAGE JAVASCRIPT AS $$return GROUPS_JSON;$$ CALL ${called}(?)`;
    expect(checkStatement(inline('P'))).toEqual([]);
    expect(checkStatement(inline('Q')).map((p) => p.message).join()).toMatch(/does not call the anonymous procedure P/);
  });

  it("rejects a column FlakeBench's TEST_RESULTS does not have (the guessed DATABASE_NAME), and only that", () => {
    const { schema } = checkMigrations(migrations);
    const known = schema.toSchema();
    // The statement enqueue once sent: FlakeBench keeps the target's database in TEST_CONFIG:target:database.
    const guessed = checkStatement('SELECT tr.TABLE_NAME, tr.DATABASE_NAME, tr.SCHEMA_NAME FROM TEST_RESULTS tr WHERE tr.TEST_ID = ?', known);
    const messages = guessed.map((p) => p.message).join('\n');
    expect(messages).toMatch(/Unknown column 'database_name'/i);
    expect(messages).toMatch(/Unknown column 'schema_name'/i);
    expect(messages).not.toMatch(/'table_name'/i);
    for (const guess of ['WAREHOUSE_NAME', 'CONCURRENCY']) {
      expect(checkStatement(`UPDATE TEST_RESULTS SET ${guess} = ? WHERE TEST_ID = ?`, known), guess).not.toEqual([]);
    }
    // The real reads pass: TEST_CONFIG's target by path, the real warehouse and concurrency columns.
    expect(
      checkStatement(
        "SELECT AS_VARCHAR(GET_PATH(tr.TEST_CONFIG, 'target.database')) AS D, tr.WAREHOUSE, tr.CONCURRENT_CONNECTIONS FROM TEST_RESULTS tr WHERE tr.TEST_ID = ?",
        known,
      ),
    ).toEqual([]);
    // QUERY_EXECUTIONS likewise: the real WARMUP flag and the added QUERY_PARAMETERIZED_HASH, no guessed column.
    expect(checkStatement('SELECT WARMUP, QUERY_KIND, QUERY_PARAMETERIZED_HASH FROM QUERY_EXECUTIONS WHERE TEST_ID = ?', known)).toEqual([]);
    expect(checkStatement('SELECT PHASE FROM QUERY_EXECUTIONS WHERE TEST_ID = ?', known)).not.toEqual([]);
  });

  it("knows a stream on TEST_RESULTS as the table's columns plus METADATA$ACTION/ISUPDATE/ROW_ID, also in an INSERT … SELECT's query", () => {
    const { schema } = checkMigrations(migrations);
    schema.apply('CREATE STREAM IF NOT EXISTS S_CHANGES ON TABLE TEST_RESULTS');
    expect(schema.columnsOf('S_CHANGES')).toEqual([...schema.columnsOf('TEST_RESULTS'), 'METADATA$ACTION', 'METADATA$ISUPDATE', 'METADATA$ROW_ID']);
    expect(() => schema.apply('CREATE STREAM S2 ON TABLE NO_SUCH_TABLE')).toThrow(/unknown table/);
    const known = schema.toSchema();
    const consume = (column: string) =>
      `INSERT INTO DELAYED_ENRICHMENT_DISCOVERY_INBOX (TEST_ID, RUN_ID, NOTED_AT) SELECT s.TEST_ID, s.RUN_ID, CAST(? AS TIMESTAMP_NTZ) FROM S_CHANGES s WHERE s.${column} = 'INSERT'`;
    expect(checkStatement(consume('METADATA$ACTION'), known)).toEqual([]);
    // The query of an INSERT … SELECT is checked too (polyglot alone checks only the column list).
    expect(checkStatement(consume('METADATA$ACTIONS'), known).map((p) => p.message).join()).toMatch(/Unknown column 'metadata\$actions'/i);
    expect(checkStatement(consume('DATABASE_NAME'), known)).not.toEqual([]);
    expect(checkStatement("SELECT SYSTEM$STREAM_HAS_DATA('S_CHANGES') AS HAS_DATA", known)).toEqual([]);
  });

  it("starts FlakeBench's tables from exactly their real columns, then adds only what our migrations add", () => {
    const { schema } = checkMigrations(migrations);
    const testResults = schema.columnsOf('TEST_RESULTS');
    expect(testResults.slice(0, FLAKEBENCH_TEST_RESULTS_COLUMNS.length)).toEqual(FLAKEBENCH_TEST_RESULTS_COLUMNS.map((c) => c.name));
    expect(testResults.slice(FLAKEBENCH_TEST_RESULTS_COLUMNS.length).every((name) => /^(DELAYED_|AGGREGATE_|THROTTLED_|HYBRID_CREDITS_|LOCK_WAIT_|QUERY_INSIGHTS_)/.test(name))).toBe(true);
    expect(testResults).not.toContain('DATABASE_NAME');
    const executions = schema.columnsOf('QUERY_EXECUTIONS');
    expect(executions).toEqual([...FLAKEBENCH_QUERY_EXECUTIONS_COLUMNS.map((c) => c.name), 'QUERY_PARAMETERIZED_HASH']);
  });

  it('knows every documented ACCOUNT_USAGE column and every migrated column', () => {
    const { schema } = checkMigrations(migrations);
    expect(schema.columnsOf(sourceViewName('AGGREGATE_QUERY_HISTORY'))).toEqual(AGGREGATE_QUERY_HISTORY.columns.map((c) => c.name));
    // Columns from CREATE TABLE (0001), ALTER TABLE ADD COLUMN (0002, 0003) and a view (0004).
    expect(schema.columnsOf('DELAYED_ENRICHMENT_QUEUE')).toEqual(expect.arrayContaining(['JOB_ID', 'CLAIM_ID', 'TYPE_STATE']));
    expect(schema.columnsOf('TEST_RESULTS')).toEqual(expect.arrayContaining(['TEST_ID', 'DELAYED_ENRICHMENT_STATUS']));
    expect(schema.columnsOf('QUERY_EXECUTIONS')).toContain('QUERY_PARAMETERIZED_HASH');
    expect(schema.columnsOf('V_DELAYED_ENRICHMENT_STATUS')).toEqual(expect.arrayContaining(['MINUTES_UNTIL_ELIGIBLE', 'TEST_NAME']));
  });

  it('every Snowflake migration statement parses and names only tables and columns created before it', () => {
    expect(migrations.map((m) => m.name)).toEqual(expect.arrayContaining(FLAKEBENCH_STAND_INS));
    expect(migrations.filter((m) => FLAKEBENCH_STAND_INS.includes(m.name)).map((m) => m.engine)).toEqual(['duckdb', 'duckdb']);
    const { failures, count } = checkMigrations(migrations);
    expect(count).toBeGreaterThan(10);
    expect(failures, report(failures)).toEqual([]);
  });

  it('every rollback script parses in Snowflake grammar and names only existing tables and columns', () => {
    const { schema } = checkMigrations(migrations);
    const failures: Array<{ name: string; problems: Problem[]; text: string }> = [];
    const rollbacks = migrations.filter((m) => m.engine !== 'duckdb').reverse();
    expect(rollbacks.length).toBeGreaterThan(0);
    // Newest first, as `rollback` runs them, each against the schema the later rollbacks left behind.
    for (const migration of rollbacks) {
      const file = join(MIGRATIONS_DIR, 'rollback', migration.file);
      const text = readFileSync(file, 'utf8').replaceAll('{{BACKUP_SUFFIX}}', '20260101000000');
      const parsed = parseMigration(text);
      parsed.statements
        .filter((s) => s.engine !== 'duckdb')
        .forEach((statement, index) => {
          const name = `rollback ${migration.file} #${index + 1}`;
          const problems = checkStatement(statement.text, schema.toSchema());
          try {
            schema.apply(statement.text);
          } catch (error) {
            problems.push({ stage: 'schema', message: (error as Error).message });
          }
          if (problems.length > 0) failures.push({ name, problems, text: statement.text });
        });
    }
    expect(failures, report(failures)).toEqual([]);
  });

  it('imports every module under src/ (entry points aside) so that the statement registry is complete', () => {
    const modules = sourceModules();
    expect(modules).toContain('db/migrations.ts');
    expect(modules).not.toContain('server.ts');
    // Every statement declared with a literal name in any module is in the registry the check reads.
    const declared = modules.flatMap((file) =>
      [...readFileSync(join(SRC, file), 'utf8').matchAll(/\bsql(?:Sample)?\(\s*['"]([^'"]+)['"]/g)].map((match) => ({ file, name: match[1] as string })),
    );
    expect(declared.length).toBeGreaterThan(5);
    const registered = new Set(statements.map((statement) => statement.name));
    expect(declared.filter((d) => !registered.has(d.name))).toEqual([]);
  });

  it('every registered statement parses in Snowflake grammar and names only known tables and columns', () => {
    const { schema } = checkMigrations(migrations);
    // Tables the service itself creates with a registered statement (the migration ledger) are known too.
    for (const statement of statements) if (/^\s*CREATE\s+(TABLE|OR\s+REPLACE\s+VIEW|VIEW|STREAM)\b/i.test(statement.text)) schema.apply(statement.text);
    const known = schema.toSchema();
    const failures = statements
      .map((statement) => ({ name: statement.name, text: statement.text, problems: checkStatement(statement.text, known) }))
      .filter((result) => result.problems.length > 0);
    console.info(
      `offline Snowflake check: ${statements.length} registered statements from ${sourceModules().length} modules, ${failures.length} failing`,
    );
    expect(failures, `${relative(process.cwd(), SRC)}:\n${report(failures)}`).toEqual([]);
  });
});
