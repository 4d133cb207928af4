// The demo feeder: simulated tests of several table types arrive through POST /api/dev/simulate and are
// enqueued; stop() ends the feed.
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { Processor } from '../src/processor/processor.js';
import { billedTestEndedMinutesAgo, startFeeder } from '../src/simulator/feeder.js';
import { VisibilityClock } from '../src/simulator/visibility.js';
import { HYBRID_METERING_ENDED_AT } from '../src/sources/account-usage.js';
import { silentLog, startTestService } from './support/embedded.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

describe('demo feeder', () => {
  it('feeds enqueued tests of mixed table types until stopped', async () => {
    const service = await startTestService();
    cleanups.push(() => service.stop());
    const feeder = startFeeder(service.app, silentLog, { everyMs: 20 });
    cleanups.push(() => feeder.stop());
    const w = service.services.warehouse;
    const jobs = async () => (await w.query<{ N: number; TYPES: number }>('SELECT COUNT(*) AS N, COUNT(DISTINCT TABLE_TYPE) AS TYPES FROM DELAYED_ENRICHMENT_QUEUE'))[0];
    const pause = () => new Promise((resolve) => setTimeout(resolve, 20));
    // Wait for three fed tests (a tick never starts while the previous one runs).
    while (((await jobs())?.N ?? 0) < 3) {
      await feeder.idle();
      await pause();
    }
    feeder.stop();
    await feeder.idle();
    const stopped = await jobs();
    expect(stopped?.TYPES).toBeGreaterThanOrEqual(2);
    const tests = await w.query<{ N: number }>('SELECT COUNT(*) AS N FROM TEST_RESULTS');
    expect(tests[0]?.N).toBe(stopped?.N);
    for (let i = 0; i < 5; i += 1) await pause();
    await feeder.idle();
    expect((await jobs())?.N).toBe(stopped?.N);
  });

  it('presents the API token when the service has one (simulating is a mutating call)', async () => {
    const service = await startTestService({ env: { API_TOKEN: 'feeder-token-0123456789' } });
    cleanups.push(() => service.stop());
    const feeder = startFeeder(service.app, silentLog, { everyMs: 20 });
    cleanups.push(() => feeder.stop());
    const jobs = async () => Number((await service.services.warehouse.query('SELECT COUNT(*) AS N FROM DELAYED_ENRICHMENT_QUEUE'))[0]?.N ?? 0);
    while ((await jobs()) < 1) {
      await feeder.idle();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    feeder.stop();
    await feeder.idle();
    expect(await jobs()).toBeGreaterThanOrEqual(1);
  });

  it('shows both credit cases: every sixth test is a hybrid test from before billing stopped, next to unbilled ones', async () => {
    const clock = new ManualClock('2026-12-03T12:00:00Z');
    const service = await startTestService({ clock, env: { LATENCY_SCALE: '1' } });
    cleanups.push(() => service.stop());
    const visibility = await VisibilityClock.bind(service.services.warehouse, clock);
    cleanups.push(() => visibility.stop());
    const feeder = startFeeder(service.app, silentLog, { everyMs: 20, now: () => clock.now().getTime() });
    cleanups.push(() => feeder.stop());
    const w = service.services.warehouse;
    while (Number((await w.query('SELECT COUNT(*) AS N FROM TEST_RESULTS'))[0]?.N ?? 0) < 5) {
      await feeder.idle();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    feeder.stop();
    await feeder.idle();
    const hybrid = await w.query<{ TEST_ID: string; END_TIME: Date }>(
      "SELECT TEST_ID, END_TIME FROM TEST_RESULTS WHERE TABLE_TYPE = 'HYBRID' ORDER BY END_TIME",
    );
    const billed = hybrid.filter((t) => t.END_TIME.getTime() < HYBRID_METERING_ENDED_AT.getTime());
    const recent = hybrid.filter((t) => t.END_TIME.getTime() > clock.now().getTime() - 86_400_000);
    expect(billed).toHaveLength(1);
    expect(recent.length).toBeGreaterThanOrEqual(1);

    clock.advance(4 * 3_600_000);
    await visibility.settled();
    const processor = new Processor(service.services);
    await processor.poll();
    await processor.idle();
    const windowsOf = async (testId: string) => {
      const credits = (await service.app.inject({ method: 'GET', url: `/api/tests/${testId}/hybrid-credits` })).json() as {
        status: string;
        windows: Array<{ billed: boolean }>;
      };
      expect(credits.status, testId).toBe('COMPLETED');
      expect(credits.windows.length, testId).toBeGreaterThan(0);
      return credits.windows.map((window) => window.billed);
    };
    expect(new Set(await windowsOf(billed[0]!.TEST_ID))).toEqual(new Set([true]));
    expect(new Set(await windowsOf(recent[0]!.TEST_ID))).toEqual(new Set([false]));
  });

  it('stops simulating billed tests once that date leaves the views retention', () => {
    const billingStopped = HYBRID_METERING_ENDED_AT.getTime();
    expect(billedTestEndedMinutesAgo(billingStopped - 3 * 86_400_000)).toBeUndefined(); // before that test would end
    expect(billedTestEndedMinutesAgo(billingStopped)).toBe(2 * 24 * 60);
    expect(billedTestEndedMinutesAgo(billingStopped + 300 * 86_400_000)).toBe(302 * 24 * 60);
    expect(billedTestEndedMinutesAgo(billingStopped + 400 * 86_400_000)).toBeUndefined();
  });
});
