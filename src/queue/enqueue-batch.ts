// Enqueue of many tests at once (backfill, discovery): the same job rows, TEST_RESULTS status and events as
// enqueueJob, written by one set-based statement per table for up to ENQUEUE_BATCH tests, in one transaction.
// A year's backfill enqueued test by test cost one transaction of five statements per test (76 s for 1,000
// tests on the embedded engine, BENCHMARKS.md "Backfill of a year").
//
// The tests travel as one JSON bind turned into rows on the server (the form write-rows.ts uses), and the
// statements follow enqueueJob's order and locks: writes that change nothing to the tests' queue rows and then
// their TEST_RESULTS rows (db/lock-order.ts), the conditional insert (no job for the test yet), then the
// TEST_RESULTS status and the events of the jobs this transaction inserted. A test the batch did not insert
// (it has a job already, has not ended, is not in TEST_RESULTS) goes through enqueueJob on its own, which gives
// it enqueueJob's exact answer (the existing job, or the refusal naming why).
import { randomUUID } from 'node:crypto';
import { ROWS_FROM, rowOf, textOf, variantOf } from '../db/row-set.js';
import { sql } from '../db/sql-registry.js';
import { isWarehouseError, type JsonObject, type JsonValue } from '../db/warehouse.js';
import { eventBusOf } from '../events/bus.js';
import { insertEventsIfJobs, type EnrichmentEvent } from '../events/outbox.js';
import type { Services } from '../services.js';
import { DEFAULT_PRIORITY, enqueueJob, planJob, validateEnqueueRequest, type EnqueueRequest, type EnqueueResult } from './enqueue.js';

/** Tests written by one set-based transaction at most (its JSON bind stays far below a request's 1 MB). */
export const ENQUEUE_BATCH = 100;

/** What a batch enqueue takes: the fields FlakeBench's TEST_RESULTS gives (targets and tags come from its row). */
export type BatchEnqueueRequest = Pick<EnqueueRequest, 'test_id' | 'run_id' | 'table_type' | 'test_end_time' | 'test_start_time' | 'priority'>;

/** Conflicts (DuckDB) with a concurrent enqueue of one of the tests are retried this often. */
const CONFLICT_RETRIES = 8;

/** The JSON bind as rows (db/row-set.ts): one per test, every field as the text a bind carries (VARIANTs as JSON). */
const TESTS = `(SELECT ${textOf('job')} AS JOB_ID, ${textOf('test')} AS TEST_ID, ${textOf('run')} AS RUN_ID,
    ${textOf('table_type')} AS TABLE_TYPE, ${textOf('end')} AS END_TIME, ${textOf('start')} AS START_TIME,
    ${textOf('earliest')} AS EARLIEST, ${textOf('deadline')} AS DEADLINE, ${textOf('priority')} AS PRIORITY,
    ${textOf('aggregate')} AS AGGREGATE, ${variantOf('types')} AS TYPES, ${variantOf('type_state')} AS TYPE_STATE
  FROM ${ROWS_FROM})`;

const LOCK_JOB_ROWS = sql(
  'queue.enqueue_batch.lock_jobs',
  `UPDATE DELAYED_ENRICHMENT_QUEUE SET UPDATED_AT = UPDATED_AT
WHERE EXISTS (SELECT 1 FROM ${TESTS} p WHERE p.TEST_ID = DELAYED_ENRICHMENT_QUEUE.TEST_ID AND p.RUN_ID = DELAYED_ENRICHMENT_QUEUE.RUN_ID)`,
);

const LOCK_TEST_ROWS = sql(
  'queue.enqueue_batch.lock_tests',
  `UPDATE TEST_RESULTS SET DELAYED_ENRICHMENT_STATUS = DELAYED_ENRICHMENT_STATUS
WHERE EXISTS (SELECT 1 FROM ${TESTS} p WHERE p.TEST_ID = TEST_RESULTS.TEST_ID AND p.RUN_ID = TEST_RESULTS.RUN_ID)`,
);

// As enqueueJob's insert: TEST_RESULTS has no key, so each test's row is its latest written one (QUALIFY picks
// it); targets come from FlakeBench's TABLE_NAME and TEST_CONFIG:target; a test that has not ended has no row.
const INSERT_JOBS = sql(
  'queue.enqueue_batch.insert',
  `INSERT INTO DELAYED_ENRICHMENT_QUEUE (JOB_ID, TEST_ID, RUN_ID, TEST_END_TIME, EARLIEST_ENRICHMENT_TIME, TABLE_TYPE,
  ENRICHMENT_TYPES, STATUS, ATTEMPTS, COMPLETED_TYPES, CREATED_AT, UPDATED_AT, NEXT_DUE_AT, PRIORITY, DEADLINE_AT,
  TYPE_STATE, ERROR_HISTORY, TEST_START_TIME, TAG_PREFIXES, TARGET_TABLE, TARGET_DATABASE, TARGET_SCHEMA)
SELECT x.JOB_ID, x.TEST_ID, x.RUN_ID, CAST(x.END_TIME AS TIMESTAMP_NTZ), CAST(x.EARLIEST AS TIMESTAMP_NTZ), x.TABLE_TYPE,
  x.TYPES, 'PENDING', 0, PARSE_JSON('[]'), CAST(? AS TIMESTAMP_NTZ), CAST(? AS TIMESTAMP_NTZ),
  CAST(x.EARLIEST AS TIMESTAMP_NTZ), CAST(x.PRIORITY AS INTEGER), CAST(x.DEADLINE AS TIMESTAMP_NTZ),
  x.TYPE_STATE, PARSE_JSON('[]'), COALESCE(CAST(x.START_TIME AS TIMESTAMP_NTZ), x.TEST_START), NULL,
  COALESCE(NULLIF(x.TABLE_NAME, ''), AS_VARCHAR(GET_PATH(x.TEST_CONFIG, 'target.table_name'))),
  AS_VARCHAR(GET_PATH(x.TEST_CONFIG, 'target.database')),
  AS_VARCHAR(GET_PATH(x.TEST_CONFIG, 'target.schema'))
FROM (
  SELECT p.JOB_ID, p.TEST_ID, p.RUN_ID, p.TABLE_TYPE, p.END_TIME, p.START_TIME, p.EARLIEST, p.DEADLINE, p.PRIORITY,
    p.TYPES, p.TYPE_STATE, tr.START_TIME AS TEST_START, tr.TABLE_NAME, tr.TEST_CONFIG
  FROM ${TESTS} p
  JOIN TEST_RESULTS tr ON tr.TEST_ID = p.TEST_ID AND tr.RUN_ID = p.RUN_ID AND tr.END_TIME IS NOT NULL
  QUALIFY ROW_NUMBER() OVER (PARTITION BY p.JOB_ID ORDER BY tr.UPDATED_AT DESC NULLS LAST, tr.CREATED_AT DESC NULLS LAST) = 1
) x
LEFT JOIN DELAYED_ENRICHMENT_QUEUE q ON q.TEST_ID = x.TEST_ID AND q.RUN_ID = x.RUN_ID
WHERE q.JOB_ID IS NULL`,
);

// Only the tests whose job this transaction inserted (the join on JOB_ID), as enqueueJob's MARK_TEST_PENDING.
const MARK_TESTS_PENDING = sql(
  'queue.enqueue_batch.mark_tests_pending',
  `UPDATE TEST_RESULTS SET DELAYED_ENRICHMENT_STATUS = 'PENDING', DELAYED_ENRICHMENT_ERROR = NULL,
  DELAYED_ENRICHMENT_COMPLETED_AT = NULL,
  AGGREGATE_ENRICHMENT_STATUS = IFF(x.AGGREGATE = 'true', 'PENDING', TEST_RESULTS.AGGREGATE_ENRICHMENT_STATUS)
FROM (SELECT p.TEST_ID, p.RUN_ID, p.AGGREGATE FROM ${TESTS} p JOIN DELAYED_ENRICHMENT_QUEUE q ON q.JOB_ID = p.JOB_ID) x
WHERE TEST_RESULTS.TEST_ID = x.TEST_ID AND TEST_RESULTS.RUN_ID = x.RUN_ID`,
);

const INSERTED_JOBS = sql(
  'queue.enqueue_batch.inserted',
  `SELECT q.JOB_ID FROM DELAYED_ENRICHMENT_QUEUE q WHERE EXISTS (SELECT 1 FROM ${TESTS} p WHERE p.JOB_ID = q.JOB_ID)`,
);

interface PlannedJob {
  request: BatchEnqueueRequest;
  row: JsonObject;
  event: EnrichmentEvent;
  earliest: Date;
}

/**
 * Enqueues the tests, ENQUEUE_BATCH per transaction; answers one result per request, in order, as enqueueJob
 * would. A test that cannot be enqueued fails alone: its answer is enqueueJob's error for it (an HttpProblem
 * naming the reason). A test named twice is enqueued once; its second answer says created: false.
 */
export async function enqueueJobs(
  services: Services,
  requests: readonly BatchEnqueueRequest[],
): Promise<Array<EnqueueResult | Error>> {
  const answers = new Map<string, EnqueueResult | Error>();
  const keyOf = (request: BatchEnqueueRequest) => JSON.stringify([request.test_id, request.run_id]);
  const unique = [...new Map(requests.map((request) => [keyOf(request), request])).values()];
  for (let first = 0; first < unique.length; first += ENQUEUE_BATCH) {
    const chunk = unique.slice(first, first + ENQUEUE_BATCH);
    const results = await enqueueChunk(services, chunk);
    chunk.forEach((request, index) => answers.set(keyOf(request), results[index]!));
  }
  // A repeated test is answered as a second enqueueJob would answer it: the job exists now, not created again.
  const answered = new Set<string>();
  return requests.map((request) => {
    const answer = answers.get(keyOf(request))!;
    const repeated = answered.has(keyOf(request));
    answered.add(keyOf(request));
    return repeated && !(answer instanceof Error) ? { ...answer, created: false } : answer;
  });
}

async function enqueueChunk(services: Services, requests: readonly BatchEnqueueRequest[]): Promise<Array<EnqueueResult | Error>> {
  const answers: Array<EnqueueResult | Error | undefined> = new Array(requests.length);
  const planned: Array<{ index: number; types: ReturnType<typeof validateEnqueueRequest> }> = [];
  requests.forEach((request, index) => {
    try {
      const types = validateEnqueueRequest(request);
      // POSTGRES (no types) has no job: enqueueJob marks it NOT_APPLICABLE on its own.
      if (types.length > 0) planned.push({ index, types });
    } catch (error) {
      answers[index] = error as Error;
    }
  });
  const now = services.clock.now();
  for (let attempt = 0; planned.length > 0; attempt += 1) {
    const jobs = planned.map(({ index, types }) => planBatchJob(services, requests[index]!, types, now));
    const payload = JSON.stringify(jobs.map((job) => job.row));
    let inserted: number;
    try {
      const results = await services.warehouse.transaction([
        { sql: LOCK_JOB_ROWS, binds: [payload] },
        { sql: LOCK_TEST_ROWS, binds: [payload] },
        { sql: INSERT_JOBS, binds: [now, now, payload] },
        { sql: MARK_TESTS_PENDING, binds: [payload] },
        insertEventsIfJobs(jobs.map((job) => job.event)),
      ]);
      inserted = results[2]?.rowsAffected ?? 0;
    } catch (error) {
      if (isWarehouseError(error) && error.kind === 'conflict' && attempt < CONFLICT_RETRIES) {
        await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20 * (attempt + 1)));
        continue;
      }
      // Nothing was written (one transaction): every test goes through enqueueJob on its own below, so one
      // test's bad row fails that test only, with its own error.
      services.log.warn({ tests: planned.length, err: error instanceof Error ? error.message : String(error) }, 'batch enqueue failed; enqueueing its tests one by one');
      break;
    }
    // All inserted is the common case; otherwise one read says which (a job id is new, so it is ours).
    const ours =
      inserted === jobs.length
        ? new Set(jobs.map((job) => job.event.job_id))
        : new Set((await services.warehouse.query(INSERTED_JOBS, [payload])).map((row) => String(row.JOB_ID)));
    const created = jobs.filter((job) => ours.has(job.event.job_id));
    eventBusOf(services).publish(created.map((job) => job.event));
    if (created.length > 0) services.signals.noteDue(new Date(Math.min(...created.map((job) => job.earliest.getTime()))));
    planned.forEach(({ index }, position) => {
      const job = jobs[position]!;
      if (ours.has(job.event.job_id)) answers[index] = { job_id: job.event.job_id, created: true, status: 'PENDING' };
    });
    break;
  }
  // The rest one by one: POSTGRES, tests with a job already, and those the batch could not insert.
  for (const [index, request] of requests.entries()) {
    if (answers[index] !== undefined) continue;
    answers[index] = await enqueueJob(services, request).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))));
  }
  return answers as Array<EnqueueResult | Error>;
}

function planBatchJob(
  services: Services,
  request: BatchEnqueueRequest,
  types: ReturnType<typeof validateEnqueueRequest>,
  now: Date,
): PlannedJob {
  const { typeState, earliest, deadline } = planJob(services, request, types);
  const jobId = randomUUID();
  const priority = request.priority ?? DEFAULT_PRIORITY;
  const row = rowOf(
    {
      job: jobId,
      test: request.test_id,
      run: request.run_id,
      table_type: String(request.table_type).toUpperCase(),
      end: request.test_end_time,
      start: request.test_start_time ?? null,
      earliest,
      deadline,
      priority,
      aggregate: types.includes('AGGREGATE'),
    },
    { types: [...types], type_state: typeState as unknown as JsonValue },
  );
  const event: EnrichmentEvent = {
    type: 'job_enqueued',
    at: now,
    job_id: jobId,
    test_id: request.test_id,
    run_id: request.run_id,
    payload: { types: [...types], next_due_at: earliest.toISOString(), priority },
  };
  return { request, row, event, earliest };
}
