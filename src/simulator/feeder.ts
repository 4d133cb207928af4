// The demo's workload: every few seconds a new simulated test (table types and shapes in turn) posted to
// POST /api/dev/simulate with enqueue: true, i.e. through the same route and enqueue path a user would use.
// Hybrid credits have two cases since Snowflake stopped billing hybrid requests on 2026-03-01: every sixth
// test is a hybrid test that ended before that date (while the views still keep it), so the demo shows billed
// usage next to the unbilled usage of today's tests.
import type { App } from '../app.js';
import type { Logger } from '../logger.js';
import type { TableType } from '../queue/plan.js';
import { HYBRID_METERING_ENDED_AT } from '../sources/account-usage.js';
import { SHAPES } from './workload.js';

const FEED_TABLE_TYPES: readonly TableType[] = ['HYBRID', 'STANDARD', 'UNISTORE', 'INTERACTIVE', 'HYBRID', 'DYNAMIC'];
/** The tick (of the six above) that simulates a billed, pre-2026-03-01 hybrid test. */
const BILLED_TICK = 4;
/** Two days before billing stopped, so the test and its hourly windows are all billed. */
const BILLED_TEST_END_MS = HYBRID_METERING_ENDED_AT.getTime() - 2 * 86_400_000;
/** The views keep 365 days; stay well inside (the simulate route takes at most 365 days ago). */
const MAX_AGE_MINUTES = 360 * 24 * 60;

/** Minutes ago of a billed test's end, or undefined once that date has left the views' retention. */
export function billedTestEndedMinutesAgo(nowMs: number): number | undefined {
  const minutes = Math.ceil((nowMs - BILLED_TEST_END_MS) / 60_000);
  return minutes > 0 && minutes <= MAX_AGE_MINUTES ? minutes : undefined;
}

export interface Feeder {
  stop(): void;
  /** Resolves when the tick in flight (if any) has finished. */
  idle(): Promise<void>;
}

export function startFeeder(app: App, log: Logger, options: { everyMs: number; now?: () => number }): Feeder {
  const now = options.now ?? Date.now;
  let tick = 0;
  let stopped = false;
  let inFlight: Promise<void> = Promise.resolve();
  const feed = async () => {
    const tableType = FEED_TABLE_TYPES[tick % FEED_TABLE_TYPES.length] as TableType;
    const shape = SHAPES[tick % SHAPES.length];
    const endedMinutesAgo = tick % FEED_TABLE_TYPES.length === BILLED_TICK ? billedTestEndedMinutesAgo(now()) : undefined;
    tick += 1;
    // The feeder is a client of its own service: with API_TOKEN set it presents the token like any client.
    const token = app.services.config.apiToken;
    const response = await app.inject({
      method: 'POST',
      url: '/api/dev/simulate',
      ...(token !== undefined ? { headers: { authorization: `Bearer ${token}` } } : {}),
      payload: {
        table_type: tableType,
        shape,
        duration_minutes: 2,
        sessions: shape === 'many_sessions' ? 16 : 4,
        enqueue: true,
        ...(endedMinutesAgo !== undefined ? { ended_minutes_ago: endedMinutesAgo } : {}),
      },
    });
    if (response.statusCode !== 200) {
      log.warn({ status: response.statusCode, body: response.body.slice(0, 300) }, 'demo feeder: simulation failed');
      return;
    }
    const body = response.json() as { test_id: string; job_id?: string | null };
    log.info({ test_id: body.test_id, job_id: body.job_id, table_type: tableType, shape, ended_minutes_ago: endedMinutesAgo ?? 0 }, 'demo feeder: simulated a test');
  };
  let busy = false;
  const timer = setInterval(() => {
    // A tick still running makes the next one skip: a slow database never piles up simulations.
    if (stopped || busy) return;
    busy = true;
    inFlight = feed()
      .catch((error: unknown) => log.warn({ err: error }, 'demo feeder: tick failed'))
      .finally(() => {
        busy = false;
      });
  }, options.everyMs);
  timer.unref();
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
    },
    idle: () => inFlight,
  };
}
