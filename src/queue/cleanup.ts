// Cleanup (node-cron, daily): at most CLEANUP_BATCH rows a pass, shared across every step so one pass
// stays short on a table-locking engine. Terminal jobs past the retention, expired QUERY_INSIGHTS_CACHE
// rows, old events, and the seed's application-level cascade (section 8): enrichment rows and jobs
// whose test no longer exists in TEST_RESULTS. One log line with the counts.
import { limitClause } from '../db/limit.js';
import { sqlSample } from '../db/sql-registry.js';
import type { Warehouse } from '../db/warehouse.js';
import type { Services } from '../services.js';

export const CLEANUP_BATCH = 1000;

interface CleanupStep {
  name: string;
  /** The statement with the pass's remaining budget written in as its LIMIT (db/limit.ts). */
  text: (limit: number) => string;
  /** Binds; `cutoff` is now - retention, `now` the clock. */
  binds: (times: { now: Date; cutoff: Date }) => Array<Date | string>;
}

const ORPHAN = (table: string, key: string) => (limit: number) =>
  `DELETE FROM ${table} WHERE ${key} IN (
  SELECT t.${key} FROM ${table} t
  WHERE NOT EXISTS (SELECT 1 FROM TEST_RESULTS r WHERE r.TEST_ID = t.TEST_ID AND r.RUN_ID = t.RUN_ID)
  ${limitClause(limit, CLEANUP_BATCH)})`;

const STEPS: CleanupStep[] = [
  {
    name: 'terminal_jobs',
    text: (limit) => `DELETE FROM DELAYED_ENRICHMENT_QUEUE WHERE JOB_ID IN (
  SELECT JOB_ID FROM DELAYED_ENRICHMENT_QUEUE
  WHERE STATUS IN ('COMPLETED', 'FAILED', 'SKIPPED', 'NOT_APPLICABLE')
    AND COALESCE(COMPLETED_AT, UPDATED_AT) < CAST(? AS TIMESTAMP_NTZ)
  ${limitClause(limit, CLEANUP_BATCH)})`,
    binds: ({ cutoff }) => [cutoff],
  },
  {
    name: 'expired_insights',
    text: (limit) => `DELETE FROM QUERY_INSIGHTS_CACHE WHERE INSIGHT_ID IN (
  SELECT INSIGHT_ID FROM QUERY_INSIGHTS_CACHE WHERE EXPIRES_AT < CAST(? AS TIMESTAMP_NTZ) ${limitClause(limit, CLEANUP_BATCH)})`,
    binds: ({ now }) => [now],
  },
  {
    name: 'old_events',
    text: (limit) => `DELETE FROM ENRICHMENT_EVENTS WHERE SEQ IN (
  SELECT SEQ FROM ENRICHMENT_EVENTS WHERE OCCURRED_AT < CAST(? AS TIMESTAMP_NTZ) ORDER BY SEQ ${limitClause(limit, CLEANUP_BATCH)})`,
    binds: ({ cutoff }) => [cutoff],
  },
  { name: 'orphan_jobs', text: ORPHAN('DELAYED_ENRICHMENT_QUEUE', 'JOB_ID'), binds: () => [] },
  { name: 'orphan_aggregate_metrics', text: ORPHAN('AGGREGATE_QUERY_METRICS', 'METRIC_ID'), binds: () => [] },
  { name: 'orphan_aggregate_test_metrics', text: ORPHAN('AGGREGATE_TEST_METRICS', 'TEST_ID'), binds: () => [] },
  { name: 'orphan_lock_events', text: ORPHAN('LOCK_CONTENTION_EVENTS', 'EVENT_ID'), binds: () => [] },
  { name: 'orphan_credits', text: ORPHAN('HYBRID_TABLE_CREDITS', 'CREDIT_ID'), binds: () => [] },
  { name: 'orphan_insights', text: ORPHAN('QUERY_INSIGHTS_CACHE', 'INSIGHT_ID'), binds: () => [] },
];
for (const step of STEPS) sqlSample(`queue.cleanup.${step.name}`, step.text(CLEANUP_BATCH));

export type CleanupCounts = Record<string, number>;

export async function runCleanup(services: Services, warehouse: Warehouse = services.warehouse): Promise<CleanupCounts> {
  const now = services.clock.now();
  const cutoff = new Date(now.getTime() - services.config.retentionDays * 86_400_000);
  const counts: CleanupCounts = {};
  let budget = CLEANUP_BATCH;
  for (const step of STEPS) {
    if (budget <= 0) {
      counts[step.name] = 0;
      continue;
    }
    const result = await warehouse.execute(step.text(budget), step.binds({ now, cutoff }));
    counts[step.name] = result.rowsAffected;
    budget -= result.rowsAffected;
  }
  const total = CLEANUP_BATCH - budget;
  // Cleanup removes jobs of tests it does not name one by one, without events.
  if (total > 0) services.testReads.clear();
  services.log.info({ ...counts, total, limit: CLEANUP_BATCH, more_may_remain: budget <= 0 }, 'enrichment cleanup');
  return counts;
}
