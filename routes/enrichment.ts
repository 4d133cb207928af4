// POST /api/enrichment/jobs: enqueue a test for delayed enrichment (201 new job, 200 existing job or
// NOT_APPLICABLE for POSTGRES; 404 unknown test, 409 test not ended, 422 only rows without a TEST_ID). The rules
// live in src/queue/enqueue.ts; this only maps HTTP to it.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { problemResponses } from '../src/http/problem.js';
import { enqueueJob } from '../src/queue/enqueue.js';
import { ENRICHMENT_TYPES, TABLE_TYPES } from '../src/queue/plan.js';
import { Nullable } from '../src/http/schemas.js';

const Id = Type.String({ minLength: 1, maxLength: 36 });
const Name = Type.String({ minLength: 1, maxLength: 500 });

const EnqueueBody = Type.Object(
  {
    test_id: Id,
    run_id: Id,
    table_type: Type.Union(TABLE_TYPES.map((type) => Type.Literal(type))),
    test_end_time: Type.String({ format: 'date-time' }),
    test_start_time: Type.Optional(Type.String({ format: 'date-time' })),
    tag_prefixes: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 500 }), { maxItems: 100 })),
    target_table: Type.Optional(Name),
    target_database: Type.Optional(Name),
    target_schema: Type.Optional(Name),
    enrichment_types: Type.Optional(Type.Array(Type.Union(ENRICHMENT_TYPES.map((type) => Type.Literal(type))), { minItems: 1, maxItems: 5 })),
    priority: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000, description: 'Lower runs first (default 100, backfill 1000).' })),
    force: Type.Optional(Type.Boolean({ description: 'Replace an existing terminal job; a live job is returned unchanged.' })),
  },
  { additionalProperties: false },
);

const EnqueueResponse = Type.Object({
  job_id: Nullable(Type.String()),
  created: Type.Boolean(),
  status: Type.String(),
});

const enrichmentRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/api/enrichment/jobs',
    {
      config: { rateLimit: { max: 600, timeWindow: '1 minute' } },
      schema: {
        summary: 'Enqueue a test for delayed enrichment (one live job per test and run)',
        tags: ['enrichment'],
        body: EnqueueBody,
        response: { 201: EnqueueResponse, 200: EnqueueResponse, ...problemResponses(400, 404, 409, 422) },
      },
    },
    async (request, reply) => {
      const { test_start_time: start, test_end_time: end, ...rest } = request.body;
      const result = await enqueueJob(app.services, {
        ...rest,
        test_end_time: new Date(end),
        ...(start !== undefined ? { test_start_time: new Date(start) } : {}),
      });
      return reply.code(result.created ? 201 : 200).send(result);
    },
  );
};

export default enrichmentRoutes;
