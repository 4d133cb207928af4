// "Is the view ready for this test?" (spec/sources.md). Documented latencies are maxima and a late view
// silently yields zero rows, so rows are written only once the view has caught up:
// - dense views (QUERY_HISTORY, AGGREGATE_QUERY_HISTORY) show activity continuously: ready once the view
//   holds a row from the test's last minute or later (the test's own final queries, or anyone's after
//   them; views fill in time order), looking at most DENSE_LOOKAHEAD_MS ahead. The evidence is a column of
//   the type's read (DENSE_CAUGHT_UP), so one statement both checks and reads;
// - sparse views (lock waits, insights, hourly credits) may legitimately have nothing: ready once the
//   documented latency (scaled) plus its buffer has passed since the test's end.
import { typeDueAt, type EnrichmentType } from '../../queue/plan.js';
import { ViewNotReady, type EnrichmentContext, type Readiness } from '../types.js';

/** How far past the test end a dense view is searched for evidence that it caught up. */
export const DENSE_LOOKAHEAD_MS = 6 * 3_600_000;
/** A running test issues queries until its end: its last minute is the evidence looked for. */
export const LAST_MINUTE_MS = 60_000;

/** 1 when the view holds a row in [?, ?) (binds: denseEvidenceWindow), else 0: a scalar subquery for the read's select list. */
function caughtUp(view: string, timeColumn: string): string {
  return `(SELECT COUNT(*) FROM (
  SELECT 1 AS X FROM SNOWFLAKE.ACCOUNT_USAGE.${view}
  WHERE ${timeColumn} >= CAST(? AS TIMESTAMP_NTZ) AND ${timeColumn} < CAST(? AS TIMESTAMP_NTZ) LIMIT 1
) caught_up)`;
}

/**
 * The dense views' "caught up" evidence, folded into each type's read (one statement answers both "ready?" and
 * "which rows?"): put it in the read's select list as CAUGHT_UP, its binds from denseEvidenceWindow first.
 */
export const DENSE_CAUGHT_UP = {
  QUERY_HISTORY: caughtUp('QUERY_HISTORY', 'START_TIME'),
  AGGREGATE: caughtUp('AGGREGATE_QUERY_HISTORY', 'INTERVAL_START_TIME'),
} as const;

export type DenseType = keyof typeof DENSE_CAUGHT_UP;

/** Binds of DENSE_CAUGHT_UP: from the test's last minute to DENSE_LOOKAHEAD_MS past its end. */
export function denseEvidenceWindow(context: EnrichmentContext): [Date, Date] {
  const end = context.job.testEndTime;
  return [new Date(end.getTime() - LAST_MINUTE_MS), new Date(end.getTime() + DENSE_LOOKAHEAD_MS)];
}

/** The read's answer when CAUGHT_UP was 0. */
export function denseViewNotReady(type: DenseType): ViewNotReady {
  const view = type === 'AGGREGATE' ? 'AGGREGATE_QUERY_HISTORY' : 'QUERY_HISTORY';
  return new ViewNotReady(`${view} has no rows from the test's last minute or later yet (the view lags behind)`);
}

export function sparseViewReady(context: EnrichmentContext, type: EnrichmentType): Readiness {
  const dueAt = typeDueAt(context.services.config, type, context.job.testEndTime);
  if (context.now.getTime() >= dueAt.getTime()) return { ready: true };
  return { ready: false, reason: `documented latency not yet passed for ${type}`, retryAt: dueAt };
}
