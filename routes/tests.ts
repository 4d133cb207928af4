// Per-test routes under /api/tests/{test_id}: delayed-enrichment status, retry, server metrics, lock
// contention, hybrid credits, query insights and purge. JSON by default; the HTML partial of the same data
// when the request asks for it (`HX-Request: true`, or Accept preferring text/html). Errors stay JSON
// problem bodies for every client (HTMX does not swap 4xx answers; FlakeBench reads `detail`).
// Reads, shaping and HTML live in src/results/; this file maps HTTP.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type TSchema } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HttpProblem, problemResponses } from '../src/http/problem.js';
import { Nullable } from '../src/http/schemas.js';
import { AVAILABILITY_STATES, TEST_ID_MAX_LENGTH } from '../src/results/availability.js';
import { clientLatencies, RECORDED_OPERATIONS } from '../src/results/client-latencies.js';
import { hybridCredits } from '../src/results/hybrid-credits.js';
import { DEFAULT_EVENT_PAGE, MAX_EVENT_PAGE, lockContention } from '../src/results/lock-contention.js';
import {
  hybridCreditsPartial,
  lockContentionPartial,
  purgePartial,
  queryInsightsPartial,
  retryPartial,
  serverMetricsPartial,
  statusPartial,
  wantsHtml,
} from '../src/results/partials.js';
import { queryInsights } from '../src/results/query-insights.js';
import { serverMetrics } from '../src/results/server-metrics.js';
import { delayedEnrichmentStatus, purgeTest, retryTestEnrichment } from '../src/results/test-status.js';

const Time = Type.String({ format: 'date-time' });
const NTime = Nullable(Time);
const NNumber = Nullable(Type.Number());
const NInt = Nullable(Type.Integer());
const NString = Nullable(Type.String());

const Params = Type.Object(
  { test_id: Type.String({ minLength: 1, maxLength: TEST_ID_MAX_LENGTH, description: 'TEST_RESULTS.TEST_ID' }) },
  { additionalProperties: false },
);

const State = Type.Unsafe<(typeof AVAILABILITY_STATES)[number]>({
  type: 'string',
  enum: [...AVAILABILITY_STATES],
  description:
    'PENDING / IN_PROGRESS / COMPLETED (possibly zero rows) / NOT_APPLICABLE / FAILED; SKIPPED: the job was cancelled; NOT_QUEUED: the test exists but has no delayed-enrichment job.',
});

const ExpectedAt = Nullable(Time, { description: 'When the data is expected (the due time) while PENDING or IN_PROGRESS; null otherwise.' });
const MinutesRemaining = Nullable(Type.Integer({ minimum: 0 }), {
  description: 'Minutes from the service clock until expected_at; 0 once due; null when nothing is expected.',
});

const TypeAvailability = Type.Object({
  type: Type.String(),
  status: State,
  expected_at: ExpectedAt,
  minutes_remaining: MinutesRemaining,
  reason: NString,
  attempts: NInt,
  due_at: NTime,
  rows: NInt,
  last_error: NString,
  completed_at: NTime,
});

const TypeStatus = Type.Object({
  type: Type.String(),
  status: State,
  attempts: NInt,
  due_at: NTime,
  expected_at: ExpectedAt,
  minutes_remaining: MinutesRemaining,
  rows: Nullable(Type.Integer(), { description: 'Rows written by the completed run; null until the type completed.' }),
  last_error: NString,
  reason: NString,
  completed_at: NTime,
});

const STATUS_EXAMPLE = {
  test_id: '6f1c2a9e-4b7d-4e21-9a55-0c3d8e7f1a22',
  test_name: 'hybrid point lookups, 32 connections',
  table_type: 'HYBRID',
  status: 'PENDING',
  queue_status: 'PENDING',
  job_id: 'b0e3f0c4-1d2a-4c6e-8f7a-9e5d4c3b2a10',
  earliest_enrichment_time: '2026-02-10T14:50:00.000Z',
  next_due_at: '2026-02-10T17:15:00.000Z',
  expected_at: '2026-02-10T17:15:00.000Z',
  minutes_remaining: 95,
  enrichment_types: ['QUERY_HISTORY', 'AGGREGATE', 'LOCK_CONTENTION', 'HYBRID_CREDITS', 'QUERY_INSIGHTS'],
  completed_types: ['QUERY_HISTORY'],
  completed_at: null,
  last_error: null,
  attempts: 1,
  types: [
    { type: 'QUERY_HISTORY', status: 'COMPLETED', attempts: 1, due_at: '2026-02-10T14:50:00.000Z', expected_at: null, minutes_remaining: null, rows: 4812, last_error: null, reason: null, completed_at: '2026-02-10T14:51:02.000Z' },
    { type: 'AGGREGATE', status: 'PENDING', attempts: 0, due_at: '2026-02-10T17:15:00.000Z', expected_at: '2026-02-10T17:15:00.000Z', minutes_remaining: 95, rows: null, last_error: null, reason: null, completed_at: null },
  ],
};

const StatusResponse = Type.Object(
  {
    test_id: Type.String(),
    test_name: NString,
    table_type: NString,
    status: Type.Unsafe<string>({ ...State, description: "The test's delayed-enrichment status: the job's status when it has one, else TEST_RESULTS.DELAYED_ENRICHMENT_STATUS, else NOT_APPLICABLE (POSTGRES) or NOT_QUEUED." }),
    queue_status: Nullable(Type.String(), { description: 'DELAYED_ENRICHMENT_QUEUE.STATUS of the latest job; null without a job.' }),
    job_id: NString,
    earliest_enrichment_time: NTime,
    next_due_at: Nullable(Time, { description: 'Earliest due time among the unfinished types.' }),
    expected_at: Nullable(Time, { description: 'Latest due time among the unfinished types: when all data is expected.' }),
    minutes_remaining: MinutesRemaining,
    enrichment_types: Type.Array(Type.String()),
    completed_types: Type.Array(Type.String()),
    completed_at: NTime,
    last_error: NString,
    attempts: Type.Integer(),
    types: Type.Array(TypeStatus),
  },
  { examples: [STATUS_EXAMPLE] },
);

const RETRY_EXAMPLE = {
  test_id: '6f1c2a9e-4b7d-4e21-9a55-0c3d8e7f1a22',
  job_id: 'b0e3f0c4-1d2a-4c6e-8f7a-9e5d4c3b2a10',
  status: 'PENDING',
  message: 'Retry queued for AGGREGATE; due now',
  types: ['AGGREGATE'],
};
const RetryResponse = Type.Object(
  { test_id: Type.String(), job_id: Type.String(), status: Type.Literal('PENDING'), message: Type.String(), types: Type.Array(Type.String()) },
  { examples: [RETRY_EXAMPLE] },
);

const Pattern = Type.Object({
  hash: Type.String(),
  query_count: Type.Integer(),
  errors_count: Type.Integer(),
  exec_avg_ms: NNumber,
  exec_min_ms: NNumber,
  exec_median_ms: NNumber,
  exec_p90_ms: NNumber,
  exec_p95_ms: NNumber,
  exec_p99_ms: NNumber,
  exec_max_ms: NNumber,
  compile_avg_ms: NNumber,
  compile_max_ms: NNumber,
  queued_overload_avg_ms: NNumber,
  queued_overload_max_ms: NNumber,
  queued_provisioning_avg_ms: NNumber,
  queued_provisioning_max_ms: NNumber,
  throttled_requests: NInt,
  percentile_method: NString,
});

const AggregateMetrics = Type.Object(
  {
    unique_query_patterns: Type.Integer(),
    total_queries: Type.Integer(),
    total_exec_ms: NNumber,
    exec_avg_ms: Nullable(Type.Number(), { description: 'Σ execution time / Σ queries.' }),
    exec_min_ms: NNumber,
    exec_median_ms: Nullable(Type.Number(), { description: 'Test-level estimate across all patterns (AGGREGATE_TEST_METRICS).' }),
    exec_p90_ms: NNumber,
    exec_p95_ms: NNumber,
    exec_p99_ms: NNumber,
    exec_p999_ms: NNumber,
    exec_max_ms: NNumber,
    worst_p95_exec_ms: Nullable(Type.Number(), { description: "The worst pattern's p95 (V_AGGREGATE_QUERY_STATS)." }),
    worst_p99_exec_ms: NNumber,
    compile_avg_ms: NNumber,
    compile_min_ms: NNumber,
    compile_max_ms: NNumber,
    queued_overload_avg_ms: NNumber,
    queued_overload_max_ms: NNumber,
    queued_provisioning_avg_ms: NNumber,
    queued_provisioning_max_ms: NNumber,
    total_throttled_requests: Type.Integer(),
    total_errors: Type.Integer(),
    interval_start: NTime,
    interval_end: NTime,
    patterns: Type.Array(Pattern),
    patterns_truncated: Type.Boolean(),
  },
  { description: "FlakeBench's aggregate_metrics shape (plus a few fields)." },
);

const SERVER_METRICS_EXAMPLE = {
  test_id: '6f1c2a9e-4b7d-4e21-9a55-0c3d8e7f1a22',
  status: 'COMPLETED',
  expected_at: null,
  minutes_remaining: null,
  reason: null,
  percentile_method: 'ORDER_STATISTICS_EM',
  aggregate_metrics: {
    unique_query_patterns: 2,
    total_queries: 48120,
    total_exec_ms: 201904.2,
    exec_avg_ms: 4.196,
    exec_min_ms: 0.9,
    exec_median_ms: 3.1,
    exec_p90_ms: 7.4,
    exec_p95_ms: 9.8,
    exec_p99_ms: 18.2,
    exec_p999_ms: 41.0,
    exec_max_ms: 120.5,
    worst_p95_exec_ms: 14.3,
    worst_p99_exec_ms: 25.9,
    compile_avg_ms: 1.2,
    compile_min_ms: 0.4,
    compile_max_ms: 9.1,
    queued_overload_avg_ms: 0.1,
    queued_overload_max_ms: 12.0,
    queued_provisioning_avg_ms: 0,
    queued_provisioning_max_ms: 0,
    total_throttled_requests: 17,
    total_errors: 3,
    interval_start: '2026-02-10T13:40:00.000Z',
    interval_end: '2026-02-10T14:41:00.000Z',
    patterns_truncated: false,
    patterns: [
      { hash: '9f2c1b7a0d3e4f56a7b8c9d0e1f2a3b4', query_count: 40100, errors_count: 1, exec_avg_ms: 3.6, exec_min_ms: 0.9, exec_median_ms: 2.9, exec_p90_ms: 6.8, exec_p95_ms: 8.9, exec_p99_ms: 16.0, exec_max_ms: 80.2, compile_avg_ms: 1.1, compile_max_ms: 6.0, queued_overload_avg_ms: 0.1, queued_overload_max_ms: 12.0, queued_provisioning_avg_ms: 0, queued_provisioning_max_ms: 0, throttled_requests: 15, percentile_method: 'ORDER_STATISTICS_EM' },
    ],
  },
  availability: { type: 'AGGREGATE', status: 'COMPLETED', expected_at: null, minutes_remaining: null, reason: null, attempts: 1, due_at: '2026-02-10T17:15:00.000Z', rows: 2, last_error: null, completed_at: '2026-02-10T17:16:10.000Z' },
};

const Availability = {
  test_id: Type.String(),
  status: State,
  expected_at: ExpectedAt,
  minutes_remaining: MinutesRemaining,
  reason: Nullable(Type.String(), { description: 'Why the data is not (yet) there: not-applicable reason, error, view not ready.' }),
};

const ServerMetricsResponse = Type.Object(
  {
    ...Availability,
    percentile_method: NString,
    aggregate_metrics: Nullable(AggregateMetrics, { description: 'null until the AGGREGATE enrichment completed.' }),
    availability: TypeAvailability,
  },
  { examples: [SERVER_METRICS_EXAMPLE] },
);

const LockEvent = Type.Object({
  event_id: Type.String(),
  requested_at: NTime,
  query_id: NString,
  transaction_id: NString,
  wait_ms: Nullable(Type.Number(), { description: "The waiting query's TRANSACTION_BLOCKED_TIME; null when unknown." }),
  blocking_query_id: NString,
  blocking_transaction_id: NString,
  lock_type: NString,
  object_id: NString,
  object_name: Nullable(Type.String(), { description: "The locked table; for hybrid row locks (the view says ROW) the test's target table." }),
  holder_acquired_at: Nullable(Time, { description: 'ACQUIRED_AT: when the holder acquired the lock.' }),
});

const LockSummary = Type.Object({
  lock_wait_count: Type.Integer({ description: 'Distinct waits (not wait × blocker rows).' }),
  total_wait_ms: NNumber,
  avg_wait_ms: NNumber,
  max_wait_ms: NNumber,
  waits_without_duration: Type.Integer(),
  first_lock_wait: NTime,
  last_lock_wait: NTime,
  unique_blockers: Type.Integer({ description: 'Distinct blocking transactions (or queries) over every blocker of every wait.' }),
  unidentified_blockers: Type.Integer({ description: 'Blockers without a transaction or query id (Snowflake-internal or short hybrid blockers).' }),
  blocker_rows: Type.Integer({ description: 'Blockers over all waits (LOCK_WAIT_HISTORY rows × BLOCKER_QUERIES elements).' }),
  affected_objects: Type.Integer(),
});

const LockQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_EVENT_PAGE, default: DEFAULT_EVENT_PAGE, description: `Events per page (default ${DEFAULT_EVENT_PAGE}, at most ${MAX_EVENT_PAGE}).` })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 400, description: 'next_cursor of the previous page.' })),
  },
  { additionalProperties: false },
);

const LockResponse = Type.Object({
  ...Availability,
  summary: Nullable(LockSummary),
  events: Type.Array(LockEvent, { description: 'One row per lock wait (its first blocker in blocking_*), in REQUESTED_AT order.' }),
  next_cursor: NString,
  availability: TypeAvailability,
});

const CreditWindow = Type.Object({
  start_time: NTime,
  end_time: NTime,
  credits_used: NNumber,
  window_credits_used: NNumber,
  overlap_fraction: NNumber,
  overlapping_tests: NInt,
  requests_count: NInt,
  billed: Type.Boolean({ description: 'False for windows from 2026-03-01 on (stored per window): Snowflake stopped billing hybrid table requests.' }),
  requests_method: Nullable(Type.String(), { description: "How requests_count was counted: 'exact (whole minute buckets)' or 'estimated (pro-rata by overlap)'." }),
});

const CreditsResponse = Type.Object({
  ...Availability,
  total_credits: Nullable(Type.Number(), { description: 'Attributed credits; null (with a reason) unless there is usage to attribute — never 0 for "no data".' }),
  total_requests: NInt,
  target_table: NString,
  windows: Type.Array(CreditWindow),
  windows_truncated: Type.Boolean(),
  attribution: Type.Union([
    Type.Object({
      method: NString,
      overlap_fraction: NNumber,
      overlapping_tests: NInt,
      not_billed_since: Nullable(Time, { description: 'Set when some windows are not billed: Snowflake stopped billing hybrid table requests then.' }),
      requests_method: Nullable(Type.String(), { description: "'estimated (pro-rata by overlap)' when any window's requests were prorated." }),
      note: Type.String(),
    }),
    Type.Null(),
  ]),
  availability: TypeAvailability,
});

const Insight = Type.Object({
  insight_id: Type.String(),
  insight_type: Type.String(),
  category: NString,
  severity: NString,
  query_parameterized_hash: NString,
  query_id: NString,
  query_text: NString,
  recommendation: NString,
  suggestions: Type.Array(Type.String()),
  is_opportunity: Nullable(Type.Boolean()),
  affected_query_count: NInt,
  expires_at: NTime,
});

const InsightsResponse = Type.Object({
  ...Availability,
  counts: Type.Union([
    Type.Object({ total: Type.Integer(), HIGH: Type.Integer(), MEDIUM: Type.Integer(), LOW: Type.Integer(), affected_queries: Type.Integer() }),
    Type.Null(),
  ]),
  insights: Type.Array(Insight, { description: 'HIGH, then MEDIUM, then LOW; most affected queries first.' }),
  insights_truncated: Type.Boolean(),
  availability: TypeAvailability,
});

const PurgeResponse = Type.Object({
  test_id: Type.String(),
  job_id: NString,
  removed: Type.Record(Type.String(), Type.Integer(), { description: 'Rows deleted (or reset) per table.' }),
});

const OperationLatencies = Type.Object({ p50_ms: NNumber, p95_ms: NNumber, p99_ms: NNumber, min_ms: NNumber, max_ms: NNumber });

/** The properties of one latency distribution (LatencySummary in results/client-latencies.ts). */
const LATENCY_SUMMARY = {
  avg_ms: NNumber,
  min_ms: NNumber,
  p50_ms: NNumber,
  p90_ms: NNumber,
  p95_ms: NNumber,
  p99_ms: NNumber,
  max_ms: NNumber,
};

const LatencyGroup = Type.Object({
  query_kind: Nullable(Type.String(), { description: 'QUERY_EXECUTIONS.QUERY_KIND (POINT_LOOKUP, RANGE_SCAN, INSERT, UPDATE, ...).' }),
  hash: Nullable(Type.String(), { description: 'QUERY_PARAMETERIZED_HASH in the per-pattern groups (the server patterns use the same hash); null per kind.' }),
  executions: Type.Integer(),
  errors: Type.Integer(),
  ...LATENCY_SUMMARY,
});

const ClientLatenciesResponse = Type.Object({
  test_id: Type.String(),
  latency_column: Type.Literal('DURATION_MS'),
  percentile_method: Type.Literal('PERCENTILE_CONT'),
  recorded: Nullable(
    Type.Object({
      total_operations: NInt,
      failed_operations: NInt,
      ...LATENCY_SUMMARY,
      operations: Type.Record(Type.String(), OperationLatencies, {
        description: `FlakeBench's per-operation columns (${RECORDED_OPERATIONS.join(', ')}), only those it filled.`,
      }),
    }),
    { description: "TEST_RESULTS' summary (P50_LATENCY_MS ...) as FlakeBench wrote it; null without a TEST_RESULTS row." },
  ),
  by_kind: Type.Array(LatencyGroup, { description: 'Measurement-phase QUERY_EXECUTIONS (WARMUP not true) per QUERY_KIND, most executions first.' }),
  by_pattern: Type.Array(LatencyGroup, { description: 'The same per kind and QUERY_PARAMETERIZED_HASH; empty until QUERY_HISTORY wrote the hashes.' }),
  groups_truncated: Type.Boolean(),
  pattern_availability: TypeAvailability,
});

const Html = Type.String({ description: 'HTML partial (a fragment for hx-swap="innerHTML"): escaped, no <html> shell, no scripts.' });

/** 200 answers in both media types, so openapi.yaml lists the partial next to the JSON. */
const both = <T extends TSchema>(schema: T) => ({ content: { 'application/json': { schema }, 'text/html': { schema: Html } } });

const MUTATION_RATE_LIMIT = { max: 120, timeWindow: '1 minute' };

/** JSON, or the partial when the request asks for HTML; the answer varies with both headers. */
async function negotiate<T>(request: FastifyRequest, reply: FastifyReply, data: T, partial: (data: T) => string) {
  reply.header('vary', 'Accept, HX-Request');
  if (wantsHtml(request.headers)) return reply.type('text/html; charset=utf-8').send(partial(data));
  return reply.type('application/json; charset=utf-8').send(data);
}

const testsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const services = app.services;
  const now = () => services.clock.now();

  app.get(
    '/api/tests/:test_id/delayed-enrichment-status',
    {
      schema: {
        summary: "A test's delayed-enrichment status (FlakeBench UI contract) with per-type detail",
        tags: ['tests'],
        params: Params,
        response: { 200: both(StatusResponse), ...problemResponses(400, 404) },
      },
    },
    async (request, reply) => negotiate(request, reply, await delayedEnrichmentStatus(services, request.params.test_id), (data) => statusPartial(data, now())),
  );

  app.post(
    '/api/tests/:test_id/retry-delayed-enrichment',
    {
      config: { rateLimit: MUTATION_RATE_LIMIT },
      schema: {
        summary: "Retry a test's failed delayed enrichment (FlakeBench UI contract); 409 when it has not failed",
        tags: ['tests'],
        params: Params,
        response: { 200: both(RetryResponse), ...problemResponses(400, 401, 404, 409, 429) },
      },
    },
    async (request, reply) => negotiate(request, reply, await retryTestEnrichment(services, request.params.test_id), retryPartial),
  );

  app.get(
    '/api/tests/:test_id/server-metrics',
    {
      schema: {
        summary: "A test's server metrics from AGGREGATE_QUERY_HISTORY in FlakeBench's aggregate_metrics shape",
        tags: ['tests'],
        params: Params,
        response: { 200: both(ServerMetricsResponse), ...problemResponses(400, 404) },
      },
    },
    async (request, reply) => negotiate(request, reply, await serverMetrics(services, request.params.test_id), (data) => serverMetricsPartial(data, now())),
  );

  app.get(
    '/api/tests/:test_id/client-latencies',
    {
      schema: {
        summary: "The client-side latencies FlakeBench recorded (TEST_RESULTS summary, QUERY_EXECUTIONS per kind and pattern), next to the server metrics",
        tags: ['tests'],
        params: Params,
        response: { 200: ClientLatenciesResponse, ...problemResponses(400, 404) },
      },
    },
    async (request) => clientLatencies(services, request.params.test_id),
  );

  app.get(
    '/api/tests/:test_id/lock-contention',
    {
      schema: {
        summary: "A hybrid test's lock waits: summary over distinct waits and a page of events",
        tags: ['tests'],
        params: Params,
        querystring: LockQuery,
        response: { 200: both(LockResponse), ...problemResponses(400, 404) },
      },
    },
    async (request, reply) =>
      negotiate(
        request,
        reply,
        await lockContention(services, request.params.test_id, {
          ...(request.query.limit !== undefined ? { limit: request.query.limit } : {}),
          ...(request.query.cursor !== undefined ? { cursor: request.query.cursor } : {}),
        }),
        (data) => lockContentionPartial(data, now()),
      ),
  );

  app.get(
    '/api/tests/:test_id/hybrid-credits',
    {
      schema: {
        summary: "A hybrid test's attributed credits per usage window, with the attribution note",
        tags: ['tests'],
        params: Params,
        response: { 200: both(CreditsResponse), ...problemResponses(400, 404) },
      },
    },
    async (request, reply) => negotiate(request, reply, await hybridCredits(services, request.params.test_id), (data) => hybridCreditsPartial(data, now())),
  );

  app.get(
    '/api/tests/:test_id/query-insights',
    {
      schema: {
        summary: "A test's query insights, most severe first, with counts by severity",
        tags: ['tests'],
        params: Params,
        response: { 200: both(InsightsResponse), ...problemResponses(400, 404) },
      },
    },
    async (request, reply) => negotiate(request, reply, await queryInsights(services, request.params.test_id), (data) => queryInsightsPartial(data, now())),
  );

  app.delete(
    '/api/tests/:test_id/delayed-enrichment',
    {
      config: { rateLimit: MUTATION_RATE_LIMIT },
      schema: {
        summary: "Purge one test's enrichment data and job (needs API_TOKEN configured and presented)",
        tags: ['tests'],
        security: [{ bearer: [] }],
        params: Params,
        response: { 200: both(PurgeResponse), ...problemResponses(400, 401, 403, 404, 429) },
      },
    },
    async (request, reply) => {
      // Destructive: refused outright while no token is configured (the onRequest hook checks it otherwise).
      if (services.config.apiToken === undefined) {
        throw new HttpProblem(403, 'Purging a test needs API_TOKEN configured on the service (and sent as Authorization: Bearer <API_TOKEN>)');
      }
      return negotiate(request, reply, await purgeTest(services, request.params.test_id), purgePartial);
    },
  );
};

export default testsRoutes;
