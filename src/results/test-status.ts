// GET /api/tests/{id}/delayed-enrichment-status (FlakeBench UI contract) and the test-level lookups the
// retry and purge routes need. One statement: the head row (test + latest job with its TYPE_STATE).
import { sql } from '../db/sql-registry.js';
import { HttpProblem } from '../http/problem.js';
import { purgeTestEnrichment, retryJob } from '../queue/operations.js';
import type { Services } from '../services.js';
import {
  HEAD_COLUMNS,
  HEAD_CTES,
  expectedCompletion,
  iso,
  minutesUntil,
  overallStatus,
  readHead,
  typeAvailability,
  type AvailabilityState,
  type TestHead,
  type TypeAvailability,
} from './availability.js';
import { cachedTestAnswer } from './read-cache.js';

const READ_HEAD = sql('results.test.head', `WITH ${HEAD_CTES}\nSELECT ${HEAD_COLUMNS} FROM head h`);

/** The test and its latest job; 404 naming the test when it is unknown. One statement. */
export async function readTestHead(services: Services, testId: string): Promise<TestHead> {
  const [row] = await services.warehouse.query(READ_HEAD, [testId, testId]);
  return readHead(testId, row);
}

export interface TypeStatus {
  type: string;
  status: AvailabilityState;
  attempts: number | null;
  due_at: string | null;
  expected_at: string | null;
  minutes_remaining: number | null;
  rows: number | null;
  last_error: string | null;
  reason: string | null;
  completed_at: string | null;
}

export interface DelayedEnrichmentStatus {
  test_id: string;
  test_name: string | null;
  table_type: string | null;
  /**
   * The test's delayed-enrichment status: the job's status when it has one (the queue row is the source;
   * TEST_RESULTS is written in the same batches), else TEST_RESULTS.DELAYED_ENRICHMENT_STATUS, else
   * NOT_APPLICABLE for POSTGRES and NOT_QUEUED for a test that was never enqueued.
   */
  status: AvailabilityState;
  /** The queue row's STATUS; null when there is no job. */
  queue_status: string | null;
  job_id: string | null;
  earliest_enrichment_time: string | null;
  next_due_at: string | null;
  /** When the last unfinished type is due: all data expected then. Null when nothing is pending. */
  expected_at: string | null;
  /** Minutes from the service clock until expected_at, 0 once due; null when nothing is pending. */
  minutes_remaining: number | null;
  enrichment_types: string[];
  completed_types: string[];
  completed_at: string | null;
  last_error: string | null;
  attempts: number;
  types: TypeStatus[];
}

function typeStatus(availability: TypeAvailability): TypeStatus {
  const { type, status, attempts, due_at, expected_at, minutes_remaining, rows, last_error, reason, completed_at } = availability;
  return { type, status, attempts, due_at, expected_at, minutes_remaining, rows, last_error, reason, completed_at };
}

export function shapeStatus(head: TestHead, now: Date): DelayedEnrichmentStatus {
  const { job, test } = head;
  const types = job ? job.types.map((type) => typeStatus(typeAvailability(head, type, now))) : [];
  const expected = expectedCompletion(job);
  return {
    test_id: head.testId,
    test_name: test?.testName ?? null,
    table_type: job?.tableType ?? test?.tableType ?? null,
    status: overallStatus(head),
    queue_status: job?.status ?? null,
    job_id: job?.jobId ?? null,
    earliest_enrichment_time: iso(job?.earliestEnrichmentTime),
    next_due_at: iso(job?.nextDueAt),
    expected_at: iso(expected),
    minutes_remaining: minutesUntil(expected, now),
    enrichment_types: job ? [...job.types] : [],
    completed_types: types.filter((type) => type.status === 'COMPLETED').map((type) => type.type),
    completed_at: iso(job?.completedAt ?? test?.delayedCompletedAt),
    last_error: job ? job.lastError : (test?.delayedError ?? null),
    attempts: job?.attempts ?? 0,
    types,
  };
}

export async function delayedEnrichmentStatus(services: Services, testId: string): Promise<DelayedEnrichmentStatus> {
  return cachedTestAnswer(services, testId, READ_HEAD, [testId, testId], (rows, now) => shapeStatus(readHead(testId, rows[0]), now));
}

export interface RetryAnswer {
  test_id: string;
  job_id: string;
  status: 'PENDING';
  message: string;
  types: string[];
}

/**
 * Retry the test's failed enrichment: a FAILED job, or the failed types of a partly completed one.
 * 404 unknown test; 409 (detail says its status) when nothing failed.
 */
export async function retryTestEnrichment(services: Services, testId: string): Promise<RetryAnswer> {
  const head = await readTestHead(services, testId);
  const status = overallStatus(head);
  const job = head.job;
  if (!job) throw new HttpProblem(409, `Test '${testId}' has no delayed-enrichment job (status ${status}); there is nothing to retry`);
  const failed = job.types.filter((type) => job.typeState[type]?.status === 'FAILED');
  if (failed.length === 0) {
    throw new HttpProblem(409, `Delayed enrichment of test '${testId}' is ${job.status}, not FAILED; only a failed enrichment can be retried`);
  }
  const result = await retryJob(services, job.jobId);
  return {
    test_id: testId,
    job_id: result.job_id,
    status: 'PENDING',
    message: `Retry queued for ${result.types.join(', ')}; due now`,
    types: result.types,
  };
}

export interface PurgeAnswer {
  test_id: string;
  job_id: string | null;
  removed: Record<string, number>;
}

/** Purge one test's enrichment data and job (destructive: the route demands API_TOKEN). 404 unknown test. */
export async function purgeTest(services: Services, testId: string): Promise<PurgeAnswer> {
  const head = await readTestHead(services, testId);
  const removed = await purgeTestEnrichment(services, testId);
  return { test_id: testId, job_id: head.job?.jobId ?? null, removed };
}
