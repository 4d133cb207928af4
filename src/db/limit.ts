// LIMIT counts are written into the statement text, never bound: Snowflake documents LIMIT's count (and
// OFFSET's start, FETCH's and TOP's count) as "a non-negative integer constant"
// (docs.snowflake.com/en/sql-reference/constructs/limit), and a bound `LIMIT ?` fails there with
// "Invalid row count '?' in limit clause". So every count is validated here before it reaches the text.

/** `LIMIT n` for a positive safe integer n (at most `max` when given); throws on anything else. */
export function limitClause(count: number, max = Number.MAX_SAFE_INTEGER): string {
  if (!Number.isSafeInteger(count) || count < 1 || count > max) {
    throw new RangeError(`invalid LIMIT count ${String(count)}: must be an integer from 1 to ${max}`);
  }
  return `LIMIT ${count}`;
}
