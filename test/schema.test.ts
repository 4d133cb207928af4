// The migrations create every table, column, constraint name and view of the seed, and are idempotent.
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import {
  MIGRATIONS_DIR,
  loadMigrations,
  migrate,
  migrationStatus,
  parseMigration,
  rollback,
  statementsFor,
} from '../src/db/migrations.js';
import { DuckDbDatabase } from '../src/db/duckdb.js';
import type { Warehouse } from '../src/db/warehouse.js';
import { FLAKEBENCH_TABLES } from '../src/sources/flakebench-tables.js';
import { openTestDatabase, tempDir, type TestDatabase } from './support/embedded.js';
import { readSeedSchema } from './support/seed.js';

const quiet = { info: () => undefined, warn: () => undefined };

async function columnsOf(warehouse: Warehouse, table: string): Promise<string[]> {
  const rows = await warehouse.query<{ COLUMN_NAME: string }>(
    "SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' AND upper(table_name) = ? ORDER BY ordinal_position",
    [table],
  );
  return rows.map((row) => row.COLUMN_NAME.toUpperCase());
}

async function schemaSnapshot(warehouse: Warehouse): Promise<unknown[]> {
  const columns = await warehouse.query(
    "SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns WHERE table_schema = 'main' ORDER BY table_name, ordinal_position",
  );
  const constraints = await warehouse.query(
    "SELECT table_name, constraint_name, constraint_type FROM information_schema.table_constraints WHERE table_schema = 'main' ORDER BY table_name, constraint_name",
  );
  const views = await warehouse.query("SELECT view_name, sql FROM duckdb_views() WHERE NOT internal ORDER BY view_name");
  return [columns, constraints, views];
}

describe('migrations against the seed', () => {
  let db: TestDatabase;
  afterEach(async () => db?.close());

  it('creates every seed table with its columns and constraint names', async () => {
    db = await openTestDatabase();
    const seed = readSeedSchema();
    expect(seed.tables.map((t) => t.name)).toEqual([
      'AGGREGATE_QUERY_METRICS',
      'LOCK_CONTENTION_EVENTS',
      'HYBRID_TABLE_CREDITS',
      'QUERY_INSIGHTS_CACHE',
      'DELAYED_ENRICHMENT_QUEUE',
    ]);
    // DuckDB enforces PRIMARY KEY and UNIQUE but does not keep constraint names, so the names are checked
    // in the text sent to Snowflake and the constraints themselves in DuckDB's catalog.
    const enforced = await db.warehouse.query<{ TABLE_NAME: string; CONSTRAINT_TEXT: string }>(
      "SELECT table_name, constraint_text FROM duckdb_constraints() WHERE schema_name = 'main' AND constraint_type IN ('PRIMARY KEY', 'UNIQUE')",
    );
    const snowflakeDdl = loadMigrations()
      .flatMap((m) => statementsFor(m, 'snowflake'))
      .join('\n');
    for (const table of seed.tables) {
      const actual = await columnsOf(db.warehouse, table.name);
      expect(actual, table.name).toEqual(expect.arrayContaining(table.columns));
      // The seed's columns come first, in the seed's order; additions follow them.
      expect(actual.slice(0, table.columns.length), table.name).toEqual(table.columns);
      const definitions = enforced.filter((c) => c.TABLE_NAME === table.name).map((c) => c.CONSTRAINT_TEXT);
      for (const constraint of table.constraints) {
        expect(definitions, constraint.name).toContain(constraint.definition);
        const [kind, columns] = constraint.definition.split('(') as [string, string];
        expect(snowflakeDdl).toContain(`CONSTRAINT ${constraint.name} ${kind} (${columns}`);
      }
    }
  });

  it('adds the seed columns to TEST_RESULTS and QUERY_EXECUTIONS and creates the seed views', async () => {
    db = await openTestDatabase();
    const seed = readSeedSchema();
    expect(seed.addedColumns.length).toBe(15);
    for (const { table, column } of seed.addedColumns) {
      expect(await columnsOf(db.warehouse, table), `${table}.${column}`).toContain(column);
    }
    const views = await db.warehouse.query<{ VIEW_NAME: string }>('SELECT view_name FROM duckdb_views() WHERE NOT internal');
    expect(views.map((v) => v.VIEW_NAME)).toEqual(expect.arrayContaining(seed.views));
    expect(seed.views).toHaveLength(3);
    // Views compile and run against the tables.
    for (const view of seed.views) await db.warehouse.query(`SELECT * FROM ${view}`);
  });

  it('applies nothing the second time and leaves the schema identical', async () => {
    db = await openTestDatabase();
    const before = await schemaSnapshot(db.warehouse);
    const again = await migrate(db.warehouse, { clock: new ManualClock(), log: quiet });
    expect(again.applied).toEqual([]);
    expect(await schemaSnapshot(db.warehouse)).toEqual(before);
    const status = await migrationStatus(db.warehouse);
    expect(status.pending).toEqual([]);
    expect(status.applied.length).toBeGreaterThanOrEqual(5);
  });

  it('refuses to run when an applied migration was edited, naming the file', async () => {
    const dir = tempDir();
    try {
      cpSync(MIGRATIONS_DIR, dir.path, { recursive: true });
      db = await openTestDatabase();
      await migrate(db.warehouse, { clock: new ManualClock(), log: quiet, dir: dir.path });
      const file = join(dir.path, '0004_views.sql');
      writeFileSync(file, `${readFileSync(file, 'utf8')}\n-- an edit\n`);
      await expect(migrate(db.warehouse, { clock: new ManualClock(), log: quiet, dir: dir.path })).rejects.toThrow(
        /0004_views\.sql was edited after it was applied/,
      );
    } finally {
      dir.remove();
    }
  });

  it('rolls back by backing up, then dropping', async () => {
    db = await openTestDatabase();
    await db.warehouse.execute(
      "INSERT INTO LOCK_CONTENTION_EVENTS (EVENT_ID, TEST_ID, RUN_ID, REQUESTED_AT, LOCK_TYPE) VALUES ('e1', 't1', 'r1', CAST('2026-01-01 00:00:00' AS TIMESTAMP_NTZ), 'ROW')",
    );
    const clock = new ManualClock('2026-02-03T04:05:06Z');
    const appliedBefore = (await migrationStatus(db.warehouse)).applied.map((m) => `${m.version}_${m.name}`);
    const { rolledBack } = await rollback(db.warehouse, { toVersion: '0000', clock, log: quiet });
    // Newest first, everything after 0000.
    expect(rolledBack).toEqual(appliedBefore.filter((name) => name > '0000_z').reverse());
    expect(await columnsOf(db.warehouse, 'LOCK_CONTENTION_EVENTS')).toEqual([]);
    const backup = await db.warehouse.query('SELECT EVENT_ID FROM LOCK_CONTENTION_EVENTS_BAK_20260203040506');
    expect(backup).toEqual([{ EVENT_ID: 'e1' }]);
    expect(await columnsOf(db.warehouse, 'TEST_RESULTS')).not.toContain('DELAYED_ENRICHMENT_STATUS');
    // And forward again.
    const { applied } = await migrate(db.warehouse, { clock, log: quiet });
    expect(applied).toEqual([...rolledBack].reverse());
  });
});

// DuckDB's catalog name for each Snowflake type FlakeBench declares (written out here, not taken from the
// module that renders the stand-ins): Snowflake's FLOAT is a double, VARIANT is JSON, TIMESTAMP_NTZ a TIMESTAMP.
const CATALOG_TYPE: Record<string, string> = {
  TEXT: 'VARCHAR',
  FLOAT: 'DOUBLE',
  INTEGER: 'INTEGER',
  BIGINT: 'BIGINT',
  BOOLEAN: 'BOOLEAN',
  TIMESTAMP_NTZ: 'TIMESTAMP',
  VARIANT: 'JSON',
};
const catalogType = (snowflakeType: string) => (/^VARCHAR\(\d+\)$/.test(snowflakeType) ? 'VARCHAR' : CATALOG_TYPE[snowflakeType]);

/** Columns the Snowflake side of our migrations adds to a FlakeBench table (read from the migration files). */
function addedBySnowflakeMigrations(table: string): Array<{ name: string; type: string }> {
  return loadMigrations()
    .filter((m) => m.engine !== 'duckdb')
    .flatMap((m) => statementsFor(m, 'snowflake'))
    .map((text) => new RegExp(`^ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS (\\w+) (\\S+)$`).exec(text))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => ({ name: match[1] as string, type: match[2] as string }));
}

async function catalogOf(warehouse: Warehouse, table: string): Promise<Array<{ name: string; type: string; nullable: boolean }>> {
  const rows = await warehouse.query<{ COLUMN_NAME: string; DATA_TYPE: string; IS_NULLABLE: string }>(
    "SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
    [table],
  );
  return rows.map((row) => ({ name: row.COLUMN_NAME, type: row.DATA_TYPE, nullable: row.IS_NULLABLE === 'YES' }));
}

describe("FlakeBench's own tables as embedded stand-ins", () => {
  let db: TestDatabase;
  afterEach(async () => db?.close());

  it('have exactly FlakeBench\'s columns, types and nullability, no key, plus only the columns our migrations add', async () => {
    db = await openTestDatabase();
    for (const [table, columns] of Object.entries(FLAKEBENCH_TABLES)) {
      const added = addedBySnowflakeMigrations(table);
      expect(added.length, table).toBeGreaterThan(0);
      const expected = [
        ...columns.map((c) => ({ name: c.name, type: catalogType(c.type), nullable: !c.notNull })),
        ...added.map((c) => ({ name: c.name, type: catalogType(c.type), nullable: true })),
      ];
      expect(expected.every((c) => c.type !== undefined), table).toBe(true);
      expect(await catalogOf(db.warehouse, table), table).toEqual(expected);
      // DESCRIBE agrees (it is what a user sees).
      const described = await db.warehouse.query<{ COLUMN_NAME: string; NULL: string }>(`DESCRIBE ${table}`);
      expect(described.map((row) => row.COLUMN_NAME), table).toEqual(expected.map((c) => c.name));
      const keys = await db.warehouse.query(
        "SELECT constraint_type FROM duckdb_constraints() WHERE schema_name = 'main' AND table_name = ? AND constraint_type <> 'NOT NULL'",
        [table],
      );
      expect(keys, `${table} has no primary key or unique constraint`).toEqual([]);
    }
    expect((await catalogOf(db.warehouse, 'TEST_RESULTS')).find((c) => c.name === 'TEST_ID')?.nullable).toBe(true);
    expect((await catalogOf(db.warehouse, 'TEST_RESULTS')).map((c) => c.name)).not.toEqual(expect.arrayContaining(['DATABASE_NAME']));
    // Two rows of one test are allowed (FlakeBench declares no key), a NULL TEST_ID too.
    const insert = `INSERT INTO TEST_RESULTS (TEST_ID, RUN_ID, TEST_NAME, SCENARIO_NAME, TABLE_NAME, TABLE_TYPE, STATUS, START_TIME, CONCURRENT_CONNECTIONS)
      VALUES (?, 'r', 'n', 's', 't', 'HYBRID', 'COMPLETED', CAST('2026-01-01 00:00:00' AS TIMESTAMP_NTZ), 4)`;
    await db.warehouse.execute(insert, ['same']);
    await db.warehouse.execute(insert, ['same']);
    await db.warehouse.execute(insert, [null]);
    // A NOT NULL column of FlakeBench's is enforced.
    await expect(
      db.warehouse.execute("INSERT INTO TEST_RESULTS (TEST_ID, RUN_ID, TABLE_NAME, TABLE_TYPE) VALUES ('x', 'r', 't', 'HYBRID')"),
    ).rejects.toThrow(/NOT NULL/i);
  });

  it('0007 and 0008 fill their columns for rows written before them, and roll back keeping backups', async () => {
    const dir = tempDir();
    const old = tempDir();
    try {
      cpSync(MIGRATIONS_DIR, old.path, { recursive: true });
      for (const file of loadMigrations().filter((m) => m.version > '0006').map((m) => m.file)) rmSync(join(old.path, file));
      const database = await DuckDbDatabase.open(join(dir.path, 'flakebench.duckdb'));
      const warehouse = await database.connect();
      const clock = new ManualClock('2026-04-01T00:00:00Z');
      expect((await migrate(warehouse, { clock, log: quiet, dir: old.path })).applied.at(-1)).toBe('0006_embedded_flakebench_real_tables');
      // Before 0007: one row per (wait × blocker). Wait qa has blockers 900 and 901, wait qb has 900 again,
      // wait qc has none identified.
      const lock = `INSERT INTO LOCK_CONTENTION_EVENTS (EVENT_ID, TEST_ID, RUN_ID, BLOCKING_TRANSACTION_ID, BLOCKING_QUERY_ID, REQUESTED_AT, LOCK_TYPE, QUERY_ID)
        VALUES (?, 't1', 'r1', ?, ?, CAST(? AS TIMESTAMP_NTZ), 'ROW', ?)`;
      await warehouse.execute(lock, ['e1', 900, 'b900', '2026-01-01 10:00:00', 'qa']);
      await warehouse.execute(lock, ['e2', 901, 'b901', '2026-01-01 10:00:00', 'qa']);
      await warehouse.execute(lock, ['e3', 900, 'b900', '2026-01-01 10:01:00', 'qb']);
      await warehouse.execute(lock, ['e4', null, null, '2026-01-01 10:02:00', 'qc']);
      const credit = `INSERT INTO HYBRID_TABLE_CREDITS (CREDIT_ID, TEST_ID, RUN_ID, TABLE_NAME, START_TIME, END_TIME, CREDITS_USED, REQUESTS_COUNT)
        VALUES (?, 't1', 'r1', 'T', CAST(? AS TIMESTAMP_NTZ), CAST(? AS TIMESTAMP_NTZ), 1, 1)`;
      await warehouse.execute(credit, ['c1', '2026-02-28 23:00:00', '2026-03-01 00:00:00']);
      await warehouse.execute(credit, ['c2', '2026-03-01 00:00:00', '2026-03-01 01:00:00']);

      await migrate(warehouse, { clock, log: quiet });
      expect(
        await warehouse.query('SELECT EVENT_ID, BLOCKER_COUNT, UNIDENTIFIED_BLOCKERS, FIRST_SEEN_BLOCKERS FROM LOCK_CONTENTION_EVENTS ORDER BY EVENT_ID'),
      ).toEqual([
        { EVENT_ID: 'e1', BLOCKER_COUNT: 1, UNIDENTIFIED_BLOCKERS: 0, FIRST_SEEN_BLOCKERS: 1 },
        { EVENT_ID: 'e2', BLOCKER_COUNT: 1, UNIDENTIFIED_BLOCKERS: 0, FIRST_SEEN_BLOCKERS: 1 },
        { EVENT_ID: 'e3', BLOCKER_COUNT: 1, UNIDENTIFIED_BLOCKERS: 0, FIRST_SEEN_BLOCKERS: 0 },
        { EVENT_ID: 'e4', BLOCKER_COUNT: 1, UNIDENTIFIED_BLOCKERS: 1, FIRST_SEEN_BLOCKERS: 0 },
      ]);
      expect((await warehouse.query('SELECT unique_blockers FROM V_LOCK_CONTENTION_SUMMARY'))).toEqual([{ UNIQUE_BLOCKERS: 2 }]);
      expect(await warehouse.query('SELECT CREDIT_ID, BILLED FROM HYBRID_TABLE_CREDITS ORDER BY CREDIT_ID')).toEqual([
        { CREDIT_ID: 'c1', BILLED: true },
        { CREDIT_ID: 'c2', BILLED: false },
      ]);

      const { rolledBack } = await rollback(warehouse, { toVersion: '0006', clock, log: quiet });
      expect(rolledBack).toEqual(['0012_embedded_simulated_run_column', '0008_billed_flag_and_utc_views', '0007_one_row_per_lock_wait']);
      expect(await columnsOf(warehouse, 'HYBRID_TABLE_CREDITS')).not.toContain('BILLED');
      expect(await columnsOf(warehouse, 'LOCK_CONTENTION_EVENTS')).not.toContain('FIRST_SEEN_BLOCKERS');
      expect(await warehouse.query('SELECT COUNT(*) AS N FROM HYBRID_TABLE_CREDITS_BILLED_BAK_20260401000000 WHERE BILLED')).toEqual([{ N: 1 }]);
      expect(await warehouse.query('SELECT SUM(FIRST_SEEN_BLOCKERS) AS N FROM LOCK_CONTENTION_EVENTS_BLOCKERS_BAK_20260401000000')).toEqual([{ N: 2 }]);
      expect((await warehouse.query('SELECT unique_blockers FROM V_LOCK_CONTENTION_SUMMARY'))).toEqual([{ UNIQUE_BLOCKERS: 2 }]);
      await database.close();
    } finally {
      dir.remove();
      old.remove();
    }
  });

  it('a database created by migrations 0000-0005 migrates forward keeping its rows, mapped to the real columns', async () => {
    const dir = tempDir();
    const old = tempDir();
    try {
      cpSync(MIGRATIONS_DIR, old.path, { recursive: true });
      for (const file of loadMigrations().filter((m) => m.version > '0005').map((m) => m.file)) rmSync(join(old.path, file));
      const database = await DuckDbDatabase.open(join(dir.path, 'flakebench.duckdb'));
      const warehouse = await database.connect();
      const clock = new ManualClock('2026-01-20T00:00:00Z');
      expect((await migrate(warehouse, { clock, log: quiet, dir: old.path })).applied.at(-1)).toBe('0005_embedded_account_usage');
      // Rows as the guessed layout held them (the columns the old simulator and fixtures wrote).
      await warehouse.execute(
        `INSERT INTO TEST_RESULTS (TEST_ID, RUN_ID, TEST_NAME, TABLE_TYPE, TABLE_NAME, DATABASE_NAME, SCHEMA_NAME, WAREHOUSE_NAME, QUERY_TAG, STATUS,
          START_TIME, END_TIME, CONCURRENCY, ENRICHMENT_STATUS, DELAYED_ENRICHMENT_STATUS, LOCK_WAIT_COUNT, HYBRID_CREDITS_USED, CREATED_AT)
         VALUES ('t1', 'r1', 'hybrid run', 'HYBRID', 'ORDERS', 'BENCH_DB', 'PUBLIC', 'FB_WH', 'flakebench:test_id=t1', 'COMPLETED',
          CAST('2026-01-15 10:00:00' AS TIMESTAMP_NTZ), CAST('2026-01-15 10:30:00' AS TIMESTAMP_NTZ), 16, 'COMPLETED', 'COMPLETED', 3, 0.25, NULL),
         ('t2', 'r2', NULL, 'STANDARD', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'PENDING', NULL, NULL,
          CAST('2026-01-16 08:00:00' AS TIMESTAMP_NTZ))`,
      );
      await warehouse.execute(
        `INSERT INTO QUERY_EXECUTIONS (EXECUTION_ID, TEST_ID, QUERY_ID, QUERY_KIND, WARMUP, SUCCESS, START_TIME, END_TIME, DURATION_MS,
          SF_EXECUTION_MS, SF_PARTITIONS_SCANNED, QUERY_PARAMETERIZED_HASH)
         VALUES ('e1', 't1', 'q1', 'POINT_LOOKUP', TRUE, TRUE, CAST('2026-01-15 10:00:01' AS TIMESTAMP_NTZ), CAST('2026-01-15 10:00:02' AS TIMESTAMP_NTZ), 12.5, 9, 4, 'h1'),
         ('e2', 't1', NULL, NULL, FALSE, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
      );
      await warehouse.execute(
        `INSERT INTO DELAYED_ENRICHMENT_QUEUE (JOB_ID, TEST_ID, RUN_ID, TEST_END_TIME, EARLIEST_ENRICHMENT_TIME, TABLE_TYPE, ENRICHMENT_TYPES)
         VALUES ('j1', 't1', 'r1', CAST('2026-01-15 10:30:00' AS TIMESTAMP_NTZ), CAST('2026-01-15 11:20:00' AS TIMESTAMP_NTZ), 'HYBRID', PARSE_JSON('["AGGREGATE"]'))`,
      );

      const { applied } = await migrate(warehouse, { clock, log: quiet });
      // Snowflake-only files (0009, the write carrier procedure) never apply to the embedded database.
      expect(applied).toEqual(loadMigrations().filter((m) => m.version > '0005' && m.engine !== 'snowflake').map((m) => `${m.version}_${m.name}`));
      const tests = await warehouse.query(
        `SELECT TEST_ID, RUN_ID, TEST_NAME, SCENARIO_NAME, TABLE_NAME, TABLE_TYPE, WAREHOUSE, STATUS, START_TIME, END_TIME, CONCURRENT_CONNECTIONS,
          TEST_CONFIG, QUERY_TAG, ENRICHMENT_STATUS, DELAYED_ENRICHMENT_STATUS, LOCK_WAIT_COUNT, HYBRID_CREDITS_USED FROM TEST_RESULTS ORDER BY TEST_ID`,
      );
      expect(tests).toEqual([
        {
          TEST_ID: 't1', RUN_ID: 'r1', TEST_NAME: 'hybrid run', SCENARIO_NAME: 'hybrid run', TABLE_NAME: 'ORDERS', TABLE_TYPE: 'HYBRID', WAREHOUSE: 'FB_WH',
          STATUS: 'COMPLETED', START_TIME: new Date('2026-01-15T10:00:00Z'), END_TIME: new Date('2026-01-15T10:30:00Z'), CONCURRENT_CONNECTIONS: 16,
          TEST_CONFIG: { target: { database: 'BENCH_DB', schema: 'PUBLIC', table_name: 'ORDERS', table_type: 'HYBRID', warehouse: 'FB_WH' } },
          QUERY_TAG: 'flakebench:test_id=t1', ENRICHMENT_STATUS: 'COMPLETED', DELAYED_ENRICHMENT_STATUS: 'COMPLETED', LOCK_WAIT_COUNT: 3, HYBRID_CREDITS_USED: 0.25,
        },
        // NOT NULL columns the guessed layout left empty get marked placeholders (START_TIME: the row's
        // CREATED_AT); nothing is dropped.
        {
          TEST_ID: 't2', RUN_ID: 'r2', TEST_NAME: 't2', SCENARIO_NAME: 't2', TABLE_NAME: '', TABLE_TYPE: 'STANDARD', WAREHOUSE: null,
          STATUS: 'UNKNOWN', START_TIME: new Date('2026-01-16T08:00:00Z'), END_TIME: null, CONCURRENT_CONNECTIONS: 0,
          TEST_CONFIG: { target: { database: null, schema: null, table_name: null, table_type: 'STANDARD', warehouse: null } },
          QUERY_TAG: null, ENRICHMENT_STATUS: null, DELAYED_ENRICHMENT_STATUS: 'PENDING', LOCK_WAIT_COUNT: null, HYBRID_CREDITS_USED: null,
        },
      ]);
      const executions = await warehouse.query(
        'SELECT EXECUTION_ID, TEST_ID, QUERY_ID, QUERY_TEXT, QUERY_KIND, WARMUP, SUCCESS, DURATION_MS, SF_EXECUTION_MS, SF_PARTITIONS_SCANNED, QUERY_PARAMETERIZED_HASH FROM QUERY_EXECUTIONS ORDER BY EXECUTION_ID',
      );
      expect(executions).toEqual([
        { EXECUTION_ID: 'e1', TEST_ID: 't1', QUERY_ID: 'q1', QUERY_TEXT: '', QUERY_KIND: 'POINT_LOOKUP', WARMUP: true, SUCCESS: true, DURATION_MS: 12.5, SF_EXECUTION_MS: 9, SF_PARTITIONS_SCANNED: 4, QUERY_PARAMETERIZED_HASH: 'h1' },
        { EXECUTION_ID: 'e2', TEST_ID: 't1', QUERY_ID: '', QUERY_TEXT: '', QUERY_KIND: null, WARMUP: false, SUCCESS: true, DURATION_MS: 0, SF_EXECUTION_MS: null, SF_PARTITIONS_SCANNED: null, QUERY_PARAMETERIZED_HASH: null },
      ]);
      // 0004's view over TEST_RESULTS still answers, joined to the job.
      expect(await warehouse.query('SELECT JOB_ID, TEST_NAME, DELAYED_ENRICHMENT_STATUS FROM V_DELAYED_ENRICHMENT_STATUS')).toEqual([
        { JOB_ID: 'j1', TEST_NAME: 'hybrid run', DELAYED_ENRICHMENT_STATUS: 'COMPLETED' },
      ]);
      expect((await catalogOf(warehouse, 'TEST_RESULTS')).map((c) => c.name)).toEqual([
        ...FLAKEBENCH_TABLES.TEST_RESULTS.map((c) => c.name),
        ...addedBySnowflakeMigrations('TEST_RESULTS').map((c) => c.name),
      ]);

      // And back: the rollback restores the guessed layout with the rows, the real tables kept as backups.
      const { rolledBack } = await rollback(warehouse, { toVersion: '0005', clock, log: quiet });
      expect(rolledBack).toEqual([...applied].reverse());
      expect(await warehouse.query('SELECT TEST_ID, DATABASE_NAME, SCHEMA_NAME, WAREHOUSE_NAME, CONCURRENCY FROM TEST_RESULTS ORDER BY TEST_ID')).toEqual([
        { TEST_ID: 't1', DATABASE_NAME: 'BENCH_DB', SCHEMA_NAME: 'PUBLIC', WAREHOUSE_NAME: 'FB_WH', CONCURRENCY: 16 },
        { TEST_ID: 't2', DATABASE_NAME: null, SCHEMA_NAME: null, WAREHOUSE_NAME: null, CONCURRENCY: 0 },
      ]);
      expect(await warehouse.query('SELECT COUNT(*) AS N FROM TEST_RESULTS_REAL_BAK_20260120000000')).toEqual([{ N: 2 }]);
      expect((await migrate(warehouse, { clock, log: quiet })).applied).toEqual(applied);
      await database.close();
    } finally {
      dir.remove();
      old.remove();
    }
  });
});

describe('migration file format', () => {
  it('reads engine markers and drops comments', () => {
    const parsed = parseMigration(
      "-- header\nCREATE TABLE A (X INT); -- trailing\n-- @snowflake-only @optional\nALTER TABLE A CLUSTER BY (X);\n-- @duckdb-only\nSELECT '--not a comment';\n",
    );
    expect(parsed.statements).toEqual([
      { text: 'CREATE TABLE A (X INT)', engine: 'both', optional: false },
      { text: 'ALTER TABLE A CLUSTER BY (X)', engine: 'snowflake', optional: true },
      { text: "SELECT '--not a comment'", engine: 'duckdb', optional: false },
    ]);
  });

  it('keeps a $$ procedure body whole: its semicolons, -- and quotes are the body\'s own', () => {
    const body = ["", "var n = 0; // it's one statement", "n--;", "", "-- @duckdb-only (inside the body: JavaScript, not a marker)", "return n;", ""].join('\n');
    const parsed = parseMigration(
      `-- @snowflake-only\nCREATE OR REPLACE PROCEDURE P(A VARCHAR) RETURNS VARIANT LANGUAGE JAVASCRIPT AS $$${body}$$;\nSELECT 1; -- after\n`,
    );
    expect(parsed.statements).toEqual([
      { text: `CREATE OR REPLACE PROCEDURE P(A VARCHAR) RETURNS VARIANT LANGUAGE JAVASCRIPT AS $$${body}$$`, engine: 'snowflake', optional: false },
      { text: 'SELECT 1', engine: 'both', optional: false },
    ]);
    expect(() => parseMigration('CREATE PROCEDURE P() RETURNS VARIANT LANGUAGE JAVASCRIPT AS $$\nreturn 1;\n')).toThrow(/inside a \$\$ body/);
  });
});
