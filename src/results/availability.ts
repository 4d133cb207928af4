// Whether a test's data of one enrichment type is there yet, and when it is expected: the shared part of
// every per-test read. Each route's statement starts with HEAD_CTES (the test's TEST_RESULTS row and its
// latest queue row, one row even when neither exists) and joins its own data to `head`, so one statement
// answers both "what is the state" and "what are the numbers".
//
// States: PENDING, IN_PROGRESS, COMPLETED (possibly zero rows), NOT_APPLICABLE (with the reason), FAILED
// (with the error) come from the job's TYPE_STATE; SKIPPED is a cancelled job; NOT_QUEUED a test that
// exists but was never enqueued (or whose job was purged). A job removed by retention cleanup falls back to
// the TEST_RESULTS summary status.
import type { JsonValue, Row } from '../db/warehouse.js';
import { HttpProblem } from '../http/problem.js';
import type { TypeState, TypeStates } from '../queue/job-state.js';
import { isTableType, typesForTableType, type EnrichmentType } from '../queue/plan.js';

export const AVAILABILITY_STATES = ['PENDING', 'IN_PROGRESS', 'COMPLETED', 'NOT_APPLICABLE', 'FAILED', 'SKIPPED', 'NOT_QUEUED'] as const;
export type AvailabilityState = (typeof AVAILABILITY_STATES)[number];

/** Test ids are VARCHAR(36) in TEST_RESULTS; the route schemas enforce the same bounds. */
export const TEST_ID_MAX_LENGTH = 36;

/**
 * The test and its latest job, as one row (columns T_* and Q_*, all NULL when the test is unknown).
 * Binds: [test_id, test_id]. The TEST_RESULTS row of the job's run is preferred when the id has several.
 */
export const HEAD_CTES = `q AS (
  SELECT JOB_ID, RUN_ID, STATUS, TABLE_TYPE, ENRICHMENT_TYPES, TYPE_STATE, ATTEMPTS, LAST_ERROR, EARLIEST_ENRICHMENT_TIME,
    NEXT_DUE_AT, COMPLETED_AT, CLAIMED_BY, LEASE_EXPIRES_AT, CREATED_AT
  FROM DELAYED_ENRICHMENT_QUEUE WHERE TEST_ID = ?
  ORDER BY CREATED_AT DESC NULLS LAST, JOB_ID DESC LIMIT 1
),
tr AS (
  SELECT t.TEST_ID, t.RUN_ID, t.TEST_NAME, t.TABLE_TYPE, t.TABLE_NAME, t.START_TIME, t.END_TIME, t.DELAYED_ENRICHMENT_STATUS,
    t.DELAYED_ENRICHMENT_ERROR, t.DELAYED_ENRICHMENT_COMPLETED_AT, t.AGGREGATE_ENRICHMENT_STATUS
  FROM TEST_RESULTS t LEFT JOIN q ON q.RUN_ID = t.RUN_ID
  WHERE t.TEST_ID = ?
  ORDER BY IFF(q.RUN_ID IS NULL, 1, 0), t.END_TIME DESC NULLS LAST LIMIT 1
),
head AS (
  SELECT tr.TEST_ID AS T_TEST_ID, tr.RUN_ID AS T_RUN_ID, tr.TEST_NAME AS T_TEST_NAME, tr.TABLE_TYPE AS T_TABLE_TYPE,
    tr.TABLE_NAME AS T_TABLE_NAME, tr.START_TIME AS T_START_TIME, tr.END_TIME AS T_END_TIME,
    tr.DELAYED_ENRICHMENT_STATUS AS T_DELAYED_STATUS, tr.DELAYED_ENRICHMENT_ERROR AS T_DELAYED_ERROR,
    tr.DELAYED_ENRICHMENT_COMPLETED_AT AS T_DELAYED_COMPLETED_AT, tr.AGGREGATE_ENRICHMENT_STATUS AS T_AGGREGATE_STATUS,
    q.JOB_ID AS Q_JOB_ID, q.RUN_ID AS Q_RUN_ID, q.STATUS AS Q_STATUS, q.TABLE_TYPE AS Q_TABLE_TYPE,
    q.ENRICHMENT_TYPES AS Q_ENRICHMENT_TYPES, q.TYPE_STATE AS Q_TYPE_STATE, q.ATTEMPTS AS Q_ATTEMPTS,
    q.LAST_ERROR AS Q_LAST_ERROR, q.EARLIEST_ENRICHMENT_TIME AS Q_EARLIEST_ENRICHMENT_TIME, q.NEXT_DUE_AT AS Q_NEXT_DUE_AT,
    q.COMPLETED_AT AS Q_COMPLETED_AT, q.CLAIMED_BY AS Q_CLAIMED_BY, q.LEASE_EXPIRES_AT AS Q_LEASE_EXPIRES_AT
  FROM (SELECT 1 AS ONE) base LEFT JOIN q ON 1 = 1 LEFT JOIN tr ON 1 = 1
)`;

export const HEAD_COLUMNS = `h.T_TEST_ID, h.T_RUN_ID, h.T_TEST_NAME, h.T_TABLE_TYPE, h.T_TABLE_NAME, h.T_START_TIME, h.T_END_TIME,
  h.T_DELAYED_STATUS, h.T_DELAYED_ERROR, h.T_DELAYED_COMPLETED_AT, h.T_AGGREGATE_STATUS, h.Q_JOB_ID, h.Q_RUN_ID, h.Q_STATUS,
  h.Q_TABLE_TYPE, h.Q_ENRICHMENT_TYPES, h.Q_TYPE_STATE, h.Q_ATTEMPTS, h.Q_LAST_ERROR, h.Q_EARLIEST_ENRICHMENT_TIME,
  h.Q_NEXT_DUE_AT, h.Q_COMPLETED_AT, h.Q_CLAIMED_BY, h.Q_LEASE_EXPIRES_AT`;

export interface TestRow {
  runId: string | null;
  testName: string | null;
  tableType: string | null;
  tableName: string | null;
  startTime: Date | null;
  endTime: Date | null;
  delayedStatus: string | null;
  delayedError: string | null;
  delayedCompletedAt: Date | null;
  aggregateStatus: string | null;
}

export interface JobRow {
  jobId: string;
  runId: string;
  status: string;
  tableType: string;
  types: EnrichmentType[];
  typeState: TypeStates;
  attempts: number;
  lastError: string | null;
  earliestEnrichmentTime: Date | null;
  nextDueAt: Date | null;
  completedAt: Date | null;
  claimedBy: string | null;
  leaseExpiresAt: Date | null;
}

export interface TestHead {
  testId: string;
  test: TestRow | null;
  job: JobRow | null;
}

const date = (value: JsonValue | Date | undefined): Date | null => (value instanceof Date ? value : null);
const text = (value: JsonValue | Date | undefined): string | null => (typeof value === 'string' ? value : null);

/** Reads the head columns of a result row; 404 naming the test when neither a test row nor a job exists. */
/** Whether a head row names a known test: it has a TEST_RESULTS row or a job. */
export function isKnownTest(row: Row | undefined): boolean {
  return row !== undefined && ((row.T_TEST_ID !== null && row.T_TEST_ID !== undefined) || (row.Q_JOB_ID !== null && row.Q_JOB_ID !== undefined));
}

export function readHead(testId: string, row: Row | undefined): TestHead {
  if (!row || !isKnownTest(row)) throw new HttpProblem(404, `Test '${testId}' not found`);
  const hasTest = row.T_TEST_ID !== null && row.T_TEST_ID !== undefined;
  const test: TestRow | null = hasTest
    ? {
        runId: text(row.T_RUN_ID),
        testName: text(row.T_TEST_NAME),
        tableType: text(row.T_TABLE_TYPE),
        tableName: text(row.T_TABLE_NAME),
        startTime: date(row.T_START_TIME),
        endTime: date(row.T_END_TIME),
        delayedStatus: text(row.T_DELAYED_STATUS),
        delayedError: text(row.T_DELAYED_ERROR),
        delayedCompletedAt: date(row.T_DELAYED_COMPLETED_AT),
        aggregateStatus: text(row.T_AGGREGATE_STATUS),
      }
    : null;
  const job: JobRow | null = row.Q_JOB_ID !== null && row.Q_JOB_ID !== undefined
    ? {
        jobId: String(row.Q_JOB_ID),
        runId: String(row.Q_RUN_ID),
        status: String(row.Q_STATUS),
        tableType: String(row.Q_TABLE_TYPE),
        types: (Array.isArray(row.Q_ENRICHMENT_TYPES) ? row.Q_ENRICHMENT_TYPES : []) as EnrichmentType[],
        typeState: ((row.Q_TYPE_STATE as Record<string, unknown> | null) ?? {}) as unknown as TypeStates,
        attempts: Number(row.Q_ATTEMPTS ?? 0),
        lastError: text(row.Q_LAST_ERROR),
        earliestEnrichmentTime: date(row.Q_EARLIEST_ENRICHMENT_TIME),
        nextDueAt: date(row.Q_NEXT_DUE_AT),
        completedAt: date(row.Q_COMPLETED_AT),
        claimedBy: text(row.Q_CLAIMED_BY),
        leaseExpiresAt: date(row.Q_LEASE_EXPIRES_AT),
      }
    : null;
  return { testId, test, job };
}

/** Whole minutes from now until `at`, rounded up; 0 once it has passed (never negative). */
export function minutesUntil(at: Date | null, now: Date): number | null {
  if (at === null) return null;
  return Math.max(0, Math.ceil((at.getTime() - now.getTime()) / 60_000));
}

/**
 * The first instant after `now` at which a `minutes_remaining` shaped from this head changes: the only part
 * of a per-test answer that depends on the clock (the read cache reuses an answer until then). Each value
 * is ceil((due − now) / 1 min) of an unfinished type's due time (or the latest of them), so it drops by one
 * at due − k min; once due it stays 0.
 */
export function answerStableUntil(head: TestHead, now: Date): number {
  let until = Number.POSITIVE_INFINITY;
  const job = head.job;
  if (!job) return until;
  for (const type of job.types) {
    const state = job.typeState[type];
    if (!state || (state.status !== 'PENDING' && state.status !== 'IN_PROGRESS')) continue;
    const due = Date.parse(state.due_at);
    if (Number.isNaN(due)) continue;
    const minutes = minutesUntil(new Date(due), now)!;
    if (minutes === 0) continue;
    until = Math.min(until, due - (minutes - 1) * 60_000);
  }
  return until;
}

export interface TypeAvailability {
  type: EnrichmentType;
  status: AvailabilityState;
  /** When the data is expected (the type's due time) while it is PENDING or IN_PROGRESS; null otherwise. */
  expected_at: string | null;
  /** Minutes until expected_at (0 when it is due or past); null when nothing is expected. */
  minutes_remaining: number | null;
  /** Why the state is what it is (not-applicable reason, error, "not queued", "view not ready"...). */
  reason: string | null;
  attempts: number | null;
  due_at: string | null;
  rows: number | null;
  last_error: string | null;
  completed_at: string | null;
}

const tableTypeOf = (head: TestHead): string | null => (head.job?.tableType ?? head.test?.tableType ?? null)?.toUpperCase() ?? null;

/** Whether the type belongs to the test's table type at all (null: unknown table type). */
function appliesTo(tableType: string | null, type: EnrichmentType): boolean | null {
  if (tableType === null || !isTableType(tableType)) return null;
  return typesForTableType(tableType).includes(type);
}

function notApplicable(type: EnrichmentType, reason: string): TypeAvailability {
  return { type, status: 'NOT_APPLICABLE', expected_at: null, minutes_remaining: null, reason, attempts: null, due_at: null, rows: null, last_error: null, completed_at: null };
}

function fromState(type: EnrichmentType, state: TypeState, job: JobRow, now: Date): TypeAvailability {
  const base = {
    type,
    attempts: state.attempts ?? 0,
    due_at: state.due_at ?? null,
    rows: state.rows ?? null,
    last_error: state.last_error ?? null,
    completed_at: state.completed_at ?? null,
  };
  const due = state.due_at ? new Date(state.due_at) : null;
  // A claim's opening (the types it took marked IN_PROGRESS) is saved with its first type's write
  // (processor/runner.ts): until then a due type of a job held under a live lease is being worked on all the same.
  const heldByClaim =
    state.status === 'PENDING' && job.status === 'IN_PROGRESS' && job.leaseExpiresAt !== null && job.leaseExpiresAt > now && due !== null && due <= now;
  const status = heldByClaim ? 'IN_PROGRESS' : state.status;
  switch (status) {
    case 'PENDING':
    case 'IN_PROGRESS': {
      const waiting = status === 'PENDING' && state.last_error?.startsWith('not ready:') ? state.last_error : null;
      const retrying = status === 'PENDING' && !waiting && state.last_error ? `retrying after: ${state.last_error}` : null;
      return {
        ...base,
        status,
        expected_at: due?.toISOString() ?? null,
        minutes_remaining: minutesUntil(due, now),
        reason: waiting ?? retrying ?? (status === 'IN_PROGRESS' ? `being enriched by ${job.claimedBy ?? 'a processor'}` : null),
      };
    }
    case 'COMPLETED':
      return { ...base, status: 'COMPLETED', expected_at: null, minutes_remaining: null, reason: null };
    case 'NOT_APPLICABLE':
      return { ...base, status: 'NOT_APPLICABLE', expected_at: null, minutes_remaining: null, reason: state.last_error ?? `${type} does not apply to this test` };
    case 'FAILED':
      return { ...base, status: 'FAILED', expected_at: null, minutes_remaining: null, reason: state.last_error ?? `${type} failed` };
    case 'SKIPPED':
      return { ...base, status: 'SKIPPED', expected_at: null, minutes_remaining: null, reason: state.last_error ?? 'the job was cancelled' };
  }
}

/** The availability of one enrichment type's data for the test. */
export function typeAvailability(head: TestHead, type: EnrichmentType, now: Date): TypeAvailability {
  const tableType = tableTypeOf(head);
  const job = head.job;
  if (job) {
    const state = job.typeState[type];
    if (!job.types.includes(type) || !state) {
      return notApplicable(type, `${type} is not part of this test's delayed enrichment (table type ${job.tableType})`);
    }
    return fromState(type, state, job, now);
  }
  // No job: never queued, purged, or removed by retention cleanup after it ended.
  const applies = appliesTo(tableType, type);
  if (applies === false) {
    return notApplicable(type, tableType === 'POSTGRES' ? 'POSTGRES tests have no Snowflake ACCOUNT_USAGE data' : `${type} does not apply to ${tableType} tables`);
  }
  const summary = type === 'AGGREGATE' ? (head.test?.aggregateStatus ?? head.test?.delayedStatus) : head.test?.delayedStatus;
  if (summary === 'NOT_APPLICABLE') return notApplicable(type, head.test?.delayedError ?? 'the test is not applicable for delayed enrichment');
  if (summary === 'COMPLETED' || summary === 'FAILED' || summary === 'SKIPPED') {
    // The job row is gone (retention cleanup); TEST_RESULTS keeps the outcome, without per-type detail.
    return {
      type,
      status: summary,
      expected_at: null,
      minutes_remaining: null,
      reason: summary === 'COMPLETED' ? null : (head.test?.delayedError ?? `delayed enrichment ${summary.toLowerCase()}`),
      attempts: null,
      due_at: null,
      rows: null,
      last_error: head.test?.delayedError ?? null,
      completed_at: head.test?.delayedCompletedAt?.toISOString() ?? null,
    };
  }
  return {
    type,
    status: 'NOT_QUEUED',
    expected_at: null,
    minutes_remaining: null,
    reason: 'the test has no delayed-enrichment job (enqueue it with POST /api/enrichment/jobs)',
    attempts: null,
    due_at: null,
    rows: null,
    last_error: null,
    completed_at: null,
  };
}

/** The job's status as the test's delayed-enrichment status (the job is the source; TEST_RESULTS otherwise). */
export function overallStatus(head: TestHead): AvailabilityState {
  const known = (value: string | null | undefined): value is AvailabilityState =>
    value !== null && value !== undefined && (AVAILABILITY_STATES as readonly string[]).includes(value);
  if (head.job && known(head.job.status)) return head.job.status;
  if (known(head.test?.delayedStatus)) return head.test!.delayedStatus;
  if (tableTypeOf(head) === 'POSTGRES') return 'NOT_APPLICABLE';
  return 'NOT_QUEUED';
}

/** The latest due time among the job's unfinished types: when all of its data is expected. */
export function expectedCompletion(job: JobRow | null): Date | null {
  if (!job) return null;
  let latest: number | null = null;
  for (const type of job.types) {
    const state = job.typeState[type];
    if (!state || (state.status !== 'PENDING' && state.status !== 'IN_PROGRESS')) continue;
    const at = Date.parse(state.due_at);
    if (!Number.isNaN(at) && (latest === null || at > latest)) latest = at;
  }
  return latest === null ? null : new Date(latest);
}

export const iso = (value: Date | null | undefined): string | null => (value instanceof Date ? value.toISOString() : null);

/** A finite number from a result value (NUMBER columns may arrive as decimal strings), else null. */
export function num(value: JsonValue | Date | undefined): number | null {
  if (value === null || value === undefined || value instanceof Date) return null;
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN;
  return Number.isFinite(n) ? n : null;
}

/** Ids that may exceed 2^53 (NUMBER(38,0) transaction ids) as strings. */
export function idText(value: JsonValue | Date | undefined): string | null {
  if (value === null || value === undefined || value instanceof Date) return null;
  return String(value);
}
