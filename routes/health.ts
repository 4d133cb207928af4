// GET /health: engine, version, migration state, view permissions and processor state, from memory only.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { SERVICE_VERSION } from '../src/version.js';

const ViewProbe = Type.Object({
  view: Type.String(),
  readable: Type.Boolean(),
  checked_at: Type.String({ format: 'date-time' }),
  error: Type.Optional(Type.String()),
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
      latest: Type.Union([Type.String(), Type.Null()]),
    }),
    views: Type.Array(ViewProbe),
    processor: Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()]),
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
      return {
        status: !health.migrations.current || unreadable ? ('degraded' as const) : ('ok' as const),
        engine: health.engine,
        version: SERVICE_VERSION,
        started_at: health.startedAt.toISOString(),
        migrations: health.migrations,
        views: health.views,
        processor: health.processor ? health.processor() : null,
      };
    },
  );
};

export default healthRoutes;
