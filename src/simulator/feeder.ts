// The demo's workload: every few seconds a new simulated test (table types and shapes in turn) posted to
// POST /api/dev/simulate with enqueue: true, i.e. through the same route and enqueue path a user would use.
import type { App } from '../app.js';
import type { Logger } from '../logger.js';
import type { TableType } from '../queue/plan.js';
import { SHAPES } from './workload.js';

const FEED_TABLE_TYPES: readonly TableType[] = ['HYBRID', 'STANDARD', 'UNISTORE', 'INTERACTIVE', 'HYBRID', 'DYNAMIC'];

export interface Feeder {
  stop(): void;
  /** Resolves when the tick in flight (if any) has finished. */
  idle(): Promise<void>;
}

export function startFeeder(app: App, log: Logger, options: { everyMs: number }): Feeder {
  let tick = 0;
  let stopped = false;
  let inFlight: Promise<void> = Promise.resolve();
  const feed = async () => {
    const tableType = FEED_TABLE_TYPES[tick % FEED_TABLE_TYPES.length] as TableType;
    const shape = SHAPES[tick % SHAPES.length];
    tick += 1;
    const response = await app.inject({
      method: 'POST',
      url: '/api/dev/simulate',
      payload: { table_type: tableType, shape, duration_minutes: 2, sessions: shape === 'many_sessions' ? 16 : 4, enqueue: true },
    });
    if (response.statusCode !== 200) {
      log.warn({ status: response.statusCode, body: response.body.slice(0, 300) }, 'demo feeder: simulation failed');
      return;
    }
    const body = response.json() as { test_id: string; job_id?: string | null };
    log.info({ test_id: body.test_id, job_id: body.job_id, table_type: tableType, shape }, 'demo feeder: simulated a test');
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
