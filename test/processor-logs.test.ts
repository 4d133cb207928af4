// The processor's log lines as an operator reads them: the real service (processor on, scheduler woken by
// the enqueue and by the clock) with enrichment types whose behaviour the test controls, pino writing
// into a stream the test reads. Expected fields come from the jobs the test made and the configured delays.
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { createLogger } from '../src/logger.js';
import { Processor } from '../src/processor/processor.js';
import { typeDelayMs, typeDueAt, typesForTableType } from '../src/queue/plan.js';
import { startService, type RunningService } from '../src/service.js';
import { sourceViewName } from '../src/sources/account-usage.js';
import { tempDir, testConfig } from './support/embedded.js';
import { controlledRegistry, createControlledTables, ROWS_PER_TYPE, type Script } from './support/controlled-types.js';
import { insertTests } from './support/processor-fixtures.js';

type Line = Record<string, unknown> & { msg: string; level: number };

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const INFO = 30;
const WARN = 40;
const STANDARD_TYPES = [...typesForTableType('STANDARD')];
const PROCESSOR_MESSAGES = /^(job |enrichment type|source view|lease)/;

function logSink() {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  const text = () => chunks.join('');
  const lines = () =>
    text()
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as Line);
  return { stream, text, lines, processorLines: () => lines().filter((line) => PROCESSOR_MESSAGES.test(line.msg)) };
}

/** Waits (bounded by a number of turns, not a time limit in the assertion) until `check` holds. */
async function until(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  for (let turn = 0; turn < 4000; turn += 1) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`never happened: ${what}`);
}

describe('processor logs', () => {
  let clock: ManualClock;
  let sink: ReturnType<typeof logSink>;
  let service: RunningService;
  let dir: ReturnType<typeof tempDir>;
  // Behaviour per test id, changed by the test between rounds.
  const behaviour = new Map<string, Script>();
  const script: Script = (job, type) => behaviour.get(job.testId)?.(job, type) ?? { kind: 'succeed' };

  beforeEach(async () => {
    clock = new ManualClock('2026-05-04T09:00:00.000Z');
    sink = logSink();
    dir = tempDir();
    behaviour.clear();
    service = await startService(testConfig({ DATA_DIR: dir.path, ENRICHMENT_ENABLED: 'true' }), createLogger('info', sink.stream), {
      clock,
      registry: controlledRegistry(script),
    });
    await createControlledTables(service.services.warehouse);
  });
  afterEach(async () => {
    await service.stop();
    dir.remove();
  });

  async function enqueue(testId: string, endMsAgo: number): Promise<string> {
    await insertTests(service.services.warehouse, [{ testId, runId: 'r1' }]);
    const response = await service.app.inject({
      method: 'POST',
      url: '/api/enrichment/jobs',
      payload: { test_id: testId, run_id: 'r1', table_type: 'STANDARD', test_end_time: new Date(clock.now().getTime() - endMsAgo).toISOString() },
    });
    expect(response.statusCode).toBe(201);
    return (response.json() as { job_id: string }).job_id;
  }

  const ofJob = (jobId: string, msg: string) => sink.processorLines().filter((line) => line.job === jobId && line.msg === msg);
  const claimEnds = (jobId: string) => sink.processorLines().filter((line) => line.job === jobId && /^job (finished|released)/.test(line.msg));

  it('one info line per claim, per type finished and per job finished; warnings for a retry and for a late view', async () => {
    const endAgo = 4 * HOUR;
    const end = new Date(clock.now().getTime() - endAgo);
    let failing = true;
    behaviour.set('log-retry', (_job, type) => (type === 'QUERY_HISTORY' && failing ? { kind: 'transient' } : { kind: 'succeed' }));
    behaviour.set('log-late', (_job, type) => (type === 'AGGREGATE' ? { kind: 'not_ready' } : { kind: 'succeed' }));
    const ok = await enqueue('log-ok', endAgo);
    const retry = await enqueue('log-retry', endAgo);
    const late = await enqueue('log-late', endAgo);
    await until('three claims ended', () => [ok, retry, late].every((job) => claimEnds(job).length === 1));

    // Claims: the types due now, each on its first attempt, with its due time.
    for (const [job, testId] of [[ok, 'log-ok'], [retry, 'log-retry'], [late, 'log-late']] as const) {
      const claimed = ofJob(job, 'job claimed');
      expect(claimed, testId).toHaveLength(1);
      expect(claimed[0]).toMatchObject({
        level: INFO,
        test: testId,
        run: 'r1',
        rescued: false,
        types: STANDARD_TYPES,
        attempts: Object.fromEntries(STANDARD_TYPES.map((type) => [type, 1])),
        due: Object.fromEntries(STANDARD_TYPES.map((type) => [type, typeDueAt(service.services.config, type, end).toISOString()])),
      });
    }

    // Types finished: outcome, rows, attempt and duration; then the job with its totals.
    const okTypes = ofJob(ok, 'enrichment type finished');
    expect(okTypes.map((line) => line.type)).toEqual(STANDARD_TYPES);
    for (const line of okTypes) {
      expect(line).toMatchObject({ level: INFO, test: 'log-ok', outcome: 'COMPLETED', rows: ROWS_PER_TYPE, attempt: 1 });
      expect(typeof line.duration_ms).toBe('number');
    }
    const [okDone] = ofJob(ok, 'job finished');
    expect(okDone).toMatchObject({
      level: INFO,
      outcome: 'COMPLETED',
      rows: ROWS_PER_TYPE * STANDARD_TYPES.length,
      attempts: STANDARD_TYPES.length,
      types: Object.fromEntries(STANDARD_TYPES.map((type) => [type, 'COMPLETED'])),
    });
    expect(typeof okDone!.duration_ms).toBe('number');

    // The retry: a warning with the type, the attempt, the next due time (as stored) and the error.
    const [row] = await service.services.warehouse.query('SELECT TYPE_STATE FROM DELAYED_ENRICHMENT_QUEUE WHERE JOB_ID = ?', [retry]);
    const storedDue = (row!.TYPE_STATE as Record<string, { due_at: string }>).QUERY_HISTORY!.due_at;
    const [retryLine] = ofJob(retry, 'enrichment type failed; retry scheduled');
    expect(retryLine).toMatchObject({ level: WARN, type: 'QUERY_HISTORY', attempt: 1, next_due_at: storedDue, error: 'QUERY_HISTORY: transient failure' });
    expect(Date.parse(storedDue)).toBeGreaterThan(clock.now().getTime());
    expect(ofJob(retry, 'job finished')).toEqual([]);
    expect(ofJob(retry, 'job released; types left for later')[0]).toMatchObject({ level: INFO, next_due_at: storedDue });

    // The late view: which view, how late against the planned due time (test end + latency + buffer).
    const aggregateLate = (endAgo - typeDelayMs(service.services.config, 'AGGREGATE')) / MINUTE;
    const [lateLine] = ofJob(late, "source view not ready past the type's due time");
    expect(lateLine).toMatchObject({
      level: WARN,
      type: 'AGGREGATE',
      view: sourceViewName('AGGREGATE_QUERY_HISTORY'),
      planned_due_at: typeDueAt(service.services.config, 'AGGREGATE', end).toISOString(),
      late_minutes: aggregateLate,
    });
    expect(Date.parse(lateLine!.next_check_at as string)).toBeGreaterThan(clock.now().getTime());

    // /health says what the figures count: one job completed, two claims ended with types left for later.
    const health = async () => ((await service.app.inject({ method: 'GET', url: '/health' })).json() as { processor: Record<string, unknown> }).processor;
    // The counters move when a run has returned (just after its last line): wait for no run in flight.
    const settled = () => until('no run in flight', async () => (await health()).running_jobs === 0);
    await settled();
    expect(await health()).toMatchObject({ jobs_claimed: 3, jobs_completed: 1, jobs_rescheduled: 2, jobs_failed: 0, claims_lost: 0, claims_rescued: 0 });
    expect(await health()).not.toHaveProperty('jobs_processed');

    // Next round: the clock passes both due times; the scheduler wakes the processor.
    failing = false;
    const advance = 31 * MINUTE;
    clock.advance(advance);
    await until('the second claims ended', () => claimEnds(retry).length === 2 && claimEnds(late).length === 2);
    const [, secondClaim] = ofJob(retry, 'job claimed');
    expect(secondClaim).toMatchObject({ types: ['QUERY_HISTORY'], attempts: { QUERY_HISTORY: 2 } });
    expect(ofJob(retry, 'enrichment type finished').filter((line) => line.type === 'QUERY_HISTORY')).toEqual([
      expect.objectContaining({ outcome: 'COMPLETED', attempt: 2, rows: ROWS_PER_TYPE }),
    ]);
    expect(ofJob(retry, 'job finished')[0]).toMatchObject({ outcome: 'COMPLETED', attempts: STANDARD_TYPES.length + 1, rows: ROWS_PER_TYPE * STANDARD_TYPES.length });
    const lateLines = ofJob(late, "source view not ready past the type's due time");
    expect(lateLines.map((line) => line.late_minutes)).toEqual([aggregateLate, aggregateLate + advance / MINUTE]);
    expect(lateLines.map((line) => line.not_ready_checks)).toEqual([1, 2]);
    expect(lateLines.every((line) => !('attempt' in line))).toBe(true);
    await settled();
    expect(await health()).toMatchObject({ jobs_claimed: 5, jobs_completed: 2, jobs_rescheduled: 3 });

    // No statement text, bind value (the tests' QUERY_TAG) or credential in any line.
    const text = sink.text();
    expect(text).not.toContain('flakebench:test_id=');
    expect(text).not.toMatch(/"(sql|binds|password|token)"/);
  });

  it('an idle poll writes nothing; a claim does', async () => {
    const idle = new Processor(service.services, { registry: controlledRegistry(script) });
    const before = sink.text();
    await idle.poll(); // asks the queue once (nothing known yet): claims nothing
    await idle.poll(); // answered from memory
    await idle.discover();
    clock.advance(HOUR);
    await idle.poll();
    await idle.idle();
    expect(idle.snapshot()).toMatchObject({ polls: 4, jobs_claimed: 0 });
    expect(sink.text()).toBe(before);
    // The same sink does receive the processor's lines once there is work.
    const job = await enqueue('log-busy', 4 * HOUR);
    await until('the claim ended', () => claimEnds(job).length === 1);
    expect(ofJob(job, 'job claimed')).toHaveLength(1);
  });
});
