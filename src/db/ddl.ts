// DDL is the one place where the engines cannot share text: Snowflake's VARIANT/OBJECT/ARRAY column
// types and NUMBER(p,s) have no DuckDB alias (DuckDB has its own, different VARIANT, and NUMBER cannot
// be an alias that takes parameters). This function maps column types in migration DDL for DuckDB.
// Queries never go through it.

const TYPE_REWRITES: ReadonlyArray<[RegExp, string]> = [
  // Upper case only: migrations write types in upper case, and comments in prose keep their words.
  [/\bNUMBER\s*\(/g, 'DECIMAL('],
  [/\bNUMBER\b/g, 'DECIMAL(38,0)'],
  [/\b(VARIANT|OBJECT)\b/g, 'JSON'],
];

export function ddlForDuckDb(statement: string): string {
  let out = statement;
  for (const [pattern, replacement] of TYPE_REWRITES) out = out.replace(pattern, replacement);
  return out;
}
