// A test-only stand-in for a Snowflake account, good enough for the real snowflake-sdk pointed at
// `accessUrl: http://127.0.0.1:<port>` (wire formats: /work/shared/notes/stack-facts.md §3).
//
// It answers login (password, or key-pair JWT checked against the test's public key), query requests,
// telemetry, session deletion and abort requests. Each statement runs on an in-memory DuckDB through our
// DuckDbDatabase (so the prelude applies); each Snowflake session gets its own DuckDB connection, so
// BEGIN/COMMIT behave per session. Results go back in Snowflake's JSON row format, errors with Snowflake
// codes. Everything received is recorded for assertions, and a test can make the next matching statement
// fail with a given code or hang until the client cancels it.
//
// JavaScript stored procedures (the write carrier, src/db/write-carrier.ts): `CREATE [OR REPLACE] PROCEDURE`
// stores the body by name, `CALL name(?)` and the anonymous `WITH name AS PROCEDURE … CALL name(?)` run it
// under Node (fake-procedures.ts); its statements take the same path as a request's statement (Snowflake's
// rules, failNext/hangNext, the session's DuckDB connection and transaction).
//
// Standard table streams (CREATE STREAM … ON TABLE, reading one, SYSTEM$STREAM_HAS_DATA, the offset moving when
// a DML that read it commits) and SYSTEM$LAST_CHANGE_COMMIT_TIME: fake-streams.ts.
//
// It is test infrastructure, not a second SQL engine: SQL that DuckDB cannot run with the prelude fails
// here as it would in the embedded mode.
import { createHash, createPublicKey, randomUUID, verify, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SnowflakeSettings } from '../../src/config.js';
import { DuckDbDatabase, type DuckDbWarehouse } from '../../src/db/duckdb.js';
import { ddlForDuckDb } from '../../src/db/ddl.js';
import { loadMigrations, statementsFor } from '../../src/db/migrations.js';
import { isWarehouseError, type BindValue, type Row } from '../../src/db/warehouse.js';
import { flakeBenchTableDdl } from '../../src/simulator/flakebench-stand-ins.js';
import { FLAKEBENCH_TABLES } from '../../src/sources/flakebench-tables.js';
import { INVALID_ROW_COUNT, anonymousProcedureCall, boundRowCount, procedureCall, procedureDefinition, type ProcedureDefinition } from './snowflake-rules.js';
import { runJavaScriptProcedure, type ProcedureStatementResult } from './fake-procedures.js';
import { FakeStreams } from './fake-streams.js';

export interface FakeSnowflakeOptions {
  account?: string;
  user?: string;
  /** Accepted password (password login). */
  password?: string;
  /** PEM public key whose private half may sign key-pair logins. */
  publicKeyPem?: string;
  /**
   * The account's TIMEZONE parameter (default UTC): every new session starts in it, and `ALTER SESSION SET
   * TIMEZONE` changes it, on the session's DuckDB connection too (its CURRENT_TIMESTAMP and its reading of
   * TIMESTAMP values as instants follow it, as Snowflake's do).
   */
  timezone?: string;
}

export interface ReceivedLogin {
  body: LoginData;
  query: Record<string, string>;
  accepted: boolean;
}

export interface ReceivedStatement {
  sessionId: number;
  requestId: string;
  sqlText: string;
  /** Bind values as the driver sent them, decoded to JS values. */
  binds: Array<string | number | boolean | null>;
  /** Statement-level parameters sent with the request (QUERY_TAG, ...). */
  parameters: Record<string, unknown>;
}

export interface InjectedError {
  code: string;
  message: string;
  sqlState?: string;
}

interface LoginData {
  ACCOUNT_NAME?: string;
  LOGIN_NAME?: string;
  PASSWORD?: string;
  TOKEN?: string;
  AUTHENTICATOR?: string;
  SESSION_PARAMETERS?: Record<string, unknown>;
  CLIENT_ENVIRONMENT?: Record<string, unknown>;
}

interface FakeSession {
  id: number;
  token: string;
  connection: DuckDbWarehouse;
  /** Parameters from the login body and from ALTER SESSION SET, upper-case names. */
  parameters: Record<string, unknown>;
  /** Inside BEGIN … COMMIT/ROLLBACK (a DML that reads a stream then consumes it at that COMMIT). */
  inTransaction?: boolean;
}

/** What one statement did, before it is put into Snowflake's wire format. */
type Outcome =
  | { kind: 'status' }
  | { kind: 'dml'; keyword: string; rows: number }
  | { kind: 'rows'; rowtype: SnowflakeColumn[]; rows: Row[] };

/** A statement failing with this Snowflake error (a rule, an injected fault, a missing procedure). */
class SnowflakeFailure extends Error {
  constructor(readonly error: InjectedError) {
    super(error.message);
  }
}

type Fault =
  | { pattern: RegExp; kind: 'fail'; error: InjectedError }
  | { pattern: RegExp; kind: 'hang' };

interface SnowflakeColumn {
  name: string;
  type: string;
  scale?: number;
  precision?: number;
  nullable: boolean;
}

const CANCELLED: InjectedError = { code: '000604', message: 'SQL execution canceled', sqlState: '57014' };

/**
 * Snowflake's answers when concurrent transactions collide, for failNext() (the codes and texts the
 * adapter's error table in src/db/snowflake.ts cites). LOCK_WAIT_ABORTED is also what the fake answers
 * when its DuckDB reports a write-write conflict between two sessions.
 */
export const SNOWFLAKE_CONFLICTS = {
  lockWaitAborted: {
    code: '000625',
    message:
      "Statement '01b43b22-0509-2fce-0003-29019743c0af' has locked table 'DELAYED_ENRICHMENT_QUEUE' in transaction 1715330074481000000 and this lock has not yet been released.\nYour statement '01b43b22-0509-2fce-0003-29019743c13b' was aborted because the number of waiters for this lock exceeds the 20 statements limit.",
    sqlState: '57014',
  },
  transactionAborted: { code: '000615', message: "Transaction '1715330074481000000' was aborted, SQL execution canceled.", sqlState: '57014' },
  // Snowflake documents that it aborts a deadlock victim's statement, not the text or a code: a stand-in
  // (placeholder code 000000) that the adapter must recognise by the word "deadlock".
  deadlockVictim: {
    code: '000000',
    message: "Statement '01b43b22-0509-2fce-0003-29019743c13b' was aborted: it was chosen as the victim to resolve a deadlock on table 'TEST_RESULTS'.",
    sqlState: '57014',
  },
} satisfies Record<string, InjectedError>;

/** Adapter settings (src/db/snowflake.ts) for the fake's service user, logging in with `password`; `overrides` win. */
export function fakeSnowflakeSettings(fake: FakeSnowflake, password: string, overrides: Partial<SnowflakeSettings> = {}): SnowflakeSettings {
  return {
    account: 'FAKEACCOUNT',
    user: 'SERVICE_USER',
    password,
    privateKeyPath: undefined,
    privateKeyPassphrase: undefined,
    role: undefined,
    warehouse: undefined,
    database: 'FLAKEBENCH',
    schema: 'TEST_RESULTS',
    accessUrl: fake.url,
    poolSize: 1,
    statementTimeoutMs: 30_000,
    ...overrides,
  };
}

export class FakeSnowflake {
  readonly logins: ReceivedLogin[] = [];
  readonly statements: ReceivedStatement[] = [];
  /** Request ids (or query ids) named by abort requests. */
  readonly aborts: string[] = [];
  readonly telemetry: unknown[] = [];
  readonly deletedSessions: number[] = [];
  /** Paths the fake has no answer for (a driver upgrade may add requests). */
  readonly unknownRequests: string[] = [];
  /** Every HTTP request received, in order (`METHOD /path`): what the driver cost in round trips. */
  readonly requests: string[] = [];
  /** Statements a procedure body executed (inside a CALL; `statements` holds only the requests). */
  readonly procedureStatements: ReceivedStatement[] = [];

  /** Stored procedures by upper-case name (CREATE PROCEDURE). */
  private readonly procedures = new Map<string, ProcedureDefinition>();
  /** Table streams of the account (CREATE STREAM). */
  private readonly streams = new FakeStreams((failure) => new SnowflakeFailure(failure));

  private readonly sessions = new Map<string, FakeSession>();
  private readonly faults: Fault[] = [];
  private readonly hanging = new Map<string, () => void>();
  private nextSessionId = 1;
  private inFlight = 0;
  private readonly settledWaiters: Array<() => void> = [];
  private readonly publicKey: KeyObject | undefined;

  private constructor(
    private readonly server: Server,
    private readonly database: DuckDbDatabase,
    private readonly options: Required<Omit<FakeSnowflakeOptions, 'publicKeyPem' | 'password' | 'timezone'>> & FakeSnowflakeOptions,
  ) {
    this.publicKey = options.publicKeyPem === undefined ? undefined : createPublicKey(options.publicKeyPem);
  }

  static async start(options: FakeSnowflakeOptions = {}): Promise<FakeSnowflake> {
    const database = await DuckDbDatabase.open(':memory:');
    const server = createServer();
    const fake = new FakeSnowflake(server, database, { account: 'FAKEACCOUNT', user: 'SERVICE_USER', ...options });
    server.on('request', (req, res) => {
      fake.inFlight += 1;
      void fake.handle(req, res).finally(() => {
        fake.inFlight -= 1;
        if (fake.inFlight === 0) for (const resolve of fake.settledWaiters.splice(0)) resolve();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Session parameters of every session opened so far (login SESSION_PARAMETERS + ALTER SESSION). */
  sessionParameters(): Array<Record<string, unknown>> {
    return [...this.sessions.values()].map((session) => ({ ...session.parameters }));
  }

  get openSessions(): number {
    return this.sessions.size;
  }

  /** The next statement whose text matches fails with this Snowflake error (once). */
  failNext(pattern: RegExp, error: InjectedError): void {
    this.faults.push({ pattern, kind: 'fail', error });
  }

  /** The next statement whose text matches never finishes until the client sends an abort request. */
  hangNext(pattern: RegExp): void {
    this.faults.push({ pattern, kind: 'hang' });
  }

  /**
   * Resolves once no request is being answered (at most `maxMs`): what a client sent before it was killed has
   * then run to its end, as Snowflake runs a statement whose client went away.
   */
  async settled(maxMs = 30_000): Promise<void> {
    if (this.inFlight === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.settledWaiters.push(resolve);
      timer = setTimeout(resolve, maxMs);
    });
    clearTimeout(timer);
  }

  /** Runs SQL directly on the backing database (setup: objects that exist in the account before the test). */
  async runDirect(sql: string, binds: BindValue[] = []): Promise<Row[]> {
    const connection = await this.database.connect();
    try {
      return await connection.query(sql, binds);
    } finally {
      await connection.close();
    }
  }

  /**
   * FlakeBench's own TEST_RESULTS and QUERY_EXECUTIONS as a FlakeBench installation has them before this
   * service is installed: exactly the real columns (src/sources/flakebench-tables.ts), no key.
   */
  async createFlakeBenchTables(): Promise<void> {
    for (const table of Object.keys(FLAKEBENCH_TABLES) as Array<keyof typeof FLAKEBENCH_TABLES>) await this.runDirect(flakeBenchTableDdl(table));
  }

  /**
   * The ACCOUNT_USAGE views of the account, as the embedded simulation defines them: the views and their base
   * tables (migration 0005) and the run column the simulator tags base-table rows with (migration 0012).
   */
  async createAccountUsageViews(): Promise<void> {
    const migrations = loadMigrations();
    for (const name of ['embedded_account_usage', 'embedded_simulated_run_column']) {
      const migration = migrations.find((candidate) => candidate.name === name);
      if (!migration) throw new Error(`migration ${name} is missing`);
      for (const statement of statementsFor(migration, 'duckdb')) await this.runDirect(statement);
    }
  }

  /** A connection to the backing database for test setup that needs more than one statement (a transaction). */
  backingConnection(): Promise<DuckDbWarehouse> {
    return this.database.connect();
  }

  async stop(): Promise<void> {
    for (const release of this.hanging.values()) release();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.database.close();
  }

  // ---- HTTP ----------------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    this.requests.push(`${req.method ?? 'GET'} ${url.pathname}`);
    const text = await readBody(req);
    const body = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
    const reply = (payload: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    try {
      const path = url.pathname;
      if (path === '/session/v1/login-request') return reply(await this.login(body.data as LoginData, url));
      if (path === '/telemetry/send') {
        this.telemetry.push(body);
        return reply({ success: true });
      }
      if (path === '/queries/v1/abort-request') {
        this.abort(String(body.requestId));
        return reply({ success: true, data: null });
      }
      const abortById = /^\/queries\/([^/]+)\/abort-request$/.exec(path);
      if (abortById) {
        this.abort(abortById[1] as string);
        return reply({ success: true, data: null });
      }
      const session = this.sessionOf(req);
      if (path === '/session' && url.searchParams.get('delete') === 'true') {
        if (session) await this.endSession(session);
        return reply({ success: true, data: null });
      }
      if (path === '/queries/v1/query-request') {
        if (!session) return reply(failure({ code: '390111', message: 'Session no longer exists.', sqlState: '08001' }, undefined));
        return reply(await this.query(session, url.searchParams.get('requestId') ?? randomUUID(), body));
      }
      this.unknownRequests.push(`${req.method} ${path}`);
      return reply({ success: true, data: null });
    } catch (error) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(error instanceof Error ? error.message : String(error));
    }
  }

  private sessionOf(req: IncomingMessage): FakeSession | undefined {
    const token = /Snowflake Token="([^"]+)"/.exec(req.headers.authorization ?? '')?.[1];
    return token === undefined ? undefined : this.sessions.get(token);
  }

  // ---- login ---------------------------------------------------------------------------------------

  private async login(data: LoginData, url: URL): Promise<unknown> {
    const query = Object.fromEntries(url.searchParams.entries());
    const accepted = this.credentialsValid(data);
    this.logins.push({ body: data, query, accepted });
    if (!accepted) {
      return { success: false, code: '390100', message: 'Incorrect username or password was specified.', data: null };
    }
    const id = this.nextSessionId++;
    const token = `session-${id}-${randomUUID()}`;
    const parameters: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(data.SESSION_PARAMETERS ?? {})) parameters[name.toUpperCase()] = value;
    const connection = await this.database.connect();
    const timezone = typeof parameters.TIMEZONE === 'string' ? parameters.TIMEZONE : this.options.timezone;
    if (timezone !== undefined) {
      await setTimeZone(connection, timezone);
      parameters.TIMEZONE = timezone;
    }
    this.sessions.set(token, { id, token, connection, parameters });
    return {
      success: true,
      data: { token, masterToken: `master-${id}`, validityInSeconds: 3600, masterValidityInSeconds: 14_400, sessionId: id },
    };
  }

  private credentialsValid(data: LoginData): boolean {
    if (data.LOGIN_NAME?.toUpperCase() !== this.options.user.toUpperCase()) return false;
    if (data.ACCOUNT_NAME?.toUpperCase() !== this.options.account.toUpperCase()) return false;
    if (data.AUTHENTICATOR === 'SNOWFLAKE_JWT') return this.jwtValid(data.TOKEN);
    return this.options.password !== undefined && data.PASSWORD === this.options.password;
  }

  /** RS256 signature by the test's key pair, and the claims Snowflake checks (issuer fingerprint, subject, expiry). */
  private jwtValid(token: string | undefined): boolean {
    if (token === undefined || this.publicKey === undefined) return false;
    const [header, payload, signature] = token.split('.');
    if (header === undefined || payload === undefined || signature === undefined) return false;
    const signed = verify('RSA-SHA256', Buffer.from(`${header}.${payload}`), this.publicKey, Buffer.from(signature, 'base64url'));
    if (!signed) return false;
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { iss?: string; sub?: string; exp?: number };
    const subject = `${this.options.account}.${this.options.user}`.toUpperCase();
    const fingerprint = createHash('sha256').update(this.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
    return (
      claims.sub?.toUpperCase() === subject &&
      claims.iss === `${subject}.SHA256:${fingerprint}` &&
      typeof claims.exp === 'number' &&
      claims.exp * 1000 > Date.now()
    );
  }

  private async endSession(session: FakeSession): Promise<void> {
    this.sessions.delete(session.token);
    this.deletedSessions.push(session.id);
    await session.connection.close();
  }

  private abort(id: string): void {
    this.aborts.push(id);
    this.hanging.get(id)?.();
  }

  // ---- statements ----------------------------------------------------------------------------------

  private async query(session: FakeSession, requestId: string, body: Record<string, unknown>): Promise<unknown> {
    const sqlText = String(body.sqlText ?? '');
    const binds = decodeBindings(body.bindings as Record<string, { type: string; value: unknown }> | undefined);
    this.statements.push({ sessionId: session.id, requestId, sqlText, binds, parameters: (body.parameters as Record<string, unknown>) ?? {} });
    const queryId = randomUUID();
    try {
      return { success: true, code: null, message: null, data: { ...wireData(await this.runStatement(session, requestId, sqlText, binds)), queryId } };
    } catch (error) {
      return failure(snowflakeError(error), queryId);
    }
  }

  /** The path of every statement, a request's or a procedure body's: Snowflake's rules, faults, execution. */
  private async runStatement(session: FakeSession, requestId: string, sqlText: string, binds: BindValue[]): Promise<Outcome> {
    // Snowflake compiles a bound row count as an error (the driver tests must see it, DuckDB would run it).
    if (boundRowCount(sqlText) !== undefined) throw new SnowflakeFailure(INVALID_ROW_COUNT);
    const faultIndex = this.faults.findIndex((fault) => fault.pattern.test(sqlText));
    if (faultIndex >= 0) {
      const [fault] = this.faults.splice(faultIndex, 1);
      if (fault?.kind === 'fail') throw new SnowflakeFailure(fault.error);
      await new Promise<void>((resolve) => this.hanging.set(requestId, resolve));
      this.hanging.delete(requestId);
      throw new SnowflakeFailure(CANCELLED);
    }
    return this.execute(session, requestId, sqlText, binds);
  }

  private async execute(session: FakeSession, requestId: string, sqlText: string, binds: BindValue[]): Promise<Outcome> {
    if (await this.streams.ddl(session.connection, sqlText.trim().replace(/;\s*$/, ''))) return { kind: 'status' };
    const { text: streamless, read: streamsRead } = this.streams.rewrite(sqlText);
    const sql = streamless.trim().replace(/;\s*$/, '');
    const keyword = /^\s*([A-Za-z]+)(?:\s+([A-Za-z]+))?/.exec(sql);
    const first = keyword?.[1]?.toUpperCase() ?? '';
    const second = keyword?.[2]?.toUpperCase() ?? '';
    const db = session.connection;
    if (CREATE_PROCEDURE.test(sql)) {
      const procedure = procedureDefinition(sql);
      if (procedure?.language !== 'JAVASCRIPT') throw new Error('the fake stores only LANGUAGE JAVASCRIPT procedures written CREATE PROCEDURE name(args) … AS $$ body $$');
      this.procedures.set(procedure.name, procedure);
      return { kind: 'status' };
    }
    const dropped = DROP_PROCEDURE.exec(sql);
    if (dropped) {
      this.procedures.delete((dropped[1] as string).toUpperCase());
      return { kind: 'status' };
    }
    if (first === 'CALL') return this.call(session, requestId, sql, binds, undefined);
    const inline = anonymousProcedureCall(sql);
    if (inline) {
      const procedure = procedureDefinition(inline.definition);
      if (procedure === undefined) throw new SnowflakeFailure({ code: '001003', message: 'SQL compilation error:\nsyntax error in the anonymous procedure', sqlState: '42000' });
      return this.call(session, requestId, inline.call, binds, procedure);
    }
    if (first === 'ALTER' && second === 'SESSION') {
      for (const match of sql.matchAll(/([A-Za-z_]+)\s*=\s*('(?:[^']|'')*'|[^\s,]+)/g)) {
        const raw = match[2] as string;
        session.parameters[(match[1] as string).toUpperCase()] = raw.startsWith("'") ? raw.slice(1, -1).replaceAll("''", "'") : raw;
      }
      if (typeof session.parameters.TIMEZONE === 'string') await setTimeZone(db, session.parameters.TIMEZONE);
      return { kind: 'status' };
    }
    if (first === 'BEGIN' || first === 'START') {
      await db.execute('BEGIN TRANSACTION');
      session.inTransaction = true;
      return { kind: 'status' };
    }
    if (first === 'INSERT' || first === 'UPDATE' || first === 'DELETE' || first === 'MERGE') {
      if (streamsRead.length > 0) return this.consumingDml(session, first, sql, binds, streamsRead);
      const { rowsAffected } = await db.execute(sql, binds);
      return { kind: 'dml', keyword: first, rows: rowsAffected };
    }
    if (first === 'CREATE' || first === 'ALTER' || first === 'DROP') {
      const translated = snowflakeDdlForDuckDb(sql);
      if (translated !== undefined) await db.execute(translated, binds);
      return { kind: 'status' };
    }
    if (first === 'COMMIT' || first === 'ROLLBACK' || first === 'USE' || first === 'SET') {
      await db.execute(sql, binds);
      if (first === 'COMMIT' || first === 'ROLLBACK') session.inTransaction = false;
      return { kind: 'status' };
    }
    // A query: DESCRIBE gives the column types that the normalised rows no longer carry.
    const described = await db.query<{ COLUMN_NAME: string; COLUMN_TYPE: string }>(`DESCRIBE ${sql}`, binds);
    const rows = await db.query(sql, binds);
    return { kind: 'rows', rowtype: described.map((column) => snowflakeColumn(column.COLUMN_NAME.toUpperCase(), column.COLUMN_TYPE)), rows };
  }

  /**
   * A DML that reads a stream: the offset moves to what the statement read, in the statement's own transaction
   * (committed with it, or at the session's COMMIT; rolled back with it).
   */
  private async consumingDml(session: FakeSession, keyword: string, sql: string, binds: BindValue[], streams: string[]): Promise<Outcome> {
    const db = session.connection;
    const autocommit = !session.inTransaction;
    if (autocommit) await db.execute('BEGIN TRANSACTION');
    try {
      const { rowsAffected } = await db.execute(sql, binds);
      await this.streams.consume(db, streams);
      if (autocommit) await db.execute('COMMIT');
      return { kind: 'dml', keyword, rows: rowsAffected };
    } catch (error) {
      if (autocommit) await db.execute('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  /**
   * `CALL name(?, …)`: runs the stored procedure (or the anonymous one the statement defined) with the bind
   * values as its arguments; the answer is one row, one VARIANT column named after the procedure.
   */
  private async call(
    session: FakeSession,
    requestId: string,
    callText: string,
    binds: BindValue[],
    anonymous: ProcedureDefinition | undefined,
  ): Promise<Outcome> {
    const parsed = procedureCall(callText);
    if (!parsed) throw new SnowflakeFailure({ code: '001003', message: `SQL compilation error:\nsyntax error in ${callText.slice(0, 80)}`, sqlState: '42000' });
    const { name, args: placeholders } = parsed;
    if (placeholders.some((arg) => arg !== '?')) throw new Error('the fake takes only ? placeholders as procedure arguments');
    // An anonymous procedure's own CALL runs it, and nothing stored (so the inline carrier is tested on its own text).
    const procedure = anonymous === undefined ? this.procedures.get(name) : anonymous.name === name ? anonymous : undefined;
    if (procedure === undefined || procedure.language !== 'JAVASCRIPT' || procedure.argumentNames.length !== placeholders.length) {
      // Unverified on an account: the code the notes give for a CALL of a procedure that does not exist.
      throw new SnowflakeFailure({ code: '002141', message: `SQL compilation error:\nUnknown function ${name}`, sqlState: '42601' });
    }
    const outcome = await runJavaScriptProcedure(procedure, binds.slice(0, placeholders.length), async (text, innerBinds) => {
      const values = innerBinds as BindValue[];
      this.procedureStatements.push({ sessionId: session.id, requestId, sqlText: text, binds: values as ReceivedStatement['binds'], parameters: {} });
      try {
        return procedureResult(await this.runStatement(session, requestId, text, values));
      } catch (error) {
        throw snowflakeError(error);
      }
    });
    if ('uncaught' in outcome) {
      // A JavaScript error the body did not catch fails the CALL (believed to be 100132, not confirmed).
      throw new SnowflakeFailure({ code: '100132', message: `JavaScript execution error: Uncaught ${outcome.uncaught.message}`, sqlState: 'P0000' });
    }
    return { kind: 'rows', rowtype: [{ name, type: 'variant', nullable: true }], rows: [{ [name]: outcome.value as Row[string] }] };
  }
}

const CREATE_PROCEDURE = /^CREATE\s+(?:OR\s+REPLACE\s+)?PROCEDURE\b/i;
const DROP_PROCEDURE = /^DROP\s+PROCEDURE\s+(?:IF\s+EXISTS\s+)?([A-Za-z_][A-Za-z0-9_$]*)/i;

/** What the body's Statement sees: rows affected for DML (the driver's getNumUpdatedRows), rows otherwise. */
function procedureResult(outcome: Outcome): ProcedureStatementResult {
  if (outcome.kind === 'dml') return { rowsAffected: outcome.rows, columns: [DML_STATEMENT_TYPES[outcome.keyword]!.column], rows: [[outcome.rows]] };
  if (outcome.kind === 'status') return { rowsAffected: 0, columns: ['status'], rows: [['Statement executed successfully.']] };
  const columns = outcome.rowtype.map((column) => column.name);
  return { rowsAffected: 0, columns, rows: outcome.rows.map((row) => columns.map((name) => row[name] ?? null)) };
}

/** An outcome in Snowflake's JSON response format. */
function wireData(outcome: Outcome): Record<string, unknown> {
  if (outcome.kind === 'status') return statusResult();
  if (outcome.kind === 'dml') return dmlResult(outcome.keyword, outcome.rows);
  const rowset = outcome.rows.map((row) => outcome.rowtype.map((column) => snowflakeCell(row[column.name], column.type)));
  return { rowtype: outcome.rowtype, rowset, total: rowset.length, returned: rowset.length, parameters: [] };
}

// ---- wire format helpers -------------------------------------------------------------------------

/** The session's time zone on its DuckDB connection (SET takes no binds: the name is checked instead). */
async function setTimeZone(connection: DuckDbWarehouse, timezone: string): Promise<void> {
  if (!/^[A-Za-z0-9_+\-/]+$/.test(timezone)) throw new Error(`not a time zone name: ${timezone}`);
  await connection.execute(`SET TimeZone = '${timezone}'`);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function failure(error: InjectedError, queryId: string | undefined): unknown {
  return { success: false, code: error.code, message: error.message, data: { sqlState: error.sqlState ?? '42000', queryId } };
}

/** Bindings arrive as `{"1": {type, value: string|null}}`; the fake turns them back into values. */
function decodeBindings(bindings: Record<string, { type: string; value: unknown }> | undefined): Array<string | number | boolean | null> {
  if (!bindings) return [];
  return Object.keys(bindings)
    .sort((a, b) => Number(a) - Number(b))
    .map((key) => {
      const { type, value } = bindings[key] as { type: string; value: unknown };
      if (value === null || value === undefined) return null;
      const text = String(value);
      if (type === 'FIXED') return Number.isSafeInteger(Number(text)) ? Number(text) : text;
      if (type === 'REAL') return Number(text);
      if (type === 'BOOLEAN') return text === 'true';
      return text;
    });
}

function statusResult(): Record<string, unknown> {
  return {
    rowtype: [{ name: 'status', type: 'text', nullable: true }],
    rowset: [['Statement executed successfully.']],
    total: 1,
    returned: 1,
  };
}

const DML_STATEMENT_TYPES: Record<string, { id: number; column: string }> = {
  INSERT: { id: 0x3100, column: 'number of rows inserted' },
  UPDATE: { id: 0x3200, column: 'number of rows updated' },
  DELETE: { id: 0x3300, column: 'number of rows deleted' },
  MERGE: { id: 0x3400, column: 'number of rows affected' },
};

function dmlResult(keyword: string, rows: number): Record<string, unknown> {
  const type = DML_STATEMENT_TYPES[keyword] as { id: number; column: string };
  return {
    rowtype: [{ name: type.column, type: 'fixed', scale: 0, precision: 19, nullable: false }],
    rowset: [[String(rows)]],
    total: 1,
    returned: 1,
    statementTypeId: type.id,
  };
}

/**
 * Snowflake-only DDL the migrations send, made runnable on DuckDB: column types (ddl.ts), sequences
 * (`START = 1 INCREMENT = 1 ORDER`, `DEFAULT SEQ.NEXTVAL`). Returns undefined for DDL with no DuckDB
 * meaning (CLUSTER BY, search optimization), which the fake accepts as a no-op.
 */
export function snowflakeDdlForDuckDb(statement: string): string | undefined {
  if (/^ALTER\s+TABLE\s+\S+\s+(CLUSTER\s+BY|ADD\s+SEARCH\s+OPTIMIZATION|DROP\s+SEARCH\s+OPTIMIZATION)/i.test(statement)) return undefined;
  let out = ddlForDuckDb(statement);
  if (/^CREATE\s+SEQUENCE/i.test(out)) {
    out = out.replace(/\b(START|INCREMENT)\s*=\s*/gi, '$1 ').replace(/\s+(NO)?ORDER\s*$/i, '');
  }
  return out.replace(/\bDEFAULT\s+([A-Za-z_][A-Za-z0-9_$]*)\.NEXTVAL\b/gi, "DEFAULT nextval('$1')");
}

function snowflakeColumn(name: string, duckType: string): SnowflakeColumn {
  const type = duckType.toUpperCase();
  const decimal = /^DECIMAL\((\d+),\s*(\d+)\)$/.exec(type);
  if (decimal) return { name, type: 'fixed', precision: Number(decimal[1]), scale: Number(decimal[2]), nullable: true };
  if (/^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT)$/.test(type)) {
    return { name, type: 'fixed', precision: 38, scale: 0, nullable: true };
  }
  if (/^(DOUBLE|FLOAT|REAL)$/.test(type)) return { name, type: 'real', nullable: true };
  if (type === 'BOOLEAN') return { name, type: 'boolean', nullable: true };
  if (type.startsWith('TIMESTAMP')) return { name, type: 'timestamp_ntz', scale: 9, nullable: true };
  if (type === 'JSON' || type.endsWith('[]') || type.startsWith('STRUCT') || type.startsWith('MAP')) {
    return { name, type: 'variant', nullable: true };
  }
  return { name, type: 'text', nullable: true };
}

/** Cells are strings: numbers as text, booleans "1"/"0", timestamps "<epoch seconds>.<nanoseconds>", VARIANT JSON. */
function snowflakeCell(value: unknown, type: string): string | null {
  if (value === null || value === undefined) return null;
  if (type === 'timestamp_ntz' && value instanceof Date) {
    const ms = value.getTime();
    const seconds = Math.floor(ms / 1000);
    return `${seconds}.${String((ms - seconds * 1000) * 1_000_000).padStart(9, '0')}`;
  }
  if (type === 'boolean') return value ? '1' : '0';
  if (type === 'variant') return variantText(value);
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/**
 * A VARIANT as Snowflake sends it. The backing adapter reads integers above 2^53 as decimal text; Snowflake
 * sends them as JSON numbers (a 19-digit transaction id in BLOCKER_QUERIES), so they go back out as numbers
 * and the driver's VARIANT parser meets the same text as on a real account.
 */
function variantText(value: unknown): string {
  return JSON.stringify(value).replace(/"(-?\d{16,})"/g, (token, digits: string) => (Number.isSafeInteger(Number(digits)) ? token : digits));
}

/** DuckDB failures in Snowflake's words: missing objects → 002003/42S02, parse errors → 001003/42000. */
function snowflakeError(error: unknown): InjectedError {
  if (error instanceof SnowflakeFailure) return error.error;
  const message = error instanceof Error ? error.message : String(error);
  if (/Catalog Error/.test(message)) {
    return { code: '002003', message: `SQL compilation error:\n${message} (does not exist or not authorized)`, sqlState: '42S02' };
  }
  if (/Parser Error/.test(message)) return { code: '001003', message: `SQL compilation error:\n${message}`, sqlState: '42000' };
  if (/Binder Error/.test(message)) return { code: '000904', message: `SQL compilation error:\n${message}`, sqlState: '42000' };
  if (isWarehouseError(error) && error.kind === 'constraint') return { code: '100072', message, sqlState: '22000' };
  // Two sessions writing one row: DuckDB aborts the second at once where Snowflake would make it wait for the
  // lock; answered as the lock wait Snowflake gave up (the caller's retryable collision either way).
  if (isWarehouseError(error) && error.kind === 'conflict') return SNOWFLAKE_CONFLICTS.lockWaitAborted;
  return { code: '100000', message, sqlState: 'XX000' };
}
