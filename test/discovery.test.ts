// Discovery of finished FlakeBench tests (AUTO_ENQUEUE): FlakeBench does not call this service, so the
// discovery poll finds what it wrote in TEST_RESULTS. A test written by the simulator without an enqueue
// (standing in for FlakeBench and for Snowflake's views) is found and enriched to the simulator's truth;
// rows inserted directly in FlakeBench's columns that must not be found (still running, POSTGRES, outside
// the look-back window, a multi-node run's parent, first pass still running) get no job, while the control
// rows next to them do. All on the real service and a real DuckDB file.
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { Processor } from '../src/processor/processor.js';
import { VisibilityClock } from '../src/simulator/visibility.js';
import { startTestService } from './support/embedded.js';
import { INSERT_FLAKEBENCH_TEST_ROW, flakeBenchTestRowBinds, type FlakeBenchTestRow } from './support/flakebench-rows.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe('discovery of finished FlakeBench tests', () => {
  let clock: ManualClock;
  let service: Service;
  let visibility: VisibilityClock | undefined;

  async function start(env: Record<string, string> = {}) {
    clock = new ManualClock('2025-11-20T12:00:00Z');
    service = await startTestService({ clock, env: { LATENCY_SCALE: '1', ...env } });
    visibility = await VisibilityClock.bind(service.services.warehouse, clock);
  }
  afterEach(async () => {
    visibility?.stop();
    await service?.stop();
  });

  const get = async (path: string) => (await service.app.inject({ method: 'GET', url: path })).json();
  const jobTests = async () =>
    (await service.services.warehouse.query('SELECT TEST_ID FROM DELAYED_ENRICHMENT_QUEUE ORDER BY TEST_ID')).map((row) => String(row.TEST_ID));

  /** A TEST_RESULTS row as FlakeBench writes it (support/flakebench-rows.ts), inserted directly. */
  async function insertTestRow(row: FlakeBenchTestRow) {
    await service.services.warehouse.execute(INSERT_FLAKEBENCH_TEST_ROW, flakeBenchTestRowBinds(clock.now(), row));
  }

  it('enqueues a finished test nobody enqueued, and enriches it to the truth', async () => {
    await start();
    const simulated = await service.app.inject({
      method: 'POST',
      url: '/api/dev/simulate',
      payload: { enqueue: false, table_type: 'HYBRID', seed: 21, duration_minutes: 5, sessions: 2 },
    });
    expect(simulated.statusCode, simulated.body).toBe(200);
    const sim = simulated.json() as { test_id: string; truth: { overall: { query_count: number } } };
    expect((await get(`/api/tests/${sim.test_id}/delayed-enrichment-status`)).status).toBe('NOT_QUEUED');

    const processor = new Processor(service.services);
    await processor.discover();
    expect(await jobTests()).toEqual([sim.test_id]);
    // Found once: the next poll finds the job and enqueues nothing more.
    await processor.discover();
    expect(await jobTests()).toEqual([sim.test_id]);

    clock.advance(4 * HOUR);
    await visibility!.settled();
    await processor.poll();
    await processor.idle();
    expect((await get(`/api/tests/${sim.test_id}/delayed-enrichment-status`)).status).toBe('COMPLETED');
    const metrics = await get(`/api/tests/${sim.test_id}/server-metrics`);
    expect(metrics.aggregate_metrics.total_queries).toBe(sim.truth.overall.query_count);
  });

  it('leaves running, POSTGRES, too old, multi-node parents and running first passes alone', async () => {
    await start();
    await insertTestRow({ testId: 'found-finished', runId: 'found-finished', endedAgoMs: 5 * MINUTE });
    await insertTestRow({ testId: 'found-failed', runId: 'found-failed', status: 'FAILED', endedAgoMs: 5 * MINUTE, enrichmentStatus: 'FAILED' });
    await insertTestRow({ testId: 'running', runId: 'running', status: 'RUNNING', endedAgoMs: null, enrichmentStatus: null });
    await insertTestRow({ testId: 'postgres', runId: 'postgres', tableType: 'POSTGRES', endedAgoMs: 5 * MINUTE });
    await insertTestRow({ testId: 'too-old', runId: 'too-old', endedAgoMs: 8 * DAY });
    await insertTestRow({ testId: 'inside-window', runId: 'inside-window', endedAgoMs: 6 * DAY });
    // A multi-node run: the parent (TEST_ID = RUN_ID) aggregates; its child carries the queries.
    await insertTestRow({ testId: 'run-parent', runId: 'run-parent', endedAgoMs: 5 * MINUTE });
    await insertTestRow({ testId: 'run-child-1', runId: 'run-parent', endedAgoMs: 5 * MINUTE });
    await insertTestRow({ testId: 'first-pass-running', runId: 'first-pass-running', endedAgoMs: 5 * MINUTE, enrichmentStatus: 'PENDING' });
    // No first-pass status at all (older FlakeBench): found only once the test ended over an hour ago.
    await insertTestRow({ testId: 'no-pass-recent', runId: 'no-pass-recent', endedAgoMs: 10 * MINUTE, enrichmentStatus: null });
    await insertTestRow({ testId: 'no-pass-old', runId: 'no-pass-old', endedAgoMs: 2 * HOUR, enrichmentStatus: null });

    const processor = new Processor(service.services);
    await processor.discover();
    expect(await jobTests()).toEqual(['found-failed', 'found-finished', 'inside-window', 'no-pass-old', 'run-child-1']);
    // FlakeBench's rows that were not found are left as they were (no NOT_APPLICABLE written into POSTGRES rows).
    const untouched = await service.services.warehouse.query(
      `SELECT TEST_ID FROM TEST_RESULTS WHERE DELAYED_ENRICHMENT_STATUS IS NULL ORDER BY TEST_ID`,
    );
    expect(untouched.map((r) => String(r.TEST_ID))).toEqual(['first-pass-running', 'no-pass-recent', 'postgres', 'run-parent', 'running', 'too-old']);

    // The recent one without a first-pass status is found once its grace has passed.
    clock.advance(HOUR);
    await processor.discover();
    expect(await jobTests()).toContain('no-pass-recent');
    expect(await jobTests()).not.toContain('run-parent');
  });

  it('finds nothing with AUTO_ENQUEUE=false, and an idle discovery poll is one statement', async () => {
    await start({ AUTO_ENQUEUE: 'false' });
    await insertTestRow({ testId: 'would-be-found', runId: 'would-be-found', endedAgoMs: 5 * MINUTE });
    const processor = new Processor(service.services);
    const before = service.services.warehouse.counters.statements;
    await processor.discover();
    expect(service.services.warehouse.counters.statements - before).toBe(1);
    expect(await jobTests()).toEqual([]);
  });
});
