// The schema the offline Snowflake check validates statements against, built from what the service itself
// declares: FlakeBench's own TEST_RESULTS and QUERY_EXECUTIONS start with exactly FlakeBench's columns
// (src/sources/flakebench-tables.ts: they exist in the account before the service is installed, and the
// embedded stand-in migrations are never sent to Snowflake), our tables, views and added columns come from
// the migrations' DDL (so a column added by a new migration is known without touching this file), the
// ACCOUNT_USAGE views from the documented contracts in src/sources/account-usage.ts. A statement naming a
// column FlakeBench does not have (TEST_RESULTS.DATABASE_NAME) fails. Only for checking: polyglot never
// generates SQL for the service.
//
// What polyglot 0.12.1's validateWithSchema checks (tried case by case; names match case-insensitively):
//   * columns of a table, through aliases (t.COL), in WHERE/ON/GROUP BY/QUALIFY, in IN/EXISTS subqueries,
//     in derived tables and CTEs (their output columns), in UPDATE SET, INSERT column lists and MERGE;
//   * the bodies of CREATE VIEW and CREATE TABLE ... AS SELECT.
// What it does not, and what this module does instead:
//   * a three-part name (SNOWFLAKE.ACCOUNT_USAGE.X) matches only a table declared under the full name (a
//     `schema` field is ignored for it, so a wrong column passed): the views are declared fully qualified;
//   * ALTER TABLE (unknown table, CLUSTER BY columns): checked by SnowflakeSchema.apply();
//   * any function name and DuckDB-only forms (RETURNING, ON CONFLICT, SKIP LOCKED, ->>) are accepted:
//     checked by SNOWFLAKE_FUNCTIONS and NOT_SNOWFLAKE below;
//   * the column list of a VALUES alias (`AS v(a, b)` then `v.q`) is not checked;
//   * a procedure's `$$` body is an opaque string to it, and CALL with an anonymous procedure (WITH … AS
//     PROCEDURE … CALL) does not parse: the JavaScript body is compiled and its argument names checked here,
//     and the anonymous form is checked as its CREATE PROCEDURE and its CALL (procedureBodyProblems);
//   * an ordered-set aggregate (`PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY x)`, valid Snowflake) is
//     rejected with E230 whatever its column: the check reads it as `PERCENTILE_CONT(0.5, x)`, so x is
//     still checked against the schema (withinGroupAsArgument).
import { Dialect, generate, outputColumnsWithSchema, parse, tokenize, validate, validateWithSchema } from '@polyglot-sql/sdk';
import type { ColumnSchema, Schema, TableSchema, ValidationError } from '@polyglot-sql/sdk';
import { SOURCE_VIEWS, sourceViewName } from '../../src/sources/account-usage.js';
import { FLAKEBENCH_TABLES } from '../../src/sources/flakebench-tables.js';
import { anonymousProcedureCall, boundRowCount, procedureCall, procedureDefinition, streamDefinition, withoutLiterals } from './snowflake-rules.js';

/** The one dialect name polyglot's validators take for Snowflake. */
export const SNOWFLAKE = 'snowflake';

// Snowflake's INFORMATION_SCHEMA.TABLES columns the service may read (docs.snowflake.com/en/sql-reference/info-schema/tables).
const INFORMATION_SCHEMA_TABLES: TableSchema = {
  name: 'INFORMATION_SCHEMA.TABLES',
  columns: [
    'TABLE_CATALOG',
    'TABLE_SCHEMA',
    'TABLE_NAME',
    'TABLE_OWNER',
    'TABLE_TYPE',
    'IS_TRANSIENT',
    'CLUSTERING_KEY',
    'ROW_COUNT',
    'BYTES',
    'RETENTION_TIME',
    'CREATED',
    'LAST_ALTERED',
    'LAST_DDL',
    'LAST_DDL_BY',
    'AUTO_CLUSTERING_ON',
    'COMMENT',
  ].map((name) => ({ name, type: 'text' })),
};

interface AstName {
  name: { name: string };
  schema?: { name: string } | null;
  catalog?: { name: string } | null;
}

interface AstColumn {
  name: { name: string };
  data_type?: { data_type?: string; name?: string };
}

/** `CATALOG.SCHEMA.NAME` as written, upper case (unquoted Snowflake identifiers are case-insensitive). */
function qualifiedName(name: AstName): string {
  return [name.catalog?.name, name.schema?.name, name.name.name]
    .filter((part): part is string => typeof part === 'string')
    .join('.')
    .toUpperCase();
}

function columnOf(column: AstColumn): ColumnSchema {
  const type = column.data_type?.data_type === 'custom' ? column.data_type.name : column.data_type?.data_type;
  return { name: column.name.name.toUpperCase(), type: type ?? 'variant' };
}

/**
 * Our tables and views as they stand after the statements applied so far. `apply()` reads a DDL statement
 * and records its effect; anything it cannot place (ALTER of an unknown table) is an error, because the
 * statement would fail on Snowflake too.
 */
export class SnowflakeSchema {
  private readonly objects = new Map<string, TableSchema>();

  constructor() {
    for (const view of SOURCE_VIEWS) {
      // Fully qualified: polyglot matches a three-part name only against a table named the same way.
      this.objects.set(sourceViewName(view.name), {
        name: sourceViewName(view.name),
        columns: view.columns.map((column) => ({ name: column.name, type: column.type.toLowerCase() })),
      });
    }
    this.objects.set(INFORMATION_SCHEMA_TABLES.name, INFORMATION_SCHEMA_TABLES);
    for (const [name, columns] of Object.entries(FLAKEBENCH_TABLES)) {
      this.objects.set(name, { name, columns: columns.map((column) => ({ name: column.name, type: column.type.toLowerCase() })) });
    }
  }

  /** Every table and view known so far, in polyglot's schema format. */
  toSchema(): Schema {
    return { tables: [...this.objects.values()], strict: true };
  }

  tableNames(): string[] {
    return [...this.objects.keys()];
  }

  columnsOf(table: string): string[] {
    return this.objects.get(table.toUpperCase())?.columns.map((column) => column.name) ?? [];
  }

  /** Records the effect of one DDL statement; statements that change no table or view are ignored. */
  apply(text: string): void {
    // polyglot keeps CREATE STREAM as raw text: read here.
    const stream = streamDefinition(text);
    if (stream) return this.createStream(stream.name, stream.table, stream.ifNotExists);
    const parsed = parse(text, Dialect.Snowflake);
    if (!parsed.success) throw new Error(`cannot read DDL: ${parsed.error}`);
    for (const node of parsed.ast as unknown as Array<Record<string, any>>) {
      if (node.create_table) this.createTable(node.create_table);
      else if (node.alter_table) this.alterTable(node.alter_table);
      else if (node.create_view) this.createView(node.create_view);
      else if (node.drop_table) for (const name of node.drop_table.names as AstName[]) this.objects.delete(qualifiedName(name));
      else if (node.drop_view) this.objects.delete(qualifiedName(node.drop_view.name as AstName));
    }
  }

  private createTable(create: { name: AstName; columns: AstColumn[]; as_select: unknown; if_not_exists: boolean }): void {
    const name = qualifiedName(create.name);
    if (create.if_not_exists && this.objects.has(name)) return;
    const columns = create.as_select ? this.outputOf(create.as_select, name) : create.columns.map(columnOf);
    this.objects.set(name, { name, columns });
  }

  private alterTable(alter: { name: AstName; actions: Array<Record<string, any>>; if_exists: boolean }): void {
    const name = qualifiedName(alter.name);
    const table = this.objects.get(name);
    if (!table) {
      if (alter.if_exists) return;
      throw new Error(`ALTER TABLE of unknown table ${name}`);
    }
    for (const action of alter.actions) {
      if (action.AddColumn) {
        const column = columnOf(action.AddColumn.column as AstColumn);
        if (table.columns.some((existing) => existing.name === column.name)) {
          if (action.AddColumn.if_not_exists) continue;
          throw new Error(`ALTER TABLE ${name} adds column ${column.name} twice`);
        }
        table.columns.push(column);
      } else if (action.DropColumn) {
        const column = String(action.DropColumn.name.name).toUpperCase();
        if (!table.columns.some((existing) => existing.name === column) && !action.DropColumn.if_exists) {
          throw new Error(`ALTER TABLE ${name} drops unknown column ${column}`);
        }
        table.columns = table.columns.filter((existing) => existing.name !== column);
      } else if (action.ClusterBy) {
        // polyglot does not check clustering keys; Snowflake rejects an unknown column there.
        for (const column of columnReferences(action.ClusterBy)) {
          if (!table.columns.some((existing) => existing.name === column)) throw new Error(`ALTER TABLE ${name} clusters by unknown column ${column}`);
        }
      }
    }
  }

  /**
   * A table stream reads as its table's columns plus the change metadata columns METADATA$ACTION,
   * METADATA$ISUPDATE and METADATA$ROW_ID (docs.snowflake.com/en/user-guide/streams-intro, "Stream columns").
   */
  private createStream(name: string, tableName: string, ifNotExists: boolean): void {
    if (ifNotExists && this.objects.has(name)) return;
    const table = this.objects.get(tableName);
    if (!table) throw new Error(`CREATE STREAM on unknown table ${tableName}`);
    const metadata: ColumnSchema[] = [
      { name: 'METADATA$ACTION', type: 'text' },
      { name: 'METADATA$ISUPDATE', type: 'boolean' },
      { name: 'METADATA$ROW_ID', type: 'text' },
    ];
    this.objects.set(name, { name, columns: [...table.columns.map((column) => ({ ...column })), ...metadata] });
  }

  private createView(create: { name: AstName; query: unknown }): void {
    const name = qualifiedName(create.name);
    this.objects.set(name, { name, columns: this.outputOf(create.query, name) });
  }

  /** Output columns of a query (`*` expanded against the tables known so far). */
  private outputOf(query: unknown, owner: string): ColumnSchema[] {
    const rendered = generate([query], Dialect.Snowflake);
    const text = rendered.success ? rendered.sql?.[0] : undefined;
    if (text === undefined) throw new Error(`cannot render the query of ${owner}: ${rendered.error ?? 'no SQL'}`);
    const output = outputColumnsWithSchema(text, this.toSchema(), SNOWFLAKE);
    if (!output.success || !output.output) throw new Error(`cannot list the columns of ${owner}: ${output.error ?? 'unknown'}`);
    return output.output.columns.map((column) => {
      if (column.kind !== 'named') throw new Error(`${owner} has an unnamed or unexpanded output column; give it an alias`);
      return { name: column.name.toUpperCase(), type: 'variant' };
    });
  }
}

/** Upper-case names of the columns referenced anywhere inside an AST node. */
function columnReferences(node: unknown): string[] {
  if (Array.isArray(node)) return node.flatMap(columnReferences);
  if (node === null || typeof node !== 'object') return [];
  const record = node as Record<string, any>;
  if (record.column && typeof record.column.name?.name === 'string') return [String(record.column.name.name).toUpperCase()];
  return Object.values(record).flatMap(columnReferences);
}

/**
 * Snowflake rejects semi-structured constructors in a VALUES list (`Invalid expression [PARSE_JSON(?)] in
 * VALUES clause`): convert in the SELECT over `(VALUES ...) AS v(...)` instead. Returns the function, if any.
 */
function functionInValues(text: string): string | undefined {
  const pattern = /\bVALUES\s*\(/gi;
  for (let match = pattern.exec(text); match; match = pattern.exec(text)) {
    // Walk the tuples that follow: `(...), (...)`.
    let i = match.index + match[0].length - 1;
    while (text[i] === '(') {
      let depth = 0;
      const start = i;
      for (; i < text.length; i += 1) {
        if (text[i] === '(') depth += 1;
        if (text[i] === ')') depth -= 1;
        if (depth === 0) break;
      }
      const call = /\b(PARSE_JSON|TRY_PARSE_JSON|OBJECT_CONSTRUCT|ARRAY_CONSTRUCT|TO_VARIANT|TO_OBJECT|TO_ARRAY)\s*\(/i.exec(text.slice(start + 1, i));
      if (call) return call[1];
      i += 1;
      while (/[\s,]/.test(text[i] ?? '')) i += 1;
    }
  }
  return undefined;
}

export interface Problem {
  stage: 'parse' | 'schema' | 'snowflake';
  message: string;
}

// Forms DuckDB runs but Snowflake rejects (polyglot's Snowflake parser accepts them all, so they are checked
// here). Matched on the text with string literals and comments removed.
const NOT_SNOWFLAKE: ReadonlyArray<{ pattern: RegExp; why: string }> = [
  { pattern: /\bRETURNING\b/i, why: 'Snowflake has no RETURNING clause' },
  { pattern: /\bON\s+CONFLICT\b/i, why: 'Snowflake has no ON CONFLICT (use MERGE)' },
  { pattern: /\bINSERT\s+OR\s+(REPLACE|IGNORE)\b/i, why: 'Snowflake has no INSERT OR REPLACE/IGNORE (use MERGE)' },
  { pattern: /\bSKIP\s+LOCKED\b/i, why: 'Snowflake has no SKIP LOCKED' },
  { pattern: /\bFOR\s+UPDATE\b/i, why: 'Snowflake has no SELECT ... FOR UPDATE' },
  { pattern: /->>?/, why: 'Snowflake has no -> / ->> JSON operators (use GET)' },
  { pattern: /\bCURRENT_TIMESTAMP\s*\(/i, why: 'bind "now" from the injectable clock instead of CURRENT_TIMESTAMP()' },
  { pattern: /\bnextval\s*\(/i, why: 'Snowflake spells a sequence value SEQ.NEXTVAL' },
  { pattern: /\bINTERVAL\s+\d/i, why: "Snowflake needs INTERVAL '<n> <unit>' quoted" },
  { pattern: /\bCREATE\s+OR\s+ALTER\b/i, why: 'CREATE OR ALTER is not atomic and DuckDB lacks it (spec/README.md)' },
];

/**
 * Snowflake functions statements may call (docs.snowflake.com/en/sql-reference/functions-all). polyglot accepts
 * any function name, so a DuckDB-only one (now(), epoch_ms(), json_extract(), date_diff()) would pass unseen;
 * a call to a name missing here fails the check. If Snowflake documents the function, add it here (and, if
 * DuckDB lacks it under that name and meaning, a macro in src/db/prelude.ts).
 */
export const SNOWFLAKE_FUNCTIONS: ReadonlySet<string> = new Set(
  [
    // aggregate and window
    'COUNT COUNT_IF SUM MIN MAX AVG MEDIAN MODE STDDEV STDDEV_POP STDDEV_SAMP VARIANCE VAR_POP VAR_SAMP ANY_VALUE',
    'LISTAGG ARRAY_AGG OBJECT_AGG APPROX_COUNT_DISTINCT PERCENTILE_CONT PERCENTILE_DISC BOOLAND_AGG BOOLOR_AGG',
    'ROW_NUMBER RANK DENSE_RANK PERCENT_RANK CUME_DIST NTILE LAG LEAD FIRST_VALUE LAST_VALUE NTH_VALUE',
    // conditional
    'IFF NVL NVL2 IFNULL COALESCE NULLIF ZEROIFNULL NULLIFZERO GREATEST LEAST DECODE EQUAL_NULL',
    // text
    'UPPER LOWER TRIM LTRIM RTRIM LENGTH LEN SUBSTR SUBSTRING CONCAT CONCAT_WS STARTSWITH ENDSWITH CONTAINS REPLACE',
    'SPLIT_PART POSITION CHARINDEX LEFT RIGHT LPAD RPAD REGEXP_LIKE REGEXP_SUBSTR REGEXP_REPLACE REGEXP_COUNT',
    'MD5 SHA2 HASH UUID_STRING',
    // conversion
    'CAST TRY_CAST TO_VARCHAR TO_CHAR TO_NUMBER TO_DECIMAL TO_DOUBLE TO_BOOLEAN TO_DATE TO_TIMESTAMP',
    'TO_TIMESTAMP_NTZ TO_TIMESTAMP_LTZ TO_VARIANT TO_OBJECT TO_ARRAY TO_JSON',
    // date and time
    'DATEADD DATEDIFF TIMESTAMPADD TIMESTAMPDIFF TIMEADD TIMEDIFF DATE_TRUNC DATE_PART EXTRACT CONVERT_TIMEZONE',
    'YEAR MONTH DAY HOUR MINUTE SECOND LAST_DAY',
    // context
    'CURRENT_SCHEMA CURRENT_DATABASE CURRENT_ROLE CURRENT_WAREHOUSE',
    // semi-structured
    'PARSE_JSON TRY_PARSE_JSON GET GET_PATH ARRAY_SIZE ARRAY_CONSTRUCT ARRAY_CONTAINS ARRAY_APPEND OBJECT_CONSTRUCT',
    'OBJECT_CONSTRUCT_KEEP_NULL OBJECT_INSERT OBJECT_KEYS FLATTEN IS_NULL_VALUE TYPEOF',
    'AS_VARCHAR AS_DOUBLE AS_INTEGER AS_OBJECT AS_ARRAY',
    // numeric
    'ROUND FLOOR CEIL ABS SQRT POWER POW EXP LN LOG MOD DIV0 DIV0NULL SIGN TRUNC TRUNCATE',
    // table functions
    'TABLE RESULT_SCAN GENERATOR',
    // system (docs.snowflake.com/en/sql-reference/functions/system_stream_has_data, .../system_last_change_commit_time)
    'SYSTEM$STREAM_HAS_DATA SYSTEM$LAST_CHANGE_COMMIT_TIME',
  ].flatMap((line) => line.split(' ')),
);

const DML = new Set(['SELECT', 'WITH', 'INSERT', 'UPDATE', 'DELETE', 'MERGE']);
/** Tokens after which `name(` is a table, alias or type, not a call. */
const NOT_A_CALL_AFTER = new Set(['INTO', 'AS', 'R_PAREN', 'VAR', 'TABLE', 'UPDATE', 'FROM', 'JOIN', 'USING']);

/** Function names a DML statement calls that Snowflake does not document. */
export function unknownFunctions(text: string): string[] {
  const result = tokenize(text, Dialect.Snowflake) as { success: boolean; tokens?: Array<{ token_type: string; text: string }> };
  const tokens = result.tokens ?? [];
  if (!result.success || !DML.has(tokens[0]?.token_type ?? '')) return [];
  const unknown = new Set<string>();
  tokens.forEach((token, i) => {
    if (token.token_type !== 'VAR' || tokens[i + 1]?.token_type !== 'L_PAREN') return;
    if (NOT_A_CALL_AFTER.has(tokens[i - 1]?.token_type ?? '')) return;
    const name = token.text.toUpperCase();
    if (!SNOWFLAKE_FUNCTIONS.has(name)) unknown.add(name);
  });
  return [...unknown];
}


/**
 * Checks one statement the way Snowflake would receive it: exactly one statement in Snowflake grammar,
 * no DuckDB-only forms, and (with a schema) every table and column known. Returns the problems found.
 */
/** `F(args) WITHIN GROUP (ORDER BY x)` as `F(args, x)`: the form polyglot validates (see the header). */
export function withinGroupAsArgument(text: string): string {
  return text.replace(/\(([^()]*)\)\s+WITHIN\s+GROUP\s*\(\s*ORDER\s+BY\s+([^()]+?)\s*\)/gi, '($1, $2)');
}

// FLATTEN's output columns (docs.snowflake.com/en/sql-reference/functions/flatten). polyglot does not know a table
// function's columns, so `alias.COL` of a `LATERAL FLATTEN(...) alias` is checked here.
const FLATTEN_COLUMNS = new Set(['SEQ', 'KEY', 'PATH', 'INDEX', 'VALUE', 'THIS']);

/** `alias.COL` references to a FLATTEN alias whose COL is not one of FLATTEN's output columns. */
export function unknownFlattenColumns(text: string): string[] {
  const unknown: string[] = [];
  for (const match of text.matchAll(/\bFLATTEN\s*\((?:[^()]|\([^()]*\))*\)\s+(?:AS\s+)?([A-Za-z_]\w*)/gi)) {
    const alias = match[1] as string;
    for (const reference of text.matchAll(new RegExp(`\\b${alias}\\.([A-Za-z_]\\w*)`, 'g'))) {
      const column = (reference[1] as string).toUpperCase();
      if (!FLATTEN_COLUMNS.has(column)) unknown.push(`${alias}.${reference[1]}`);
    }
  }
  return unknown;
}

const INSERT_SELECT = /^\s*INSERT\s+INTO\s+[A-Za-z_][A-Za-z0-9_$.]*\s*\([^)]*\)\s*((?:SELECT|WITH)\b[\s\S]*)$/i;

export function checkStatement(original: string, schema?: Schema): Problem[] {
  // polyglot cannot parse CALL with an anonymous procedure: checked as its CREATE PROCEDURE and its CALL.
  const anonymous = anonymousProcedureCall(original);
  if (anonymous !== undefined) return [...checkStatement(anonymous.definition, schema), ...checkStatement(anonymous.call, schema), ...anonymousCallProblems(anonymous)];
  const text = withinGroupAsArgument(original);
  const problems: Problem[] = [...procedureBodyProblems(text)];
  // Checked on the text, before parsing: polyglot rejects some placements (FETCH FIRST ?) and accepts others.
  const bound = boundRowCount(text);
  if (bound !== undefined) {
    problems.push({ stage: 'snowflake', message: `${bound}: Snowflake takes only an integer constant as a row count; write a validated integer into the text (src/db/limit.ts)` });
  }
  const parsed = parse(text, Dialect.Snowflake);
  if (!parsed.success) return [...problems, { stage: 'parse', message: parsed.error }];
  if (parsed.ast.length !== 1) problems.push({ stage: 'parse', message: `holds ${parsed.ast.length} statements; send one at a time` });
  const syntax = validate(text, SNOWFLAKE, { strictSyntax: true, semantic: true });
  problems.push(...errorsOf(syntax.errors, 'parse'));
  const bare = withoutLiterals(text);
  for (const rule of NOT_SNOWFLAKE) if (rule.pattern.test(bare)) problems.push({ stage: 'snowflake', message: rule.why });
  for (const name of unknownFunctions(text)) {
    problems.push({ stage: 'snowflake', message: `${name}() is not a Snowflake function known to this check (see SNOWFLAKE_FUNCTIONS)` });
  }
  for (const reference of unknownFlattenColumns(bare)) {
    problems.push({ stage: 'schema', message: `${reference}: FLATTEN has only the columns ${[...FLATTEN_COLUMNS].join(', ')}` });
  }
  const call = functionInValues(bare);
  if (call !== undefined) {
    problems.push({ stage: 'snowflake', message: `${call}(...) inside VALUES: Snowflake takes only constants there; convert in a SELECT over the VALUES` });
  }
  if (schema) {
    const checked = validateWithSchema(text, schema, SNOWFLAKE, { strict: true, semantic: true, strictSyntax: true });
    problems.push(...errorsOf(checked.errors, 'schema'));
    // polyglot checks an INSERT … SELECT's column list but not the columns its query reads: the query on its own.
    const query = INSERT_SELECT.exec(text)?.[1];
    if (query !== undefined) problems.push(...errorsOf(validateWithSchema(query, schema, SNOWFLAKE, { strict: true, semantic: true, strictSyntax: true }).errors, 'schema'));
  }
  // The syntax pass and the schema pass report the same grammar errors; keep each once.
  return problems.filter((p, i) => problems.findIndex((q) => q.message === p.message) === i);
}

/**
 * A JavaScript procedure's `$$` body (polyglot keeps it as an opaque string): it must compile as a function of
 * the declared arguments, and read each argument by its upper-case name, the only one JavaScript sees for an
 * unquoted argument (docs.snowflake.com/en/developer-guide/stored-procedure/stored-procedures-javascript).
 */
function procedureBodyProblems(text: string): Problem[] {
  const procedure = procedureDefinition(text);
  if (procedure === undefined) {
    return /^\s*CREATE\b[\s\S]*\bPROCEDURE\b/i.test(text)
      ? [{ stage: 'snowflake', message: 'a procedure must be written CREATE [OR REPLACE] PROCEDURE name(args) … AS $$ body $$ for this check' }]
      : [];
  }
  if (procedure.language !== 'JAVASCRIPT') return [];
  const problems: Problem[] = [];
  try {
    // Compiled only, never called.
    new Function('snowflake', ...procedure.argumentNames, procedure.body);
  } catch (error) {
    problems.push({ stage: 'parse', message: `the JavaScript body of ${procedure.name} does not compile: ${(error as Error).message}` });
  }
  for (const name of procedure.argumentNames) {
    if (!new RegExp(`\\b${name}\\b`).test(procedure.body)) {
      problems.push({ stage: 'snowflake', message: `${procedure.name}'s body never reads argument ${name} by its upper-case name (JavaScript sees no other)` });
    }
  }
  return problems;
}

/** The CALL of an anonymous procedure must call the procedure the WITH clause defines, with as many arguments. */
function anonymousCallProblems(anonymous: { definition: string; call: string }): Problem[] {
  const defined = procedureDefinition(anonymous.definition);
  const called = procedureCall(anonymous.call);
  if (defined === undefined || called === undefined) return [{ stage: 'parse', message: 'the anonymous procedure or its CALL cannot be read' }];
  if (called.name !== defined.name) return [{ stage: 'snowflake', message: `CALL ${called.name} does not call the anonymous procedure ${defined.name} the statement defines` }];
  if (called.args.length !== defined.argumentNames.length) {
    return [{ stage: 'snowflake', message: `CALL ${called.name} passes ${called.args.length} argument(s) to a procedure declaring ${defined.argumentNames.length}` }];
  }
  return [];
}

function errorsOf(errors: ValidationError[], stage: Problem['stage']): Problem[] {
  return errors
    .filter((error) => error.severity === 'error')
    .map((error) => ({
      stage,
      message: `${error.code} ${error.message}${error.line === undefined ? '' : ` (line ${error.line}, column ${error.column ?? '?'})`}`,
    }));
}
