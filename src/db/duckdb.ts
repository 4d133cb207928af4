// The embedded engine: a DuckDB database file behind the Warehouse port.
//
// One DuckDbDatabase owns the file (DuckDB allows one process per file). Each DuckDbWarehouse is one
// connection; statements on it run strictly one after another (a FIFO lock), because interleaving
// BEGIN/COMMIT from separate async flows on one connection would mix their transactions. Two
// warehouses (connections) writing the same rows raise DuckDB transaction conflicts, surfaced as
// WarehouseError kind 'conflict' (retryable).
import { accessSync, constants, existsSync, mkdirSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  DuckDBDecimalType,
  DuckDBDecimalValue,
  DuckDBInstance,
  type DuckDBTypeId,
  type DuckDBConnection,
  type DuckDBPreparedStatement,
  type DuckDBResultReader,
} from '@duckdb/node-api';
import { toWireBinds } from './binds.js';
import { typedBinds } from './duckdb-binds.js';
import { parseJsonExact } from './exact-json.js';
import { noteNativeBinds, noteNativeResult } from './native-results.js';
import { PRELUDE_MACROS, PRELUDE_SETTINGS, PRELUDE_TYPES } from './prelude.js';
import { sql } from './sql-registry.js';
import {
  WarehouseError,
  onlyGroupResults,
  runWriteGroups,
  throwIfAborted,
  type BindValue,
  type ExecuteResult,
  type GroupResult,
  type JsonValue,
  type Row,
  type Statement,
  type StatementCounters,
  type StatementOptions,
  type TransactionScope,
  type Warehouse,
  type WarehouseErrorKind,
  type WriteGroup,
} from './warehouse.js';

/**
 * The embedded database is attached under this catalog name so that three-part names written for
 * Snowflake (`SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY`) resolve unchanged to the simulated views, which live
 * in the ACCOUNT_USAGE schema of the same file (DuckDB lets one transaction write to one attached file
 * only, so they cannot live in a second file). The service's own tables live in its `main` schema.
 */
export const EMBEDDED_CATALOG = 'SNOWFLAKE';

export class DuckDbDatabase {
  private closed = false;
  private readonly warehouses = new Set<DuckDbWarehouse>();
  /** Set when the file must be closed and opened again (see REOPEN_AFTER); only a new instance can use it. */
  private mustReopen = false;
  private reopening: Promise<void> | undefined;

  private constructor(
    private instance: DuckDBInstance,
    readonly path: string,
  ) {}

  /** Opens (creating when missing) the database file; `':memory:'` gives a throwaway database. */
  static async open(path: string): Promise<DuckDbDatabase> {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    return new DuckDbDatabase(await openInstance(path), path);
  }

  /** A new connection with the prelude applied. Each processor or writer uses its own. */
  async connect(): Promise<DuckDbWarehouse> {
    if (this.closed) throw new WarehouseError('connection', 'the embedded database is closed');
    const warehouse = new DuckDbWarehouse(
      await this.preparedConnection(),
      () => this.warehouses.delete(warehouse),
      (error) => this.noteError(error),
      this.path === ':memory:' ? () => undefined : () => assertFileWritable(this.path),
    );
    this.warehouses.add(warehouse);
    return warehouse;
  }

  /**
   * The storage check /health runs while degraded (src/storage-health.ts): reopens the file when DuckDB
   * invalidated it, then commits one write that changes nothing. Rejects while the disk still refuses.
   */
  async checkStorage(): Promise<void> {
    if (this.path !== ':memory:') {
      // A small commit can still fit in the WAL's last page of a full disk: ask for room for a few blocks.
      const { bavail, bsize } = statfsSync(dirname(this.path));
      const free = bavail * bsize;
      if (free < MIN_FREE_BYTES) throw new WarehouseError('storage', `No space left on device: ${free} bytes free in ${dirname(this.path)}`);
      // Asked of the file system, not of DuckDB: a write DuckDB tries on a read-only file system may end the
      // process from native code (BENCHMARKS.md, "Reliability": an uncaught IOException truncating the WAL).
      assertFileWritable(this.path);
    }
    if (this.mustReopen) await this.reopen();
    const probe = await this.connect();
    try {
      await probe.execute(STORAGE_PROBE);
    } finally {
      await probe.close();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.reopening?.catch(() => undefined);
    for (const warehouse of [...this.warehouses]) await warehouse.close();
    this.instance.closeSync();
  }

  private async preparedConnection(): Promise<DuckDBConnection> {
    const connection = await this.instance.connect();
    try {
      await connection.run(`USE ${EMBEDDED_CATALOG}`);
      for (const setting of PRELUDE_SETTINGS) await connection.run(setting);
      for (const macro of PRELUDE_MACROS) await connection.run(macro);
    } catch (error) {
      connection.closeSync();
      throw translateError(error);
    }
    return connection;
  }

  private noteError(error: WarehouseError): void {
    if (error.kind === 'storage' && REOPEN_AFTER.test(error.message)) this.mustReopen = true;
  }

  /**
   * After a failed checkpoint DuckDB invalidates the attached file ("Detach and reattach it before using it
   * again"), but DETACH itself then fails with the same error: only closing the instance releases it. So a
   * new instance opens the file (replaying its WAL: every committed transaction is there) and every
   * connection of this database moves to it, keeping its own statement queue.
   */
  private reopen(): Promise<void> {
    this.reopening ??= (async () => {
      const warehouses = [...this.warehouses];
      for (const warehouse of warehouses) await warehouse.detachConnection();
      try {
        this.instance.closeSync();
      } catch {
        // Closing checkpoints, which fails on the same disk: the file is released all the same.
      }
      // Never create it here: a missing file is a disk not (yet) mounted again, and a fresh empty database
      // in the bare mount point would take the service's writes from then on.
      if (!existsSync(this.path)) throw new WarehouseError('storage', `the database file ${this.path} is missing (disk not mounted?)`);
      this.instance = await openInstance(this.path);
      this.mustReopen = false;
      for (const warehouse of warehouses) await warehouse.attachConnection(await this.preparedConnection());
    })().finally(() => {
      this.reopening = undefined;
    });
    return this.reopening;
  }
}

/** The parameter types DuckDB inferred for a prepared statement, read once per statement (see duckdb-binds.ts). */
const PARAMETER_TYPES = new WeakMap<DuckDBPreparedStatement, DuckDBTypeId[]>();

function parameterTypes(prepared: DuckDBPreparedStatement): DuckDBTypeId[] {
  let types = PARAMETER_TYPES.get(prepared);
  if (types === undefined) {
    types = Array.from({ length: prepared.parameterCount }, (_, index) => prepared.parameterTypeId(index + 1));
    PARAMETER_TYPES.set(prepared, types);
  }
  return types;
}

/** Prepared statements kept per connection (the service's distinct statement texts fit with room to spare). */
const PREPARED_STATEMENTS_KEPT = 64;

/** A DuckDB instance with the file attached under EMBEDDED_CATALOG and the prelude's types in it. */
async function openInstance(path: string): Promise<DuckDBInstance> {
  const instance = await DuckDBInstance.create(':memory:');
  const setup = await instance.connect();
  try {
    const target = path === ':memory:' ? ':memory:' : path.replaceAll("'", "''");
    await setup.run(`ATTACH '${target}' AS ${EMBEDDED_CATALOG}`);
    await setup.run(`USE ${EMBEDDED_CATALOG}`);
    for (const type of PRELUDE_TYPES) {
      const existing = await setup.runAndReadAll(
        'SELECT 1 FROM duckdb_types() WHERE database_name = ? AND type_name = ?',
        [EMBEDDED_CATALOG, type.name],
      );
      if (existing.currentRowCount === 0) await setup.run(`CREATE TYPE ${type.name} AS ${type.definition}`);
    }
  } catch (error) {
    setup.closeSync();
    instance.closeSync();
    throw translateError(error);
  }
  setup.closeSync();
  return instance;
}

/**
 * Asks the file system, not DuckDB, whether the database file takes writes: a write DuckDB tries on a read-only
 * file system may end the process from native code (BENCHMARKS.md, "Reliability": an uncaught IOException
 * truncating the WAL), so every write transaction and statement asks first (one access(2) call). A fault that
 * starts between the check and the write still reaches DuckDB: this narrows the window, it does not close it.
 * A missing file is reopen's to report (a disk not mounted again).
 */
function assertFileWritable(path: string): void {
  try {
    if (existsSync(path)) accessSync(path, constants.W_OK);
  } catch (error) {
    throw new WarehouseError('storage', `${(error as Error).message} (the database file is not writable)`, { cause: error });
  }
}

/** Free space the storage check wants before it calls the disk back (four of DuckDB's 256 KiB blocks). */
const MIN_FREE_BYTES = 4 * 256 * 1024;

/**
 * A committed write that changes nothing: rewrites the newest ledger row with its own value, so the WAL is
 * appended and synced like any real commit (a read, or a CHECKPOINT with nothing to write, would succeed on
 * a full or read-only disk).
 */
const STORAGE_PROBE = sql(
  'duckdb.storage_probe',
  'UPDATE SCHEMA_MIGRATIONS SET APPLIED_AT = APPLIED_AT WHERE VERSION = (SELECT MAX(VERSION) FROM SCHEMA_MIGRATIONS)',
);

/** One connection, one statement at a time. */
export class DuckDbWarehouse implements Warehouse {
  readonly engine = 'duckdb' as const;
  readonly counters: StatementCounters = { statements: 0, roundTrips: 0 };
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Prepared statements by text, least recently used first (see preparedFor). */
  private readonly prepared = new Map<string, DuckDBPreparedStatement>();

  constructor(
    /** Undefined only while the database is being reopened after a storage failure. */
    private connection: DuckDBConnection | undefined,
    private readonly onClose: () => void,
    private readonly onError: (error: WarehouseError) => void = () => undefined,
    /** Throws a 'storage' WarehouseError when the file system would refuse the write (see assertFileWritable). */
    private readonly beforeWrite: () => void = () => undefined,
  ) {}

  query<T extends Row = Row>(sql: string, binds?: readonly BindValue[], options?: StatementOptions): Promise<T[]> {
    return this.exclusive(() => this.runQuery<T>(sql, binds, options), options);
  }

  execute(sql: string, binds?: readonly BindValue[], options?: StatementOptions): Promise<ExecuteResult> {
    return this.exclusive(() => {
      this.beforeWrite();
      return this.runExecute(sql, binds, options);
    }, options);
  }

  async transaction(statements: readonly Statement[], options?: StatementOptions): Promise<ExecuteResult[]> {
    return onlyGroupResults(await this.writeGroups([{ statements, fenced: false }], options));
  }

  /** An ordinary BEGIN … COMMIT on this connection, with the same statement texts Snowflake's carrier runs. */
  writeGroups(groups: readonly WriteGroup[], options?: StatementOptions): Promise<GroupResult[]> {
    return this.withTransaction((scope) => runWriteGroups(scope, groups, options), options);
  }

  withTransaction<T>(work: (scope: TransactionScope) => Promise<T>, options?: StatementOptions): Promise<T> {
    return this.exclusive(async () => {
      this.beforeWrite();
      await this.runExecute('BEGIN TRANSACTION', [], options);
      const scope: TransactionScope = {
        query: (sql, binds, statementOptions) => this.runQuery(sql, binds, statementOptions ?? options),
        execute: (sql, binds, statementOptions) => this.runExecute(sql, binds, statementOptions ?? options),
      };
      let result: T;
      try {
        result = await work(scope);
      } catch (error) {
        await this.rollbackQuietly();
        throw error;
      }
      // A failed statement inside the transaction has already thrown above. COMMIT itself can still fail
      // (a conflict detected at commit time); DuckDB then has rolled back, and we report the failure.
      try {
        await this.runExecute('COMMIT', []);
      } catch (error) {
        await this.rollbackQuietly();
        throw error;
      }
      return result;
    }, options);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.tail.catch(() => undefined);
    this.forgetPrepared();
    this.connection?.closeSync();
    this.connection = undefined;
    this.onClose();
  }

  /** Reopen, step 1: after the statements queued so far, close the connection to the old instance. */
  detachConnection(): Promise<void> {
    return this.exclusive(async () => {
      // Prepared statements belong to the old connection.
      this.forgetPrepared();
      this.connection?.closeSync();
      this.connection = undefined;
    }).catch(() => undefined);
  }

  /** Reopen, step 2: the connection to the new instance (closed right away if this warehouse was closed meanwhile). */
  attachConnection(connection: DuckDBConnection): Promise<void> {
    if (this.closed) {
      connection.closeSync();
      return Promise.resolve();
    }
    this.forgetPrepared();
    this.connection = connection;
    return Promise.resolve();
  }

  private get open(): DuckDBConnection {
    if (!this.connection) throw new WarehouseError('storage', 'the embedded database is being reopened after a storage failure');
    return this.connection;
  }

  /** Runs `work` after everything queued before it; an abort while waiting skips it. */
  private exclusive<T>(work: () => Promise<T>, options?: StatementOptions): Promise<T> {
    if (this.closed) return Promise.reject(new WarehouseError('connection', 'the connection is closed'));
    const run = this.tail.then(
      () => {
        throwIfAborted(options?.signal);
        return work();
      },
      () => {
        throwIfAborted(options?.signal);
        return work();
      },
    );
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async rollbackQuietly(): Promise<void> {
    try {
      await this.connection?.run('ROLLBACK');
    } catch {
      // No transaction left to roll back (DuckDB already ended it): nothing to do.
    }
  }

  private async runQuery<T extends Row>(
    sql: string,
    binds: readonly BindValue[] | undefined,
    options?: StatementOptions,
  ): Promise<T[]> {
    const result = await this.guarded(async () => {
      const prepared = await this.preparedFor(sql, binds);
      return prepared ? this.forgetOnError(sql, prepared.runAndReadAll()) : this.open.runAndReadAll(sql);
    }, options);
    noteNativeResult(result.columnCount, result.currentRowCount);
    return normalizeResult(result) as T[];
  }

  private async runExecute(
    sql: string,
    binds: readonly BindValue[] | undefined,
    options?: StatementOptions,
  ): Promise<ExecuteResult> {
    const result = await this.guarded(async () => {
      const prepared = await this.preparedFor(sql, binds);
      return prepared ? this.forgetOnError(sql, prepared.run()) : this.open.run(sql);
    }, options);
    noteNativeResult(result.columnCount, undefined);
    return { rowsAffected: result.rowsChanged };
  }

  private forgetPrepared(): void {
    for (const statement of this.prepared.values()) statement.destroySync();
    this.prepared.clear();
  }

  /** A statement that failed is prepared afresh next time (whatever state the failure left it in). */
  private async forgetOnError<T>(sql: string, running: Promise<T>): Promise<T> {
    try {
      return await running;
    } catch (error) {
      const statement = this.prepared.get(sql);
      this.prepared.delete(sql);
      statement?.destroySync();
      throw error;
    }
  }

  /**
   * The statement prepared once per connection and text, its binds set (undefined: run the text as it is,
   * for statements without binds, which may hold several statements). The service sends a few dozen
   * distinct texts again and again; preparing each anew cost more than running it.
   */
  private async preparedFor(sql: string, binds: readonly BindValue[] | undefined): Promise<DuckDBPreparedStatement | undefined> {
    if (binds === undefined || binds.length === 0) return undefined;
    let prepared = this.prepared.get(sql);
    if (prepared) {
      // Most recently used last: Map keeps insertion order.
      this.prepared.delete(sql);
    } else {
      prepared = await this.open.prepare(sql);
      if (this.prepared.size >= PREPARED_STATEMENTS_KEPT) {
        const [oldest, statement] = this.prepared.entries().next().value as [string, DuckDBPreparedStatement];
        this.prepared.delete(oldest);
        statement.destroySync();
      }
    }
    this.prepared.set(sql, prepared);
    prepared.clearBindings();
    const wire = toWireBinds(binds);
    typedBinds(wire, parameterTypes(prepared)).forEach(({ value, type }, index) => prepared.bindValue(index + 1, value, type));
    noteNativeBinds(wire);
    return prepared;
  }

  /** Counts the statement, applies timeout and abort (both interrupt the connection), maps errors. */
  private async guarded<T>(run: () => Promise<T>, options?: StatementOptions): Promise<T> {
    throwIfAborted(options?.signal);
    this.counters.statements += 1;
    this.counters.roundTrips += 1;
    let stopReason: 'timeout' | 'aborted' | undefined;
    const interrupt = (reason: 'timeout' | 'aborted') => {
      stopReason ??= reason;
      this.connection?.interrupt();
    };
    const timer =
      options?.timeoutMs === undefined ? undefined : setTimeout(() => interrupt('timeout'), options.timeoutMs);
    const onAbort = () => interrupt('aborted');
    options?.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await run();
    } catch (error) {
      if (stopReason === 'timeout') throw new WarehouseError('timeout', `statement exceeded ${options?.timeoutMs} ms`);
      if (stopReason === 'aborted') throw new WarehouseError('aborted', 'statement aborted');
      const translated = translateError(error);
      this.onError(translated);
      throw translated;
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      options?.signal?.removeEventListener('abort', onAbort);
    }
  }
}

const ERROR_KINDS: ReadonlyArray<[RegExp, WarehouseErrorKind]> = [
  [/^TransactionContext Error: (Conflict|Catalog write-write conflict)/, 'conflict'],
  [/Conflict on (update|tuple deletion)/, 'conflict'],
  [/^Constraint Error/, 'constraint'],
  // Parse errors arrive wrapped ("Failed to extract statements: Parser Error: ..."), so no anchor here.
  [/\b(Parser|Binder) Error/, 'syntax'],
  [/^Catalog Error/, 'not_found'],
  [/^INTERRUPT Error/, 'aborted'],
  [/^IO Error: Could not set lock/, 'connection'],
  // The disk refused a write: a commit's WAL append ("TransactionContext Error: Failed to commit: Could not
  // write file ...: No space left on device" / "Read-only file system"), a checkpoint, or any statement on a
  // file DuckDB has invalidated after a failed checkpoint.
  [/Could not write file|No space left on device|Read-only file system|has been invalidated|^IO Error|^FATAL Error/, 'storage'],
];

/**
 * Failures after which the file is closed and opened again: DuckDB invalidated it after a failed checkpoint,
 * or the file system went read-only (the kernel refuses to remount it writable while a writer holds a file
 * open, so the service lets go of it until the disk is repaired). A full disk keeps the file open: reads work.
 */
const REOPEN_AFTER = /has been invalidated|Read-only file system/;

export function translateError(error: unknown): WarehouseError {
  if (error instanceof WarehouseError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const kind = ERROR_KINDS.find(([pattern]) => pattern.test(message))?.[1] ?? 'other';
  return new WarehouseError(kind, message.split('\n')[0] ?? message, { cause: error });
}

// ---- result normalization: plain JSON-safe values, upper-case column names -----------------------

function normalizeResult(result: DuckDBResultReader): Row[] {
  const names = result.columnNames().map((name) => name.toUpperCase());
  const types = result.columnTypes();
  const jsonColumns = types.map((type) => type.alias === 'JSON');
  // NUMBER(38,0) ids (transaction ids) exceed 2^53: read those DECIMALs exactly, like BIGINT.
  const wholeDecimals = types.map((type) => type instanceof DuckDBDecimalType && type.scale === 0);
  const exact = wholeDecimals.some(Boolean) ? result.getRows() : undefined;
  const rows = result.getRowsJS();
  return rows.map((values, rowIndex) => {
    const row: Row = {};
    values.forEach((value, index) => {
      const name = names[index] as string;
      if (wholeDecimals[index] && exact) {
        const raw = exact[rowIndex]?.[index];
        row[name] = raw instanceof DuckDBDecimalValue ? normalizeValue(raw.value) : null;
      } else {
        row[name] = jsonColumns[index] && typeof value === 'string' ? parseJson(value) : normalizeValue(value);
      }
    });
    return row;
  });
}

/** Exactly: a VARIANT's integers above 2^53 (transaction ids) come back as decimal text, as NUMBERs do. */
function parseJson(text: string): JsonValue {
  return parseJsonExact(text) as JsonValue;
}

function normalizeValue(value: unknown): JsonValue | Date {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value.toString();
  }
  if (value instanceof Date) return value;
  if (Array.isArray(value)) return value.map((item) => normalizeValue(item) as JsonValue);
  if (typeof value === 'object') {
    const out: Record<string, JsonValue> = {};
    for (const [key, item] of Object.entries(value)) out[key] = normalizeValue(item) as JsonValue;
    return out;
  }
  return value as JsonValue;
}
