// What a job contains: the enrichment types a table type gets, the view each type reads, and when each
// type is due (test end + documented view latency + buffer, both scaled by LATENCY_SCALE).
import type { Config } from '../config.js';
import { HYBRID_USAGE_WINDOW_MS, sourceView, type SourceViewName } from '../sources/account-usage.js';

export const ENRICHMENT_TYPES = ['QUERY_HISTORY', 'AGGREGATE', 'LOCK_CONTENTION', 'HYBRID_CREDITS', 'QUERY_INSIGHTS'] as const;
export type EnrichmentType = (typeof ENRICHMENT_TYPES)[number];

export const TABLE_TYPES = ['STANDARD', 'HYBRID', 'UNISTORE', 'INTERACTIVE', 'DYNAMIC', 'POSTGRES'] as const;
export type TableType = (typeof TABLE_TYPES)[number];

/** The ACCOUNT_USAGE view each type reads (its latency sets the due time; its probe gates the type). */
export const SOURCE_VIEW_OF_TYPE: Readonly<Record<EnrichmentType, SourceViewName>> = {
  QUERY_HISTORY: 'QUERY_HISTORY',
  AGGREGATE: 'AGGREGATE_QUERY_HISTORY',
  LOCK_CONTENTION: 'LOCK_WAIT_HISTORY',
  HYBRID_CREDITS: 'HYBRID_TABLE_USAGE_HISTORY',
  QUERY_INSIGHTS: 'QUERY_INSIGHTS',
};

const ALL_FIVE: readonly EnrichmentType[] = ENRICHMENT_TYPES;
const NON_HYBRID: readonly EnrichmentType[] = ['QUERY_HISTORY', 'AGGREGATE', 'QUERY_INSIGHTS'];

/** Seed section 5.1: hybrid tables get lock and credit enrichment too; POSTGRES gets none. */
export function typesForTableType(tableType: TableType): readonly EnrichmentType[] {
  switch (tableType) {
    case 'HYBRID':
    case 'UNISTORE':
      return ALL_FIVE;
    case 'STANDARD':
    case 'INTERACTIVE':
    case 'DYNAMIC':
      return NON_HYBRID;
    case 'POSTGRES':
      return [];
  }
}

export function isEnrichmentType(value: string): value is EnrichmentType {
  return (ENRICHMENT_TYPES as readonly string[]).includes(value);
}

export function isTableType(value: string): value is TableType {
  return (TABLE_TYPES as readonly string[]).includes(value);
}

/** Latency + buffer of one type in milliseconds, scaled. */
export function typeDelayMs(config: Pick<Config, 'bufferMinutes' | 'latencyScale'>, type: EnrichmentType): number {
  const view = sourceView(SOURCE_VIEW_OF_TYPE[type]);
  const buffer =
    type === 'QUERY_HISTORY'
      ? config.bufferMinutes.queryHistory
      : type === 'QUERY_INSIGHTS'
        ? config.bufferMinutes.queryInsights
        : config.bufferMinutes.accountUsage3h;
  return Math.round((view.latencyMinutes + buffer) * 60_000 * config.latencyScale);
}

export function typeDueAt(config: Pick<Config, 'bufferMinutes' | 'latencyScale'>, type: EnrichmentType, testEnd: Date): Date {
  return new Date(typeClockStart(config, type, testEnd) + typeDelayMs(config, type));
}

/**
 * Where a type's latency counts from: the test's end, except for HYBRID_CREDITS, whose usage arrives in
 * windows published only after they close, so it counts from the close of the window holding the end
 * (scaled like the latencies: the simulator compresses the whole timeline).
 */
function typeClockStart(config: Pick<Config, 'latencyScale'>, type: EnrichmentType, testEnd: Date): number {
  if (type !== 'HYBRID_CREDITS') return testEnd.getTime();
  const windowMs = usageWindowMs(config);
  return Math.ceil(testEnd.getTime() / windowMs) * windowMs;
}

/** The HYBRID_TABLE_USAGE_HISTORY window length on this timeline (scaled; at least one second). */
export function usageWindowMs(config: Pick<Config, 'latencyScale'>): number {
  return Math.max(1000, Math.round(HYBRID_USAGE_WINDOW_MS * config.latencyScale));
}

/**
 * When not-ready types give up. DEADLINE_HOURS is scaled like the latencies: the simulator compresses
 * the whole timeline, and a 24 h deadline against 22-second "3 hours" would never be reached.
 */
export function deadlineAt(config: Pick<Config, 'deadlineMs' | 'latencyScale'>, testEnd: Date): Date {
  return new Date(testEnd.getTime() + Math.round(config.deadlineMs * config.latencyScale));
}
