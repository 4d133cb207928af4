// Several processors, each on its own connection to one database file, racing one backlog.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { Processor } from '../src/processor/processor.js';
import { enqueueJob } from '../src/queue/enqueue.js';
import { openTestDatabase, type TestDatabase } from './support/embedded.js';
import { controlledRegistry, createControlledTables, ROWS_PER_TYPE, succeedAll, type BatchedReads } from './support/controlled-types.js';
import { insertTests, servicesFor } from './support/processor-fixtures.js';

const JOBS = 500;
const PROCESSORS = 3;
const END = new Date('2026-01-15T11:00:00.000Z');

// Without batches (one job per claim slot), and with them: each processor claims up to 3 × 50 jobs at once and
// sends the reads and fenced writes of the jobs due together as one call (statement-batcher.ts).
describe.each<{ batches: 'off' | 'on'; env: Record<string, string> }>([
  { batches: 'off', env: { MAX_CONCURRENT_JOBS: '8' } },
  { batches: 'on', env: { MAX_CONCURRENT_JOBS: '3', CLAIM_BATCH_SIZE: '50' } },
])('processors racing one backlog, batches $batches', ({ batches, env }) => {
  let db: TestDatabase;
  const clock = new ManualClock('2026-01-15T11:00:00.000Z');
  beforeAll(async () => {
    db = await openTestDatabase(clock);
    await createControlledTables(db.warehouse);
  });
  afterAll(async () => db.close());

  it(`${PROCESSORS} processors run every type of ${JOBS} jobs exactly once`, async () => {
    const ids = Array.from({ length: JOBS }, (_, i) => `race-${batches}-${String(i).padStart(4, '0')}`);
    await insertTests(db.warehouse, ids.map((testId) => ({ testId, runId: 'r' })));
    const enqueuer = servicesFor(db, clock);
    for (const testId of ids) await enqueueJob(enqueuer, { test_id: testId, run_id: 'r', table_type: 'STANDARD', test_end_time: END });
    clock.advance(4 * 3_600_000);

    const reads: BatchedReads = { calls: 0, jobs: 0 };
    const processors = await Promise.all(
      Array.from({ length: PROCESSORS }, async (_, i) => {
        const warehouse = await db.database.connect();
        const services = servicesFor(db, clock, env, warehouse);
        const registry = controlledRegistry(succeedAll, undefined, batches === 'on' ? reads : undefined);
        return new Processor(services, { registry, warehouse, claimedBy: `proc-${batches}-${i}` });
      }),
    );
    const pending = async () =>
      Number((await db.warehouse.query(`SELECT COUNT(*) AS N FROM DELAYED_ENRICHMENT_QUEUE WHERE STATUS <> 'COMPLETED'`))[0]!.N);
    while ((await pending()) > 0) {
      await Promise.all(processors.map((processor) => processor.poll()));
      await Promise.all(processors.map((processor) => processor.idle()));
    }

    const [writes] = await db.warehouse.query(
      'SELECT COUNT(*) AS N, COUNT(DISTINCT JOB_ID || ENRICHMENT_TYPE) AS DISTINCT_N FROM TEST_TYPE_WRITES',
    );
    expect(writes).toEqual({ N: JOBS * 3, DISTINCT_N: JOBS * 3 });
    const [rows] = await db.warehouse.query('SELECT COUNT(*) AS N FROM TEST_TYPE_ROWS');
    expect(rows!.N).toBe(JOBS * 3 * ROWS_PER_TYPE);
    const claims = await db.warehouse.query(
      `SELECT JOB_ID, COUNT(*) AS N FROM ENRICHMENT_EVENTS WHERE EVENT_TYPE = 'job_claimed' GROUP BY JOB_ID HAVING COUNT(*) <> 1`,
    );
    expect(claims).toEqual([]);
    const [tests] = await db.warehouse.query(`SELECT COUNT(*) AS N FROM TEST_RESULTS WHERE DELAYED_ENRICHMENT_STATUS = 'COMPLETED'`);
    expect(tests!.N).toBe(JOBS);
    // Every processor took part and nobody lost a claim it held (leases never expired here).
    for (const processor of processors) {
      expect(processor.stats.claimed).toBeGreaterThan(0);
      expect(processor.stats.lost).toBe(0);
      expect(processor.stats.errors).toBe(0);
    }
    const claimed = processors.reduce((sum, processor) => sum + processor.stats.claimed, 0);
    expect(claimed).toBe(JOBS);
    const sum = (pick: (stats: Processor['batcher']['stats']) => number) => processors.reduce((total, processor) => total + pick(processor.batcher.stats), 0);
    if (batches === 'on') {
      // The batches really happened: nearly every read went through readMany, nearly every write shared a request
      // (a job's three types are one write group: write coalescing).
      expect(reads.jobs).toBeGreaterThanOrEqual(JOBS * 3 * 0.9);
      expect(reads.calls).toBeLessThanOrEqual((JOBS * 3) / 10);
      expect(sum((stats) => stats.batchedWriteGroups)).toBeGreaterThanOrEqual(JOBS * 0.9);
      expect(sum((stats) => stats.batchedWrites)).toBeLessThanOrEqual(JOBS / 10);
    } else {
      expect(sum((stats) => stats.batchedReads)).toBe(0);
    }
  }, 240_000);
});
