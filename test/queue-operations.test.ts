import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { Processor } from '../src/processor/processor.js';
import { runCleanup } from '../src/queue/cleanup.js';
import { enqueueJob } from '../src/queue/enqueue.js';
import { backfill, cancelJob, purgeTestEnrichment, retryJob } from '../src/queue/operations.js';
import { queueStats } from '../src/queue/stats.js';
import type { Services } from '../src/services.js';
import { HttpProblem } from '../src/http/problem.js';
import { openTestDatabase, type TestDatabase } from './support/embedded.js';
import { controlledRegistry, createControlledTables, type Script } from './support/controlled-types.js';
import { insertTests, servicesFor } from './support/processor-fixtures.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;

describe('queue operations', () => {
  let db: TestDatabase;
  let clock: ManualClock;
  let services: Services;
  beforeEach(async () => {
    clock = new ManualClock('2026-06-01T12:00:00.000Z');
    db = await openTestDatabase(clock);
    await createControlledTables(db.warehouse);
    services = servicesFor(db, clock);
  });
  afterEach(async () => db.close());

  const count = async (sqlText: string, binds: Array<string | Date> = []) => Number((await db.warehouse.query(sqlText, binds))[0]!.N);

  it('backfill: dry run counts, then enqueues in-range tests at low priority; beyond retention → NOT_APPLICABLE', async () => {
    const now = clock.now().getTime();
    await insertTests(db.warehouse, [
      { testId: 'recent-1', end: new Date(now - 2 * DAY), start: new Date(now - 2 * DAY - HOUR) },
      { testId: 'recent-2', end: new Date(now - 3 * DAY), tableType: 'POSTGRES' },
      { testId: 'ancient', end: new Date(now - 400 * DAY), start: new Date(now - 400 * DAY - HOUR) },
      { testId: 'outside', end: new Date(now - 600 * DAY) },
    ]);
    // FlakeBench's TEST_ID is nullable: such a row is no candidate (it cannot be enqueued by id).
    await db.warehouse.execute(
      `INSERT INTO TEST_RESULTS (TEST_ID, RUN_ID, TEST_NAME, SCENARIO_NAME, TABLE_NAME, TABLE_TYPE, STATUS, START_TIME, END_TIME, CONCURRENT_CONNECTIONS)
       SELECT NULL, 'run-without-test-id', 'n', 's', 'T', 'STANDARD', 'COMPLETED', CAST(? AS TIMESTAMP_NTZ), CAST(? AS TIMESTAMP_NTZ), 1`,
      [new Date(now - 2 * DAY - HOUR), new Date(now - 2 * DAY)],
    );
    const range = { from: new Date(now - 500 * DAY), to: new Date(now) };
    const dry = await backfill(services, { ...range, dryRun: true });
    expect(dry).toMatchObject({ dry_run: true, eligible: 3, beyond_retention: 1, enqueued: 0 });
    expect(await count('SELECT COUNT(*) AS N FROM DELAYED_ENRICHMENT_QUEUE')).toBe(0);
    const real = await backfill(services, range);
    expect(real).toMatchObject({ dry_run: false, eligible: 3, enqueued: 1, not_applicable: 2 });
    const [job] = await db.warehouse.query('SELECT TEST_ID, PRIORITY FROM DELAYED_ENRICHMENT_QUEUE');
    expect(job).toEqual({ TEST_ID: 'recent-1', PRIORITY: 1000 });
    const statuses = await db.warehouse.query('SELECT TEST_ID, DELAYED_ENRICHMENT_STATUS AS S FROM TEST_RESULTS WHERE TEST_ID IS NOT NULL ORDER BY TEST_ID');
    expect(statuses).toEqual([
      { TEST_ID: 'ancient', S: 'NOT_APPLICABLE' },
      { TEST_ID: 'outside', S: null },
      { TEST_ID: 'recent-1', S: 'PENDING' },
      { TEST_ID: 'recent-2', S: 'NOT_APPLICABLE' },
    ]);
    await expect(backfill(services, { from: new Date(now), to: new Date(now - DAY) })).rejects.toThrow(/from must be before to/);
  });

  it('purge removes one test’s enrichment rows and job and resets its summary columns', async () => {
    await insertTests(db.warehouse, [{ testId: 'p1', runId: 'r' }, { testId: 'p2', runId: 'r' }]);
    for (const testId of ['p1', 'p2']) {
      await enqueueJob(services, { test_id: testId, run_id: 'r', table_type: 'STANDARD', test_end_time: new Date(clock.now().getTime() - 5 * HOUR) });
      await db.warehouse.execute(
        `INSERT INTO AGGREGATE_TEST_METRICS (TEST_ID, RUN_ID, QUERY_COUNT) VALUES (?, 'r', 10)`,
        [testId],
      );
    }
    await db.warehouse.execute(`UPDATE TEST_RESULTS SET QUERY_INSIGHTS_COUNT = 4`);
    const counts = await purgeTestEnrichment(services, 'p1');
    expect(counts).toMatchObject({ jobs: 1, aggregate_test_metrics: 1, test_results: 1 });
    expect(await count(`SELECT COUNT(*) AS N FROM DELAYED_ENRICHMENT_QUEUE WHERE TEST_ID = 'p1'`)).toBe(0);
    expect(await count(`SELECT COUNT(*) AS N FROM DELAYED_ENRICHMENT_QUEUE WHERE TEST_ID = 'p2'`)).toBe(1);
    const rows = await db.warehouse.query('SELECT TEST_ID, DELAYED_ENRICHMENT_STATUS AS S, QUERY_INSIGHTS_COUNT AS Q FROM TEST_RESULTS ORDER BY 1');
    expect(rows).toEqual([
      { TEST_ID: 'p1', S: null, Q: null },
      { TEST_ID: 'p2', S: 'PENDING', Q: 4 },
    ]);
  });

  it('cleanup: old terminal jobs, expired insights, old events and orphans, at most 1000 rows a pass', async () => {
    const now = clock.now();
    await insertTests(db.warehouse, [{ testId: 'kept', runId: 'r' }, { testId: 'old', runId: 'r' }]);
    for (const testId of ['kept', 'old']) {
      await enqueueJob(services, { test_id: testId, run_id: 'r', table_type: 'STANDARD', test_end_time: new Date(now.getTime() - 5 * HOUR) });
    }
    await db.warehouse.execute(
      `UPDATE DELAYED_ENRICHMENT_QUEUE SET STATUS = 'COMPLETED', COMPLETED_AT = CAST(? AS TIMESTAMP_NTZ) WHERE TEST_ID = 'old'`,
      [new Date(now.getTime() - 40 * DAY)],
    );
    // Orphans: rows of a test that is no longer in TEST_RESULTS.
    await db.warehouse.execute(`INSERT INTO AGGREGATE_TEST_METRICS (TEST_ID, RUN_ID, QUERY_COUNT) VALUES ('gone', 'r', 1)`);
    await db.warehouse.execute(
      `INSERT INTO QUERY_INSIGHTS_CACHE (INSIGHT_ID, TEST_ID, RUN_ID, INSIGHT_TYPE, RECOMMENDATION, EXPIRES_AT)
       VALUES ('i1', 'kept', 'r', 'X', 'y', CAST(? AS TIMESTAMP_NTZ)), ('i2', 'kept', 'r', 'X', 'y', CAST(? AS TIMESTAMP_NTZ))`,
      [new Date(now.getTime() - DAY), new Date(now.getTime() + DAY)],
    );
    await db.warehouse.execute(
      `INSERT INTO ENRICHMENT_EVENTS (EVENT_TYPE, OCCURRED_AT) SELECT 'job_enqueued', CAST(? AS TIMESTAMP_NTZ) FROM range(1200)`,
      [new Date(now.getTime() - 60 * DAY)],
    );
    const first = await runCleanup(services);
    expect(first.terminal_jobs).toBe(1);
    expect(first.expired_insights).toBe(1);
    expect(first.old_events).toBe(998);
    expect(Object.values(first).reduce((a, b) => a + b, 0)).toBe(1000);
    const second = await runCleanup(services);
    expect(second.old_events).toBe(202);
    expect(second.orphan_aggregate_test_metrics).toBe(1);
    expect(await count(`SELECT COUNT(*) AS N FROM DELAYED_ENRICHMENT_QUEUE`)).toBe(1);
    expect(await count(`SELECT COUNT(*) AS N FROM QUERY_INSIGHTS_CACHE`)).toBe(1);
  });

  it('stats: completion lag counts from when the job could complete (its last type due, or its enqueue if later)', async () => {
    const t0 = clock.now().getTime();
    await insertTests(db.warehouse, [{ testId: 'lag-1', runId: 'r' }]);
    // Enqueued one hour after the test ended. STANDARD: QUERY_HISTORY due at end + 50 min, QUERY_INSIGHTS at
    // end + 100 min, AGGREGATE at end + 195 min (3 h + the 15 min buffer), i.e. t0 + 135 min.
    await enqueueJob(services, { test_id: 'lag-1', run_id: 'r', table_type: 'STANDARD', test_end_time: new Date(t0 - HOUR) });
    clock.advance(150 * 60_000);
    const processor = new Processor(services, { registry: controlledRegistry(() => ({ kind: 'succeed' })) });
    await processor.poll();
    await processor.idle();
    const stats = await queueStats(services);
    expect(stats.depth_by_status).toMatchObject({ COMPLETED: 1 });
    // Completed at t0 + 150 min, 15 min after its last type fell due (not 160 min after its first).
    expect(stats.figures.completion_lag_seconds.value).toBe(15 * 60);
    expect(stats.figures.completion_lag_seconds.level).toBe('ok');
  });

  it('retry and cancel refuse jobs in the wrong state with a 409 naming it', async () => {
    await insertTests(db.warehouse, [{ testId: 'o1', runId: 'r' }]);
    const { job_id } = await enqueueJob(services, { test_id: 'o1', run_id: 'r', table_type: 'STANDARD', test_end_time: clock.now() });
    const retry = await retryJob(services, job_id!).catch((error: unknown) => error);
    expect(retry).toBeInstanceOf(HttpProblem);
    expect((retry as HttpProblem).statusCode).toBe(409);
    expect((retry as HttpProblem).detail).toMatch(/is PENDING/);
    await cancelJob(services, job_id!);
    await expect(cancelJob(services, job_id!)).rejects.toThrow(/already SKIPPED/);
    await expect(cancelJob(services, 'no-such-job')).rejects.toThrow(/does not exist/);
  });

  it('stats: depth by status, ready vs deferred, failure rate and attempts from real outcomes', async () => {
    const now = clock.now().getTime();
    await insertTests(db.warehouse, ['s1', 's2', 's3', 's4'].map((testId) => ({ testId, runId: 'r' })));
    for (const testId of ['s1', 's2', 's3']) {
      await enqueueJob(services, { test_id: testId, run_id: 'r', table_type: 'STANDARD', test_end_time: new Date(now - 4 * HOUR) });
    }
    await enqueueJob(services, { test_id: 's4', run_id: 'r', table_type: 'STANDARD', test_end_time: new Date(now) });
    const empty = await queueStats(services);
    expect(empty.ready).toBe(3);
    expect(empty.deferred).toBe(1);
    expect(empty.figures.failure_rate_24h.value).toBeNull();
    expect(empty.figures.failure_rate_24h.level).toBe('unknown');
    const script: Script = (job) => (job.testId === 's1' ? { kind: 'permanent' } : { kind: 'succeed' });
    const processor = new Processor(services, { registry: controlledRegistry(script) });
    clock.advance(20 * 60_000);
    await processor.poll();
    await processor.idle();
    clock.advance(10 * 60_000);
    const stats = await queueStats(services);
    expect(stats.depth_by_status).toMatchObject({ COMPLETED: 2, FAILED: 1, PENDING: 1 });
    expect(stats.figures.failure_rate_24h.value).toBeCloseTo(1 / 3);
    expect(stats.figures.failure_rate_24h.level).toBe('critical');
    expect(stats.figures.average_attempts.value).toBe(1);
    expect(stats.figures.stale_in_progress.value).toBe(0);
    expect(stats.figures.ready_depth.value).toBe(0);
    // Eligible at end + 50 min (the earliest type), 190 min before they were enqueued: the lag counts from the
    // enqueue (an old test backfilled is not late), and they completed 20 min after it.
    expect(stats.figures.completion_lag_seconds.value).toBe(20 * 60);
  });
});
