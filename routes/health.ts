// GET /health: engine, version, migration state, view permissions, processor and storage state, from memory only.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type Static } from '@sinclair/typebox';
import { SERVICE_VERSION } from '../src/version.js';
import { Nullable } from '../src/http/schemas.js';

const ViewProbe = Type.Object({
  view: Type.String(),
  readable: Type.Boolean(),
  checked_at: Type.String({ format: 'date-time' }),
  error: Type.Optional(Type.String()),
});

const Count = (description: string) => Type.Integer({ minimum: 0, description });

/** The processor's state from memory (src/processor/processor.ts snapshot): each figure says what it counts. */
const ProcessorState = Type.Object({
  running: Type.Boolean(),
  claimed_by: Type.String({ description: 'CLAIMED_BY of this instance (host:pid).' }),
  last_poll_at: Nullable(Type.String({ format: 'date-time' })),
  jobs_claimed: Count('Jobs this instance claimed since start.'),
  claims_rescued: Count('Of those, jobs taken over after another claim on them had expired.'),
  jobs_completed: Count('Claims that ended with the job COMPLETED.'),
  jobs_failed: Count('Claims that ended with the job FAILED.'),
  jobs_rescheduled: Count('Claims that ended with the job back to PENDING (types due later: not ready, retry, later view).'),
  jobs_released_for_shutdown: Count('Claims released unfinished at shutdown (attempts given back).'),
  claims_lost: Count('Claims that ended without writing: cancelled, or the lease was lost to another instance.'),
  run_errors: Count('Runs that threw (the claim stays until its lease expires, then any instance reclaims it).'),
  in_flight: Type.Array(Type.String(), { description: 'Job ids running on this instance now.' }),
  running_jobs: Count('Jobs running on this instance now.'),
  max_concurrent_jobs: Type.Integer({ description: 'MAX_CONCURRENT_JOBS: batches of jobs run at once.' }),
  claim_batch_size: Type.Integer({ description: 'CLAIM_BATCH_SIZE: jobs per batch (the instance runs up to MAX_CONCURRENT_JOBS × this).' }),
  batched_reads: Count('Reads that served two or more jobs of a type in one statement.'),
  batched_read_jobs: Count('Jobs those batched reads served.'),
  batched_read_fallbacks: Count('Batched reads that failed and were replaced by one read per job.'),
  batched_writes: Count('Write requests that carried two or more jobs\' fenced writes.'),
  batched_write_groups: Count('Jobs\' fenced writes those requests carried.'),
  batched_write_fallbacks: Count('Multi-job writes that failed and were resent one job at a time.'),
  next_known_due_at: Nullable(Type.String({ format: 'date-time' })),
  stopping: Type.Boolean(),
  registered_types: Type.Array(Type.String()),
  polls: Count('Polls since start, including quiet ones.'),
  quiet_polls: Count('Polls answered from memory (nothing known to be due): no statement sent.'),
  claim_races_lost: Count('Claims another instance won first (DuckDB conflict).'),
});

/** The embedded database's disk refusing writes (src/storage-health.ts); null while writes succeed. */
const StorageState = Type.Object({
  reason: Type.String({ description: "The latest failure's reason (the engine's message, first line)." }),
  since: Type.String({ format: 'date-time', description: 'First failure of this episode.' }),
  last_failure_at: Type.String({ format: 'date-time' }),
  failures: Count('Failed writes in this episode (polls, job runs and the recheck).'),
});

export const HealthResponse = Type.Object(
  {
    status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
    engine: Type.Union([Type.Literal('duckdb'), Type.Literal('snowflake')]),
    version: Type.String(),
    started_at: Type.String({ format: 'date-time' }),
    migrations: Type.Object({
      applied: Type.Integer(),
      pending: Type.Integer(),
      current: Type.Boolean(),
      latest: Nullable(Type.String()),
    }),
    views: Type.Array(ViewProbe),
    processor: Nullable(ProcessorState),
    storage: Nullable(StorageState),
  },
  { $id: 'Health' },
);

const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/health',
    {
      schema: {
        summary: 'Service health, answered without querying the warehouse',
        tags: ['operations'],
        response: { 200: HealthResponse },
      },
    },
    async () => {
      const { health } = app.services;
      const unreadable = health.views.some((view) => !view.readable);
      const storage = health.storage();
      return {
        status: !health.migrations.current || unreadable || storage ? ('degraded' as const) : ('ok' as const),
        engine: health.engine,
        version: SERVICE_VERSION,
        started_at: health.startedAt.toISOString(),
        migrations: health.migrations,
        views: health.views,
        // The snapshot is built by src/processor/processor.ts snapshot(); this schema names its figures.
        processor: health.processor ? (health.processor() as Static<typeof ProcessorState>) : null,
        storage,
      };
    },
  );
};

export default healthRoutes;
