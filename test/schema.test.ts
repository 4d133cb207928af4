// The migrations create every table, column, constraint name and view of the seed, and are idempotent.
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
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
import type { Warehouse } from '../src/db/warehouse.js';
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
});
