// The per-test routes through app.inject on the real service and a real DuckDB file: every availability
// state (PENDING before due, IN_PROGRESS, COMPLETED with the simulator's truth, NOT_APPLICABLE, FAILED,
// NOT_QUEUED), retry, purge and its token rules, validation, content negotiation with the HTML partials, and
// the statement count of one call. Expected values come from the simulator's `truth`, from documented
// latencies, or from rows the test inserts itself.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { CREDIT_ATTRIBUTION_METHOD } from '../src/enrichment/credits-transform.js';
import { realModules } from '../src/enrichment/modules/index.js';
import { EnrichmentRegistry } from '../src/enrichment/registry.js';
import { Processor } from '../src/processor/processor.js';
import { VisibilityClock } from '../src/simulator/visibility.js';
import { startTestService } from './support/embedded.js';
import { controlledRegistry, createControlledTables, type Script } from './support/controlled-types.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** Documented latency + default buffer of AGGREGATE_QUERY_HISTORY / LOCK_WAIT_HISTORY / HYBRID_TABLE_USAGE_HISTORY (3 h + 15 min). */
const THREE_HOUR_VIEWS_MS = 195 * MINUTE;
/** QUERY_INSIGHTS: 90 min + 10 min. */
const INSIGHTS_MS = 100 * MINUTE;
const TOKEN = 'a-test-token-of-enough-length';
const HOSTILE = `<script>alert("x")</script><img src=x onerror=alert(1)>&'`;

interface Simulated {
  test_id: string;
  run_id: string;
  job_id?: string | null;
  test_end_time: string;
  truth: {
    overall: { query_count: number; p50_ms: number; p90_ms: number; p95_ms: number; p99_ms: number; max_ms: number; errors_count: number; throttled_count: number };
    patterns: Array<{ hash: string; query_count: number; errors_count: number; throttled_count: number; max_ms: number; p95_ms: number }>;
    lock_waits: { count: number; total_ms: number; max_ms: number | null; blocker_rows: number };
    insights: { count: number; high_severity_count: number; distinct_type_hash_pairs: number };
    credits: { credits_used: number | null; windows: number };
  };
}

const hhmm = (at: number) => new Date(at).toISOString().slice(11, 16);
const relative = (actual: number, expected: number) => Math.abs(actual - expected) / expected;

describe('per-test routes', () => {
  let clock: ManualClock;
  let service: Service;
  let visibility: VisibilityClock;

  async function start(env: Record<string, string> = {}, at = '2025-11-20T12:00:00Z') {
    clock = new ManualClock(at);
    service = await startTestService({ clock, env: { LATENCY_SCALE: '1', ...env } });
    visibility = await VisibilityClock.bind(service.services.warehouse, clock);
  }
  afterEach(async () => {
    visibility?.stop();
    await service?.stop();
  });

  const get = (path: string, headers: Record<string, string> = {}) => service.app.inject({ method: 'GET', url: path, headers });

  async function simulate(body: Record<string, unknown>): Promise<Simulated> {
    const response = await service.app.inject({ method: 'POST', url: '/api/dev/simulate', headers: { authorization: `Bearer ${TOKEN}` }, payload: { enqueue: true, ...body } });
    expect(response.statusCode, response.body).toBe(200);
    return response.json() as Simulated;
  }

  async function process(advanceMs: number, registry = new EnrichmentRegistry(realModules())): Promise<void> {
    clock.advance(advanceMs);
    await visibility.settled();
    const processor = new Processor(service.services, { registry });
    await processor.poll();
    await processor.idle();
  }

  /** Statements the warehouse received while `work` ran (the processor is off: only the route's). */
  async function statementsOf(work: () => Promise<unknown>): Promise<number> {
    const before = service.services.warehouse.counters.statements;
    await work();
    return service.services.warehouse.counters.statements - before;
  }

  describe('a hybrid test from simulation to enrichment', () => {
    beforeEach(async () => start());

    it('is PENDING with expected_at before its views are due, then COMPLETED with the truth', async () => {
      const sim = await simulate({ table_type: 'HYBRID', seed: 7, duration_minutes: 10, sessions: 8 });
      const id = sim.test_id;
      const end = Date.parse(sim.test_end_time);
      const now = clock.now().getTime();
      const aggregateDue = end + THREE_HOUR_VIEWS_MS;

      const pending = (await get(`/api/tests/${id}/delayed-enrichment-status`)).json();
      expect(pending).toMatchObject({ test_id: id, status: 'PENDING', queue_status: 'PENDING', job_id: sim.job_id, completed_types: [], completed_at: null, attempts: 0 });
      expect(pending.enrichment_types).toEqual(['QUERY_HISTORY', 'AGGREGATE', 'LOCK_CONTENTION', 'HYBRID_CREDITS', 'QUERY_INSIGHTS']);
      expect(pending.expected_at).toBe(new Date(aggregateDue).toISOString());
      expect(pending.minutes_remaining).toBe(Math.ceil((aggregateDue - now) / MINUTE));
      expect(pending.earliest_enrichment_time).toBe(new Date(end + 50 * MINUTE).toISOString());

      for (const route of ['server-metrics', 'lock-contention', 'hybrid-credits']) {
        const body = (await get(`/api/tests/${id}/${route}`)).json();
        expect(body, route).toMatchObject({ status: 'PENDING', expected_at: new Date(aggregateDue).toISOString(), minutes_remaining: Math.ceil((aggregateDue - now) / MINUTE) });
      }
      const metricsPending = (await get(`/api/tests/${id}/server-metrics`)).json();
      expect(metricsPending.aggregate_metrics).toBeNull();
      expect(metricsPending.percentile_method).toBeNull();
      const creditsPending = (await get(`/api/tests/${id}/hybrid-credits`)).json();
      expect(creditsPending.total_credits).toBeNull();
      const insightsPending = (await get(`/api/tests/${id}/query-insights`)).json();
      expect(insightsPending).toMatchObject({ status: 'PENDING', expected_at: new Date(end + INSIGHTS_MS).toISOString(), counts: null });

      // The partial says when, instead of empty numbers.
      const partial = await get(`/api/tests/${id}/server-metrics`, { 'hx-request': 'true' });
      expect(partial.headers['content-type']).toMatch(/^text\/html/);
      expect(partial.body).toContain(`Pending until ~${hhmm(aggregateDue)} UTC`);
      expect(partial.body).toMatch(/aria-live="polite"/);
      expect(partial.body).not.toMatch(/<html|<body|<script/i);

      await process(4 * HOUR);
      const truth = sim.truth;

      const done = (await get(`/api/tests/${id}/delayed-enrichment-status`)).json();
      expect(done).toMatchObject({ status: 'COMPLETED', queue_status: 'COMPLETED', expected_at: null, minutes_remaining: null, last_error: null });
      expect([...done.completed_types].sort()).toEqual(['AGGREGATE', 'HYBRID_CREDITS', 'LOCK_CONTENTION', 'QUERY_HISTORY', 'QUERY_INSIGHTS']);
      expect(done.completed_at).toBe(clock.now().toISOString());
      expect(done.types.find((t: { type: string }) => t.type === 'AGGREGATE')).toMatchObject({ status: 'COMPLETED', rows: truth.patterns.length });

      const metrics = (await get(`/api/tests/${id}/server-metrics`)).json();
      expect(metrics).toMatchObject({ status: 'COMPLETED', expected_at: null, minutes_remaining: null, percentile_method: 'ORDER_STATISTICS_EM' });
      const m = metrics.aggregate_metrics;
      expect(m.total_queries).toBe(truth.overall.query_count);
      expect(m.total_errors).toBe(truth.overall.errors_count);
      expect(m.total_throttled_requests).toBe(truth.overall.throttled_count);
      expect(m.unique_query_patterns).toBe(truth.patterns.length);
      expect(m.exec_max_ms).toBe(truth.overall.max_ms);
      for (const [field, key] of [['exec_median_ms', 'p50_ms'], ['exec_p90_ms', 'p90_ms'], ['exec_p95_ms', 'p95_ms'], ['exec_p99_ms', 'p99_ms']] as const) {
        expect(relative(m[field], truth.overall[key]), field).toBeLessThan(0.1);
      }
      const worstTruth = Math.max(...truth.patterns.map((p) => p.p95_ms));
      expect(relative(m.worst_p95_exec_ms, worstTruth)).toBeLessThan(0.1);
      const byHash = new Map<string, Record<string, number>>(m.patterns.map((p: Record<string, number> & { hash: string }) => [p.hash, p]));
      expect([...byHash.keys()].sort()).toEqual(truth.patterns.map((p) => p.hash).sort());
      for (const expected of truth.patterns) {
        const row = byHash.get(expected.hash)!;
        expect(row.query_count, expected.hash).toBe(expected.query_count);
        expect(row.errors_count, expected.hash).toBe(expected.errors_count);
        expect(row.throttled_requests, expected.hash).toBe(expected.throttled_count);
        expect(row.exec_max_ms, expected.hash).toBe(expected.max_ms);
      }

      const locks = (await get(`/api/tests/${id}/lock-contention?limit=3`)).json();
      expect(locks.status).toBe('COMPLETED');
      expect(truth.lock_waits.count).toBeGreaterThan(0);
      expect(locks.summary).toMatchObject({
        lock_wait_count: truth.lock_waits.count,
        total_wait_ms: truth.lock_waits.total_ms,
        max_wait_ms: truth.lock_waits.max_ms,
        blocker_rows: truth.lock_waits.blocker_rows,
        waits_without_duration: 0,
      });
      // Page through every event with the cursor: each wait once (its blockers counted in blocker_rows), in time order.
      const seen: Array<{ event_id: string; requested_at: string }> = [...locks.events];
      let cursor: string | null = locks.next_cursor;
      expect(locks.events.length).toBe(Math.min(3, truth.lock_waits.count));
      while (cursor) {
        const page = (await get(`/api/tests/${id}/lock-contention?limit=3&cursor=${cursor}`)).json();
        seen.push(...page.events);
        cursor = page.next_cursor;
      }
      expect(seen.length).toBe(truth.lock_waits.count);
      expect(new Set(seen.map((e) => e.event_id)).size).toBe(seen.length);
      expect(seen.map((e) => e.requested_at)).toEqual([...seen.map((e) => e.requested_at)].sort());

      const credits = (await get(`/api/tests/${id}/hybrid-credits`)).json();
      expect(credits.status).toBe('COMPLETED');
      expect(credits.total_credits).toBeCloseTo(truth.credits.credits_used!, 6);
      expect(credits.windows.length).toBe(truth.credits.windows);
      expect(credits.attribution.method).toBe(CREDIT_ATTRIBUTION_METHOD);
      expect(credits.attribution.note).toMatch(/account-level/i);
      expect(credits.windows.every((w: { billed: boolean }) => w.billed)).toBe(true); // 2025: before metering stopped

      // Never produced for hybrid-table queries: COMPLETED with zero rows, not "pending".
      const insights = (await get(`/api/tests/${id}/query-insights`)).json();
      expect(insights).toMatchObject({ status: 'COMPLETED', counts: { total: truth.insights.count, HIGH: 0 }, insights: [] });
    });

    it('costs one warehouse statement per GET (status, server metrics and the other data routes), none when repeated', async () => {
      const sim = await simulate({ table_type: 'HYBRID', seed: 3, duration_minutes: 5, sessions: 2 });
      await process(4 * HOUR);
      const counts: Record<string, number> = {};
      const call = (route: string, headers: Record<string, string> = {}) =>
        statementsOf(async () => expect((await get(`/api/tests/${sim.test_id}/${route}`, headers)).statusCode).toBe(200));
      for (const route of ['delayed-enrichment-status', 'server-metrics', 'lock-contention', 'hybrid-credits', 'query-insights']) {
        counts[route] = await call(route);
        counts[`${route} (repeated)`] = await call(route);
        service.services.testReads.invalidate(sim.test_id);
        counts[`${route} (html)`] = await call(route, { 'hx-request': 'true' });
      }
      console.log(`statements per call: ${JSON.stringify(counts)}`);
      for (const [route, n] of Object.entries(counts)) expect(n, route).toBe(route.endsWith('(repeated)') ? 0 : 1);
      expect(await statementsOf(() => get('/api/tests/unknown-test/server-metrics'))).toBe(1);
    });

    it('a test FlakeBench stored twice (TEST_RESULTS has no key) is one job, one completion event, each credit window once', async () => {
      const sim = await simulate({ table_type: 'HYBRID', seed: 9, duration_minutes: 5, sessions: 2 });
      await service.services.warehouse.execute('INSERT INTO TEST_RESULTS SELECT * FROM TEST_RESULTS WHERE TEST_ID = ?', [sim.test_id]);
      await process(4 * HOUR);
      expect((await get(`/api/tests/${sim.test_id}/delayed-enrichment-status`)).json().status).toBe('COMPLETED');
      const credits = (await get(`/api/tests/${sim.test_id}/hybrid-credits`)).json();
      expect(credits.windows.length).toBe(sim.truth.credits.windows);
      const detail = await get(`/api/enrichment/jobs/${sim.job_id}`);
      expect(detail.statusCode).toBe(200);
      expect(detail.json().test_name).not.toBeNull();
      const [completions] = await service.services.warehouse.query(
        `SELECT COUNT(*) AS N FROM ENRICHMENT_EVENTS WHERE TEST_ID = ? AND EVENT_TYPE = 'enrichment_complete'`,
        [sim.test_id],
      );
      expect(Number(completions!.N)).toBe(1);
    });

    it('shows IN_PROGRESS while a processor holds the types', async () => {
      const sim = await simulate({ table_type: 'STANDARD', seed: 5, duration_minutes: 5, sessions: 2 });
      await createControlledTables(service.services.warehouse);
      let open!: () => void;
      const gate = new Promise<void>((resolve) => (open = resolve));
      const held: Script = () => ({ kind: 'gate', until: gate });
      clock.advance(4 * HOUR);
      const processor = new Processor(service.services, { registry: controlledRegistry(held), claimedBy: 'holder:1' });
      await processor.poll();
      const status = (await get(`/api/tests/${sim.test_id}/delayed-enrichment-status`)).json();
      expect(status.status).toBe('IN_PROGRESS');
      expect(status.types.some((t: { status: string }) => t.status === 'IN_PROGRESS')).toBe(true);
      expect(status.minutes_remaining).toBe(0); // due and being worked on: never negative
      const inProgress = status.types.find((t: { status: string }) => t.status === 'IN_PROGRESS');
      expect(inProgress.reason).toContain('holder:1');
      open();
      await processor.idle();
      expect((await get(`/api/tests/${sim.test_id}/delayed-enrichment-status`)).json().status).toBe('COMPLETED');
    });
  });

  describe('tests that are not (yet) enriched', () => {
    beforeEach(async () => start());

    it('STANDARD: lock contention and hybrid credits are NOT_APPLICABLE, insights COMPLETED with the truth', async () => {
      const sim = await simulate({ table_type: 'STANDARD', seed: 11, duration_minutes: 30, sessions: 8, rate_per_session: 2 });
      for (const route of ['lock-contention', 'hybrid-credits']) {
        const body = (await get(`/api/tests/${sim.test_id}/${route}`)).json();
        expect(body, route).toMatchObject({ status: 'NOT_APPLICABLE', expected_at: null, minutes_remaining: null });
        expect(body.reason, route).toMatch(/not part of this test's delayed enrichment \(table type STANDARD\)/);
      }
      await process(4 * HOUR);
      const locks = (await get(`/api/tests/${sim.test_id}/lock-contention`)).json();
      expect(locks).toMatchObject({ status: 'NOT_APPLICABLE', summary: null, events: [] });
      const credits = (await get(`/api/tests/${sim.test_id}/hybrid-credits`)).json();
      expect(credits).toMatchObject({ status: 'NOT_APPLICABLE', total_credits: null });
      const partial = await get(`/api/tests/${sim.test_id}/hybrid-credits`, { accept: 'text/html' });
      expect(partial.body).toContain('Not applicable');
      expect(partial.body).not.toMatch(/\b0 credits|>0</);

      const truth = sim.truth.insights;
      expect(truth.distinct_type_hash_pairs).toBeGreaterThan(0);
      const insights = (await get(`/api/tests/${sim.test_id}/query-insights`)).json();
      expect(insights.status).toBe('COMPLETED');
      expect(insights.counts.total).toBe(truth.distinct_type_hash_pairs);
      expect(insights.insights.length).toBe(truth.distinct_type_hash_pairs);
      const affected = (severity?: string) =>
        insights.insights
          .filter((i: { severity: string }) => severity === undefined || i.severity === severity)
          .reduce((sum: number, i: { affected_query_count: number }) => sum + i.affected_query_count, 0);
      expect(affected()).toBe(truth.count);
      expect(affected('HIGH')).toBe(truth.high_severity_count);
      expect(insights.counts.affected_queries).toBe(truth.count);
      const rank = { HIGH: 0, MEDIUM: 1, LOW: 2 } as Record<string, number>;
      const ranks = insights.insights.map((i: { severity: string }) => rank[i.severity]);
      expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
      expect(insights.counts.HIGH + insights.counts.MEDIUM + insights.counts.LOW).toBe(insights.counts.total);

      // A hostile QUERY_TEXT reaches the partial escaped.
      await service.services.warehouse.execute('UPDATE QUERY_INSIGHTS_CACHE SET QUERY_TEXT = ? WHERE TEST_ID = ?', [HOSTILE, sim.test_id]);
      // Written behind the service's back, so no event tells the read cache.
      service.services.testReads.invalidate(sim.test_id);
      const html = await get(`/api/tests/${sim.test_id}/query-insights`, { 'hx-request': 'true' });
      expect(html.statusCode).toBe(200);
      expect(html.body).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;&amp;&#39;');
      expect(html.body).not.toMatch(/<script|<img/i);
      expect(html.body).toMatch(/<caption>[^<]+<\/caption>/);
      expect(html.body).toContain('<th scope="col">');
    });

    it('hybrid credits after metering stopped: the usage the view holds, flagged not billed; NOT_APPLICABLE only without rows', async () => {
      clock.set('2026-06-01T12:00:00Z');
      await visibility.settled();
      const sim = await simulate({ table_type: 'HYBRID', seed: 5, duration_minutes: 5, sessions: 2 });
      await process(4 * HOUR);
      const credits = (await get(`/api/tests/${sim.test_id}/hybrid-credits`)).json();
      expect(sim.truth.credits.windows).toBeGreaterThan(0);
      expect(credits.status).toBe('COMPLETED');
      expect(credits.total_credits).toBeCloseTo(sim.truth.credits.credits_used!, 6);
      expect(credits.windows.length).toBe(sim.truth.credits.windows);
      expect(credits.windows.every((w: { billed: boolean }) => !w.billed)).toBe(true);
      expect(credits.attribution.not_billed_since).toBe('2026-03-01T00:00:00.000Z');
      expect(credits.attribution.note).toMatch(/not billed/);

      // A later test whose windows the view does not have: NOT_APPLICABLE with the reason, never zero credits.
      clock.set('2026-07-01T12:00:00Z');
      await visibility.settled();
      const bare = await simulate({ table_type: 'HYBRID', seed: 6, duration_minutes: 5, sessions: 2 });
      await service.services.warehouse.execute('DELETE FROM SIMULATED_ACCOUNT_USAGE.HYBRID_TABLE_USAGE_HISTORY WHERE START_TIME >= CAST(? AS TIMESTAMP)', [
        new Date('2026-07-01T00:00:00Z'),
      ]);
      await process(4 * HOUR);
      const none = (await get(`/api/tests/${bare.test_id}/hybrid-credits`)).json();
      expect(none).toMatchObject({ status: 'NOT_APPLICABLE', total_credits: null, total_requests: null, windows: [], attribution: null });
      expect(none.reason).toMatch(/no usage/);
    });

    it('a test never queued says NOT_QUEUED; POSTGRES says NOT_APPLICABLE', async () => {
      const sim = await simulate({ table_type: 'STANDARD', seed: 2, duration_minutes: 5, sessions: 1, enqueue: false });
      const status = (await get(`/api/tests/${sim.test_id}/delayed-enrichment-status`)).json();
      expect(status).toMatchObject({ status: 'NOT_QUEUED', queue_status: null, job_id: null, minutes_remaining: null, expected_at: null, enrichment_types: [], attempts: 0 });
      const metrics = (await get(`/api/tests/${sim.test_id}/server-metrics`)).json();
      expect(metrics).toMatchObject({ status: 'NOT_QUEUED', aggregate_metrics: null, minutes_remaining: null });
      expect(metrics.reason).toMatch(/no delayed-enrichment job/);

      const pg = await simulate({ table_type: 'POSTGRES', seed: 2, duration_minutes: 5, sessions: 1 });
      const pgStatus = (await get(`/api/tests/${pg.test_id}/delayed-enrichment-status`)).json();
      expect(pgStatus).toMatchObject({ status: 'NOT_APPLICABLE', queue_status: null, minutes_remaining: null });
      for (const route of ['server-metrics', 'lock-contention', 'hybrid-credits', 'query-insights']) {
        const body = (await get(`/api/tests/${pg.test_id}/${route}`)).json();
        expect(body, route).toMatchObject({ status: 'NOT_APPLICABLE', expected_at: null, minutes_remaining: null });
      }
    });

    it('unknown tests are 404 naming the test; bad ids and pages are 400', async () => {
      for (const route of ['delayed-enrichment-status', 'server-metrics', 'lock-contention', 'hybrid-credits', 'query-insights']) {
        const response = await get(`/api/tests/no-such-test/${route}`);
        expect(response.statusCode, route).toBe(404);
        expect(response.json(), route).toEqual({ status: 404, title: 'Not Found', detail: "Test 'no-such-test' not found" });
        // HTMX requests get the same JSON problem body (HTMX does not swap error answers).
        const hx = await get(`/api/tests/no-such-test/${route}`, { 'hx-request': 'true' });
        expect(hx.statusCode).toBe(404);
        expect(hx.headers['content-type']).toMatch(/application\/json/);
      }
      const retry = await service.app.inject({ method: 'POST', url: '/api/tests/no-such-test/retry-delayed-enrichment' });
      expect(retry.statusCode).toBe(404);
      expect(retry.json().detail).toContain('no-such-test');

      const long = 'x'.repeat(37);
      const tooLong = await get(`/api/tests/${long}/server-metrics`);
      expect(tooLong.statusCode).toBe(400);
      expect(tooLong.json().detail).toMatch(/test_id/);
      const sim = await simulate({ table_type: 'HYBRID', seed: 1, duration_minutes: 5, sessions: 1 });
      for (const query of ['limit=0', 'limit=501', 'limit=abc', 'cursor=not-a-cursor!', 'cursor=WyIyMDI1LTExLTIwVDEyOjAwOjAwLjAwMFoiLCJ4IiwieCJd', 'other=1']) {
        const response = await get(`/api/tests/${sim.test_id}/lock-contention?${query}`);
        expect(response.statusCode, query).toBe(400);
        expect(typeof response.json().detail, query).toBe('string');
      }
    });
  });

  describe('failures and retry', () => {
    beforeEach(async () => start());

    it('FAILED with the error; retry answers PENDING; a second retry is 409 naming the status', async () => {
      const sim = await simulate({ table_type: 'STANDARD', seed: 4, duration_minutes: 5, sessions: 1 });
      await createControlledTables(service.services.warehouse);

      const early = await service.app.inject({ method: 'POST', url: `/api/tests/${sim.test_id}/retry-delayed-enrichment` });
      expect(early.statusCode).toBe(409);
      expect(early.json().detail).toMatch(/is PENDING/);

      const broken: Script = () => ({ kind: 'permanent' });
      await process(4 * HOUR, controlledRegistry(broken));
      const status = (await get(`/api/tests/${sim.test_id}/delayed-enrichment-status`)).json();
      expect(status).toMatchObject({ status: 'FAILED', queue_status: 'FAILED', minutes_remaining: null });
      expect(status.last_error).toMatch(/insufficient privileges/);
      const metrics = (await get(`/api/tests/${sim.test_id}/server-metrics`)).json();
      expect(metrics).toMatchObject({ status: 'FAILED', aggregate_metrics: null, expected_at: null });
      expect(metrics.reason).toMatch(/AGGREGATE: insufficient privileges/);
      const failedPartial = await get(`/api/tests/${sim.test_id}/server-metrics`, { 'hx-request': 'true' });
      expect(failedPartial.body).toContain('Failed: AGGREGATE: insufficient privileges');

      const retry = await service.app.inject({ method: 'POST', url: `/api/tests/${sim.test_id}/retry-delayed-enrichment` });
      expect(retry.statusCode).toBe(200);
      expect(retry.json()).toMatchObject({ test_id: sim.test_id, job_id: sim.job_id, status: 'PENDING' });
      expect(typeof retry.json().message).toBe('string');
      const after = (await get(`/api/tests/${sim.test_id}/delayed-enrichment-status`)).json();
      expect(after).toMatchObject({ status: 'PENDING', queue_status: 'PENDING', last_error: null, minutes_remaining: 0 });

      const again = await service.app.inject({ method: 'POST', url: `/api/tests/${sim.test_id}/retry-delayed-enrichment` });
      expect(again.statusCode).toBe(409);
      expect(again.json().detail).toMatch(/is PENDING, not FAILED/);

      const notQueued = await simulate({ table_type: 'STANDARD', seed: 9, duration_minutes: 5, sessions: 1, enqueue: false });
      const none = await service.app.inject({ method: 'POST', url: `/api/tests/${notQueued.test_id}/retry-delayed-enrichment` });
      expect(none.statusCode).toBe(409);
      expect(none.json().detail).toMatch(/NOT_QUEUED/);
    });
  });

  describe('purge and tokens', () => {
    it('without API_TOKEN configured, DELETE is 403 and changes nothing', async () => {
      await start();
      const sim = await simulate({ table_type: 'STANDARD', seed: 6, duration_minutes: 5, sessions: 1 });
      const response = await service.app.inject({ method: 'DELETE', url: `/api/tests/${sim.test_id}/delayed-enrichment` });
      expect(response.statusCode).toBe(403);
      expect(response.json().detail).toMatch(/API_TOKEN/);
      expect((await get(`/api/tests/${sim.test_id}/delayed-enrichment-status`)).json().job_id).toBe(sim.job_id);
    });

    it('with API_TOKEN: 401 without the bearer, 404 unknown test, 200 with the removed rows', async () => {
      await start({ API_TOKEN: TOKEN });
      const sim = await simulate({ table_type: 'STANDARD', seed: 6, duration_minutes: 5, sessions: 1 });
      await process(4 * HOUR);
      const rowsOf = async (table: string) =>
        Number((await service.services.warehouse.query(`SELECT COUNT(*) AS N FROM ${table} WHERE TEST_ID = ?`, [sim.test_id]))[0]!.N);
      const metricRows = sim.truth.patterns.length;
      expect(await rowsOf('AGGREGATE_QUERY_METRICS')).toBe(metricRows);
      const insightRows = sim.truth.insights.distinct_type_hash_pairs;

      const anonymous = await service.app.inject({ method: 'DELETE', url: `/api/tests/${sim.test_id}/delayed-enrichment` });
      expect(anonymous.statusCode).toBe(401);
      const retryAnonymous = await service.app.inject({ method: 'POST', url: `/api/tests/${sim.test_id}/retry-delayed-enrichment` });
      expect(retryAnonymous.statusCode).toBe(401);
      const auth = { authorization: `Bearer ${TOKEN}` };
      const unknown = await service.app.inject({ method: 'DELETE', url: '/api/tests/no-such-test/delayed-enrichment', headers: auth });
      expect(unknown.statusCode).toBe(404);
      expect(unknown.json().detail).toContain('no-such-test');

      const purged = await service.app.inject({ method: 'DELETE', url: `/api/tests/${sim.test_id}/delayed-enrichment`, headers: auth });
      expect(purged.statusCode).toBe(200);
      expect(purged.json()).toMatchObject({
        test_id: sim.test_id,
        job_id: sim.job_id,
        removed: { jobs: 1, aggregate_metrics: metricRows, aggregate_test_metrics: 1, insights: insightRows, test_results: 1 },
      });
      expect(await rowsOf('AGGREGATE_QUERY_METRICS')).toBe(0);
      const status = (await get(`/api/tests/${sim.test_id}/delayed-enrichment-status`)).json();
      expect(status).toMatchObject({ status: 'NOT_QUEUED', job_id: null });
    });
  });

  describe('numbers from rows the test wrote itself', () => {
    beforeEach(async () => start());

    /** A STANDARD or HYBRID test whose every type completed with the controlled modules (they write no data). */
    async function completedTest(tableType: string): Promise<string> {
      const sim = await simulate({ table_type: tableType, seed: 8, duration_minutes: 5, sessions: 1 });
      await createControlledTables(service.services.warehouse);
      await process(4 * HOUR, controlledRegistry(() => ({ kind: 'succeed', rows: 0 })));
      await service.services.warehouse.execute('DELETE FROM AGGREGATE_QUERY_METRICS WHERE TEST_ID = ?', [sim.test_id]);
      return sim.test_id;
    }

    it('server metrics: test-level percentiles from AGGREGATE_TEST_METRICS, averages weighted by query count', async () => {
      const id = await completedTest('STANDARD');
      const w = service.services.warehouse;
      // Two patterns, 1 and 99 queries: the weighted average is far from the average of averages.
      const insert = `INSERT INTO AGGREGATE_QUERY_METRICS (METRIC_ID, TEST_ID, RUN_ID, QUERY_PARAMETERIZED_HASH, INTERVAL_START, INTERVAL_END,
        INTERVAL_COUNT, QUERY_COUNT, ERRORS_COUNT, EXEC_SUM_MS, EXEC_AVG_MS, EXEC_P95_MS, EXEC_P99_MS, EXEC_MAX_MS, COMPILE_SUM_MS, COMPILE_AVG_MS,
        COMPILE_MIN_MS, COMPILE_MAX_MS, QUEUED_OVERLOAD_SUM_MS, QUEUED_OVERLOAD_MAX_MS, QUEUED_PROVISIONING_SUM_MS, QUEUED_PROVISIONING_MAX_MS,
        HYBRID_REQUESTS_THROTTLED_COUNT, PERCENTILE_METHOD)
        VALUES (?, ?, 'r', ?, TIMESTAMP '2025-11-20 11:00:00', TIMESTAMP '2025-11-20 11:10:00', 10, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'ORDER_STATISTICS_EM')`;
      await w.execute(insert, ['m1', id, 'slow', 1, 1, 1000, 1000, 1000, 1000, 1000, 50, 50, 50, 50, 10, 10, 0, 0, 2]);
      await w.execute(insert, ['m2', id, 'fast', 99, 0, 990, 10, 20, 30, 40, 99, 1, 0.5, 3, 0, 0, 99, 7, 1]);
      await w.execute('DELETE FROM AGGREGATE_TEST_METRICS WHERE TEST_ID = ?', [id]);
      await w.execute(
        `INSERT INTO AGGREGATE_TEST_METRICS (TEST_ID, RUN_ID, QUERY_COUNT, EXEC_AVG_MS, EXEC_MEDIAN_MS, EXEC_P90_MS, EXEC_P95_MS, EXEC_P99_MS, EXEC_MAX_MS, PERCENTILE_METHOD)
         VALUES (?, 'r', 100, 19.9, 9.5, 18.5, 21.25, 987.5, 1000, 'ORDER_STATISTICS_EM')`,
        [id],
      );
      const m = (await get(`/api/tests/${id}/server-metrics`)).json().aggregate_metrics;
      expect(m).toMatchObject({
        unique_query_patterns: 2,
        total_queries: 100,
        total_exec_ms: 1990,
        exec_avg_ms: 1990 / 100, // not (1000 + 10) / 2
        exec_median_ms: 9.5,
        exec_p90_ms: 18.5,
        exec_p95_ms: 21.25, // the stored mixture estimate, not MAX(1000, 20) nor their average
        exec_p99_ms: 987.5,
        exec_max_ms: 1000,
        worst_p95_exec_ms: 1000,
        worst_p99_exec_ms: 1000,
        compile_avg_ms: 149 / 100,
        compile_min_ms: 0.5,
        compile_max_ms: 50,
        queued_overload_avg_ms: 10 / 100,
        queued_overload_max_ms: 10,
        queued_provisioning_max_ms: 7,
        total_throttled_requests: 3,
        total_errors: 1,
      });
      expect(m.patterns.map((p: { hash: string }) => p.hash)).toEqual(['fast', 'slow']); // most queries first
    });

    it('lock contention counts distinct waits and every blocker, each wait once in the durations', async () => {
      const id = await completedTest('HYBRID');
      const insert = `INSERT INTO LOCK_CONTENTION_EVENTS (EVENT_ID, TEST_ID, RUN_ID, LOCK_TRANSACTION_ID, BLOCKING_TRANSACTION_ID, REQUESTED_AT,
        WAIT_DURATION_MS, LOCK_TYPE, OBJECT_ID, OBJECT_NAME, QUERY_ID, BLOCKING_QUERY_ID, BLOCKER_COUNT, UNIDENTIFIED_BLOCKERS, FIRST_SEEN_BLOCKERS)
        VALUES (?, ?, 'r', ?, ?, CAST(? AS TIMESTAMP_NTZ), ?, 'ROW', 1, 'T', ?, ?, ?, ?, ?)`;
      const w = service.services.warehouse;
      // One row per wait (migration 0007). Wait A (query qa) blocked by transactions 900 and 901; wait B by 900
      // again (first seen in A); wait C by an unidentified blocker.
      await w.execute(insert, ['e1', id, 100, 900, '2025-11-20T11:01:00Z', 6000, 'qa', 'b900', 2, 0, 2]);
      await w.execute(insert, ['e3', id, 101, 900, '2025-11-20T11:02:00Z', 8000, 'qb', 'b900', 1, 0, 0]);
      await w.execute(insert, ['e4', id, 102, null, '2025-11-20T11:03:00Z', null, 'qc', null, 1, 1, 0]);
      const body = (await get(`/api/tests/${id}/lock-contention?limit=2`)).json();
      expect(body.summary).toMatchObject({
        lock_wait_count: 3,
        total_wait_ms: 14000,
        avg_wait_ms: 7000,
        max_wait_ms: 8000,
        waits_without_duration: 1,
        unique_blockers: 2,
        unidentified_blockers: 1,
        blocker_rows: 4,
        first_lock_wait: '2025-11-20T11:01:00.000Z',
        last_lock_wait: '2025-11-20T11:03:00.000Z',
      });
      expect(body.events.map((e: { event_id: string }) => e.event_id)).toEqual(['e1', 'e3']);
      expect(body.events[1]).toMatchObject({ transaction_id: '101', blocking_transaction_id: '900', blocking_query_id: 'b900', wait_ms: 8000 });
      const next = (await get(`/api/tests/${id}/lock-contention?limit=2&cursor=${body.next_cursor}`)).json();
      expect(next.events.map((e: { event_id: string }) => e.event_id)).toEqual(['e4']);
      expect(next.next_cursor).toBeNull();
      // A cursor of another test is refused.
      const other = await completedTest('HYBRID');
      const foreign = await get(`/api/tests/${other}/lock-contention?cursor=${body.next_cursor}`);
      expect(foreign.statusCode).toBe(400);
    });

    it('a hostile TEST_NAME is escaped in the status partial; Accept and HX-Request choose the format', async () => {
      const sim = await simulate({ table_type: 'STANDARD', seed: 12, duration_minutes: 5, sessions: 1 });
      await service.services.warehouse.execute('UPDATE TEST_RESULTS SET TEST_NAME = ? WHERE TEST_ID = ?', [HOSTILE, sim.test_id]);
      const url = `/api/tests/${sim.test_id}/delayed-enrichment-status`;

      const json = await get(url);
      expect(json.headers['content-type']).toMatch(/^application\/json/);
      expect(json.json().test_name).toBe(HOSTILE);
      expect(String(json.headers.vary)).toMatch(/Accept/);
      expect(String(json.headers.vary)).toMatch(/HX-Request/);

      for (const headers of <Array<Record<string, string>>>[{ 'hx-request': 'true' }, { accept: 'text/html' }, { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' }]) {
        const partial = await get(url, headers);
        expect(partial.headers['content-type'], JSON.stringify(headers)).toMatch(/^text\/html/);
        expect(partial.body).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
        expect(partial.body).not.toMatch(/<script|<img|<html|<body|<head/i);
        expect(partial.body).toMatch(/^<section [^>]*aria-labelledby="([^"]+)"[\s\S]*<h3 id="\1">/);
        expect(partial.body).toContain('role="status" aria-live="polite"');
        expect(partial.body).toContain('<th scope="row">');
      }
      for (const headers of <Array<Record<string, string>>>[{ accept: 'application/json' }, { accept: 'application/json, text/html' }, { accept: 'text/html;q=0.5, application/json' }, { accept: '*/*' }, { 'hx-request': 'false' }]) {
        const response = await get(url, headers);
        expect(response.headers['content-type'], JSON.stringify(headers)).toMatch(/^application\/json/);
      }
    });
  });

  describe('the read cache', () => {
    it('answers a repeated read from memory, with minutes_remaining right at every instant, until READ_CACHE_SECONDS pass', async () => {
      await start({ READ_CACHE_SECONDS: '86400' });
      const sim = await simulate({ table_type: 'HYBRID', seed: 3, duration_minutes: 5, sessions: 2 });
      const url = `/api/tests/${sim.test_id}/delayed-enrichment-status`;
      type Status = { status: string; expected_at: string; minutes_remaining: number; types: Array<{ type: string; expected_at: string; minutes_remaining: number }> };
      let first: Status | undefined;
      expect(await statementsOf(async () => (first = (await get(url)).json()))).toBe(1);
      expect(first!.status).toBe('PENDING');
      const minutesTo = (at: string) => Math.max(0, Math.ceil((Date.parse(at) - clock.now().getTime()) / MINUTE));

      // Irregular steps across several minute boundaries of both due times (the insights type is due first),
      // up to past the last one: every answer from memory, every minutes_remaining as the clock says.
      const firstDue = Math.min(...first!.types.map((t) => Date.parse(t.expected_at)));
      clock.set(new Date(firstDue - 3 * MINUTE - 5_000));
      await visibility.settled(); // the simulated views' own statements are not the route's
      const steps = [4_000, 1_000, 997, 58_003, 1, 29_999, 30_000, 61_000, 7_000, 53_000, 0, 120_000];
      for (const step of steps) {
        clock.advance(step);
        await visibility.settled();
        let status: Status | undefined;
        expect(await statementsOf(async () => (status = (await get(url)).json()))).toBe(0);
        expect(status!.minutes_remaining, clock.now().toISOString()).toBe(minutesTo(status!.expected_at));
        for (const type of status!.types) expect(type.minutes_remaining, `${type.type} at ${clock.now().toISOString()}`).toBe(minutesTo(type.expected_at));
      }
      expect(await statementsOf(() => get(url, { 'hx-request': 'true' }))).toBe(0);
    });

    it('reads again once READ_CACHE_SECONDS pass; never keeps a 404', async () => {
      await start({ READ_CACHE_SECONDS: '120' });
      const sim = await simulate({ table_type: 'HYBRID', seed: 3, duration_minutes: 5, sessions: 2 });
      const url = `/api/tests/${sim.test_id}/server-metrics`;
      expect(await statementsOf(() => get(url))).toBe(1);
      clock.advance(119_000);
      await visibility.settled();
      expect(await statementsOf(() => get(url))).toBe(0);
      clock.advance(2_000);
      await visibility.settled();
      expect(await statementsOf(() => get(url))).toBe(1);
      // An unknown test's 404 is never kept: FlakeBench may write the test next.
      for (let i = 0; i < 2; i += 1) expect(await statementsOf(() => get('/api/tests/not-yet-written/server-metrics'))).toBe(1);
    });

    it("reads again after the test's own events and after a purge, and keeps other tests' rows", async () => {
      await start({ READ_CACHE_SECONDS: '86400', API_TOKEN: TOKEN });
      const sim = await simulate({ table_type: 'STANDARD', seed: 4, duration_minutes: 5, sessions: 1 });
      const other = await simulate({ table_type: 'STANDARD', seed: 5, duration_minutes: 5, sessions: 1 });
      const statusOf = async (id: string) => (await get(`/api/tests/${id}/delayed-enrichment-status`)).json();
      const metricsOf = async (id: string) => (await get(`/api/tests/${id}/server-metrics`)).json();
      expect((await statusOf(sim.test_id)).status).toBe('PENDING');
      expect((await metricsOf(sim.test_id)).status).toBe('PENDING');
      expect((await statusOf(other.test_id)).status).toBe('PENDING');

      // The processor's batches (events on this instance's bus) drop both tests' rows.
      await process(4 * HOUR);
      expect((await statusOf(sim.test_id)).status).toBe('COMPLETED');
      expect((await metricsOf(sim.test_id)).aggregate_metrics.total_queries).toBe(sim.truth.overall.query_count);
      expect(await statementsOf(() => statusOf(other.test_id))).toBe(1);

      // A purge writes no event; the next read still sees it.
      const purged = await service.app.inject({ method: 'DELETE', url: `/api/tests/${sim.test_id}/delayed-enrichment`, headers: { authorization: `Bearer ${TOKEN}` } });
      expect(purged.statusCode).toBe(200);
      expect((await statusOf(sim.test_id)).status).toBe('NOT_QUEUED');
      expect((await metricsOf(sim.test_id)).status).toBe('NOT_QUEUED');
      // The other test's rows were kept.
      expect(await statementsOf(() => statusOf(other.test_id))).toBe(0);
    });
  });
});
