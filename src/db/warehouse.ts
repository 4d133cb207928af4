// The Warehouse port: the one interface through which the service talks to a database.
// Two adapters implement it (duckdb.ts for the embedded default, snowflake.ts for production);
// every statement is written once and sent unchanged to either engine (see prelude.ts).

/** A value that can be bound to a `?` placeholder. Dates bind as UTC timestamps; objects and arrays as JSON text. */
export type BindValue = string | number | boolean | null | Date | JsonObject | JsonValue[];
export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

/**
 * A result row. Column names are upper case (Snowflake's convention for unquoted identifiers; the DuckDB
 * adapter upper-cases to match). Timestamps come back as UTC `Date`s, VARIANT/JSON columns parsed,
 * integers as `number` when they are safe integers and as decimal strings otherwise.
 */
export type Row = Record<string, JsonValue | Date | undefined>;

export interface Statement {
  readonly sql: string;
  readonly binds?: readonly BindValue[];
}

export interface StatementOptions {
  /** Per-statement timeout in milliseconds; the statement is cancelled when it passes. */
  timeoutMs?: number;
  /** Aborting cancels the running statement and rejects with a WarehouseError of kind 'aborted'. */
  signal?: AbortSignal;
}

export interface ExecuteResult {
  /** Rows inserted, updated or deleted; 0 for statements that change nothing. */
  rowsAffected: number;
}

/** Statements and round trips sent to the engine since the adapter was opened (benchmarks read these). */
export interface StatementCounters {
  statements: number;
  roundTrips: number;
}

/** What a statement inside `withTransaction` can do: the same calls as the port, on the transaction's session. */
export interface TransactionScope {
  query<T extends Row = Row>(sql: string, binds?: readonly BindValue[], options?: StatementOptions): Promise<T[]>;
  execute(sql: string, binds?: readonly BindValue[], options?: StatementOptions): Promise<ExecuteResult>;
}

export type Engine = 'duckdb' | 'snowflake';

export interface Warehouse extends TransactionScope {
  readonly engine: Engine;
  readonly counters: StatementCounters;
  /**
   * Run several statements as one transaction, in as few round trips as the engine allows
   * (one multi-statement request on Snowflake). Any failure rolls everything back and rejects.
   */
  transaction(statements: readonly Statement[], options?: StatementOptions): Promise<ExecuteResult[]>;
  /** An interactive transaction on one session; rolls back when `work` throws. */
  withTransaction<T>(work: (scope: TransactionScope) => Promise<T>, options?: StatementOptions): Promise<T>;
  close(): Promise<void>;
}

export type WarehouseErrorKind =
  | 'conflict' // concurrent writers collided (DuckDB transaction conflict, Snowflake lock wait/deadlock/transaction abort); retryable
  | 'permission' // the role may not read or write the object (Snowflake 002003 and friends)
  | 'not_found' // object does not exist (also 002003 on Snowflake: it does not tell the two apart)
  | 'timeout'
  | 'aborted'
  | 'connection' // login or network failure
  | 'storage' // the embedded database's disk refused a write (read-only, full, I/O error); retryable once the disk is back
  | 'constraint'
  | 'syntax'
  | 'other';

/** The one error type adapters throw. `message` never contains bind values or credentials. */
export class WarehouseError extends Error {
  readonly kind: WarehouseErrorKind;
  readonly code: string | undefined;
  readonly sqlState: string | undefined;
  readonly queryId: string | undefined;

  constructor(
    kind: WarehouseErrorKind,
    message: string,
    details: { code?: string; sqlState?: string; queryId?: string; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'WarehouseError';
    this.kind = kind;
    this.code = details.code;
    this.sqlState = details.sqlState;
    this.queryId = details.queryId;
  }

  /** Worth trying again later: conflicts, timeouts, connection and storage trouble. Permission and syntax errors are not. */
  get retryable(): boolean {
    return (
      this.kind === 'conflict' ||
      this.kind === 'timeout' ||
      this.kind === 'connection' ||
      this.kind === 'storage' ||
      this.kind === 'other'
    );
  }
}

export function isWarehouseError(error: unknown): error is WarehouseError {
  return error instanceof WarehouseError;
}

/** The same warehouse with `query` replaced; everything else stays the warehouse's own (bound to it). */
export function withQuery(warehouse: Warehouse, query: Warehouse['query']): Warehouse {
  return new Proxy(warehouse, {
    get(target, property) {
      if (property === 'query') return query;
      const value = Reflect.get(target, property) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/**
 * What `transaction(statements)` does on an engine that sends one statement per request: execute them in
 * order inside the transaction scope, collecting the row counts.
 */
export async function executeInOrder(
  scope: TransactionScope,
  statements: readonly Statement[],
  options?: StatementOptions,
): Promise<ExecuteResult[]> {
  const results: ExecuteResult[] = [];
  for (const statement of statements) results.push(await scope.execute(statement.sql, statement.binds, options));
  return results;
}

/** Throws the port's 'aborted' error when the signal has fired; call before starting work. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new WarehouseError('aborted', 'statement aborted before it started');
}
