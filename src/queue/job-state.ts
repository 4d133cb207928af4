// The queue row as the processor sees it, and the per-type state kept in its TYPE_STATE column.
import type { JsonObject, JsonValue, Row } from '../db/warehouse.js';
import type { RunTestTag } from '../enrichment/query-tags.js';
import type { EnrichmentType } from './plan.js';

export const JOB_STATUSES = ['PENDING', 'IN_PROGRESS', 'COMPLETED', 'FAILED', 'SKIPPED', 'NOT_APPLICABLE'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const TERMINAL_STATUSES: readonly JobStatus[] = ['COMPLETED', 'FAILED', 'SKIPPED', 'NOT_APPLICABLE'];

export function isTerminal(status: string): boolean {
  return (TERMINAL_STATUSES as readonly string[]).includes(status);
}

/** One type's state inside a job. Times are ISO strings (it is stored as VARIANT). */
export interface TypeState {
  status: JobStatus;
  /** Attempts spent (counted at claim; not-ready checks and released claims give theirs back). */
  attempts: number;
  due_at: string;
  last_error: string | null;
  rows: number | null;
  completed_at: string | null;
  /** Readiness checks that found the view behind (spaces the next checks out). */
  not_ready_checks?: number;
}

export type TypeStates = Partial<Record<EnrichmentType, TypeState>>;

export interface ErrorRecord {
  type: string;
  attempt: number;
  at: string;
  error: string;
  retryable: boolean;
}

export interface QueueJob {
  jobId: string;
  testId: string;
  runId: string;
  tableType: string;
  status: JobStatus;
  testEndTime: Date;
  testStartTime: Date | null;
  types: EnrichmentType[];
  typeState: TypeStates;
  errorHistory: ErrorRecord[];
  attempts: number;
  priority: number;
  deadlineAt: Date | null;
  nextDueAt: Date | null;
  claimId: string | null;
  claimedBy: string | null;
  leaseExpiresAt: Date | null;
  lastError: string | null;
  tagPrefixes: string[] | null;
  targetTable: string | null;
  targetDatabase: string | null;
  targetSchema: string | null;
  createdAt: Date | null;
  completedAt: Date | null;
  /**
   * The TEST_RESULTS rows of the job's run that decide its QUERY_TAG prefixes (enrichment/query-tags.ts):
   * read together with the claim, so no type asks for them again. Undefined where the job was read
   * without them (the enrichment modules then read them themselves).
   */
  runTags?: RunTestTag[];
  /** Whether the test's own TEST_RESULTS row existed when the claim read it (undefined: not read with it). */
  testStored?: boolean;
}

export const JOB_COLUMNS = `JOB_ID, TEST_ID, RUN_ID, TABLE_TYPE, STATUS, TEST_END_TIME, TEST_START_TIME, ENRICHMENT_TYPES,
TYPE_STATE, ERROR_HISTORY, ATTEMPTS, PRIORITY, DEADLINE_AT, NEXT_DUE_AT, CLAIM_ID, CLAIMED_BY, LEASE_EXPIRES_AT,
LAST_ERROR, TAG_PREFIXES, TARGET_TABLE, TARGET_DATABASE, TARGET_SCHEMA, CREATED_AT, COMPLETED_AT`;

const asDate = (value: JsonValue | Date | undefined): Date | null => (value instanceof Date ? value : null);
const asString = (value: JsonValue | Date | undefined): string | null => (typeof value === 'string' ? value : null);

export function toQueueJob(row: Row): QueueJob {
  return {
    jobId: String(row.JOB_ID),
    testId: String(row.TEST_ID),
    runId: String(row.RUN_ID),
    tableType: String(row.TABLE_TYPE),
    status: String(row.STATUS) as JobStatus,
    testEndTime: row.TEST_END_TIME as Date,
    testStartTime: asDate(row.TEST_START_TIME),
    types: (Array.isArray(row.ENRICHMENT_TYPES) ? row.ENRICHMENT_TYPES : []) as EnrichmentType[],
    typeState: ((row.TYPE_STATE as JsonObject | null) ?? {}) as unknown as TypeStates,
    errorHistory: (Array.isArray(row.ERROR_HISTORY) ? row.ERROR_HISTORY : []) as unknown as ErrorRecord[],
    attempts: Number(row.ATTEMPTS ?? 0),
    priority: Number(row.PRIORITY ?? 100),
    deadlineAt: asDate(row.DEADLINE_AT),
    nextDueAt: asDate(row.NEXT_DUE_AT),
    claimId: asString(row.CLAIM_ID),
    claimedBy: asString(row.CLAIMED_BY),
    leaseExpiresAt: asDate(row.LEASE_EXPIRES_AT),
    lastError: asString(row.LAST_ERROR),
    tagPrefixes: Array.isArray(row.TAG_PREFIXES) ? (row.TAG_PREFIXES as string[]) : null,
    targetTable: asString(row.TARGET_TABLE),
    targetDatabase: asString(row.TARGET_DATABASE),
    targetSchema: asString(row.TARGET_SCHEMA),
    createdAt: asDate(row.CREATED_AT),
    completedAt: asDate(row.COMPLETED_AT),
  };
}

/** Earliest due time among the non-terminal types (NULL when every type is terminal). */
export function nextDue(states: TypeStates): Date | null {
  let best: number | null = null;
  for (const state of Object.values(states)) {
    if (!state || isTerminal(state.status)) continue;
    const at = Date.parse(state.due_at);
    if (best === null || at < best) best = at;
  }
  return best === null ? null : new Date(best);
}
