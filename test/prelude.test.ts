// The DuckDB prelude (src/db/prelude.ts) on a real DuckDB connection: each macro against examples from
// Snowflake's documentation of its namesake (docs.snowflake.com/en/sql-reference/functions/<name>), and the
// transaction behaviour the service relies on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isWarehouseError, type Row, type Warehouse, WarehouseError } from '../src/db/warehouse.js';
import { openTestDatabase, type TestDatabase } from './support/embedded.js';

let db: TestDatabase;
let warehouse: Warehouse;

beforeAll(async () => {
  db = await openTestDatabase();
  warehouse = db.warehouse;
});
afterAll(async () => db?.close());

async function one(sql: string, binds: Parameters<Warehouse['query']>[1] = []): Promise<Row> {
  const rows = await warehouse.query(sql, binds);
  expect(rows).toHaveLength(1);
  return rows[0] as Row;
}

describe('macros behave like their Snowflake namesakes', () => {
  it("DATEADD('part', n, ts)", async () => {
    // DATEADD(year, 2, TO_DATE('2013-05-08')) = 2013-05-08 + 2 years.
    expect((await one("SELECT DATEADD('year', 2, CAST('2013-05-08 00:00:00' AS TIMESTAMP_NTZ)) AS V")).V).toEqual(
      new Date('2015-05-08T00:00:00.000Z'),
    );
    // Adding hours to midnight of 2013-04-05, then two years.
    expect((await one("SELECT DATEADD('year', 2, DATEADD('hour', 2, CAST('2013-04-05' AS TIMESTAMP_NTZ))) AS V")).V).toEqual(
      new Date('2015-04-05T02:00:00.000Z'),
    );
    // Usage note: a month added to the 31st lands on the last day of a shorter month.
    expect((await one("SELECT DATEADD('month', 1, CAST('2023-01-31' AS TIMESTAMP_NTZ)) AS V")).V).toEqual(
      new Date('2023-02-28T00:00:00.000Z'),
    );
    // A negative value subtracts; milliseconds are kept.
    expect((await one("SELECT DATEADD('day', -2, CAST('2024-08-03 10:00:00.123' AS TIMESTAMP_NTZ)) AS V")).V).toEqual(
      new Date('2024-08-01T10:00:00.123Z'),
    );
    // The form the service uses: the amount and the timestamp bound as parameters.
    const row = await one("SELECT DATEADD('minute', ?, CAST(? AS TIMESTAMP_NTZ)) AS V", [195, new Date('2026-01-15T12:00:00.000Z')]);
    expect(row.V).toEqual(new Date('2026-01-15T15:15:00.000Z'));
    expect((await one("SELECT DATEADD('millisecond', ?, CAST(? AS TIMESTAMP_NTZ)) AS V", [1500, new Date('2026-01-15T12:00:00.000Z')])).V).toEqual(
      new Date('2026-01-15T12:00:01.500Z'),
    );
  });

  it("TIMESTAMPDIFF('part', a, b) counts b - a in whole units, truncating", async () => {
    // DATEDIFF(hour, t, DATEADD(year, 2, t)) for t = 2023-05-08 23:39:20.123 is 17544 (731 days).
    const t = "CAST('2023-05-08 23:39:20.123' AS TIMESTAMP_NTZ)";
    expect((await one(`SELECT TIMESTAMPDIFF('hour', ${t}, DATEADD('year', 2, ${t})) AS V`)).V).toBe(17544);
    // Smaller units are ignored: Jan 1 to Feb 28 is one month.
    expect((await one("SELECT TIMESTAMPDIFF('month', CAST('2021-01-01' AS TIMESTAMP_NTZ), CAST('2021-02-28' AS TIMESTAMP_NTZ)) AS V")).V).toBe(1);
    // Milliseconds use only the first three fractional digits: 1.1239 s apart is 1123 ms.
    expect(
      (await one("SELECT TIMESTAMPDIFF('millisecond', CAST('2024-02-20 21:18:41.0000' AS TIMESTAMP_NTZ), CAST('2024-02-20 21:18:42.1239' AS TIMESTAMP_NTZ)) AS V")).V,
    ).toBe(1123);
    // Output values can be negative.
    expect((await one("SELECT TIMESTAMPDIFF('day', CAST('2024-01-13' AS TIMESTAMP_NTZ), CAST('2024-01-01' AS TIMESTAMP_NTZ)) AS V")).V).toBe(-12);
    // Boundaries are counted: 10:59:59 to 11:00:00 is one minute and one hour.
    const a = "CAST('2024-01-01 10:59:59' AS TIMESTAMP_NTZ)";
    const b = "CAST('2024-01-01 11:00:00' AS TIMESTAMP_NTZ)";
    expect((await one(`SELECT TIMESTAMPDIFF('minute', ${a}, ${b}) AS M, TIMESTAMPDIFF('hour', ${a}, ${b}) AS H`))).toEqual({ M: 1, H: 1 });
  });

  it('IFF(cond, a, b): a NULL condition takes the false branch', async () => {
    const rows = await warehouse.query("SELECT IFF(c, 'true', 'false') AS V FROM (VALUES (1, TRUE), (2, FALSE), (3, NULL)) AS t(i, c) ORDER BY i");
    expect(rows.map((row) => row.V)).toEqual(['true', 'false', 'false']);
    expect((await one('SELECT IFF(? > 3, ?, ?) AS V', [4, 'big', 'small'])).V).toBe('big');
  });

  it('NVL(a, b) returns b only when a is NULL', async () => {
    const rows = await warehouse.query(
      "SELECT NVL(e1, e2) AS V FROM (VALUES (1, 'a', 'b'), (2, 'c', NULL), (3, NULL, 'd'), (4, NULL, NULL)) AS t(i, e1, e2) ORDER BY i",
    );
    expect(rows.map((row) => row.V)).toEqual(['a', 'c', 'd', null]);
  });

  it('ZEROIFNULL(a) turns NULL into 0 and keeps everything else', async () => {
    const rows = await warehouse.query(
      'SELECT ZEROIFNULL(column1) AS V FROM (VALUES (1, 1.0), (2, NULL), (3, 5.0), (4, 0.0), (5, 3.14159)) AS t(i, column1) ORDER BY i',
    );
    expect(rows.map((row) => Number(row.V))).toEqual([1, 0, 5, 0, 3.14159]);
  });

  it('STARTSWITH(s, prefix) is case-sensitive and NULL for NULL input', async () => {
    const rows = await warehouse.query(
      "SELECT s FROM (VALUES ('coffee'), ('ice tea'), ('latte'), ('tea'), (NULL)) AS t(s) WHERE STARTSWITH(s, 'te')",
    );
    expect(rows.map((row) => row.S)).toEqual(['tea']);
    expect(await one("SELECT STARTSWITH('abc', 'a') AS A, STARTSWITH('abc', 's') AS S, STARTSWITH('abc', 'A') AS U, STARTSWITH(NULL, 'a') AS N")).toEqual({
      A: true,
      S: false,
      U: false,
      N: null,
    });
    // The service matches QUERY_TAG prefixes bound as parameters.
    expect((await one('SELECT STARTSWITH(?, ?) AS V', ['flakebench:test_id=t1:phase=RUNNING', 'flakebench:test_id=t1'])).V).toBe(true);
  });

  it('CONTAINS(s, part) finds a substring anywhere', async () => {
    const rows = await warehouse.query(
      "SELECT s FROM (VALUES (1, 'coffee'), (2, 'ice tea'), (3, 'latte'), (4, 'tea'), (5, NULL)) AS t(i, s) WHERE CONTAINS(s, 'te') ORDER BY i",
    );
    expect(rows.map((row) => row.S)).toEqual(['ice tea', 'latte', 'tea']);
    expect(await one("SELECT CONTAINS('abc', 'b') AS B, CONTAINS('abc', 'x') AS X, CONTAINS(NULL, 'a') AS N")).toEqual({ B: true, X: false, N: null });
  });

  it('TO_VARCHAR(x) renders numbers and text as text', async () => {
    expect(await one("SELECT TO_VARCHAR(5) AS I, TO_VARCHAR(-12.5) AS F, TO_VARCHAR('abc') AS S, TO_VARCHAR(NULL) AS N")).toEqual({
      I: '5',
      F: '-12.5',
      S: 'abc',
      N: null,
    });
  });

  it("GET(obj, 'key') reads one key literally, so 'p99.9' is a key and not a path", async () => {
    expect((await one(`SELECT GET(PARSE_JSON('{"a": 1.0, "b": 2.0}'), 'a') AS V`)).V).toBe(1);
    expect((await one(`SELECT GET(PARSE_JSON('{}'), 'a') AS V`)).V).toBeNull();
    // AGGREGATE_QUERY_HISTORY statistics objects carry a key named "p99.9"; a path reading would look for p99 → 9.
    const stats = { sum: 1000, avg: 10, median: 8, p90: 20, p99: 40, 'p99.9': 55.5, max: 60, p99_: { '9': 'wrong' } };
    const row = await one("SELECT GET(PARSE_JSON(?), 'p99.9') AS P999, GET(PARSE_JSON(?), 'p99') AS P99", [stats, stats]);
    expect(row).toEqual({ P999: 55.5, P99: 40 });
    expect((await one("SELECT GET(PARSE_JSON(?), 'p99.9') AS V", [{ p99: { '9': 1 } }])).V).toBeNull();
    expect((await one("SELECT GET(NULL, 'a') AS V")).V).toBeNull();
  });

  it("GET_PATH(obj, 'a.b') follows a path (Snowflake's `obj:a.b`), NULL where it leads nowhere", async () => {
    // The documentation's example: GET_PATH(v, 'attr[0].name') on {"attr": [{"name": "John"}]} is "John".
    expect((await one(`SELECT GET_PATH(PARSE_JSON('{"attr": [{"name": "John"}, {"name": "Mary"}]}'), 'attr[0].name') AS V`)).V).toBe('John');
    // FlakeBench keeps the benchmark target in TEST_CONFIG: GET_PATH(TEST_CONFIG, 'target.database').
    const config = { target: { database: 'BENCH_DB', schema: 'PUBLIC', table_name: 'ORDERS', port: 5432 }, workload: { threads: 8 } };
    const row = await one(
      "SELECT GET_PATH(PARSE_JSON(?), 'target.database') AS D, GET_PATH(PARSE_JSON(?), 'target.port') AS P, GET_PATH(PARSE_JSON(?), 'target') AS T",
      [config, config, config],
    );
    expect(row).toEqual({ D: 'BENCH_DB', P: 5432, T: config.target });
    expect(await one("SELECT GET_PATH(PARSE_JSON(?), 'target.missing') AS M, GET_PATH(PARSE_JSON(?), 'nothing.here') AS N, GET_PATH(NULL, 'a') AS Z", [config, config])).toEqual({
      M: null,
      N: null,
      Z: null,
    });
  });

  it('AS_VARCHAR(variant) gives the string a VARIANT holds, without quotes, and NULL for other types', async () => {
    // Documentation: AS_VARCHAR of a VARIANT holding 'xyz' is xyz; of a number (or any non-string), NULL.
    const row = await one(
      `SELECT AS_VARCHAR(PARSE_JSON('"xyz"')) AS S, AS_VARCHAR(PARSE_JSON('12')) AS N, AS_VARCHAR(PARSE_JSON('{"a": "b"}')) AS O,
        AS_VARCHAR(PARSE_JSON('null')) AS J, AS_VARCHAR(NULL) AS Z`,
    );
    expect(row).toEqual({ S: 'xyz', N: null, O: null, J: null, Z: null });
    // Read from a table column (TEST_CONFIG is VARIANT/JSON), the form enqueue uses.
    const target = await one(
      "SELECT AS_VARCHAR(GET_PATH(c, 'target.database')) AS D, AS_VARCHAR(GET_PATH(c, 'target.schema')) AS S FROM (SELECT PARSE_JSON(?) AS c) t",
      [{ target: { database: "it's \"quoted\"", schema: 'BENCH' } }],
    );
    expect(target).toEqual({ D: "it's \"quoted\"", S: 'BENCH' });
  });

  it('ARRAY_SIZE(arr) counts the elements of an array', async () => {
    expect((await one('SELECT ARRAY_SIZE(PARSE_JSON(?)) AS V', [[1, 2, 3]])).V).toBe(3);
    expect((await one("SELECT ARRAY_SIZE(PARSE_JSON('[]')) AS V")).V).toBe(0);
    expect((await one('SELECT ARRAY_SIZE(NULL) AS V')).V).toBeNull();
    // NULL, not 0, when the value is not an array.
    expect(await one(`SELECT ARRAY_SIZE(PARSE_JSON('{"a": 1}')) AS O, ARRAY_SIZE(PARSE_JSON('7')) AS N`)).toEqual({ O: null, N: null });
  });

  it('PARSE_JSON(s) turns JSON text into a value the service reads back parsed', async () => {
    const payload = { type: 'AGGREGATE', rows: 3, nested: { ok: true, list: [1, 'two', null] } };
    expect((await one('SELECT PARSE_JSON(?) AS V', [payload])).V).toEqual(payload);
    expect((await one("SELECT PARSE_JSON('[1, 2, 3]') AS V")).V).toEqual([1, 2, 3]);
    expect((await one('SELECT PARSE_JSON(NULL) AS V')).V).toBeNull();
    // NULL, an empty string and whitespace give NULL.
    expect(await one("SELECT PARSE_JSON('') AS E, PARSE_JSON('   ') AS W")).toEqual({ E: null, W: null });
    await expect(warehouse.query("SELECT PARSE_JSON('{\"a\": ') AS V")).rejects.toBeInstanceOf(WarehouseError);
  });

  // docs.snowflake.com/en/sql-reference/functions/flatten: the examples over `[1, 77]` and `{"a":1, "b":[77,88]}`.
  it('FLATTEN(INPUT => v) gives one row per array element (INDEX, PATH [i]) or object member (KEY, PATH key)', async () => {
    const array = await warehouse.query(
      "SELECT f.KEY, f.PATH, f.INDEX, f.VALUE, f.THIS FROM (SELECT PARSE_JSON('[1, 77]') AS J) p, LATERAL FLATTEN(INPUT => p.J) f ORDER BY f.INDEX",
    );
    expect(array).toEqual([
      { KEY: null, PATH: '[0]', INDEX: 0, VALUE: 1, THIS: [1, 77] },
      { KEY: null, PATH: '[1]', INDEX: 1, VALUE: 77, THIS: [1, 77] },
    ]);
    const object = await warehouse.query(
      `SELECT f.KEY, f.PATH, f.INDEX, f.VALUE FROM (SELECT PARSE_JSON('{"a":1, "b":[77,88]}') AS J) p, LATERAL FLATTEN(INPUT => p.J) f ORDER BY f.KEY`,
    );
    expect(object).toEqual([
      { KEY: 'a', PATH: 'a', INDEX: null, VALUE: 1 },
      { KEY: 'b', PATH: 'b', INDEX: null, VALUE: [77, 88] },
    ]);
    // A key is taken whole (dots and quotes included); nested values stay JSON.
    const awkward = await warehouse.query(
      `SELECT f.KEY, f.VALUE FROM (SELECT PARSE_JSON('{"p99.9": 5, "say \\"hi\\"": {"x": [1]}}') AS J) p, LATERAL FLATTEN(INPUT => p.J) f ORDER BY f.KEY`,
    );
    expect(awkward).toEqual([
      { KEY: 'p99.9', VALUE: 5 },
      { KEY: 'say "hi"', VALUE: { x: [1] } },
    ]);
    // Elements of any kind, in order: a string that looks like an array stays a string.
    const mixed = await warehouse.query(
      `SELECT f.INDEX, f.VALUE FROM (SELECT PARSE_JSON('["[1,2]", [3], null, {"a": "b"}]') AS J) p, LATERAL FLATTEN(INPUT => p.J) f ORDER BY f.INDEX`,
    );
    expect(mixed).toEqual([
      { INDEX: 0, VALUE: '[1,2]' },
      { INDEX: 1, VALUE: [3] },
      { INDEX: 2, VALUE: null },
      { INDEX: 3, VALUE: { a: 'b' } },
    ]);
    // Nothing for NULL, an empty array or a scalar.
    for (const input of ['NULL', "PARSE_JSON('[]')", "PARSE_JSON('\"[1]\"')", "PARSE_JSON('7')"]) {
      expect(await warehouse.query(`SELECT f.VALUE FROM (SELECT ${input} AS J) p, LATERAL FLATTEN(INPUT => p.J) f`), input).toEqual([]);
    }
  });

  it('FLATTEN over a bound JSON array of objects: GET and AS_VARCHAR read each member, a missing key is SQL NULL', async () => {
    const rows = await warehouse.query(
      `SELECT r.INDEX, AS_VARCHAR(GET(r.VALUE, 'id')) AS ID, GET(r.VALUE, 'v') AS V, GET(r.VALUE, 'missing') IS NULL AS MISSING
FROM (SELECT PARSE_JSON(?) AS J) p, LATERAL FLATTEN(INPUT => p.J) r ORDER BY r.INDEX`,
      [[{ id: '9007199254740993', v: { nested: [1, 'two'] } }, { id: 'b' }]],
    );
    expect(rows).toEqual([
      { INDEX: 0, ID: '9007199254740993', V: { nested: [1, 'two'] }, MISSING: true },
      { INDEX: 1, ID: 'b', V: null, MISSING: true },
    ]);
  });
});

describe('transactions on DuckDB', () => {
  beforeAll(async () => {
    await warehouse.execute('CREATE TABLE PRELUDE_TX (ID INTEGER NOT NULL PRIMARY KEY, V VARCHAR NOT NULL)');
    await warehouse.execute("INSERT INTO PRELUDE_TX (ID, V) SELECT 1, 'initial'");
  });

  it('a failed statement inside transaction() rejects and leaves nothing written', async () => {
    const before = await warehouse.query('SELECT ID, V FROM PRELUDE_TX ORDER BY ID');
    await expect(
      warehouse.transaction([
        { sql: 'INSERT INTO PRELUDE_TX (ID, V) SELECT ?, ?', binds: [2, 'first'] },
        { sql: 'UPDATE PRELUDE_TX SET V = ? WHERE ID = ?', binds: ['changed', 1] },
        { sql: 'INSERT INTO PRELUDE_TX (ID, V) SELECT ?, ?', binds: [3, null] },
      ]),
    ).rejects.toBeInstanceOf(WarehouseError);
    expect(await warehouse.query('SELECT ID, V FROM PRELUDE_TX ORDER BY ID')).toEqual(before);
    // The connection is usable afterwards, and a good transaction commits.
    await warehouse.transaction([{ sql: 'INSERT INTO PRELUDE_TX (ID, V) SELECT ?, ?', binds: [4, 'kept'] }]);
    expect((await warehouse.query('SELECT V FROM PRELUDE_TX WHERE ID = 4')).map((row) => row.V)).toEqual(['kept']);
  });

  it('withTransaction() rolls back when its work throws', async () => {
    await expect(
      warehouse.withTransaction(async (scope) => {
        await scope.execute('UPDATE PRELUDE_TX SET V = ? WHERE ID = ?', ['inside', 1]);
        throw new Error('work failed');
      }),
    ).rejects.toThrow('work failed');
    expect((await one('SELECT V FROM PRELUDE_TX WHERE ID = 1')).V).toBe('initial');
  });

  it("two connections updating the same row: the second writer gets a WarehouseError of kind 'conflict'", async () => {
    const other = await db.database.connect();
    try {
      let secondWriter: unknown;
      await warehouse.withTransaction(async (scope) => {
        await scope.execute('UPDATE PRELUDE_TX SET V = ? WHERE ID = ?', ['writer one', 1]);
        // While the first transaction holds its uncommitted change, another connection writes the same row.
        secondWriter = await other.execute('UPDATE PRELUDE_TX SET V = ? WHERE ID = ?', ['writer two', 1]).catch((error: unknown) => error);
      });
      expect(isWarehouseError(secondWriter)).toBe(true);
      expect((secondWriter as WarehouseError).kind).toBe('conflict');
      expect((secondWriter as WarehouseError).retryable).toBe(true);
      expect((await one('SELECT V FROM PRELUDE_TX WHERE ID = 1')).V).toBe('writer one');
      expect((await other.query('SELECT V FROM PRELUDE_TX WHERE ID = 1'))[0]?.V).toBe('writer one');
    } finally {
      await other.close();
    }
  });
});

describe('SYSDATE() and exact VARIANT integers', () => {
  it('SYSDATE() is the current UTC time as TIMESTAMP_NTZ in any session time zone, unlike CURRENT_TIMESTAMP', async () => {
    // docs.snowflake.com/en/sql-reference/functions/sysdate: in America/Los_Angeles, SYSDATE() shows UTC's wall
    // clock while CURRENT_TIMESTAMP shows the local one.
    await warehouse.execute("SET TimeZone = 'America/Los_Angeles'");
    try {
      const before = Date.now();
      const row = await one(
        "SELECT SYSDATE() AS NOW_UTC, typeof(SYSDATE()) AS T, TIMESTAMPDIFF('minute', CURRENT_TIMESTAMP, SYSDATE()) AS LOCAL_VS_UTC, TIMESTAMPDIFF('minute', SYSDATE(), CAST(? AS TIMESTAMP_NTZ)) AS AHEAD",
        [new Date(before + 60 * 60_000)],
      );
      expect(row.T).toBe('TIMESTAMP');
      expect(Math.abs((row.NOW_UTC as Date).getTime() - before)).toBeLessThan(5_000);
      // The NTZ value read in the session zone: the documented trap the views avoid.
      expect(row.LOCAL_VS_UTC).toBe(480);
      expect([59, 60]).toContain(row.AHEAD);
    } finally {
      await warehouse.execute("SET TimeZone = 'UTC'");
    }
  });

  it('reads integers above 2^53 inside a VARIANT exactly, as decimal text', async () => {
    const row = await one(
      `SELECT PARSE_JSON('[{"is_snowflake": false, "query_id": "01b2", "transaction_id": 1700000000000000123}, {"transaction_id": 42, "x": "1700000000000000123", "y": 1.5e3, "z": -9007199254740993}]') AS V`,
    );
    expect(row.V).toEqual([
      { is_snowflake: false, query_id: '01b2', transaction_id: '1700000000000000123' },
      { transaction_id: 42, x: '1700000000000000123', y: 1500, z: '-9007199254740993' },
    ]);
  });
});
