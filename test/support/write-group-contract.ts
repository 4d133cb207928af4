// The Warehouse port's `writeGroups` contract, run against each engine (DuckDB directly; Snowflake through the
// real driver and the fake endpoint, once per carrier). Expected values are hand-computed from the port's
// definition (src/db/warehouse.ts): a fenced group writes only when its statement 0 touches exactly one row.
import { beforeAll, beforeEach, expect, it } from 'vitest';
import { WarehouseError, type Statement, type Warehouse } from '../../src/db/warehouse.js';

export interface WriteGroupFixture {
  warehouse(): Warehouse;
  /**
   * Makes the statement with exactly this text fail the next time it runs, the way a concurrent writer makes it
   * fail (a retryable conflict); returns what undoes the arrangement.
   */
  conflictOn(sqlText: string): Promise<() => Promise<void>>;
  /** The Snowflake code the conflict carries (undefined on DuckDB, whose errors have none). */
  conflictCode: string | undefined;
}

const FENCE = 'UPDATE WG_QUEUE SET WRITES = WRITES + 1 WHERE JOB_ID = ? AND CLAIM_ID = ?';
const FENCE_OF_TWO = 'UPDATE WG_QUEUE SET WRITES = WRITES + 1 WHERE (JOB_ID = ? AND CLAIM_ID = ?) OR (JOB_ID = ? AND CLAIM_ID = ?)';
const INSERT = 'INSERT INTO WG_LEDGER (ID, NOTE, WRITTEN_AT) SELECT ?, ?, CAST(? AS TIMESTAMP_NTZ)';
export const WG_TOUCH = 'UPDATE WG_LEDGER SET NOTE = ? WHERE ID = ?';

export const fence = (jobId: string, claimId: string): Statement => ({ sql: FENCE, binds: [jobId, claimId] });
export const insert = (id: number, note: string | null, at: Date | null = null): Statement => ({ sql: INSERT, binds: [id, note, at] });

/** The tables the contract writes: a queue row per job (the fence) and a ledger. Run once per database. */
export async function createWriteGroupTables(warehouse: Warehouse): Promise<void> {
  await warehouse.execute('CREATE TABLE IF NOT EXISTS WG_QUEUE (JOB_ID VARCHAR, CLAIM_ID VARCHAR, WRITES INTEGER)');
  await warehouse.execute('CREATE TABLE IF NOT EXISTS WG_LEDGER (ID INTEGER, NOTE VARCHAR, WRITTEN_AT TIMESTAMP_NTZ)');
}

async function resetTables(warehouse: Warehouse): Promise<void> {
  await warehouse.execute('DELETE FROM WG_QUEUE');
  await warehouse.execute('DELETE FROM WG_LEDGER');
  await warehouse.execute("INSERT INTO WG_QUEUE (JOB_ID, CLAIM_ID, WRITES) SELECT v.J, v.C, 0 FROM (VALUES ('job-a', 'claim-a'), ('job-b', 'claim-b')) AS v(J, C)");
  await warehouse.execute("INSERT INTO WG_LEDGER (ID, NOTE) SELECT 100, 'kept'");
}

export async function ledger(warehouse: Warehouse): Promise<Array<{ ID: number; NOTE: string | null }>> {
  return warehouse.query('SELECT ID, NOTE FROM WG_LEDGER ORDER BY ID');
}

export async function writes(warehouse: Warehouse): Promise<Record<string, number>> {
  const rows = await warehouse.query<{ JOB_ID: string; WRITES: number }>('SELECT JOB_ID, WRITES FROM WG_QUEUE ORDER BY JOB_ID');
  return Object.fromEntries(rows.map((row) => [row.JOB_ID, row.WRITES]));
}

async function rejection(promise: Promise<unknown>): Promise<WarehouseError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(WarehouseError);
  return error as WarehouseError;
}

/** Registers the contract's tests in the calling describe block. */
export function writeGroupContract(fixture: WriteGroupFixture): void {
  beforeAll(async () => createWriteGroupTables(fixture.warehouse()));
  beforeEach(async () => resetTables(fixture.warehouse()));

  it('a held fence: every statement of the group runs, with its row counts', async () => {
    const at = new Date('2026-01-15T11:00:00.123Z');
    const outcome = await fixture.warehouse().writeGroups([{ statements: [fence('job-a', 'claim-a'), insert(1, 'one', at), insert(2, null)], fenced: true }]);
    expect(outcome).toEqual([{ held: true, results: [{ rowsAffected: 1 }, { rowsAffected: 1 }, { rowsAffected: 1 }] }]);
    expect(await ledger(fixture.warehouse())).toEqual([
      { ID: 1, NOTE: 'one' },
      { ID: 2, NOTE: null },
      { ID: 100, NOTE: 'kept' },
    ]);
    expect(await fixture.warehouse().query('SELECT WRITTEN_AT FROM WG_LEDGER WHERE ID = ?', [1])).toEqual([{ WRITTEN_AT: at }]);
    expect(await writes(fixture.warehouse())).toEqual({ 'job-a': 1, 'job-b': 0 });
  });

  it('a lost fence (statement 0 touches 0 rows): nothing else runs, nothing is written, held=false', async () => {
    const outcome = await fixture.warehouse().writeGroups([{ statements: [fence('job-a', 'stolen-claim'), insert(1, 'one')], fenced: true }]);
    expect(outcome).toEqual([{ held: false, results: [{ rowsAffected: 0 }, { rowsAffected: 0 }] }]);
    expect(await ledger(fixture.warehouse())).toEqual([{ ID: 100, NOTE: 'kept' }]);
    expect(await writes(fixture.warehouse())).toEqual({ 'job-a': 0, 'job-b': 0 });
  });

  it('an unfenced group runs whatever its statement 0 touched', async () => {
    const outcome = await fixture.warehouse().writeGroups([{ statements: [fence('job-a', 'stolen-claim'), insert(1, 'one')], fenced: false }]);
    expect(outcome).toEqual([{ held: true, results: [{ rowsAffected: 0 }, { rowsAffected: 1 }] }]);
    expect(await ledger(fixture.warehouse())).toEqual([
      { ID: 1, NOTE: 'one' },
      { ID: 100, NOTE: 'kept' },
    ]);
  });

  it('two groups in one call, one fence lost: the other group commits', async () => {
    const outcome = await fixture.warehouse().writeGroups([
      { statements: [fence('job-a', 'stolen-claim'), insert(1, 'a')], fenced: true },
      { statements: [fence('job-b', 'claim-b'), insert(2, 'b')], fenced: true },
    ]);
    expect(outcome.map((group) => group.held)).toEqual([false, true]);
    expect(outcome[1]?.results).toEqual([{ rowsAffected: 1 }, { rowsAffected: 1 }]);
    expect(await ledger(fixture.warehouse())).toEqual([
      { ID: 2, NOTE: 'b' },
      { ID: 100, NOTE: 'kept' },
    ]);
    expect(await writes(fixture.warehouse())).toEqual({ 'job-a': 0, 'job-b': 1 });
  });

  it('a failure inside rolls back every group and keeps its classification and the failing group', async () => {
    const undo = await fixture.conflictOn(WG_TOUCH);
    let error: WarehouseError;
    try {
      error = await rejection(
        fixture.warehouse().writeGroups([
          { statements: [fence('job-a', 'claim-a'), insert(1, 'a')], fenced: true },
          { statements: [fence('job-b', 'claim-b'), { sql: WG_TOUCH, binds: ['touched', 100] }, insert(2, 'b')], fenced: true },
        ]),
      );
    } finally {
      await undo();
    }
    expect(error.kind).toBe('conflict');
    expect(error.retryable).toBe(true);
    expect(error.code).toBe(fixture.conflictCode);
    expect(error.group).toBe(1);
    // Group 0 had committed nothing on its own: the whole call is one transaction.
    expect(await ledger(fixture.warehouse())).toEqual([{ ID: 100, NOTE: 'kept' }]);
    expect(await writes(fixture.warehouse())).toEqual({ 'job-a': 0, 'job-b': 0 });
  });

  // WriteGroup.fenceRows (a group carrying several claims, src/processor/merge-groups.ts).
  const bothClaims = (second: string): Statement => ({ sql: FENCE_OF_TWO, binds: ['job-a', 'claim-a', 'job-b', second] });

  it('a group whose fence must touch 2 rows and does: held, everything written', async () => {
    const outcome = await fixture.warehouse().writeGroups([{ statements: [bothClaims('claim-b'), insert(1, 'a'), insert(2, 'b')], fenced: true, fenceRows: 2 }]);
    expect(outcome).toEqual([{ held: true, results: [{ rowsAffected: 2 }, { rowsAffected: 1 }, { rowsAffected: 1 }] }]);
    expect((await ledger(fixture.warehouse())).map((row) => row.ID)).toEqual([1, 2, 100]);
    expect(await writes(fixture.warehouse())).toEqual({ 'job-a': 1, 'job-b': 1 });
  });

  it('a group whose fence must touch 2 rows and touches 1: the whole call fails and rolls back, even the groups before it', async () => {
    const error = await rejection(
      fixture.warehouse().writeGroups([
        { statements: [fence('job-b', 'claim-b'), insert(3, 'earlier group')], fenced: true },
        { statements: [bothClaims('stolen'), insert(1, 'a'), insert(2, 'b')], fenced: true, fenceRows: 2 },
      ]),
    );
    expect(error.kind).toBe('conflict');
    expect(error.group).toBe(1);
    expect(error.message).toMatch(/held 1 of its 2 claims/);
    expect(await ledger(fixture.warehouse())).toEqual([{ ID: 100, NOTE: 'kept' }]);
    expect(await writes(fixture.warehouse())).toEqual({ 'job-a': 0, 'job-b': 0 });
  });

  it('transaction() is one unfenced group: row counts in order, all or nothing', async () => {
    expect(await fixture.warehouse().transaction([insert(1, 'one'), { sql: WG_TOUCH, binds: ['changed', 100] }, insert(3, 'three')])).toEqual([
      { rowsAffected: 1 },
      { rowsAffected: 1 },
      { rowsAffected: 1 },
    ]);
    expect(await ledger(fixture.warehouse())).toEqual([
      { ID: 1, NOTE: 'one' },
      { ID: 3, NOTE: 'three' },
      { ID: 100, NOTE: 'changed' },
    ]);
  });
}
