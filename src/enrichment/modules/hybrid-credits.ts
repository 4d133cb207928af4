// HYBRID_CREDITS (hybrid tables): SNOWFLAKE.ACCOUNT_USAGE.HYBRID_TABLE_USAGE_HISTORY → HYBRID_TABLE_CREDITS and
// TEST_RESULTS.HYBRID_CREDITS_*. The view is account-level, so credits are attributed by time overlap (see
// credits-transform.ts); REQUESTS_COUNT is the test's own request count in each window, from its
// AGGREGATE_QUERY_HISTORY rows (every phase: warm-up requests are billed too), else its QUERY_EXECUTIONS rows,
// by minute bucket (the first, partial minute of the test included). BILLED is stored per window (migration 0008).
import { randomUUID } from 'node:crypto';
import { sql } from '../../db/sql-registry.js';
import type { BindValue, Statement } from '../../db/warehouse.js';
import type { QueueJob } from '../../queue/job-state.js';
import { transformCredits, CREDIT_ATTRIBUTION_METHOD, type CreditRow, type RequestBucket, type TestInterval, type UsageWindow } from '../credits-transform.js';
import { NotApplicableError } from '../not-applicable.js';
import { tagPredicate } from '../query-tags.js';
import type { BatchReadOptions, EnrichmentContext, EnrichmentModule, Fence } from '../types.js';
import { BATCH_JOB_CTES, batchBounds, batchJobs, batchJobsPayload, batchPrefixesPresent, batchTestBounds, prefixColumnMatch, readPerJob } from './batch-scope.js';
import { sparseViewReady } from './readiness.js';
import { tagPrefixes, testWindow } from './scope.js';
import { fencedInsert, fencedTestDelete, fencedTestUpdate } from './write-rows.js';

/**
 * The whole read in one statement (for a given number of tag prefixes), one row per item, PART saying which:
 * - WINDOW: the usage windows overlapping the test (START_TIME, END_TIME, CREDITS_USED);
 * - OVERLAPPING_TEST: other hybrid tests whose run overlaps the windows' span (their requests are in the same
 *   account-level credits): TEST_ID, TEST_START, TEST_END;
 * - REQUESTS: the test's requests per minute (MINUTE_START, REQUESTS) from its AGGREGATE_QUERY_HISTORY
 *   intervals, or from its QUERY_EXECUTIONS when the view has none.
 * Tests and requests are only read when there are windows. AGGREGATE_QUERY_HISTORY's TIMESTAMP_LTZ minute is
 * cast to TIMESTAMP_NTZ (the same instant: sessions run in UTC) to share a column with QUERY_EXECUTIONS'.
 */
function readText(prefixCount: number): string {
  const predicate = tagPredicate('QUERY_TAG', Array.from({ length: prefixCount }, (_, i) => `p${i}`)).sql;
  return `WITH usage_windows AS (
  SELECT START_TIME, END_TIME, CREDITS_USED FROM SNOWFLAKE.ACCOUNT_USAGE.HYBRID_TABLE_USAGE_HISTORY
  WHERE END_TIME > CAST(? AS TIMESTAMP_NTZ) AND START_TIME < CAST(? AS TIMESTAMP_NTZ)
), window_span AS (
  SELECT MIN(START_TIME) AS SPAN_START, MAX(END_TIME) AS SPAN_END FROM usage_windows
), aggregate_requests AS (
  SELECT CAST(INTERVAL_START_TIME AS TIMESTAMP_NTZ) AS MINUTE_START, SUM(CALLS) AS REQUESTS
  FROM SNOWFLAKE.ACCOUNT_USAGE.AGGREGATE_QUERY_HISTORY
  WHERE INTERVAL_START_TIME >= CAST(? AS TIMESTAMP_NTZ) AND INTERVAL_START_TIME < CAST(? AS TIMESTAMP_NTZ) AND ${predicate}
    AND EXISTS (SELECT 1 FROM usage_windows)
  GROUP BY INTERVAL_START_TIME
), execution_requests AS (
  SELECT DATE_TRUNC('minute', START_TIME) AS MINUTE_START, COUNT(*) AS REQUESTS FROM QUERY_EXECUTIONS
  WHERE TEST_ID = ? AND EXISTS (SELECT 1 FROM usage_windows) AND NOT EXISTS (SELECT 1 FROM aggregate_requests)
  GROUP BY DATE_TRUNC('minute', START_TIME)
)
SELECT 'WINDOW' AS PART, START_TIME, END_TIME, CREDITS_USED, NULL AS TEST_ID, NULL AS TEST_START, NULL AS TEST_END,
  NULL AS MINUTE_START, NULL AS REQUESTS
FROM usage_windows
UNION ALL
SELECT 'OVERLAPPING_TEST', NULL, NULL, NULL, tr.TEST_ID, tr.START_TIME, tr.END_TIME, NULL, NULL
FROM TEST_RESULTS tr CROSS JOIN window_span s
WHERE tr.TABLE_TYPE IN ('HYBRID', 'UNISTORE') AND tr.START_TIME < s.SPAN_END AND tr.END_TIME > s.SPAN_START
UNION ALL
SELECT 'REQUESTS', NULL, NULL, NULL, NULL, NULL, NULL, MINUTE_START, REQUESTS FROM aggregate_requests
UNION ALL
SELECT 'REQUESTS', NULL, NULL, NULL, NULL, NULL, NULL, MINUTE_START, REQUESTS FROM execution_requests
ORDER BY PART, START_TIME`;
}
sql('enrichment.hybrid_credits.read', readText(2));

/**
 * Several jobs' reads in one statement (readMany): readText's parts for every job, each row with its JOB_INDEX.
 * Per job as alone: its windows overlap its own test interval, its span decides its overlapping tests, and its
 * requests come from the AGGREGATE_QUERY_HISTORY rows in its window with its tags, else from its QUERY_EXECUTIONS,
 * both only when it has windows. job_tags pairs each job with the distinct view tags that match any of its
 * prefixes, so a row matching several prefixes is counted once for the job (readText's OR of the prefixes).
 */
const READ_MANY = sql(
  'enrichment.hybrid_credits.read_many',
  `WITH ${BATCH_JOB_CTES}, usage_windows AS (
  SELECT j.JOB_INDEX, u.START_TIME, u.END_TIME, u.CREDITS_USED FROM SNOWFLAKE.ACCOUNT_USAGE.HYBRID_TABLE_USAGE_HISTORY u
  JOIN batch_jobs j ON u.END_TIME > j.TEST_START AND u.START_TIME < j.TEST_END
  WHERE u.END_TIME > CAST(? AS TIMESTAMP_NTZ) AND u.START_TIME < CAST(? AS TIMESTAMP_NTZ)
), window_span AS (
  SELECT JOB_INDEX, MIN(START_TIME) AS SPAN_START, MAX(END_TIME) AS SPAN_END FROM usage_windows GROUP BY JOB_INDEX
), aggregate_rows AS (
  SELECT INTERVAL_START_TIME, QUERY_TAG, CALLS FROM SNOWFLAKE.ACCOUNT_USAGE.AGGREGATE_QUERY_HISTORY
  WHERE INTERVAL_START_TIME >= CAST(? AS TIMESTAMP_NTZ) AND INTERVAL_START_TIME < CAST(? AS TIMESTAMP_NTZ)
), job_tags AS (
  SELECT DISTINCT p.JOB_INDEX, t.QUERY_TAG FROM batch_prefixes p
  JOIN (SELECT DISTINCT QUERY_TAG FROM aggregate_rows) t ON ${prefixColumnMatch('t.QUERY_TAG', 'p.PREFIX')}
), aggregate_requests AS (
  SELECT j.JOB_INDEX, CAST(a.INTERVAL_START_TIME AS TIMESTAMP_NTZ) AS MINUTE_START, SUM(a.CALLS) AS REQUESTS
  FROM batch_jobs j
  JOIN window_span s ON s.JOB_INDEX = j.JOB_INDEX
  JOIN job_tags jt ON jt.JOB_INDEX = j.JOB_INDEX
  JOIN aggregate_rows a ON a.QUERY_TAG = jt.QUERY_TAG AND a.INTERVAL_START_TIME >= j.WINDOW_FROM AND a.INTERVAL_START_TIME < j.WINDOW_TO
  GROUP BY j.JOB_INDEX, a.INTERVAL_START_TIME
), execution_requests AS (
  SELECT j.JOB_INDEX, DATE_TRUNC('minute', qe.START_TIME) AS MINUTE_START, COUNT(*) AS REQUESTS
  FROM batch_jobs j
  JOIN window_span s ON s.JOB_INDEX = j.JOB_INDEX
  JOIN QUERY_EXECUTIONS qe ON qe.TEST_ID = j.TEST_ID
  LEFT JOIN (SELECT DISTINCT JOB_INDEX FROM aggregate_requests) ar ON ar.JOB_INDEX = j.JOB_INDEX
  WHERE ar.JOB_INDEX IS NULL
  GROUP BY j.JOB_INDEX, DATE_TRUNC('minute', qe.START_TIME)
)
SELECT JOB_INDEX, 'WINDOW' AS PART, START_TIME, END_TIME, CREDITS_USED, NULL AS TEST_ID, NULL AS TEST_START, NULL AS TEST_END,
  NULL AS MINUTE_START, NULL AS REQUESTS
FROM usage_windows
UNION ALL
SELECT s.JOB_INDEX, 'OVERLAPPING_TEST', NULL, NULL, NULL, tr.TEST_ID, tr.START_TIME, tr.END_TIME, NULL, NULL
FROM window_span s JOIN TEST_RESULTS tr ON tr.START_TIME < s.SPAN_END AND tr.END_TIME > s.SPAN_START
WHERE tr.TABLE_TYPE IN ('HYBRID', 'UNISTORE')
UNION ALL
SELECT JOB_INDEX, 'REQUESTS', NULL, NULL, NULL, NULL, NULL, NULL, MINUTE_START, REQUESTS FROM aggregate_requests
UNION ALL
SELECT JOB_INDEX, 'REQUESTS', NULL, NULL, NULL, NULL, NULL, NULL, MINUTE_START, REQUESTS FROM execution_requests
ORDER BY JOB_INDEX, PART, START_TIME`,
);

type CreditsReadRow = {
  PART: 'WINDOW' | 'OVERLAPPING_TEST' | 'REQUESTS';
  START_TIME: Date | null;
  END_TIME: Date | null;
  CREDITS_USED: number | string | null;
  TEST_ID: string | null;
  TEST_START: Date | null;
  TEST_END: Date | null;
  MINUTE_START: Date | null;
  REQUESTS: number | string | null;
};

const deleteCredits = fencedTestDelete('enrichment.hybrid_credits.delete', 'HYBRID_TABLE_CREDITS');
const updateTest = fencedTestUpdate('enrichment.hybrid_credits.update_test', [
  { name: 'HYBRID_CREDITS_USED' },
  { name: 'HYBRID_CREDITS_REQUESTS' },
  { name: 'HYBRID_CREDITS_START_TIME', kind: 'timestamp' },
  { name: 'HYBRID_CREDITS_END_TIME', kind: 'timestamp' },
]);
const insertCredits = fencedInsert('HYBRID_TABLE_CREDITS', [
  { name: 'CREDIT_ID' },
  { name: 'TEST_ID' },
  { name: 'RUN_ID' },
  { name: 'TABLE_NAME' },
  { name: 'SCHEMA_NAME' },
  { name: 'DATABASE_NAME' },
  { name: 'START_TIME', kind: 'timestamp' },
  { name: 'END_TIME', kind: 'timestamp' },
  { name: 'CREDITS_USED' },
  { name: 'REQUESTS_COUNT' },
  { name: 'RAW_DATA', kind: 'variant' },
  { name: 'CREATED_AT', kind: 'timestamp' },
  { name: 'ATTRIBUTION_METHOD' },
  { name: 'OVERLAP_FRACTION' },
  { name: 'OVERLAPPING_TESTS' },
  { name: 'WINDOW_CREDITS_USED' },
  { name: 'BILLED' },
  { name: 'REQUESTS_METHOD' },
]);

export interface CreditsSource {
  test: TestInterval;
  windows: UsageWindow[];
  others: TestInterval[];
  requestsByMinute: RequestBucket[];
  readAt: Date;
}
export interface CreditsOutput {
  rows: CreditRow[];
  totalCredits: number;
  totalRequests: number;
  start: Date | null;
  end: Date | null;
  readAt: Date;
}

function testIntervalOf(context: EnrichmentContext): TestInterval {
  const window = testWindow(context.job);
  return { testId: context.job.testId, start: window.testStart, end: window.testEnd };
}

/** A job's read rows (readText's parts) → its CreditsSource (the same for a single read and a batch's share). */
function creditsSourceOf(rows: readonly CreditsReadRow[], context: EnrichmentContext): CreditsSource {
  const source: CreditsSource = { test: testIntervalOf(context), windows: [], others: [], requestsByMinute: [], readAt: context.now };
  for (const row of rows) {
    if (row.PART === 'WINDOW') {
      source.windows.push({ START_TIME: row.START_TIME as Date, END_TIME: row.END_TIME as Date, CREDITS_USED: Number(row.CREDITS_USED) });
    } else if (row.PART === 'OVERLAPPING_TEST') {
      source.others.push({ testId: row.TEST_ID as string, start: row.TEST_START as Date, end: row.TEST_END as Date });
    } else {
      source.requestsByMinute.push({ minute: (row.MINUTE_START as Date).getTime(), requests: Number(row.REQUESTS) });
    }
  }
  return source;
}

export const hybridCreditsModule: EnrichmentModule<CreditsSource, CreditsOutput> = {
  type: 'HYBRID_CREDITS',
  view: 'HYBRID_TABLE_USAGE_HISTORY',

  checkReady: async (context) => sparseViewReady(context, 'HYBRID_CREDITS'),

  async read(context: EnrichmentContext): Promise<CreditsSource> {
    const window = testWindow(context.job);
    const test = testIntervalOf(context);
    const prefixes = await tagPrefixes(context);
    const predicate = tagPredicate('QUERY_TAG', prefixes);
    const rows = await context.warehouse.query<CreditsReadRow & Record<string, never>>(
      readText(prefixes.length),
      [test.start, test.end, window.from, window.to, ...predicate.binds, context.job.testId],
      { signal: context.signal, timeoutMs: context.timeoutMs },
    );
    return creditsSourceOf(rows, context);
  },

  async readMany(contexts: readonly EnrichmentContext[], options: BatchReadOptions): Promise<CreditsSource[]> {
    const jobs = await batchJobs(contexts);
    batchPrefixesPresent(jobs);
    const perJob = await readPerJob<CreditsReadRow>(
      options,
      READ_MANY,
      [batchJobsPayload(jobs), ...batchTestBounds(jobs), ...batchBounds(jobs)],
      jobs.length,
    );
    return perJob.map((rows, index) => creditsSourceOf(rows, contexts[index]!));
  },

  transform(source: CreditsSource): CreditsOutput {
    const outcome = transformCredits(source.test, source.windows, source.others, source.requestsByMinute);
    if (outcome.kind === 'not_applicable') throw new NotApplicableError(outcome.reason);
    return { ...outcome, readAt: source.readAt };
  },

  rowCount: (output) => output.rows.length,

  writeStatements(output: CreditsOutput, job: QueueJob, fence: Fence): Statement[] {
    const rows: BindValue[][] = output.rows.map((row) => [
      randomUUID(),
      job.testId,
      job.runId,
      job.targetTable ?? 'UNKNOWN',
      job.targetSchema,
      job.targetDatabase,
      row.startTime,
      row.endTime,
      Math.round(row.creditsUsed * 1000) / 1000,
      row.requestsCount,
      row.raw as unknown as BindValue,
      output.readAt,
      CREDIT_ATTRIBUTION_METHOD,
      Math.round(row.overlapFraction * 1e6) / 1e6,
      row.overlappingTests,
      row.windowCreditsUsed,
      row.billed,
      row.requestsMethod,
    ]);
    const hasRows = output.rows.length > 0;
    return [
      deleteCredits(job, fence),
      ...insertCredits(rows, fence),
      updateTest(job, fence, [hasRows ? output.totalCredits : null, hasRows ? output.totalRequests : null, output.start, output.end]),
    ];
  },
};
