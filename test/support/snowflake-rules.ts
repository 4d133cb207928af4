// Snowflake rules that both the offline checker (snowflake-schema.ts) and the fake endpoint
// (fake-snowflake.ts) apply, kept here once so the two cannot drift apart.

/** The text with `$$` bodies, string literals and line comments blanked, so rules match only SQL. */
export function withoutLiterals(text: string): string {
  return text
    .replace(/\$\$[\s\S]*?\$\$/g, '$$$$$$$$')
    .replace(/'(?:[^']|'')*'/g, "''")
    .replace(/--[^\n]*/g, '');
}

// ---- procedures (the write carrier, src/db/write-carrier.ts) ----------------------------------------

export interface ProcedureDefinition {
  /** Upper case, as Snowflake resolves an unquoted name. */
  name: string;
  /** Declared argument names, upper case: a JavaScript body sees unquoted argument names in upper case
   *  (docs.snowflake.com/en/developer-guide/stored-procedure/stored-procedures-javascript, "Case-sensitivity
   *  in JavaScript arguments"). */
  argumentNames: string[];
  language: string;
  /** The text between the `$$` delimiters, verbatim. */
  body: string;
}

const NAME = '([A-Za-z_][A-Za-z0-9_$]*)';

/** Reads `CREATE [OR REPLACE] PROCEDURE name(args) … LANGUAGE x … AS $$ body $$`; undefined for anything else. */
export function procedureDefinition(text: string): ProcedureDefinition | undefined {
  const match = new RegExp(`^\\s*CREATE\\s+(?:OR\\s+REPLACE\\s+)?PROCEDURE\\s+${NAME}\\s*\\(([^)]*)\\)([\\s\\S]*?)\\bAS\\s*\\$\\$([\\s\\S]*)\\$\\$\\s*$`, 'i').exec(text);
  if (!match) return undefined;
  const argumentNames = (match[2] as string)
    .split(',')
    .map((arg) => arg.trim())
    .filter((arg) => arg !== '')
    .map((arg) => (arg.split(/\s+/)[0] as string).toUpperCase());
  const language = /\bLANGUAGE\s+([A-Za-z]+)/i.exec(match[3] as string)?.[1]?.toUpperCase() ?? 'SQL';
  return { name: (match[1] as string).toUpperCase(), argumentNames, language, body: match[4] as string };
}

/**
 * `WITH name AS PROCEDURE (args) … AS $$ body $$ CALL …` (docs.snowflake.com/en/sql-reference/sql/call-with)
 * as its two parts: the equivalent CREATE PROCEDURE text and the CALL. Undefined for anything else.
 */
export function anonymousProcedureCall(text: string): { definition: string; call: string } | undefined {
  const match = new RegExp(`^\\s*WITH\\s+${NAME}\\s+AS\\s+PROCEDURE\\b([\\s\\S]*?\\$\\$[\\s\\S]*?\\$\\$)\\s*(CALL\\b[\\s\\S]*)$`, 'i').exec(text);
  if (!match) return undefined;
  return { definition: `CREATE PROCEDURE ${match[1]}${match[2]}`, call: (match[3] as string).trim() };
}

/** `CALL name(args)`: the called name (upper case) and the argument texts. */
export function procedureCall(text: string): { name: string; args: string[] } | undefined {
  const match = new RegExp(`^\\s*CALL\\s+${NAME}\\s*\\(([\\s\\S]*)\\)\\s*;?\\s*$`, 'i').exec(text);
  if (!match) return undefined;
  return { name: (match[1] as string).toUpperCase(), args: (match[2] as string).split(',').map((arg) => arg.trim()).filter((arg) => arg !== '') };
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

// ---- streams (src/queue/discovery-stream.ts) --------------------------------------------------------

export interface StreamDefinition {
  /** Upper case, as Snowflake resolves unquoted names. */
  name: string;
  table: string;
  orReplace: boolean;
  ifNotExists: boolean;
  /** Whatever follows the table (APPEND_ONLY, AT/BEFORE, COMMENT …), trimmed; '' for a plain standard stream. */
  options: string;
}

/** Reads `CREATE [OR REPLACE] STREAM [IF NOT EXISTS] name ON TABLE table …` (docs.snowflake.com/en/sql-reference/sql/create-stream). */
export function streamDefinition(text: string): StreamDefinition | undefined {
  const match = new RegExp(`^\\s*CREATE\\s+(OR\\s+REPLACE\\s+)?STREAM\\s+(IF\\s+NOT\\s+EXISTS\\s+)?${NAME}\\s+ON\\s+TABLE\\s+${NAME}([\\s\\S]*?);?\\s*$`, 'i').exec(text);
  if (!match) return undefined;
  return {
    name: (match[3] as string).toUpperCase(),
    table: (match[4] as string).toUpperCase(),
    orReplace: match[1] !== undefined,
    ifNotExists: match[2] !== undefined,
    options: (match[5] as string).trim(),
  };
}
