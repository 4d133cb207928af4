// When a simulated row shows in its view: activity time + documented latency × LATENCY_SCALE (minus an
// optional jitter, since documented latencies are maxima), plus an optional extra delay that makes a view
// late beyond its documented latency. And how the views learn "now": the one-row table
// SIMULATED_ACCOUNT_USAGE.VISIBILITY_CLOCK, kept equal to a ManualClock (NULL: the system time).
import { ManualClock, type Clock } from '../clock.js';
import { sourceView, type SourceViewName } from '../sources/account-usage.js';
import type { Statement, Warehouse } from '../db/warehouse.js';
import type { Random } from './random.js';

export interface VisibilityOptions {
  latencyScale: number;
  /** 0..1: each row's latency is the documented maximum × (1 − jitter × u), u uniform in [0, 1). */
  jitter: number;
  /** Extra minutes (scaled like the latency) beyond the documented latency, per view. */
  lateMinutes: Partial<Record<SourceViewName, number>>;
}

export function visibleAt(view: SourceViewName, activityMs: number, options: VisibilityOptions, random: Random): Date {
  const documented = sourceView(view).latencyMinutes;
  const jitterFactor = options.jitter > 0 ? 1 - options.jitter * random.next() : 1;
  const minutes = documented * jitterFactor + (options.lateMinutes[view] ?? 0);
  return new Date(activityMs + Math.round(minutes * 60_000 * options.latencyScale));
}

// Embedded-only DuckDB statements (the Snowflake account has real views): not in the SQL registry.
const CLEAR_CLOCK = 'DELETE FROM SIMULATED_ACCOUNT_USAGE.VISIBILITY_CLOCK';
const SET_CLOCK = 'INSERT INTO SIMULATED_ACCOUNT_USAGE.VISIBILITY_CLOCK (NOW_UTC) SELECT CAST(? AS TIMESTAMP_NTZ)';

/** Sets the views' "now" (null: the system time). */
export async function writeVisibilityNow(warehouse: Warehouse, now: Date | null): Promise<void> {
  const statements: Statement[] = [{ sql: CLEAR_CLOCK }];
  if (now !== null) statements.push({ sql: SET_CLOCK, binds: [now] });
  await warehouse.transaction(statements);
}

/**
 * Keeps the views' "now" equal to the service clock: a ManualClock's time is written on start and on every
 * change; any other clock is the system clock (NULL row). `settled()` resolves once the last change is in.
 */
export class VisibilityClock {
  private pending: Promise<void> = Promise.resolve();
  private unsubscribe: (() => void) | undefined;

  private constructor(private readonly warehouse: Warehouse) {}

  static async bind(warehouse: Warehouse, clock: Clock): Promise<VisibilityClock> {
    const binding = new VisibilityClock(warehouse);
    if (clock instanceof ManualClock) {
      await writeVisibilityNow(warehouse, clock.now());
      binding.unsubscribe = clock.onChange((now) => {
        // Queued at once on the connection (statements run in order), so a later read there sees the new time.
        binding.pending = writeVisibilityNow(warehouse, now).catch(() => undefined);
      });
    } else {
      await writeVisibilityNow(warehouse, null);
    }
    return binding;
  }

  settled(): Promise<void> {
    return this.pending;
  }

  stop(): void {
    this.unsubscribe?.();
  }
}
