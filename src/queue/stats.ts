// Alerting figures for the stats endpoint and Prometheus: two statements, computed in the warehouse with
// "now" bound from the clock. A figure with no data is null, never invented (e.g. no job ended in 24 h →
// no failure rate).
import { sql } from '../db/sql-registry.js';
import type { Warehouse } from '../db/warehouse.js';
import type { Services } from '../services.js';
import { JOB_STATUSES } from './job-state.js';

export type Level = 'ok' | 'warning' | 'critical' | 'unknown';

export interface Threshold {
  warning: number;
  critical: number;
  /** Whether the thresholds are durations (scaled by LATENCY_SCALE like every other delay). */
  duration: boolean;
  why: string;
}

/**
 * The seed names these figures but states no numbers; these defaults are ours (one table, here).
 * Durations in seconds at LATENCY_SCALE = 1.
 */
export type FigureName =
  | 'ready_depth'
  | 'oldest_pending_age_seconds'
  | 'failure_rate_24h'
  | 'average_attempts'
  | 'stale_in_progress'
  | 'completion_lag_seconds';

export const THRESHOLDS: Readonly<Record<FigureName, Threshold>> = {
  ready_depth: { warning: 50, critical: 200, duration: false, why: 'due jobs waiting: 50 is ~1 day of tests at the seed volume (50/day)' },
  oldest_pending_age_seconds: { warning: 30 * 60, critical: 2 * 3600, duration: true, why: 'a due job should be picked within a few 5-min polls' },
  failure_rate_24h: { warning: 0.05, critical: 0.2, duration: false, why: 'share of jobs ending FAILED in 24 h' },
  average_attempts: { warning: 1.5, critical: 2.5, duration: false, why: 'mean attempts per type of jobs ended in 24 h (1 = first try)' },
  stale_in_progress: { warning: 1, critical: 5, duration: false, why: 'claims past their lease: a processor died or stalls' },
  completion_lag_seconds: { warning: 30 * 60, critical: 2 * 3600, duration: true, why: 'completion minus the moment the job could complete: its last type due (each type waits for its own view, up to 3 h 15 min) or its enqueue if later (a backfilled old test is not late); mean over 24 h' },
};

export interface Figure {
  value: number | null;
  level: Level;
  warning: number;
  critical: number;
}

export interface QueueStats {
  at: string;
  depth_by_status: Record<string, number>;
  ready: number;
  deferred: number;
  figures: Record<FigureName, Figure>;
}

const DEPTH = sql('queue.stats.depth', `SELECT STATUS, COUNT(*) AS N FROM DELAYED_ENRICHMENT_QUEUE GROUP BY STATUS`);

const FIGURES = sql(
  'queue.stats.figures',
  `SELECT
  SUM(IFF(STATUS = 'PENDING' AND NEXT_DUE_AT <= CAST(? AS TIMESTAMP_NTZ), 1, 0)) AS READY,
  SUM(IFF(STATUS = 'PENDING' AND NEXT_DUE_AT > CAST(? AS TIMESTAMP_NTZ), 1, 0)) AS DEFERRED,
  MIN(IFF(STATUS = 'PENDING' AND NEXT_DUE_AT <= CAST(? AS TIMESTAMP_NTZ), NEXT_DUE_AT, NULL)) AS OLDEST_READY_DUE,
  SUM(IFF(STATUS IN ('COMPLETED', 'FAILED') AND COMPLETED_AT >= CAST(? AS TIMESTAMP_NTZ), 1, 0)) AS ENDED_24H,
  SUM(IFF(STATUS = 'FAILED' AND COMPLETED_AT >= CAST(? AS TIMESTAMP_NTZ), 1, 0)) AS FAILED_24H,
  SUM(IFF(STATUS IN ('COMPLETED', 'FAILED') AND COMPLETED_AT >= CAST(? AS TIMESTAMP_NTZ), ATTEMPTS, 0)) AS ATTEMPTS_24H,
  SUM(IFF(STATUS IN ('COMPLETED', 'FAILED') AND COMPLETED_AT >= CAST(? AS TIMESTAMP_NTZ), ARRAY_SIZE(ENRICHMENT_TYPES), 0)) AS TYPES_24H,
  SUM(IFF(STATUS = 'IN_PROGRESS' AND LEASE_EXPIRES_AT < CAST(? AS TIMESTAMP_NTZ), 1, 0)) AS STALE,
  (SELECT AVG(TIMESTAMPDIFF('second', GREATEST(done.LAST_DUE, done.CREATED_AT), done.COMPLETED_AT)) FROM (
    SELECT q.JOB_ID, q.CREATED_AT, q.COMPLETED_AT, MAX(CAST(AS_VARCHAR(GET(t.VALUE, 'due_at')) AS TIMESTAMP_NTZ)) AS LAST_DUE
    FROM DELAYED_ENRICHMENT_QUEUE q, LATERAL FLATTEN(INPUT => q.TYPE_STATE) t
    WHERE q.STATUS = 'COMPLETED' AND q.COMPLETED_AT >= CAST(? AS TIMESTAMP_NTZ)
    GROUP BY q.JOB_ID, q.CREATED_AT, q.COMPLETED_AT
  ) done) AS LAG_SECONDS
FROM DELAYED_ENRICHMENT_QUEUE`,
);

function level(value: number | null, threshold: Threshold, scale: number): Figure {
  const factor = threshold.duration ? scale : 1;
  const warning = threshold.warning * factor;
  const critical = threshold.critical * factor;
  const result: Level = value === null ? 'unknown' : value >= critical ? 'critical' : value >= warning ? 'warning' : 'ok';
  return { value, level: result, warning, critical };
}

const num = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));

export async function queueStats(services: Services, warehouse: Warehouse = services.warehouse): Promise<QueueStats> {
  const now = services.clock.now();
  const dayAgo = new Date(now.getTime() - 86_400_000);
  const depthRows = await warehouse.query(DEPTH);
  const [row] = await warehouse.query(FIGURES, [now, now, now, dayAgo, dayAgo, dayAgo, dayAgo, now, dayAgo]);
  const depth: Record<string, number> = Object.fromEntries(JOB_STATUSES.map((status) => [status, 0]));
  for (const entry of depthRows) depth[String(entry.STATUS)] = Number(entry.N);
  const ended = num(row?.ENDED_24H) ?? 0;
  const types = num(row?.TYPES_24H) ?? 0;
  const oldest = row?.OLDEST_READY_DUE instanceof Date ? (now.getTime() - row.OLDEST_READY_DUE.getTime()) / 1000 : null;
  const scale = services.config.latencyScale;
  const ready = num(row?.READY) ?? 0;
  return {
    at: now.toISOString(),
    depth_by_status: depth,
    ready,
    deferred: num(row?.DEFERRED) ?? 0,
    figures: {
      ready_depth: level(ready, THRESHOLDS.ready_depth, scale),
      oldest_pending_age_seconds: level(oldest ?? (ready === 0 ? 0 : null), THRESHOLDS.oldest_pending_age_seconds, scale),
      failure_rate_24h: level(ended > 0 ? (num(row?.FAILED_24H) ?? 0) / ended : null, THRESHOLDS.failure_rate_24h, scale),
      average_attempts: level(types > 0 ? (num(row?.ATTEMPTS_24H) ?? 0) / types : null, THRESHOLDS.average_attempts, scale),
      stale_in_progress: level(num(row?.STALE) ?? 0, THRESHOLDS.stale_in_progress, scale),
      completion_lag_seconds: level(num(row?.LAG_SECONDS), THRESHOLDS.completion_lag_seconds, scale),
    },
  };
}
