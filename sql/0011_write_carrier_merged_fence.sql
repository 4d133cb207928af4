-- Migration 0011: the write carrier of 0009 with merged fences (src/processor/statement-batcher.ts merges the
-- write groups of several claims into one group whose statements each cover all their rows: the group's
-- fenced queue UPDATE must then touch exactly as many rows as it carries claims, "n" below).
-- Snowflake only (the whole file): DuckDB runs the same statement texts between BEGIN and COMMIT (src/db/duckdb.ts).
-- @engine snowflake
--
-- Replaces 0009's procedure (same name and signature, so CALL texts do not change). Rights, transaction and
-- body rules as in 0009 (EXECUTE AS CALLER; a transaction the procedure begins also ends inside it).
-- The body is the one text both Snowflake carriers send: SNOWFLAKE_WRITE_CARRIER=inline reads it from this file.
CREATE OR REPLACE PROCEDURE DELAYED_ENRICHMENT_WRITE_GROUPS(GROUPS_JSON VARCHAR)
RETURNS VARIANT
LANGUAGE JAVASCRIPT
EXECUTE AS CALLER
AS $$
// GROUPS_JSON: [{"s": [{"q": "<sql text>", "b": [<bind values>]}], "f": <fenced>, "n": <fence rows>}], binds
// as src/db/binds.ts sends them. In a fenced group statement 0 is the claims' fenced queue UPDATE and must
// touch n rows (1 when "n" is absent). A group of one claim that touches another number is not held: its other
// statements are not run (counted 0). A merged group (n > 1) that does fails the whole call instead: ROLLBACK,
// and the answer {"error": {"fence": {"expected", "touched"}, "group"}}, so that no claim's part commits alone.
// Answer: {"groups": [{"held": <bool>, "counts": [<rows per statement>]}]}, or after a ROLLBACK
// {"error": {"code", "state", "message", "group"}}. Returned, not rethrown: an error rethrown from a
// procedure reaches the caller without the failing statement's own code.
// API: createStatement({sqlText, binds}), Statement.execute(), getNumRowsAffected(), and a failed statement
// throws an error with code, state and message (docs.snowflake.com/en/sql-reference/stored-procedures-api).
var groups = JSON.parse(GROUPS_JSON);
var answer = [];
var current = -1;
var lostFence = null;
try {
  snowflake.execute({sqlText: "BEGIN TRANSACTION"});
  for (var g = 0; g < groups.length && lostFence === null; g += 1) {
    current = g;
    var statements = groups[g].s;
    var expected = groups[g].n || 1;
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
      if (i === 0 && groups[g].f && rows !== expected) {
        if (expected > 1) {
          lostFence = {expected: expected, touched: rows};
          break;
        }
        held = false;
      }
    }
    answer.push({held: held, counts: counts});
  }
  if (lostFence !== null) {
    snowflake.execute({sqlText: "ROLLBACK"});
    return {error: {fence: lostFence, group: current}};
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
