// The DuckDB adapter's side of the Warehouse port contract: JSON-safe, exact values with upper-case names.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDBTypeId } from '@duckdb/node-api';
import { DuckDbDatabase } from '../src/db/duckdb.js';
import { typedBind, utcTextToTimestamp } from '../src/db/duckdb-binds.js';
import { nativeCollections } from '../src/db/native-results.js';
import type { Warehouse } from '../src/db/warehouse.js';
import { writeGroupContract } from './support/write-group-contract.js';

describe('DuckDB adapter results and errors', () => {
  let database: DuckDbDatabase;
  let warehouse: Warehouse;
  beforeAll(async () => {
    database = await DuckDbDatabase.open(':memory:');
    warehouse = await database.connect();
  });
  afterAll(async () => database.close());

  it('returns exact integers, parsed JSON, UTC dates and upper-case column names', async () => {
    const [row] = await warehouse.query(
      `SELECT CAST('1765000000000123456789' AS DECIMAL(38,0)) AS big_id, CAST(42 AS DECIMAL(38,0)) AS small_id,
        CAST(9007199254740993 AS BIGINT) AS unsafe, CAST(7 AS BIGINT) AS safe, CAST(1.25 AS DECIMAL(38,3)) AS ms,
        PARSE_JSON('{"p99.9": 3, "list": [1, 2]}') AS obj, CAST(? AS TIMESTAMP_NTZ) AS ts, CAST(NULL AS DECIMAL(38,0)) AS nothing`,
      [new Date('2026-01-02T03:04:05.678Z')],
    );
    expect(row).toEqual({
      BIG_ID: '1765000000000123456789',
      SMALL_ID: 42,
      UNSAFE: '9007199254740993',
      SAFE: 7,
      MS: 1.25,
      OBJ: { 'p99.9': 3, list: [1, 2] },
      TS: new Date('2026-01-02T03:04:05.678Z'),
      NOTHING: null,
    });
  });

  it('keeps prepared statements per text, and answers right after the table they read changed shape or failed', async () => {
    await warehouse.execute('CREATE TABLE P (A INTEGER, B VARCHAR)');
    await warehouse.execute('INSERT INTO P VALUES (?, ?), (?, ?)', [1, 'one', 2, 'two']);
    const read = 'SELECT B FROM P WHERE A = ?';
    expect(await warehouse.query(read, [1])).toEqual([{ B: 'one' }]);
    expect(await warehouse.query(read, [2])).toEqual([{ B: 'two' }]);
    // Same text, the table replaced by one with other types: the cached statement must not answer from the old one.
    await warehouse.execute('DROP TABLE P');
    await warehouse.execute('CREATE TABLE P (A VARCHAR, B INTEGER)');
    await warehouse.execute('INSERT INTO P VALUES (?, ?)', ['1', 10]);
    expect(await warehouse.query(read, ['1'])).toEqual([{ B: 10 }]);
    // A failing execution (constraint) does not poison the next one with the same text.
    await warehouse.execute('CREATE TABLE K (ID INTEGER PRIMARY KEY)');
    const insert = 'INSERT INTO K VALUES (?)';
    expect((await warehouse.execute(insert, [1])).rowsAffected).toBe(1);
    await expect(warehouse.execute(insert, [1])).rejects.toMatchObject({ kind: 'constraint' });
    expect((await warehouse.execute(insert, [2])).rowsAffected).toBe(1);
    expect(await warehouse.query('SELECT ID FROM K ORDER BY ID')).toEqual([{ ID: 1 }, { ID: 2 }]);
  });

  it('collects dead results past the native-memory budget, while every result in use stays intact', async () => {
    // 20 columns of 2,048-row vectors per result: about 330 KiB of native memory each (src/db/native-results.ts).
    const columns = Array.from({ length: 20 }, (_, index) => `? || '-${index}' AS C${index}`).join(', ');
    const before = nativeCollections();
    const answers = await Promise.all(
      Array.from({ length: 300 }, (_, index) => warehouse.query<Record<string, string>>(`SELECT ${columns}`, Array(20).fill(`r${index}`))),
    );
    // ~100 MB estimated against an 8 MiB budget: a dozen collections, one of them full.
    expect(nativeCollections() - before).toBeGreaterThanOrEqual(10);
    answers.forEach((rows, index) => {
      expect(rows).toHaveLength(1);
      expect(rows[0]!.C0).toBe(`r${index}-0`);
      expect(rows[0]!.C19).toBe(`r${index}-19`);
    });
  });

  it('reports rows affected and classifies errors', async () => {
    await warehouse.execute('CREATE TABLE T (A INTEGER PRIMARY KEY)');
    expect((await warehouse.execute('INSERT INTO T SELECT * FROM (VALUES (?), (?)) AS v(a)', [1, 2])).rowsAffected).toBe(2);
    expect((await warehouse.execute('UPDATE T SET A = A + 10 WHERE A = ?', [1])).rowsAffected).toBe(1);
    await expect(warehouse.query('SELEC 1')).rejects.toMatchObject({ kind: 'syntax', retryable: false });
    await expect(warehouse.query('SELECT * FROM NOPE')).rejects.toMatchObject({ kind: 'not_found' });
    await expect(warehouse.execute('INSERT INTO T VALUES (?)', [2])).rejects.toMatchObject({ kind: 'constraint' });
  });

  it('aborts a statement whose signal fires and times out a long one', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(warehouse.query('SELECT 1', [], { signal: controller.signal })).rejects.toMatchObject({ kind: 'aborted' });
    await expect(
      warehouse.query('SELECT COUNT(*) FROM range(100000000000) a', [], { timeoutMs: 50 }),
    ).rejects.toMatchObject({ kind: 'timeout' });
    // The connection is usable afterwards.
    expect(await warehouse.query('SELECT 1 AS ONE')).toEqual([{ ONE: 1 }]);
  });

  // Typed binds (src/db/duckdb-binds.ts): a bind typed as the prepared statement expects it must give exactly
  // what DuckDB's own cast of the same value gives. The oracle is DuckDB itself: each value is read once through
  // a bind (typed by the adapter) and once written into the statement's text as a literal (no bind, so DuckDB
  // casts it).
  /** The value through a bind and through a literal in the text; both as DuckDB returns them, or the error kind. */
  async function bothWays(castTo: string, bound: string | number, literal: string): Promise<[unknown, unknown]> {
    const attempt = async (sql: string, binds: Array<string | number>) => {
      try {
        const [row] = await warehouse.query(sql, binds);
        return row?.V;
      } catch (error) {
        return `error ${(error as { kind?: string }).kind}`;
      }
    };
    return [await attempt(`SELECT CAST(? AS ${castTo}) AS V`, [bound]), await attempt(`SELECT CAST(${literal} AS ${castTo}) AS V`, [])];
  }

  describe('typed binds give what DuckDB casts', () => {
    it.each([
      '2026-01-15 10:30:00',
      '2026-01-15 10:30:00.123',
      '2026-01-15 10:30:00.1',
      '2026-01-15 10:30:00.000007',
      '2026-01-15T10:30:00.5',
      '2024-02-29 23:59:59.999',
      '1970-01-01 00:00:00',
      '1969-12-31 23:59:59.999',
      '9999-12-31 23:59:59.999999',
      // Not exact UTC text: left to DuckDB's cast (a valid one, or its error).
      '2026-02-30 00:00:00',
      '2026-01-15 24:00:00',
      '0999-01-01 00:00:00',
      '2026-01-15',
      '2026-01-15 10:30:00+02',
    ])('timestamp %s', async (text) => {
      const [viaBind, viaCast] = await bothWays('TIMESTAMP_NTZ', text, `'${text}'`);
      expect(viaBind).toEqual(viaCast);
    });

    it.each([
      ['INTEGER', 2_147_483_647],
      ['INTEGER', -2_147_483_648],
      ['INTEGER', 2_147_483_648],
      ['SMALLINT', 40_000],
      ['BIGINT', 9_007_199_254_740_991],
      ['BIGINT', -12],
      ['DOUBLE', 0.1],
      ['DOUBLE', 5],
      ['INTEGER', 2.5],
    ] as const)('%s %s', async (type, value) => {
      // A JS number is a double: so is its literal (2.5 alone would be a DECIMAL, which rounds differently).
      const [viaBind, viaCast] = await bothWays(type, value, Number.isInteger(value) ? String(value) : `CAST(${value} AS DOUBLE)`);
      expect(viaBind).toEqual(viaCast);
    });
  });

  describe('which values are typed', () => {
    it('a UTC text becomes the exact timestamp; anything it might not be is left to the cast', () => {
      expect(utcTextToTimestamp('2026-01-15 10:30:00.123456')?.micros).toBe(BigInt(Date.UTC(2026, 0, 15, 10, 30, 0)) * 1000n + 123_456n);
      for (const text of ['2026-02-30 00:00:00', '2026-01-15 10:60:00', '0099-01-01 00:00:00', '2026-01-15 10:30:00Z', ' 2026-01-15 10:30:00']) {
        expect(utcTextToTimestamp(text), text).toBeUndefined();
      }
    });

    it('a number takes the integer or double type it fits exactly, and nothing else', () => {
      expect(typedBind(7, DuckDBTypeId.BIGINT).type?.typeId).toBe(DuckDBTypeId.BIGINT);
      expect(typedBind(7, DuckDBTypeId.DOUBLE).type?.typeId).toBe(DuckDBTypeId.DOUBLE);
      expect(typedBind(2 ** 31, DuckDBTypeId.INTEGER).type).toBeUndefined();
      expect(typedBind(1.5, DuckDBTypeId.BIGINT).type).toBeUndefined();
      expect(typedBind(7, DuckDBTypeId.VARCHAR).type).toBeUndefined();
      expect(typedBind('7', DuckDBTypeId.INTEGER).type).toBeUndefined();
      expect(typedBind(null, DuckDBTypeId.TIMESTAMP).type).toBeUndefined();
    });
  });
});

describe('DuckDB adapter writeGroups: an ordinary transaction on the connection, same statement texts', () => {
  let database: DuckDbDatabase;
  let warehouse: Warehouse;
  beforeAll(async () => {
    database = await DuckDbDatabase.open(':memory:');
    warehouse = await database.connect();
  });
  afterAll(async () => database.close());

  writeGroupContract({
    warehouse: () => warehouse,
    // A real conflict: another connection holds an uncommitted update of the row the statement updates.
    conflictOn: async (sqlText) => {
      expect(sqlText).toMatch(/^UPDATE WG_LEDGER SET NOTE = \? WHERE ID = \?$/);
      const holder = await database.connect();
      await holder.execute('BEGIN TRANSACTION');
      await holder.execute("UPDATE WG_LEDGER SET NOTE = 'held' WHERE ID = 100");
      return async () => {
        await holder.execute('ROLLBACK');
        await holder.close();
      };
    },
    conflictCode: undefined,
  });

  it('counts each statement of a transaction with k statements as k + 2 (BEGIN and COMMIT included)', async () => {
    const before = { ...warehouse.counters };
    await warehouse.transaction([
      { sql: 'INSERT INTO WG_LEDGER (ID, NOTE) SELECT ?, ?', binds: [500, 'a'] },
      { sql: 'INSERT INTO WG_LEDGER (ID, NOTE) SELECT ?, ?', binds: [501, 'b'] },
      { sql: 'INSERT INTO WG_LEDGER (ID, NOTE) SELECT ?, ?', binds: [502, 'c'] },
    ]);
    expect(warehouse.counters.statements - before.statements).toBe(5);
    expect(warehouse.counters.roundTrips - before.roundTrips).toBe(5);
  });
});
