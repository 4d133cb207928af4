// Snowflake rules that both the offline checker (snowflake-schema.ts) and the fake endpoint
// (fake-snowflake.ts) apply, kept here once so the two cannot drift apart.

/** The text with string literals and line comments blanked, so rules match only SQL. */
export function withoutLiterals(text: string): string {
  return text.replace(/'(?:[^']|'')*'/g, "''").replace(/--[^\n]*/g, '');
}

// LIMIT's count, OFFSET's start, FETCH's and TOP's count "must be a non-negative integer constant"
// (docs.snowflake.com/en/sql-reference/constructs/limit, .../constructs/top_n); a placeholder there fails
// with "SQL compilation error: Invalid row count '?' in limit clause" (snowflake-connector-nodejs#65).
const BOUND_ROW_COUNT = /\b(LIMIT|OFFSET|TOP|FETCH(?:\s+(?:FIRST|NEXT))?)\s*\(?\s*(\?|:\w+|\$\d+)/i;

/** The clause whose row count is a bind placeholder (`LIMIT ?`), or undefined when there is none. */
export function boundRowCount(text: string): string | undefined {
  const match = BOUND_ROW_COUNT.exec(withoutLiterals(text));
  return match ? `${match[1]!.toUpperCase().replace(/\s+/g, ' ')} ${match[2]}` : undefined;
}

/** What Snowflake answers for such a statement: a compilation error (code 001003, SQL state 42601). */
export const INVALID_ROW_COUNT = {
  code: '001003',
  message: "SQL compilation error:\nInvalid row count '?' in limit clause",
  sqlState: '42601',
} as const;
