// The jobs API's reads: the list over the seed view V_DELAYED_ENRICHMENT_STATUS (filters, keyset
// pagination) and one job's detail from its queue row, shaped as snake_case JSON.
import { createHash } from 'node:crypto';
import { limitClause } from '../db/limit.js';
import { sql, sqlSample } from '../db/sql-registry.js';
import type { BindValue, Row } from '../db/warehouse.js';
import { HttpProblem } from '../http/problem.js';
import type { Services } from '../services.js';
import { JOB_COLUMNS, toQueueJob, type ErrorRecord, type JobStatus, type QueueJob } from '../queue/job-state.js';
import { typeDueAt, type EnrichmentType, type TableType } from '../queue/plan.js';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;

export interface JobFilters {
  status?: JobStatus;
  test_id?: string;
  run_id?: string;
  table_type?: TableType;
}

/** Which job and test a job entry describes (every job shape starts with it). */
export interface JobIdentity {
  job_id: string;
  test_id: string;
  run_id: string;
  test_name: string | null;
  table_type: string;
  status: string;
}

export interface JobListItem extends JobIdentity {
  test_end_time: string;
  earliest_enrichment_time: string;
  minutes_until_eligible: number;
  attempts: number;
  last_error: string | null;
  claimed_by: string | null;
  claimed_at: string | null;
  immediate_enrichment_status: string | null;
  delayed_enrichment_status: string | null;
}

export interface JobPage {
  jobs: JobListItem[];
  next_cursor: string | null;
}

// Filters are fixed fragments (values always bound); the view's order is (EARLIEST_ENRICHMENT_TIME, JOB_ID).
const FILTER_SQL: Record<keyof JobFilters, string> = {
  status: 'STATUS = ?',
  test_id: 'TEST_ID = ?',
  run_id: 'RUN_ID = ?',
  table_type: 'TABLE_TYPE = ?',
};
const FILTER_NAMES = Object.keys(FILTER_SQL) as Array<keyof JobFilters>;
const AFTER_CURSOR =
  '(EARLIEST_ENRICHMENT_TIME > CAST(? AS TIMESTAMP_NTZ) OR (EARLIEST_ENRICHMENT_TIME = CAST(? AS TIMESTAMP_NTZ) AND JOB_ID > ?))';

/**
 * The view's minutes_until_eligible uses CURRENT_TIMESTAMP; the service's "now" is its clock (tests and
 * the simulator move it), so the same difference is computed here with "now" bound.
 */
function listText(conditions: string[], limit: number): string {
  return `SELECT JOB_ID, TEST_ID, RUN_ID, TEST_NAME, TABLE_TYPE, STATUS, TEST_END_TIME, EARLIEST_ENRICHMENT_TIME,
  TIMESTAMPDIFF('minute', CAST(? AS TIMESTAMP_NTZ), EARLIEST_ENRICHMENT_TIME) AS MINUTES_UNTIL_ELIGIBLE,
  ATTEMPTS, LAST_ERROR, CLAIMED_BY, CLAIMED_AT,
  IMMEDIATE_ENRICHMENT_STATUS AS IMMEDIATE_ENRICHMENT_STATUS, DELAYED_ENRICHMENT_STATUS AS DELAYED_ENRICHMENT_STATUS
FROM V_DELAYED_ENRICHMENT_STATUS${conditions.length > 0 ? `\nWHERE ${conditions.join(' AND ')}` : ''}
ORDER BY EARLIEST_ENRICHMENT_TIME, JOB_ID
${limitClause(limit, MAX_PAGE_SIZE + 1)}`;
}
sqlSample('results.jobs.list', listText([...FILTER_NAMES.map((name) => FILTER_SQL[name]), AFTER_CURSOR], DEFAULT_PAGE_SIZE + 1));

// --- cursor -------------------------------------------------------------------------------------------
// Opaque to clients: base64url of [earliest_enrichment_time, job_id, check]. The check (a hash of the
// position and the filters) turns an edited or truncated cursor, or one reused with other filters, into a
// 400 instead of a silently different page. It is not a secret: a forged cursor only moves the position.

interface Position {
  at: Date;
  jobId: string;
}

function filtersKey(filters: JobFilters): string {
  return FILTER_NAMES.map((name) => `${name}=${filters[name] ?? ''}`).join('&');
}

function check(at: string, jobId: string, filters: JobFilters): string {
  return createHash('sha256').update(`${at}|${jobId}|${filtersKey(filters)}`).digest('base64url').slice(0, 16);
}

export function encodeCursor(position: Position, filters: JobFilters): string {
  const at = position.at.toISOString();
  return Buffer.from(JSON.stringify([at, position.jobId, check(at, position.jobId, filters)]), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string, filters: JobFilters): Position {
  const invalid = () => new HttpProblem(400, 'cursor is not a cursor this list issued (use next_cursor of the previous page, with the same filters)');
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(parsed) || parsed.length !== 3 || !parsed.every((part) => typeof part === 'string')) throw invalid();
  const [at, jobId, sum] = parsed as [string, string, string];
  const date = new Date(at);
  // Four-digit years only: the engines' timestamps cannot hold JavaScript's extended years.
  if (!/^\d{4}-/.test(at) || Number.isNaN(date.getTime()) || date.toISOString() !== at || jobId === '' || jobId.length > 36) throw invalid();
  if (sum !== check(at, jobId, filters)) throw invalid();
  return { at: date, jobId };
}

// --- list ---------------------------------------------------------------------------------------------

const iso = (value: unknown): string | null => (value instanceof Date ? value.toISOString() : null);
const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);

/** The identity of a job read as a queue job, its test's name from the row's TEST_NAME. */
function jobIdentity(job: QueueJob, row: Row): JobIdentity {
  return { job_id: job.jobId, test_id: job.testId, run_id: job.runId, test_name: text(row.TEST_NAME), table_type: job.tableType, status: job.status };
}

function toListItem(row: Row): JobListItem {
  return {
    job_id: String(row.JOB_ID),
    test_id: String(row.TEST_ID),
    run_id: String(row.RUN_ID),
    test_name: text(row.TEST_NAME),
    table_type: String(row.TABLE_TYPE),
    status: String(row.STATUS),
    test_end_time: iso(row.TEST_END_TIME)!,
    earliest_enrichment_time: iso(row.EARLIEST_ENRICHMENT_TIME)!,
    minutes_until_eligible: Number(row.MINUTES_UNTIL_ELIGIBLE),
    attempts: Number(row.ATTEMPTS ?? 0),
    last_error: text(row.LAST_ERROR),
    claimed_by: text(row.CLAIMED_BY),
    claimed_at: iso(row.CLAIMED_AT),
    immediate_enrichment_status: text(row.IMMEDIATE_ENRICHMENT_STATUS),
    delayed_enrichment_status: text(row.DELAYED_ENRICHMENT_STATUS),
  };
}

/** One page of jobs in the view's order; `next_cursor` is null on the last page. */
export async function listJobs(services: Services, options: JobFilters & { cursor?: string; limit?: number }): Promise<JobPage> {
  const limit = options.limit ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) throw new HttpProblem(400, `limit must be an integer from 1 to ${MAX_PAGE_SIZE}`);
  const filters: JobFilters = {};
  for (const name of FILTER_NAMES) if (options[name] !== undefined) Object.assign(filters, { [name]: options[name] });
  const conditions: string[] = [];
  const binds: BindValue[] = [services.clock.now()];
  for (const name of FILTER_NAMES) {
    const value = filters[name];
    if (value === undefined) continue;
    conditions.push(FILTER_SQL[name]);
    binds.push(value);
  }
  if (options.cursor !== undefined) {
    const after = decodeCursor(options.cursor, filters);
    conditions.push(AFTER_CURSOR);
    binds.push(after.at, after.at, after.jobId);
  }
  // One row more than the page tells whether another page follows.
  const rows = await services.warehouse.query(listText(conditions, limit + 1), binds);
  const jobs = rows.slice(0, limit).map(toListItem);
  const last = jobs.at(-1);
  const next = rows.length > limit && last ? encodeCursor({ at: new Date(last.earliest_enrichment_time), jobId: last.job_id }, filters) : null;
  return { jobs, next_cursor: next };
}

// --- detail -------------------------------------------------------------------------------------------

const QUEUE_COLUMNS = JOB_COLUMNS.split(',')
  .map((column) => `q.${column.trim()}`)
  .join(', ');

// TEST_RESULTS has no key: the name comes from a scalar subquery so a test stored twice is still one job.
const READ_JOB_DETAIL = sql(
  'results.jobs.detail',
  `SELECT ${QUEUE_COLUMNS}, q.EARLIEST_ENRICHMENT_TIME, q.CLAIMED_AT, q.LAST_ATTEMPT_AT, q.UPDATED_AT,
  (SELECT MIN(tr.TEST_NAME) FROM TEST_RESULTS tr WHERE tr.TEST_ID = q.TEST_ID AND tr.RUN_ID = q.RUN_ID) AS TEST_NAME
FROM DELAYED_ENRICHMENT_QUEUE q
WHERE q.JOB_ID = ?`,
);

export interface TypeDetail {
  type: string;
  status: string;
  attempts: number;
  due_at: string;
  rows: number | null;
  last_error: string | null;
  completed_at: string | null;
  not_ready_checks: number;
}

export interface JobDetail extends JobIdentity {
  priority: number;
  attempts: number;
  max_attempts_per_type: number;
  test_start_time: string | null;
  test_end_time: string;
  earliest_enrichment_time: string | null;
  next_due_at: string | null;
  deadline_at: string | null;
  created_at: string | null;
  updated_at: string | null;
  last_attempt_at: string | null;
  completed_at: string | null;
  last_error: string | null;
  lease: { claimed_by: string | null; claimed_at: string | null; expires_at: string | null; held: boolean; expired: boolean };
  types: TypeDetail[];
  error_history: ErrorRecord[];
}

/** Each of the job's types with its state; a type without state yet is PENDING at its planned due time. */
function typeDetails(services: Services, job: QueueJob): TypeDetail[] {
  return job.types.map((type: EnrichmentType) => {
    const state = job.typeState[type];
    return {
      type,
      status: state?.status ?? 'PENDING',
      attempts: state?.attempts ?? 0,
      due_at: state?.due_at ?? typeDueAt(services.config, type, job.testEndTime).toISOString(),
      rows: state?.rows ?? null,
      last_error: state?.last_error ?? null,
      completed_at: state?.completed_at ?? null,
      not_ready_checks: state?.not_ready_checks ?? 0,
    };
  });
}

/** One job with its per-type state, due times, lease and error history; 404 when there is no such job. */
export async function jobDetail(services: Services, jobId: string): Promise<JobDetail> {
  const [row] = await services.warehouse.query(READ_JOB_DETAIL, [jobId]);
  if (!row) throw new HttpProblem(404, `job ${jobId} does not exist`);
  const job = toQueueJob(row);
  const now = services.clock.now().getTime();
  const types = typeDetails(services, job);
  const held = job.claimId !== null;
  return {
    ...jobIdentity(job, row),
    priority: job.priority,
    attempts: job.attempts,
    max_attempts_per_type: services.config.maxAttempts,
    test_start_time: iso(job.testStartTime),
    test_end_time: iso(job.testEndTime)!,
    earliest_enrichment_time: iso(row.EARLIEST_ENRICHMENT_TIME),
    next_due_at: iso(job.nextDueAt),
    deadline_at: iso(job.deadlineAt),
    created_at: iso(job.createdAt),
    updated_at: iso(row.UPDATED_AT),
    last_attempt_at: iso(row.LAST_ATTEMPT_AT),
    completed_at: iso(job.completedAt),
    last_error: job.lastError,
    lease: {
      claimed_by: job.claimedBy,
      claimed_at: iso(row.CLAIMED_AT),
      expires_at: iso(job.leaseExpiresAt),
      held,
      expired: held && job.leaseExpiresAt !== null && job.leaseExpiresAt.getTime() <= now,
    },
    types,
    error_history: job.errorHistory.map((entry) => ({
      type: String(entry.type),
      attempt: Number(entry.attempt),
      at: String(entry.at),
      error: String(entry.error),
      retryable: Boolean(entry.retryable),
    })),
  };
}

// --- recently changed ---------------------------------------------------------------------------------
// The dashboard's job list: the jobs that changed last (enqueued, claimed, progressed, finished), newest
// first, each with its per-type status and due times, one statement for the page. Bounded: a tab left open
// shows the latest few, never an ever-growing history (the list above pages through everything).

export const DEFAULT_RECENT_JOBS = 50;
export const MAX_RECENT_JOBS = 200;

function recentText(withStatus: boolean, limit: number): string {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_RECENT_JOBS) throw new Error(`invalid recent-jobs limit ${limit}`);
  return `SELECT ${QUEUE_COLUMNS}, q.UPDATED_AT,
  (SELECT MIN(tr.TEST_NAME) FROM TEST_RESULTS tr WHERE tr.TEST_ID = q.TEST_ID AND tr.RUN_ID = q.RUN_ID) AS TEST_NAME
FROM DELAYED_ENRICHMENT_QUEUE q${withStatus ? '\nWHERE q.STATUS = ?' : ''}
ORDER BY q.UPDATED_AT DESC NULLS LAST, q.JOB_ID DESC
LIMIT ${limit}`;
}
sqlSample('results.jobs.recent', recentText(true, DEFAULT_RECENT_JOBS));

export interface RecentJob extends JobIdentity {
  attempts: number;
  last_error: string | null;
  test_end_time: string;
  next_due_at: string | null;
  updated_at: string | null;
  completed_at: string | null;
  types: TypeDetail[];
}

/** The `limit` most recently changed jobs (of one status when given), newest first. */
export async function recentJobs(services: Services, options: { status?: JobStatus; limit?: number } = {}): Promise<{ at: string; jobs: RecentJob[] }> {
  const limit = options.limit ?? DEFAULT_RECENT_JOBS;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_RECENT_JOBS) throw new HttpProblem(400, `limit must be an integer from 1 to ${MAX_RECENT_JOBS}`);
  const rows = await services.warehouse.query(recentText(options.status !== undefined, limit), options.status !== undefined ? [options.status] : []);
  const jobs = rows.map((row): RecentJob => {
    const job = toQueueJob(row);
    return {
      ...jobIdentity(job, row),
      attempts: job.attempts,
      last_error: job.lastError,
      test_end_time: iso(job.testEndTime)!,
      next_due_at: iso(job.nextDueAt),
      updated_at: iso(row.UPDATED_AT),
      completed_at: iso(job.completedAt),
      types: typeDetails(services, job),
    };
  });
  return { at: services.clock.now().toISOString(), jobs };
}
