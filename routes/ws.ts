// GET /ws: the WebSocket stream of enrichment events (protocol in src/events/frames.ts and api.md).
// A plain GET without an upgrade answers 426. Auth is the app's onRequest hook (API_AUTH_SCOPE=all
// protects /ws; browsers pass ?token= since they cannot set headers on a WebSocket).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { EventHub } from '../src/events/hub.js';
import { problem, problemResponses } from '../src/http/problem.js';

const DESCRIPTION = [
  'WebSocket (upgrade this GET). Client messages: {"type":"subscribe","topics":["test:<id>","run:<id>","queue"]},',
  '{"type":"unsubscribe","topics":[...]}, {"type":"resume","since":<seq>}. Event frames: {"seq","type","at","test_id","run_id","job_id","data"}',
  'from the ENRICHMENT_EVENTS outbox in seq order (types job_enqueued, job_claimed, enrichment_progress, enrichment_not_ready,',
  'enrichment_complete, enrichment_failed, job_cancelled; enrichment_complete data carries delayed_enrichment_status,',
  'delayed_enrichment_completed_at, aggregate_enrichment_status, throttled_query_count, hybrid_credits_used, lock_wait_count,',
  'query_insights_count, query_insights_high_severity_count). "queue" receives every event plus queue_stats frames; there is no "*" topic.',
  'Control frames (no seq): subscribed/unsubscribed (topics, last_seq), resumed (since, replayed, last_seq), reset (refetch over REST),',
  'queue_stats, error (detail). Close 4000: the client fell behind; refetch over REST and resume.',
].join(' ');

const wsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const hub = new EventHub(app.services);
  app.addHook('preClose', async () => hub.close());

  app.route({
    method: 'GET',
    url: '/ws',
    schema: {
      summary: 'WebSocket stream of enrichment events (subscribe, resume, queue_stats)',
      description: DESCRIPTION,
      tags: ['events'],
      querystring: Type.Object(
{
        token: Type.Optional(Type.String({ description: 'API_TOKEN, for clients that cannot send an Authorization header.' })),
      }),
      // 101 Switching Protocols is the success answer (not a JSON response, so not in this map).
      response: problemResponses(400, 401, 426),
    },
    handler: async (_request, reply) =>
      reply.code(426).header('upgrade', 'websocket').send(problem(426, 'GET /ws is a WebSocket endpoint: connect with a WebSocket client (Upgrade: websocket).')),
    wsHandler: (socket) => hub.attach(socket),
  });
};

export default wsRoutes;
