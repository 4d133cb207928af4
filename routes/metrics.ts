// GET /metrics: the service's Prometheus metrics (src/metrics.ts) in the text exposition format. Queue
// gauges come from the cached queue stats, warehouse counters from memory: a scrape costs at most the
// stats recomputation the cache allows (two statements per STATS_CACHE_SECONDS), usually none.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';

const metricsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { registry } = app.services.metrics;
  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics (text exposition format)',
        tags: ['operations'],
        response: {
          200: {
            description: 'Prometheus text format',
            content: { 'text/plain': { schema: Type.String() } },
          },
        },
      },
    },
    async (_request, reply) => {
      const text = await registry.metrics();
      return reply.type(registry.contentType).send(text);
    },
  );
};

export default metricsRoutes;
