// The production engine: Snowflake behind the Warehouse port, through snowflake-sdk.
//
// snowflake-sdk is loaded lazily (only in Snowflake mode) and only after SNOWFLAKE_DISABLE_PLATFORM_DETECTION
// is set: when evaluated without it, the driver probes cloud metadata addresses.
//
// Sessions: a small pool of logged-in connections (settings.poolSize). Each call takes one session for
// its duration; `withTransaction` holds one from BEGIN to COMMIT. Every session is pinned to UTC and tagged
// with SERVICE_QUERY_TAG (the `queryTag` option: the driver sends QUERY_TAG among the login's session
// parameters; TIMEZONE is set with one ALTER SESSION right after login, because no option sends it).
//
// Transactions: `transaction()` and `writeGroups()` travel as ONE request by default, a CALL of the write
// carrier procedure with every statement and bind in one JSON text bind (src/db/write-carrier.ts: why a
// multi-statement request cannot carry binds, and the `inline` and `statements` fallbacks, chosen by
// SNOWFLAKE_WRITE_CARRIER). `statements` runs BEGIN, the statements and COMMIT on one session (n + 2 round
// trips) and ROLLBACK on failure; `withTransaction` always works that way (its work is interactive).
//
// Why not snowflake.createPool: its factory replaces a login error by `new Error(message)` (the Snowflake
// error code is lost) and offers no hook to initialise a session after login. The pool below is small.
import type { Connection, ConnectionOptions, RowStatement, SnowflakeError, SnowflakeLogger } from 'snowflake-sdk';
import type { SnowflakeSettings } from '../config.js';
import type { Logger } from '../logger.js';
import { SERVICE_QUERY_TAG } from '../version.js';
import { toWireBinds, type WireBind } from './binds.js';
import { parseJsonExact } from './exact-json.js';
import { sqlSample } from './sql-registry.js';
import { carrierPayload, carrierText, fitsOneRequest, readCarrierAnswer, type CarrierFailure } from './write-carrier.js';
import {
  WarehouseError,
  onlyGroupResults,
  runWriteGroups,
  throwIfAborted,
  type BindValue,
  type ExecuteResult,
  type GroupResult,
  type Row,
  type Statement,
  type StatementCounters,
  type StatementOptions,
  type TransactionScope,
  type Warehouse,
  type WarehouseErrorKind,
  type WriteGroup,
} from './warehouse.js';

type SnowflakeSdk = typeof import('snowflake-sdk');

/**
 * Sent once on every new session (ALTER SESSION takes no binds; the timeout is a validated integer from the
 * configuration). The server-side statement timeout backs up the client-side cancel: a statement whose
 * cancel never arrives still stops, and stops billing, on the warehouse.
 */
export function sessionSetupStatement(settings: Pick<SnowflakeSettings, 'statementTimeoutMs'>): string {
  const seconds = Math.max(1, Math.ceil(settings.statementTimeoutMs / 1000));
  if (!Number.isInteger(seconds)) throw new Error('statement timeout must be a whole number of seconds');
  return `ALTER SESSION SET TIMEZONE = 'UTC', STATEMENT_TIMEOUT_IN_SECONDS = ${seconds}`;
}
sqlSample('snowflake.session_setup', sessionSetupStatement({ statementTimeoutMs: 120_000 }));

export async function openSnowflakeWarehouse(settings: SnowflakeSettings, log: Logger): Promise<Warehouse> {
  const snowflake = await loadDriver(log);
  const warehouse = new SnowflakeWarehouse(snowflake, settings);
  // Log in once now, so that bad credentials or an unreachable account fail the start, not the first request.
  await warehouse.warmUp();
  return warehouse;
}

async function loadDriver(log: Logger): Promise<SnowflakeSdk> {
  process.env.SNOWFLAKE_DISABLE_PLATFORM_DETECTION = 'true';
  const snowflake = (await import('snowflake-sdk')).default;
  // Driver messages go to our pino logger (already secret-masked by the driver); without a custom logger
  // it writes snowflake.log into the working directory. WARN: the driver is chatty at INFO.
  const driverLog = log.child({ component: 'snowflake-sdk' });
  const customLogger: SnowflakeLogger = {
    error: (message) => driverLog.error(message),
    warn: (message) => driverLog.warn(message),
    info: (message) => driverLog.info(message),
    debug: (message) => driverLog.debug(message),
    trace: (message) => driverLog.trace(message),
  };
  // VARIANT columns are parsed exactly: integers above 2^53 (BLOCKER_QUERIES[].transaction_id) as decimal text,
  // like NUMBER columns; the default parser rounds them (and evaluates non-JSON text as JavaScript).
  snowflake.configure({ logLevel: 'WARN', customLogger, additionalLogToConsole: false, jsonColumnVariantParser: parseJsonExact });
  return snowflake;
}

/** One logged-in connection, running one statement at a time. */
class Session {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(readonly connection: Connection) {}

  /** Queues `work` after the session's previous statement (including one still being cancelled). */
  serialized<T>(work: () => Promise<T>): Promise<T> {
    const run = this.tail.then(work, work);
    this.tail = run.catch(() => undefined);
    return run;
  }

  get usable(): boolean {
    return this.connection.isUp();
  }
}

interface RawResult {
  rows: Row[];
  rowsAffected: number;
}

export class SnowflakeWarehouse implements Warehouse {
  readonly engine = 'snowflake' as const;
  readonly counters: StatementCounters = { statements: 0, roundTrips: 0 };
  private readonly idle: Session[] = [];
  private readonly waiters: Array<(session: Session | undefined) => void> = [];
  /** Sessions on their way back to the pool (waiting for a cancelled statement to finish). */
  private readonly returning = new Set<Promise<void>>();
  private open = 0;
  private closed = false;

  constructor(
    private readonly snowflake: SnowflakeSdk,
    private readonly settings: SnowflakeSettings,
  ) {}

  async warmUp(): Promise<void> {
    await this.release(await this.acquire());
  }

  query<T extends Row = Row>(sql: string, binds?: readonly BindValue[], options?: StatementOptions): Promise<T[]> {
    return this.withSession(async (session) => (await this.run(session, sql, binds, options)).rows as T[], options);
  }

  async execute(sql: string, binds?: readonly BindValue[], options?: StatementOptions): Promise<ExecuteResult> {
    return this.withSession(async (session) => ({ rowsAffected: (await this.run(session, sql, binds, options)).rowsAffected }), options);
  }

  async transaction(statements: readonly Statement[], options?: StatementOptions): Promise<ExecuteResult[]> {
    return onlyGroupResults(await this.writeGroups([{ statements, fenced: false }], options));
  }

  async writeGroups(groups: readonly WriteGroup[], options?: StatementOptions): Promise<GroupResult[]> {
    const count = groups.reduce((sum, group) => sum + group.statements.length, 0);
    if (count === 0) return groups.map(() => ({ held: true, results: [] }));
    const carrier = this.settings.writeCarrier ?? 'procedure';
    if (carrier !== 'statements') {
      const text = carrierText(carrier);
      const payload = carrierPayload(groups);
      if (fitsOneRequest(text, payload)) return this.callCarrier(text, payload, groups, count, options);
    }
    return this.withTransaction((scope) => runWriteGroups(scope, groups, options), options);
  }

  /** One request: the carrier runs every statement server-side; counted as 1 round trip and `count` statements. */
  private async callCarrier(
    text: string,
    payload: string,
    groups: readonly WriteGroup[],
    count: number,
    options?: StatementOptions,
  ): Promise<GroupResult[]> {
    const { rows } = await this.withSession((session) => this.run(session, text, [payload], options), options);
    this.counters.statements += count - 1;
    const outcome = readCarrierAnswer(rows, groups);
    if ('failure' in outcome) throw carrierError(outcome.failure, groups);
    return outcome.groups;
  }

  withTransaction<T>(work: (scope: TransactionScope) => Promise<T>, options?: StatementOptions): Promise<T> {
    return this.withSession(async (session) => {
      await this.run(session, 'BEGIN TRANSACTION', [], options);
      const scope: TransactionScope = {
        query: async <R extends Row = Row>(sql: string, binds?: readonly BindValue[], statementOptions?: StatementOptions) =>
          (await this.run(session, sql, binds, statementOptions ?? options)).rows as R[],
        execute: async (sql, binds, statementOptions) => ({
          rowsAffected: (await this.run(session, sql, binds, statementOptions ?? options)).rowsAffected,
        }),
      };
      let result: T;
      try {
        result = await work(scope);
      } catch (error) {
        await this.rollbackQuietly(session);
        throw error;
      }
      try {
        await this.run(session, 'COMMIT', []);
      } catch (error) {
        await this.rollbackQuietly(session);
        throw error;
      }
      return result;
    }, options);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
    await Promise.all([...this.returning]);
    const sessions = this.idle.splice(0);
    this.open -= sessions.length;
    await Promise.all(sessions.map((session) => destroy(session.connection)));
  }

  // ---- pool ----------------------------------------------------------------------------------------

  private async withSession<T>(work: (session: Session) => Promise<T>, options?: StatementOptions): Promise<T> {
    throwIfAborted(options?.signal);
    const session = await this.acquire();
    try {
      return await work(session);
    } finally {
      // A statement that was cancelled may still be finishing: hand the session back once it is quiet.
      const back = session.serialized(() => this.release(session));
      this.returning.add(back);
      void back.finally(() => this.returning.delete(back));
    }
  }

  private async acquire(): Promise<Session> {
    if (this.closed) throw new WarehouseError('connection', 'the Snowflake warehouse is closed');
    const ready = this.idle.pop();
    if (ready) return ready;
    if (this.open < this.settings.poolSize) {
      this.open += 1;
      try {
        return await this.login();
      } catch (error) {
        this.open -= 1;
        throw error;
      }
    }
    const session = await new Promise<Session | undefined>((resolve) => this.waiters.push(resolve));
    if (session === undefined) throw new WarehouseError('connection', 'the Snowflake warehouse is closed');
    return session;
  }

  private async release(session: Session): Promise<void> {
    if (this.closed || !session.usable) {
      this.open -= 1;
      await destroy(session.connection);
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) waiter(session);
    else this.idle.push(session);
  }

  private async login(): Promise<Session> {
    const connection = this.snowflake.createConnection(driverConnectionOptions(this.settings));
    await new Promise<void>((resolve, reject) => {
      // connect() with a callback: connectAsync() without one resolves even when the login fails.
      connection.connect((error) => (error ? reject(translateError(error, [], 'connection')) : resolve()));
    });
    const session = new Session(connection);
    try {
      await this.run(session, sessionSetupStatement(this.settings), []);
    } catch (error) {
      await destroy(connection);
      throw error;
    }
    return session;
  }

  private async rollbackQuietly(session: Session): Promise<void> {
    try {
      await this.run(session, 'ROLLBACK', []);
    } catch {
      // The session is gone or has no transaction left: Snowflake rolls back an open transaction when
      // its session ends, so there is nothing more to do.
    }
  }

  // ---- statements ----------------------------------------------------------------------------------

  /** One statement on one session: counted, timed out or aborted by cancelling it, errors translated. */
  private run(
    session: Session,
    sql: string,
    binds: readonly BindValue[] | undefined,
    options?: StatementOptions,
  ): Promise<RawResult> {
    return new Promise<RawResult>((resolve, reject) => {
      // The session stays busy until the driver reports the statement finished, also after a timeout or an
      // abort rejected the caller early, so the next statement on it never overlaps a cancelled one.
      void session.serialized(() => this.send(session, sql, binds, options, resolve, reject));
    });
  }

  /** Sends the statement; the returned promise settles when the driver is done with it. */
  private send(
    session: Session,
    sql: string,
    binds: readonly BindValue[] | undefined,
    options: StatementOptions | undefined,
    resolve: (result: RawResult) => void,
    reject: (error: WarehouseError) => void,
  ): Promise<void> {
    let wire: WireBind[];
    try {
      throwIfAborted(options?.signal);
      wire = toWireBinds(binds);
    } catch (error) {
      reject(error instanceof WarehouseError ? error : new WarehouseError('other', (error as Error).message));
      return Promise.resolve();
    }
    this.counters.statements += 1;
    this.counters.roundTrips += 1;
    const timeoutMs = options?.timeoutMs ?? this.settings.statementTimeoutMs;
    let settled = false;
    let statement: RowStatement | undefined;
    const finish = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options?.signal?.removeEventListener('abort', onAbort);
      outcome();
    };
    const stop = (kind: 'timeout' | 'aborted') => {
      const queryId = statement?.getQueryId();
      const error =
        kind === 'timeout'
          ? new WarehouseError('timeout', `statement exceeded ${timeoutMs} ms and was cancelled`, { queryId })
          : new WarehouseError('aborted', 'statement aborted and cancelled', { queryId });
      finish(() => reject(error));
      statement?.cancel(() => undefined);
    };
    const onAbort = () => stop('aborted');
    const timer = setTimeout(() => stop('timeout'), timeoutMs);
    options?.signal?.addEventListener('abort', onAbort, { once: true });
    return new Promise<void>((done) => {
      statement = session.connection.execute({
        sqlText: sql,
        binds: wire,
        complete: (error, stmt, rows) => {
          done();
          if (error) {
            finish(() => reject(translateError(error, wire)));
            return;
          }
          try {
            const converted = convertRows(stmt, rows ?? []);
            const updated = stmt.getNumUpdatedRows();
            finish(() => resolve({ rows: converted, rowsAffected: typeof updated === 'number' && updated > 0 ? updated : 0 }));
          } catch (conversionError) {
            finish(() => reject(translateError(conversionError, wire)));
          }
        },
      });
    });
  }
}

/**
 * The driver's connection options. The session's database and schema are where the results tables are
 * (RESULTS_DATABASE / RESULTS_SCHEMA): every statement names its tables unqualified. `host` (SNOWFLAKE_HOST)
 * replaces the host derived from the account; `accessUrl` (scheme, host and port) wins over both.
 */
export function driverConnectionOptions(settings: SnowflakeSettings): ConnectionOptions {
  return {
    account: settings.account,
    username: settings.user,
    ...(settings.privateKeyPath === undefined
      ? { password: settings.password }
      : {
          authenticator: 'SNOWFLAKE_JWT',
          privateKeyPath: settings.privateKeyPath,
          ...(settings.privateKeyPassphrase === undefined ? {} : { privateKeyPass: settings.privateKeyPassphrase }),
        }),
    ...(settings.host === undefined ? {} : { host: settings.host }),
    ...(settings.accessUrl === undefined ? {} : { accessUrl: settings.accessUrl }),
    ...(settings.role === undefined ? {} : { role: settings.role }),
    ...(settings.warehouse === undefined ? {} : { warehouse: settings.warehouse }),
    database: settings.database,
    schema: settings.schema,
    queryTag: SERVICE_QUERY_TAG,
    application: 'flakebench-delayed-enrichment',
    // Exact NUMBERs: converted below (safe integers → number, larger ones → decimal string).
    fetchAsString: ['Number'],
    // With fetchAsString the driver returns SQL NULL as the text 'NULL' unless told otherwise.
    representNullAsStringNull: false,
    rowMode: 'object',
    clientSessionKeepAlive: false,
    sfRetryMaxLoginRetries: 2,
  };
}

function destroy(connection: Connection): Promise<void> {
  return new Promise((resolve) => {
    if (!connection.isUp()) {
      resolve();
      return;
    }
    connection.destroy(() => resolve());
  });
}

// ---- results -------------------------------------------------------------------------------------

const INTEGER_TEXT = /^-?\d+$/;

/** Plain values: exact numbers, plain UTC Dates (the driver's Date subclass serialises by session format). */
function convertRows(statement: RowStatement, rows: Array<Record<string, unknown>>): Row[] {
  const columns = statement.getColumns() ?? [];
  const numbers = columns.filter((column) => column.isNumber()).map((column) => column.getName());
  const times = columns.filter((column) => column.isTimestamp() || column.isDate()).map((column) => column.getName());
  return rows.map((raw) => {
    const row = raw as Row;
    for (const name of numbers) {
      const value = raw[name];
      if (typeof value === 'string') row[name] = exactNumber(value);
    }
    for (const name of times) {
      const value = raw[name];
      if (value instanceof Date) row[name] = new Date(value.getTime());
    }
    return row;
  });
}

function exactNumber(text: string): number | string {
  if (INTEGER_TEXT.test(text)) {
    const value = Number(text);
    return Number.isSafeInteger(value) ? value : text.replace(/^(-?)0+(?=\d)/, '$1');
  }
  const value = Number(text);
  return Number.isNaN(value) ? text : value;
}

// ---- errors --------------------------------------------------------------------------------------

/** Snowflake codes that mean "this role may not see or touch the object" (002003 also means "missing"). */
const PERMISSION_CODES = new Set(['002003', '003001', '003003', '003007', '003011']);
const SYNTAX_CODES = new Set(['001003', '001007', '000904', '002040']);
const CANCELLED_CODES = new Set(['000604', '000605']);
/**
 * A CALL of a procedure that does not exist (the carrier before migration 0009 ran): "SQL compilation error:
 * Unknown function …". The code is the one the notes give (002141); not confirmed on an account.
 */
const NOT_FOUND_CODES = new Set(['002141']);
/**
 * Concurrent writers collided; retryable like DuckDB's transaction conflicts. Snowflake locks tables for
 * UPDATE/DELETE/MERGE until commit, waits LOCK_TIMEOUT for a lock and aborts a deadlock victim's statement
 * (docs.snowflake.com/en/sql-reference/transactions, "Resource locking" and "Deadlocks").
 *   000625 (57014) "Statement '…' has locked table '…' in transaction … and this lock has not yet been
 *          released. Your statement '…' was aborted because …" (lock wait given up: waiter limit or
 *          timeout; e.g. brooklyn-data/dbt_artifacts#431);
 *   000615 "Transaction '…' was aborted, SQL execution canceled." (snowflake-connector-net#560).
 * Checked before CANCELLED_CODES: 000625 shares SQL state 57014 with a cancelled statement.
 */
const CONFLICT_CODES = new Set(['000625', '000615']);
/**
 * The same collisions recognised by their text, for codes not listed above: the deadlock victim (no code
 * is documented for it) and "Transaction '…' was aborted because of a conflicting …" (hybrid tables).
 */
const CONFLICT_MESSAGES = [/\bdeadlock\b/i, /\btransaction\b.*\bwas aborted\b/i, /has locked table .* this lock has not yet been released/i];

export function translateError(error: unknown, binds: readonly WireBind[], fallback?: WarehouseErrorKind): WarehouseError {
  if (error instanceof WarehouseError) return error;
  const sf = (typeof error === 'object' && error !== null ? error : {}) as SnowflakeError & { data?: { queryId?: string } };
  const code = sf.code === undefined || sf.code === null ? undefined : String(sf.code);
  const sqlState = typeof sf.sqlState === 'string' ? sf.sqlState : undefined;
  const queryId = typeof sf.data?.queryId === 'string' ? sf.data.queryId : undefined;
  const text = error instanceof Error ? error.message : String(error);
  const message = redactBinds(text.replace(/\s*\n\s*/g, ' ').trim(), binds);
  return new WarehouseError(kindOf(code, sqlState, text, fallback), code === undefined ? message : `${message} (Snowflake ${code})`, {
    code,
    sqlState,
    queryId,
    cause: error,
  });
}

/**
 * A statement error the carrier caught, classified like the same error sent on its own (a conflict stays a
 * retryable conflict), the failing statement's binds kept out of the message, and the group named.
 */
function carrierError(failure: CarrierFailure, groups: readonly WriteGroup[]): WarehouseError {
  const binds = (failure.group === undefined ? groups : [groups[failure.group] as WriteGroup]).flatMap((group) =>
    group.statements.flatMap((statement) => toWireBinds(statement.binds)),
  );
  const error = translateError(Object.assign(new Error(failure.message), { code: failure.code, sqlState: failure.sqlState }), binds);
  return failure.group === undefined ? error : error.inGroup(failure.group);
}

function kindOf(
  code: string | undefined,
  sqlState: string | undefined,
  message: string,
  fallback: WarehouseErrorKind | undefined,
): WarehouseErrorKind {
  if ((code !== undefined && CONFLICT_CODES.has(code)) || CONFLICT_MESSAGES.some((pattern) => pattern.test(message))) return 'conflict';
  if (code !== undefined) {
    // Before the SQL-state rules: the unknown-function error carries the syntax state 42601.
    if (NOT_FOUND_CODES.has(code)) return 'not_found';
    if (PERMISSION_CODES.has(code) || sqlState === '42501') return 'permission';
    if (SYNTAX_CODES.has(code) || sqlState === '42601') return 'syntax';
    if (CANCELLED_CODES.has(code)) return 'aborted';
    if (code === '100072' || sqlState === '23000' || sqlState === '23502') return 'constraint';
    // 390xxx: login, session and authentication failures; 401xxx: the driver could not reach the account.
    if (code.startsWith('390') || code.startsWith('401')) return 'connection';
  }
  return fallback ?? 'other';
}

/** Snowflake quotes offending values in some messages ("Numeric value 'abc' is not recognized"). */
function redactBinds(message: string, binds: readonly WireBind[]): string {
  let out = message;
  for (const bind of binds) {
    if (bind === null || typeof bind === 'boolean') continue;
    const text = String(bind);
    if (text === '') continue;
    out = out.split(`'${text}'`).join("'?'");
  }
  return out;
}

