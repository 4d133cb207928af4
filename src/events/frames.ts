// The /ws protocol's message shapes: parsing and validating what a client sends, and the frames the
// server sends (event frames from stored outbox rows, control frames). Nothing here touches a socket.
import type { JsonObject, JsonValue } from '../db/warehouse.js';
import type { StoredEvent } from './outbox.js';

/** Topics one socket may hold at once (a dashboard follows a handful of tests or runs). */
export const MAX_TOPICS_PER_SOCKET = 100;
/** Longest id after `test:` / `run:` (ids are VARCHAR(36) in the tables; some room for other id schemes). */
export const MAX_TOPIC_ID_LENGTH = 64;
/** Largest client message answered normally; larger ones get an error frame (the protocol cap is higher). */
export const MAX_MESSAGE_BYTES = 16 * 1024;

/**
 * Topics: `test:<id>` (events of that test), `run:<id>` (events of that run), `queue` (every event, since
 * every event belongs to a job, plus the periodic queue_stats frames). There is no `*` topic: `queue` is it.
 */
export type Topic = string;
export type ClientMessage =
  | { type: 'subscribe'; topics: Topic[] }
  | { type: 'unsubscribe'; topics: Topic[] }
  | { type: 'resume'; since: number };

export type Parsed = { ok: true; message: ClientMessage } | { ok: false; detail: string };

const fail = (detail: string): Parsed => ({ ok: false, detail });
const TOPIC_ID = /^[\x21-\x7e]+$/; // printable ASCII without spaces; ids never reach SQL, only Set lookups

/** Why `topic` is not a topic, or undefined when it is one. */
export function topicProblem(topic: unknown): string | undefined {
  if (typeof topic !== 'string') return `every topic must be a string (got ${topic === null ? 'null' : typeof topic})`;
  if (topic === 'queue') return undefined;
  const match = /^(test|run):(.*)$/s.exec(topic);
  const shown = topic.length > 40 ? `${JSON.stringify(topic.slice(0, 40))}…` : JSON.stringify(topic);
  if (!match) return `unknown topic ${shown}: use "test:<test_id>", "run:<run_id>" or "queue" (there is no "*" topic; "queue" carries every event)`;
  const id = match[2]!;
  if (id.length === 0) return `topic ${shown} has an empty id`;
  if (id.length > MAX_TOPIC_ID_LENGTH) return `topic ${shown} has an id longer than ${MAX_TOPIC_ID_LENGTH} characters`;
  if (!TOPIC_ID.test(id)) return `topic ${shown} has an id with spaces or non-printable characters`;
  return undefined;
}

/** Parses one client frame. Binary frames, bad JSON, unknown types and bad fields give a detail naming the problem. */
export function parseClientMessage(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): Parsed {
  if (isBinary) return fail('binary frames are not accepted: send JSON text frames');
  const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
  if (bytes.length > MAX_MESSAGE_BYTES) return fail(`message of ${bytes.length} bytes is larger than the ${MAX_MESSAGE_BYTES}-byte limit`);
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    return fail('message is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('message must be a JSON object with a "type"');
  const record = value as Record<string, unknown>;
  const type = record.type;
  if (type === undefined) return fail('message has no "type" (subscribe, unsubscribe or resume)');
  if (typeof type !== 'string') return fail('"type" must be a string (subscribe, unsubscribe or resume)');
  const allowed: Record<string, string[]> = { subscribe: ['type', 'topics'], unsubscribe: ['type', 'topics'], resume: ['type', 'since'] };
  const fields = allowed[type];
  if (!fields || !Object.hasOwn(allowed, type)) return fail(`unknown message type ${JSON.stringify(type.slice(0, 40))} (subscribe, unsubscribe or resume)`);
  const extra = Object.keys(record).find((key) => !fields.includes(key));
  if (extra !== undefined) return fail(`unexpected field ${JSON.stringify(extra.slice(0, 40))} in ${type} (allowed: ${fields.join(', ')})`);

  if (type === 'resume') {
    const since = record.since;
    if (since === undefined) return fail('resume needs "since": the seq of the last event the client has (0 for everything kept)');
    if (typeof since !== 'number' || !Number.isSafeInteger(since) || since < 0) return fail('"since" must be a non-negative integer seq');
    return { ok: true, message: { type, since } };
  }
  const topics = record.topics;
  if (!Array.isArray(topics)) return fail(`${type} needs "topics": an array of topic strings`);
  if (topics.length === 0) return fail(`${type} needs at least one topic`);
  if (topics.length > MAX_TOPICS_PER_SOCKET) return fail(`${topics.length} topics is more than the ${MAX_TOPICS_PER_SOCKET} a socket may hold`);
  for (const topic of topics) {
    const problem = topicProblem(topic);
    if (problem) return fail(problem);
  }
  return { ok: true, message: { type: type as 'subscribe' | 'unsubscribe', topics: [...new Set(topics as string[])] } };
}

/** Does an event belong to any of these topics? */
export function matchesTopics(event: Pick<StoredEvent, 'test_id' | 'run_id'>, topics: ReadonlySet<string>): boolean {
  if (topics.size === 0) return false;
  if (topics.has('queue')) return true;
  return (event.test_id !== null && topics.has(`test:${event.test_id}`)) || (event.run_id !== null && topics.has(`run:${event.run_id}`));
}

const isObject = (value: JsonValue | undefined): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The `data` of an event frame: the stored payload, with the job-level summary (stored under `summary`
 * with short keys) flattened into the field names FlakeBench streams. delayed_enrichment_completed_at
 * is the event's time: the same batch writes TEST_RESULTS.DELAYED_ENRICHMENT_COMPLETED_AT with it.
 */
export function eventData(event: StoredEvent): JsonObject {
  const payload = isObject(event.payload) ? event.payload : {};
  const { summary, ...rest } = payload;
  const data: JsonObject = { ...rest };
  if (event.enrichment_type) data.enrichment_type = event.enrichment_type;
  if (event.type === 'enrichment_progress' && typeof rest.status === 'string') data.outcome = rest.status;
  if (isObject(summary)) {
    data.delayed_enrichment_status = summary.delayed_status ?? null;
    data.delayed_enrichment_completed_at = event.at.toISOString();
    data.aggregate_enrichment_status = summary.aggregate_status ?? null;
    data.throttled_query_count = summary.throttled_query_count ?? null;
    data.hybrid_credits_used = summary.hybrid_credits_used ?? null;
    data.lock_wait_count = summary.lock_wait_count ?? null;
    data.query_insights_count = summary.query_insights_count ?? null;
    data.query_insights_high_severity_count = summary.query_insights_high_severity_count ?? null;
  }
  return data;
}

/** The frame of one stored event, encoded once and sent to every matching socket. */
export function encodeEvent(event: StoredEvent): Buffer {
  return Buffer.from(
    JSON.stringify({
      seq: event.seq,
      type: event.type,
      at: event.at.toISOString(),
      test_id: event.test_id,
      run_id: event.run_id,
      job_id: event.job_id,
      data: eventData(event),
    }),
  );
}

/** Control frames carry no seq (they are not outbox events). */
export const controlFrame = (type: string, fields: Record<string, unknown> = {}) => JSON.stringify({ type, ...fields });
export const errorFrame = (detail: string) => controlFrame('error', { detail });
