// Embedded-mode developer routes: POST /api/dev/simulate (a simulated FlakeBench test with its ground truth)
// and POST /api/dev/replay (rows exported from a real account). Not registered in Snowflake mode, so they
// answer 404 there. Registering them also binds the simulated views' "now" to the service clock.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { HttpProblem, problemResponses } from '../src/http/problem.js';
import { enqueueJob } from '../src/queue/enqueue.js';
import { TABLE_TYPES, type TableType } from '../src/queue/plan.js';
import { SOURCE_VIEWS, type SourceViewName } from '../src/sources/account-usage.js';
import { replay, ReplayError, REPLAY_TARGETS } from '../src/simulator/replay.js';
import { estimatedStatements, MAX_SIMULATED_STATEMENTS, simulate, workloadParams, type SimulationRequest } from '../src/simulator/simulate.js';
import { VisibilityClock } from '../src/simulator/visibility.js';
import { SHAPES } from '../src/simulator/workload.js';
import { Nullable } from '../src/http/schemas.js';

/** Replay bodies carry whole exports; everything else keeps the app's default limit. */
export const REPLAY_BODY_LIMIT = 256 * 1024 * 1024;

const Summary = {
  query_count: Type.Integer(),
  p50_ms: Nullable(Type.Number()),
  p90_ms: Nullable(Type.Number()),
  p95_ms: Nullable(Type.Number()),
  p99_ms: Nullable(Type.Number()),
  max_ms: Nullable(Type.Number()),
};

export const SimulationTruth = Type.Object(
  {
    overall: Type.Object({ ...Summary, errors_count: Type.Integer(), throttled_count: Type.Integer() }),
    patterns: Type.Array(
      Type.Object({ hash: Type.String(), query_kind: Type.String(), ...Summary, errors_count: Type.Integer(), throttled_count: Type.Integer() }),
    ),
    lock_waits: Type.Object({ count: Type.Integer(), total_ms: Type.Number(), max_ms: Nullable(Type.Number()), blocker_rows: Type.Integer() }),
    insights: Type.Object({ count: Type.Integer(), high_severity_count: Type.Integer(), distinct_type_hash_pairs: Type.Integer() }),
    credits: Type.Object({
      credits_used: Nullable(Type.Number()),
      windows: Type.Integer(),
      unbilled_windows: Type.Integer({ description: 'Of those, windows from 2026-03-01 on (not billed).' }),
      not_applicable_reason: Type.Optional(Type.String()),
    }),
    query_history_coverage: Type.Object({ matched: Type.Integer(), total: Type.Integer() }),
  },
  { description: 'What a perfect enrichment reports for the test, from the simulated measurement-phase executions (ms of execution time).' },
);

const SimulateBody = Type.Object(
  {
    table_type: Type.Union(TABLE_TYPES.map((t) => Type.Literal(t))),
    shape: Type.Optional(Type.Union(SHAPES.map((s) => Type.Literal(s)))),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1 })),
    duration_minutes: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 240 })),
    warmup_minutes: Type.Optional(Type.Number({ minimum: 0, maximum: 60 })),
    sessions: Type.Optional(Type.Integer({ minimum: 1, maximum: 256 })),
    workers: Type.Optional(Type.Integer({ minimum: 1, maximum: 16 })),
    rate_per_session: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 50, description: 'Statements per second per session.' })),
    ended_minutes_ago: Type.Optional(Type.Number({ minimum: 0, maximum: 525_600 })),
    lock_contention: Type.Optional(Type.Boolean()),
    background: Type.Optional(Type.Boolean({ description: 'Unrelated traffic with other and look-alike tags (default true).' })),
    jitter: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'Rows show up to this fraction earlier than the documented latency.' })),
    late_minutes: Type.Optional(
      Type.Partial(Type.Object(Object.fromEntries(SOURCE_VIEWS.map((v) => [v.name, Type.Number({ minimum: 0, maximum: 100_000 })]))), {
        additionalProperties: false,
        description: 'Per view: minutes (scaled by LATENCY_SCALE) beyond its documented latency.',
      }),
    ),
    enqueue: Type.Optional(Type.Boolean({ description: 'Enqueue the test as POST /api/enrichment/jobs would.' })),
  },
  { additionalProperties: false },
);

const SimulateResponse = Type.Object(
  {
    test_id: Type.String(),
    run_id: Type.String(),
    job_id: Type.Optional(Nullable(Type.String())),
    truth: SimulationTruth,
    seed: Type.Integer(),
    table_type: Type.String(),
    target_table: Type.String(),
    test_start_time: Type.String({ format: 'date-time' }),
    test_end_time: Type.String({ format: 'date-time' }),
    tests: Type.Array(Type.Object({ test_id: Type.String(), job_id: Type.Optional(Nullable(Type.String())), truth: SimulationTruth })),
    rows: Type.Record(Type.String(), Type.Integer()),
  },
  { $id: 'SimulateResponse' },
);

const ReplayBody = Type.Object(
  {
    files: Type.Record(Type.String(), Type.String(), {
      description: `NDJSON text per table or view, keyed by its name (${REPLAY_TARGETS.join(', ')}), with or without .ndjson.`,
    }),
    strict: Type.Optional(
      Type.Boolean({ description: 'Refuse the load when a row carries a column nobody documents (default false: report it and leave it out).' }),
    ),
  },
  { additionalProperties: false },
);

const ReplayResponse = Type.Object(
  {
    rows: Type.Record(Type.String(), Type.Integer()),
    undocumented_columns: Type.Array(
      Type.Object({ file: Type.String(), column: Type.String(), rows: Type.Integer(), first_line: Type.Integer() }),
      { description: 'Columns neither FlakeBench nor Snowflake documents for the file: left out of every row.' },
    ),
    not_stored_columns: Type.Array(Type.Object({ file: Type.String(), column: Type.String(), rows: Type.Integer() }), {
      description: 'Documented columns with values that the embedded table does not have: left out.',
    }),
  },
  { $id: 'ReplayResponse' },
);

const devRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const services = app.services;
  if (services.engine.engine !== 'duckdb') return;
  const visibility = await VisibilityClock.bind(services.warehouse, services.clock);
  app.addHook('onClose', async () => visibility.stop());

  app.post(
    '/api/dev/simulate',
    {
      schema: {
        summary: 'Simulate a FlakeBench test and what ACCOUNT_USAGE later publishes about it (embedded mode only)',
        tags: ['dev'],
        body: SimulateBody,
        response: { 200: SimulateResponse, ...problemResponses(400, 404) },
      },
    },
    async (request) => {
      const body = request.body;
      const simulation: SimulationRequest = {
        tableType: body.table_type as TableType,
        shape: body.shape,
        seed: body.seed,
        durationMinutes: body.duration_minutes,
        warmupMinutes: body.warmup_minutes,
        sessions: body.sessions,
        workers: body.workers,
        ratePerSession: body.rate_per_session,
        endedMinutesAgo: body.ended_minutes_ago,
        lockContention: body.lock_contention,
        background: body.background,
        jitter: body.jitter,
        lateMinutes: body.late_minutes as Partial<Record<SourceViewName, number>> | undefined,
      };
      const statements = estimatedStatements(workloadParams(simulation));
      if (statements > MAX_SIMULATED_STATEMENTS) {
        throw new HttpProblem(
          400,
          `the simulation would run about ${statements} statements (sessions × duration_minutes × 60 × rate_per_session); at most ${MAX_SIMULATED_STATEMENTS}`,
        );
      }
      await visibility.settled();
      const result = await simulate(services.warehouse, simulation, services.clock.now(), services.config.latencyScale);
      const tests: Array<{ test_id: string; job_id?: string | null; truth: (typeof result.tests)[number]['truth'] }> = [];
      for (const test of result.tests) {
        let jobId: string | null | undefined;
        if (body.enqueue) {
          const enqueued = await enqueueJob(services, {
            test_id: test.test_id,
            run_id: result.run_id,
            table_type: result.table_type,
            test_start_time: result.test_start_time,
            test_end_time: result.test_end_time,
          });
          jobId = enqueued.job_id;
        }
        tests.push({ ...test, ...(jobId === undefined ? {} : { job_id: jobId }) });
      }
      const first = tests[0];
      if (!first) throw new HttpProblem(500, 'the simulation produced no test');
      return {
        test_id: first.test_id,
        run_id: result.run_id,
        ...(first.job_id === undefined ? {} : { job_id: first.job_id }),
        truth: first.truth,
        seed: result.seed,
        table_type: result.table_type,
        target_table: result.target_table,
        test_start_time: result.test_start_time.toISOString(),
        test_end_time: result.test_end_time.toISOString(),
        tests,
        rows: result.rows,
      };
    },
  );

  app.post(
    '/api/dev/replay',
    {
      bodyLimit: REPLAY_BODY_LIMIT,
      schema: {
        summary: 'Load NDJSON rows exported from a real account, all or nothing (embedded mode only)',
        tags: ['dev'],
        body: ReplayBody,
        response: { 200: ReplayResponse, ...problemResponses(400, 404, 409, 413) },
      },
    },
    async (request) => {
      try {
        return await replay(
          services.warehouse,
          Object.entries(request.body.files).map(([name, text]) => ({ name, text })),
          { strict: request.body.strict === true, log: request.log },
        );
      } catch (error) {
        if (error instanceof ReplayError) throw new HttpProblem(error.kind === 'conflict' ? 409 : 400, error.message);
        throw error;
      }
    },
  );
};

export default devRoutes;
