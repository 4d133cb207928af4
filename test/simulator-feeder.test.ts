// The demo feeder: simulated tests of several table types arrive through POST /api/dev/simulate and are
// enqueued; stop() ends the feed.
import { afterEach, describe, expect, it } from 'vitest';
import { startFeeder } from '../src/simulator/feeder.js';
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
});
