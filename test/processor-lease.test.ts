// Lease renewal only when the lease is at risk: every committed batch already extends the lease, so a job
// sends a renewal statement only once less than half of it is left (runner.ts, renew()). The service clock
// is manual: while it stands still the lease is never at risk, however long the type runs in real time.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { Processor } from '../src/processor/processor.js';
import { enqueueJob } from '../src/queue/enqueue.js';
import { openTestDatabase, type TestDatabase } from './support/embedded.js';
import { controlledRegistry, createControlledTables } from './support/controlled-types.js';
import { HookedWarehouse } from './support/hooked-warehouse.js';
import { insertTests, servicesFor } from './support/processor-fixtures.js';

const END = new Date('2026-01-15T11:00:00.000Z');
const LEASE_SECONDS = 6;
/** The renewal statement (processor/job-writes.ts, renewLease). */
const RENEWAL = /^UPDATE DELAYED_ENRICHMENT_QUEUE SET LEASE_EXPIRES_AT = CAST\(\? AS TIMESTAMP_NTZ\) WHERE JOB_ID = \? AND CLAIM_ID = \?$/;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('lease renewal', () => {
  let db: TestDatabase;
  let clock: ManualClock;
  beforeEach(async () => {
    clock = new ManualClock('2026-01-15T16:00:00.000Z');
    db = await openTestDatabase(clock);
    await createControlledTables(db.warehouse);
  });
  afterEach(async () => db.close());

  it('sends none while the lease holds, one once less than half is left, and the job still completes', async () => {
    await insertTests(db.warehouse, [{ testId: 'slow', runId: 'run-slow', tableType: 'STANDARD' }]);
    const services = servicesFor(db, clock, { LEASE_SECONDS: String(LEASE_SECONDS), TYPE_TIMEOUT_SECONDS: '60' });
    await enqueueJob(services, { test_id: 'slow', run_id: 'run-slow', table_type: 'STANDARD', test_end_time: END });
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const hooked = new HookedWarehouse(db.warehouse);
    const renewals: Date[] = [];
    hooked.afterStatement = (sqlText, binds) => {
      if (RENEWAL.test(sqlText.trim())) renewals.push(binds[0] as Date);
    };
    const processor = new Processor(services, {
      warehouse: hooked,
      registry: controlledRegistry((_job, type) => (type === 'QUERY_HISTORY' ? { kind: 'gate', until: gate } : { kind: 'succeed' })),
    });
    await processor.poll();
    // Renewal checks run every second (the lease / 6, at least 1 s): 2.5 s of real time is two checks.
    await sleep(2500);
    expect(renewals).toEqual([]);

    // Four of the six seconds pass on the service clock: two are left, less than half.
    clock.advance(4000);
    await sleep(1500);
    expect(renewals.length).toBeGreaterThanOrEqual(1);
    const [lease] = await db.warehouse.query<{ LEASE_EXPIRES_AT: Date }>("SELECT LEASE_EXPIRES_AT FROM DELAYED_ENRICHMENT_QUEUE WHERE TEST_ID = 'slow'");
    expect(lease?.LEASE_EXPIRES_AT.getTime()).toBe(clock.now().getTime() + LEASE_SECONDS * 1000);
    // Renewed once for the whole lease: the next checks find it safe again.
    const after = renewals.length;
    await sleep(1500);
    expect(renewals.length).toBe(after);

    open();
    await processor.idle();
    const [job] = await db.warehouse.query<{ STATUS: string }>("SELECT STATUS FROM DELAYED_ENRICHMENT_QUEUE WHERE TEST_ID = 'slow'");
    expect(job?.STATUS).toBe('COMPLETED');
    await processor.stop(1000);
  });
});
