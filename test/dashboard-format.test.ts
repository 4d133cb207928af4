// The dashboard's number and time formats (public/format.js), against hand-computed cases.
import { describe, expect, it } from 'vitest';
import { clockTime, formatCount, formatCredits, formatDuration, pendingUntil } from '../public/format.js';

describe('formatDuration: as FlakeBench shows timings', () => {
  it('below a millisecond: "< 1 ms"', () => {
    expect(formatDuration(0)).toBe('< 1 ms');
    expect(formatDuration(0.4)).toBe('< 1 ms');
    expect(formatDuration(0.999)).toBe('< 1 ms');
  });

  it('below a second: milliseconds with one decimal', () => {
    expect(formatDuration(1)).toBe('1.0 ms');
    expect(formatDuration(45.2)).toBe('45.2 ms');
    expect(formatDuration(45.24)).toBe('45.2 ms');
    expect(formatDuration(45.25)).toBe('45.3 ms');
    expect(formatDuration(999.94)).toBe('999.9 ms');
  });

  it('below a minute: seconds with one decimal, the unit chosen after rounding', () => {
    expect(formatDuration(999.96)).toBe('1.0 s'); // 999.96 ms rounds to 1000.0 ms: a second
    expect(formatDuration(1000)).toBe('1.0 s');
    expect(formatDuration(1234)).toBe('1.2 s');
    expect(formatDuration(59_940)).toBe('59.9 s');
  });

  it('from a minute: m:ss, and h:mm:ss from an hour', () => {
    expect(formatDuration(59_960)).toBe('1:00'); // 59.96 s rounds to 60.0 s
    expect(formatDuration(135_000)).toBe('2:15');
    expect(formatDuration(134_600)).toBe('2:15'); // 134.6 s rounds to 135 s
    expect(formatDuration(605_000)).toBe('10:05');
    expect(formatDuration(3_599_400)).toBe('59:59');
    expect(formatDuration(3_723_000)).toBe('1:02:03'); // 1 h 2 min 3 s
  });

  it('nothing to show: null for missing, negative or non-finite values (the page says why instead)', () => {
    for (const value of [null, undefined, Number.NaN, Number.POSITIVE_INFINITY, -1, '12']) expect(formatDuration(value)).toBeNull();
  });
});

describe('times in UTC', () => {
  const now = new Date('2026-12-03T10:00:00Z');

  it('clock times are UTC, with the date when it is another day', () => {
    expect(clockTime('2026-12-03T14:05:09.000Z', now)).toBe('14:05 UTC');
    expect(clockTime('2026-12-03T14:05:09.000Z', now, { seconds: true })).toBe('14:05:09 UTC');
    expect(clockTime('2026-12-04T01:05:00.000Z', now)).toBe('01:05 UTC on 2026-12-04');
    expect(clockTime('not a time', now)).toBeNull();
  });

  it('pending numbers say until when, or since when they are due', () => {
    expect(pendingUntil('2026-12-03T13:15:00.000Z', now)).toBe('pending until ~13:15 UTC');
    expect(pendingUntil('2026-12-03T09:45:00.000Z', now)).toBe('pending (due since ~09:45 UTC)');
    expect(pendingUntil(null, now)).toBe('pending');
  });
});

describe('counts and credits', () => {
  it('counts get thousands separators; credits up to six decimals', () => {
    expect(formatCount(48120)).toBe('48,120');
    expect(formatCount(null)).toBeNull();
    expect(formatCredits(0.0123456789)).toBe('0.012346');
    expect(formatCredits(2)).toBe('2');
  });
});
