// What a batched read (EnrichmentModule.readMany, issue 10) needs to know about its jobs: every job's window and
// tag prefixes travel as ONE JSON text bind, turned into rows on the server (BATCH_JOBS), so one statement reads
// the view for all of them and returns each row with the index of the job it belongs to (JOB_INDEX); the split
// per job is then plain TypeScript (rowsPerJob). A row inside two jobs' windows comes back once per job.
//
// A job's row of BATCH_JOBS (alias `bj`): JOB_INDEX, WINDOW_FROM, WINDOW_TO (the read window, testWindow) and
// TEST_ID / RUN_ID; its prefixes are a second FLATTEN (BATCH_JOB_PREFIXES, alias `bpx`, PREFIX). The outer
// bounds (batchBounds) repeat the union of the windows as plain binds so the engine can prune the view by time.
import { formatUtcTimestamp } from '../../db/binds.js';
import { tagMatchesPrefix } from '../query-tags.js';
import type { EnrichmentContext } from '../types.js';
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
      test: job.context.job.testId,
      run: job.context.job.runId,
      p: job.prefixes,
    })),
  );
}

/** FROM-clause items: one row per job (bind: batchJobsPayload). Columns through the `bj` alias' VALUE. */
export const BATCH_JOBS = '(SELECT PARSE_JSON(?) AS J) bp, LATERAL FLATTEN(INPUT => bp.J) bj';

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
  if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(column)) throw new Error(`not a column name: ${column}`);
  return `(${column} = ${BATCH_JOB_PREFIX} OR STARTSWITH(${column}, ${BATCH_JOB_PREFIX} || ':'))`;
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
