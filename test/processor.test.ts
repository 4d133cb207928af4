import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { EnrichmentRegistry } from '../src/enrichment/registry.js';
import type { EnrichmentModule } from '../src/enrichment/types.js';
import { ENRICHMENT_TYPES } from '../src/queue/plan.js';
import { Processor } from '../src/processor/processor.js';
import { probeViews } from '../src/processor/probe.js';
import { enqueueJob } from '../src/queue/enqueue.js';
import { cancelJob, retryJob } from '../src/queue/operations.js';
import { WarehouseError, type Warehouse } from '../src/db/warehouse.js';
import type { Services } from '../src/services.js';
import { openTestDatabase, type TestDatabase } from './support/embedded.js';
import { controlledModule, controlledRegistry, createControlledTables, ROWS_PER_TYPE, succeedAll, type BatchedReads, type Behaviour, type Script } from './support/controlled-types.js';
import { HookedWarehouse } from './support/hooked-warehouse.js';
import { lockOrderViolation } from '../src/db/lock-order.js';
import { insertTests, servicesFor } from './support/processor-fixtures.js';

const END = new Date('2026-01-15T11:00:00.000Z');
const MINUTE = 60_000;

describe('processor', () => {
  let db: TestDatabase;
  let clock: ManualClock;
  let services: Services;
  beforeEach(async () => {
    clock = new ManualClock('2026-01-15T11:00:00.000Z');
    db = await openTestDatabase(clock);
    await createControlledTables(db.warehouse);
    services = servicesFor(db, clock, { TYPE_TIMEOUT_SECONDS: '1' });
  });
  afterEach(async () => db.close());

  async function enqueue(testId: string, tableType = 'HYBRID') {
    await insertTests(db.warehouse, [{ testId, runId: `run-${testId}`, tableType }]);
    const result = await enqueueJob(services, { test_id: testId, run_id: `run-${testId}`, table_type: tableType, test_end_time: END });
    return result.job_id!;
  }
  const job = async (jobId: string) => (await db.warehouse.query('SELECT * FROM DELAYED_ENRICHMENT_QUEUE WHERE JOB_ID = ?', [jobId]))[0]!;
  const test = async (testId: string) => (await db.warehouse.query('SELECT * FROM TEST_RESULTS WHERE TEST_ID = ?', [testId]))[0]!;
  const state = async (jobId: string) => (await job(jobId)).TYPE_STATE as Record<string, { status: string; attempts: number; due_at: string; last_error: string | null }>;
  async function runUntilIdle(processor: Processor) {
    await processor.poll();
    await processor.idle();
  }

  it('runs every type of a due job once, completes job and test, with rising event sequence', async () => {
    const jobId = await enqueue('t1');
    clock.advance(200 * MINUTE);
    const processor = new Processor(services, { registry: controlledRegistry(succeedAll) });
    await runUntilIdle(processor);
    const row = await job(jobId);
    expect(row.STATUS).toBe('COMPLETED');
    expect(row.CLAIM_ID).toBeNull();
    expect(row.ATTEMPTS).toBe(5);
    expect((row.COMPLETED_TYPES as string[]).sort()).toEqual(['AGGREGATE', 'HYBRID_CREDITS', 'LOCK_CONTENTION', 'QUERY_HISTORY', 'QUERY_INSIGHTS']);
    const t = await test('t1');
    expect(t.DELAYED_ENRICHMENT_STATUS).toBe('COMPLETED');
    expect(t.AGGREGATE_ENRICHMENT_STATUS).toBe('COMPLETED');
    expect((t.DELAYED_ENRICHMENT_COMPLETED_AT as Date).getTime()).toBe(clock.now().getTime());
    const [rows] = await db.warehouse.query('SELECT COUNT(*) AS N FROM TEST_TYPE_ROWS WHERE TEST_ID = ?', ['t1']);
    expect(rows!.N).toBe(5 * ROWS_PER_TYPE);
    const events = await db.warehouse.query('SELECT SEQ, EVENT_TYPE, ENRICHMENT_TYPE FROM ENRICHMENT_EVENTS WHERE JOB_ID = ? ORDER BY SEQ', [jobId]);
    expect(events.map((event) => event.EVENT_TYPE)).toEqual([
      'job_enqueued',
      'job_claimed',
      ...Array(5).fill('enrichment_progress'),
      'enrichment_complete',
    ]);
    const [complete] = await db.warehouse.query(`SELECT PAYLOAD FROM ENRICHMENT_EVENTS WHERE EVENT_TYPE = 'enrichment_complete'`);
    expect(complete!.PAYLOAD).toMatchObject({
      status: 'COMPLETED',
      failed_types: [],
      summary: { delayed_status: 'COMPLETED', aggregate_status: 'COMPLETED', query_insights_count: ROWS_PER_TYPE, lock_wait_count: null },
    });
    const seqs = events.map((event) => Number(event.SEQ));
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    expect(new Set(seqs).size).toBe(seqs.length);
  });

  it('writes a job\'s types together (write coalescing): one fenced batch carries the opening and every type, in lock order', async () => {
    await enqueue('t1b', 'STANDARD');
    clock.advance(200 * MINUTE);
    const hooked = new HookedWarehouse(db.warehouse);
    const processor = new Processor(servicesFor(db, clock, {}, hooked), { registry: controlledRegistry(succeedAll), warehouse: hooked });
    await runUntilIdle(processor);
    const batches = hooked.transactions.filter((statements) => /^UPDATE DELAYED_ENRICHMENT_QUEUE\s+SET TYPE_STATE/.test(statements[0] ?? ''));
    expect(batches).toHaveLength(1);
    const only = batches[0]!;
    // The three types' own writes, the opening's test status and the final one, the release last.
    expect(only.filter((text) => text.startsWith('INSERT INTO TEST_TYPE_WRITES'))).toHaveLength(3);
    expect(only.filter((text) => /^UPDATE TEST_RESULTS\s+SET DELAYED_ENRICHMENT_STATUS/.test(text))).toHaveLength(2);
    expect(only.at(-1)).toMatch(/^UPDATE DELAYED_ENRICHMENT_QUEUE\s+SET STATUS/);
    expect(lockOrderViolation(only)).toBeUndefined();
    // The opening's AGGREGATE status (IN_PROGRESS) and AGGREGATE's own (COMPLETED, so it must come second).
    expect(only.filter((text) => /^UPDATE TEST_RESULTS SET AGGREGATE_ENRICHMENT_STATUS/.test(text))).toHaveLength(2);
    expect((await test('t1b')).AGGREGATE_ENRICHMENT_STATUS).toBe('COMPLETED');
    expect((await test('t1b')).DELAYED_ENRICHMENT_STATUS).toBe('COMPLETED');
    const [rows] = await db.warehouse.query('SELECT COUNT(*) AS N FROM TEST_TYPE_ROWS WHERE TEST_ID = ?', ['t1b']);
    expect(rows!.N).toBe(3 * ROWS_PER_TYPE);
  });

  it('with WRITE_COALESCE_SECONDS=0 sends one write batch per type: the claim\'s opening travels with the first', async () => {
    await enqueue('t1c', 'STANDARD');
    clock.advance(200 * MINUTE);
    const hooked = new HookedWarehouse(db.warehouse);
    const processor = new Processor(servicesFor(db, clock, { WRITE_COALESCE_SECONDS: '0' }, hooked), { registry: controlledRegistry(succeedAll), warehouse: hooked });
    await runUntilIdle(processor);
    // A STANDARD job runs three types; each batch starts with the fenced queue UPDATE.
    const batches = hooked.transactions.filter((statements) => /^UPDATE DELAYED_ENRICHMENT_QUEUE\s+SET TYPE_STATE/.test(statements[0] ?? ''));
    expect(batches).toHaveLength(3);
    const first = batches[0]!;
    expect(first.filter((text) => /^UPDATE TEST_RESULTS\s+SET DELAYED_ENRICHMENT_STATUS/.test(text))).toHaveLength(1);
    expect(first.some((text) => text.startsWith('INSERT INTO TEST_TYPE_WRITES'))).toBe(true);
    expect((await test('t1c')).DELAYED_ENRICHMENT_STATUS).toBe('COMPLETED');
  });

  it('a coalesced write that fails on one type\'s statement is written again type by type: that type\'s attempt fails, the others complete', async () => {
    const jobId = await enqueue('t1d', 'STANDARD');
    clock.advance(200 * MINUTE);
    const script: Script = (_job, type) => (type === 'AGGREGATE' ? { kind: 'bad_write' } : { kind: 'succeed' });
    const hooked = new HookedWarehouse(db.warehouse);
    const processor = new Processor(servicesFor(db, clock, {}, hooked), { registry: controlledRegistry(script), warehouse: hooked });
    await runUntilIdle(processor);
    const s = await state(jobId);
    expect(s.QUERY_HISTORY!.status).toBe('COMPLETED');
    expect(s.QUERY_INSIGHTS!.status).toBe('COMPLETED');
    // The write failure is AGGREGATE's first attempt, retried later (not the other types').
    expect(s.AGGREGATE!.status).toBe('PENDING');
    expect(s.AGGREGATE!.attempts).toBe(1);
    const row = await job(jobId);
    expect(row.CLAIM_ID).toBeNull();
    const history = row.ERROR_HISTORY as Array<{ type: string; attempt: number; error: string }>;
    expect(history.map((entry) => [entry.type, entry.attempt])).toEqual([['AGGREGATE', 1]]);
    expect(history[0]!.error).toMatch(/not a number|convert|cast/i);
    const written = await db.warehouse.query('SELECT ENRICHMENT_TYPE FROM TEST_TYPE_WRITES WHERE JOB_ID = ? ORDER BY ENRICHMENT_TYPE', [jobId]);
    expect(written.map((entry) => entry.ENRICHMENT_TYPE)).toEqual(['QUERY_HISTORY', 'QUERY_INSIGHTS']);
    const [rows] = await db.warehouse.query("SELECT COUNT(*) AS N FROM TEST_TYPE_ROWS WHERE TEST_ID = ? AND ENRICHMENT_TYPE <> 'AGGREGATE'", ['t1d']);
    expect(rows!.N).toBe(2 * ROWS_PER_TYPE);
  });

  it('runs each type at its own due time: QUERY_HISTORY after 50 minutes, the rest later', async () => {
    const jobId = await enqueue('t2');
    const processor = new Processor(services, { registry: controlledRegistry(succeedAll) });
    clock.advance(49 * MINUTE);
    await runUntilIdle(processor);
    expect((await job(jobId)).STATUS).toBe('PENDING');
    expect((await state(jobId)).QUERY_HISTORY!.status).toBe('PENDING');
    clock.advance(1 * MINUTE);
    await runUntilIdle(processor);
    const afterFifty = await state(jobId);
    expect(afterFifty.QUERY_HISTORY!.status).toBe('COMPLETED');
    expect(afterFifty.QUERY_INSIGHTS!.status).toBe('PENDING');
    const row = await job(jobId);
    expect(row.STATUS).toBe('PENDING');
    expect((row.NEXT_DUE_AT as Date).getTime()).toBe(END.getTime() + 100 * MINUTE);
    expect(processor.knownNextDue?.getTime()).toBe(END.getTime() + 100 * MINUTE);
    expect((await test('t2')).DELAYED_ENRICHMENT_STATUS).toBe('PENDING');
  });

  it('not-ready types spend no attempt, are rechecked, and end with a reason at the deadline', async () => {
    const jobId = await enqueue('t3', 'STANDARD');
    const script: Script = (_job, type) => (type === 'AGGREGATE' ? { kind: 'not_ready' } : { kind: 'succeed' });
    const processor = new Processor(services, { registry: controlledRegistry(script) });
    clock.advance(200 * MINUTE);
    await runUntilIdle(processor);
    let s = await state(jobId);
    expect(s.AGGREGATE!.status).toBe('PENDING');
    expect(s.AGGREGATE!.attempts).toBe(0);
    expect(Date.parse(s.AGGREGATE!.due_at)).toBe(clock.now().getTime() + 5 * MINUTE);
    expect((await test('t3')).AGGREGATE_ENRICHMENT_STATUS).toBe('PENDING');
    // Later looks are spaced out: 5, 10, 20 minutes.
    const gaps: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      clock.set(new Date(Date.parse(s.AGGREGATE!.due_at)));
      await runUntilIdle(processor);
      s = await state(jobId);
      gaps.push((Date.parse(s.AGGREGATE!.due_at) - clock.now().getTime()) / MINUTE);
    }
    expect(gaps).toEqual([10, 20, 40]);
    expect(s.AGGREGATE!.attempts).toBe(0);
    expect(s.AGGREGATE!.status).toBe('PENDING');
    clock.set(new Date(END.getTime() + 24 * 60 * MINUTE));
    await runUntilIdle(processor);
    s = await state(jobId);
    expect(s.AGGREGATE!.status).toBe('FAILED');
    expect(s.AGGREGATE!.last_error).toMatch(/not ready by the deadline .*has not caught up/);
    const row = await job(jobId);
    // Partial success (seed v0.3): completed with the failure named.
    expect(row.STATUS).toBe('COMPLETED');
    expect(row.LAST_ERROR).toMatch(/^AGGREGATE: not ready by the deadline/);
    const t = await test('t3');
    expect(t.DELAYED_ENRICHMENT_STATUS).toBe('COMPLETED');
    expect(t.DELAYED_ENRICHMENT_ERROR).toMatch(/AGGREGATE/);
    expect(t.AGGREGATE_ENRICHMENT_STATUS).toBe('FAILED');
  });

  it('retries a transient failure alone with growing, capped backoff, keeps each error, then fails', async () => {
    const jobId = await enqueue('t4', 'STANDARD');
    const script: Script = (_job, type) => (type === 'QUERY_INSIGHTS' ? { kind: 'transient' } : { kind: 'succeed' });
    const local = servicesFor(db, clock, { TYPE_TIMEOUT_SECONDS: '1', MAX_ATTEMPTS: '4' });
    const four = new Processor(local, { registry: controlledRegistry(script), backoff: { baseMs: 60_000, capMs: 150_000, jitter: 0.2 }, random: () => 0.5 });
    clock.advance(200 * MINUTE);
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 4; attempt += 1) {
      const before = clock.now().getTime();
      await runUntilIdle(four);
      const s = await state(jobId);
      expect(s.QUERY_INSIGHTS!.attempts).toBe(attempt);
      if (attempt < 4) {
        expect(s.QUERY_INSIGHTS!.status).toBe('PENDING');
        const due = Date.parse(s.QUERY_INSIGHTS!.due_at);
        delays.push(due - before);
        clock.set(new Date(due));
      }
    }
    expect(delays).toEqual([60_000, 120_000, 150_000]);
    const s = await state(jobId);
    expect(s.QUERY_INSIGHTS!.status).toBe('FAILED');
    expect(s.QUERY_HISTORY!.attempts).toBe(1);
    const row = await job(jobId);
    const history = row.ERROR_HISTORY as Array<{ type: string; attempt: number; retryable: boolean }>;
    expect(history.map((entry) => [entry.type, entry.attempt])).toEqual([
      ['QUERY_INSIGHTS', 1],
      ['QUERY_INSIGHTS', 2],
      ['QUERY_INSIGHTS', 3],
      ['QUERY_INSIGHTS', 4],
    ]);
    expect(row.STATUS).toBe('COMPLETED');
    expect(row.LAST_ERROR).toMatch(/QUERY_INSIGHTS: .*attempts exhausted: 4/);
  });

  it('ends a permanently failing type at once; nothing completed → job FAILED', async () => {
    const jobId = await enqueue('t5', 'STANDARD');
    const processor = new Processor(services, { registry: controlledRegistry(() => ({ kind: 'permanent' })) });
    clock.advance(200 * MINUTE);
    await runUntilIdle(processor);
    const s = await state(jobId);
    for (const type of ['QUERY_HISTORY', 'AGGREGATE', 'QUERY_INSIGHTS']) {
      expect(s[type]!.status).toBe('FAILED');
      expect(s[type]!.attempts).toBe(1);
    }
    const row = await job(jobId);
    expect(row.STATUS).toBe('FAILED');
    expect((await test('t5')).DELAYED_ENRICHMENT_STATUS).toBe('FAILED');
    const events = await db.warehouse.query(`SELECT EVENT_TYPE, ENRICHMENT_TYPE FROM ENRICHMENT_EVENTS WHERE JOB_ID = ? AND ENRICHMENT_TYPE IS NULL ORDER BY SEQ`, [jobId]);
    expect(events.map((event) => event.EVENT_TYPE)).toEqual(['job_enqueued', 'job_claimed', 'enrichment_failed']);
  });

  it('a type that cannot apply to the test ends NOT_APPLICABLE, which is not a failure', async () => {
    const jobId = await enqueue('t13', 'HYBRID');
    const script: Script = (_job, type) => (type === 'HYBRID_CREDITS' ? { kind: 'not_applicable' } : { kind: 'succeed' });
    const processor = new Processor(services, { registry: controlledRegistry(script) });
    clock.advance(200 * MINUTE);
    await runUntilIdle(processor);
    const s = await state(jobId);
    expect(s.HYBRID_CREDITS!.status).toBe('NOT_APPLICABLE');
    expect(s.HYBRID_CREDITS!.last_error).toMatch(/nothing to enrich/);
    const row = await job(jobId);
    expect(row.STATUS).toBe('COMPLETED');
    expect(row.LAST_ERROR).toBeNull();
    expect((await test('t13')).DELAYED_ENRICHMENT_STATUS).toBe('COMPLETED');
  });

  it('aborts a hanging type at its timeout and counts it as a transient failure', async () => {
    const jobId = await enqueue('t6', 'STANDARD');
    const script: Script = (_job, type) => (type === 'QUERY_HISTORY' ? { kind: 'hang' } : { kind: 'succeed' });
    const processor = new Processor(services, { registry: controlledRegistry(script) });
    clock.advance(200 * MINUTE);
    await runUntilIdle(processor);
    const s = await state(jobId);
    expect(s.QUERY_HISTORY!.status).toBe('PENDING');
    expect(s.QUERY_HISTORY!.attempts).toBe(1);
    expect(s.QUERY_HISTORY!.last_error).toMatch(/did not finish within 1000 ms/);
    expect(s.AGGREGATE!.status).toBe('COMPLETED');
  });

  it('a processor that lost its lease writes nothing; the new owner completes the job once', async () => {
    const jobId = await enqueue('t7', 'STANDARD');
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const slow: Script = () => ({ kind: 'gate', until: gate });
    const other = servicesFor(db, clock, {}, await db.database.connect());
    const a = new Processor(services, { registry: controlledRegistry(slow), warehouse: await db.database.connect(), claimedBy: 'a:1' });
    const b = new Processor(other, { registry: controlledRegistry(succeedAll), claimedBy: 'b:2' });
    clock.advance(200 * MINUTE);
    await a.poll();
    expect((await job(jobId)).CLAIMED_BY).toBe('a:1');
    clock.advance(services.config.leaseMs + 1);
    await b.poll();
    await b.idle();
    expect((await job(jobId)).STATUS).toBe('COMPLETED');
    open();
    await a.idle();
    expect(a.stats.lost).toBe(1);
    const writes = await db.warehouse.query('SELECT ENRICHMENT_TYPE, COUNT(*) AS N FROM TEST_TYPE_WRITES GROUP BY ENRICHMENT_TYPE ORDER BY 1');
    expect(writes).toEqual([
      { ENRICHMENT_TYPE: 'AGGREGATE', N: 1 },
      { ENRICHMENT_TYPE: 'QUERY_HISTORY', N: 1 },
      { ENRICHMENT_TYPE: 'QUERY_INSIGHTS', N: 1 },
    ]);
    const [rows] = await db.warehouse.query('SELECT COUNT(*) AS N, COUNT(DISTINCT CLAIM_ID) AS C FROM TEST_TYPE_ROWS');
    expect(rows).toEqual({ N: 3 * ROWS_PER_TYPE, C: 1 });
    const row = await job(jobId);
    expect(row.STATUS).toBe('COMPLETED');
    expect(row.CLAIMED_BY).toBe('b:2');
  });

  it('cancel marks the job SKIPPED and aborts its running work, which then writes nothing', async () => {
    const jobId = await enqueue('t8', 'STANDARD');
    const processor = new Processor(services, { registry: controlledRegistry(() => ({ kind: 'hang' })), warehouse: await db.database.connect() });
    services.signals.onAbort((id) => processor.abortJob(id));
    clock.advance(200 * MINUTE);
    await processor.poll();
    expect((await job(jobId)).STATUS).toBe('IN_PROGRESS');
    const result = await cancelJob(services, jobId);
    expect(result.status).toBe('SKIPPED');
    await processor.idle();
    expect(processor.stats.lost).toBe(1);
    const row = await job(jobId);
    expect(row.STATUS).toBe('SKIPPED');
    expect((await test('t8')).DELAYED_ENRICHMENT_STATUS).toBe('SKIPPED');
    expect(await db.warehouse.query('SELECT * FROM TEST_TYPE_WRITES')).toHaveLength(0);
    const events = await db.warehouse.query('SELECT EVENT_TYPE FROM ENRICHMENT_EVENTS WHERE JOB_ID = ? ORDER BY SEQ', [jobId]);
    // job_claimed travels with the claim's first write (runner.ts, the opening): cancelled before it, none.
    expect(events.map((event) => event.EVENT_TYPE)).toEqual(['job_enqueued', 'job_cancelled']);
  });

  it('retry puts failed types back with fresh attempts; they then complete', async () => {
    const jobId = await enqueue('t9', 'STANDARD');
    let behaviour: Behaviour = { kind: 'permanent' };
    const script: Script = (_job, type) => (type === 'AGGREGATE' ? behaviour : { kind: 'succeed' });
    const processor = new Processor(services, { registry: controlledRegistry(script) });
    clock.advance(200 * MINUTE);
    await runUntilIdle(processor);
    expect((await job(jobId)).STATUS).toBe('COMPLETED');
    expect((await state(jobId)).AGGREGATE!.status).toBe('FAILED');
    const retried = await retryJob(services, jobId);
    expect(retried.types).toEqual(['AGGREGATE']);
    expect((await test('t9')).DELAYED_ENRICHMENT_STATUS).toBe('PENDING');
    behaviour = { kind: 'succeed' };
    processor.noteDue(clock.now());
    await runUntilIdle(processor);
    const s = await state(jobId);
    expect(s.AGGREGATE!.status).toBe('COMPLETED');
    expect(s.AGGREGATE!.attempts).toBe(1);
    const row = await job(jobId);
    expect(row.STATUS).toBe('COMPLETED');
    expect(row.LAST_ERROR).toBeNull();
  });

  it('degraded mode: a type whose view the probe could not read ends with that reason', async () => {
    await db.warehouse.execute('CREATE SCHEMA IF NOT EXISTS ACCOUNT_USAGE');
    await db.warehouse.execute('DROP VIEW IF EXISTS ACCOUNT_USAGE.LOCK_WAIT_HISTORY');
    await db.warehouse.execute('DROP TABLE IF EXISTS ACCOUNT_USAGE.LOCK_WAIT_HISTORY');
    services.health.views = await probeViews(db.warehouse, clock.now());
    const lock = services.health.views.find((probe) => probe.view === 'LOCK_WAIT_HISTORY')!;
    expect(lock.readable).toBe(false);
    const jobId = await enqueue('t10', 'HYBRID');
    const processor = new Processor(services, { registry: controlledRegistry(succeedAll) });
    clock.advance(200 * MINUTE);
    await runUntilIdle(processor);
    const s = await state(jobId);
    expect(s.LOCK_CONTENTION!.status).toBe('FAILED');
    expect(s.LOCK_CONTENTION!.attempts).toBe(0);
    expect(s.LOCK_CONTENTION!.last_error).toMatch(/SNOWFLAKE\.ACCOUNT_USAGE\.LOCK_WAIT_HISTORY is not readable/);
  });

  it('a type without a registered module waits without spending attempts', async () => {
    const jobId = await enqueue('t11', 'STANDARD');
    const processor = new Processor(services, { registry: controlledRegistry(succeedAll, ['QUERY_HISTORY']) });
    clock.advance(200 * MINUTE);
    await runUntilIdle(processor);
    const s = await state(jobId);
    expect(s.QUERY_HISTORY!.status).toBe('COMPLETED');
    expect(s.AGGREGATE!.status).toBe('PENDING');
    expect(s.AGGREGATE!.attempts).toBe(0);
    expect(s.AGGREGATE!.last_error).toMatch(/no enrichment module is registered for AGGREGATE/);
  });

  it('a type interrupted by a dead claim keeps its attempt; the job is reclaimed after the lease', async () => {
    const jobId = await enqueue('t12', 'STANDARD');
    // Simulate a process that claimed, then died before its first write (which carries the attempts it
    // counted): claim with a processor whose work never ends, and forget it.
    const dead = new Processor(services, { registry: controlledRegistry(() => ({ kind: 'hang' })), warehouse: await db.database.connect(), claimedBy: 'dead:1' });
    clock.advance(200 * MINUTE);
    await dead.poll();
    expect((await job(jobId)).CLAIMED_BY).toBe('dead:1');
    expect((await state(jobId)).QUERY_HISTORY!.attempts).toBe(0);
    clock.advance(services.config.leaseMs + 1);
    const other = servicesFor(db, clock, {}, await db.database.connect());
    const alive = new Processor(other, { registry: controlledRegistry(succeedAll), claimedBy: 'alive:2' });
    await alive.poll();
    await alive.idle();
    const after = await state(jobId);
    expect(after.QUERY_HISTORY!.status).toBe('COMPLETED');
    // The dead claim's attempt is spent all the same, and the error history says it was interrupted.
    expect(after.QUERY_HISTORY!.attempts).toBe(2);
    expect(((await job(jobId)).ERROR_HISTORY as Array<{ type: string; error: string }>).filter((entry) => entry.type === 'QUERY_HISTORY')).toEqual([
      expect.objectContaining({ error: expect.stringMatching(/interrupted/) }),
    ]);
    expect((await job(jobId)).STATUS).toBe('COMPLETED');
    dead.abortJob(jobId);
    await dead.idle();
  });

  it('a run that threw leaves its claim; the queue\'s wake time counts that lease, and after it the same instance takes the job back', async () => {
    const jobId = await enqueue('t13', 'STANDARD');
    // A disk refusing writes (as in test/reliability/disk-faults.ts): every write of the run fails, so the run
    // throws and nothing releases its claim. Reads and the claim itself still work.
    let refusing = true;
    const disk = new Proxy(db.warehouse, {
      get(target, property) {
        if (property === 'writeGroups' && refusing) return async () => Promise.reject(new WarehouseError('storage', 'injected: the disk refuses writes'));
        const value = Reflect.get(target, property) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    }) as Warehouse;
    const processor = new Processor(services, { registry: controlledRegistry(succeedAll), warehouse: disk, claimedBy: 'me:1' });
    clock.advance(200 * MINUTE);
    await runUntilIdle(processor);
    expect(processor.stats.errors).toBe(1);
    const stranded = await job(jobId);
    expect([stranded.STATUS, stranded.CLAIMED_BY]).toEqual(['IN_PROGRESS', 'me:1']);
    const leaseEnd = (stranded.LEASE_EXPIRES_AT as Date).getTime();
    // What the instance learns from the queue (here the discovery poll, which replaces what it knew) includes
    // the lease of its own job that no run here is working on.
    await processor.discover();
    expect(processor.knownNextDue?.getTime()).toBe(leaseEnd);
    refusing = false;
    // Before the lease ends a poll takes nothing; after it, the job comes back to this instance and completes.
    await runUntilIdle(processor);
    expect((await job(jobId)).STATUS).toBe('IN_PROGRESS');
    clock.set(new Date(leaseEnd));
    await runUntilIdle(processor);
    expect((await job(jobId)).STATUS).toBe('COMPLETED');
    expect(processor.stats.rescued).toBe(1);
  });
  it('finished runs leave no abort listener on the signals their types read under (Node keeps such signals, and the run, alive)', async () => {
    for (const id of ['t14a', 't14b', 't14c']) await enqueue(id, 'STANDARD');
    clock.advance(200 * MINUTE);
    const batched: BatchedReads = { calls: 0, jobs: 0 };
    const signals: AbortSignal[] = [];
    const modules = ENRICHMENT_TYPES.map((type) => {
      const module = controlledModule(type, succeedAll, batched);
      const read = module.read.bind(module);
      module.read = (context) => {
        signals.push(context.signal);
        return read(context);
      };
      return module;
    });
    const processor = new Processor(services, { registry: new EnrichmentRegistry(modules as EnrichmentModule[]) });
    await runUntilIdle(processor);
    const done = await db.warehouse.query(`SELECT COUNT(*) AS N FROM DELAYED_ENRICHMENT_QUEUE WHERE STATUS = 'COMPLETED'`);
    expect(done[0]!.N).toBe(3);
    // The reads went through readMany (the batcher's listeners) as well as the runner's own.
    expect(batched.jobs).toBeGreaterThan(batched.calls);
    expect(signals).toHaveLength(9);
    expect(signals.map((signal) => [signal.aborted, getEventListeners(signal, 'abort').length])).toEqual(Array(9).fill([false, 0]));
  });
});
