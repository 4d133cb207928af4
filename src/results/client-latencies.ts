// GET /api/tests/{id}/client-latencies: the latencies FlakeBench measured on the client, to show next to the
// server percentiles. Two sources, both FlakeBench's own: the summary it wrote into TEST_RESULTS when the test
// ended (P50_LATENCY_MS …, READ_*, WRITE_*, per-operation POINT_LOOKUP_* … GENERIC_SQL_*), and the
// QUERY_EXECUTIONS rows of the measurement phase (WARMUP not true), grouped by QUERY_KIND and — once the
// QUERY_HISTORY enrichment wrote QUERY_PARAMETERIZED_HASH — by kind and pattern, so each server pattern
// (AGGREGATE_QUERY_METRICS, by the same hash) has its client-side counterpart. Latency: DURATION_MS (NOT NULL;
// FlakeBench's client-side time). Percentiles: PERCENTILE_CONT, Snowflake's and FlakeBench's definition
// (linear interpolation between the closest ranks). One statement.
import { sql } from '../db/sql-registry.js';
import type { Row } from '../db/warehouse.js';
import type { Services } from '../services.js';
import { HEAD_COLUMNS, HEAD_CTES, num, readHead, typeAvailability, type TypeAvailability } from './availability.js';
import { cachedTestAnswer } from './read-cache.js';

/** Kind and pattern groups returned at most (a FlakeBench workload has a handful); beyond it `groups_truncated`. */
export const MAX_LATENCY_GROUPS = 500;

/** FlakeBench's per-operation column prefixes in TEST_RESULTS (each with _P50/_P95/_P99/_MIN/_MAX_LATENCY_MS). */
export const RECORDED_OPERATIONS = ['READ', 'WRITE', 'POINT_LOOKUP', 'RANGE_SCAN', 'INSERT', 'UPDATE', 'GENERIC_SQL'] as const;
const OPERATION_STATS = ['P50', 'P95', 'P99', 'MIN', 'MAX'] as const;

const recordedColumns = [
  'TOTAL_OPERATIONS',
  'FAILED_OPERATIONS',
  'AVG_LATENCY_MS',
  'MIN_LATENCY_MS',
  'P50_LATENCY_MS',
  'P90_LATENCY_MS',
  'P95_LATENCY_MS',
  'P99_LATENCY_MS',
  'MAX_LATENCY_MS',
  ...RECORDED_OPERATIONS.flatMap((operation) => OPERATION_STATS.map((stat) => `${operation}_${stat}_LATENCY_MS`)),
];

const percentile = (fraction: number, alias: string) => `PERCENTILE_CONT(${fraction}) WITHIN GROUP (ORDER BY DURATION_MS) AS ${alias}`;
const GROUP_STATS = `COUNT(*) AS N, SUM(IFF(SUCCESS, 0, 1)) AS ERRORS, AVG(DURATION_MS) AS AVG_MS, MIN(DURATION_MS) AS MIN_MS,
    ${percentile(0.5, 'P50_MS')}, ${percentile(0.9, 'P90_MS')}, ${percentile(0.95, 'P95_MS')}, ${percentile(0.99, 'P99_MS')}, MAX(DURATION_MS) AS MAX_MS`;

// TEST_RESULTS has no key: the row of the head's run, the latest when FlakeBench stored it twice.
const READ_CLIENT_LATENCIES = sql(
  'results.client_latencies',
  `WITH ${HEAD_CTES},
c AS (
  SELECT ${recordedColumns.map((column) => `t.${column} AS C_${column}`).join(', ')}
  FROM TEST_RESULTS t JOIN head h ON t.TEST_ID = h.T_TEST_ID AND t.RUN_ID IS NOT DISTINCT FROM h.T_RUN_ID
  ORDER BY t.END_TIME DESC NULLS LAST LIMIT 1
),
e AS (
  SELECT QUERY_KIND, QUERY_PARAMETERIZED_HASH, DURATION_MS, SUCCESS FROM QUERY_EXECUTIONS
  WHERE TEST_ID = ? AND COALESCE(WARMUP, FALSE) = FALSE
),
g AS (
  SELECT 'KIND' AS G_LEVEL, QUERY_KIND AS G_KIND, CAST(NULL AS VARCHAR) AS G_HASH, ${GROUP_STATS}
  FROM e GROUP BY QUERY_KIND
  UNION ALL
  SELECT 'PATTERN' AS G_LEVEL, QUERY_KIND AS G_KIND, QUERY_PARAMETERIZED_HASH AS G_HASH, ${GROUP_STATS}
  FROM e WHERE QUERY_PARAMETERIZED_HASH IS NOT NULL GROUP BY QUERY_KIND, QUERY_PARAMETERIZED_HASH
)
SELECT ${HEAD_COLUMNS}, c.*, g.G_LEVEL, g.G_KIND, g.G_HASH, g.N AS G_N, g.ERRORS AS G_ERRORS, g.AVG_MS AS G_AVG_MS, g.MIN_MS AS G_MIN_MS,
  g.P50_MS AS G_P50_MS, g.P90_MS AS G_P90_MS, g.P95_MS AS G_P95_MS, g.P99_MS AS G_P99_MS, g.MAX_MS AS G_MAX_MS
FROM head h LEFT JOIN c ON 1 = 1 LEFT JOIN g ON 1 = 1
ORDER BY g.G_LEVEL, g.N DESC, g.G_KIND, g.G_HASH
LIMIT ${MAX_LATENCY_GROUPS + 1}`,
);

export interface OperationLatencies {
  p50_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
  min_ms: number | null;
  max_ms: number | null;
}

/** One latency distribution, in milliseconds: the figures FlakeBench records and the per-group reads compute. */
export interface LatencySummary {
  avg_ms: number | null;
  min_ms: number | null;
  p50_ms: number | null;
  p90_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
  max_ms: number | null;
}

export interface RecordedLatencies extends LatencySummary {
  total_operations: number | null;
  failed_operations: number | null;
  /** Per operation prefix (READ, WRITE, POINT_LOOKUP, …); only the ones FlakeBench filled. */
  operations: Record<string, OperationLatencies>;
}

export interface LatencyGroup extends LatencySummary {
  query_kind: string | null;
  /** QUERY_PARAMETERIZED_HASH; null in the per-kind groups. */
  hash: string | null;
  executions: number;
  errors: number;
}

export interface ClientLatencies {
  test_id: string;
  latency_column: 'DURATION_MS';
  percentile_method: 'PERCENTILE_CONT';
  /** TEST_RESULTS' summary as FlakeBench wrote it; null when the test has no TEST_RESULTS row. */
  recorded: RecordedLatencies | null;
  by_kind: LatencyGroup[];
  /** Per kind and pattern hash: empty until QUERY_HISTORY wrote the hashes (see `pattern_availability`). */
  by_pattern: LatencyGroup[];
  groups_truncated: boolean;
  pattern_availability: TypeAvailability;
}

function group(row: Row): LatencyGroup {
  return {
    query_kind: typeof row.G_KIND === 'string' ? row.G_KIND : null,
    hash: typeof row.G_HASH === 'string' ? row.G_HASH : null,
    executions: num(row.G_N) ?? 0,
    errors: num(row.G_ERRORS) ?? 0,
    avg_ms: num(row.G_AVG_MS),
    min_ms: num(row.G_MIN_MS),
    p50_ms: num(row.G_P50_MS),
    p90_ms: num(row.G_P90_MS),
    p95_ms: num(row.G_P95_MS),
    p99_ms: num(row.G_P99_MS),
    max_ms: num(row.G_MAX_MS),
  };
}

function recorded(row: Row): RecordedLatencies | null {
  if (row.T_TEST_ID === null || row.T_TEST_ID === undefined) return null;
  const value = (column: string) => num(row[`C_${column}`]);
  const operations: Record<string, OperationLatencies> = {};
  for (const operation of RECORDED_OPERATIONS) {
    const stats: OperationLatencies = {
      p50_ms: value(`${operation}_P50_LATENCY_MS`),
      p95_ms: value(`${operation}_P95_LATENCY_MS`),
      p99_ms: value(`${operation}_P99_LATENCY_MS`),
      min_ms: value(`${operation}_MIN_LATENCY_MS`),
      max_ms: value(`${operation}_MAX_LATENCY_MS`),
    };
    if (Object.values(stats).some((stat) => stat !== null)) operations[operation] = stats;
  }
  return {
    total_operations: value('TOTAL_OPERATIONS'),
    failed_operations: value('FAILED_OPERATIONS'),
    avg_ms: value('AVG_LATENCY_MS'),
    min_ms: value('MIN_LATENCY_MS'),
    p50_ms: value('P50_LATENCY_MS'),
    p90_ms: value('P90_LATENCY_MS'),
    p95_ms: value('P95_LATENCY_MS'),
    p99_ms: value('P99_LATENCY_MS'),
    max_ms: value('MAX_LATENCY_MS'),
    operations,
  };
}

export function shapeClientLatencies(testId: string, rows: Row[], now: Date): ClientLatencies {
  const head = readHead(testId, rows[0]);
  const groups = rows.filter((row) => row.G_LEVEL === 'KIND' || row.G_LEVEL === 'PATTERN');
  const kept = groups.slice(0, MAX_LATENCY_GROUPS);
  return {
    test_id: testId,
    latency_column: 'DURATION_MS',
    percentile_method: 'PERCENTILE_CONT',
    recorded: recorded(rows[0]!),
    by_kind: kept.filter((row) => row.G_LEVEL === 'KIND').map(group),
    by_pattern: kept.filter((row) => row.G_LEVEL === 'PATTERN').map(group),
    groups_truncated: groups.length > MAX_LATENCY_GROUPS,
    pattern_availability: typeAvailability(head, 'QUERY_HISTORY', now),
  };
}

/** One statement, or none when the read cache holds the rows. */
export async function clientLatencies(services: Services, testId: string): Promise<ClientLatencies> {
  return cachedTestAnswer(services, testId, READ_CLIENT_LATENCIES, [testId, testId, testId], (rows, now) => shapeClientLatencies(testId, rows, now));
}
