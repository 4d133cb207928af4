// The demo's pruning (src/simulator/demo-prune.ts): a simulated test whose job has been terminal for the
// keep time loses all its rows — FlakeBench's, the service's, its job, events and the view rows no other
// test needs — while a test still inside the keep time, or still running, keeps every row.
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { pruneDemoTests } from '../src/simulator/demo-prune.js';
import { baseTableOf } from '../src/simulator/view-tables.js';
import { SOURCE_VIEWS } from '../src/sources/account-usage.js';
import { startTestService } from './support/embedded.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

describe('demo pruning', () => {
  it('removes every row of a test done for longer than the keep time, and nothing of the others', async () => {
    const clock = new ManualClock('2026-12-03T12:00:00Z');
    const service = await startTestService({ clock });
    cleanups.push(() => service.stop());
    const w = service.services.warehouse;
    const simulate = async (endedMinutesAgo: number) => {
      const response = await service.app.inject({
        method: 'POST',
        url: '/api/dev/simulate',
        payload: { table_type: 'HYBRID', duration_minutes: 2, sessions: 2, enqueue: true, ended_minutes_ago: endedMinutesAgo },
      });
      expect(response.statusCode).toBe(200);
      return response.json() as { test_id: string; test_start_time: string; test_end_time: string };
    };
    // Far apart in time, so no view row lies near both tests.
    const old = await simulate(24 * 60);
    const recent = await simulate(10);
    const still = await simulate(30 * 24 * 60);
    // The old test's job ended 30 minutes ago; the recent one's a minute ago; the third is still pending.
    const finish = (testId: string, minutesAgo: number) =>
      w.execute(`UPDATE DELAYED_ENRICHMENT_QUEUE SET STATUS = 'COMPLETED', UPDATED_AT = CAST(? AS TIMESTAMP_NTZ) WHERE TEST_ID = ?`, [
        new Date(clock.now().getTime() - minutesAgo * 60_000),
        testId,
      ]);
    await finish(old.test_id, 30);
    await finish(recent.test_id, 1);
    await w.execute(`INSERT INTO AGGREGATE_TEST_METRICS (TEST_ID, RUN_ID, QUERY_COUNT) VALUES (?, 'r', 1), (?, 'r', 1)`, [old.test_id, recent.test_id]);

    const rowsOf = async (test: { test_id: string; test_start_time: string; test_end_time: string }) => {
      const counts: Record<string, number> = {};
      for (const table of ['TEST_RESULTS', 'QUERY_EXECUTIONS', 'DELAYED_ENRICHMENT_QUEUE', 'ENRICHMENT_EVENTS', 'AGGREGATE_TEST_METRICS']) {
        counts[table] = Number((await w.query(`SELECT COUNT(*) AS N FROM ${table} WHERE TEST_ID = ?`, [test.test_id]))[0]!.N);
      }
      // View rows within an hour of the test's window (the tests are days apart).
      for (const view of SOURCE_VIEWS) {
        counts[view.name] = Number(
          (
            await w.query(`SELECT COUNT(*) AS N FROM ${baseTableOf(view)} WHERE ${view.timeColumn} BETWEEN CAST(? AS TIMESTAMP) AND CAST(? AS TIMESTAMP)`, [
              new Date(Date.parse(test.test_start_time) - 3_600_000),
              new Date(Date.parse(test.test_end_time) + 3_600_000),
            ])
          )[0]!.N,
        );
      }
      return counts;
    };
    const before = { old: await rowsOf(old), recent: await rowsOf(recent), still: await rowsOf(still) };
    for (const counts of Object.values(before)) {
      expect(counts.TEST_RESULTS).toBe(1);
      expect(counts.QUERY_EXECUTIONS).toBeGreaterThan(0);
      expect(counts.QUERY_HISTORY).toBeGreaterThan(0);
    }

    const pruned = await pruneDemoTests(service.services, 20 * 60_000);
    expect(pruned.tests).toBe(1);
    const after = { old: await rowsOf(old), recent: await rowsOf(recent), still: await rowsOf(still) };
    expect(Object.entries(after.old).filter(([, n]) => n !== 0)).toEqual([]);
    expect(after.recent).toEqual(before.recent);
    expect(after.still).toEqual(before.still);
    expect(pruned.rows).toBe(Object.values(before.old).reduce((sum, n) => sum + n, 0));
    // Nothing left to prune: a second run changes nothing.
    expect(await pruneDemoTests(service.services, 20 * 60_000)).toEqual({ tests: 0, rows: 0 });
  });

  it("removes a pruned test's view rows even when a remaining test lies next to it in time", async () => {
    // The demo's case: tests a few seconds apart (and its billed hybrid tests all on one date), so every view row
    // of an old test lies near a newer one. Before view rows carried their run, none of them ever went.
    const clock = new ManualClock('2026-12-03T12:00:00Z');
    const service = await startTestService({ clock });
    cleanups.push(() => service.stop());
    const w = service.services.warehouse;
    const viewCounts = async () => {
      const counts: Record<string, number> = {};
      for (const view of SOURCE_VIEWS) counts[view.name] = Number((await w.query(`SELECT COUNT(*) AS N FROM ${baseTableOf(view)}`))[0]!.N);
      return counts;
    };
    const simulate = async (endedMinutesAgo: number) => {
      const before = await viewCounts();
      const response = await service.app.inject({
        method: 'POST',
        url: '/api/dev/simulate',
        payload: { table_type: 'HYBRID', duration_minutes: 2, sessions: 2, enqueue: true, ended_minutes_ago: endedMinutesAgo },
      });
      expect(response.statusCode).toBe(200);
      const after = await viewCounts();
      // What this simulation added to each base table, measured on the tables themselves.
      const added = Object.fromEntries(SOURCE_VIEWS.map((view) => [view.name, after[view.name]! - before[view.name]!]));
      return { testId: (response.json() as { test_id: string }).test_id, added };
    };
    const sameDate = 40 * 24 * 60;
    const old = await simulate(30);
    const next = await simulate(29);
    const oldTwin = await simulate(sameDate);
    const twin = await simulate(sameDate);
    await w.execute(`UPDATE DELAYED_ENRICHMENT_QUEUE SET STATUS = 'COMPLETED', UPDATED_AT = CAST(? AS TIMESTAMP_NTZ) WHERE TEST_ID IN (?, ?)`, [
      new Date(clock.now().getTime() - 30 * 60_000),
      old.testId,
      oldTwin.testId,
    ]);
    for (const test of [old, next, oldTwin, twin]) expect(test.added.QUERY_HISTORY).toBeGreaterThan(0);

    expect((await pruneDemoTests(service.services, 20 * 60_000)).tests).toBe(2);
    const left = await viewCounts();
    for (const view of SOURCE_VIEWS) {
      // The account's hourly hybrid windows are shared by the runs that fall in them: they stay near a remaining test.
      if (view.name === 'HYBRID_TABLE_USAGE_HISTORY') continue;
      expect({ view: view.name, rows: left[view.name] }).toEqual({ view: view.name, rows: next.added[view.name]! + twin.added[view.name]! });
    }
  });
});
