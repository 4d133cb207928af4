// The jobs API under /api/enrichment: list (V_DELAYED_ENRICHMENT_STATUS, filters, cursor pages), one
// job's detail, cancel, retry, backfill and queue stats. Reads live in src/results/jobs.ts, changes in
// src/queue/operations.ts, stats in src/queue/stats.ts (always through the services.queueStats cache).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { problemResponses } from '../src/http/problem.js';
import { JOB_STATUSES } from '../src/queue/job-state.js';
import { BACKFILL_LIMIT, backfill, cancelJob, retryJob } from '../src/queue/operations.js';
import { ENRICHMENT_TYPES, TABLE_TYPES } from '../src/queue/plan.js';
import { THRESHOLDS, type FigureName, type Level } from '../src/queue/stats.js';
import { DEFAULT_PAGE_SIZE, DEFAULT_RECENT_JOBS, MAX_PAGE_SIZE, MAX_RECENT_JOBS, jobDetail, listJobs, recentJobs } from '../src/results/jobs.js';
import { Nullable } from '../src/http/schemas.js';

/** A string from a fixed list, validated with an error that lists the allowed values. */
function StringEnum<T extends readonly string[]>(values: T, options: { description?: string } = {}) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

const Id = Type.String({ minLength: 1, maxLength: 36 });
const Time = Type.String({ format: 'date-time' });
const JobParams = Type.Object({ job_id: Id }, { additionalProperties: false });

/** Mutating routes: enough for an operator and the UI's retry button, not for a runaway script. */
const MUTATION_RATE_LIMIT = { max: 120, timeWindow: '1 minute' };
const BACKFILL_RATE_LIMIT = { max: 20, timeWindow: '1 minute' };

const ListQuery = Type.Object(
  {
    status: Type.Optional(StringEnum(JOB_STATUSES)),
    test_id: Type.Optional(Id),
    run_id: Type.Optional(Id),
    table_type: Type.Optional(StringEnum(TABLE_TYPES)),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 400, description: 'next_cursor of the previous page (same filters).' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE, description: `Page size (default ${DEFAULT_PAGE_SIZE}, at most ${MAX_PAGE_SIZE}).` })),
  },
  { additionalProperties: false },
);

/** Which job and test a job entry describes, first in every job shape (results/jobs.ts, jobIdentity). */
const JOB_IDENTITY = {
  job_id: Type.String(),
  test_id: Type.String(),
  run_id: Type.String(),
  test_name: Nullable(Type.String()),
  table_type: Type.String(),
  status: Type.String(),
};

const JobListItem = Type.Object({
  ...JOB_IDENTITY,
  test_end_time: Time,
  earliest_enrichment_time: Time,
  minutes_until_eligible: Type.Integer({ description: 'Minutes from now (the service clock) to the earliest due time; negative once past.' }),
  attempts: Type.Integer(),
  last_error: Nullable(Type.String()),
  claimed_by: Nullable(Type.String()),
  claimed_at: Nullable(Time),
  immediate_enrichment_status: Nullable(Type.String({ description: 'TEST_RESULTS.ENRICHMENT_STATUS (pass 1).' })),
  delayed_enrichment_status: Nullable(Type.String()),
});

const JobPage = Type.Object({
  jobs: Type.Array(JobListItem),
  next_cursor: Nullable(Type.String({ description: 'Pass as `cursor` for the next page; null on the last page.' })),
});

const TypeDetail = Type.Object({
  type: Type.String(),
  status: Type.String(),
  attempts: Type.Integer(),
  due_at: Time,
  rows: Nullable(Type.Integer({ description: 'Rows written by the completed run; null until the type completed.' })),
  last_error: Nullable(Type.String()),
  completed_at: Nullable(Time),
  not_ready_checks: Type.Integer({ description: 'Readiness checks that found the view behind (no attempt spent).' }),
});

const ErrorRecord = Type.Object({ type: Type.String(), attempt: Type.Integer(), at: Type.String(), error: Type.String(), retryable: Type.Boolean() });

const JobDetail = Type.Object({
  ...JOB_IDENTITY,
  priority: Type.Integer({ description: 'Lower runs first.' }),
  attempts: Type.Integer({ description: 'Attempts spent, summed over the types.' }),
  max_attempts_per_type: Type.Integer(),
  test_start_time: Nullable(Time),
  test_end_time: Time,
  earliest_enrichment_time: Nullable(Time),
  next_due_at: Nullable(Time),
  deadline_at: Nullable(Time),
  created_at: Nullable(Time),
  updated_at: Nullable(Time),
  last_attempt_at: Nullable(Time),
  completed_at: Nullable(Time),
  last_error: Nullable(Type.String()),
  lease: Type.Object({
    claimed_by: Nullable(Type.String()),
    claimed_at: Nullable(Time),
    expires_at: Nullable(Time),
    held: Type.Boolean({ description: 'A claim holds the job now.' }),
    expired: Type.Boolean({ description: 'That claim is past its lease: any instance may reclaim the job.' }),
  }),
  types: Type.Array(TypeDetail),
  error_history: Type.Array(ErrorRecord),
});

const RecentQuery = Type.Object(
  {
    status: Type.Optional(StringEnum(JOB_STATUSES)),
    limit: Type.Optional(
      Type.Integer({ minimum: 1, maximum: MAX_RECENT_JOBS, default: DEFAULT_RECENT_JOBS, description: `Jobs (default ${DEFAULT_RECENT_JOBS}, at most ${MAX_RECENT_JOBS}).` }),
    ),
  },
  { additionalProperties: false },
);

const RecentJob = Type.Object({
  ...JOB_IDENTITY,
  attempts: Type.Integer({ description: 'Attempts spent, summed over the types.' }),
  last_error: Nullable(Type.String()),
  test_end_time: Time,
  next_due_at: Nullable(Time, { description: 'Earliest due time among the unfinished types.' }),
  updated_at: Nullable(Time, { description: 'When the job last changed; the list is newest first.' }),
  completed_at: Nullable(Time),
  types: Type.Array(TypeDetail),
});

const RecentJobs = Type.Object({ at: Time, jobs: Type.Array(RecentJob) });

const OperationResult = Type.Object({ job_id: Type.String(), status: Type.String(), types: Type.Array(Type.String()) });

const RetryBody = Type.Union([
  Type.Object(
    { types: Type.Optional(Type.Array(StringEnum(ENRICHMENT_TYPES), { minItems: 1, maxItems: 5, description: 'Only these failed types (default: every failed type).' })) },
    { additionalProperties: false },
  ),
  Type.Null(),
]);

const BackfillBody = Type.Object(
  {
    from: Time,
    to: Time,
    table_types: Type.Optional(Type.Array(StringEnum(TABLE_TYPES), { minItems: 1, maxItems: TABLE_TYPES.length })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: BACKFILL_LIMIT, description: `At most this many tests per call (default and cap ${BACKFILL_LIMIT}).` })),
    dry_run: Type.Optional(Type.Boolean({ description: 'Count only; enqueue nothing.' })),
  },
  { additionalProperties: false },
);

const BackfillResult = Type.Object({
  dry_run: Type.Boolean(),
  eligible: Type.Integer({ description: 'Tests in [from, to) without a delayed status (and of the table types asked for).' }),
  beyond_retention: Type.Integer({ description: 'Of those, older than the views retention: they end NOT_APPLICABLE.' }),
  enqueued: Type.Integer(),
  not_applicable: Type.Integer(),
  more: Type.Boolean({ description: 'More eligible tests than this call handles: call again.' }),
  limit: Type.Integer(),
  table_types: Nullable(Type.Array(Type.String())),
});

const LevelSchema = StringEnum(['ok', 'warning', 'critical', 'unknown'] as const);
const FIGURE_NAMES = Object.keys(THRESHOLDS) as FigureName[];
const Figure = Type.Object({
  value: Nullable(Type.Number({ description: 'null: no data to compute it from (never an invented 0).' })),
  level: LevelSchema,
  warning: Type.Number(),
  critical: Type.Number(),
  why: Type.String(),
});

const StatsResponse = Type.Object({
  at: Time,
  level: StringEnum(['ok', 'warning', 'critical', 'unknown'] as const, {
    description: 'The worst level among the figures; unknown figures do not raise it (unknown only when every figure is).',
  }),
  depth_by_status: Type.Record(Type.String(), Type.Integer()),
  ready: Type.Integer({ description: 'Pending jobs whose next type is due now.' }),
  deferred: Type.Integer({ description: 'Pending jobs whose next type is due later.' }),
  figures: Type.Object(Object.fromEntries(FIGURE_NAMES.map((name) => [name, Figure])) as Record<FigureName, typeof Figure>),
});

const RANK: Record<Level, number> = { unknown: -1, ok: 0, warning: 1, critical: 2 };

function worst(levels: Level[]): Level {
  return levels.reduce<Level>((best, level) => (RANK[level] > RANK[best] ? level : best), 'unknown');
}

const jobsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/api/enrichment/jobs',
    {
      schema: {
        summary: 'List delayed-enrichment jobs (V_DELAYED_ENRICHMENT_STATUS), oldest eligibility first',
        tags: ['jobs'],
        querystring: ListQuery,
        response: { 200: JobPage, ...problemResponses(400) },
      },
    },
    async (request) => listJobs(app.services, request.query),
  );

  app.get(
    '/api/enrichment/recent-jobs',
    {
      schema: {
        summary: 'The most recently changed jobs, newest first, with per-type status and due times (the dashboard job list)',
        tags: ['jobs'],
        querystring: RecentQuery,
        response: { 200: RecentJobs, ...problemResponses(400) },
      },
    },
    async (request) => recentJobs(app.services, request.query),
  );

  app.get(
    '/api/enrichment/jobs/:job_id',
    {
      schema: {
        summary: 'One job: per-type status, attempts, due times, lease and error history',
        tags: ['jobs'],
        params: JobParams,
        response: { 200: JobDetail, ...problemResponses(400, 404) },
      },
    },
    async (request) => jobDetail(app.services, request.params.job_id),
  );

  app.post(
    '/api/enrichment/jobs/:job_id/cancel',
    {
      config: { rateLimit: MUTATION_RATE_LIMIT },
      schema: {
        summary: 'Cancel a job: its unfinished types become SKIPPED and a running claim is aborted',
        tags: ['jobs'],
        params: JobParams,
        response: { 200: OperationResult, ...problemResponses(400, 404, 409, 429) },
      },
    },
    async (request) => cancelJob(app.services, request.params.job_id),
  );

  app.post(
    '/api/enrichment/jobs/:job_id/retry',
    {
      config: { rateLimit: MUTATION_RATE_LIMIT },
      schema: {
        summary: 'Retry a FAILED job, or the failed types of a COMPLETED one, with fresh attempts',
        tags: ['jobs'],
        params: JobParams,
        body: RetryBody,
        response: { 200: OperationResult, ...problemResponses(400, 404, 409, 429) },
      },
    },
    async (request) => retryJob(app.services, request.params.job_id, request.body?.types),
  );

  app.post(
    '/api/enrichment/backfill',
    {
      config: { rateLimit: BACKFILL_RATE_LIMIT },
      schema: {
        summary: 'Enqueue tests without a delayed status in [from, to), at low priority (dry_run: count only)',
        tags: ['jobs'],
        body: BackfillBody,
        response: { 200: BackfillResult, ...problemResponses(400, 429) },
      },
    },
    async (request) => {
      const { from, to, table_types: tableTypes, limit, dry_run: dryRun } = request.body;
      return backfill(app.services, {
        from: new Date(from),
        to: new Date(to),
        ...(tableTypes !== undefined ? { tableTypes } : {}),
        ...(limit !== undefined ? { limit } : {}),
        ...(dryRun !== undefined ? { dryRun } : {}),
      });
    },
  );

  app.get(
    '/api/enrichment/stats',
    {
      schema: {
        summary: 'Queue health: depth, ready vs deferred, and the alerting figures with warning/critical levels',
        tags: ['jobs'],
        response: { 200: StatsResponse },
      },
    },
    async () => {
      // Cached (STATS_CACHE_SECONDS, invalidated by this instance's changes): never queueStats() directly.
      const stats = await app.services.queueStats.get();
      const figures = Object.fromEntries(FIGURE_NAMES.map((name) => [name, { ...stats.figures[name], why: THRESHOLDS[name].why }])) as Record<
        FigureName,
        (typeof stats.figures)[FigureName] & { why: string }
      >;
      return {
        at: stats.at,
        level: worst(FIGURE_NAMES.map((name) => stats.figures[name].level)),
        depth_by_status: stats.depth_by_status,
        ready: stats.ready,
        deferred: stats.deferred,
        figures,
      };
    },
  );
};

export default jobsRoutes;
