// GET /metrics on the real service: the Prometheus text, the queue gauges against the jobs the test made,
// and the processor's figures after jobs the test drove to known outcomes (one lost its fence mid-write:
// it must count nothing), a rescued claim, a not-ready check.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { Processor } from '../src/processor/processor.js';
import { enqueueJob } from '../src/queue/enqueue.js';
import { typeDelayMs, typesForTableType } from '../src/queue/plan.js';
import { startTestService } from './support/embedded.js';
import { controlledRegistry, createControlledTables, type Script } from './support/controlled-types.js';
import { insertTests } from './support/processor-fixtures.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

const HOUR = 3_600_000;
const STANDARD_TYPES = typesForTableType('STANDARD');

/** The value of one sample (exact label set) in Prometheus text; undefined when the series is absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels)
    .map(([key, value]) => `${key}="${value}"`)
    .sort()
    .join(',');
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const got = (match[2] ?? '')
      .split(/,(?=[a-zA-Z_]+=")/)
      .filter((part) => part !== '')
      .sort()
      .join(',');
    if (got === wanted) return Number(match[3]);
  }
  return undefined;
}

describe('GET /metrics', () => {
  let clock: ManualClock;
  let service: Service;
  beforeEach(async () => {
    clock = new ManualClock('2026-03-02T12:00:00.000Z');
    service = await startTestService({ clock });
    await createControlledTables(service.services.warehouse);
  });
  afterEach(async () => service.stop());

  const scrape = async () => {
    const response = await service.app.inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    return response;
  };

  async function enqueue(testIds: string[], endMsAgo: number): Promise<Map<string, string>> {
    await insertTests(service.services.warehouse, testIds.map((testId) => ({ testId, runId: 'r' })));
    const jobs = new Map<string, string>();
    for (const testId of testIds) {
      const result = await enqueueJob(service.services, {
        test_id: testId,
        run_id: 'r',
        table_type: 'STANDARD',
        test_end_time: new Date(clock.now().getTime() - endMsAgo),
      });
      jobs.set(testId, result.job_id!);
    }
    return jobs;
  }

  it('answers Prometheus text whose queue gauges match the jobs in the queue', async () => {
    await enqueue(['q1', 'q2', 'q3'], 4 * HOUR); // due now
    await enqueue(['q4'], 0); // due in 50 minutes
    const response = await scrape();
    expect(response.headers['content-type']).toBe(service.services.metrics.registry.contentType);
    const text = response.body;
    expect(text).toContain('# TYPE fbde_jobs_claimed_total counter');
    expect(sample(text, 'fbde_queue_jobs', { status: 'PENDING' })).toBe(4);
    expect(sample(text, 'fbde_queue_jobs', { status: 'COMPLETED' })).toBe(0);
    expect(sample(text, 'fbde_queue_ready_jobs')).toBe(3);
    expect(sample(text, 'fbde_queue_deferred_jobs')).toBe(1);
    expect(sample(text, 'fbde_jobs_claimed_total')).toBe(0);
  });

  it('a scrape with fresh cached stats sends no statement; the warehouse gauge then equals the counter', async () => {
    await enqueue(['w1'], 4 * HOUR);
    await scrape(); // computes the stats once
    const before = service.services.warehouse.counters.statements;
    const text = (await scrape()).body;
    expect(service.services.warehouse.counters.statements).toBe(before);
    expect(sample(text, 'fbde_warehouse_statements', { connection: 'api' })).toBe(before);
  });

  it('counts claims, outcomes, attempts, waits and run times of processed jobs; a write that lost its fence counts nothing', async () => {
    const endAgo = 4 * HOUR;
    const jobs = await enqueue(['ok1', 'ok2', 'ok3', 'bad', 'held'], endAgo);
    let openGate: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    let heldStarted: () => void = () => undefined;
    const heldRunning = new Promise<void>((resolve) => (heldStarted = resolve));
    const script: Script = (job) => {
      if (job.testId === 'bad') return { kind: 'permanent' };
      if (job.testId === 'held') {
        heldStarted();
        return { kind: 'gate', until: gate };
      }
      return { kind: 'succeed' };
    };
    const processor = new Processor(service.services, { registry: controlledRegistry(script) });
    expect(service.services.config.maxConcurrentJobs).toBeGreaterThanOrEqual(3);
    // Claim in rounds until every job was claimed (MAX_CONCURRENT_JOBS at a time).
    const polled = processor.poll();
    await heldRunning;
    // Cancel the held job while its first type runs: its claim token is cleared, so its write loses the fence.
    const cancel = await service.app.inject({ method: 'POST', url: `/api/enrichment/jobs/${jobs.get('held')}/cancel` });
    expect(cancel.statusCode).toBe(200);
    openGate();
    await polled;
    await processor.idle();
    while ((await processor.poll()) > 0) await processor.idle();

    const text = (await scrape()).body;
    expect(sample(text, 'fbde_jobs_claimed_total')).toBe(5);
    expect(sample(text, 'fbde_claims_rescued_total')).toBe(0);
    expect(sample(text, 'fbde_jobs_finished_total', { outcome: 'COMPLETED' })).toBe(3);
    expect(sample(text, 'fbde_jobs_finished_total', { outcome: 'FAILED' })).toBe(1);
    expect(sample(text, 'fbde_jobs_finished_total', { outcome: 'SKIPPED' })).toBeUndefined();
    for (const type of STANDARD_TYPES) {
      expect(sample(text, 'fbde_enrichment_types_finished_total', { type, outcome: 'COMPLETED' }), type).toBe(3);
      expect(sample(text, 'fbde_enrichment_types_finished_total', { type, outcome: 'FAILED' }), type).toBe(1);
      // Attempts spent: three successes and one permanent failure; the held job's write was lost.
      expect(sample(text, 'fbde_enrichment_attempts_total', { type }), type).toBe(4);
      expect(sample(text, 'fbde_enrichment_run_seconds_count', { type, outcome: 'COMPLETED' }), type).toBe(3);
      // Every run started at the (manual) clock's now: waited exactly now - due = 4 h - the type's delay.
      const waitSeconds = (endAgo - typeDelayMs(service.services.config, type)) / 1000;
      expect(sample(text, 'fbde_enrichment_wait_seconds_count', { type }), type).toBe(4);
      expect(sample(text, 'fbde_enrichment_wait_seconds_sum', { type }), type).toBeCloseTo(4 * waitSeconds, 6);
    }
    // Nothing was counted for the lost write, and it wrote nothing.
    const [written] = await service.services.warehouse.query('SELECT COUNT(*) AS N FROM TEST_TYPE_WRITES WHERE JOB_ID = ?', [jobs.get('held')!]);
    expect(Number(written!.N)).toBe(0);
    // The queue gauges follow (this instance's commits invalidated the cached stats).
    expect(sample(text, 'fbde_queue_jobs', { status: 'COMPLETED' })).toBe(3);
    expect(sample(text, 'fbde_queue_jobs', { status: 'FAILED' })).toBe(1);
    expect(sample(text, 'fbde_queue_jobs', { status: 'SKIPPED' })).toBe(1);
    expect(sample(text, 'fbde_queue_jobs', { status: 'PENDING' })).toBe(0);
  });

  it('counts a claim that rescued an expired lease, and not-ready checks by type', async () => {
    const jobs = await enqueue(['orphan', 'fresh'], 4 * HOUR);
    // A claim of another (dead) instance whose lease ran out a minute ago.
    await service.services.warehouse.execute(
      `UPDATE DELAYED_ENRICHMENT_QUEUE SET STATUS = 'IN_PROGRESS', CLAIM_ID = 'dead-claim', CLAIMED_BY = 'gone:1',
         LEASE_EXPIRES_AT = CAST(? AS TIMESTAMP_NTZ) WHERE JOB_ID = ?`,
      [new Date(clock.now().getTime() - 60_000), jobs.get('orphan')!],
    );
    const script: Script = (job, type) => (job.testId === 'fresh' && type === 'AGGREGATE' ? { kind: 'not_ready' } : { kind: 'succeed' });
    const processor = new Processor(service.services, { registry: controlledRegistry(script) });
    await processor.poll();
    await processor.idle();
    const text = (await scrape()).body;
    expect(sample(text, 'fbde_jobs_claimed_total')).toBe(2);
    expect(sample(text, 'fbde_claims_rescued_total')).toBe(1);
    expect(sample(text, 'fbde_enrichment_not_ready_total', { type: 'AGGREGATE' })).toBe(1);
    expect(sample(text, 'fbde_enrichment_not_ready_total', { type: 'QUERY_HISTORY' })).toBeUndefined();
    expect(sample(text, 'fbde_enrichment_types_finished_total', { type: 'AGGREGATE', outcome: 'not_ready' })).toBe(1);
    // A not-ready check is no attempt: AGGREGATE spent one (the orphan's), QUERY_HISTORY two.
    expect(sample(text, 'fbde_enrichment_attempts_total', { type: 'AGGREGATE' })).toBe(1);
    expect(sample(text, 'fbde_enrichment_attempts_total', { type: 'QUERY_HISTORY' })).toBe(2);
    expect(sample(text, 'fbde_jobs_finished_total', { outcome: 'COMPLETED' })).toBe(1);
    expect(processor.snapshot()).toMatchObject({ jobs_claimed: 2, claims_rescued: 1, jobs_completed: 1, jobs_rescheduled: 1, jobs_failed: 0 });
  });
});
