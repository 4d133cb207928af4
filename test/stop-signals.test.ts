// Stop signals (src/stop-signals.ts): npm's echo of a Ctrl-C is not a second signal; a real second one is.
import { describe, expect, it } from 'vitest';
import { actionFor, DUPLICATE_WINDOW_MS } from '../src/stop-signals.js';

describe('stop signals', () => {
  const first = { signal: 'SIGINT' as const, atMs: 10_000 };

  it('stops on the first signal', () => {
    expect(actionFor('SIGTERM', 0, undefined)).toBe('stop');
  });

  it('ignores the same signal again within the window (the terminal and npm both deliver one Ctrl-C)', () => {
    expect(actionFor('SIGINT', 10_000, first)).toBe('ignore');
    expect(actionFor('SIGINT', 10_000 + DUPLICATE_WINDOW_MS - 1, first)).toBe('ignore');
  });

  it('exits on the same signal after the window, or on another signal at any time', () => {
    expect(actionFor('SIGINT', 10_000 + DUPLICATE_WINDOW_MS, first)).toBe('exit');
    expect(actionFor('SIGTERM', 10_001, first)).toBe('exit');
  });
});
