// GET /api/tests/{id}/lock-contention: a V_LOCK_CONTENTION_SUMMARY-style summary and a page of events.
//
// LOCK_CONTENTION_EVENTS holds one row per wait (src/enrichment/lock-transform.ts, migration 0007), its first
// blocker in BLOCKING_*, and per wait the counts of its blockers. Waits are still grouped by
// (QUERY_ID, LOCK_TRANSACTION_ID, REQUESTED_AT), because rows written before 0007 are one per (wait × blocker);
// unique blockers are SUM(FIRST_SEEN_BLOCKERS) (every blocker of every wait, by transaction id, else query id,
// as V_LOCK_CONTENTION_SUMMARY counts them). Events are the stored rows in REQUESTED_AT order with a keyset
// cursor.
// One statement: head + summary + the page.
import { createHash } from 'node:crypto';
import { limitClause } from '../db/limit.js';
import { sql, sqlSample } from '../db/sql-registry.js';
import type { BindValue, Row } from '../db/warehouse.js';
import { HttpProblem } from '../http/problem.js';
import type { Services } from '../services.js';
import { HEAD_COLUMNS, HEAD_CTES, idText, iso, num, readHead, typeAvailability, type AvailabilityState, type TypeAvailability } from './availability.js';
import { cachedTestAnswer } from './read-cache.js';

export const DEFAULT_EVENT_PAGE = 50;
export const MAX_EVENT_PAGE = 500;

const AFTER_CURSOR = 'AND (REQUESTED_AT > CAST(? AS TIMESTAMP_NTZ) OR (REQUESTED_AT = CAST(? AS TIMESTAMP_NTZ) AND EVENT_ID > ?))';

function lockText(withCursor: boolean, limit: number): string {
  return `WITH ${HEAD_CTES},
w AS (
  SELECT QUERY_ID, LOCK_TRANSACTION_ID, REQUESTED_AT, MAX(WAIT_DURATION_MS) AS WAIT_MS
  FROM LOCK_CONTENTION_EVENTS WHERE TEST_ID = ?
  GROUP BY QUERY_ID, LOCK_TRANSACTION_ID, REQUESTED_AT
),
ws AS (
  SELECT COUNT(*) AS WAIT_COUNT, SUM(WAIT_MS) AS TOTAL_WAIT_MS, AVG(WAIT_MS) AS AVG_WAIT_MS, MAX(WAIT_MS) AS MAX_WAIT_MS,
    MIN(REQUESTED_AT) AS FIRST_WAIT, MAX(REQUESTED_AT) AS LAST_WAIT, SUM(IFF(WAIT_MS IS NULL, 1, 0)) AS WAITS_WITHOUT_DURATION
  FROM w
),
es AS (
  SELECT SUM(BLOCKER_COUNT) AS BLOCKER_ROWS, SUM(FIRST_SEEN_BLOCKERS) AS UNIQUE_BLOCKERS,
    SUM(UNIDENTIFIED_BLOCKERS) AS UNIDENTIFIED_BLOCKERS,
    COUNT(DISTINCT OBJECT_ID) AS AFFECTED_OBJECTS
  FROM LOCK_CONTENTION_EVENTS WHERE TEST_ID = ?
),
e AS (
  SELECT EVENT_ID, REQUESTED_AT, QUERY_ID, LOCK_TRANSACTION_ID, WAIT_DURATION_MS, BLOCKING_QUERY_ID, BLOCKING_TRANSACTION_ID,
    LOCK_TYPE, OBJECT_ID, OBJECT_NAME, LOCK_ACQUIRED_AT
  FROM LOCK_CONTENTION_EVENTS WHERE TEST_ID = ? ${withCursor ? AFTER_CURSOR : ''}
  ORDER BY REQUESTED_AT, EVENT_ID ${limitClause(limit, MAX_EVENT_PAGE + 1)}
)
SELECT ${HEAD_COLUMNS}, ws.WAIT_COUNT, ws.TOTAL_WAIT_MS, ws.AVG_WAIT_MS, ws.MAX_WAIT_MS, ws.FIRST_WAIT, ws.LAST_WAIT,
  ws.WAITS_WITHOUT_DURATION, es.BLOCKER_ROWS, es.UNIQUE_BLOCKERS, es.UNIDENTIFIED_BLOCKERS, es.AFFECTED_OBJECTS,
  e.EVENT_ID AS E_EVENT_ID, e.REQUESTED_AT AS E_REQUESTED_AT, e.QUERY_ID AS E_QUERY_ID, e.LOCK_TRANSACTION_ID AS E_TRANSACTION_ID,
  e.WAIT_DURATION_MS AS E_WAIT_MS, e.BLOCKING_QUERY_ID AS E_BLOCKING_QUERY_ID, e.BLOCKING_TRANSACTION_ID AS E_BLOCKING_TRANSACTION_ID,
  e.LOCK_TYPE AS E_LOCK_TYPE, e.OBJECT_ID AS E_OBJECT_ID, e.OBJECT_NAME AS E_OBJECT_NAME, e.LOCK_ACQUIRED_AT AS E_LOCK_ACQUIRED_AT
FROM head h LEFT JOIN ws ON 1 = 1 LEFT JOIN es ON 1 = 1 LEFT JOIN e ON 1 = 1
ORDER BY e.REQUESTED_AT, e.EVENT_ID`;
}
sqlSample('results.lock_contention', lockText(true, DEFAULT_EVENT_PAGE + 1));
sql('results.lock_contention.first_page', lockText(false, DEFAULT_EVENT_PAGE + 1));

// Cursor: base64url of [requested_at, event_id, check]; the check ties it to the test, so an edited cursor
// or one from another test is a 400 rather than a silently different page. Not a secret.
function check(at: string, eventId: string, testId: string): string {
  return createHash('sha256').update(`lock|${at}|${eventId}|${testId}`).digest('base64url').slice(0, 16);
}

export function encodeEventCursor(at: Date, eventId: string, testId: string): string {
  const text = at.toISOString();
  return Buffer.from(JSON.stringify([text, eventId, check(text, eventId, testId)]), 'utf8').toString('base64url');
}

export function decodeEventCursor(cursor: string, testId: string): { at: Date; eventId: string } {
  const invalid = () => new HttpProblem(400, 'cursor is not a cursor this list issued for this test (use next_cursor of the previous page)');
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(parsed) || parsed.length !== 3 || !parsed.every((part) => typeof part === 'string')) throw invalid();
  const [at, eventId, sum] = parsed as [string, string, string];
  const date = new Date(at);
  if (!/^\d{4}-/.test(at) || Number.isNaN(date.getTime()) || date.toISOString() !== at || eventId === '' || eventId.length > 36) throw invalid();
  if (sum !== check(at, eventId, testId)) throw invalid();
  return { at: date, eventId };
}

export interface LockEventItem {
  event_id: string;
  requested_at: string | null;
  query_id: string | null;
  transaction_id: string | null;
  /** The waiting query's TRANSACTION_BLOCKED_TIME; null when QUERY_HISTORY did not give it. */
  wait_ms: number | null;
  blocking_query_id: string | null;
  blocking_transaction_id: string | null;
  lock_type: string | null;
  object_id: string | null;
  object_name: string | null;
  /** LOCK_WAIT_HISTORY.ACQUIRED_AT: when the holder acquired the lock (not the end of the wait). */
  holder_acquired_at: string | null;
}

export interface LockSummary {
  lock_wait_count: number;
  total_wait_ms: number | null;
  avg_wait_ms: number | null;
  max_wait_ms: number | null;
  waits_without_duration: number;
  first_lock_wait: string | null;
  last_lock_wait: string | null;
  unique_blockers: number;
  unidentified_blockers: number;
  blocker_rows: number;
  affected_objects: number;
}

export interface LockContention {
  test_id: string;
  status: AvailabilityState;
  expected_at: string | null;
  minutes_remaining: number | null;
  reason: string | null;
  summary: LockSummary | null;
  events: LockEventItem[];
  next_cursor: string | null;
  availability: TypeAvailability;
}

const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);

function eventOf(row: Row): LockEventItem {
  return {
    event_id: String(row.E_EVENT_ID),
    requested_at: iso(row.E_REQUESTED_AT as Date | null),
    query_id: text(row.E_QUERY_ID),
    transaction_id: idText(row.E_TRANSACTION_ID),
    wait_ms: num(row.E_WAIT_MS),
    blocking_query_id: text(row.E_BLOCKING_QUERY_ID),
    blocking_transaction_id: idText(row.E_BLOCKING_TRANSACTION_ID),
    lock_type: text(row.E_LOCK_TYPE),
    object_id: idText(row.E_OBJECT_ID),
    object_name: text(row.E_OBJECT_NAME),
    holder_acquired_at: iso(row.E_LOCK_ACQUIRED_AT as Date | null),
  };
}

export async function lockContention(
  services: Services,
  testId: string,
  options: { limit?: number; cursor?: string } = {},
): Promise<LockContention> {
  const limit = options.limit ?? DEFAULT_EVENT_PAGE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_EVENT_PAGE) throw new HttpProblem(400, `limit must be an integer from 1 to ${MAX_EVENT_PAGE}`);
  const after = options.cursor !== undefined ? decodeEventCursor(options.cursor, testId) : null;
  const binds: BindValue[] = [testId, testId, testId, testId, testId];
  if (after) binds.push(after.at, after.at, after.eventId);
  // One row more than the page says whether another follows.
  return cachedTestAnswer(services, testId, lockText(after !== null, limit + 1), binds, (rows, now) => shapeLockContention(testId, rows, limit, now));
}

function shapeLockContention(testId: string, rows: Row[], limit: number, now: Date): LockContention {
  const head = readHead(testId, rows[0]);
  const availability = typeAvailability(head, 'LOCK_CONTENTION', now);
  const base = { test_id: testId, status: availability.status, expected_at: availability.expected_at, minutes_remaining: availability.minutes_remaining, reason: availability.reason, availability };
  if (availability.status !== 'COMPLETED') return { ...base, summary: null, events: [], next_cursor: null };
  const first = rows[0]!;
  const summary: LockSummary = {
    lock_wait_count: num(first.WAIT_COUNT) ?? 0,
    total_wait_ms: num(first.TOTAL_WAIT_MS),
    avg_wait_ms: num(first.AVG_WAIT_MS),
    max_wait_ms: num(first.MAX_WAIT_MS),
    waits_without_duration: num(first.WAITS_WITHOUT_DURATION) ?? 0,
    first_lock_wait: iso(first.FIRST_WAIT as Date | null),
    last_lock_wait: iso(first.LAST_WAIT as Date | null),
    unique_blockers: num(first.UNIQUE_BLOCKERS) ?? 0,
    unidentified_blockers: num(first.UNIDENTIFIED_BLOCKERS) ?? 0,
    blocker_rows: num(first.BLOCKER_ROWS) ?? 0,
    affected_objects: num(first.AFFECTED_OBJECTS) ?? 0,
  };
  const eventRows = rows.filter((row) => row.E_EVENT_ID !== null && row.E_EVENT_ID !== undefined);
  const events = eventRows.slice(0, limit).map(eventOf);
  const lastRow = eventRows[limit - 1];
  const next =
    eventRows.length > limit && lastRow && lastRow.E_REQUESTED_AT instanceof Date
      ? encodeEventCursor(lastRow.E_REQUESTED_AT, String(lastRow.E_EVENT_ID), testId)
      : null;
  return { ...base, summary, events, next_cursor: next };
}
