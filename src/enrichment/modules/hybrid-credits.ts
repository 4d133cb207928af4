// HYBRID_CREDITS (hybrid tables): SNOWFLAKE.ACCOUNT_USAGE.HYBRID_TABLE_USAGE_HISTORY → HYBRID_TABLE_CREDITS and
// TEST_RESULTS.HYBRID_CREDITS_*. The view is account-level, so credits are attributed by time overlap (see
// credits-transform.ts); REQUESTS_COUNT is the test's own request count in each window, from its
// AGGREGATE_QUERY_HISTORY rows (every phase: warm-up requests are billed too), else its QUERY_EXECUTIONS rows,
// by minute bucket (the first, partial minute of the test included). BILLED is stored per window (migration 0008).
import { randomUUID } from 'node:crypto';
import { sql } from '../../db/sql-registry.js';
import { FENCE_SQL } from '../../processor/job-writes.js';
import type { BindValue, Statement } from '../../db/warehouse.js';
import type { QueueJob } from '../../queue/job-state.js';
import { transformCredits, CREDIT_ATTRIBUTION_METHOD, type CreditRow, type RequestBucket, type TestInterval, type UsageWindow } from '../credits-transform.js';
import { NotApplicableError } from '../not-applicable.js';
import { tagPredicate } from '../query-tags.js';
import type { EnrichmentContext, EnrichmentModule, Fence } from '../types.js';
import { sparseViewReady } from './readiness.js';
import { tagPrefixes, testWindow } from './scope.js';
import { fencedInsert } from './write-rows.js';

const READ_WINDOWS = sql(
  'enrichment.hybrid_credits.windows',
  `SELECT START_TIME, END_TIME, CREDITS_USED FROM SNOWFLAKE.ACCOUNT_USAGE.HYBRID_TABLE_USAGE_HISTORY
WHERE END_TIME > CAST(? AS TIMESTAMP_NTZ) AND START_TIME < CAST(? AS TIMESTAMP_NTZ)
ORDER BY START_TIME`,
);

// Other hybrid tests whose run overlaps the windows: their requests are in the same account-level credits.
const OVERLAPPING_TESTS = sql(
  'enrichment.hybrid_credits.overlapping_tests',
  `SELECT TEST_ID, START_TIME, END_TIME FROM TEST_RESULTS
WHERE TABLE_TYPE IN ('HYBRID', 'UNISTORE') AND START_TIME < CAST(? AS TIMESTAMP_NTZ) AND END_TIME > CAST(? AS TIMESTAMP_NTZ)`,
);

function requestsText(prefixCount: number): string {
  const predicate = tagPredicate('QUERY_TAG', Array.from({ length: prefixCount }, (_, i) => `p${i}`)).sql;
  return `SELECT INTERVAL_START_TIME AS MINUTE_START, SUM(CALLS) AS REQUESTS
FROM SNOWFLAKE.ACCOUNT_USAGE.AGGREGATE_QUERY_HISTORY
WHERE INTERVAL_START_TIME >= CAST(? AS TIMESTAMP_NTZ) AND INTERVAL_START_TIME < CAST(? AS TIMESTAMP_NTZ) AND ${predicate}
GROUP BY INTERVAL_START_TIME`;
}
sql('enrichment.hybrid_credits.requests_from_aggregate', requestsText(2));

const REQUESTS_FROM_EXECUTIONS = sql(
  'enrichment.hybrid_credits.requests_from_executions',
  `SELECT DATE_TRUNC('minute', START_TIME) AS MINUTE_START, COUNT(*) AS REQUESTS FROM QUERY_EXECUTIONS
WHERE TEST_ID = ? GROUP BY DATE_TRUNC('minute', START_TIME)`,
);

const DELETE_CREDITS = sql(
  'enrichment.hybrid_credits.delete',
  `DELETE FROM HYBRID_TABLE_CREDITS WHERE TEST_ID = ? AND RUN_ID = ? AND ${FENCE_SQL}`,
);
const UPDATE_TEST = sql(
  'enrichment.hybrid_credits.update_test',
  `UPDATE TEST_RESULTS SET HYBRID_CREDITS_USED = ?, HYBRID_CREDITS_REQUESTS = ?, HYBRID_CREDITS_START_TIME = CAST(? AS TIMESTAMP_NTZ),
  HYBRID_CREDITS_END_TIME = CAST(? AS TIMESTAMP_NTZ)
WHERE TEST_ID = ? AND RUN_ID = ? AND ${FENCE_SQL}`,
);

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

export const hybridCreditsModule: EnrichmentModule<CreditsSource, CreditsOutput> = {
  type: 'HYBRID_CREDITS',
  view: 'HYBRID_TABLE_USAGE_HISTORY',

  checkReady: async (context) => sparseViewReady(context, 'HYBRID_CREDITS'),

  async read(context: EnrichmentContext): Promise<CreditsSource> {
    const options = { signal: context.signal, timeoutMs: context.timeoutMs };
    const window = testWindow(context.job);
    const test: TestInterval = { testId: context.job.testId, start: window.testStart, end: window.testEnd };
    const windows = (await context.warehouse.query<UsageWindow & Record<string, never>>(READ_WINDOWS, [test.start, test.end], options)).map(
      (row) => ({ START_TIME: row.START_TIME, END_TIME: row.END_TIME, CREDITS_USED: Number(row.CREDITS_USED) }),
    );
    if (windows.length === 0) return { test, windows, others: [], requestsByMinute: [], readAt: context.now };
    const spanStart = new Date(Math.min(...windows.map((w) => w.START_TIME.getTime())));
    const spanEnd = new Date(Math.max(...windows.map((w) => w.END_TIME.getTime())));
    const others = (await context.warehouse.query<{ TEST_ID: string; START_TIME: Date; END_TIME: Date }>(OVERLAPPING_TESTS, [spanEnd, spanStart], options)).map(
      (row) => ({ testId: row.TEST_ID, start: row.START_TIME, end: row.END_TIME }),
    );
    const prefixes = await tagPrefixes(context);
    const predicate = tagPredicate('QUERY_TAG', prefixes);
    let requests = await context.warehouse.query<{ MINUTE_START: Date; REQUESTS: number }>(
      requestsText(prefixes.length),
      [window.from, window.to, ...predicate.binds],
      options,
    );
    if (requests.length === 0) {
      requests = await context.warehouse.query<{ MINUTE_START: Date; REQUESTS: number }>(REQUESTS_FROM_EXECUTIONS, [context.job.testId], options);
    }
    return {
      test,
      windows,
      others,
      requestsByMinute: requests.map((row) => ({ minute: row.MINUTE_START.getTime(), requests: Number(row.REQUESTS) })),
      readAt: context.now,
    };
  },

  transform(source: CreditsSource): CreditsOutput {
    const outcome = transformCredits(source.test, source.windows, source.others, source.requestsByMinute);
    if (outcome.kind === 'not_applicable') throw new NotApplicableError(outcome.reason);
    return { ...outcome, readAt: source.readAt };
  },

  rowCount: (output) => output.rows.length,

  writeStatements(output: CreditsOutput, job: QueueJob, fence: Fence): Statement[] {
    const key = [job.testId, job.runId, ...fence.binds];
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
      { sql: DELETE_CREDITS, binds: key },
      ...insertCredits(rows, fence),
      {
        sql: UPDATE_TEST,
        binds: [hasRows ? output.totalCredits : null, hasRows ? output.totalRequests : null, output.start, output.end, ...key],
      },
    ];
  },
};
