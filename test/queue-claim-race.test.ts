// Claims racing for the same due jobs: two connections on DuckDB, two Snowflake sessions through the real
// driver and the fake endpoint, and the READ COMMITTED case Snowflake allows (a second claim UPDATE that
// began before the first committed overwrites its token), each job ending with exactly one holder.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import type { SnowflakeSettings } from '../src/config.js';
import { migrate } from '../src/db/migrations.js';
import { openSnowflakeWarehouse } from '../src/db/snowflake.js';
import type { Warehouse } from '../src/db/warehouse.js';
import { Processor } from '../src/processor/processor.js';
import { claimBatch, type ClaimResult } from '../src/queue/claim.js';
import { enqueueJob } from '../src/queue/enqueue.js';
import { createServices, type Services } from '../src/services.js';
import { openTestDatabase, silentLog, testConfig, type TestDatabase } from './support/embedded.js';
import { controlledRegistry, createControlledTables, succeedAll } from './support/controlled-types.js';
import { FakeSnowflake, fakeSnowflakeSettings } from './support/fake-snowflake.js';
import { HookedWarehouse } from './support/hooked-warehouse.js';
import { insertTests, servicesFor } from './support/processor-fixtures.js';

const END = new Date('2026-01-15T11:00:00.000Z');
const LEASE_MS = 600_000;
const JOBS = 12;

async function enqueueDueJobs(services: Services, warehouse: Warehouse, prefix: string, count = JOBS): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(2, '0')}`);
  await insertTests(warehouse, ids.map((testId) => ({ testId, runId: 'r' })));
  const jobs: string[] = [];
  for (const testId of ids) {
    const result = await enqueueJob(services, { test_id: testId, run_id: 'r', table_type: 'STANDARD', test_end_time: END });
    jobs.push(result.job_id!);
  }
  return jobs;
}

/**
 * Two claimers take batches of `limit` at once, again and again, until nothing is due. Returns every claim's
 * result per claimer; fails the test when a claimer throws.
 */
async function race(claimers: Warehouse[], now: Date, limit: number): Promise<ClaimResult[][]> {
  const results: ClaimResult[][] = claimers.map(() => []);
  for (let round = 0; round < 4 * JOBS; round += 1) {
    const batch = await Promise.all(
      claimers.map((warehouse, i) => claimBatch(warehouse, { now, leaseMs: LEASE_MS, limit, claimedBy: `claimer-${i}` })),
    );
    batch.forEach((result, i) => results[i]!.push(result));
    if (batch.every((result) => result.jobs.length === 0 && !result.lostRace)) break;
  }
  return results;
}

/** Each job held by exactly one claimer, and the queue row carries that claimer's token and name. */
async function expectOneHolderEach(warehouse: Warehouse, jobIds: string[], results: ClaimResult[][]): Promise<void> {
  const held = results.flatMap((claims, i) => claims.flatMap((claim) => claim.jobs.map((job) => ({ job, by: `claimer-${i}` }))));
  expect(held.map(({ job }) => job.jobId).sort()).toEqual([...jobIds].sort());
  const rows = await warehouse.query('SELECT JOB_ID, CLAIM_ID, CLAIMED_BY, STATUS FROM DELAYED_ENRICHMENT_QUEUE');
  const byId = new Map(rows.map((row) => [row.JOB_ID, row]));
  for (const { job, by } of held) {
    expect(byId.get(job.jobId)).toMatchObject({ CLAIM_ID: job.claimId, CLAIMED_BY: by, STATUS: 'IN_PROGRESS' });
  }
}

/** What another instance's claim writes on a job's row: its own token and name. */
async function takeOver(other: Warehouse, jobId: string): Promise<void> {
  await other.execute("UPDATE DELAYED_ENRICHMENT_QUEUE SET CLAIM_ID = 'other-claim', CLAIMED_BY = 'other' WHERE JOB_ID = ?", [jobId]);
}

describe('claim races on DuckDB', () => {
  let db: TestDatabase;
  let clock: ManualClock;
  let services: Services;
  beforeEach(async () => {
    clock = new ManualClock('2026-01-15T11:00:00.000Z');
    db = await openTestDatabase(clock);
    services = servicesFor(db, clock);
  });
  afterEach(async () => db.close());

  it('two connections claiming the same due jobs: every job claimed once, by the holder of its token', async () => {
    const jobIds = await enqueueDueJobs(services, db.warehouse, 'duck');
    const connections = [await db.database.connect(), await db.database.connect()];
    const results = await race(connections, new Date(END.getTime() + 4 * 3_600_000), 5);
    await expectOneHolderEach(db.warehouse, jobIds, results);
  });

  it("a row whose token a concurrent claim overwrote after the UPDATE is a lost race, not a job", async () => {
    const jobIds = await enqueueDueJobs(services, db.warehouse, 'stale');
    const other = await db.database.connect();
    const mine = new HookedWarehouse(db.warehouse);
    let stolen: string | undefined;
    // What Snowflake lets a second claim do when its UPDATE began before ours committed: it saw the row as
    // still pending and writes its own token over ours, right after our UPDATE.
    mine.afterStatement = async (sql, binds) => {
      if (!sql.startsWith('UPDATE DELAYED_ENRICHMENT_QUEUE\nSET CLAIM_ID') || stolen !== undefined) return;
      const [row] = await other.query('SELECT JOB_ID FROM DELAYED_ENRICHMENT_QUEUE WHERE CLAIM_ID IN (?, ?) ORDER BY JOB_ID LIMIT 1', [binds[0]!, binds[1]!]);
      stolen = String(row!.JOB_ID);
      await takeOver(other, stolen);
    };
    const claim = await claimBatch(mine, { now: new Date(END.getTime() + 4 * 3_600_000), leaseMs: LEASE_MS, limit: 4, claimedBy: 'mine' });
    expect(stolen).toBeDefined();
    expect(claim.lostRace).toBe(true);
    expect(claim.jobs.map((job) => job.jobId)).not.toContain(stolen);
    expect(claim.jobs).toHaveLength(3);
    for (const job of claim.jobs) expect(job.claimId).toBe(claim.claimId);
    expect(jobIds).toContain(stolen);
  });

  it('a token overwritten after the read-back: the fence stops the first write, the job runs once', async () => {
    await createControlledTables(db.warehouse);
    await enqueueDueJobs(services, db.warehouse, 'late', 1);
    const other = await db.database.connect();
    const mine = new HookedWarehouse(await db.database.connect());
    let taken: string | undefined;
    // The other claim's token lands just after our read-back saw ours.
    mine.afterStatement = async (sql, binds) => {
      // The claim's read-back (queue/claim.ts): binds [self, claim token, rescue token].
      if (taken !== undefined || !sql.includes('WHERE q.CLAIM_ID IN (?, ?)')) return;
      const [row] = await other.query('SELECT JOB_ID FROM DELAYED_ENRICHMENT_QUEUE WHERE CLAIM_ID IN (?, ?)', [binds[1]!, binds[2]!]);
      taken = String(row!.JOB_ID);
      await takeOver(other, taken);
    };
    clock.advance(4 * 3_600_000);
    const processor = new Processor(servicesFor(db, clock, { MAX_CONCURRENT_JOBS: '1' }, mine), {
      registry: controlledRegistry(succeedAll),
      warehouse: mine,
      claimedBy: 'mine',
    });
    await processor.poll();
    await processor.idle();
    expect(taken).toBeDefined();
    expect(processor.stats.claimed).toBe(1);
    expect(processor.stats.lost).toBe(1);
    // Nothing was written on the strength of the lost claim: no attempt, no event, no type rows.
    const [row] = await db.warehouse.query('SELECT CLAIM_ID, ATTEMPTS FROM DELAYED_ENRICHMENT_QUEUE WHERE JOB_ID = ?', [taken!]);
    expect(row).toEqual({ CLAIM_ID: 'other-claim', ATTEMPTS: 0 });
    const events = await db.warehouse.query("SELECT EVENT_TYPE FROM ENRICHMENT_EVENTS WHERE JOB_ID = ? AND EVENT_TYPE <> 'job_enqueued'", [taken!]);
    expect(events).toEqual([]);
    expect(await db.warehouse.query('SELECT COUNT(*) AS N FROM TEST_TYPE_WRITES')).toEqual([{ N: 0 }]);
  });
});

describe('claim races through the Snowflake driver and the fake endpoint', () => {
  const PASSWORD = 'race-password';
  let fake: FakeSnowflake;
  const open: Warehouse[] = [];
  const settings = (): SnowflakeSettings => fakeSnowflakeSettings(fake, PASSWORD);
  const connect = async () => {
    const warehouse = await openSnowflakeWarehouse(settings(), silentLog);
    open.push(warehouse);
    return warehouse;
  };
  beforeAll(async () => {
    fake = await FakeSnowflake.start({ password: PASSWORD });
    await fake.createFlakeBenchTables();
  });
  afterAll(async () => {
    for (const warehouse of open) await warehouse.close();
    await fake?.stop();
  });

  it('two sessions claiming the same due jobs: every job claimed once, a collision is a lost race, never an error', async () => {
    const clock = new ManualClock('2026-01-15T11:00:00.000Z');
    const main = await connect();
    await migrate(main, { clock, log: { info: () => undefined, warn: () => undefined } });
    const services = createServices({
      config: testConfig(),
      clock,
      log: silentLog,
      engine: { engine: 'snowflake', warehouse: main, connect: async () => main, location: 'fake', close: async () => undefined },
    });
    const jobIds = await enqueueDueJobs(services, main, 'sf');
    const claimers = [await connect(), await connect()];
    const results = await race(claimers, new Date(END.getTime() + 4 * 3_600_000), 5);
    await expectOneHolderEach(main, jobIds, results);
    // The statements really went through the driver, each claimer on its own session.
    const claimSessions = new Set(fake.statements.filter((s) => s.sqlText.startsWith('UPDATE DELAYED_ENRICHMENT_QUEUE\nSET CLAIM_ID')).map((s) => s.sessionId));
    expect(claimSessions.size).toBe(2);
  }, 60_000);
});
