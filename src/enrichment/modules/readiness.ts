// "Is the view ready for this test?" (spec/sources.md). Documented latencies are maxima and a late view
// silently yields zero rows, so rows are written only once the view has caught up:
// - dense views (QUERY_HISTORY, AGGREGATE_QUERY_HISTORY) show activity continuously: ready once the view
//   holds a row from the test's last minute or later (the test's own final queries, or anyone's after
//   them; views fill in time order), looking at most DENSE_LOOKAHEAD_MS ahead;
// - sparse views (lock waits, insights, hourly credits) may legitimately have nothing: ready once the
//   documented latency (scaled) plus its buffer has passed since the test's end.
import { sql } from '../../db/sql-registry.js';
import { typeDueAt, type EnrichmentType } from '../../queue/plan.js';
import type { EnrichmentContext, Readiness } from '../types.js';

/** How far past the test end a dense view is searched for evidence that it caught up. */
const DENSE_LOOKAHEAD_MS = 6 * 3_600_000;
/** A running test issues queries until its end: its last minute is the evidence looked for. */
const LAST_MINUTE_MS = 60_000;

const QUERY_HISTORY_CAUGHT_UP = sql(
  'enrichment.readiness.query_history',
  `SELECT COUNT(*) AS N FROM (
  SELECT 1 AS X FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY
  WHERE START_TIME >= CAST(? AS TIMESTAMP_NTZ) AND START_TIME < CAST(? AS TIMESTAMP_NTZ) LIMIT 1
) caught_up`,
);

const AGGREGATE_CAUGHT_UP = sql(
  'enrichment.readiness.aggregate_query_history',
  `SELECT COUNT(*) AS N FROM (
  SELECT 1 AS X FROM SNOWFLAKE.ACCOUNT_USAGE.AGGREGATE_QUERY_HISTORY
  WHERE INTERVAL_START_TIME >= CAST(? AS TIMESTAMP_NTZ) AND INTERVAL_START_TIME < CAST(? AS TIMESTAMP_NTZ) LIMIT 1
) caught_up`,
);

const DENSE_CHECKS = { QUERY_HISTORY: QUERY_HISTORY_CAUGHT_UP, AGGREGATE: AGGREGATE_CAUGHT_UP } as const;

export async function denseViewReady(context: EnrichmentContext, type: keyof typeof DENSE_CHECKS): Promise<Readiness> {
  const end = context.job.testEndTime;
  const rows = await context.warehouse.query<{ N: number }>(
    DENSE_CHECKS[type],
    [new Date(end.getTime() - LAST_MINUTE_MS), new Date(end.getTime() + DENSE_LOOKAHEAD_MS)],
    { signal: context.signal, timeoutMs: context.timeoutMs },
  );
  if ((rows[0]?.N ?? 0) > 0) return { ready: true };
  const view = type === 'AGGREGATE' ? 'AGGREGATE_QUERY_HISTORY' : 'QUERY_HISTORY';
  return { ready: false, reason: `${view} has no rows from the test's last minute or later yet (the view lags behind)` };
}

export function sparseViewReady(context: EnrichmentContext, type: EnrichmentType): Readiness {
  const dueAt = typeDueAt(context.services.config, type, context.job.testEndTime);
  if (context.now.getTime() >= dueAt.getTime()) return { ready: true };
  return { ready: false, reason: `documented latency not yet passed for ${type}`, retryAt: dueAt };
}
