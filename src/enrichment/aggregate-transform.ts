// AGGREGATE_QUERY_HISTORY rows of one test → one AGGREGATE_QUERY_METRICS row per parameterized hash, plus the
// test-level server percentiles across all hashes. Pure: the rows come in, plain values go out.
import { combineStatsSteps, type CombinedStats, type RowStats, type WeightedStats } from './aggregate-stats.js';
import { runSteps, runStepsYielding, type Steps } from './steps.js';

/** The columns the AGGREGATE type reads from the view (OBJECT columns already parsed). */
export interface AggregateSourceRow {
  QUERY_PARAMETERIZED_HASH: string;
  QUERY_TAG: string | null;
  INTERVAL_START_TIME: Date;
  INTERVAL_END_TIME: Date;
  CALLS: number;
  EXECUTION_TIME: RowStats | null;
  COMPILATION_TIME: RowStats | null;
  TOTAL_ELAPSED_TIME: RowStats | null;
  QUEUED_OVERLOAD_TIME: RowStats | null;
  QUEUED_PROVISIONING_TIME: RowStats | null;
  BYTES_SCANNED: RowStats | null;
  ROWS_PRODUCED: RowStats | null;
  ERRORS: Array<{ code?: string | number | null; message?: string | null; count?: number | null }> | null;
  HYBRID_TABLE_REQUESTS_THROTTLED_COUNT: number | null;
}

export interface ErrorBreakdownEntry {
  code: string;
  message: string;
  count: number;
}

/** Values for one AGGREGATE_QUERY_METRICS row (ids and audit columns are added by the writer). */
export interface PatternMetrics {
  queryParameterizedHash: string;
  queryTag: string | null;
  intervalStart: Date;
  intervalEnd: Date;
  intervalCount: number;
  queryCount: number;
  errorsCount: number;
  exec: CombinedStats;
  compile: CombinedStats;
  elapsed: CombinedStats;
  queuedOverload: CombinedStats;
  queuedProvisioning: CombinedStats;
  bytesScanned: CombinedStats;
  rowsProduced: CombinedStats;
  throttledCount: number;
  errorsBreakdown: ErrorBreakdownEntry[];
  /** One source row, kept for debugging (seed: RAW_SAMPLE). */
  rawSample: AggregateSourceRow;
}

export interface AggregateResult {
  patterns: PatternMetrics[];
  /** Execution-time statistics across every pattern of the test (same estimate, each pattern's rows kept apart). */
  test: CombinedStats & { intervalStart: Date | null; intervalEnd: Date | null };
  throttledTotal: number;
  errorsTotal: number;
  sourceRows: number;
}

/** Rows as weighted statistics; `byPattern` keeps each hash's distribution apart in a test-level estimate. */
const weighted = (rows: readonly AggregateSourceRow[], pick: (row: AggregateSourceRow) => RowStats | null, byPattern = false): WeightedStats[] =>
  rows.map((row) => ({ calls: row.CALLS, stats: pick(row) ?? {}, ...(byPattern ? { group: row.QUERY_PARAMETERIZED_HASH } : {}) }));

/** Errors merged by code, counts summed; the first message seen for a code is kept. */
export function mergeErrors(rows: readonly AggregateSourceRow[]): ErrorBreakdownEntry[] {
  const byCode = new Map<string, ErrorBreakdownEntry>();
  for (const row of rows) {
    for (const error of row.ERRORS ?? []) {
      const code = String(error.code ?? 'UNKNOWN');
      const count = typeof error.count === 'number' && Number.isFinite(error.count) ? error.count : 0;
      const entry = byCode.get(code);
      if (entry) entry.count += count;
      else byCode.set(code, { code, message: error.message ?? '', count });
    }
  }
  return [...byCode.values()].sort((a, b) => b.count - a.count || a.code.localeCompare(b.code));
}

function mostCommon(values: ReadonlyArray<string | null>): string | null {
  const counts = new Map<string, number>();
  for (const value of values) if (value !== null) counts.set(value, (counts.get(value) ?? 0) + 1);
  let best: string | null = null;
  let bestCount = 0;
  for (const [value, count] of [...counts.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    if (count > bestCount) {
      best = value;
      bestCount = count;
    }
  }
  return best;
}

const minuteKey = (date: Date) => Math.floor(date.getTime() / 60_000);

/** AGGREGATE_QUERY_METRICS keeps only SUM, AVG and MAX of these statistics (modules/aggregate.ts FAMILIES). */
const SUMS_ONLY = { percentiles: false } as const;

export function transformAggregate(rows: readonly AggregateSourceRow[]): AggregateResult {
  return runSteps(transformAggregateSteps(rows));
}

/**
 * The same result, handing the event loop back every few milliseconds: the percentile estimates of a large
 * test take seconds of CPU (bench/fidelity.ts measures the longest synchronous stretch), which would otherwise
 * stall every request and socket of the server.
 */
export function transformAggregateYielding(rows: readonly AggregateSourceRow[]): Promise<AggregateResult> {
  return runStepsYielding(transformAggregateSteps(rows));
}

function* transformAggregateSteps(rows: readonly AggregateSourceRow[]): Steps<AggregateResult> {
  const byHash = new Map<string, AggregateSourceRow[]>();
  for (const row of rows) {
    const list = byHash.get(row.QUERY_PARAMETERIZED_HASH);
    if (list) list.push(row);
    else byHash.set(row.QUERY_PARAMETERIZED_HASH, [row]);
  }
  const patterns: PatternMetrics[] = [];
  for (const [hash, group] of [...byHash.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const ordered = [...group].sort((a, b) => a.INTERVAL_START_TIME.getTime() - b.INTERVAL_START_TIME.getTime());
    const errorsBreakdown = mergeErrors(ordered);
    patterns.push({
      queryParameterizedHash: hash,
      queryTag: mostCommon(ordered.map((row) => row.QUERY_TAG)),
      intervalStart: ordered[0]!.INTERVAL_START_TIME,
      intervalEnd: new Date(Math.max(...ordered.map((row) => row.INTERVAL_END_TIME.getTime()))),
      intervalCount: new Set(ordered.map((row) => minuteKey(row.INTERVAL_START_TIME))).size,
      queryCount: ordered.reduce((acc, row) => acc + row.CALLS, 0),
      errorsCount: errorsBreakdown.reduce((acc, entry) => acc + entry.count, 0),
      exec: (yield* combineStatsSteps(weighted(ordered, (row) => row.EXECUTION_TIME))),
      compile: (yield* combineStatsSteps(weighted(ordered, (row) => row.COMPILATION_TIME))),
      elapsed: (yield* combineStatsSteps(weighted(ordered, (row) => row.TOTAL_ELAPSED_TIME))),
      queuedOverload: (yield* combineStatsSteps(weighted(ordered, (row) => row.QUEUED_OVERLOAD_TIME), SUMS_ONLY)),
      queuedProvisioning: (yield* combineStatsSteps(weighted(ordered, (row) => row.QUEUED_PROVISIONING_TIME), SUMS_ONLY)),
      bytesScanned: (yield* combineStatsSteps(weighted(ordered, (row) => row.BYTES_SCANNED), SUMS_ONLY)),
      rowsProduced: (yield* combineStatsSteps(weighted(ordered, (row) => row.ROWS_PRODUCED), SUMS_ONLY)),
      throttledCount: ordered.reduce((acc, row) => acc + (row.HYBRID_TABLE_REQUESTS_THROTTLED_COUNT ?? 0), 0),
      errorsBreakdown,
      rawSample: ordered[0]!,
    });
  }
  const test = (yield* combineStatsSteps(weighted(rows, (row) => row.EXECUTION_TIME, true)));
  return {
    patterns,
    test: {
      ...test,
      intervalStart: rows.length > 0 ? new Date(Math.min(...rows.map((row) => row.INTERVAL_START_TIME.getTime()))) : null,
      intervalEnd: rows.length > 0 ? new Date(Math.max(...rows.map((row) => row.INTERVAL_END_TIME.getTime()))) : null,
    },
    throttledTotal: patterns.reduce((acc, pattern) => acc + pattern.throttledCount, 0),
    errorsTotal: patterns.reduce((acc, pattern) => acc + pattern.errorsCount, 0),
    sourceRows: rows.length,
  };
}
