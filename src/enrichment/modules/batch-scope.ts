// What a batched read (EnrichmentModule.readMany, issue 10) needs to know about its jobs: every job's window and
// tag prefixes travel as ONE JSON text bind, turned into rows on the server (BATCH_JOBS), so one statement reads
// the view for all of them and returns each row with the index of the job it belongs to (JOB_INDEX); the split
// per job is then plain TypeScript (rowsPerJob). A row inside two jobs' windows comes back once per job.
//
// A job's row of BATCH_JOBS (alias `bj`): JOB_INDEX, WINDOW_FROM, WINDOW_TO (the read window, testWindow) and
// TEST_ID / RUN_ID; its prefixes are a second FLATTEN (BATCH_JOB_PREFIXES, alias `bpx`, PREFIX). The outer
// bounds (batchBounds) repeat the union of the windows as plain binds so the engine can prune the view by time.
import { formatUtcTimestamp } from '../../db/binds.js';
import type { BindValue } from '../../db/warehouse.js';
import { jsonBindRelation } from '../../db/row-set.js';
import { tagMatchesPrefix } from '../query-tags.js';
import type { BatchReadOptions, EnrichmentContext } from '../types.js';
import { DENSE_LOOKAHEAD_MS, LAST_MINUTE_MS } from './readiness.js';
import { tagPrefixes, testWindow, type TestWindow } from './scope.js';

export interface BatchJob {
  index: number;
  context: EnrichmentContext;
  window: TestWindow;
  prefixes: string[];
}

/** The jobs of a batch with their windows and prefixes (the claim brought the run's tags: no statement). */
export async function batchJobs(contexts: readonly EnrichmentContext[]): Promise<BatchJob[]> {
  return Promise.all(
    contexts.map(async (context, index) => ({ index, context, window: testWindow(context.job), prefixes: await tagPrefixes(context) })),
  );
}

/** The one text bind of BATCH_JOBS. */
export function batchJobsPayload(jobs: readonly BatchJob[]): string {
  return JSON.stringify(
    jobs.map((job) => ({
      i: String(job.index),
      f: formatUtcTimestamp(job.window.from),
      t: formatUtcTimestamp(job.window.to),
      s: formatUtcTimestamp(job.window.testStart),
      e: formatUtcTimestamp(job.window.testEnd),
      test: job.context.job.testId,
      run: job.context.job.runId,
      p: job.prefixes,
    })),
  );
}

/** FROM-clause items: one row per job (bind: batchJobsPayload). Columns through the `bj` alias' VALUE. */
export const BATCH_JOBS = `${jsonBindRelation('bp')}, LATERAL FLATTEN(INPUT => bp.J) bj`;

/** The job's columns, as SQL expressions over `bj`. */
export const BATCH_JOB = {
  INDEX: "CAST(AS_VARCHAR(GET(bj.VALUE, 'i')) AS INTEGER)",
  FROM: "CAST(AS_VARCHAR(GET(bj.VALUE, 'f')) AS TIMESTAMP_NTZ)",
  TO: "CAST(AS_VARCHAR(GET(bj.VALUE, 't')) AS TIMESTAMP_NTZ)",
  TEST_ID: "AS_VARCHAR(GET(bj.VALUE, 'test'))",
  RUN_ID: "AS_VARCHAR(GET(bj.VALUE, 'run'))",
} as const;

/** One more FROM item after BATCH_JOBS: one row per (job, prefix); the prefix is BATCH_JOB_PREFIX. */
export const BATCH_JOB_PREFIXES = "LATERAL FLATTEN(INPUT => GET(bj.VALUE, 'p')) bpx";
export const BATCH_JOB_PREFIX = 'AS_VARCHAR(bpx.VALUE)';

/**
 * The job's prefixes without those another of them already covers (`a:b` under `a`; a run parent's
 * `flakebench:run_id=R:test_id=C` under `flakebench:run_id=R`): they match exactly the same tags, but each tag
 * matches at most one of them, so a join on BATCH_JOB_PREFIXES returns a view row once per job, not once per
 * prefix it matches. (Two kept prefixes matching one tag would both be its prefixes, the longer one starting
 * with the shorter + ':', i.e. covered.)
 */
export function exclusivePrefixes(prefixes: readonly string[]): string[] {
  const unique = [...new Set(prefixes)];
  return unique.filter((prefix) => !unique.some((other) => other !== prefix && tagMatchesPrefix(prefix, other)));
}

/** The jobs with exclusivePrefixes, for batchJobsPayload when rows are joined on BATCH_JOB_PREFIXES. */
export function withExclusivePrefixes(jobs: readonly BatchJob[]): BatchJob[] {
  return jobs.map((job) => ({ ...job, prefixes: exclusivePrefixes(job.prefixes) }));
}

/** The tag rule of query-tags.ts (equal, or starts with prefix + ':') against each job's prefixes. */
export function batchTagMatch(column: string): string {
  return tagMatchSql(column, BATCH_JOB_PREFIX);
}

/** The one text of the prefix rule: `column` (checked) against `prefix`, a column or this file's own expression. */
function tagMatchSql(column: string, prefix: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(column)) throw new Error(`not a column name: ${column}`);
  return `(${column} = ${prefix} OR STARTSWITH(${column}, ${prefix} || ':'))`;
}

/** The union of the jobs' read windows, [earliest from, latest to]: plain binds for time pruning. */
export function batchBounds(jobs: readonly BatchJob[]): [Date, Date] {
  const from = Math.min(...jobs.map((job) => job.window.from.getTime()));
  const to = Math.max(...jobs.map((job) => job.window.to.getTime()));
  return [new Date(from), new Date(to)];
}

/** Rows carrying JOB_INDEX, split per job (indexes outside the batch are refused: they would be a bug). */
export function rowsPerJob<Row extends { JOB_INDEX: number | string | bigint }>(rows: readonly Row[], jobCount: number): Row[][] {
  const split: Row[][] = Array.from({ length: jobCount }, () => []);
  for (const row of rows) {
    const index = Number(row.JOB_INDEX);
    const bucket = split[index];
    if (!Number.isInteger(index) || bucket === undefined) throw new Error(`batched read returned a row for job index ${String(row.JOB_INDEX)} of ${jobCount}`);
    bucket.push(row);
  }
  return split;
}

/**
 * The dense views' readiness for a batch (readiness.ts): the view's latest time in [earliest test end − 1 min,
 * latest test end + lookahead). Views fill in time order, so a job is caught up when that latest time reaches
 * its own last minute (batchCaughtUp): the single-job evidence, "a row from the test's last minute or later",
 * asked once for the whole batch. A scalar subquery for the read's select list (binds: batchEvidenceWindow).
 */
export function batchLatest(view: string, timeColumn: string): string {
  return `(SELECT MAX(${timeColumn}) FROM SNOWFLAKE.ACCOUNT_USAGE.${view}
  WHERE ${timeColumn} >= CAST(? AS TIMESTAMP_NTZ) AND ${timeColumn} < CAST(? AS TIMESTAMP_NTZ))`;
}

export function batchEvidenceWindow(jobs: readonly BatchJob[]): [Date, Date] {
  const ends = jobs.map((job) => job.context.job.testEndTime.getTime());
  return [new Date(Math.min(...ends) - LAST_MINUTE_MS), new Date(Math.max(...ends) + DENSE_LOOKAHEAD_MS)];
}

/** Whether the batch's latest view time (batchLatest) shows the view caught up with this job's test. */
export function batchCaughtUp(latest: Date | string | null | undefined, job: BatchJob): boolean {
  if (latest === null || latest === undefined) return false;
  const at = latest instanceof Date ? latest.getTime() : Date.parse(latest);
  return at >= job.context.job.testEndTime.getTime() - LAST_MINUTE_MS;
}

// ---- The sparse views' batched reads (LOCK_CONTENTION, QUERY_INSIGHTS, HYBRID_CREDITS) ----

/** The job's test start and end (testWindow's testStart / testEnd, without the margins), over `bj`. */
export const BATCH_JOB_TEST = {
  START: "CAST(AS_VARCHAR(GET(bj.VALUE, 's')) AS TIMESTAMP_NTZ)",
  END: "CAST(AS_VARCHAR(GET(bj.VALUE, 'e')) AS TIMESTAMP_NTZ)",
} as const;

/**
 * A CTE body with one row per (job, tag prefix) and the job's columns by name: JOB_INDEX, WINDOW_FROM, WINDOW_TO,
 * TEST_START, TEST_END, TEST_ID, RUN_ID, PREFIX (bind: batchJobsPayload). For statements that need the jobs in
 * several places: the payload is bound once, and `SELECT DISTINCT` of the job columns is one row per job
 * (every job has prefixes, the test's own at least: testTagPrefixes; batchPrefixesPresent checks it).
 */
export const BATCH_JOB_PREFIX_ROWS = `SELECT ${BATCH_JOB.INDEX} AS JOB_INDEX, ${BATCH_JOB.FROM} AS WINDOW_FROM, ${BATCH_JOB.TO} AS WINDOW_TO,
    ${BATCH_JOB_TEST.START} AS TEST_START, ${BATCH_JOB_TEST.END} AS TEST_END, ${BATCH_JOB.TEST_ID} AS TEST_ID,
    ${BATCH_JOB.RUN_ID} AS RUN_ID, ${BATCH_JOB_PREFIX} AS PREFIX
  FROM ${BATCH_JOBS}, ${BATCH_JOB_PREFIXES}`;

/** Two CTEs over the payload (bind: batchJobsPayload): batch_prefixes (BATCH_JOB_PREFIX_ROWS), batch_jobs (one row per job). */
export const BATCH_JOB_CTES = `batch_prefixes AS (
  ${BATCH_JOB_PREFIX_ROWS}
), batch_jobs AS (
  SELECT DISTINCT JOB_INDEX, WINDOW_FROM, WINDOW_TO, TEST_START, TEST_END, TEST_ID, RUN_ID FROM batch_prefixes
)`;

/** A job without prefixes would drop out of BATCH_JOB_PREFIX_ROWS silently; its single read refuses it too. */
export function batchPrefixesPresent(jobs: readonly BatchJob[]): void {
  const bare = jobs.find((job) => job.prefixes.length === 0);
  if (bare) throw new Error(`job ${bare.context.job.jobId} has no tag prefixes`);
}

/** batchTagMatch's rule against a prefix column (BATCH_JOB_PREFIX_ROWS' PREFIX) instead of `bpx`. */
export function prefixColumnMatch(column: string, prefixColumn: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(prefixColumn)) throw new Error(`not a column name: ${prefixColumn}`);
  return tagMatchSql(column, prefixColumn);
}

/** The union of the jobs' test intervals, [earliest test start, latest test end]: plain binds for pruning. */
export function batchTestBounds(jobs: readonly BatchJob[]): [Date, Date] {
  const from = Math.min(...jobs.map((job) => job.window.testStart.getTime()));
  const to = Math.max(...jobs.map((job) => job.window.testEnd.getTime()));
  return [new Date(from), new Date(to)];
}

/**
 * The CTEs the query-scoped sparse reads share (LOCK_WAIT_HISTORY, QUERY_INSIGHTS: rows found through the
 * test's query ids), each what the single read binds per job, for every job at once:
 * - batch_prefixes and batch_jobs (BATCH_JOB_CTES);
 * - history: QUERY_HISTORY over the union of the windows (QUERY_ID, START_TIME, QUERY_TAG and `historyColumns`),
 *   joined per job on its own window wherever it is used;
 * - job_queries: (JOB_INDEX, QUERY_ID), once per pair however many prefixes match (UNION is distinct): the
 *   test's QUERY_EXECUTIONS ids, and the ids of QUERY_HISTORY rows in the job's window whose tag matches;
 * - run_warmup_flags: RUN_WARMUP_FLAGS (scope.ts) per run of the batch (RUN_ID, QUERY_ID, WARMUP_FLAG). The
 *   join with TEST_RESULTS may repeat a row, which MAX ignores.
 * Joins and GROUP BY only: Snowflake supports correlated scalar subqueries only partly
 * (docs.snowflake.com/en/user-guide/querying-subqueries). Binds: batchQueryScopeBinds.
 */
export function batchQueryScope(historyColumns: readonly string[]): string {
  const extra = historyColumns.map((column) => `, ${column}`).join('');
  return `${BATCH_JOB_CTES}, history AS (
  SELECT QUERY_ID, START_TIME, QUERY_TAG${extra} FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY
  WHERE START_TIME >= CAST(? AS TIMESTAMP_NTZ) AND START_TIME <= CAST(? AS TIMESTAMP_NTZ)
), job_queries AS (
  SELECT j.JOB_INDEX, qe.QUERY_ID FROM batch_jobs j JOIN QUERY_EXECUTIONS qe ON qe.TEST_ID = j.TEST_ID
  UNION
  SELECT p.JOB_INDEX, h.QUERY_ID FROM batch_prefixes p
  JOIN history h ON h.START_TIME >= p.WINDOW_FROM AND h.START_TIME <= p.WINDOW_TO AND ${prefixColumnMatch('h.QUERY_TAG', 'p.PREFIX')}
), run_warmup_flags AS (
  SELECT tr.RUN_ID, qe.QUERY_ID, MAX(IFF(qe.WARMUP, 1, 0)) AS WARMUP_FLAG
  FROM QUERY_EXECUTIONS qe JOIN TEST_RESULTS tr ON tr.TEST_ID = qe.TEST_ID
  WHERE tr.RUN_ID IN (SELECT RUN_ID FROM batch_jobs)
  GROUP BY tr.RUN_ID, qe.QUERY_ID
)`;
}

/** The binds of batchQueryScope: the jobs' payload and the union of their windows (QUERY_HISTORY's pruning). */
export function batchQueryScopeBinds(jobs: readonly BatchJob[]): [string, Date, Date] {
  batchPrefixesPresent(jobs);
  return [batchJobsPayload(jobs), ...batchBounds(jobs)];
}

/** Sends a batched read through the batch's warehouse and returns each job's rows, JOB_INDEX taken off. */
export async function readPerJob<JobRow>(
  options: BatchReadOptions,
  sqlText: string,
  binds: readonly BindValue[],
  jobCount: number,
): Promise<JobRow[][]> {
  // Row types with named columns have no index signature: the same `& Record<string, never>` the single reads use.
  const rows = await options.warehouse.query<JobRow & { JOB_INDEX: number } & Record<string, never>>(sqlText, binds, {
    signal: options.signal,
    timeoutMs: options.timeoutMs,
  });
  return rowsPerJob(rows, jobCount).map((jobRows) => jobRows.map(({ JOB_INDEX: _index, ...row }) => row as unknown as JobRow));
}
