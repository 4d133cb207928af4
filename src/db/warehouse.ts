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
  /**
   * A row-set statement (src/db/row-set.ts): the index of its bind that holds its rows as one JSON array text,
   * every row carrying its own fence. Row-set statements with the same text and the same other binds are one
   * statement over all their rows (statement-batcher.ts merges the groups of several claims that way).
   */
  readonly rowsBind?: number;
}

/**
 * Statements that belong together in one write (issue 10): `writeGroups` runs several groups in ONE transaction
 * (one request on Snowflake). A fenced group guards its writes with the claim's fence.
 */
export interface WriteGroup {
  statements: readonly Statement[];
  /** Statement 0 is a claim's fenced queue UPDATE: when it touches a number of rows other than 1 (fenceRows),
   *  the group's other statements are not run (they carry the fence too, so they would write nothing) and
   *  held=false. */
  fenced: boolean;
  /**
   * The rows statement 0 must touch for the fence to hold (default 1). A group that carries the writes of
   * several claims (statement-batcher.ts) sets their number: any other count fails the whole call (everything
   * rolls back, a WarehouseError naming the group), so a lost fence among them never commits the others' part.
   */
  fenceRows?: number;
  /** Its row counts are read per statement: never merged with other groups into one (statement-batcher.ts). */
  separate?: boolean;
}

/**
 * One group's outcome. `results` has one entry per statement of the group, in order; statements not run
 * because the fence was lost report 0 rows.
 */
export interface GroupResult {
  held: boolean;
  results: ExecuteResult[];
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
  /**
   * The statement was one statement for several groups' rows (statement-batcher.ts merges groups):
   * `rowsAffected` counts the rows of all of them, not this group's alone.
   */
  merged?: true;
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
   * Run several statements as one transaction: `writeGroups([{ statements, fenced: false }])`, one request on
   * Snowflake. Any failure rolls everything back and rejects.
   */
  transaction(statements: readonly Statement[], options?: StatementOptions): Promise<ExecuteResult[]>;
  /**
   * Run every group in ONE transaction (one request on Snowflake, see src/db/write-carrier.ts), each fenced
   * group only as far as its fence holds. Any statement error rolls everything back and rejects with a
   * WarehouseError classified like the failing statement's own error, carrying the failing group's index.
   */
  writeGroups(groups: readonly WriteGroup[], options?: StatementOptions): Promise<GroupResult[]>;
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
  /** In `writeGroups`: the index of the group whose statement failed (undefined: not a group's statement, e.g. COMMIT). */
  readonly group: number | undefined;

  constructor(
    kind: WarehouseErrorKind,
    message: string,
    details: { code?: string; sqlState?: string; queryId?: string; group?: number; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'WarehouseError';
    this.kind = kind;
    this.code = details.code;
    this.sqlState = details.sqlState;
    this.queryId = details.queryId;
    this.group = details.group;
  }

  /** The same error, naming the write group it happened in. */
  inGroup(group: number): WarehouseError {
    return new WarehouseError(this.kind, this.message, {
      code: this.code,
      sqlState: this.sqlState,
      queryId: this.queryId,
      group,
      cause: this.cause ?? this,
    });
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
 * What `writeGroups` does inside an open transaction on an engine that sends one statement per request
 * (DuckDB; Snowflake's `statements` carrier): each group's statements in order, the fence checked after
 * statement 0 (see WriteGroup.fenceRows). The carrier procedure's JavaScript body (sql/0011_write_carrier_merged_fence.sql)
 * does the same.
 */
export async function runWriteGroups(
  scope: TransactionScope,
  groups: readonly WriteGroup[],
  options?: StatementOptions,
): Promise<GroupResult[]> {
  const outcomes: GroupResult[] = [];
  for (const [index, group] of groups.entries()) {
    const results: ExecuteResult[] = [];
    let held = true;
    for (const [position, statement] of group.statements.entries()) {
      if (!held) {
        results.push({ rowsAffected: 0 });
        continue;
      }
      let result: ExecuteResult;
      try {
        result = await scope.execute(statement.sql, statement.binds, options);
      } catch (error) {
        throw isWarehouseError(error) ? error.inGroup(index) : error;
      }
      results.push(result);
      if (position === 0 && group.fenced && result.rowsAffected !== (group.fenceRows ?? 1)) {
        if ((group.fenceRows ?? 1) > 1) throw mergedFenceLost(group.fenceRows ?? 1, result.rowsAffected, index);
        held = false;
      }
    }
    outcomes.push({ held, results });
  }
  return outcomes;
}

/** A merged group's fence touched fewer rows than it carries claims: the call fails, nothing is written. */
export function mergedFenceLost(expected: number, touched: number, group: number): WarehouseError {
  return new WarehouseError('conflict', `a merged fenced write held ${touched} of its ${expected} claims; nothing was written`, { group });
}

/** The row counts of `transaction(statements)`: the one unfenced group's results. */
export function onlyGroupResults(outcomes: readonly GroupResult[]): ExecuteResult[] {
  return outcomes[0]?.results ?? [];
}

/** Throws the port's 'aborted' error when the signal has fired; call before starting work. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new WarehouseError('aborted', 'statement aborted before it started');
}
