// `writeGroups` and `transaction()` on Snowflake, through the REAL snowflake-sdk against the fake endpoint on
// 127.0.0.1, once per carrier (SNOWFLAKE_WRITE_CARRIER): the fake runs the carrier's JavaScript body as Snowflake
// would (test/support/fake-procedures.ts), so these tests send the real request texts.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { SnowflakeSettings } from '../src/config.js';
import { statementsFor } from '../src/db/migrations.js';
import { openSnowflakeWarehouse } from '../src/db/snowflake.js';
import { WarehouseError, type Warehouse } from '../src/db/warehouse.js';
import { CALL_WRITE_CARRIER, carrierProcedureMigration, INLINE_WRITE_CARRIER, MAX_CARRIER_PAYLOAD_BYTES, type WriteCarrier } from '../src/db/write-carrier.js';
import { fakeSnowflakeConfig, silentLog, tempDir } from './support/embedded.js';
import { FakeSnowflake, SNOWFLAKE_CONFLICTS } from './support/fake-snowflake.js';
import { fence, insert, ledger, writeGroupContract, writes } from './support/write-group-contract.js';

const PASSWORD = 'carrier-password';
const dir = tempDir('fbde-carrier-');
const originalCwd = process.cwd();
let fake: FakeSnowflake;

/** The Snowflake settings as SNOWFLAKE_WRITE_CARRIER and the other variables give them (src/config.ts). */
function settings(writeCarrier: WriteCarrier, accessUrl = fake.url): SnowflakeSettings {
  return fakeSnowflakeConfig(accessUrl, dir.path, PASSWORD, { SNOWFLAKE_WRITE_CARRIER: writeCarrier, SNOWFLAKE_POOL_SIZE: '2' }).snowflake!;
}

/** The texts of the requests sent while `work` ran (a carrier call is one of them). */
async function requestsDuring(work: () => Promise<unknown>): Promise<string[]> {
  const before = fake.statements.length;
  await work().catch(() => undefined);
  return fake.statements.slice(before).map((statement) => statement.sqlText);
}

beforeAll(async () => {
  // The driver writes snowflake.log into the working directory unless routed elsewhere: run in a fresh one.
  process.chdir(dir.path);
  fake = await FakeSnowflake.start({ password: PASSWORD });
  // The carrier procedure as its latest migration (0011) creates it (its Snowflake text, sent through the adapter).
  const setup = await openSnowflakeWarehouse(settings('statements'), silentLog);
  try {
    const migration = carrierProcedureMigration();
    for (const text of statementsFor(migration, 'snowflake')) await setup.execute(text);
  } finally {
    await setup.close();
  }
});

afterAll(async () => {
  await fake?.stop();
  process.chdir(originalCwd);
  dir.remove();
});

/** Requests one call sends for k statements: the carriers 1, `statements` BEGIN + k + COMMIT (hand-computed). */
const REQUESTS_PER_CALL: Record<WriteCarrier, (k: number) => number> = { procedure: () => 1, inline: () => 1, statements: (k) => k + 2 };
const CARRIER_TEXT: Record<WriteCarrier, string | undefined> = { procedure: CALL_WRITE_CARRIER, inline: INLINE_WRITE_CARRIER, statements: undefined };

describe.each(['procedure', 'inline', 'statements'] as const)('write carrier %s', (carrier) => {
  let warehouse: Warehouse;
  beforeAll(async () => {
    warehouse = await openSnowflakeWarehouse(settings(carrier), silentLog);
  });
  afterAll(async () => warehouse?.close());

  writeGroupContract({
    warehouse: () => warehouse,
    conflictOn: async (sqlText) => {
      fake.failNext(new RegExp(`^${sqlText.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`), SNOWFLAKE_CONFLICTS.lockWaitAborted);
      return async () => undefined;
    },
    conflictCode: SNOWFLAKE_CONFLICTS.lockWaitAborted.code,
  });

  it(`a fenced write group is ${REQUESTS_PER_CALL[carrier](2)} request(s), counted as such and as 2 statements`, async () => {
    const before = { ...warehouse.counters };
    const sent = await requestsDuring(() => warehouse.writeGroups([{ statements: [fence('job-a', 'claim-a'), insert(7, 'seven')], fenced: true }]));
    expect(sent).toHaveLength(REQUESTS_PER_CALL[carrier](2));
    if (CARRIER_TEXT[carrier] !== undefined) expect(sent).toEqual([CARRIER_TEXT[carrier]]);
    else expect(sent.map((text) => text.split(' ')[0])).toEqual(['BEGIN', 'UPDATE', 'INSERT', 'COMMIT']);
    expect(warehouse.counters.roundTrips - before.roundTrips).toBe(REQUESTS_PER_CALL[carrier](2));
    expect(warehouse.counters.statements - before.statements).toBe(carrier === 'statements' ? 4 : 2);
    expect((await ledger(warehouse)).map((row) => row.ID)).toContain(7);
  });

  it(`transaction() with k statements: ${carrier === 'statements' ? 'k + 2 requests' : 'one request'} for k = 1, 3, 5`, async () => {
    for (const k of [1, 3, 5]) {
      const statements = Array.from({ length: k }, (_, i) => insert(200 + i, `k${k}`));
      const sent = await requestsDuring(() => warehouse.transaction(statements));
      expect(sent, `k = ${k}`).toHaveLength(REQUESTS_PER_CALL[carrier](k));
    }
  });

  it("Snowflake's rules and the fake's faults apply inside the carrier: a bound LIMIT fails its group", async () => {
    const bound = { sql: 'DELETE FROM WG_LEDGER WHERE ID IN (SELECT ID FROM WG_LEDGER ORDER BY ID LIMIT ?)', binds: [1] };
    const error = (await warehouse.writeGroups([{ statements: [insert(11, 'eleven')], fenced: false }, { statements: [bound], fenced: false }]).then(
      () => undefined,
      (reason: unknown) => reason,
    )) as WarehouseError;
    expect(error).toBeInstanceOf(WarehouseError);
    expect(error.code).toBe('001003');
    expect(error.kind).toBe('syntax');
    expect(error.group).toBe(1);
    expect((await ledger(warehouse)).map((row) => row.ID)).toEqual([100]);
  });

  it('a statement hanging inside the call is cancelled by the timeout, rolled back, and the session stays usable', async () => {
    fake.hangNext(/^INSERT INTO WG_LEDGER/);
    const before = fake.aborts.length;
    const error = (await warehouse.writeGroups([{ statements: [fence('job-a', 'claim-a'), insert(12, 'twelve')], fenced: true }], { timeoutMs: 300 }).then(
      () => undefined,
      (reason: unknown) => reason,
    )) as WarehouseError;
    expect(error).toBeInstanceOf(WarehouseError);
    expect(error.kind).toBe('timeout');
    await vi.waitFor(() => expect(fake.aborts.length).toBeGreaterThan(before));
    await vi.waitFor(async () => expect(await writes(warehouse)).toEqual({ 'job-a': 0, 'job-b': 0 }));
    expect((await ledger(warehouse)).map((row) => row.ID)).toEqual([100]);
  });

  it('a lost fence sends no statement after the fenced UPDATE', async () => {
    const inner = fake.procedureStatements.length;
    const sent = await requestsDuring(() => warehouse.writeGroups([{ statements: [fence('job-a', 'stolen'), insert(8, 'eight')], fenced: true }]));
    const executed = carrier === 'statements' ? sent : fake.procedureStatements.slice(inner).map((statement) => statement.sqlText);
    expect(executed.filter((text) => text.startsWith('INSERT'))).toEqual([]);
    expect(executed.filter((text) => text.startsWith('UPDATE'))).toHaveLength(1);
  });
});

describe('write carrier fallbacks and failures', () => {
  it('a payload above the 1 MB guidance goes out as statements (BEGIN, each, COMMIT), not as one CALL', async () => {
    const warehouse = await openSnowflakeWarehouse(settings('procedure'), silentLog);
    try {
      const big = 'x'.repeat(MAX_CARRIER_PAYLOAD_BYTES);
      const sent = await requestsDuring(() => warehouse.transaction([insert(300, big), insert(301, 'small')]));
      expect(sent.map((text) => text.split(' ')[0])).toEqual(['BEGIN', 'INSERT', 'INSERT', 'COMMIT']);
      expect((await warehouse.query<{ N: number }>('SELECT LENGTH(NOTE) AS N FROM WG_LEDGER WHERE ID = ?', [300]))[0]?.N).toBe(big.length);
    } finally {
      await warehouse.close();
    }
  });

  it("the procedure carrier before migration 0009 ran: Snowflake's unknown-function error, not retryable, nothing written", async () => {
    const bare = await FakeSnowflake.start({ password: PASSWORD });
    const warehouse = await openSnowflakeWarehouse(settings('procedure', bare.url), silentLog);
    try {
      await warehouse.execute('CREATE TABLE BARE (ID INTEGER)');
      const error = await warehouse.transaction([{ sql: 'INSERT INTO BARE (ID) SELECT ?', binds: [1] }]).then(
        () => undefined,
        (reason: unknown) => reason,
      );
      expect(error).toBeInstanceOf(WarehouseError);
      expect((error as WarehouseError).code).toBe('002141');
      expect((error as WarehouseError).kind).toBe('not_found');
      expect((error as WarehouseError).retryable).toBe(false);
      expect(await warehouse.query('SELECT COUNT(*) AS N FROM BARE')).toEqual([{ N: 0 }]);
    } finally {
      await warehouse.close();
      await bare.stop();
    }
  });

  it('a statement error inside the carrier keeps its code and stays out of the message with its binds', async () => {
    const warehouse = await openSnowflakeWarehouse(settings('procedure'), silentLog);
    try {
      const secret = 'do-not-log-this-value';
      fake.failNext(/^INSERT INTO WG_LEDGER/, { code: '100038', message: `Numeric value '${secret}' is not recognized`, sqlState: '22018' });
      const error = (await warehouse.writeGroups([{ statements: [fence('job-b', 'claim-b'), insert(9, secret)], fenced: true }]).then(
        () => undefined,
        (reason: unknown) => reason,
      )) as WarehouseError;
      expect(error).toBeInstanceOf(WarehouseError);
      expect(error.code).toBe('100038');
      expect(error.sqlState).toBe('22018');
      expect(error.group).toBe(0);
      expect(error.message).toContain('Numeric value');
      expect(error.message).not.toContain(secret);
      expect(await writes(warehouse)).toMatchObject({ 'job-b': 0 });
    } finally {
      await warehouse.close();
    }
  });
});
