// The simulated ACCOUNT_USAGE views: documented columns and types, rows hidden until their view's scaled
// latency has passed on the service clock, and the dev routes around them.
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { ManualClock } from '../src/clock.js';
import { PRELUDE_TYPES } from '../src/db/prelude.js';
import { SOURCE_VIEWS, sourceViewName, type SourceColumnType } from '../src/sources/account-usage.js';
import { openTestDatabase, startTestService, testConfig, silentLog } from './support/embedded.js';
import { createServices } from '../src/services.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

/** What DuckDB reports for each documented type (TIMESTAMP_LTZ is the prelude's alias). */
const ltz = PRELUDE_TYPES.find((t) => t.name === 'TIMESTAMP_LTZ')?.definition;
const EXPECTED: Record<SourceColumnType, RegExp> = {
  TEXT: /^VARCHAR$/,
  NUMBER: /^DECIMAL\(38,\d\)$/,
  FLOAT: /^DOUBLE$/,
  BOOLEAN: /^BOOLEAN$/,
  TIMESTAMP_LTZ: new RegExp(`^${ltz}$`),
  OBJECT: /^JSON$/,
  ARRAY: /^JSON$/,
  VARIANT: /^JSON$/,
};

describe('simulated ACCOUNT_USAGE views', () => {
  it('have exactly the documented columns, in order, with the documented types', async () => {
    const db = await openTestDatabase();
    cleanups.push(() => db.close());
    for (const view of SOURCE_VIEWS) {
      const columns = await db.warehouse.query<{ NAME: string; TYPE: string }>(
        `SELECT column_name AS NAME, data_type AS TYPE FROM duckdb_columns() WHERE schema_name = 'ACCOUNT_USAGE' AND table_name = ? ORDER BY column_index`,
        [view.name],
      );
      expect(columns.map((c) => c.NAME), view.name).toEqual(view.columns.map((c) => c.name));
      for (const [index, column] of view.columns.entries()) {
        expect(columns[index]?.TYPE, `${view.name}.${column.name}`).toMatch(EXPECTED[column.type]);
      }
      // Readable under the three-part name the enrichment SQL uses.
      expect(await db.warehouse.query(`SELECT * FROM ${sourceViewName(view.name)} WHERE 1 = 0`)).toEqual([]);
    }
  });

  it('show each row only once its view latency × LATENCY_SCALE has passed on the service clock', async () => {
    const clock = new ManualClock('2026-01-15T12:00:00.000Z');
    const service = await startTestService({ clock, env: { LATENCY_SCALE: '0.1' } });
    cleanups.push(() => service.stop());
    const response = await service.app.inject({
      method: 'POST',
      url: '/api/dev/simulate',
      payload: { table_type: 'HYBRID', seed: 11, duration_minutes: 5, sessions: 4, background: false, late_minutes: { LOCK_WAIT_HISTORY: 60 } },
    });
    expect(response.statusCode, response.body).toBe(200);
    const { run_id: runId } = response.json() as { run_id: string };
    const w = service.services.warehouse;
    const end = new Date('2026-01-15T12:00:00.000Z').getTime();
    const scale = 0.1;
    const visible = async (view: string) =>
      (await w.query<{ N: number }>(`SELECT COUNT(*) AS N FROM ${sourceViewName(view as 'QUERY_HISTORY')}`))[0]?.N ?? 0;
    const stored = async (view: string) =>
      (await w.query<{ N: number }>(`SELECT COUNT(*) AS N FROM SIMULATED_ACCOUNT_USAGE.${view}`))[0]?.N ?? 0;
    const at = async (ms: number) => {
      clock.set(new Date(ms));
      // The views read the clock row the dev plugin writes on every change, queued before our next read.
    };
    const queryHistoryDue = async (nowMs: number) =>
      (
        await w.query<{ N: number }>(
          `SELECT COUNT(*) AS N FROM SIMULATED_ACCOUNT_USAGE.QUERY_HISTORY WHERE END_TIME <= CAST(? AS TIMESTAMP)`,
          [new Date(nowMs - 45 * 60_000 * scale)],
        )
      )[0]?.N ?? 0;

    expect(runId).toBeTruthy();
    // At the test end (clock = end): QUERY_HISTORY's scaled 4.5 minutes have passed for the oldest rows only.
    expect(await visible('QUERY_HISTORY')).toBe(await queryHistoryDue(end));
    for (const view of SOURCE_VIEWS.filter((v) => v.name !== 'QUERY_HISTORY')) expect(await visible(view.name), `${view.name} at the test end`).toBe(0);
    expect(await stored('QUERY_HISTORY')).toBeGreaterThan(0);
    expect(await stored('LOCK_WAIT_HISTORY')).toBeGreaterThan(0);

    // Half way through QUERY_HISTORY's scaled 45 minutes after the test's middle: only the older rows show.
    const partial = end - 2.5 * 60_000 + 45 * 60_000 * scale;
    await at(partial);
    const expectedPartial = await queryHistoryDue(partial);
    expect(expectedPartial).toBeGreaterThan(0);
    expect(expectedPartial).toBeLessThan(await stored('QUERY_HISTORY'));
    expect(await visible('QUERY_HISTORY')).toBe(expectedPartial);
    expect(await visible('AGGREGATE_QUERY_HISTORY')).toBe(0);

    // After the 3 h views' scaled latency: everything but the view made late shows.
    await at(end + 180 * 60_000 * scale + 60_000);
    expect(await visible('QUERY_HISTORY')).toBe(await stored('QUERY_HISTORY'));
    expect(await visible('AGGREGATE_QUERY_HISTORY')).toBe(await stored('AGGREGATE_QUERY_HISTORY'));
    expect(await visible('HYBRID_TABLE_USAGE_HISTORY')).toBe(await stored('HYBRID_TABLE_USAGE_HISTORY'));
    expect(await visible('LOCK_WAIT_HISTORY')).toBe(0);

    // The late view catches up after its extra (scaled) 60 minutes.
    await at(end + (180 + 60) * 60_000 * scale + 60_000);
    expect(await visible('LOCK_WAIT_HISTORY')).toBe(await stored('LOCK_WAIT_HISTORY'));
  });
});

describe('POST /api/dev/simulate', () => {
  it('returns the same truth twice for one seed, with different test ids', async () => {
    const service = await startTestService();
    cleanups.push(() => service.stop());
    const body = { table_type: 'STANDARD', seed: 42, duration_minutes: 6, sessions: 3 };
    const first = await service.app.inject({ method: 'POST', url: '/api/dev/simulate', payload: body });
    const second = await service.app.inject({ method: 'POST', url: '/api/dev/simulate', payload: body });
    expect(first.statusCode, first.body).toBe(200);
    expect(second.statusCode, second.body).toBe(200);
    const a = first.json() as { test_id: string; truth: { overall: { query_count: number } } };
    const b = second.json() as { test_id: string; truth: unknown };
    expect(a.truth.overall.query_count).toBeGreaterThan(0);
    expect(b.truth).toEqual(a.truth);
    expect(b.test_id).not.toBe(a.test_id);
    const other = await service.app.inject({ method: 'POST', url: '/api/dev/simulate', payload: { ...body, seed: 43 } });
    expect((other.json() as { truth: unknown }).truth).not.toEqual(a.truth);
  });

  it('enqueues through the enrichment queue when asked', async () => {
    const service = await startTestService();
    cleanups.push(() => service.stop());
    const response = await service.app.inject({
      method: 'POST',
      url: '/api/dev/simulate',
      payload: { table_type: 'HYBRID', seed: 5, duration_minutes: 2, sessions: 2, enqueue: true },
    });
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json() as { test_id: string; run_id: string; job_id: string };
    expect(body.job_id).toEqual(expect.any(String));
    const jobs = await service.services.warehouse.query<{ JOB_ID: string; TEST_ID: string; RUN_ID: string }>(
      'SELECT JOB_ID, TEST_ID, RUN_ID FROM DELAYED_ENRICHMENT_QUEUE WHERE TEST_ID = ?',
      [body.test_id],
    );
    expect(jobs).toEqual([{ JOB_ID: body.job_id, TEST_ID: body.test_id, RUN_ID: body.run_id }]);
  });

  it('rejects an invalid body with a 400 naming the field, and writes nothing', async () => {
    const service = await startTestService();
    cleanups.push(() => service.stop());
    const response = await service.app.inject({ method: 'POST', url: '/api/dev/simulate', payload: { table_type: 'HYBRID', sessions: 0 } });
    expect(response.statusCode).toBe(400);
    expect((response.json() as { detail: string }).detail).toMatch(/sessions/);
    const shape = await service.app.inject({ method: 'POST', url: '/api/dev/simulate', payload: { table_type: 'HYBRID', shape: 'square' } });
    expect(shape.statusCode).toBe(400);
    expect((shape.json() as { detail: string }).detail).toMatch(/shape/);
    const huge = await service.app.inject({
      method: 'POST',
      url: '/api/dev/simulate',
      payload: { table_type: 'HYBRID', duration_minutes: 240, sessions: 256, rate_per_session: 50 },
    });
    expect(huge.statusCode).toBe(400);
    expect((huge.json() as { detail: string }).detail).toMatch(/rate_per_session/);
    const rows = await service.services.warehouse.query<{ N: number }>('SELECT COUNT(*) AS N FROM TEST_RESULTS');
    expect(rows[0]?.N).toBe(0);
  });

  it('does not exist in Snowflake mode', async () => {
    const db = await openTestDatabase();
    cleanups.push(() => db.close());
    const clock = new ManualClock();
    // The same app, told its engine is Snowflake (the dev routes look only at that flag).
    const app = await buildApp(createServices({ config: testConfig(), clock, log: silentLog, engine: { ...db.engine, engine: 'snowflake' } }));
    cleanups.push(() => app.close());
    for (const url of ['/api/dev/simulate', '/api/dev/replay']) {
      const response = await app.inject({ method: 'POST', url, payload: { table_type: 'HYBRID' } });
      expect(response.statusCode, url).toBe(404);
    }
  });
});
