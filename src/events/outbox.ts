// The events outbox: every state change appends a row to ENRICHMENT_EVENTS in the same transaction as
// the change (SEQ comes from a sequence, so it rises). Statements here are built so they can be placed
// inside a fenced batch: `condition` makes the insert happen only while the writer still holds its claim.
import type { BindValue, JsonObject, Row, Statement, Warehouse } from '../db/warehouse.js';
import { limitClause } from '../db/limit.js';
import { FENCED_ROWS_FROM, ROWS_FROM, rowOf, rowSetStatement, textOf, timestampOf, variantOf } from '../db/row-set.js';
import { sql, sqlSample } from '../db/sql-registry.js';

export const EVENT_TYPES = [
  'job_enqueued',
  'job_claimed',
  'enrichment_progress',
  'enrichment_not_ready',
  'enrichment_complete',
  'enrichment_failed',
  'job_cancelled',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface EnrichmentEvent {
  type: EventType;
  at: Date;
  job_id: string | null;
  test_id: string | null;
  run_id: string | null;
  enrichment_type?: string | null;
  payload?: JsonObject;
}

/** A committed event as stored (with its sequence number). */
export interface StoredEvent extends EnrichmentEvent {
  seq: number;
}

const INSERT_EVENT = sql(
  'events.insert',
  `INSERT INTO ENRICHMENT_EVENTS (EVENT_TYPE, OCCURRED_AT, JOB_ID, TEST_ID, RUN_ID, ENRICHMENT_TYPE, PAYLOAD)
SELECT ?, CAST(? AS TIMESTAMP_NTZ), ?, ?, ?, ?, PARSE_JSON(?)`,
);

// Fenced, as a row-set statement (db/row-set.ts): one statement for all of a claim's events, or for the
// events of every claim a merged write carries; a row is written only while its job still carries its claim.
// ORDER BY keeps SEQ (the sequence default) in the events' order.
const EVENT_COLUMNS = `${textOf('type')}, ${timestampOf('at')}, ${textOf('job_id')}, ${textOf('test_id')}, ${textOf('run_id')}`;
const INSERT_EVENTS_FENCED = sql(
  'events.insert_fenced',
  `INSERT INTO ENRICHMENT_EVENTS (EVENT_TYPE, OCCURRED_AT, JOB_ID, TEST_ID, RUN_ID, ENRICHMENT_TYPE, PAYLOAD)
SELECT ${EVENT_COLUMNS}, ${textOf('enrichment_type')}, ${variantOf('payload')}
FROM ${FENCED_ROWS_FROM}
ORDER BY r.INDEX`,
);

// Conditional on the job existing (enqueue: only when this request's insert happened).
const INSERT_EVENT_IF_JOB = sql(
  'events.insert_if_job',
  `INSERT INTO ENRICHMENT_EVENTS (EVENT_TYPE, OCCURRED_AT, JOB_ID, TEST_ID, RUN_ID, ENRICHMENT_TYPE, PAYLOAD)
SELECT ?, CAST(? AS TIMESTAMP_NTZ), ?, ?, ?, ?, PARSE_JSON(?)
FROM (SELECT 1 AS ONE) AS ONE_ROW
WHERE EXISTS (SELECT 1 FROM DELAYED_ENRICHMENT_QUEUE WHERE JOB_ID = ?)`,
);

// Many events, each written only when its job exists (a batch enqueue: the jobs its insert created), as one
// JSON bind of rows (db/row-set.ts), in the order given.
const INSERT_EVENTS_IF_JOBS = sql(
  'events.insert_many_if_jobs',
  `INSERT INTO ENRICHMENT_EVENTS (EVENT_TYPE, OCCURRED_AT, JOB_ID, TEST_ID, RUN_ID, ENRICHMENT_TYPE, PAYLOAD)
SELECT ${EVENT_COLUMNS}, ${textOf('enrichment_type')}, ${variantOf('payload')}
FROM (SELECT r.INDEX AS INDEX, r.VALUE AS VALUE FROM ${ROWS_FROM}) r
JOIN DELAYED_ENRICHMENT_QUEUE q ON q.JOB_ID = ${textOf('job_id')}
ORDER BY r.INDEX`,
);

function eventBinds(event: EnrichmentEvent): BindValue[] {
  return [
    event.type,
    event.at,
    event.job_id,
    event.test_id,
    event.run_id,
    event.enrichment_type ?? null,
    event.payload ?? {},
  ];
}

export function insertEvent(event: EnrichmentEvent): Statement {
  return { sql: INSERT_EVENT, binds: eventBinds(event) };
}

/** The row of an event written under the claim `claimId` of job `jobId` (keys as the fenced inserts read them). */
function eventRow(event: EnrichmentEvent, jobId: string, claimId: string, extra: Record<string, string> = {}): JsonObject {
  return rowOf(
    { job: jobId, claim: claimId, type: event.type, at: event.at, job_id: event.job_id, test_id: event.test_id, run_id: event.run_id, enrichment_type: event.enrichment_type ?? null, ...extra },
    { payload: event.payload ?? {} },
  );
}

/** The events, in order, inserted only while JOB_ID still carries CLAIM_ID (inside a fenced batch). */
export function insertEventsFenced(events: readonly EnrichmentEvent[], jobId: string, claimId: string): Statement {
  return rowSetStatement(INSERT_EVENTS_FENCED, events.map((event) => eventRow(event, jobId, claimId)));
}

/** Inserted only when job `jobId` exists (after a conditional insert of that job in the same batch). */
export function insertEventIfJob(event: EnrichmentEvent, jobId: string): Statement {
  return { sql: INSERT_EVENT_IF_JOB, binds: [...eventBinds(event), jobId] };
}

/** One statement for many events, each inserted only when its job exists (see INSERT_EVENTS_IF_JOBS). */
export function insertEventsIfJobs(events: readonly EnrichmentEvent[]): Statement {
  const rows = events.map((event) => {
    if (event.job_id === null) throw new Error(`event ${event.type} has no job: it cannot be written conditional on its job`);
    return rowOf(
      { type: event.type, at: event.at, job_id: event.job_id, test_id: event.test_id, run_id: event.run_id, enrichment_type: event.enrichment_type ?? null },
      { payload: event.payload ?? {} },
    );
  });
  return { sql: INSERT_EVENTS_IF_JOBS, binds: [JSON.stringify(rows)] };
}

// The job-level completion event carries the test's summary as FlakeBench streams it (api.md). It is the
// last insert of the claim's final batch, after the types' summary writes, and reads them in SQL, so
// the stored event holds the committed values. FlakeBench's TEST_RESULTS has no key, so a test stored twice
// is read as one row (LIMIT 1): one event, never two. The JSON is assembled by concatenation because the two
// engines name their object constructors differently (OBJECT_CONSTRUCT / json_object).
const SUMMARY_JSON = `'{"delayed_status":' || COALESCE('"' || tr.DELAYED_ENRICHMENT_STATUS || '"', 'null')
  || ',"aggregate_status":' || COALESCE('"' || tr.AGGREGATE_ENRICHMENT_STATUS || '"', 'null')
  || ',"throttled_query_count":' || COALESCE(TO_VARCHAR(tr.THROTTLED_QUERY_COUNT), 'null')
  || ',"hybrid_credits_used":' || COALESCE(TO_VARCHAR(tr.HYBRID_CREDITS_USED), 'null')
  || ',"lock_wait_count":' || COALESCE(TO_VARCHAR(tr.LOCK_WAIT_COUNT), 'null')
  || ',"query_insights_count":' || COALESCE(TO_VARCHAR(tr.QUERY_INSIGHTS_COUNT), 'null')
  || ',"query_insights_high_severity_count":' || COALESCE(TO_VARCHAR(tr.QUERY_INSIGHTS_HIGH_SEVERITY_COUNT), 'null')
  || '}'`;

// One stored TEST_RESULTS row per event (QUALIFY keeps the first of a test stored twice; none: the summary's
// values are null), the event itself only while its claim holds.
const INSERT_SUMMARY_EVENTS_FENCED = sql(
  'events.insert_summary_fenced',
  `INSERT INTO ENRICHMENT_EVENTS (EVENT_TYPE, OCCURRED_AT, JOB_ID, TEST_ID, RUN_ID, ENRICHMENT_TYPE, PAYLOAD)
SELECT ${EVENT_COLUMNS}, NULL, PARSE_JSON(${textOf('prefix')} || ${SUMMARY_JSON} || '}')
FROM ${FENCED_ROWS_FROM}
LEFT JOIN TEST_RESULTS tr ON tr.TEST_ID = ${textOf('test_id')} AND tr.RUN_ID = ${textOf('run_id')}
QUALIFY ROW_NUMBER() OVER (PARTITION BY r.INDEX ORDER BY r.INDEX) = 1
ORDER BY r.INDEX`,
);

/**
 * The completion event with `payload.summary` read from TEST_RESULTS when the statement runs (place it
 * after the summary writes). The in-process bus gets the event without the summary: subscribers that
 * need it read the stored row (readEventsAfter), which also gives them SEQ.
 */
export function insertSummaryEventFenced(event: EnrichmentEvent, jobId: string, claimId: string): Statement {
  const json = JSON.stringify(event.payload ?? {});
  const prefix = `${json.slice(0, -1)}${json === '{}' ? '' : ','}"summary":`;
  return rowSetStatement(INSERT_SUMMARY_EVENTS_FENCED, [eventRow(event, jobId, claimId, { prefix })]);
}

/** One replay read returns at most this many events. */
export const MAX_EVENTS_PAGE = 1000;

/** Binds: [seq]; the page size is written into the text (db/limit.ts). */
function eventsAfterText(limit: number): string {
  return `SELECT SEQ, EVENT_TYPE, OCCURRED_AT, JOB_ID, TEST_ID, RUN_ID, ENRICHMENT_TYPE, PAYLOAD
FROM ENRICHMENT_EVENTS WHERE SEQ > ? ORDER BY SEQ ${limitClause(limit, MAX_EVENTS_PAGE)}`;
}
sqlSample('events.after', eventsAfterText(MAX_EVENTS_PAGE));

/** Committed events after `seq`, oldest first (replay after a reconnect). */
export async function readEventsAfter(warehouse: Warehouse, seq: number, limit = MAX_EVENTS_PAGE): Promise<StoredEvent[]> {
  const rows = await warehouse.query(eventsAfterText(limit), [seq]);
  return rows.map(toStoredEvent);
}

export function toStoredEvent(row: Row): StoredEvent {
  return {
    seq: Number(row.SEQ),
    type: row.EVENT_TYPE as EventType,
    at: row.OCCURRED_AT as Date,
    job_id: (row.JOB_ID as string | null) ?? null,
    test_id: (row.TEST_ID as string | null) ?? null,
    run_id: (row.RUN_ID as string | null) ?? null,
    enrichment_type: (row.ENRICHMENT_TYPE as string | null) ?? null,
    payload: (row.PAYLOAD as JsonObject | null) ?? {},
  };
}

const EVENT_BOUNDS = sql('events.bounds', `SELECT MIN(SEQ) AS OLDEST, MAX(SEQ) AS LATEST FROM ENRICHMENT_EVENTS`);

/** The oldest and latest SEQ still stored (null when the outbox is empty): the WebSocket resume range. */
export async function readEventBounds(warehouse: Warehouse): Promise<{ oldest: number | null; latest: number | null }> {
  const [row] = await warehouse.query(EVENT_BOUNDS);
  const asSeq = (value: unknown) => (value === null || value === undefined ? null : Number(value));
  return { oldest: asSeq(row?.OLDEST), latest: asSeq(row?.LATEST) };
}
