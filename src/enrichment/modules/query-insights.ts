// QUERY_INSIGHTS: SNOWFLAKE.ACCOUNT_USAGE.QUERY_INSIGHTS → QUERY_INSIGHTS_CACHE (expires after 30 days) and
// TEST_RESULTS.QUERY_INSIGHTS_COUNT / _HIGH_SEVERITY_COUNT. The view has no QUERY_TAG: a test's insights are
// found through its query ids (QUERY_EXECUTIONS, or QUERY_HISTORY rows whose tag matches), and the query text
// comes from QUERY_HISTORY. Snowflake never produces insights for hybrid-table queries.
import { randomUUID } from 'node:crypto';
import { sql } from '../../db/sql-registry.js';
import type { BindValue, Statement } from '../../db/warehouse.js';
import type { QueueJob } from '../../queue/job-state.js';
import { transformInsights, type InsightCacheRow, type InsightSourceRow } from '../insights-transform.js';
import { isLeftOut, tagPredicate } from '../query-tags.js';
import type { BatchReadOptions, EnrichmentContext, EnrichmentModule, Fence } from '../types.js';
import { batchBounds, batchJobs, batchQueryScope, batchQueryScopeBinds, readPerJob } from './batch-scope.js';
import { sparseViewReady } from './readiness.js';
import { RUN_WARMUP_FLAGS, tagPrefixes, testWindow } from './scope.js';
import { fencedInsert, fencedTestDelete, fencedTestUpdate } from './write-rows.js';

/** QUERY_INSIGHTS_CACHE rows expire this long after they are written (seed: 30-day retention). */
export const INSIGHT_CACHE_TTL_MS = 30 * 24 * 3_600_000;

function readText(prefixCount: number): string {
  const predicate = tagPredicate('QUERY_TAG', Array.from({ length: prefixCount }, (_, i) => `p${i}`)).sql;
  return `SELECT qi.QUERY_ID, qi.QUERY_PARAMETERIZED_HASH, qi.INSIGHT_TYPE_ID, qi.INSIGHT_TOPIC, qi.MESSAGE, qi.SUGGESTIONS,
  qi.IS_OPPORTUNITY, qh.QUERY_TEXT, qh.QUERY_TAG, qe.WARMUP_FLAG
FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_INSIGHTS qi
LEFT JOIN (
  SELECT QUERY_ID, QUERY_TEXT, QUERY_TAG FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY
  WHERE START_TIME >= CAST(? AS TIMESTAMP_NTZ) AND START_TIME <= CAST(? AS TIMESTAMP_NTZ)
) qh ON qh.QUERY_ID = qi.QUERY_ID
LEFT JOIN (${RUN_WARMUP_FLAGS}) qe ON qe.QUERY_ID = qi.QUERY_ID
WHERE qi.START_TIME >= CAST(? AS TIMESTAMP_NTZ) AND qi.START_TIME <= CAST(? AS TIMESTAMP_NTZ)
  AND (qi.QUERY_ID IN (SELECT QUERY_ID FROM QUERY_EXECUTIONS WHERE TEST_ID = ?) OR ${predicate.replaceAll('QUERY_TAG', 'qh.QUERY_TAG')})`;
}
sql('enrichment.query_insights.read', readText(2));

/**
 * Several jobs' reads in one statement (readMany): the single read's rows for every job, each with its
 * JOB_INDEX. An insight is the job's when its START_TIME lies in the job's window and its query is one of the
 * job's (job_queries: the single read's tag match on the joined QUERY_HISTORY row, QUERY_ID being unique there).
 */
const READ_MANY = sql(
  'enrichment.query_insights.read_many',
  `WITH ${batchQueryScope(['QUERY_TEXT'])}
SELECT j.JOB_INDEX, qi.QUERY_ID, qi.QUERY_PARAMETERIZED_HASH, qi.INSIGHT_TYPE_ID, qi.INSIGHT_TOPIC, qi.MESSAGE, qi.SUGGESTIONS,
  qi.IS_OPPORTUNITY, qh.QUERY_TEXT, qh.QUERY_TAG, qe.WARMUP_FLAG
FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_INSIGHTS qi
JOIN batch_jobs j ON qi.START_TIME >= j.WINDOW_FROM AND qi.START_TIME <= j.WINDOW_TO
JOIN job_queries m ON m.JOB_INDEX = j.JOB_INDEX AND m.QUERY_ID = qi.QUERY_ID
LEFT JOIN history qh ON qh.QUERY_ID = qi.QUERY_ID AND qh.START_TIME >= j.WINDOW_FROM AND qh.START_TIME <= j.WINDOW_TO
LEFT JOIN run_warmup_flags qe ON qe.RUN_ID = j.RUN_ID AND qe.QUERY_ID = qi.QUERY_ID
WHERE qi.START_TIME >= CAST(? AS TIMESTAMP_NTZ) AND qi.START_TIME <= CAST(? AS TIMESTAMP_NTZ)`,
);

const deleteInsights = fencedTestDelete('enrichment.query_insights.delete', 'QUERY_INSIGHTS_CACHE');
const updateTest = fencedTestUpdate('enrichment.query_insights.update_test', [{ name: 'QUERY_INSIGHTS_COUNT' }, { name: 'QUERY_INSIGHTS_HIGH_SEVERITY_COUNT' }]);
const insertInsights = fencedInsert('QUERY_INSIGHTS_CACHE', [
  { name: 'INSIGHT_ID' },
  { name: 'TEST_ID' },
  { name: 'RUN_ID' },
  { name: 'QUERY_ID' },
  { name: 'QUERY_PARAMETERIZED_HASH' },
  { name: 'QUERY_TEXT' },
  { name: 'INSIGHT_TYPE' },
  { name: 'INSIGHT_CATEGORY' },
  { name: 'INSIGHT_SEVERITY' },
  { name: 'RECOMMENDATION' },
  { name: 'RECOMMENDATION_DETAILS', kind: 'variant' },
  { name: 'AFFECTED_QUERY_COUNT' },
  { name: 'RAW_INSIGHT', kind: 'variant' },
  { name: 'CREATED_AT', kind: 'timestamp' },
  { name: 'EXPIRES_AT', kind: 'timestamp' },
]);

type InsightReadRow = InsightSourceRow & { QUERY_TEXT: string | null; QUERY_TAG: string | null; WARMUP_FLAG: number | null };

export interface InsightsSource {
  rows: InsightSourceRow[];
  queryTextById: Map<string, string>;
  readAt: Date;
}
export interface InsightsOutput {
  rows: InsightCacheRow[];
  count: number;
  highSeverityCount: number;
  readAt: Date;
}

/** A job's read rows → its InsightsSource (the same for a single read and a batch's share). */
function insightsSourceOf(rows: readonly InsightReadRow[], context: EnrichmentContext): InsightsSource {
  // Insights on warm-up queries are left out: by tag phase, or by the QUERY_EXECUTIONS.WARMUP flag.
  const kept = rows.filter((row) => !isLeftOut(row.QUERY_TAG, row.WARMUP_FLAG));
  const queryTextById = new Map<string, string>();
  for (const row of kept) if (row.QUERY_TEXT !== null) queryTextById.set(row.QUERY_ID, row.QUERY_TEXT);
  const sourceRows = kept.map(({ QUERY_TEXT: _text, QUERY_TAG: _tag, WARMUP_FLAG: _warmup, ...row }) => row);
  return { rows: sourceRows, queryTextById, readAt: context.now };
}

export const queryInsightsModule: EnrichmentModule<InsightsSource, InsightsOutput> = {
  type: 'QUERY_INSIGHTS',
  view: 'QUERY_INSIGHTS',

  checkReady: async (context) => sparseViewReady(context, 'QUERY_INSIGHTS'),

  async read(context: EnrichmentContext): Promise<InsightsSource> {
    const window = testWindow(context.job);
    const prefixes = await tagPrefixes(context);
    const predicate = tagPredicate('QUERY_TAG', prefixes);
    const rows = await context.warehouse.query<InsightReadRow & Record<string, never>>(
      readText(prefixes.length),
      [window.from, window.to, context.job.runId, window.from, window.to, context.job.testId, ...predicate.binds],
      { signal: context.signal, timeoutMs: context.timeoutMs },
    );
    return insightsSourceOf(rows, context);
  },

  async readMany(contexts: readonly EnrichmentContext[], options: BatchReadOptions): Promise<InsightsSource[]> {
    const jobs = await batchJobs(contexts);
    const perJob = await readPerJob<InsightReadRow>(options, READ_MANY, [...batchQueryScopeBinds(jobs), ...batchBounds(jobs)], jobs.length);
    return perJob.map((rows, index) => insightsSourceOf(rows, contexts[index]!));
  },

  transform: (source) => ({ ...transformInsights(source.rows, source.queryTextById), readAt: source.readAt }),

  rowCount: (output) => output.rows.length,

  writeStatements(output: InsightsOutput, job: QueueJob, fence: Fence): Statement[] {
    const expiresAt = new Date(output.readAt.getTime() + INSIGHT_CACHE_TTL_MS);
    const rows: BindValue[][] = output.rows.map((row) => [
      randomUUID(),
      job.testId,
      job.runId,
      row.queryId,
      row.queryParameterizedHash,
      row.queryText,
      row.insightType,
      row.insightCategory,
      row.insightSeverity,
      row.recommendation,
      row.recommendationDetails as unknown as BindValue,
      row.affectedQueryCount,
      row.rawInsight as unknown as BindValue,
      output.readAt,
      expiresAt,
    ]);
    return [
      deleteInsights(job, fence),
      ...insertInsights(rows, fence),
      updateTest(job, fence, [output.count, output.highSeverityCount]),
    ];
  },
};
