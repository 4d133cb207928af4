// The dashboard's server side through app.inject on the real service and a real DuckDB file: GET / and its
// assets (types, security headers, reachable without a token when every GET needs one), the job list it reads
// (GET /api/enrichment/recent-jobs: newest change first, per-type due times, bounded), and the client-side
// latencies it charts next to the server percentiles (GET /api/tests/{id}/client-latencies). Expected values
// come from the rows each test writes and from PERCENTILE_CONT computed by hand.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { typeDueAt, typesForTableType } from '../src/queue/plan.js';
import { startTestService } from './support/embedded.js';
import { insertTests } from './support/processor-fixtures.js';

type Service = Awaited<ReturnType<typeof startTestService>>;
const TOKEN = 'dashboard-token-0123456789';
const MINUTE = 60_000;

let service: Service | undefined;
afterEach(async () => {
  await service?.stop();
  service = undefined;
});

async function start(env: Record<string, string> = {}, clock = new ManualClock('2026-04-10T12:00:00.000Z')): Promise<Service> {
  service = await startTestService({ clock, env });
  return service;
}

describe('GET / and the assets', () => {
  it('answers the page with a strict content security policy; assets come from public/ with their types', async () => {
    const app = (await start()).app;
    const page = await app.inject({ method: 'GET', url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toBe(readFileSync(new URL('../public/index.html', import.meta.url), 'utf8'));
    expect(page.body).toContain('<script type="module" src="/dashboard/app.js"></script>');
    expect(String(page.headers['content-security-policy'])).toContain("script-src 'self'");
    expect(String(page.headers['content-security-policy'])).toContain("connect-src 'self'");

    const script = await app.inject({ method: 'GET', url: '/dashboard/format.js' });
    expect(script.statusCode).toBe(200);
    expect(script.headers['content-type']).toMatch(/^(text|application)\/javascript/);
    expect(script.body).toBe(readFileSync(new URL('../public/format.js', import.meta.url), 'utf8'));
    const style = await app.inject({ method: 'GET', url: '/dashboard/style.css' });
    expect(style.statusCode).toBe(200);
    expect(style.headers['content-type']).toMatch(/^text\/css/);

    const missing = await app.inject({ method: 'GET', url: '/dashboard/nothing-here.js' });
    expect(missing.statusCode).toBe(404);
    expect((missing.json() as { detail: string }).detail).toBe('No route GET /dashboard/nothing-here.js');
    // Nothing outside public/ is reachable through the asset prefix.
    expect((await app.inject({ method: 'GET', url: '/dashboard/../package.json' })).body).not.toContain('"dependencies"');
    expect((await app.inject({ method: 'GET', url: '/dashboard/%2e%2e/package.json' })).statusCode).not.toBe(200);
  });

  it('with API_AUTH_SCOPE=all the page and assets load without a token; the data routes still need it', async () => {
    const app = (await start({ API_TOKEN: TOKEN, API_AUTH_SCOPE: 'all' })).app;
    expect((await app.inject({ method: 'GET', url: '/' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/dashboard/app.js' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/api/enrichment/recent-jobs' })).statusCode).toBe(401);
    expect((await app.inject({ method: 'GET', url: '/api/enrichment/stats' })).statusCode).toBe(401);
    expect((await app.inject({ method: 'GET', url: '/api/enrichment/recent-jobs', headers: { authorization: `Bearer ${TOKEN}` } })).statusCode).toBe(200);
    // Only reads of the shell are exempt.
    expect((await app.inject({ method: 'POST', url: '/' })).statusCode).toBe(401);
  });
});

describe('GET /api/enrichment/recent-jobs', () => {
  it('lists the most recently changed jobs first, each with its per-type status and due time', async () => {
    const clock = new ManualClock('2026-04-10T12:00:00.000Z');
    const { app, services } = await start({}, clock);
    await insertTests(services.warehouse, [
      { testId: 'a', runId: 'r', tableType: 'STANDARD' },
      { testId: 'b', runId: 'r', tableType: 'HYBRID' },
      { testId: 'c', runId: 'r', tableType: 'STANDARD' },
    ]);
    const end = new Date('2026-04-10T11:00:00.000Z');
    const jobs: Record<string, string> = {};
    for (const [testId, tableType] of [['a', 'STANDARD'], ['b', 'HYBRID'], ['c', 'STANDARD']] as const) {
      const response = await app.inject({ method: 'POST', url: '/api/enrichment/jobs', payload: { test_id: testId, run_id: 'r', table_type: tableType, test_end_time: end.toISOString() } });
      expect(response.statusCode).toBe(201);
      jobs[testId] = (response.json() as { job_id: string }).job_id;
      clock.advance(MINUTE);
    }
    // Cancelling a changes it last: it moves to the top.
    expect((await app.inject({ method: 'POST', url: `/api/enrichment/jobs/${jobs.a}/cancel` })).statusCode).toBe(200);

    const response = await app.inject({ method: 'GET', url: '/api/enrichment/recent-jobs' });
    expect(response.statusCode).toBe(200);
    const body = response.json() as { at: string; jobs: Array<{ job_id: string; test_id: string; status: string; table_type: string; types: Array<{ type: string; status: string; due_at: string }> }> };
    expect(body.at).toBe(clock.now().toISOString());
    expect(body.jobs.map((job) => [job.test_id, job.status])).toEqual([
      ['a', 'SKIPPED'],
      ['c', 'PENDING'],
      ['b', 'PENDING'],
    ]);
    const hybrid = body.jobs.find((job) => job.test_id === 'b')!;
    expect(hybrid.table_type).toBe('HYBRID');
    expect(hybrid.types.map((type) => type.type)).toEqual(typesForTableType('HYBRID'));
    for (const type of hybrid.types) {
      expect(type.status).toBe('PENDING');
      expect(type.due_at).toBe(typeDueAt(services.config, type.type as never, end).toISOString());
    }

    const limited = (await app.inject({ method: 'GET', url: '/api/enrichment/recent-jobs?limit=1' })).json() as typeof body;
    expect(limited.jobs.map((job) => job.test_id)).toEqual(['a']);
    const pending = (await app.inject({ method: 'GET', url: '/api/enrichment/recent-jobs?status=PENDING' })).json() as typeof body;
    expect(pending.jobs.map((job) => job.test_id)).toEqual(['c', 'b']);
  });

  it('refuses a limit beyond its bound or an unknown status with a detail naming it', async () => {
    const app = (await start()).app;
    const tooMany = await app.inject({ method: 'GET', url: '/api/enrichment/recent-jobs?limit=201' });
    expect(tooMany.statusCode).toBe(400);
    expect((tooMany.json() as { detail: string }).detail).toMatch(/limit must be <= 200/);
    const unknown = await app.inject({ method: 'GET', url: '/api/enrichment/recent-jobs?status=DONE' });
    expect(unknown.statusCode).toBe(400);
    expect((unknown.json() as { detail: string }).detail).toMatch(/status/);
  });
});

describe('GET /api/tests/{test_id}/client-latencies', () => {
  it("returns FlakeBench's recorded summary and PERCENTILE_CONT per kind and pattern over the measurement phase", async () => {
    const { app, services } = await start();
    const warehouse = services.warehouse;
    await insertTests(warehouse, [{ testId: 't1', runId: 'r1', tableType: 'HYBRID' }]);
    await warehouse.execute(
      `UPDATE TEST_RESULTS SET TOTAL_OPERATIONS = 5, FAILED_OPERATIONS = 1, AVG_LATENCY_MS = 4.5, P50_LATENCY_MS = 3.25, P90_LATENCY_MS = 8,
        P95_LATENCY_MS = 9.5, P99_LATENCY_MS = 11.75, MIN_LATENCY_MS = 0.5, MAX_LATENCY_MS = 12, POINT_LOOKUP_P50_LATENCY_MS = 2.5 WHERE TEST_ID = 't1'`,
    );
    // POINT_LOOKUP (measurement): 1, 2, 4, 10 ms, two of them with pattern h1; RANGE_SCAN: 7 ms (failed);
    // a warm-up POINT_LOOKUP of 500 ms that must not count.
    const rows: Array<[string, string, boolean, boolean, number, string | null]> = [
      ['e1', 'POINT_LOOKUP', false, true, 1, 'h1'],
      ['e2', 'POINT_LOOKUP', false, true, 2, null],
      ['e3', 'POINT_LOOKUP', false, true, 4, 'h1'],
      ['e4', 'POINT_LOOKUP', false, true, 10, null],
      ['e5', 'RANGE_SCAN', false, false, 7, 'h2'],
      ['e6', 'POINT_LOOKUP', true, true, 500, 'h1'],
    ];
    for (const [id, kind, warmup, success, ms, hash] of rows) {
      await warehouse.execute(
        `INSERT INTO QUERY_EXECUTIONS (EXECUTION_ID, TEST_ID, QUERY_ID, QUERY_TEXT, START_TIME, END_TIME, DURATION_MS, SUCCESS, QUERY_KIND, WARMUP, QUERY_PARAMETERIZED_HASH)
         VALUES (?, 't1', ?, 'SELECT 1', CAST('2026-01-15 10:10:00' AS TIMESTAMP_NTZ), CAST('2026-01-15 10:10:01' AS TIMESTAMP_NTZ), ?, ?, ?, ?, ?)`,
        [id, `q-${id}`, ms, success, kind, warmup, hash],
      );
    }
    const response = await app.inject({ method: 'GET', url: '/api/tests/t1/client-latencies' });
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json() as Record<string, unknown> & { by_kind: unknown[]; by_pattern: unknown[]; recorded: Record<string, unknown> };
    expect(body.recorded).toEqual({
      total_operations: 5,
      failed_operations: 1,
      avg_ms: 4.5,
      min_ms: 0.5,
      p50_ms: 3.25,
      p90_ms: 8,
      p95_ms: 9.5,
      p99_ms: 11.75,
      max_ms: 12,
      operations: { POINT_LOOKUP: { p50_ms: 2.5, p95_ms: null, p99_ms: null, min_ms: null, max_ms: null } },
    });
    // PERCENTILE_CONT over 1, 2, 4, 10: rank (n−1)·q = 3q. p50: 2 + 0.5·2 = 3; p90: rank 2.7 → 4 + 0.7·6 = 8.2;
    // p95: rank 2.85 → 4 + 0.85·6 = 9.1; p99: rank 2.97 → 4 + 0.97·6 = 9.82. Average 17/4 = 4.25.
    const close = (value: number) => expect.closeTo(value, 9);
    expect(body.by_kind).toEqual([
      { query_kind: 'POINT_LOOKUP', hash: null, executions: 4, errors: 0, avg_ms: 4.25, min_ms: 1, p50_ms: close(3), p90_ms: close(8.2), p95_ms: close(9.1), p99_ms: close(9.82), max_ms: 10 },
      { query_kind: 'RANGE_SCAN', hash: null, executions: 1, errors: 1, avg_ms: 7, min_ms: 7, p50_ms: 7, p90_ms: 7, p95_ms: 7, p99_ms: 7, max_ms: 7 },
    ]);
    // Pattern h1 of the measurement phase: 1 and 4 ms → p50 2.5, p90 1 + 0.9·3 = 3.7, p95 3.85, p99 3.97.
    expect(body.by_pattern).toEqual([
      { query_kind: 'POINT_LOOKUP', hash: 'h1', executions: 2, errors: 0, avg_ms: 2.5, min_ms: 1, p50_ms: close(2.5), p90_ms: close(3.7), p95_ms: close(3.85), p99_ms: close(3.97), max_ms: 4 },
      { query_kind: 'RANGE_SCAN', hash: 'h2', executions: 1, errors: 1, avg_ms: 7, min_ms: 7, p50_ms: 7, p90_ms: 7, p95_ms: 7, p99_ms: 7, max_ms: 7 },
    ]);
    expect(body).toMatchObject({ test_id: 't1', latency_column: 'DURATION_MS', percentile_method: 'PERCENTILE_CONT', groups_truncated: false });
    // Not enqueued: the pattern hashes are not awaited from anything.
    expect((body.pattern_availability as { status: string }).status).toBe('NOT_QUEUED');
  });

  it('says when the pattern hashes are expected while QUERY_HISTORY is pending; 404 for an unknown test', async () => {
    const { app, services } = await start({ LATENCY_SCALE: '1' });
    await insertTests(services.warehouse, [{ testId: 't2', runId: 'r2', tableType: 'STANDARD' }]);
    const end = new Date('2026-04-10T11:50:00.000Z');
    const enqueued = await app.inject({ method: 'POST', url: '/api/enrichment/jobs', payload: { test_id: 't2', run_id: 'r2', table_type: 'STANDARD', test_end_time: end.toISOString() } });
    expect(enqueued.statusCode).toBe(201);
    const body = (await app.inject({ method: 'GET', url: '/api/tests/t2/client-latencies' })).json() as {
      by_kind: unknown[];
      by_pattern: unknown[];
      pattern_availability: { status: string; expected_at: string; minutes_remaining: number };
    };
    expect(body.by_kind).toEqual([]);
    expect(body.by_pattern).toEqual([]);
    // QUERY_HISTORY: 45 min documented latency + 5 min buffer after the end (11:50) → 12:40, 40 min from 12:00.
    expect(body.pattern_availability).toMatchObject({ status: 'PENDING', expected_at: '2026-04-10T12:40:00.000Z', minutes_remaining: 40 });

    const unknown = await app.inject({ method: 'GET', url: '/api/tests/nope/client-latencies' });
    expect(unknown.statusCode).toBe(404);
    expect((unknown.json() as { detail: string }).detail).toBe("Test 'nope' not found");
  });
});
