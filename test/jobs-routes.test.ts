// The jobs API through app.inject on the real service and a real DuckDB file: list (filters, cursor pages,
// validation), detail (per-type state, error history), cancel, retry, backfill, stats (cached), enqueue
// of a live job. Expected values come from the jobs and rows each test made.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { Processor } from '../src/processor/processor.js';
import { typeDelayMs, typeDueAt, typesForTableType, type TableType } from '../src/queue/plan.js';
import { THRESHOLDS } from '../src/queue/stats.js';
import { startTestService } from './support/embedded.js';
import { controlledRegistry, createControlledTables, type Script } from './support/controlled-types.js';
import { insertTests } from './support/processor-fixtures.js';

type Service = Awaited<ReturnType<typeof startTestService>>;
interface Page {
  jobs: Array<Record<string, unknown> & { job_id: string; test_id: string }>;
  next_cursor: string | null;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe('jobs API', () => {
  let clock: ManualClock;
  let service: Service;
  beforeEach(async () => {
    clock = new ManualClock('2026-04-10T12:00:00.000Z');
    service = await startTestService({ clock });
    await createControlledTables(service.services.warehouse);
  });
  afterEach(async () => service.stop());

  const get = (url: string) => service.app.inject({ method: 'GET', url });
  const post = (url: string, payload?: Record<string, unknown>) =>
    service.app.inject({ method: 'POST', url, ...(payload !== undefined ? { payload } : {}) });
  const detail = (response: { json(): unknown }) => (response.json() as { detail: string }).detail;
  const queueRows = async () => Number((await service.services.warehouse.query('SELECT COUNT(*) AS N FROM DELAYED_ENRICHMENT_QUEUE'))[0]!.N);

  /** Inserts the tests and enqueues each through the API; returns job ids by test id. */
  async function makeJobs(specs: Array<{ testId: string; runId?: string; tableType?: TableType; endMsAgo: number }>): Promise<Map<string, string>> {
    await insertTests(
      service.services.warehouse,
      specs.map((spec) => ({ testId: spec.testId, runId: spec.runId ?? 'r1', tableType: spec.tableType ?? 'STANDARD' })),
    );
    const ids = new Map<string, string>();
    for (const spec of specs) {
      const response = await post('/api/enrichment/jobs', {
        test_id: spec.testId,
        run_id: spec.runId ?? 'r1',
        table_type: spec.tableType ?? 'STANDARD',
        test_end_time: new Date(clock.now().getTime() - spec.endMsAgo).toISOString(),
      });
      expect(response.statusCode).toBe(201);
      ids.set(spec.testId, (response.json() as { job_id: string }).job_id);
    }
    return ids;
  }

  async function processAll(script: Script): Promise<Processor> {
    const processor = new Processor(service.services, { registry: controlledRegistry(script) });
    while ((await processor.poll()) > 0) await processor.idle();
    await processor.idle();
    return processor;
  }

  describe('GET /api/enrichment/jobs', () => {
    it('pages through every job exactly once, in eligibility order (ties by job id), with a cursor', async () => {
      // 23 jobs over 8 end times: several share one, so the job id decides their order.
      const specs = Array.from({ length: 23 }, (_, index) => ({ testId: `p${String(index).padStart(2, '0')}`, endMsAgo: (index % 8) * 7 * MINUTE }));
      const ids = await makeJobs(specs);
      const expected = specs
        .map((spec) => ({ id: ids.get(spec.testId)!, end: clock.now().getTime() - spec.endMsAgo }))
        .sort((a, b) => a.end - b.end || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        .map((entry) => entry.id);
      const seen: string[] = [];
      const sizes: number[] = [];
      let cursor: string | null = null;
      do {
        const response = await get(`/api/enrichment/jobs?limit=5${cursor ? `&cursor=${cursor}` : ''}`);
        expect(response.statusCode).toBe(200);
        const page = response.json() as Page;
        sizes.push(page.jobs.length);
        seen.push(...page.jobs.map((job) => job.job_id));
        cursor = page.next_cursor;
      } while (cursor !== null);
      expect(sizes).toEqual([5, 5, 5, 5, 3]);
      expect(seen).toEqual(expected);
      expect(new Set(seen).size).toBe(23);
    });

    it('returns the snake_case fields of the view, minutes_until_eligible from the service clock', async () => {
      const ids = await makeJobs([{ testId: 'f1', endMsAgo: 10 * MINUTE }]);
      await service.services.warehouse.execute(`UPDATE TEST_RESULTS SET TEST_NAME = 'nightly hybrid', ENRICHMENT_STATUS = 'COMPLETED' WHERE TEST_ID = 'f1'`);
      const end = new Date(clock.now().getTime() - 10 * MINUTE);
      const earliest = new Date(end.getTime() + typeDelayMs(service.services.config, 'QUERY_HISTORY'));
      const minutesAhead = (earliest.getTime() - clock.now().getTime()) / MINUTE;
      const page = (await get('/api/enrichment/jobs')).json() as Page;
      expect(page).toEqual({
        jobs: [
          {
            job_id: ids.get('f1'),
            test_id: 'f1',
            run_id: 'r1',
            test_name: 'nightly hybrid',
            table_type: 'STANDARD',
            status: 'PENDING',
            test_end_time: end.toISOString(),
            earliest_enrichment_time: earliest.toISOString(),
            minutes_until_eligible: minutesAhead,
            attempts: 0,
            last_error: null,
            claimed_by: null,
            claimed_at: null,
            immediate_enrichment_status: 'COMPLETED',
            delayed_enrichment_status: 'PENDING',
          },
        ],
        next_cursor: null,
      });
      // The service clock moves, and so does the figure (the view's CURRENT_TIMESTAMP would not).
      clock.advance(2 * HOUR);
      const later = (await get('/api/enrichment/jobs')).json() as Page;
      expect(later.jobs[0]!.minutes_until_eligible).toBe(minutesAhead - 120);
    });

    it('filters by status, test_id, run_id and table_type, alone and combined, across pages', async () => {
      const ids = await makeJobs([
        { testId: 'a1', runId: 'rA', tableType: 'HYBRID', endMsAgo: HOUR },
        { testId: 'a2', runId: 'rA', tableType: 'STANDARD', endMsAgo: 2 * HOUR },
        { testId: 'a3', runId: 'rB', tableType: 'HYBRID', endMsAgo: 3 * HOUR },
        { testId: 'a4', runId: 'rB', tableType: 'DYNAMIC', endMsAgo: 4 * HOUR },
        { testId: 'a5', runId: 'rB', tableType: 'HYBRID', endMsAgo: 5 * HOUR },
      ]);
      expect((await post(`/api/enrichment/jobs/${ids.get('a3')}/cancel`)).statusCode).toBe(200);
      const testsOf = async (query: string) => {
        const found: string[] = [];
        let cursor: string | null = null;
        do {
          const response = await get(`/api/enrichment/jobs?limit=1&${query}${cursor ? `&cursor=${cursor}` : ''}`);
          expect(response.statusCode, query).toBe(200);
          const page = response.json() as Page;
          found.push(...page.jobs.map((job) => job.test_id));
          cursor = page.next_cursor;
        } while (cursor !== null);
        return found.sort();
      };
      expect(await testsOf('status=SKIPPED')).toEqual(['a3']);
      expect(await testsOf('status=PENDING')).toEqual(['a1', 'a2', 'a4', 'a5']);
      expect(await testsOf('status=COMPLETED')).toEqual([]);
      expect(await testsOf('test_id=a2')).toEqual(['a2']);
      expect(await testsOf('run_id=rB')).toEqual(['a3', 'a4', 'a5']);
      expect(await testsOf('table_type=HYBRID')).toEqual(['a1', 'a3', 'a5']);
      expect(await testsOf('table_type=HYBRID&run_id=rB&status=PENDING')).toEqual(['a5']);
    });

    it('rejects bad filters, a bad limit and a tampered or foreign cursor with a 400 naming the field', async () => {
      await makeJobs([
        { testId: 'v1', endMsAgo: HOUR },
        { testId: 'v2', endMsAgo: 2 * HOUR },
        { testId: 'v3', endMsAgo: 3 * HOUR },
      ]);
      const cases: Array<[string, RegExp]> = [
        ['status=DONE', /status/],
        ['table_type=ICEBERG', /table_type/],
        ['limit=501', /limit/],
        ['limit=0', /limit/],
        ['limit=ten', /limit/],
        ['limit=2.5', /limit/],
        ['test_id=' + 'x'.repeat(37), /test_id/],
        ['colour=red', /colour|additional/],
        ['cursor=not*base64', /cursor/],
        [`cursor=${Buffer.from('{"at":1}').toString('base64url')}`, /cursor/],
      ];
      for (const [query, field] of cases) {
        const response = await get(`/api/enrichment/jobs?${query}`);
        expect(response.statusCode, query).toBe(400);
        expect(detail(response), query).toMatch(field);
      }
      expect((await get('/api/enrichment/jobs?limit=500')).statusCode).toBe(200);
      const first = (await get('/api/enrichment/jobs?limit=1')).json() as Page;
      const cursor = first.next_cursor!;
      expect((await get(`/api/enrichment/jobs?limit=1&cursor=${cursor}`)).statusCode).toBe(200);
      // Change the position inside a real cursor: decodes fine, but it is not one this list issued.
      const [at, jobId, check] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string, string];
      const moved = Buffer.from(JSON.stringify([new Date(Date.parse(at) + 1).toISOString(), jobId, check])).toString('base64url');
      const tampered = await get(`/api/enrichment/jobs?limit=1&cursor=${moved}`);
      expect(tampered.statusCode).toBe(400);
      expect(detail(tampered)).toMatch(/cursor/);
      const truncated = await get(`/api/enrichment/jobs?limit=1&cursor=${cursor.slice(0, -3)}`);
      expect(truncated.statusCode).toBe(400);
      // A cursor belongs to its filters.
      const foreign = await get(`/api/enrichment/jobs?limit=1&status=PENDING&cursor=${cursor}`);
      expect(foreign.statusCode).toBe(400);
      expect(detail(foreign)).toMatch(/same filters/);
    });
  });

  describe('GET /api/enrichment/jobs/{job_id}', () => {
    it('shows per-type state, due times, attempts, lease and the error history', async () => {
      const endAgo = 4 * HOUR;
      const ids = await makeJobs([{ testId: 'd1', tableType: 'HYBRID', endMsAgo: endAgo }]);
      const end = new Date(clock.now().getTime() - endAgo);
      const types = typesForTableType('HYBRID');
      const before = (await get(`/api/enrichment/jobs/${ids.get('d1')}`)).json() as Record<string, unknown> & { types: Array<Record<string, unknown>> };
      expect(before).toMatchObject({
        job_id: ids.get('d1'),
        test_id: 'd1',
        table_type: 'HYBRID',
        status: 'PENDING',
        priority: 100,
        attempts: 0,
        test_end_time: end.toISOString(),
        lease: { claimed_by: null, held: false, expired: false },
        error_history: [],
      });
      expect(before.types).toEqual(
        types.map((type) => ({
          type,
          status: 'PENDING',
          attempts: 0,
          due_at: typeDueAt(service.services.config, type, end).toISOString(),
          rows: null,
          last_error: null,
          completed_at: null,
          not_ready_checks: 0,
        })),
      );
      // QUERY_HISTORY fails once (transient) and is rescheduled; the rest complete with 3 rows each.
      await processAll((_job, type) => (type === 'QUERY_HISTORY' ? { kind: 'transient' } : { kind: 'succeed', rows: 3 }));
      const after = (await get(`/api/enrichment/jobs/${ids.get('d1')}`)).json() as {
        status: string;
        attempts: number;
        types: Array<{ type: string; status: string; attempts: number; rows: number | null; last_error: string | null; due_at: string }>;
        error_history: Array<{ type: string; attempt: number; error: string; retryable: boolean }>;
        lease: { held: boolean };
      };
      expect(after.status).toBe('PENDING');
      expect(after.lease.held).toBe(false);
      expect(after.attempts).toBe(types.length);
      const history = after.types.find((entry) => entry.type === 'QUERY_HISTORY')!;
      expect(history).toMatchObject({ status: 'PENDING', attempts: 1, rows: null, last_error: 'QUERY_HISTORY: transient failure' });
      expect(Date.parse(history.due_at)).toBeGreaterThan(clock.now().getTime());
      for (const entry of after.types.filter((e) => e.type !== 'QUERY_HISTORY')) expect(entry).toMatchObject({ status: 'COMPLETED', attempts: 1, rows: 3 });
      expect(after.error_history).toEqual([{ type: 'QUERY_HISTORY', attempt: 1, at: clock.now().toISOString(), error: 'QUERY_HISTORY: transient failure', retryable: true }]);
    });

    it('answers 404 naming an unknown job and 400 for an over-long id', async () => {
      const missing = await get('/api/enrichment/jobs/no-such-job');
      expect(missing.statusCode).toBe(404);
      expect(detail(missing)).toMatch(/no-such-job/);
      const long = await get(`/api/enrichment/jobs/${'j'.repeat(37)}`);
      expect(long.statusCode).toBe(400);
      expect(detail(long)).toMatch(/job_id/);
    });
  });

  describe('cancel and retry', () => {
    it('cancel: 200 with the skipped types, then 409 naming the status; 404 for an unknown job', async () => {
      const ids = await makeJobs([{ testId: 'c1', tableType: 'HYBRID', endMsAgo: HOUR }]);
      const response = await post(`/api/enrichment/jobs/${ids.get('c1')}/cancel`);
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ job_id: ids.get('c1'), status: 'SKIPPED', types: [...typesForTableType('HYBRID')] });
      const [row] = await service.services.warehouse.query('SELECT STATUS FROM DELAYED_ENRICHMENT_QUEUE WHERE JOB_ID = ?', [ids.get('c1')!]);
      expect(row!.STATUS).toBe('SKIPPED');
      const again = await post(`/api/enrichment/jobs/${ids.get('c1')}/cancel`);
      expect(again.statusCode).toBe(409);
      expect(detail(again)).toMatch(/already SKIPPED/);
      const unknown = await post('/api/enrichment/jobs/ghost-job/cancel');
      expect(unknown.statusCode).toBe(404);
      expect(detail(unknown)).toMatch(/ghost-job/);
    });

    it('retry: a FAILED job goes back to PENDING; a live one is a 409; bad types a 400; unknown a 404', async () => {
      const ids = await makeJobs([
        { testId: 'r1', endMsAgo: 4 * HOUR },
        { testId: 'r2', endMsAgo: 0 },
      ]);
      await processAll((job) => (job.testId === 'r1' ? { kind: 'permanent' } : { kind: 'succeed' }));
      const failed = (await get(`/api/enrichment/jobs/${ids.get('r1')}`)).json() as { status: string };
      expect(failed.status).toBe('FAILED');
      const badType = await post(`/api/enrichment/jobs/${ids.get('r1')}/retry`, { types: ['NOT_A_TYPE'] });
      expect(badType.statusCode).toBe(400);
      expect(detail(badType)).toMatch(/types/);
      const notFailedType = await post(`/api/enrichment/jobs/${ids.get('r1')}/retry`, { types: ['LOCK_CONTENTION'] });
      expect(notFailedType.statusCode).toBe(400);
      expect(detail(notFailedType)).toMatch(/LOCK_CONTENTION/);
      const retry = await post(`/api/enrichment/jobs/${ids.get('r1')}/retry`);
      expect(retry.statusCode).toBe(200);
      expect(retry.json()).toEqual({ job_id: ids.get('r1'), status: 'PENDING', types: [...typesForTableType('STANDARD')] });
      const live = await post(`/api/enrichment/jobs/${ids.get('r2')}/retry`, {});
      expect(live.statusCode).toBe(409);
      expect(detail(live)).toMatch(/is PENDING/);
      expect((await post('/api/enrichment/jobs/ghost/retry')).statusCode).toBe(404);
    });

    it('enqueue of a live job answers 200 with the existing job and adds no row', async () => {
      const ids = await makeJobs([{ testId: 'e1', endMsAgo: HOUR }]);
      const again = await post('/api/enrichment/jobs', {
        test_id: 'e1',
        run_id: 'r1',
        table_type: 'STANDARD',
        test_end_time: new Date(clock.now().getTime() - HOUR).toISOString(),
      });
      expect(again.statusCode).toBe(200);
      expect(again.json()).toEqual({ job_id: ids.get('e1'), created: false, status: 'PENDING' });
      expect(await queueRows()).toBe(1);
    });
  });

  describe('POST /api/enrichment/backfill', () => {
    async function insertUnenriched(): Promise<void> {
      const now = clock.now().getTime();
      await insertTests(service.services.warehouse, [
        { testId: 'b-std-1', runId: 'b', tableType: 'STANDARD', start: new Date(now - 3 * DAY - HOUR), end: new Date(now - 3 * DAY) },
        { testId: 'b-std-2', runId: 'b', tableType: 'STANDARD', start: new Date(now - 2 * DAY - HOUR), end: new Date(now - 2 * DAY) },
        { testId: 'b-hyb-1', runId: 'b', tableType: 'HYBRID', start: new Date(now - 2 * DAY - HOUR), end: new Date(now - 2 * DAY + MINUTE) },
        { testId: 'b-pg-1', runId: 'b', tableType: 'POSTGRES', start: new Date(now - DAY - HOUR), end: new Date(now - DAY) },
        { testId: 'b-out', runId: 'b', tableType: 'STANDARD', start: new Date(now - 20 * DAY - HOUR), end: new Date(now - 20 * DAY) },
      ]);
    }
    const range = () => ({ from: new Date(clock.now().getTime() - 10 * DAY).toISOString(), to: clock.now().toISOString() });

    it('dry run counts without enqueuing; table_types and limit narrow the real run', async () => {
      await insertUnenriched();
      const dry = await post('/api/enrichment/backfill', { ...range(), dry_run: true });
      expect(dry.statusCode).toBe(200);
      expect(dry.json()).toEqual({ dry_run: true, eligible: 4, beyond_retention: 0, enqueued: 0, not_applicable: 0, more: false, limit: 500, table_types: null });
      expect(await queueRows()).toBe(0);
      const standardOnly = await post('/api/enrichment/backfill', { ...range(), table_types: ['STANDARD'], limit: 1 });
      expect(standardOnly.statusCode).toBe(200);
      expect(standardOnly.json()).toMatchObject({ dry_run: false, eligible: 2, enqueued: 1, more: true, limit: 1, table_types: ['STANDARD'] });
      // The oldest first.
      const rows = await service.services.warehouse.query('SELECT TEST_ID, PRIORITY FROM DELAYED_ENRICHMENT_QUEUE');
      expect(rows).toEqual([{ TEST_ID: 'b-std-1', PRIORITY: 1000 }]);
      const rest = await post('/api/enrichment/backfill', range());
      expect(rest.json()).toMatchObject({ eligible: 3, enqueued: 2, not_applicable: 1, more: false });
      expect(await queueRows()).toBe(3);
    });

    it('rejects from ≥ to, unknown table types, a limit over the cap and bad times, changing nothing', async () => {
      await insertUnenriched();
      const { from, to } = range();
      const cases: Array<[Record<string, unknown>, RegExp]> = [
        [{ from: to, to: from }, /from must be before to/],
        [{ from, to: from }, /from must be before to/],
        [{ from, to, table_types: ['ICEBERG'] }, /table_types/],
        [{ from, to, table_types: [] }, /table_types/],
        [{ from, to, limit: 501 }, /limit/],
        [{ from, to, limit: 0 }, /limit/],
        [{ from: 'last week', to }, /from/],
        [{ from }, /to/],
        [{ from, to, dry_run: 'yes' }, /dry_run/],
      ];
      for (const [body, field] of cases) {
        const response = await post('/api/enrichment/backfill', body);
        expect(response.statusCode, JSON.stringify(body)).toBe(400);
        expect(detail(response), JSON.stringify(body)).toMatch(field);
      }
      expect(await queueRows()).toBe(0);
      const [statuses] = await service.services.warehouse.query('SELECT COUNT(*) AS N FROM TEST_RESULTS WHERE DELAYED_ENRICHMENT_STATUS IS NOT NULL');
      expect(Number(statuses!.N)).toBe(0);
    });

    it('is rate limited (429 once the window is used up)', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 21; i += 1) statuses.push((await post('/api/enrichment/backfill', { ...range(), dry_run: true })).statusCode);
      expect(statuses.slice(0, 20).every((status) => status === 200)).toBe(true);
      expect(statuses[20]).toBe(429);
    });
  });

  describe('GET /api/enrichment/stats', () => {
    it('reports depth, ready vs deferred and each figure with its levels and the worst level overall', async () => {
      await makeJobs([
        { testId: 's1', endMsAgo: 4 * HOUR },
        { testId: 's2', endMsAgo: 4 * HOUR },
        { testId: 's3', endMsAgo: 0 },
      ]);
      const response = await get('/api/enrichment/stats');
      expect(response.statusCode).toBe(200);
      const stats = response.json() as {
        level: string;
        ready: number;
        deferred: number;
        depth_by_status: Record<string, number>;
        figures: Record<string, { value: number | null; level: string; warning: number; critical: number; why: string }>;
      };
      expect(stats.ready).toBe(2);
      expect(stats.deferred).toBe(1);
      expect(stats.depth_by_status).toMatchObject({ PENDING: 3, COMPLETED: 0, FAILED: 0 });
      expect(Object.keys(stats.figures).sort()).toEqual(Object.keys(THRESHOLDS).sort());
      expect(stats.figures.ready_depth).toEqual({ value: 2, level: 'ok', warning: THRESHOLDS.ready_depth.warning, critical: THRESHOLDS.ready_depth.critical, why: THRESHOLDS.ready_depth.why });
      // The two due jobs have waited since end + 50 min: 190 min, past the critical 2 h.
      expect(stats.figures.oldest_pending_age_seconds!.value).toBe((4 * 60 - 50) * 60);
      expect(stats.figures.oldest_pending_age_seconds!.level).toBe('critical');
      expect(stats.figures.failure_rate_24h).toMatchObject({ value: null, level: 'unknown' });
      expect(stats.level).toBe('critical');
    });

    it('two calls in a row cost two statements in all (the second is cached); a change of this instance recomputes', async () => {
      const ids = await makeJobs([{ testId: 'k1', endMsAgo: HOUR }]);
      const { counters } = service.services.warehouse;
      const before = counters.statements;
      const first = (await get('/api/enrichment/stats')).json() as { depth_by_status: Record<string, number> };
      const second = (await get('/api/enrichment/stats')).json() as { depth_by_status: Record<string, number> };
      expect(counters.statements - before).toBe(2);
      expect(second).toEqual(first);
      expect(first.depth_by_status.PENDING).toBe(1);
      await post(`/api/enrichment/jobs/${ids.get('k1')}/cancel`);
      const afterCancel = (await get('/api/enrichment/stats')).json() as { depth_by_status: Record<string, number> };
      expect(afterCancel.depth_by_status).toMatchObject({ PENDING: 0, SKIPPED: 1 });
    });
  });
});
