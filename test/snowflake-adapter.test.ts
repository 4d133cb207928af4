// The Snowflake adapter through the REAL snowflake-sdk, against the fake endpoint on 127.0.0.1.
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { SnowflakeSettings } from '../src/config.js';
import { openSnowflakeWarehouse } from '../src/db/snowflake.js';
import { WarehouseError, type Warehouse } from '../src/db/warehouse.js';
import { createLogger } from '../src/logger.js';
import { SERVICE_QUERY_TAG } from '../src/version.js';
import { FakeSnowflake, SNOWFLAKE_CONFLICTS } from './support/fake-snowflake.js';
import { silentLog, tempDir } from './support/embedded.js';

const PASSWORD = 'correct-horse-battery-staple';

function keyPair() {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

const dir = tempDir('fbde-sf-');
const originalCwd = process.cwd();
const keys = keyPair();
const keyPath = join(dir.path, 'service-user.p8');
let fake: FakeSnowflake;
let warehouse: Warehouse;

function settings(overrides: Partial<SnowflakeSettings> = {}): SnowflakeSettings {
  return {
    account: 'FAKEACCOUNT',
    user: 'SERVICE_USER',
    password: PASSWORD,
    privateKeyPath: undefined,
    privateKeyPassphrase: undefined,
    role: 'ENRICHER',
    warehouse: 'WH',
    database: 'FLAKEBENCH',
    schema: 'TEST_RESULTS',
    accessUrl: fake.url,
    poolSize: 2,
    statementTimeoutMs: 30_000,
    ...overrides,
  };
}

/** Rejection of `promise` as a WarehouseError (fails the test when it resolves or throws something else). */
async function failure(promise: Promise<unknown>): Promise<WarehouseError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(WarehouseError);
  return error as WarehouseError;
}

beforeAll(async () => {
  // The driver writes snowflake.log into the working directory unless routed elsewhere: run in a fresh one.
  process.chdir(dir.path);
  writeFileSync(keyPath, keys.privateKey);
  fake = await FakeSnowflake.start({ password: PASSWORD, publicKeyPem: keys.publicKey });
  warehouse = await openSnowflakeWarehouse(settings(), silentLog);
});

afterAll(async () => {
  await warehouse?.close();
  await fake?.stop();
  process.chdir(originalCwd);
  dir.remove();
});

describe('login', () => {
  it('logs in with a password, naming account, user, role, warehouse, database and schema', () => {
    const login = fake.logins.find((entry) => entry.accepted);
    expect(login?.body.PASSWORD).toBe(PASSWORD);
    expect(login?.body.AUTHENTICATOR).toBe('SNOWFLAKE');
    expect(login?.body.ACCOUNT_NAME).toBe('FAKEACCOUNT');
    expect(login?.body.LOGIN_NAME).toBe('SERVICE_USER');
    expect(login?.query).toMatchObject({ roleName: 'ENRICHER', warehouse: 'WH', databaseName: 'FLAKEBENCH', schemaName: 'TEST_RESULTS' });
  });

  it('logs in with a key pair: a JWT signed by the private key, no password', async () => {
    const before = fake.logins.length;
    const keyed = await openSnowflakeWarehouse(settings({ password: undefined, privateKeyPath: keyPath }), silentLog);
    try {
      expect(await keyed.query('SELECT 1 AS ONE')).toEqual([{ ONE: 1 }]);
      const login = fake.logins[before];
      expect(login?.accepted).toBe(true);
      expect(login?.body.AUTHENTICATOR).toBe('SNOWFLAKE_JWT');
      expect(login?.body.TOKEN).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
      expect(login?.body.PASSWORD).toBeUndefined();
    } finally {
      await keyed.close();
    }
  });

  it('logs in with an encrypted private key and its passphrase', async () => {
    const passphrase = 'key-passphrase-456';
    const encrypted = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase },
    });
    const encryptedPath = join(dir.path, 'encrypted.p8');
    writeFileSync(encryptedPath, encrypted.privateKey);
    const other = await FakeSnowflake.start({ publicKeyPem: encrypted.publicKey });
    try {
      const keyed = await openSnowflakeWarehouse(
        settings({ accessUrl: other.url, password: undefined, privateKeyPath: encryptedPath, privateKeyPassphrase: passphrase }),
        silentLog,
      );
      await keyed.close();
      expect(other.logins.map((login) => [login.body.AUTHENTICATOR, login.accepted])).toEqual([['SNOWFLAKE_JWT', true]]);
    } finally {
      await other.stop();
    }
  });

  it('rejects a key the account does not know, as a connection error with the Snowflake code', async () => {
    const otherPath = join(dir.path, 'other.p8');
    writeFileSync(otherPath, keyPair().privateKey);
    const error = await failure(openSnowflakeWarehouse(settings({ password: undefined, privateKeyPath: otherPath }), silentLog));
    expect(error.kind).toBe('connection');
    expect(error.code).toBe('390100');
  });

  it('rejects a wrong password without putting the password in the message', async () => {
    const wrong = 'not-the-password-123';
    const error = await failure(openSnowflakeWarehouse(settings({ password: wrong }), silentLog));
    expect(error.kind).toBe('connection');
    expect(error.code).toBe('390100');
    expect(error.retryable).toBe(true);
    expect(error.message).not.toContain(wrong);
    expect(fake.logins.at(-1)?.accepted).toBe(false);
  });
});

describe('session settings', () => {
  it('pins every session to UTC, tags it with the service query tag and sets the server-side timeout', async () => {
    // Two concurrent calls on a pool of two open a second session.
    await Promise.all([warehouse.query('SELECT 1 AS A'), warehouse.query('SELECT 2 AS B')]);
    const sessions = fake.sessionParameters();
    expect(sessions.length).toBeGreaterThanOrEqual(2);
    for (const parameters of sessions) {
      expect(parameters.TIMEZONE).toBe('UTC');
      expect(parameters.QUERY_TAG).toBe(SERVICE_QUERY_TAG);
      // settings() uses a 30 s statement timeout.
      expect(parameters.STATEMENT_TIMEOUT_IN_SECONDS).toBe('30');
    }
  });

  it('never opens more sessions than the pool size', async () => {
    await Promise.all(Array.from({ length: 6 }, (_, i) => warehouse.query('SELECT ? AS N', [i])));
    expect(fake.openSessions).toBeLessThanOrEqual(2);
  });
});

describe('binds and results', () => {
  it('sends every bind type the service uses and reads each back as the same value', async () => {
    const at = new Date('2026-01-15T12:34:56.789Z');
    const object = { type: 'QUERY_HISTORY', attempts: 2, 'p99.9': 12.5, nested: { ok: true } };
    const array = ['AGGREGATE_QUERY_HISTORY', 'LOCK_WAIT_HISTORY'];
    const rows = await warehouse.query(
      'SELECT ? AS S, ? AS I, ? AS F, ? AS B, ? AS N, CAST(? AS TIMESTAMP_NTZ) AS T, PARSE_JSON(?) AS O, PARSE_JSON(?) AS A',
      ['text', 42, 1.25, true, null, at, object, array],
    );
    expect(rows).toEqual([{ S: 'text', I: 42, F: 1.25, B: true, N: null, T: at, O: object, A: array }]);
    expect(fake.statements.at(-1)?.binds).toEqual([
      'text',
      42,
      1.25,
      true,
      null,
      '2026-01-15 12:34:56.789',
      JSON.stringify(object),
      JSON.stringify(array),
    ]);
  });

  it('keeps large NUMBERs exact, decimals as numbers, VARIANT parsed and timestamps as plain UTC Dates', async () => {
    await warehouse.execute('CREATE TABLE IF NOT EXISTS CONVERSIONS (BIG BIGINT, SMALL NUMBER(38,0), AMOUNT NUMBER(38,3), DOC VARIANT, HAPPENED_AT TIMESTAMP_NTZ)');
    const at = new Date('2025-12-31T23:59:59.999Z');
    const inserted = await warehouse.execute(
      'INSERT INTO CONVERSIONS (BIG, SMALL, AMOUNT, DOC, HAPPENED_AT) SELECT ?, ?, ?, PARSE_JSON(?), CAST(? AS TIMESTAMP_NTZ)',
      ['9007199254740993', 7, 12.5, { a: [1, 2] }, at],
    );
    expect(inserted.rowsAffected).toBe(1);
    const [row] = await warehouse.query('SELECT BIG, SMALL, AMOUNT, DOC, HAPPENED_AT FROM CONVERSIONS');
    expect(row?.BIG).toBe('9007199254740993');
    expect(row?.SMALL).toBe(7);
    expect(row?.AMOUNT).toBe(12.5);
    expect(row?.DOC).toEqual({ a: [1, 2] });
    expect(row?.HAPPENED_AT).toEqual(at);
    // A plain Date: the driver's own subclass would serialise through the session's output format.
    expect(Object.getPrototypeOf(row?.HAPPENED_AT)).toBe(Date.prototype);
    expect(JSON.stringify(row?.HAPPENED_AT)).toBe(JSON.stringify(at));
  });

  it('reports rows changed by DML', async () => {
    await warehouse.execute('CREATE TABLE IF NOT EXISTS COUNTED (ID INTEGER)');
    await warehouse.execute('INSERT INTO COUNTED (ID) SELECT v.ID FROM (VALUES (?), (?), (?)) AS v(ID)', [1, 2, 3]);
    expect(await warehouse.execute('UPDATE COUNTED SET ID = ID + 10 WHERE ID >= ?', [2])).toEqual({ rowsAffected: 2 });
    expect(await warehouse.execute('DELETE FROM COUNTED WHERE ID > ?', [0])).toEqual({ rowsAffected: 3 });
  });
});

describe('errors', () => {
  it('turns a syntax error into a WarehouseError with its code and query id', async () => {
    const error = await failure(warehouse.query('SELEC 1'));
    expect(error.kind).toBe('syntax');
    expect(error.code).toBe('001003');
    expect(error.sqlState).toBe('42000');
    expect(error.queryId).toMatch(/\S/);
    expect(error.retryable).toBe(false);
  });

  it('recognises 002003 (does not exist or not authorized) as a permission error, not retryable', async () => {
    const missing = await failure(warehouse.query('SELECT * FROM NO_SUCH_TABLE'));
    expect(missing.kind).toBe('permission');
    expect(missing.code).toBe('002003');
    expect(missing.sqlState).toBe('42S02');

    fake.failNext(/ACCOUNT_USAGE\.QUERY_HISTORY/, {
      code: '002003',
      message: "SQL compilation error:\nSchema 'SNOWFLAKE.ACCOUNT_USAGE' does not exist or not authorized.",
      sqlState: '02000',
    });
    const denied = await failure(warehouse.query('SELECT QUERY_ID FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY WHERE QUERY_TAG = ?', ['t']));
    expect(denied.kind).toBe('permission');
    expect(denied.retryable).toBe(false);
    expect(denied.message).toContain('not authorized');
  });

  it("refuses a bound LIMIT the way Snowflake does: a compilation error, not a result", async () => {
    const error = await failure(warehouse.query('SELECT 1 AS BOUND_LIMIT LIMIT ?', [1]));
    expect(error.kind).toBe('syntax');
    expect(error.code).toBe('001003');
    expect(error.message).toContain("Invalid row count '?' in limit clause");
    expect(await warehouse.query('SELECT 1 AS WRITTEN_LIMIT LIMIT 1')).toEqual([{ WRITTEN_LIMIT: 1 }]);
  });

  it("maps Snowflake's lock-wait abort, transaction abort and deadlock victim to the retryable conflict kind", async () => {
    for (const [name, injected] of Object.entries(SNOWFLAKE_CONFLICTS)) {
      fake.failNext(/CONFLICT_PROBE/, injected);
      const error = await failure(warehouse.execute('SELECT 1 AS CONFLICT_PROBE'));
      expect(error.kind, name).toBe('conflict');
      expect(error.retryable, name).toBe(true);
      expect(error.code, name).toBe(injected.code);
    }
    // A cancelled statement shares 000625's SQL state 57014 and stays 'aborted'.
    fake.failNext(/CANCEL_PROBE/, { code: '000604', message: 'SQL execution canceled', sqlState: '57014' });
    expect((await failure(warehouse.execute('SELECT 1 AS CANCEL_PROBE'))).kind).toBe('aborted');
  });

  it('reports two sessions writing one row as a conflict', async () => {
    await warehouse.execute('CREATE TABLE IF NOT EXISTS CONTENDED (ID INTEGER, NOTE VARCHAR)');
    await warehouse.execute('INSERT INTO CONTENDED (ID, NOTE) SELECT ?, ?', [1, 'start']);
    const second = await failure(
      warehouse.withTransaction(async (scope) => {
        await scope.execute('UPDATE CONTENDED SET NOTE = ? WHERE ID = ?', ['first', 1]);
        // The pool's other session, while the first transaction holds the row.
        await warehouse.execute('UPDATE CONTENDED SET NOTE = ? WHERE ID = ?', ['second', 1]);
      }),
    );
    expect(second.kind).toBe('conflict');
    expect(second.code).toBe(SNOWFLAKE_CONFLICTS.lockWaitAborted.code);
    expect(await warehouse.query('SELECT NOTE FROM CONTENDED WHERE ID = ?', [1])).toEqual([{ NOTE: 'start' }]);
  });

  it('keeps bind values out of error messages', async () => {
    const secret = 'do-not-log-this-value';
    fake.failNext(/NUMERIC_CHECK/, { code: '100038', message: `Numeric value '${secret}' is not recognized`, sqlState: '22018' });
    const error = await failure(warehouse.query('SELECT TO_NUMBER(?) AS NUMERIC_CHECK', [secret]));
    expect(error.code).toBe('100038');
    expect(error.message).toContain('Numeric value');
    expect(error.message).not.toContain(secret);
  });
});

describe('timeout and abort', () => {
  it('cancels a statement that exceeds its timeout and rejects with kind timeout', async () => {
    fake.hangNext(/SLOW_TIMEOUT/);
    const error = await failure(warehouse.query('SELECT 1 AS SLOW_TIMEOUT', [], { timeoutMs: 200 }));
    expect(error.kind).toBe('timeout');
    const sent = fake.statements.find((statement) => statement.sqlText.includes('SLOW_TIMEOUT'));
    await vi.waitFor(() => expect(fake.aborts).toContain(sent?.requestId));
    // The session comes back usable.
    expect(await warehouse.query('SELECT 3 AS AFTER_TIMEOUT')).toEqual([{ AFTER_TIMEOUT: 3 }]);
  });

  it('cancels a running statement when its signal aborts and rejects with kind aborted', async () => {
    fake.hangNext(/SLOW_ABORT/);
    const controller = new AbortController();
    const pending = failure(warehouse.query('SELECT 1 AS SLOW_ABORT', [], { signal: controller.signal }));
    await vi.waitFor(() => expect(fake.statements.some((statement) => statement.sqlText.includes('SLOW_ABORT'))).toBe(true));
    controller.abort();
    const error = await pending;
    expect(error.kind).toBe('aborted');
    const sent = fake.statements.find((statement) => statement.sqlText.includes('SLOW_ABORT'));
    await vi.waitFor(() => expect(fake.aborts).toContain(sent?.requestId));
  });

  it('does not start a statement whose signal has already aborted', async () => {
    const before = fake.statements.length;
    const error = await failure(warehouse.query('SELECT 1 AS NEVER_SENT', [], { signal: AbortSignal.abort() }));
    expect(error.kind).toBe('aborted');
    expect(fake.statements.length).toBe(before);
  });
});

describe('transactions', () => {
  // The `statements` carrier (SNOWFLAKE_WRITE_CARRIER): BEGIN, each statement, COMMIT. The one-request carriers
  // are tested in snowflake-write-carrier.test.ts.
  let statementsCarrier: Warehouse;
  beforeAll(async () => {
    await warehouse.execute('CREATE TABLE IF NOT EXISTS LEDGER (ID INTEGER, NOTE VARCHAR)');
    statementsCarrier = await openSnowflakeWarehouse(settings({ writeCarrier: 'statements' }), silentLog);
  });
  afterAll(async () => statementsCarrier?.close());

  it('with the statements carrier, commits all statements on one session in n + 2 round trips', async () => {
    const before = { ...statementsCarrier.counters };
    const results = await statementsCarrier.transaction([
      { sql: 'INSERT INTO LEDGER (ID, NOTE) SELECT ?, ?', binds: [1, 'one'] },
      { sql: 'INSERT INTO LEDGER (ID, NOTE) SELECT ?, ?', binds: [2, 'two'] },
    ]);
    expect(results).toEqual([{ rowsAffected: 1 }, { rowsAffected: 1 }]);
    expect(statementsCarrier.counters.roundTrips - before.roundTrips).toBe(4);
    expect(statementsCarrier.counters.statements - before.statements).toBe(4);
    const sent = fake.statements.slice(-4);
    expect(sent.map((statement) => statement.sqlText.split(' ')[0])).toEqual(['BEGIN', 'INSERT', 'INSERT', 'COMMIT']);
    expect(new Set(sent.map((statement) => statement.sessionId)).size).toBe(1);
    expect(await warehouse.query('SELECT COUNT(*) AS N FROM LEDGER')).toEqual([{ N: 2 }]);
  });

  it('with the statements carrier, rolls back and rejects when a statement fails', async () => {
    const error = await failure(
      statementsCarrier.transaction([
        { sql: 'INSERT INTO LEDGER (ID, NOTE) SELECT ?, ?', binds: [3, 'three'] },
        { sql: 'INSERT INTO NO_SUCH_TABLE (ID) SELECT ?', binds: [4] },
      ]),
    );
    expect(error.code).toBe('002003');
    expect(fake.statements.at(-1)?.sqlText).toBe('ROLLBACK');
    expect(await warehouse.query('SELECT COUNT(*) AS N FROM LEDGER WHERE ID = ?', [3])).toEqual([{ N: 0 }]);
  });

  it('withTransaction holds one session and rolls back when the work throws', async () => {
    const thrown = new Error('work failed');
    const outcome = await warehouse
      .withTransaction(async (scope) => {
        await scope.execute('INSERT INTO LEDGER (ID, NOTE) SELECT ?, ?', [5, 'five']);
        const [seen] = await scope.query('SELECT COUNT(*) AS N FROM LEDGER WHERE ID = ?', [5]);
        expect(seen).toEqual({ N: 1 });
        throw thrown;
      })
      .catch((error: unknown) => error);
    expect(outcome).toBe(thrown);
    expect(await warehouse.query('SELECT COUNT(*) AS N FROM LEDGER WHERE ID = ?', [5])).toEqual([{ N: 0 }]);
  });
});

describe('driver logging', () => {
  it('sends the driver log to pino and writes no snowflake.log', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(chunk.toString('utf8'));
        callback();
      },
    });
    // The driver logs a failed login at WARN or above.
    await failure(openSnowflakeWarehouse(settings({ password: 'wrong-password-xyz' }), createLogger('debug', sink)));
    expect(process.cwd()).toBe(dir.path);
    // The driver's own file logger (winston) creates snowflake.log asynchronously: give it time to appear.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(existsSync(join(dir.path, 'snowflake.log'))).toBe(false);
    expect(lines.some((line) => line.includes('"component":"snowflake-sdk"'))).toBe(true);
    expect(lines.join('')).not.toContain('wrong-password-xyz');
  });
});
