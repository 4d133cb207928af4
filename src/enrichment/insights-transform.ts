// QUERY_INSIGHTS rows of one test → QUERY_INSIGHTS_CACHE rows (one per insight type and parameterized hash)
// and the TEST_RESULTS counts. Pure.
//
// The view has no QUERY_TAG, QUERY_TEXT, RECOMMENDATION or QUERY_COUNT: rows are found through the test's
// query ids, the text comes from QUERY_HISTORY, the recommendation from SUGGESTIONS (or MESSAGE when there
// are none), the count from distinct query ids.

export type InsightSeverity = 'HIGH' | 'MEDIUM' | 'LOW';

/**
 * Severity is not a column of QUERY_INSIGHTS; this table is the service's judgement, in one place:
 * HIGH — the query does far more work than it needs (remote spill, exploding or condition-less joins);
 * MEDIUM — any other insight that Snowflake flags as an opportunity; LOW — informational insights (e.g. an
 * optimization that was used).
 */
export const HIGH_SEVERITY_INSIGHTS: ReadonlySet<string> = new Set([
  'QUERY_INSIGHT_REMOTE_SPILLAGE',
  'QUERY_INSIGHT_EXPLODING_JOIN',
  'QUERY_INSIGHT_NESTED_EXPLODING_JOIN',
  'QUERY_INSIGHT_JOIN_WITH_NO_JOIN_CONDITION',
]);

export function insightSeverity(insightTypeId: string, isOpportunity: boolean | null): InsightSeverity {
  if (HIGH_SEVERITY_INSIGHTS.has(insightTypeId)) return 'HIGH';
  return isOpportunity === false ? 'LOW' : 'MEDIUM';
}

export interface InsightSourceRow {
  QUERY_ID: string;
  QUERY_PARAMETERIZED_HASH: string | null;
  INSIGHT_TYPE_ID: string;
  INSIGHT_TOPIC: string | null;
  MESSAGE: unknown;
  SUGGESTIONS: unknown;
  IS_OPPORTUNITY: boolean | null;
}

export interface InsightCacheRow {
  insightType: string;
  insightCategory: string | null;
  insightSeverity: InsightSeverity;
  queryId: string;
  queryParameterizedHash: string | null;
  queryText: string | null;
  recommendation: string;
  recommendationDetails: { message: unknown; suggestions: string[]; is_opportunity: boolean | null };
  affectedQueryCount: number;
  rawInsight: InsightSourceRow;
}

const SEVERITY_ORDER: Record<InsightSeverity, number> = { HIGH: 0, MEDIUM: 1, LOW: 2 };

function suggestionsOf(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string' && item.trim() !== '') : [];
}

function messageText(message: unknown): string {
  if (typeof message === 'string') return message;
  if (message === null || message === undefined) return '';
  return JSON.stringify(message);
}

export function transformInsights(
  rows: readonly InsightSourceRow[],
  queryTextById: ReadonlyMap<string, string>,
): { rows: InsightCacheRow[]; count: number; highSeverityCount: number } {
  const groups = new Map<string, InsightSourceRow[]>();
  for (const row of rows) {
    const key = `${row.INSIGHT_TYPE_ID}\u0000${row.QUERY_PARAMETERIZED_HASH ?? row.QUERY_ID}`;
    const list = groups.get(key);
    if (list) list.push(row);
    else groups.set(key, [row]);
  }
  const out: InsightCacheRow[] = [];
  for (const group of groups.values()) {
    const ordered = [...group].sort((a, b) => a.QUERY_ID.localeCompare(b.QUERY_ID));
    const first = ordered[0]!;
    const suggestions = [...new Set(ordered.flatMap((row) => suggestionsOf(row.SUGGESTIONS)))];
    const isOpportunity = ordered.some((row) => row.IS_OPPORTUNITY === true) ? true : first.IS_OPPORTUNITY;
    const recommendation = suggestions.length > 0 ? suggestions.join(' ') : messageText(first.MESSAGE) || first.INSIGHT_TYPE_ID;
    out.push({
      insightType: first.INSIGHT_TYPE_ID,
      insightCategory: first.INSIGHT_TOPIC,
      insightSeverity: insightSeverity(first.INSIGHT_TYPE_ID, isOpportunity),
      queryId: first.QUERY_ID,
      queryParameterizedHash: first.QUERY_PARAMETERIZED_HASH,
      queryText: queryTextById.get(first.QUERY_ID) ?? null,
      recommendation,
      recommendationDetails: { message: first.MESSAGE ?? null, suggestions, is_opportunity: isOpportunity },
      affectedQueryCount: new Set(ordered.map((row) => row.QUERY_ID)).size,
      rawInsight: first,
    });
  }
  out.sort(
    (a, b) =>
      SEVERITY_ORDER[a.insightSeverity] - SEVERITY_ORDER[b.insightSeverity] ||
      b.affectedQueryCount - a.affectedQueryCount ||
      a.insightType.localeCompare(b.insightType),
  );
  return { rows: out, count: out.length, highSeverityCount: out.filter((row) => row.insightSeverity === 'HIGH').length };
}
