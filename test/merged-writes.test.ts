// Set-based writes across claims (src/processor/merge-groups.ts) with the real processor, runner and batcher on
// DuckDB: jobs due together write each step with one statement for all of them, every job's rows, test columns
// and events are written exactly once and in order, and one job whose claim is taken away writes nothing
// while the others complete.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import type { GroupResult, StatementOptions, WriteGroup } from '../src/db/warehouse.js';
import { Processor } from '../src/processor/processor.js';
import { enqueueJob } from '../src/queue/enqueue.js';
import type { Services } from '../src/services.js';
import { openTestDatabase, type TestDatabase } from './support/embedded.js';
import { controlledRegistry, createControlledTables, ROWS_PER_TYPE, succeedAll } from './support/controlled-types.js';
import { HookedWarehouse } from './support/hooked-warehouse.js';
import { insertTests, servicesFor } from './support/processor-fixtures.js';

const END = new Date('2026-01-15T11:00:00.000Z');
const JOBS = 6;
const TYPES = ['AGGREGATE', 'HYBRID_CREDITS', 'LOCK_CONTENTION', 'QUERY_HISTORY', 'QUERY_INSIGHTS'];

/** Records the groups of every writeGroups call; `before` runs first (to act as a concurrent instance would). */
class RecordingWarehouse extends HookedWarehouse {
  readonly calls: WriteGroup[][] = [];
  before: ((groups: readonly WriteGroup[]) => Promise<void>) | undefined;
  override async writeGroups(groups: readonly WriteGroup[], options?: StatementOptions): Promise<GroupResult[]> {
    this.calls.push([...groups]);
    await this.before?.(groups);
    return super.writeGroups(groups, options);
  }
}

describe('merged writes across claims (DuckDB)', () => {
  let db: TestDatabase;
  let clock: ManualClock;
  let warehouse: RecordingWarehouse;
  let services: Services;
  const jobIds: string[] = [];

  beforeEach(async () => {
    clock = new ManualClock('2026-01-15T11:00:00.000Z');
    db = await openTestDatabase(clock);
    await createControlledTables(db.warehouse);
    warehouse = new RecordingWarehouse(db.warehouse);
    // One lane, every job in one claim: the six runs reach each step together.
    services = servicesFor(db, clock, { MAX_CONCURRENT_JOBS: '1', CLAIM_BATCH_SIZE: '25' }, warehouse);
    jobIds.length = 0;
    const tests = Array.from({ length: JOBS }, (_, index) => ({ testId: `m${index}`, runId: `run-m${index}`, tableType: 'HYBRID' }));
    await insertTests(db.warehouse, tests);
    for (const test of tests) {
      const { job_id } = await enqueueJob(services, { test_id: test.testId, run_id: test.runId, table_type: 'HYBRID', test_end_time: END });
      jobIds.push(job_id!);
    }
    clock.advance(200 * 60_000);
  });
  afterEach(async () => db.close());

  async function drain(): Promise<Processor> {
    const processor = new Processor(services, { registry: controlledRegistry(succeedAll) });
    await processor.poll();
    await processor.idle();
    return processor;
  }

  const eventsOf = async (jobId: string) =>
    (await db.warehouse.query('SELECT EVENT_TYPE, ENRICHMENT_TYPE FROM ENRICHMENT_EVENTS WHERE JOB_ID = ? ORDER BY SEQ', [jobId])).map(
      (row) => `${String(row.EVENT_TYPE)}${row.ENRICHMENT_TYPE ? `:${String(row.ENRICHMENT_TYPE)}` : ''}`,
    );
  const rowsOf = async (testId: string) =>
    Number((await db.warehouse.query('SELECT COUNT(*) AS N FROM TEST_TYPE_ROWS WHERE TEST_ID = ?', [testId]))[0]!.N);

  it('six jobs due together: one merged group per step, every job written exactly once, events in order', async () => {
    const processor = await drain();
    for (const [index, jobId] of jobIds.entries()) {
      const [row] = await db.warehouse.query('SELECT STATUS, CLAIM_ID, ATTEMPTS FROM DELAYED_ENRICHMENT_QUEUE WHERE JOB_ID = ?', [jobId]);
      expect(row).toEqual({ STATUS: 'COMPLETED', CLAIM_ID: null, ATTEMPTS: 5 });
      const [test] = await db.warehouse.query('SELECT DELAYED_ENRICHMENT_STATUS, AGGREGATE_ENRICHMENT_STATUS FROM TEST_RESULTS WHERE TEST_ID = ?', [`m${index}`]);
      expect(test).toEqual({ DELAYED_ENRICHMENT_STATUS: 'COMPLETED', AGGREGATE_ENRICHMENT_STATUS: 'COMPLETED' });
      expect(await rowsOf(`m${index}`)).toBe(TYPES.length * ROWS_PER_TYPE);
      // Hand-written order: enqueue, the claim, one progress per type in the controlled registry's order, the end.
      const events = await eventsOf(jobId);
      expect(events[0]).toBe('job_enqueued');
      expect(events[1]).toBe('job_claimed');
      expect(events.slice(2, -1).map((event) => event.split(':')[0])).toEqual(Array(TYPES.length).fill('enrichment_progress'));
      expect(events.slice(2, -1).map((event) => event.split(':')[1]).sort()).toEqual(TYPES);
      expect(events.at(-1)).toBe('enrichment_complete');
    }
    // The summary event read the committed columns of its own test.
    const [complete] = await db.warehouse.query("SELECT PAYLOAD FROM ENRICHMENT_EVENTS WHERE JOB_ID = ? AND EVENT_TYPE = 'enrichment_complete'", [jobIds[3]!]);
    expect((complete!.PAYLOAD as { summary: { delayed_status: string } }).summary.delayed_status).toBe('COMPLETED');
    // Each job's five types travel in one write (write coalescing, on by default), and the six jobs' writes in
    // one call: one merged group of six claims.
    const fenced = warehouse.calls.filter((groups) => groups.some((group) => group.fenced));
    expect(fenced.map((groups) => groups.map((group) => group.fenceRows))).toEqual([[JOBS]]);
    expect(processor.batcher.stats).toMatchObject({ mergedGroups: 1, mergedGroupMembers: JOBS, writeFallbacks: 0 });
  });

  it('one job\'s claim taken over before the first merged write: that job writes nothing, the other five complete', async () => {
    const victim = jobIds[2]!;
    let taken = false;
    warehouse.before = async (groups) => {
      if (taken || !groups.some((group) => (group.fenceRows ?? 1) > 1)) return;
      taken = true;
      // Another instance rescued the job: a new claim token on its row.
      await db.warehouse.execute("UPDATE DELAYED_ENRICHMENT_QUEUE SET CLAIM_ID = 'someone-else' WHERE JOB_ID = ?", [victim]);
    };
    const processor = await drain();
    expect(taken).toBe(true);
    const [lost] = await db.warehouse.query('SELECT STATUS, CLAIM_ID, ATTEMPTS FROM DELAYED_ENRICHMENT_QUEUE WHERE JOB_ID = ?', [victim]);
    // The claim's opening (attempts, IN_PROGRESS) travels with its first write, which was not written.
    expect(lost).toEqual({ STATUS: 'IN_PROGRESS', CLAIM_ID: 'someone-else', ATTEMPTS: 0 });
    expect(await rowsOf('m2')).toBe(0);
    expect(await eventsOf(victim)).toEqual(['job_enqueued']);
    const [test] = await db.warehouse.query('SELECT DELAYED_ENRICHMENT_STATUS FROM TEST_RESULTS WHERE TEST_ID = ?', ['m2']);
    expect(test!.DELAYED_ENRICHMENT_STATUS).toBe('PENDING');
    for (const [index, jobId] of jobIds.entries()) {
      if (jobId === victim) continue;
      const [row] = await db.warehouse.query('SELECT STATUS FROM DELAYED_ENRICHMENT_QUEUE WHERE JOB_ID = ?', [jobId]);
      expect(row!.STATUS).toBe('COMPLETED');
      expect(await rowsOf(`m${index}`)).toBe(TYPES.length * ROWS_PER_TYPE);
      expect((await eventsOf(jobId)).filter((event) => event.startsWith('enrichment_progress'))).toHaveLength(TYPES.length);
    }
    // The merged write failed once and went job by job (after which the five runs no longer meet in one turn).
    expect(processor.batcher.stats.writeFallbacks).toBe(1);
  });
});
