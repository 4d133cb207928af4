// Due times per enrichment type: documented latency + buffer after the test's end, except HYBRID_CREDITS,
// whose hourly usage windows are published only after they close, so its latency counts from the close of
// the window holding the end. Scaled like every latency (the demo's compressed timeline).
import { describe, expect, it } from 'vitest';
import { typeDueAt, usageWindowMs } from '../src/queue/plan.js';
import { testConfig } from './support/embedded.js';

const MINUTE = 60_000;

describe('typeDueAt', () => {
  const config = testConfig({ LATENCY_SCALE: '1' });

  it('counts HYBRID_CREDITS from the close of the usage window holding the end', () => {
    // 3 h latency + 15 min default buffer after 13:00, the close of the 12:00–13:00 window.
    expect(typeDueAt(config, 'HYBRID_CREDITS', new Date('2025-11-20T12:36:10Z')).toISOString()).toBe('2025-11-20T16:15:00.000Z');
    // An end on the hour closes its window there.
    expect(typeDueAt(config, 'HYBRID_CREDITS', new Date('2025-11-20T13:00:00Z')).toISOString()).toBe('2025-11-20T16:15:00.000Z');
  });

  it('counts the other types from the end itself', () => {
    const end = new Date('2025-11-20T12:36:10Z');
    expect(typeDueAt(config, 'AGGREGATE', end).getTime() - end.getTime()).toBe(195 * MINUTE);
    expect(typeDueAt(config, 'LOCK_CONTENTION', end).getTime() - end.getTime()).toBe(195 * MINUTE);
    expect(typeDueAt(config, 'QUERY_HISTORY', end).getTime() - end.getTime()).toBe(50 * MINUTE);
    expect(typeDueAt(config, 'QUERY_INSIGHTS', end).getTime() - end.getTime()).toBe(100 * MINUTE);
  });

  it('scales the usage window with LATENCY_SCALE, as the demo compresses the timeline', () => {
    const demo = testConfig({ LATENCY_SCALE: '0.002' });
    expect(usageWindowMs(demo)).toBe(7_200);
    const end = new Date('2025-11-20T12:36:10.500Z');
    const due = typeDueAt(demo, 'HYBRID_CREDITS', end).getTime();
    const windowClose = Math.ceil(end.getTime() / 7_200) * 7_200;
    expect(due).toBe(windowClose + Math.round(195 * MINUTE * 0.002));
  });
});
