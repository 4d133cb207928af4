// Retry delay after a transient failure: capped exponential growth with jitter, clamped to the cap
// after the jitter (so jitter can never push a delay past the cap). Pure: the random draw is a parameter.

export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
  /** Relative spread, e.g. 0.2 → ±20 %. */
  jitter: number;
}

/** Seed-free defaults: 1 min, 2 min, 4 min, ... capped at 30 min, ±20 % (all scaled by LATENCY_SCALE). */
export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 60_000, capMs: 30 * 60_000, jitter: 0.2 };

/**
 * Delay before attempt `attempt + 1`, after `attempt` (≥ 1) failed attempts.
 * `random` is a draw in [0, 1).
 */
export function backoffDelayMs(attempt: number, policy: BackoffPolicy, random: number): number {
  const exponent = Math.max(0, Math.min(attempt - 1, 52));
  const raw = Math.min(policy.capMs, policy.baseMs * 2 ** exponent);
  const jittered = raw * (1 + policy.jitter * (2 * random - 1));
  return Math.round(Math.min(policy.capMs, Math.max(0, jittered)));
}

export function scaledBackoff(latencyScale: number, policy: BackoffPolicy = DEFAULT_BACKOFF): BackoffPolicy {
  return { ...policy, baseMs: policy.baseMs * latencyScale, capMs: policy.capMs * latencyScale };
}
