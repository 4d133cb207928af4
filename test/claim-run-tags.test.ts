// The claim reads each job's QUERY_TAG rows with it (queue/claim.ts), so the types of a claimed job find
// their tag prefixes without another statement: a child test gets its own TEST_RESULTS rows, a run's parent
// row every row of its run, a test missing from TEST_RESULTS none.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { testTagPrefixes } from '../src/enrichment/query-tags.js';
import { realModules } from '../src/enrichment/modules/index.js';
import { EnrichmentRegistry } from '../src/enrichment/registry.js';
import { Processor } from '../src/processor/processor.js';
import { claimBatch } from '../src/queue/claim.js';
import { enqueueJob } from '../src/queue/enqueue.js';
import { simulate } from '../src/simulator/simulate.js';
import { VisibilityClock } from '../src/simulator/visibility.js';
import { openTestDatabase, startTestService, type TestDatabase } from './support/embedded.js';
import { HookedWarehouse } from './support/hooked-warehouse.js';
import { insertTests, servicesFor } from './support/processor-fixtures.js';

const END = new Date('2026-01-15T11:00:00.000Z');
/** The statement a type sends when the claim did not bring the tags (enrichment/modules/scope.ts). */
const RUN_TAGS_READ = /^SELECT TEST_ID, QUERY_TAG FROM TEST_RESULTS WHERE RUN_ID = \?$/;

describe('run tags read with the claim', () => {
  let clock: ManualClock;
  let db: TestDatabase;

  beforeEach(async () => {
    clock = new ManualClock('2026-01-15T16:00:00.000Z');
    db = await openTestDatabase(clock);
  });
  afterEach(async () => {
    await db.close();
  });

  it('gives a child its own rows, the parent every row of the run, a missing test none', async () => {
    await insertTests(db.warehouse, [
      { testId: 'run-1', runId: 'run-1' },
      { testId: 'child-a', runId: 'run-1' },
      { testId: 'child-b', runId: 'run-1' },
      { testId: 'other', runId: 'run-2' },
      { testId: 'ghost', runId: 'run-1' },
    ]);
    const services = servicesFor(db, clock);
    for (const testId of ['run-1', 'child-a', 'child-b', 'ghost']) {
      await enqueueJob(services, { test_id: testId, run_id: 'run-1', table_type: 'STANDARD', test_end_time: END });
    }
    // A test whose TEST_RESULTS row is gone after it was enqueued (its job fails later; the claim still returns it).
    await db.warehouse.execute("DELETE FROM TEST_RESULTS WHERE TEST_ID = 'ghost'");
    const claim = await claimBatch(db.warehouse, { now: clock.now(), leaseMs: 60_000, limit: 10, claimedBy: 'me' });
    const byTest = new Map(claim.jobs.map((job) => [job.testId, job]));
    const tags = (testId: string) => byTest.get(testId)?.runTags?.map((row) => row.testId).sort();
    expect(tags('child-a')).toEqual(['child-a']);
    expect(tags('child-b')).toEqual(['child-b']);
    // The parent's rows: ghost's is gone, 'other' belongs to another run.
    expect(tags('run-1')).toEqual(['child-a', 'child-b', 'run-1']);
    // Each job once, however many tag rows it brought.
    expect(claim.jobs.filter((job) => job.testId === 'run-1')).toHaveLength(1);
    // The parent's prefixes cover its children, from the claimed rows alone (the rules of query-tags.ts).
    const parent = byTest.get('run-1')!;
    expect(testTagPrefixes(parent.testId, parent.runId, parent.runTags!)).toEqual(
      expect.arrayContaining(['flakebench:run_id=run-1', 'flakebench:test_id=child-a', 'flakebench:test_id=child-b']),
    );
    expect(byTest.get('ghost')?.runTags).toEqual([]);
    expect(claim.jobs).toHaveLength(4);
  });
});

describe('the claim read-back also brings the next wake-up', () => {
  it('a poll that claims fewer jobs than it has slots sends two statements and knows when to look again', async () => {
    const clock = new ManualClock('2026-01-15T16:00:00.000Z');
    const db = await openTestDatabase(clock);
    try {
      await insertTests(db.warehouse, [{ testId: 'now-due', runId: 'r' }, { testId: 'later', runId: 'r' }]);
      const services = servicesFor(db, clock);
      await enqueueJob(services, { test_id: 'now-due', run_id: 'r', table_type: 'STANDARD', test_end_time: END });
      // Ended an hour before 16:00: its first type falls due later than now.
      const later = await enqueueJob(services, { test_id: 'later', run_id: 'r', table_type: 'STANDARD', test_end_time: new Date('2026-01-15T15:30:00.000Z') });
      const [pending] = await db.warehouse.query<{ NEXT_DUE_AT: Date }>('SELECT NEXT_DUE_AT FROM DELAYED_ENRICHMENT_QUEUE WHERE JOB_ID = ?', [later.job_id!]);
      expect(pending!.NEXT_DUE_AT.getTime()).toBeGreaterThan(clock.now().getTime());

      const hooked = new HookedWarehouse(db.warehouse);
      const sent: string[] = [];
      hooked.afterStatement = (sqlText) => {
        sent.push(sqlText.trim());
      };
      const claim = await claimBatch(hooked, { now: clock.now(), leaseMs: 60_000, limit: 3, claimedBy: 'me' });
      expect(claim.jobs.map((job) => job.testId)).toEqual(['now-due']);
      expect(sent).toHaveLength(2);
      expect(claim.wake?.getTime()).toBe(pending!.NEXT_DUE_AT.getTime());
    } finally {
      await db.close();
    }
  });
});

describe('a claimed hybrid job with the real types', () => {
  it('never reads the run tags again, and matches its queries by them', async () => {
    const clock = new ManualClock('2025-11-20T12:00:00Z');
    const service = await startTestService({ clock, env: { LATENCY_SCALE: '1' } });
    const visibility = await VisibilityClock.bind(service.services.warehouse, clock);
    try {
      const s = service.services;
      const sim = await simulate(s.warehouse, { idSalt: 'run-tags', tableType: 'HYBRID', seed: 11, durationMinutes: 5, sessions: 4 }, clock.now(), s.config.latencyScale);
      const test = sim.tests[0]!;
      await enqueueJob(s, {
        test_id: test.test_id,
        run_id: sim.run_id,
        table_type: sim.table_type,
        test_end_time: sim.test_end_time,
        test_start_time: sim.test_start_time,
      });
      clock.advance(4 * 3_600_000);
      await visibility.settled();
      const hooked = new HookedWarehouse(s.warehouse);
      const sent: string[] = [];
      hooked.afterStatement = (sqlText) => {
        sent.push(sqlText.trim());
      };
      const processor = new Processor(s, { warehouse: hooked, registry: new EnrichmentRegistry(realModules()) });
      await processor.poll();
      await processor.idle();
      const [row] = await s.warehouse.query<{ STATUS: string; THROTTLED_QUERY_COUNT: number }>(
        'SELECT q.STATUS, t.THROTTLED_QUERY_COUNT FROM DELAYED_ENRICHMENT_QUEUE q JOIN TEST_RESULTS t ON t.TEST_ID = q.TEST_ID WHERE q.TEST_ID = ?',
        [test.test_id],
      );
      expect(row?.STATUS).toBe('COMPLETED');
      // The tag-matched AGGREGATE read found the test's requests (its throttles come from the tagged rows).
      expect(row?.THROTTLED_QUERY_COUNT).toBe(test.truth.overall.throttled_count);
      expect(sent.length).toBeGreaterThan(0);
      expect(sent.filter((text) => RUN_TAGS_READ.test(text))).toEqual([]);
    } finally {
      visibility.stop();
      await service.stop();
    }
  });
});
