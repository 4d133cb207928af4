-- Migration 0009: the write carrier, a JavaScript stored procedure that runs a list of write groups in one
-- transaction so that a fenced write costs one request on Snowflake (src/db/write-carrier.ts, issue 10).
-- Snowflake only (the whole file): DuckDB runs the same statement texts between BEGIN and COMMIT (src/db/duckdb.ts).
-- @engine snowflake
--
-- EXECUTE AS CALLER: the statements run with the service role's privileges and in the caller's session
-- context, so unqualified table names resolve against the session's database and schema exactly as they do
-- when sent one by one (docs.snowflake.com/en/developer-guide/stored-procedure/stored-procedures-rights).
-- A procedure may BEGIN and COMMIT its own transaction; one it begins must also end inside it
-- (docs.snowflake.com/en/sql-reference/transactions, "Transactions and stored procedures").
-- The body is the one text both Snowflake carriers send: SNOWFLAKE_WRITE_CARRIER=inline reads it from this file.
CREATE OR REPLACE PROCEDURE DELAYED_ENRICHMENT_WRITE_GROUPS(GROUPS_JSON VARCHAR)
RETURNS VARIANT
LANGUAGE JAVASCRIPT
EXECUTE AS CALLER
AS $$
// GROUPS_JSON: [{"s": [{"q": "<sql text>", "b": [<bind values>]}], "f": <fenced>}], binds as src/db/binds.ts
// sends them. In a fenced group statement 0 is the claim's fenced queue UPDATE: when it touches a number of
// rows other than 1, the group's other statements are not run (counted 0) and the group is not held.
// Answer: {"groups": [{"held": <bool>, "counts": [<rows per statement>]}]}, or after a ROLLBACK
// {"error": {"code", "state", "message", "group"}}. Returned, not rethrown: an error rethrown from a
// procedure reaches the caller without the failing statement's own code.
// API: createStatement({sqlText, binds}), Statement.execute(), getNumRowsAffected(), and a failed statement
// throws an error with code, state and message (docs.snowflake.com/en/sql-reference/stored-procedures-api).
var groups = JSON.parse(GROUPS_JSON);
var answer = [];
var current = -1;
try {
  snowflake.execute({sqlText: "BEGIN TRANSACTION"});
  for (var g = 0; g < groups.length; g += 1) {
    current = g;
    var statements = groups[g].s;
    var counts = [];
    var held = true;
    for (var i = 0; i < statements.length; i += 1) {
      if (!held) {
        counts.push(0);
        continue;
      }
      var statement = snowflake.createStatement({sqlText: statements[i].q, binds: statements[i].b});
      statement.execute();
      var rows = statement.getNumRowsAffected();
      counts.push(rows);
      if (i === 0 && groups[g].f && rows !== 1) held = false;
    }
    answer.push({held: held, counts: counts});
  }
  current = -1;
  snowflake.execute({sqlText: "COMMIT"});
  return {groups: answer};
} catch (err) {
  try {
    snowflake.execute({sqlText: "ROLLBACK"});
  } catch (ignored) {
    // No transaction left to roll back.
  }
  return {error: {code: err.code, state: err.state, message: err.message, group: current}};
}
$$;
