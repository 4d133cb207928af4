// The DuckDB compatibility prelude: type aliases and macros that let DuckDB run the part of Snowflake SQL
// this service writes. It is applied on every DuckDB connection before any other statement, so the text
// the tests execute is the text Snowflake receives. Add a macro here only for a Snowflake function that
// DuckDB lacks under the same name and meaning; test each one in test/prelude.test.ts.
//
// What it cannot cover (write around it instead): the `col:"key"` path syntax (read whole objects and
// transform in TypeScript, or use GET(obj, 'key'), GET_PATH(obj, 'a.b') and AS_VARCHAR(...) for a string),
// `CURRENT_TIMESTAMP()` with parentheses (bind the injectable clock instead), CREATE OR ALTER TABLE, and
// VARIANT in DDL (see ddl.ts).

/** Types are persisted in the database file, so they are created only when missing. */
export const PRELUDE_TYPES: ReadonlyArray<{ name: string; definition: string }> = [
  { name: 'TIMESTAMP_NTZ', definition: 'TIMESTAMP' },
  // ACCOUNT_USAGE columns are TIMESTAMP_LTZ; the service pins Snowflake sessions to UTC and so does DuckDB.
  { name: 'TIMESTAMP_LTZ', definition: 'TIMESTAMP' },
];

/** Macros are re-created on every connect (TEMP: they live in the connection's session, not in the file). */
export const PRELUDE_MACROS: readonly string[] = [
  'CREATE OR REPLACE TEMP MACRO IFF(cond, a, b) AS CASE WHEN cond THEN a ELSE b END',
  'CREATE OR REPLACE TEMP MACRO NVL(a, b) AS COALESCE(a, b)',
  'CREATE OR REPLACE TEMP MACRO ZEROIFNULL(a) AS COALESCE(a, 0)',
  // Snowflake returns NULL for an empty or whitespace-only string; DuckDB's json() would raise.
  "CREATE OR REPLACE TEMP MACRO PARSE_JSON(s) AS CASE WHEN trim(s) = '' THEN NULL ELSE json(s) END",
  'CREATE OR REPLACE TEMP MACRO STARTSWITH(s, prefix) AS starts_with(s, prefix)',
  // Not `contains(s, part)`: inside the macro that name is the macro itself (endless recursion).
  'CREATE OR REPLACE TEMP MACRO CONTAINS(s, part) AS strpos(s, part) > 0',
  // Snowflake accepts the date part as a quoted string too; the service always quotes it.
  "CREATE OR REPLACE TEMP MACRO DATEADD(part, n, ts) AS date_add(ts, CAST(CAST(n AS VARCHAR) || ' ' || part AS INTERVAL))",
  'CREATE OR REPLACE TEMP MACRO TIMESTAMPDIFF(part, a, b) AS date_diff(part, a, b)',
  // GET(object, 'key'): one key, taken literally (so 'p99.9' is the key, not a path).
  `CREATE OR REPLACE TEMP MACRO GET(obj, key) AS json_extract(obj, '$."' || key || '"')`,
  // GET_PATH(variant, 'a.b[0].c'): Snowflake's path is JSONPath without the leading `$`; NULL when missing.
  "CREATE OR REPLACE TEMP MACRO GET_PATH(obj, path) AS json_extract(obj, '$.' || path)",
  // AS_VARCHAR(variant): the string a VARIANT holds (unquoted), NULL for anything else (a number, an object,
  // JSON null). CAST(variant AS VARCHAR) differs between the engines (DuckDB keeps the JSON quotes).
  "CREATE OR REPLACE TEMP MACRO AS_VARCHAR(v) AS CASE WHEN json_type(v) = 'VARCHAR' THEN json_extract_string(v, '$') END",
  // NULL for anything that is not an array, as in Snowflake (json_array_length gives 0 for an object).
  "CREATE OR REPLACE TEMP MACRO ARRAY_SIZE(arr) AS CASE WHEN json_type(arr) = 'ARRAY' THEN json_array_length(arr) END",
  'CREATE OR REPLACE TEMP MACRO TO_VARCHAR(x) AS CAST(x AS VARCHAR)',
  // FLATTEN(INPUT => v), Snowflake's table function (docs.snowflake.com/en/sql-reference/functions/flatten):
  // one row per element of an array (INDEX its position, PATH '[i]') or member of an object (KEY, PATH the
  // key), VALUE the element, THIS the input; no rows for NULL (nor, here, for a scalar). SEQ and the
  // RECURSIVE/OUTER/MODE arguments are not covered. Use it as `LATERAL FLATTEN(INPUT => x) alias`: DuckDB
  // rejects TABLE(FLATTEN(...)). Built on unnest, not on the json_each table function: a prepared statement
  // joining json_each laterally is planned again at every execution, which cost 10–15 ms a statement for the
  // service's row-set writes (BENCHMARKS.md, "Backfill"); with unnest it is planned once.
  `CREATE OR REPLACE TEMP MACRO FLATTEN(INPUT) AS TABLE
SELECT NULL::VARCHAR AS KEY, '[' || (a.i - 1) || ']' AS PATH, CAST(a.i - 1 AS BIGINT) AS INDEX, a.v AS VALUE, INPUT AS THIS
FROM (SELECT unnest(TRY_CAST(INPUT AS JSON[])) AS v, generate_subscripts(TRY_CAST(INPUT AS JSON[]), 1) AS i) a
UNION ALL
SELECT o.e.key, o.e.key, NULL, o.e.value, INPUT
FROM (SELECT unnest(map_entries(TRY_CAST(INPUT AS MAP(VARCHAR, JSON)))) AS e) o`,
  // SYSDATE(): the current time in UTC as TIMESTAMP_NTZ, whatever the session's time zone
  // (docs.snowflake.com/en/sql-reference/functions/sysdate). Views compare it with our UTC NTZ columns.
  "CREATE OR REPLACE TEMP MACRO SYSDATE() AS timezone('UTC', current_timestamp)",
];

export const PRELUDE_SETTINGS: readonly string[] = ["SET TimeZone = 'UTC'"];
