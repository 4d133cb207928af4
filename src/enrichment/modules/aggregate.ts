// AGGREGATE: SNOWFLAKE.ACCOUNT_USAGE.AGGREGATE_QUERY_HISTORY → AGGREGATE_QUERY_METRICS (one row per
// parameterized hash), AGGREGATE_TEST_METRICS (test-level server percentiles) and
// TEST_RESULTS.THROTTLED_QUERY_COUNT. This is the view that has the hybrid-table queries QUERY_HISTORY misses.
import { randomUUID } from 'node:crypto';
import { sql } from '../../db/sql-registry.js';
import type { BindValue, Statement } from '../../db/warehouse.js';
import type { QueueJob } from '../../queue/job-state.js';
import { transformAggregateYielding, type AggregateResult, type AggregateSourceRow } from '../aggregate-transform.js';
import type { CombinedStats } from '../aggregate-stats.js';
import { tagBelongsToTest, tagPredicate } from '../query-tags.js';
import type { BatchReadOptions, EnrichmentContext, EnrichmentModule, Fence, ViewNotReady } from '../types.js';
import {
  BATCH_JOB,
  BATCH_JOB_PREFIXES,
  BATCH_JOBS,
  batchBounds,
  batchCaughtUp,
  batchEvidenceWindow,
  batchJobs,
  batchJobsPayload,
  batchLatest,
  batchTagMatch,
  rowsPerJob,
  withExclusivePrefixes,
} from './batch-scope.js';
import { DENSE_CAUGHT_UP, denseEvidenceWindow, denseViewNotReady } from './readiness.js';
import { tagPrefixes, testWindow } from './scope.js';
import { fencedInsert, fencedTestDelete, fencedTestUpdate } from './write-rows.js';

const SOURCE_COLUMNS = `QUERY_PARAMETERIZED_HASH, QUERY_TAG, INTERVAL_START_TIME, INTERVAL_END_TIME, CALLS, EXECUTION_TIME,
  COMPILATION_TIME, TOTAL_ELAPSED_TIME, QUEUED_OVERLOAD_TIME, QUEUED_PROVISIONING_TIME, BYTES_SCANNED, ROWS_PRODUCED,
  ERRORS, HYBRID_TABLE_REQUESTS_THROTTLED_COUNT`;

/**
 * The read, for a given number of tag prefixes (the tag predicate repeats per prefix), with the readiness
 * evidence (readiness.ts) in the same statement: one row CAUGHT_UP = 0 when the view is behind the test, else
 * the view's rows with CAUGHT_UP = 1 (a single all-NULL row when it has none: the LEFT JOIN keeps the evidence).
 */
function readText(prefixCount: number): string {
  const predicate = tagPredicate('QUERY_TAG', Array.from({ length: prefixCount }, (_, i) => `p${i}`)).sql;
  return `SELECT ready.CAUGHT_UP, d.*
FROM (SELECT ${DENSE_CAUGHT_UP.AGGREGATE} AS CAUGHT_UP) ready
LEFT JOIN (
  SELECT ${SOURCE_COLUMNS}
  FROM SNOWFLAKE.ACCOUNT_USAGE.AGGREGATE_QUERY_HISTORY
  WHERE INTERVAL_START_TIME >= CAST(? AS TIMESTAMP_NTZ) AND INTERVAL_START_TIME < CAST(? AS TIMESTAMP_NTZ)
    AND ${predicate}
) d ON ready.CAUGHT_UP > 0`;
}
sql('enrichment.aggregate.read', readText(2));

/**
 * The read of several jobs (readMany): every job's rows, each with its JOB_INDEX (a row inside two jobs' windows
 * comes back once per job; the prefixes are exclusive, so once per job however many of its prefixes it matches),
 * and the view's latest time in the batch's evidence window (batch-scope.ts) on every row. A single row with
 * JOB_INDEX NULL when there are none (the LEFT JOIN keeps the evidence). The first time bounds are the union of
 * the windows, as plain binds, so the view is pruned by time before the per-job conditions.
 */
const READ_MANY = sql(
  'enrichment.aggregate.read_many',
  `SELECT ready.VIEW_LATEST, d.*
FROM (SELECT ${batchLatest('AGGREGATE_QUERY_HISTORY', 'INTERVAL_START_TIME')} AS VIEW_LATEST) ready
LEFT JOIN (
  SELECT ${BATCH_JOB.INDEX} AS JOB_INDEX, ${SOURCE_COLUMNS}
  FROM ${BATCH_JOBS}, ${BATCH_JOB_PREFIXES}, SNOWFLAKE.ACCOUNT_USAGE.AGGREGATE_QUERY_HISTORY
  WHERE INTERVAL_START_TIME >= CAST(? AS TIMESTAMP_NTZ) AND INTERVAL_START_TIME < CAST(? AS TIMESTAMP_NTZ)
    AND INTERVAL_START_TIME >= ${BATCH_JOB.FROM} AND INTERVAL_START_TIME < ${BATCH_JOB.TO}
    AND ${batchTagMatch('QUERY_TAG')}
) d ON ready.VIEW_LATEST IS NOT NULL`,
);

/** The job's source from its view rows, exact prefix match done in SQL: the phase rule (warm-up excluded) applies here. */
function sourceOf(viewRows: readonly AggregateSourceRow[], prefixes: readonly string[], now: Date): AggregateSource {
  return { rows: viewRows.filter((row) => tagBelongsToTest(row.QUERY_TAG, prefixes)), readAt: now };
}

const deleteMetrics = fencedTestDelete('enrichment.aggregate.delete_metrics', 'AGGREGATE_QUERY_METRICS');
const deleteTestMetrics = fencedTestDelete('enrichment.aggregate.delete_test_metrics', 'AGGREGATE_TEST_METRICS');
const updateTest = fencedTestUpdate('enrichment.aggregate.update_test', [{ name: 'THROTTLED_QUERY_COUNT' }]);

const STAT_COLUMNS = ['SUM', 'AVG', 'STDDEV', 'MIN', 'MEDIAN', 'P90', 'P95', 'P99', 'P999', 'MAX'] as const;
type StatColumn = (typeof STAT_COLUMNS)[number];
const STAT_FIELD: Record<StatColumn, keyof CombinedStats> = {
  SUM: 'sum', AVG: 'avg', STDDEV: 'stddev', MIN: 'min', MEDIAN: 'median', P90: 'p90', P95: 'p95', P99: 'p99', P999: 'p999', MAX: 'max',
};

/** The seed's per-family statistic columns of AGGREGATE_QUERY_METRICS, in table order. */
const FAMILIES: ReadonlyArray<{ prefix: string; suffix: string; pick: (p: AggregateResult['patterns'][number]) => CombinedStats; stats: readonly StatColumn[]; integer?: boolean }> = [
  { prefix: 'EXEC', suffix: '_MS', pick: (p) => p.exec, stats: STAT_COLUMNS },
  { prefix: 'COMPILE', suffix: '_MS', pick: (p) => p.compile, stats: ['SUM', 'AVG', 'MIN', 'MEDIAN', 'P90', 'P99', 'MAX'] },
  { prefix: 'ELAPSED', suffix: '_MS', pick: (p) => p.elapsed, stats: ['SUM', 'AVG', 'MIN', 'MEDIAN', 'P90', 'P99', 'MAX'] },
  { prefix: 'QUEUED_OVERLOAD', suffix: '_MS', pick: (p) => p.queuedOverload, stats: ['SUM', 'AVG', 'MAX'] },
  { prefix: 'QUEUED_PROVISIONING', suffix: '_MS', pick: (p) => p.queuedProvisioning, stats: ['SUM', 'AVG', 'MAX'] },
  { prefix: 'BYTES_SCANNED', suffix: '', pick: (p) => p.bytesScanned, stats: ['SUM', 'AVG', 'MAX'], integer: true },
  { prefix: 'ROWS_PRODUCED', suffix: '', pick: (p) => p.rowsProduced, stats: ['SUM', 'AVG', 'MAX'], integer: true },
];

const statColumnNames = FAMILIES.flatMap((family) => family.stats.map((stat) => `${family.prefix}_${stat}${family.suffix}`));

const insertMetrics = fencedInsert('AGGREGATE_QUERY_METRICS', [
  { name: 'METRIC_ID' },
  { name: 'TEST_ID' },
  { name: 'RUN_ID' },
  { name: 'QUERY_PARAMETERIZED_HASH' },
  { name: 'QUERY_TAG' },
  { name: 'INTERVAL_START', kind: 'timestamp' },
  { name: 'INTERVAL_END', kind: 'timestamp' },
  { name: 'INTERVAL_COUNT' },
  { name: 'QUERY_COUNT' },
  { name: 'ERRORS_COUNT' },
  ...statColumnNames.map((name) => ({ name })),
  { name: 'HYBRID_REQUESTS_THROTTLED_COUNT' },
  { name: 'ERRORS_BREAKDOWN', kind: 'variant' },
  { name: 'RAW_SAMPLE', kind: 'variant' },
  { name: 'CREATED_AT', kind: 'timestamp' },
  { name: 'PERCENTILE_METHOD' },
]);

const insertTestMetrics = fencedInsert('AGGREGATE_TEST_METRICS', [
  { name: 'TEST_ID' },
  { name: 'RUN_ID' },
  { name: 'QUERY_COUNT' },
  { name: 'INTERVAL_START', kind: 'timestamp' },
  { name: 'INTERVAL_END', kind: 'timestamp' },
  { name: 'EXEC_AVG_MS' },
  { name: 'EXEC_MIN_MS' },
  { name: 'EXEC_MEDIAN_MS' },
  { name: 'EXEC_P90_MS' },
  { name: 'EXEC_P95_MS' },
  { name: 'EXEC_P99_MS' },
  { name: 'EXEC_P999_MS' },
  { name: 'EXEC_MAX_MS' },
  { name: 'PERCENTILE_METHOD' },
  { name: 'CREATED_AT', kind: 'timestamp' },
]);

/** NUMBER(38,3) columns hold milliseconds to the microsecond; BIGINT columns whole numbers. */
const ms = (value: number | null) => (value === null ? null : Math.round(value * 1000) / 1000);
const whole = (value: number | null) => (value === null ? null : Math.round(value));

/** Rows read, with "now" for the audit columns (the transform itself never reads a clock). */
export interface AggregateSource {
  rows: AggregateSourceRow[];
  readAt: Date;
}
export type AggregateOutput = AggregateResult & { readAt: Date };

export const aggregateModule: EnrichmentModule<AggregateSource, AggregateOutput> = {
  type: 'AGGREGATE',
  view: 'AGGREGATE_QUERY_HISTORY',

  async read(context: EnrichmentContext): Promise<AggregateSource | ViewNotReady> {
    const window = testWindow(context.job);
    const prefixes = await tagPrefixes(context);
    const predicate = tagPredicate('QUERY_TAG', prefixes);
    const rows = await context.warehouse.query<AggregateSourceRow & { CAUGHT_UP: number } & Record<string, never>>(
      readText(prefixes.length),
      [...denseEvidenceWindow(context), window.from, window.to, ...predicate.binds],
      { signal: context.signal, timeoutMs: context.timeoutMs },
    );
    if (Number(rows[0]?.CAUGHT_UP ?? 0) === 0) return denseViewNotReady('AGGREGATE');
    // A view row always has INTERVAL_START_TIME (the WHERE bounds it): a NULL one is the LEFT JOIN's empty side.
    const viewRows = rows.filter((row) => row.INTERVAL_START_TIME !== null).map(({ CAUGHT_UP: _caughtUp, ...row }) => row as AggregateSourceRow);
    return sourceOf(viewRows, prefixes, context.now);
  },

  async readMany(contexts: readonly EnrichmentContext[], options: BatchReadOptions): Promise<Array<AggregateSource | ViewNotReady>> {
    const jobs = await batchJobs(contexts);
    type BatchRow = AggregateSourceRow & { VIEW_LATEST: Date | null; JOB_INDEX: number | null } & Record<string, never>;
    const rows = await options.warehouse.query<BatchRow>(
      READ_MANY,
      [...batchEvidenceWindow(jobs), batchJobsPayload(withExclusivePrefixes(jobs)), ...batchBounds(jobs)],
      { signal: options.signal, timeoutMs: options.timeoutMs },
    );
    const latest = rows[0]?.VIEW_LATEST;
    // A NULL JOB_INDEX is the LEFT JOIN's empty side, not a row of job 0.
    const viewRows = rows
      .filter((row): row is BatchRow & { JOB_INDEX: number } => row.JOB_INDEX !== null)
      .map(({ VIEW_LATEST: _latest, ...row }) => row);
    const perJob = rowsPerJob(viewRows, jobs.length);
    return jobs.map((job, index) => {
      if (!batchCaughtUp(latest, job)) return denseViewNotReady('AGGREGATE');
      const jobRows = (perJob[index] ?? []).map(({ JOB_INDEX: _index, ...row }) => row as AggregateSourceRow);
      return sourceOf(jobRows, job.prefixes, job.context.now);
    });
  },

  // The percentile estimates take seconds for a large test: they yield so the server keeps answering.
  transform: async (source) => ({ ...(await transformAggregateYielding(source.rows)), readAt: source.readAt }),

  rowCount: (output) => output.patterns.length,

  writeStatements(output: AggregateOutput, job: QueueJob, fence: Fence): Statement[] {
    const metricRows: BindValue[][] = output.patterns.map((pattern) => [
      randomUUID(),
      job.testId,
      job.runId,
      pattern.queryParameterizedHash,
      pattern.queryTag,
      pattern.intervalStart,
      pattern.intervalEnd,
      pattern.intervalCount,
      pattern.queryCount,
      pattern.errorsCount,
      ...FAMILIES.flatMap((family) =>
        family.stats.map((stat) => {
          const value = family.pick(pattern)[STAT_FIELD[stat]] as number | null;
          return family.integer ? whole(value) : ms(value);
        }),
      ),
      pattern.throttledCount,
      pattern.errorsBreakdown as unknown as BindValue,
      pattern.rawSample as unknown as BindValue,
      output.readAt,
      pattern.exec.method,
    ]);
    const test = output.test;
    // Every job's writes are the same statements (an empty row set writes nothing), so a batch's jobs merge.
    const testRows: BindValue[][] =
      test.count > 0
        ? [[job.testId, job.runId, test.count, test.intervalStart, test.intervalEnd, ms(test.avg), ms(test.min), ms(test.median), ms(test.p90), ms(test.p95), ms(test.p99), ms(test.p999), ms(test.max), test.method, output.readAt]]
        : [];
    return [
      deleteMetrics(job, fence),
      ...insertMetrics(metricRows, fence),
      deleteTestMetrics(job, fence),
      ...insertTestMetrics(testRows, fence),
      updateTest(job, fence, [output.throttledTotal]),
    ];
  },
};
