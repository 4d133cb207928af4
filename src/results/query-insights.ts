// GET /api/tests/{id}/query-insights: the test's QUERY_INSIGHTS_CACHE rows sorted by severity (HIGH,
// MEDIUM, LOW, then by affected queries), with counts by severity over all rows (window sums, so a capped
// list still counts everything). One statement: head + the rows.
import { sql } from '../db/sql-registry.js';
import type { Row } from '../db/warehouse.js';
import type { Services } from '../services.js';
import { HEAD_COLUMNS, HEAD_CTES, iso, num, readHead, typeAvailability, type AvailabilityState, type TypeAvailability } from './availability.js';
import { cachedTestAnswer } from './read-cache.js';

/** One row per (insight type, query pattern): tens per test; the cap bounds a pathological one. */
export const MAX_INSIGHTS = 500;
export const SEVERITIES = ['HIGH', 'MEDIUM', 'LOW'] as const;

const SEVERITY_RANK = `CASE INSIGHT_SEVERITY WHEN 'HIGH' THEN 0 WHEN 'MEDIUM' THEN 1 WHEN 'LOW' THEN 2 ELSE 3 END`;

const READ_INSIGHTS = sql(
  'results.query_insights',
  `WITH ${HEAD_CTES},
i AS (
  SELECT INSIGHT_ID, INSIGHT_TYPE, INSIGHT_CATEGORY, INSIGHT_SEVERITY, QUERY_PARAMETERIZED_HASH, QUERY_ID, QUERY_TEXT,
    RECOMMENDATION, RECOMMENDATION_DETAILS, AFFECTED_QUERY_COUNT, EXPIRES_AT, ${SEVERITY_RANK} AS SEVERITY_RANK,
    COUNT(*) OVER () AS ALL_N,
    SUM(IFF(INSIGHT_SEVERITY = 'HIGH', 1, 0)) OVER () AS HIGH_N,
    SUM(IFF(INSIGHT_SEVERITY = 'MEDIUM', 1, 0)) OVER () AS MEDIUM_N,
    SUM(IFF(INSIGHT_SEVERITY = 'LOW', 1, 0)) OVER () AS LOW_N,
    SUM(AFFECTED_QUERY_COUNT) OVER () AS AFFECTED_N
  FROM QUERY_INSIGHTS_CACHE WHERE TEST_ID = ?
  ORDER BY SEVERITY_RANK, AFFECTED_QUERY_COUNT DESC NULLS LAST, INSIGHT_TYPE, INSIGHT_ID LIMIT ${MAX_INSIGHTS}
)
SELECT ${HEAD_COLUMNS}, i.INSIGHT_ID AS I_ID, i.INSIGHT_TYPE AS I_TYPE, i.INSIGHT_CATEGORY AS I_CATEGORY,
  i.INSIGHT_SEVERITY AS I_SEVERITY, i.QUERY_PARAMETERIZED_HASH AS I_HASH, i.QUERY_ID AS I_QUERY_ID, i.QUERY_TEXT AS I_QUERY_TEXT,
  i.RECOMMENDATION AS I_RECOMMENDATION, i.RECOMMENDATION_DETAILS AS I_DETAILS, i.AFFECTED_QUERY_COUNT AS I_AFFECTED,
  i.EXPIRES_AT AS I_EXPIRES_AT, i.SEVERITY_RANK AS I_RANK, i.ALL_N, i.HIGH_N, i.MEDIUM_N, i.LOW_N, i.AFFECTED_N
FROM head h LEFT JOIN i ON 1 = 1
ORDER BY i.SEVERITY_RANK, i.AFFECTED_QUERY_COUNT DESC NULLS LAST, i.INSIGHT_TYPE, i.INSIGHT_ID`,
);

export interface InsightItem {
  insight_id: string;
  insight_type: string;
  category: string | null;
  severity: string | null;
  query_parameterized_hash: string | null;
  query_id: string | null;
  query_text: string | null;
  recommendation: string | null;
  suggestions: string[];
  is_opportunity: boolean | null;
  affected_query_count: number | null;
  expires_at: string | null;
}

export interface InsightCounts {
  total: number;
  HIGH: number;
  MEDIUM: number;
  LOW: number;
  /** Σ AFFECTED_QUERY_COUNT: queries the insights cover. */
  affected_queries: number;
}

export interface QueryInsights {
  test_id: string;
  status: AvailabilityState;
  expected_at: string | null;
  minutes_remaining: number | null;
  reason: string | null;
  counts: InsightCounts | null;
  insights: InsightItem[];
  insights_truncated: boolean;
  availability: TypeAvailability;
}

const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);

function insightOf(row: Row): InsightItem {
  const details = (row.I_DETAILS ?? null) as { suggestions?: unknown; is_opportunity?: unknown } | null;
  const suggestions = Array.isArray(details?.suggestions) ? details.suggestions.filter((s): s is string => typeof s === 'string') : [];
  return {
    insight_id: String(row.I_ID),
    insight_type: String(row.I_TYPE),
    category: text(row.I_CATEGORY),
    severity: text(row.I_SEVERITY),
    query_parameterized_hash: text(row.I_HASH),
    query_id: text(row.I_QUERY_ID),
    query_text: text(row.I_QUERY_TEXT),
    recommendation: text(row.I_RECOMMENDATION),
    suggestions,
    is_opportunity: typeof details?.is_opportunity === 'boolean' ? details.is_opportunity : null,
    affected_query_count: num(row.I_AFFECTED),
    expires_at: iso(row.I_EXPIRES_AT as Date | null),
  };
}

export function shapeQueryInsights(testId: string, rows: Row[], now: Date): QueryInsights {
  const head = readHead(testId, rows[0]);
  const availability = typeAvailability(head, 'QUERY_INSIGHTS', now);
  const base = { test_id: testId, status: availability.status, expected_at: availability.expected_at, minutes_remaining: availability.minutes_remaining, reason: availability.reason, availability };
  if (availability.status !== 'COMPLETED') return { ...base, counts: null, insights: [], insights_truncated: false };
  const insightRows = rows.filter((row) => row.I_ID !== null && row.I_ID !== undefined);
  const first = insightRows[0];
  const counts: InsightCounts = {
    total: num(first?.ALL_N) ?? 0,
    HIGH: num(first?.HIGH_N) ?? 0,
    MEDIUM: num(first?.MEDIUM_N) ?? 0,
    LOW: num(first?.LOW_N) ?? 0,
    affected_queries: num(first?.AFFECTED_N) ?? 0,
  };
  return { ...base, counts, insights: insightRows.map(insightOf), insights_truncated: counts.total > insightRows.length };
}

/** One statement, or none when the read cache holds the rows. */
export async function queryInsights(services: Services, testId: string): Promise<QueryInsights> {
  return cachedTestAnswer(services, testId, READ_INSIGHTS, [testId, testId, testId], (rows, now) => shapeQueryInsights(testId, rows, now));
}
