// GET /api/tests/{id}/server-metrics: FlakeBench's `aggregate_metrics` shape from the AGGREGATE enrichment.
// Test-level median/p90/p95/p99 are AGGREGATE_TEST_METRICS (the mixture-CDF estimate across all patterns the
// AGGREGATE module stores), never a MAX or AVG of per-pattern percentiles; the seed view
// V_AGGREGATE_QUERY_STATS gives the totals, the weighted average and the worst pattern's p95/p99; averages
// of compile and queue times are weighted (Σsum / Σcount over the patterns that report them).
// One statement: head + test metrics + view + weighted averages + the pattern rows.
import { limitClause } from '../db/limit.js';
import { sql } from '../db/sql-registry.js';
import type { Row } from '../db/warehouse.js';
import type { Services } from '../services.js';
import { HEAD_COLUMNS, HEAD_CTES, num, readHead, typeAvailability, type AvailabilityState, type TypeAvailability } from './availability.js';
import { cachedTestAnswer } from './read-cache.js';

/** Patterns returned per test (a FlakeBench workload has tens); beyond it `patterns_truncated` is true. */
export const MAX_PATTERNS = 500;

const weighted = (sumColumn: string) => `SUM(${sumColumn}) / NULLIF(SUM(IFF(${sumColumn} IS NULL, 0, QUERY_COUNT)), 0)`;

function metricsText(patternLimit: number): string {
  return `WITH ${HEAD_CTES},
m AS (
  SELECT QUERY_COUNT, EXEC_AVG_MS, EXEC_MIN_MS, EXEC_MEDIAN_MS, EXEC_P90_MS, EXEC_P95_MS, EXEC_P99_MS, EXEC_P999_MS, EXEC_MAX_MS,
    PERCENTILE_METHOD, INTERVAL_START, INTERVAL_END
  FROM AGGREGATE_TEST_METRICS WHERE TEST_ID = ?
),
v AS (
  SELECT unique_query_patterns, total_queries, total_exec_ms, weighted_avg_exec_ms, max_exec_ms, worst_p95_exec_ms,
    worst_p99_exec_ms, total_throttled_requests, total_errors, max_queued_overload_ms
  FROM V_AGGREGATE_QUERY_STATS WHERE TEST_ID = ?
),
a AS (
  SELECT ${weighted('COMPILE_SUM_MS')} AS COMPILE_AVG_MS, MIN(COMPILE_MIN_MS) AS COMPILE_MIN_MS, MAX(COMPILE_MAX_MS) AS COMPILE_MAX_MS,
    ${weighted('QUEUED_OVERLOAD_SUM_MS')} AS QUEUED_OVERLOAD_AVG_MS,
    ${weighted('QUEUED_PROVISIONING_SUM_MS')} AS QUEUED_PROVISIONING_AVG_MS, MAX(QUEUED_PROVISIONING_MAX_MS) AS QUEUED_PROVISIONING_MAX_MS
  FROM AGGREGATE_QUERY_METRICS WHERE TEST_ID = ?
),
p AS (
  SELECT QUERY_PARAMETERIZED_HASH, QUERY_COUNT, ERRORS_COUNT, EXEC_AVG_MS, EXEC_MIN_MS, EXEC_MEDIAN_MS, EXEC_P90_MS, EXEC_P95_MS,
    EXEC_P99_MS, EXEC_MAX_MS, COMPILE_AVG_MS, COMPILE_MAX_MS, QUEUED_OVERLOAD_AVG_MS, QUEUED_OVERLOAD_MAX_MS,
    QUEUED_PROVISIONING_AVG_MS, QUEUED_PROVISIONING_MAX_MS, HYBRID_REQUESTS_THROTTLED_COUNT, PERCENTILE_METHOD
  FROM AGGREGATE_QUERY_METRICS WHERE TEST_ID = ?
  ORDER BY QUERY_COUNT DESC, QUERY_PARAMETERIZED_HASH ${limitClause(patternLimit, MAX_PATTERNS + 1)}
)
SELECT ${HEAD_COLUMNS},
  m.QUERY_COUNT AS M_QUERY_COUNT, m.EXEC_AVG_MS AS M_EXEC_AVG_MS, m.EXEC_MIN_MS AS M_EXEC_MIN_MS, m.EXEC_MEDIAN_MS AS M_EXEC_MEDIAN_MS,
  m.EXEC_P90_MS AS M_EXEC_P90_MS, m.EXEC_P95_MS AS M_EXEC_P95_MS, m.EXEC_P99_MS AS M_EXEC_P99_MS, m.EXEC_P999_MS AS M_EXEC_P999_MS,
  m.EXEC_MAX_MS AS M_EXEC_MAX_MS, m.PERCENTILE_METHOD AS M_PERCENTILE_METHOD, m.INTERVAL_START AS M_INTERVAL_START,
  m.INTERVAL_END AS M_INTERVAL_END,
  v.unique_query_patterns AS V_UNIQUE_QUERY_PATTERNS, v.total_queries AS V_TOTAL_QUERIES, v.total_exec_ms AS V_TOTAL_EXEC_MS,
  v.weighted_avg_exec_ms AS V_WEIGHTED_AVG_EXEC_MS, v.max_exec_ms AS V_MAX_EXEC_MS, v.worst_p95_exec_ms AS V_WORST_P95_EXEC_MS,
  v.worst_p99_exec_ms AS V_WORST_P99_EXEC_MS, v.total_throttled_requests AS V_TOTAL_THROTTLED_REQUESTS,
  v.total_errors AS V_TOTAL_ERRORS, v.max_queued_overload_ms AS V_MAX_QUEUED_OVERLOAD_MS,
  a.COMPILE_AVG_MS AS A_COMPILE_AVG_MS, a.COMPILE_MIN_MS AS A_COMPILE_MIN_MS, a.COMPILE_MAX_MS AS A_COMPILE_MAX_MS,
  a.QUEUED_OVERLOAD_AVG_MS AS A_QUEUED_OVERLOAD_AVG_MS, a.QUEUED_PROVISIONING_AVG_MS AS A_QUEUED_PROVISIONING_AVG_MS,
  a.QUEUED_PROVISIONING_MAX_MS AS A_QUEUED_PROVISIONING_MAX_MS,
  p.QUERY_PARAMETERIZED_HASH AS P_HASH, p.QUERY_COUNT AS P_QUERY_COUNT, p.ERRORS_COUNT AS P_ERRORS_COUNT,
  p.EXEC_AVG_MS AS P_EXEC_AVG_MS, p.EXEC_MIN_MS AS P_EXEC_MIN_MS, p.EXEC_MEDIAN_MS AS P_EXEC_MEDIAN_MS,
  p.EXEC_P90_MS AS P_EXEC_P90_MS, p.EXEC_P95_MS AS P_EXEC_P95_MS, p.EXEC_P99_MS AS P_EXEC_P99_MS, p.EXEC_MAX_MS AS P_EXEC_MAX_MS,
  p.COMPILE_AVG_MS AS P_COMPILE_AVG_MS, p.COMPILE_MAX_MS AS P_COMPILE_MAX_MS, p.QUEUED_OVERLOAD_AVG_MS AS P_QUEUED_OVERLOAD_AVG_MS,
  p.QUEUED_OVERLOAD_MAX_MS AS P_QUEUED_OVERLOAD_MAX_MS, p.QUEUED_PROVISIONING_AVG_MS AS P_QUEUED_PROVISIONING_AVG_MS,
  p.QUEUED_PROVISIONING_MAX_MS AS P_QUEUED_PROVISIONING_MAX_MS, p.HYBRID_REQUESTS_THROTTLED_COUNT AS P_THROTTLED,
  p.PERCENTILE_METHOD AS P_PERCENTILE_METHOD
FROM head h LEFT JOIN m ON 1 = 1 LEFT JOIN v ON 1 = 1 LEFT JOIN a ON 1 = 1 LEFT JOIN p ON 1 = 1
ORDER BY p.QUERY_COUNT DESC, p.QUERY_PARAMETERIZED_HASH`;
}
const READ_METRICS = sql('results.server_metrics', metricsText(MAX_PATTERNS + 1));

export interface PatternMetrics {
  hash: string;
  query_count: number;
  errors_count: number;
  exec_avg_ms: number | null;
  exec_min_ms: number | null;
  exec_median_ms: number | null;
  exec_p90_ms: number | null;
  exec_p95_ms: number | null;
  exec_p99_ms: number | null;
  exec_max_ms: number | null;
  compile_avg_ms: number | null;
  compile_max_ms: number | null;
  queued_overload_avg_ms: number | null;
  queued_overload_max_ms: number | null;
  queued_provisioning_avg_ms: number | null;
  queued_provisioning_max_ms: number | null;
  throttled_requests: number | null;
  percentile_method: string | null;
}

export interface AggregateMetrics {
  unique_query_patterns: number;
  total_queries: number;
  total_exec_ms: number | null;
  exec_avg_ms: number | null;
  exec_min_ms: number | null;
  exec_median_ms: number | null;
  exec_p90_ms: number | null;
  exec_p95_ms: number | null;
  exec_p99_ms: number | null;
  exec_p999_ms: number | null;
  exec_max_ms: number | null;
  worst_p95_exec_ms: number | null;
  worst_p99_exec_ms: number | null;
  compile_avg_ms: number | null;
  compile_min_ms: number | null;
  compile_max_ms: number | null;
  queued_overload_avg_ms: number | null;
  queued_overload_max_ms: number | null;
  queued_provisioning_avg_ms: number | null;
  queued_provisioning_max_ms: number | null;
  total_throttled_requests: number;
  total_errors: number;
  interval_start: string | null;
  interval_end: string | null;
  patterns: PatternMetrics[];
  patterns_truncated: boolean;
}

export interface ServerMetrics {
  test_id: string;
  status: AvailabilityState;
  expected_at: string | null;
  minutes_remaining: number | null;
  reason: string | null;
  /** How the test-level percentiles were estimated (EXACT_SINGLE_ROW, ORDER_STATISTICS_EM); null until the data is there. */
  percentile_method: string | null;
  /** FlakeBench's shape; null until the AGGREGATE enrichment completed. */
  aggregate_metrics: AggregateMetrics | null;
  availability: TypeAvailability;
}

function pattern(row: Row): PatternMetrics {
  return {
    hash: String(row.P_HASH),
    query_count: num(row.P_QUERY_COUNT) ?? 0,
    errors_count: num(row.P_ERRORS_COUNT) ?? 0,
    exec_avg_ms: num(row.P_EXEC_AVG_MS),
    exec_min_ms: num(row.P_EXEC_MIN_MS),
    exec_median_ms: num(row.P_EXEC_MEDIAN_MS),
    exec_p90_ms: num(row.P_EXEC_P90_MS),
    exec_p95_ms: num(row.P_EXEC_P95_MS),
    exec_p99_ms: num(row.P_EXEC_P99_MS),
    exec_max_ms: num(row.P_EXEC_MAX_MS),
    compile_avg_ms: num(row.P_COMPILE_AVG_MS),
    compile_max_ms: num(row.P_COMPILE_MAX_MS),
    queued_overload_avg_ms: num(row.P_QUEUED_OVERLOAD_AVG_MS),
    queued_overload_max_ms: num(row.P_QUEUED_OVERLOAD_MAX_MS),
    queued_provisioning_avg_ms: num(row.P_QUEUED_PROVISIONING_AVG_MS),
    queued_provisioning_max_ms: num(row.P_QUEUED_PROVISIONING_MAX_MS),
    throttled_requests: num(row.P_THROTTLED),
    percentile_method: typeof row.P_PERCENTILE_METHOD === 'string' ? row.P_PERCENTILE_METHOD : null,
  };
}

export function shapeServerMetrics(testId: string, rows: Row[], now: Date): ServerMetrics {
  const head = readHead(testId, rows[0]);
  const availability = typeAvailability(head, 'AGGREGATE', now);
  const base = { test_id: testId, status: availability.status, expected_at: availability.expected_at, minutes_remaining: availability.minutes_remaining, reason: availability.reason, availability };
  if (availability.status !== 'COMPLETED') return { ...base, percentile_method: null, aggregate_metrics: null };
  const first = rows[0]!;
  const patternRows = rows.filter((row) => row.P_HASH !== null && row.P_HASH !== undefined);
  const method = typeof first.M_PERCENTILE_METHOD === 'string' ? first.M_PERCENTILE_METHOD : null;
  const date = (value: unknown) => (value instanceof Date ? value.toISOString() : null);
  const metrics: AggregateMetrics = {
    unique_query_patterns: num(first.V_UNIQUE_QUERY_PATTERNS) ?? 0,
    total_queries: num(first.V_TOTAL_QUERIES) ?? 0,
    total_exec_ms: num(first.V_TOTAL_EXEC_MS),
    exec_avg_ms: num(first.V_WEIGHTED_AVG_EXEC_MS),
    exec_min_ms: num(first.M_EXEC_MIN_MS),
    exec_median_ms: num(first.M_EXEC_MEDIAN_MS),
    exec_p90_ms: num(first.M_EXEC_P90_MS),
    exec_p95_ms: num(first.M_EXEC_P95_MS),
    exec_p99_ms: num(first.M_EXEC_P99_MS),
    exec_p999_ms: num(first.M_EXEC_P999_MS),
    exec_max_ms: num(first.V_MAX_EXEC_MS) ?? num(first.M_EXEC_MAX_MS),
    worst_p95_exec_ms: num(first.V_WORST_P95_EXEC_MS),
    worst_p99_exec_ms: num(first.V_WORST_P99_EXEC_MS),
    compile_avg_ms: num(first.A_COMPILE_AVG_MS),
    compile_min_ms: num(first.A_COMPILE_MIN_MS),
    compile_max_ms: num(first.A_COMPILE_MAX_MS),
    queued_overload_avg_ms: num(first.A_QUEUED_OVERLOAD_AVG_MS),
    queued_overload_max_ms: num(first.V_MAX_QUEUED_OVERLOAD_MS),
    queued_provisioning_avg_ms: num(first.A_QUEUED_PROVISIONING_AVG_MS),
    queued_provisioning_max_ms: num(first.A_QUEUED_PROVISIONING_MAX_MS),
    total_throttled_requests: num(first.V_TOTAL_THROTTLED_REQUESTS) ?? 0,
    total_errors: num(first.V_TOTAL_ERRORS) ?? 0,
    interval_start: date(first.M_INTERVAL_START),
    interval_end: date(first.M_INTERVAL_END),
    patterns: patternRows.slice(0, MAX_PATTERNS).map(pattern),
    patterns_truncated: patternRows.length > MAX_PATTERNS,
  };
  return { ...base, percentile_method: method, aggregate_metrics: metrics };
}

/** One statement, or none when the read cache holds the rows. */
export async function serverMetrics(services: Services, testId: string): Promise<ServerMetrics> {
  return cachedTestAnswer(services, testId, READ_METRICS, [testId, testId, testId, testId, testId, testId], (rows, now) => shapeServerMetrics(testId, rows, now));
}
