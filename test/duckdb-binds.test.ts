// Typed binds (src/db/duckdb-binds.ts): a bind typed as the prepared statement expects it must give exactly
// what DuckDB's own cast of the same value gives. The oracle is DuckDB itself: each value is read once through
// a bind (typed by the adapter) and once written into the statement's text as a literal (no bind, so DuckDB
// casts it), on a real connection.
import { DuckDBTypeId } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { typedBind, utcTextToTimestamp } from '../src/db/duckdb-binds.js';
import type { Warehouse } from '../src/db/warehouse.js';
import { openTestDatabase, type TestDatabase } from './support/embedded.js';

let db: TestDatabase;
let warehouse: Warehouse;

beforeAll(async () => {
  db = await openTestDatabase();
  warehouse = db.warehouse;
});
afterAll(async () => db?.close());

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
