// Enqueue: one job per (TEST_ID, RUN_ID) with a due time per enrichment type, and the test's
// DELAYED_ENRICHMENT_STATUS set to PENDING in the same transaction.
//
// Snowflake does not enforce UNIQUE, and two instances may enqueue the same test at once, so the insert
// is conditional (INSERT ... SELECT ... WHERE NOT EXISTS) and the batch begins with writes that change
// nothing: first to the test's queue rows, then to its TEST_RESULTS row, the tables' lock order
// (db/lock-order.ts: the queue before TEST_RESULTS, as in every processor batch, so an enqueue and a
// processor never wait for each other's locks in opposite orders). The TEST_RESULTS write serializes
// concurrent enqueues of one test: Snowflake makes the second UPDATE wait for the first transaction's
// commit (its NOT EXISTS then sees the job, READ COMMITTED); DuckDB raises a write-write conflict in the
// second, which is retried and then sees the job. The whole batch is one warehouse.transaction() call.
import { randomUUID } from 'node:crypto';
import { sql } from '../db/sql-registry.js';
import { isWarehouseError, type Statement } from '../db/warehouse.js';
import { insertEventIfJob, type EnrichmentEvent } from '../events/outbox.js';
import { eventBusOf } from '../events/bus.js';
import { HttpProblem } from '../http/problem.js';
import type { Services } from '../services.js';
import { JOB_COLUMNS, toQueueJob, type TypeState, type TypeStates } from './job-state.js';
import {
  ENRICHMENT_TYPES,
  deadlineAt,
  isEnrichmentType,
  isTableType,
  typeDueAt,
  typesForTableType,
  type EnrichmentType,
} from './plan.js';

export interface EnqueueRequest {
  test_id: string;
  run_id: string;
  table_type: string;
  test_end_time: Date;
  test_start_time?: Date;
  tag_prefixes?: string[];
  target_table?: string;
  target_database?: string;
  target_schema?: string;
  enrichment_types?: string[];
  /** Lower runs first; default 100 (backfill uses 1000). */
  priority?: number;
  /** Replace an existing terminal job (a live one is returned unchanged). */
  force?: boolean;
}

export interface EnqueueResult {
  job_id: string | null;
  created: boolean;
  status: string;
}

export const DEFAULT_PRIORITY = 100;
/** Conflicts (DuckDB) between concurrent enqueues of the same test are retried this often. */
const CONFLICT_RETRIES = 8;

// The locks: writes that change nothing, in lock order. The TEST_RESULTS row count also tells whether the test exists.
const LOCK_JOB_ROWS = sql(
  'queue.enqueue.lock_jobs',
  `UPDATE DELAYED_ENRICHMENT_QUEUE SET UPDATED_AT = UPDATED_AT WHERE TEST_ID = ? AND RUN_ID = ?`,
);

const LOCK_TEST_ROW = sql(
  'queue.enqueue.lock_test',
  `UPDATE TEST_RESULTS SET DELAYED_ENRICHMENT_STATUS = DELAYED_ENRICHMENT_STATUS WHERE TEST_ID = ? AND RUN_ID = ?`,
);

const DELETE_TERMINAL_JOB = sql(
  'queue.enqueue.delete_terminal',
  `DELETE FROM DELAYED_ENRICHMENT_QUEUE
WHERE TEST_ID = ? AND RUN_ID = ? AND STATUS IN ('COMPLETED', 'FAILED', 'SKIPPED', 'NOT_APPLICABLE')`,
);

// Target table/database/schema default to what FlakeBench recorded for the test when the request omits
// them: TABLE_NAME, and TEST_CONFIG:target:database / :schema (FlakeBench's TEST_RESULTS has no database or
// schema column). TEST_RESULTS has no primary key, so the test's row is read as one row (the latest written);
// a test that has not ended (END_TIME NULL) yields none, and `diagnose` tells the caller why.
const INSERT_JOB = sql(
  'queue.enqueue.insert',
  `INSERT INTO DELAYED_ENRICHMENT_QUEUE (JOB_ID, TEST_ID, RUN_ID, TEST_END_TIME, EARLIEST_ENRICHMENT_TIME, TABLE_TYPE,
  ENRICHMENT_TYPES, STATUS, ATTEMPTS, COMPLETED_TYPES, CREATED_AT, UPDATED_AT, NEXT_DUE_AT, PRIORITY, DEADLINE_AT,
  TYPE_STATE, ERROR_HISTORY, TEST_START_TIME, TAG_PREFIXES, TARGET_TABLE, TARGET_DATABASE, TARGET_SCHEMA)
SELECT ?, tr.TEST_ID, tr.RUN_ID, CAST(? AS TIMESTAMP_NTZ), CAST(? AS TIMESTAMP_NTZ), ?,
  PARSE_JSON(?), 'PENDING', 0, PARSE_JSON('[]'), CAST(? AS TIMESTAMP_NTZ), CAST(? AS TIMESTAMP_NTZ),
  CAST(? AS TIMESTAMP_NTZ), ?, CAST(? AS TIMESTAMP_NTZ),
  PARSE_JSON(?), PARSE_JSON('[]'), COALESCE(CAST(? AS TIMESTAMP_NTZ), tr.START_TIME), PARSE_JSON(?),
  COALESCE(?, NULLIF(tr.TABLE_NAME, ''), AS_VARCHAR(GET_PATH(tr.TEST_CONFIG, 'target.table_name'))),
  COALESCE(?, AS_VARCHAR(GET_PATH(tr.TEST_CONFIG, 'target.database'))),
  COALESCE(?, AS_VARCHAR(GET_PATH(tr.TEST_CONFIG, 'target.schema')))
FROM (
  SELECT TEST_ID, RUN_ID, START_TIME, TABLE_NAME, TEST_CONFIG FROM TEST_RESULTS
  WHERE TEST_ID = ? AND RUN_ID = ? AND END_TIME IS NOT NULL
  ORDER BY UPDATED_AT DESC NULLS LAST, CREATED_AT DESC NULLS LAST LIMIT 1
) tr
WHERE NOT EXISTS (SELECT 1 FROM DELAYED_ENRICHMENT_QUEUE q WHERE q.TEST_ID = ? AND q.RUN_ID = ?)`,
);

// Why a test cannot be enqueued (read only on a refusal): its rows, how many have ended, and rows of the
// run without a TEST_ID (FlakeBench's TEST_ID is nullable; such a row cannot be addressed by test id).
const DIAGNOSE = sql(
  'queue.enqueue.diagnose',
  `SELECT COUNT(*) AS ROWS_FOUND, COUNT(END_TIME) AS ENDED,
  (SELECT COUNT(*) FROM TEST_RESULTS WHERE RUN_ID = ? AND TEST_ID IS NULL) AS WITHOUT_TEST_ID
FROM TEST_RESULTS WHERE TEST_ID = ? AND RUN_ID = ?`,
);

const MARK_TEST_PENDING = sql(
  'queue.enqueue.mark_test_pending',
  `UPDATE TEST_RESULTS SET DELAYED_ENRICHMENT_STATUS = 'PENDING', DELAYED_ENRICHMENT_ERROR = NULL,
  DELAYED_ENRICHMENT_COMPLETED_AT = NULL,
  AGGREGATE_ENRICHMENT_STATUS = IFF(?, 'PENDING', AGGREGATE_ENRICHMENT_STATUS)
WHERE TEST_ID = ? AND RUN_ID = ? AND EXISTS (SELECT 1 FROM DELAYED_ENRICHMENT_QUEUE WHERE JOB_ID = ?)`,
);

const MARK_TEST_NOT_APPLICABLE = sql(
  'queue.enqueue.mark_test_not_applicable',
  `UPDATE TEST_RESULTS SET DELAYED_ENRICHMENT_STATUS = 'NOT_APPLICABLE', DELAYED_ENRICHMENT_ERROR = NULL
WHERE TEST_ID = ? AND RUN_ID = ? AND END_TIME IS NOT NULL`,
);

const EXISTING_JOB = sql(
  'queue.enqueue.existing',
  `SELECT ${JOB_COLUMNS} FROM DELAYED_ENRICHMENT_QUEUE WHERE TEST_ID = ? AND RUN_ID = ? ORDER BY CREATED_AT DESC LIMIT 1`,
);

/** Checks the request; throws HttpProblem(400) naming the first problem. Returns the job's types. */
export function validateEnqueueRequest(request: EnqueueRequest): readonly EnrichmentType[] {
  const bad = (detail: string) => new HttpProblem(400, detail);
  if (typeof request.test_id !== 'string' || request.test_id.trim() === '' || request.test_id.length > 36) {
    throw bad('test_id must be a non-empty string of at most 36 characters');
  }
  if (typeof request.run_id !== 'string' || request.run_id.trim() === '' || request.run_id.length > 36) {
    throw bad('run_id must be a non-empty string of at most 36 characters');
  }
  const tableType = String(request.table_type ?? '').toUpperCase();
  if (!isTableType(tableType)) {
    throw bad(`table_type must be one of STANDARD, HYBRID, UNISTORE, INTERACTIVE, DYNAMIC, POSTGRES (got "${String(request.table_type)}")`);
  }
  if (!(request.test_end_time instanceof Date) || Number.isNaN(request.test_end_time.getTime())) {
    throw bad('test_end_time must be a valid timestamp');
  }
  if (request.test_start_time !== undefined) {
    if (!(request.test_start_time instanceof Date) || Number.isNaN(request.test_start_time.getTime())) {
      throw bad('test_start_time must be a valid timestamp');
    }
    if (request.test_start_time.getTime() > request.test_end_time.getTime()) {
      throw bad('test_start_time must not be after test_end_time');
    }
  }
  if (request.priority !== undefined && (!Number.isInteger(request.priority) || request.priority < 0 || request.priority > 1_000_000)) {
    throw bad('priority must be an integer from 0 to 1000000');
  }
  if (request.tag_prefixes !== undefined && (!Array.isArray(request.tag_prefixes) || request.tag_prefixes.some((p) => typeof p !== 'string' || p === ''))) {
    throw bad('tag_prefixes must be a list of non-empty strings');
  }
  const defaults = typesForTableType(tableType);
  if (request.enrichment_types === undefined) return defaults;
  if (!Array.isArray(request.enrichment_types) || request.enrichment_types.length === 0) {
    throw bad('enrichment_types must be a non-empty list when given');
  }
  const chosen: EnrichmentType[] = [];
  for (const type of request.enrichment_types) {
    const upper = String(type).toUpperCase();
    if (!isEnrichmentType(upper)) throw bad(`enrichment_types: unknown type "${String(type)}" (known: ${ENRICHMENT_TYPES.join(', ')})`);
    if (!defaults.includes(upper)) throw bad(`enrichment_types: ${upper} does not apply to table type ${tableType}`);
    if (!chosen.includes(upper)) chosen.push(upper);
  }
  return chosen;
}

/** A new job's schedule: each type's due time (all PENDING), the earliest of them, the deadline. */
export function planJob(
  services: Pick<Services, 'config'>,
  request: Pick<EnqueueRequest, 'test_end_time'>,
  types: readonly EnrichmentType[],
): { typeState: TypeStates; earliest: Date; deadline: Date } {
  const typeState: TypeStates = {};
  for (const type of types) {
    const state: TypeState = {
      status: 'PENDING',
      attempts: 0,
      due_at: typeDueAt(services.config, type, request.test_end_time).toISOString(),
      last_error: null,
      rows: null,
      completed_at: null,
    };
    typeState[type] = state;
  }
  const earliest = new Date(Math.min(...types.map((type) => Date.parse(typeState[type]!.due_at))));
  return { typeState, earliest, deadline: deadlineAt(services.config, request.test_end_time) };
}

export async function enqueueJob(services: Services, request: EnqueueRequest): Promise<EnqueueResult> {
  const types = validateEnqueueRequest(request);
  const testId = request.test_id;
  const runId = request.run_id;
  if (types.length === 0) {
    // POSTGRES: the ACCOUNT_USAGE views know nothing of it; no job, the test is marked NOT_APPLICABLE.
    const [marked] = await services.warehouse.transaction([{ sql: MARK_TEST_NOT_APPLICABLE, binds: [testId, runId] }]);
    if (marked?.rowsAffected === 0) throw await refusal(services, testId, runId);
    return { job_id: null, created: false, status: 'NOT_APPLICABLE' };
  }

  const now = services.clock.now();
  const { typeState, earliest, deadline } = planJob(services, request, types);

  for (let attempt = 0; ; attempt += 1) {
    const jobId = randomUUID();
    const event: EnrichmentEvent = {
      type: 'job_enqueued',
      at: now,
      job_id: jobId,
      test_id: testId,
      run_id: runId,
      payload: { types: [...types], next_due_at: earliest.toISOString(), priority: request.priority ?? DEFAULT_PRIORITY },
    };
    const statements: Statement[] = [
      { sql: LOCK_JOB_ROWS, binds: [testId, runId] },
      { sql: LOCK_TEST_ROW, binds: [testId, runId] },
    ];
    const testRowIndex = 1;
    if (request.force) statements.push({ sql: DELETE_TERMINAL_JOB, binds: [testId, runId] });
    const insertIndex = statements.length;
    statements.push(
      {
        sql: INSERT_JOB,
        binds: [
          jobId,
          request.test_end_time,
          earliest,
          String(request.table_type).toUpperCase(),
          [...types],
          now,
          now,
          earliest,
          request.priority ?? DEFAULT_PRIORITY,
          deadline,
          typeState as unknown as Record<string, never>,
          request.test_start_time ?? null,
          request.tag_prefixes ?? null,
          request.target_table ?? null,
          request.target_database ?? null,
          request.target_schema ?? null,
          testId,
          runId,
          testId,
          runId,
        ],
      },
      { sql: MARK_TEST_PENDING, binds: [types.includes('AGGREGATE'), testId, runId, jobId] },
      insertEventIfJob(event, jobId),
    );
    let results;
    try {
      results = await services.warehouse.transaction(statements);
    } catch (error) {
      if (isWarehouseError(error) && error.kind === 'conflict' && attempt < CONFLICT_RETRIES) {
        await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20 * (attempt + 1)));
        continue;
      }
      throw error;
    }
    if (results[testRowIndex]?.rowsAffected === 0) throw await refusal(services, testId, runId);
    if (results[insertIndex]?.rowsAffected === 1) {
      eventBusOf(services).publish([event]);
      services.signals.noteDue(earliest);
      return { job_id: jobId, created: true, status: 'PENDING' };
    }
    const [row] = await services.warehouse.query(EXISTING_JOB, [testId, runId]);
    if (!row) {
      // No job and none inserted: the test has not ended, or a purge removed the job in between (try again).
      const problem = await refusal(services, testId, runId);
      if (problem.statusCode !== 409) continue;
      throw problem;
    }
    const existing = toQueueJob(row);
    return { job_id: existing.jobId, created: false, status: existing.status };
  }
}

/**
 * The 4xx for a test that cannot be enqueued, naming the reason: no TEST_RESULTS row (404), only rows of the
 * run without a TEST_ID (422), or a test that has not ended (409: FlakeBench sets END_TIME when it finishes).
 */
async function refusal(services: Services, testId: string, runId: string): Promise<HttpProblem> {
  const [row] = await services.warehouse.query<{ ROWS_FOUND: number; ENDED: number; WITHOUT_TEST_ID: number }>(DIAGNOSE, [runId, testId, runId]);
  const found = Number(row?.ROWS_FOUND ?? 0);
  if (found > 0 && Number(row?.ENDED ?? 0) === 0) {
    return new HttpProblem(
      409,
      `test ${testId} run ${runId} has not ended: its TEST_RESULTS row has no END_TIME (FlakeBench sets it when the test finishes); enqueue it after the test ended`,
    );
  }
  if (found === 0 && Number(row?.WITHOUT_TEST_ID ?? 0) > 0) {
    return new HttpProblem(
      422,
      `test ${testId} is not in TEST_RESULTS; run ${runId} has ${Number(row?.WITHOUT_TEST_ID)} TEST_RESULTS row(s) with a NULL TEST_ID, which cannot be enqueued: a test is enqueued by its TEST_ID`,
    );
  }
  return new HttpProblem(404, `test ${testId} run ${runId} is not in TEST_RESULTS`);
}
