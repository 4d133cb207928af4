// With nothing due, polls must not touch the warehouse (on Snowflake each query may resume a billed
// warehouse). The hour is simulated: a ManualClock moves and the cron firings (every 5 minutes for the
// poll, hourly at :07 for discovery, the defaults) are replayed in order.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { Processor } from '../src/processor/processor.js';
import { Scheduler } from '../src/processor/scheduler.js';
import { enqueueJob } from '../src/queue/enqueue.js';
import type { Services } from '../src/services.js';
import { openTestDatabase, type TestDatabase } from './support/embedded.js';
import { controlledRegistry, createControlledTables, succeedAll } from './support/controlled-types.js';
import { insertTests, servicesFor } from './support/processor-fixtures.js';

const MINUTE = 60_000;

describe('idle processor', () => {
  let db: TestDatabase;
  let clock: ManualClock;
  let services: Services;
  let processor: Processor;
  let scheduler: Scheduler;
  beforeEach(async () => {
    clock = new ManualClock('2026-01-15T12:00:00.000Z');
    db = await openTestDatabase(clock);
    await createControlledTables(db.warehouse);
    const warehouse = await db.database.connect();
    services = servicesFor(db, clock, {}, warehouse);
    processor = new Processor(services, { registry: controlledRegistry(succeedAll), warehouse });
    scheduler = new Scheduler(services, processor);
    scheduler.start();
  });
  afterEach(async () => {
    await scheduler.stop();
    await processor.stop(0);
    await db.close();
  });

  /** Replays one simulated hour of cron firings; returns the statements the processor sent. */
  async function simulateHour(): Promise<number> {
    const before = processor.warehouse.counters.statements;
    for (let minute = 1; minute <= 60; minute += 1) {
      clock.advance(MINUTE);
      await new Promise((resolve) => setImmediate(resolve)); // let a due wake-up timer fire
      if (minute % 5 === 0) await processor.poll();
      if (minute === 7) await processor.discover();
      await processor.idle();
    }
    return processor.warehouse.counters.statements - before;
  }

  it('an hour with an empty queue costs at most one statement (the discovery poll)', async () => {
    await processor.poll(); // start-up look at the queue
    await processor.idle();
    expect(processor.knownNextDue).toBeNull();
    const statements = await simulateHour();
    expect(statements).toBeLessThanOrEqual(1);
    expect(processor.stats.quietPolls).toBeGreaterThanOrEqual(12);
  });

  it('a job enqueued on this instance wakes the processor at each due time, without waiting for a poll', async () => {
    await processor.poll();
    await processor.idle();
    const start = clock.now().getTime();
    await insertTests(db.warehouse, [{ testId: 'w1', runId: 'r', tableType: 'STANDARD' }]);
    // Ended 47 minutes ago: QUERY_HISTORY due in 3 minutes, QUERY_INSIGHTS in 53 (off the 5-minute grid).
    const end = new Date(start - 47 * MINUTE);
    const { job_id } = await enqueueJob(services, { test_id: 'w1', run_id: 'r', table_type: 'STANDARD', test_end_time: end });
    expect(processor.knownNextDue?.getTime()).toBe(start + 3 * MINUTE);
    for (let minute = 1; minute <= 60; minute += 1) {
      clock.advance(MINUTE);
      await new Promise((resolve) => setTimeout(resolve, 5)); // the wake-up timer fires here, not a cron poll
      await processor.idle();
    }
    const [row] = await db.warehouse.query('SELECT TYPE_STATE FROM DELAYED_ENRICHMENT_QUEUE WHERE JOB_ID = ?', [job_id]);
    const state = row!.TYPE_STATE as Record<string, { status: string; completed_at: string | null }>;
    expect(Date.parse(state.QUERY_HISTORY!.completed_at!)).toBe(start + 3 * MINUTE);
    expect(Date.parse(state.QUERY_INSIGHTS!.completed_at!)).toBe(start + 53 * MINUTE);
    expect(state.AGGREGATE!.status).toBe('PENDING');
  });
});
