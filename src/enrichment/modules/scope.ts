// What every enrichment module needs to know about the test it enriches: the time window to read (always
// bounded: a view is never scanned without a time predicate), the QUERY_TAG prefixes that identify its
// queries, and the phases to leave out.
import { sql } from '../../db/sql-registry.js';
import type { QueueJob } from '../../queue/job-state.js';
import { testTagPrefixes } from '../query-tags.js';
import type { EnrichmentContext } from '../types.js';

/** Margins around the test (spec/sources.md: [START_TIME − 5 min, END_TIME + 5 min]). */
export const WINDOW_MARGIN_MS = 5 * 60_000;
/** Without a known start the window reaches this far back from the end (still bounded). */
export const UNKNOWN_START_LOOKBACK_MS = 24 * 3_600_000;

export interface TestWindow {
  /** Test start and end as recorded (start estimated when unknown). */
  testStart: Date;
  testEnd: Date;
  /** The read window: test ± margins. */
  from: Date;
  to: Date;
}

export function testWindow(job: QueueJob): TestWindow {
  const testEnd = job.testEndTime;
  const testStart = job.testStartTime ?? new Date(testEnd.getTime() - UNKNOWN_START_LOOKBACK_MS);
  return {
    testStart,
    testEnd,
    from: new Date(testStart.getTime() - WINDOW_MARGIN_MS),
    to: new Date(testEnd.getTime() + WINDOW_MARGIN_MS),
  };
}

/**
 * A derived table (bind: the run id) of the run's query ids that FlakeBench flagged as warm-up in
 * QUERY_EXECUTIONS, one row per QUERY_ID (the table has no key: a query recorded twice is one row).
 */
export const RUN_WARMUP_FLAGS = `SELECT QUERY_ID, MAX(IFF(WARMUP, 1, 0)) AS WARMUP_FLAG FROM QUERY_EXECUTIONS
  WHERE TEST_ID IN (SELECT TEST_ID FROM TEST_RESULTS WHERE RUN_ID = ?) GROUP BY QUERY_ID`;

const RUN_TAGS = sql(
  'enrichment.scope.run_tags',
  'SELECT TEST_ID, QUERY_TAG FROM TEST_RESULTS WHERE RUN_ID = ?',
);

/** The test's tag prefixes (rules in query-tags.ts, testTagPrefixes), from the TEST_RESULTS rows of its run. */
export async function tagPrefixes(context: EnrichmentContext): Promise<string[]> {
  // Every type of a claimed job asks; the run's tags are read once per claim (the runner hands each type
  // the same job object), not once per type.
  const known = prefixesByJob.get(context.job);
  if (known) return known;
  const prefixes = await readTagPrefixes(context);
  prefixesByJob.set(context.job, prefixes);
  return prefixes;
}

const prefixesByJob = new WeakMap<QueueJob, string[]>();

async function readTagPrefixes(context: EnrichmentContext): Promise<string[]> {
  const { job } = context;
  // The claim read them with the job (queue/claim.ts): no statement needed.
  if (job.runTags) return testTagPrefixes(job.testId, job.runId, job.runTags, job.tagPrefixes ?? []);
  const rows = await context.warehouse.query<{ TEST_ID: string | null; QUERY_TAG: string | null }>(RUN_TAGS, [job.runId], {
    signal: context.signal,
    timeoutMs: context.timeoutMs,
  });
  return testTagPrefixes(
    job.testId,
    job.runId,
    rows.map((row) => ({ testId: row.TEST_ID, queryTag: row.QUERY_TAG })),
    job.tagPrefixes ?? [],
  );
}
