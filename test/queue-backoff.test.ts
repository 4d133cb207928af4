import { describe, expect, it } from 'vitest';
import { backoffDelayMs, scaledBackoff } from '../src/queue/backoff.js';

const policy = { baseMs: 1000, capMs: 10_000, jitter: 0.5 };

describe('backoff', () => {
  it('doubles from the base without jitter at the midpoint draw, then stays at the cap', () => {
    const delays = [1, 2, 3, 4, 5, 6].map((attempt) => backoffDelayMs(attempt, policy, 0.5));
    expect(delays).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000]);
  });

  it('spreads by ±jitter and clamps to the cap after the jitter', () => {
    expect(backoffDelayMs(2, policy, 0)).toBe(1000); // 2000 × 0.5
    expect(backoffDelayMs(2, policy, 0.999999)).toBe(Math.round(2000 * (1 + 0.5 * (2 * 0.999999 - 1))));
    // 8000 × 1.5 = 12000 would pass the cap: clamped.
    expect(backoffDelayMs(4, policy, 0.999999)).toBe(10_000);
    for (let i = 0; i < 200; i += 1) {
      const draw = i / 200;
      const attempt = 1 + (i % 8);
      const delay = backoffDelayMs(attempt, policy, draw);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThanOrEqual(policy.capMs);
    }
  });

  it('never overflows for huge attempt numbers and scales with LATENCY_SCALE', () => {
    expect(backoffDelayMs(10_000, policy, 0.5)).toBe(10_000);
    expect(scaledBackoff(0.01, policy)).toEqual({ baseMs: 10, capMs: 100, jitter: 0.5 });
  });
});
