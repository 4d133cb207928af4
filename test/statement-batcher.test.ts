// The StatementBatcher (src/processor/statement-batcher.ts) on Snowflake, through the REAL snowflake-sdk and the
// procedure carrier against the fake endpoint: the fenced writes several jobs ask for together are ONE request,
// each job still gets its own outcome (a lost fence loses only that job's write), a failing statement fails
// only its own job (the others are resent alone), and reads of a type go through one readMany.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { statementsFor } from '../src/db/migrations.js';
import { openSnowflakeWarehouse } from '../src/db/snowflake.js';
import { ROWS_FROM, rowOf, rowSetStatement, textOf } from '../src/db/row-set.js';
import { WarehouseError, type Warehouse } from '../src/db/warehouse.js';
import { CALL_WRITE_CARRIER, carrierProcedureMigration } from '../src/db/write-carrier.js';
import { ViewNotReady, type EnrichmentContext, type EnrichmentModule } from '../src/enrichment/types.js';
import { StatementBatcher } from '../src/processor/statement-batcher.js';
import { fakeSnowflakeConfig, silentLog, tempDir } from './support/embedded.js';
import { FakeSnowflake } from './support/fake-snowflake.js';
import { createWriteGroupTables, fence, insert, ledger, writes } from './support/write-group-contract.js';

const PASSWORD = 'batcher-password';
const dir = tempDir('fbde-batcher-');
const originalCwd = process.cwd();
let fake: FakeSnowflake;
let warehouse: Warehouse;

beforeAll(async () => {
  // The driver writes snowflake.log into the working directory unless routed elsewhere: run in a fresh one.
  process.chdir(dir.path);
  fake = await FakeSnowflake.start({ password: PASSWORD });
  const config = fakeSnowflakeConfig(fake.url, dir.path, PASSWORD, { SNOWFLAKE_WRITE_CARRIER: 'procedure', SNOWFLAKE_POOL_SIZE: '1' });
  warehouse = await openSnowflakeWarehouse(config.snowflake!, silentLog);
  const migration = carrierProcedureMigration();
  for (const text of statementsFor(migration, 'snowflake')) await warehouse.execute(text);
  await createWriteGroupTables(warehouse);
});

afterAll(async () => {
  await warehouse?.close();
  await fake?.stop();
  process.chdir(originalCwd);
  dir.remove();
});

beforeEach(async () => {
  await warehouse.execute('DELETE FROM WG_QUEUE');
  await warehouse.execute('DELETE FROM WG_LEDGER');
  await warehouse.execute("INSERT INTO WG_QUEUE (JOB_ID, CLAIM_ID, WRITES) SELECT v.J, v.C, 0 FROM (VALUES ('job-a', 'claim-a'), ('job-b', 'claim-b'), ('job-c', 'claim-c')) AS v(J, C)");
});

/** The texts of the requests the fake received while `work` ran. */
async function requestsDuring<T>(work: () => Promise<T>): Promise<{ sent: string[]; result: T }> {
  const before = fake.statements.length;
  const result = await work();
  return { sent: fake.statements.slice(before).map((statement) => statement.sqlText), result };
}

const settle = <T>(promise: Promise<T>) => promise.then((value) => ({ value }), (error: unknown) => ({ error }));

describe('StatementBatcher writes through the Snowflake driver', () => {
  it('three jobs\' fenced writes asked for together are one request; the job whose claim was lost writes nothing', async () => {
    const batcher = new StatementBatcher(warehouse, silentLog);
    const { sent, result } = await requestsDuring(() =>
      Promise.all([
        batcher.write({ statements: [fence('job-a', 'claim-a'), insert(1, 'a')], fenced: true }),
        batcher.write({ statements: [fence('job-b', 'stolen'), insert(2, 'b')], fenced: true }),
        batcher.write({ statements: [fence('job-c', 'claim-c'), insert(3, 'c')], fenced: true }),
      ]),
    );
    expect(sent).toEqual([CALL_WRITE_CARRIER]);
    expect(result.map((group) => group.held)).toEqual([true, false, true]);
    expect((await ledger(warehouse)).map((row) => row.ID)).toEqual([1, 3]);
    expect(await writes(warehouse)).toEqual({ 'job-a': 1, 'job-b': 0, 'job-c': 1 });
    expect(batcher.stats).toMatchObject({ batchedWrites: 1, batchedWriteGroups: 3, writeFallbacks: 0 });
  });

  it('a failing statement fails its own job only: the batch is resent one job at a time, the others are written', async () => {
    const batcher = new StatementBatcher(warehouse, silentLog);
    // Snowflake does not bind LIMIT (spec): this statement fails wherever it runs.
    const bad = { sql: 'DELETE FROM WG_LEDGER WHERE ID IN (SELECT ID FROM WG_LEDGER ORDER BY ID LIMIT ?)', binds: [1] };
    const { sent, result } = await requestsDuring(() =>
      Promise.all([
        settle(batcher.write({ statements: [fence('job-a', 'claim-a'), insert(1, 'a')], fenced: true })),
        settle(batcher.write({ statements: [fence('job-b', 'claim-b'), insert(2, 'b'), bad], fenced: true })),
        settle(batcher.write({ statements: [fence('job-c', 'claim-c'), insert(3, 'c')], fenced: true })),
      ]),
    );
    // Hand-counted: the batch (one CALL, rolled back) and then one CALL per job.
    expect(sent).toEqual(Array(4).fill(CALL_WRITE_CARRIER));
    expect('value' in result[0]! && result[0].value.held).toBe(true);
    expect('value' in result[2]! && result[2].value.held).toBe(true);
    const failure = 'error' in result[1]! ? result[1].error : undefined;
    expect(failure).toBeInstanceOf(WarehouseError);
    expect((failure as WarehouseError).kind).toBe('syntax');
    expect((await ledger(warehouse)).map((row) => row.ID)).toEqual([1, 3]);
    expect(await writes(warehouse)).toEqual({ 'job-a': 1, 'job-b': 0, 'job-c': 1 });
    expect(batcher.stats).toMatchObject({ batchedWrites: 0, writeFallbacks: 1 });
  });

  it('groups that first write different tables go in separate requests (one lock order per transaction)', async () => {
    const batcher = new StatementBatcher(warehouse, silentLog);
    const touch = { sql: 'UPDATE WG_LEDGER SET NOTE = ? WHERE ID = ?', binds: ['x', 0] };
    const { sent } = await requestsDuring(() =>
      Promise.all([
        batcher.write({ statements: [fence('job-a', 'claim-a'), insert(1, 'a')], fenced: true }),
        batcher.write({ statements: [fence('job-b', 'claim-b'), insert(2, 'b')], fenced: true }),
        batcher.write({ statements: [touch, fence('job-c', 'claim-c')], fenced: false }),
      ]),
    );
    expect(sent).toEqual([CALL_WRITE_CARRIER, CALL_WRITE_CARRIER]);
    expect(batcher.stats).toMatchObject({ batchedWrites: 1, batchedWriteGroups: 2 });
  });
});

describe('StatementBatcher merges writes of the same shape (merge-groups.ts), through the Snowflake driver', () => {
  // Row-set statements (src/db/row-set.ts) over the contract's tables: the fence is the queue UPDATE's join, the
  // ledger insert checks each row's claim. Hand-written here so the test does not depend on the runner's texts.
  const FENCE_ROWS = `UPDATE WG_QUEUE SET WRITES = WRITES + 1
FROM (SELECT ${textOf('job')} AS JOB_ID, ${textOf('claim')} AS CLAIM_ID FROM ${ROWS_FROM}) s
WHERE WG_QUEUE.JOB_ID = s.JOB_ID AND WG_QUEUE.CLAIM_ID = s.CLAIM_ID`;
  const LEDGER_ROWS = `INSERT INTO WG_LEDGER (ID, NOTE) SELECT CAST(${textOf('id')} AS INTEGER), ${textOf('note')}
FROM ${ROWS_FROM} WHERE EXISTS (SELECT 1 FROM WG_QUEUE q WHERE q.JOB_ID = ${textOf('job')} AND q.CLAIM_ID = ${textOf('claim')})`;
  const claimOf = (job: string, claim: string) => rowSetStatement(FENCE_ROWS, [rowOf({ job, claim })]);
  const ledgerRows = (job: string, claim: string, ...ids: number[]) =>
    rowSetStatement(LEDGER_ROWS, ids.map((id) => rowOf({ job, claim, id, note: job })));
  /** A statement that is no row-set statement: it stays one per job, between the merged ones. */
  const touch = (id: number) => ({ sql: 'UPDATE WG_LEDGER SET NOTE = ? WHERE ID = ?', binds: [`touched ${id}`, id] });
  const group = (job: string, claim: string, id: number) => ({ statements: [claimOf(job, claim), ledgerRows(job, claim, id, id + 10), touch(id)], fenced: true });

  /** The groups of the carrier payloads the fake received (the CALL's one bind), as [statement count per group]. */
  function payloadShapes(before: number): number[][] {
    return fake.statements.slice(before).map((statement) => (JSON.parse(String(statement.binds[0])) as Array<{ s: unknown[] }>).map((sent) => sent.s.length));
  }

  it('three jobs of one shape: one request carrying ONE group of 1 + 1 + 3 statements; each job written exactly once', async () => {
    const batcher = new StatementBatcher(warehouse, silentLog);
    const before = fake.statements.length;
    const results = await Promise.all([group('job-a', 'claim-a', 1), group('job-b', 'claim-b', 2), group('job-c', 'claim-c', 3)].map((entry) => batcher.write(entry)));
    // Hand-computed: the fence and the ledger insert merged (one each), the per-job UPDATE kept (three).
    expect(payloadShapes(before)).toEqual([[5]]);
    expect(results.map((result) => result.held)).toEqual([true, true, true]);
    // Each job's own fence count is 1; the merged insert's count is of all six rows, and says so.
    expect(results[0]!.results).toEqual([{ rowsAffected: 1 }, { rowsAffected: 6, merged: true }, { rowsAffected: 1 }]);
    expect(await ledger(warehouse)).toEqual([
      { ID: 1, NOTE: 'touched 1' },
      { ID: 2, NOTE: 'touched 2' },
      { ID: 3, NOTE: 'touched 3' },
      { ID: 11, NOTE: 'job-a' },
      { ID: 12, NOTE: 'job-b' },
      { ID: 13, NOTE: 'job-c' },
    ]);
    expect(await writes(warehouse)).toEqual({ 'job-a': 1, 'job-b': 1, 'job-c': 1 });
    expect(batcher.stats).toMatchObject({ mergedGroups: 1, mergedGroupMembers: 3, writeFallbacks: 0 });
  });

  it('one job\'s lost fence: the merged write rolls back and each job goes alone; that job writes nothing, the others once', async () => {
    const batcher = new StatementBatcher(warehouse, silentLog);
    const before = fake.statements.length;
    const results = await Promise.all([group('job-a', 'claim-a', 1), group('job-b', 'stolen', 2), group('job-c', 'claim-c', 3)].map((entry) => batcher.write(entry)));
    // The merged request (rolled back), then one request per job.
    expect(payloadShapes(before)).toEqual([[5], [3], [3], [3]]);
    expect(results.map((result) => result.held)).toEqual([true, false, true]);
    expect(results[1]!.results).toEqual([{ rowsAffected: 0 }, { rowsAffected: 0 }, { rowsAffected: 0 }]);
    expect((await ledger(warehouse)).map((row) => row.ID)).toEqual([1, 3, 11, 13]);
    expect(await writes(warehouse)).toEqual({ 'job-a': 1, 'job-b': 0, 'job-c': 1 });
    expect(batcher.stats).toMatchObject({ mergedGroups: 0, writeFallbacks: 1 });
  });

  it('a group whose counts are read (separate) and a group of another shape are not merged', async () => {
    const batcher = new StatementBatcher(warehouse, silentLog);
    const before = fake.statements.length;
    await Promise.all([
      batcher.write(group('job-a', 'claim-a', 1)),
      batcher.write({ ...group('job-b', 'claim-b', 2), separate: true }),
      batcher.write({ statements: [claimOf('job-c', 'claim-c'), ledgerRows('job-c', 'claim-c', 3)], fenced: true }),
    ]);
    expect(payloadShapes(before)).toEqual([[3, 3, 2]]);
    expect(await writes(warehouse)).toEqual({ 'job-a': 1, 'job-b': 1, 'job-c': 1 });
    expect(batcher.stats.mergedGroups).toBe(0);
  });
});

describe('StatementBatcher reads', () => {
  /** A module whose reads are counted; readMany answers each job's own read, or throws when told to. */
  function countingModule(options: { failBatch?: boolean; failJob?: string }) {
    const calls = { read: 0, readMany: 0 };
    const module: EnrichmentModule<string, string> = {
      type: 'QUERY_INSIGHTS',
      view: 'QUERY_INSIGHTS',
      async read(context) {
        calls.read += 1;
        if (context.job.testId === options.failJob) throw new Error(`bad rows for ${context.job.testId}`);
        return context.job.testId === 'late' ? new ViewNotReady('behind') : `rows of ${context.job.testId}`;
      },
      async readMany(contexts) {
        calls.readMany += 1;
        if (options.failBatch) throw new Error('batch failed');
        return contexts.map((context) => (context.job.testId === 'late' ? new ViewNotReady('behind') : `rows of ${context.job.testId}`));
      },
      transform: (source) => source,
      rowCount: () => 1,
      writeStatements: () => [],
    };
    return { module, calls };
  }

  const contextFor = (testId: string): EnrichmentContext =>
    ({
      warehouse,
      job: { testId, testEndTime: new Date('2026-01-15T10:00:00Z'), testStartTime: new Date('2026-01-15T09:00:00Z') },
      now: new Date('2026-01-15T14:00:00Z'),
      signal: new AbortController().signal,
      timeoutMs: 1000,
    }) as unknown as EnrichmentContext;

  it('reads of one type asked for together are one readMany; each job gets its own answer', async () => {
    const { module, calls } = countingModule({});
    const batcher = new StatementBatcher(warehouse, silentLog);
    const answers = await Promise.all(['t1', 'late', 't3'].map((id) => batcher.read(module, contextFor(id))));
    expect(calls).toEqual({ read: 0, readMany: 1 });
    expect(answers[0]).toBe('rows of t1');
    expect(answers[1]).toBeInstanceOf(ViewNotReady);
    expect(answers[2]).toBe('rows of t3');
  });

  it('a failed batch is read again job by job: one job\'s bad rows fail that job only', async () => {
    const { module, calls } = countingModule({ failBatch: true, failJob: 't2' });
    const batcher = new StatementBatcher(warehouse, silentLog);
    const answers = await Promise.all(['t1', 't2', 't3'].map((id) => settle(batcher.read(module, contextFor(id)))));
    expect(calls).toEqual({ read: 3, readMany: 1 });
    expect(answers[0]).toEqual({ value: 'rows of t1' });
    expect((answers[1] as { error: Error }).error.message).toBe('bad rows for t2');
    expect(answers[2]).toEqual({ value: 'rows of t3' });
    expect(batcher.stats.readFallbacks).toBe(1);
  });

  it('jobs far apart in time are read in separate batches (the view is read over each batch\'s span only)', async () => {
    const { module, calls } = countingModule({});
    const batcher = new StatementBatcher(warehouse, silentLog);
    const far = (testId: string, day: number) => {
      const context = contextFor(testId);
      const end = new Date(Date.UTC(2026, 0, day, 10));
      Object.assign(context.job, { testEndTime: end, testStartTime: new Date(end.getTime() - 3_600_000) });
      return context;
    };
    await Promise.all([far('d1a', 1), far('d1b', 1), far('d9a', 9), far('d9b', 9)].map((context) => batcher.read(module, context)));
    expect(calls).toEqual({ read: 0, readMany: 2 });
  });
});
