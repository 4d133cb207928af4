// Read-side throughput at 50 connections: GET /api/tests/{id}/delayed-enrichment-status and
// GET /api/tests/{id}/server-metrics on the real service (real DuckDB file, one enriched hybrid test), against a
// bare Fastify route answering a JSON body of the same size, all in the same run. The service runs twice: as
// configured by default (the read cache answers repeated reads of a test) and with READ_CACHE_SECONDS=0 (every
// request is a warehouse statement). Each server runs in its own child process (so autocannon, in this process,
// does not share its event loop); the servers take turns round by round. Loopback only.
// Run: npx tsx bench/api-load.ts [--connections 50] [--seconds 10] [--rounds 3]
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';

const { values } = parseArgs({
  options: {
    serve: { type: 'string' },
    connections: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
  },
});

interface Ready {
  port: number;
  paths: Record<string, string>;
  bodyBytes?: Record<string, number>;
  statementsPerCall?: Record<string, number>;
}

if (values.serve === 'service') await serveService();
else if (values.serve === 'bare') await serveBare(Number(process.env.BARE_BODY_BYTES ?? '600'));
else await main();

/** The real service with one simulated hybrid test whose every type is COMPLETED. */
async function serveService(): Promise<void> {
  const { ManualClock } = await import('../src/clock.js');
  const { Processor } = await import('../src/processor/processor.js');
  const { VisibilityClock } = await import('../src/simulator/visibility.js');
  const { startTestService } = await import('../test/support/embedded.js');
  const clock = new ManualClock('2025-11-20T12:00:00Z');
  const service = await startTestService({ clock, env: { LATENCY_SCALE: '1', READ_CACHE_SECONDS: process.env.READ_CACHE_SECONDS ?? '60' } });
  const visibility = await VisibilityClock.bind(service.services.warehouse, clock);
  const simulated = await service.app.inject({
    method: 'POST',
    url: '/api/dev/simulate',
    payload: { enqueue: true, table_type: 'HYBRID', seed: 11, duration_minutes: 10, sessions: 8 },
  });
  if (simulated.statusCode !== 200) throw new Error(`simulate answered ${simulated.statusCode}: ${simulated.body}`);
  const testId = (simulated.json() as { test_id: string }).test_id;
  clock.advance(4 * 3_600_000);
  await visibility.settled();
  const processor = new Processor(service.services);
  await processor.poll();
  await processor.idle();
  visibility.stop();

  const paths = {
    status: `/api/tests/${testId}/delayed-enrichment-status`,
    server_metrics: `/api/tests/${testId}/server-metrics`,
  };
  const bodyBytes: Record<string, number> = {};
  const statementsPerCall: Record<string, number> = {};
  for (const [name, path] of Object.entries(paths)) {
    const before = service.services.warehouse.counters.statements;
    const response = await service.app.inject({ method: 'GET', url: path });
    statementsPerCall[name] = service.services.warehouse.counters.statements - before;
    if (response.statusCode !== 200) throw new Error(`${path} answered ${response.statusCode}`);
    const body = response.json() as { status?: string; aggregate_metrics?: unknown };
    if (name === 'status' && body.status !== 'COMPLETED') throw new Error(`the test is ${body.status}, not COMPLETED`);
    bodyBytes[name] = response.rawPayload.length;
  }
  await service.app.listen({ host: '127.0.0.1', port: 0 });
  const address = service.app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  process.send?.({ port: address.port, paths, bodyBytes, statementsPerCall } satisfies Ready);
  process.on('disconnect', () => void service.stop().then(() => process.exit(0)));
}

/** The baseline: Fastify with one route returning a fixed JSON body of a given size. */
async function serveBare(bytes: number): Promise<void> {
  const { default: Fastify } = await import('fastify');
  const app = Fastify({ logger: false });
  const body = { padding: 'x'.repeat(Math.max(0, bytes - 14)) };
  app.get('/bare', async () => body);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  process.send?.({ port: address.port, paths: { bare: '/bare' } } satisfies Ready);
  process.on('disconnect', () => void app.close().then(() => process.exit(0)));
}

function start(mode: 'service' | 'bare', env: Record<string, string> = {}): Promise<{ child: ChildProcess; ready: Ready }> {
  const child = fork(fileURLToPath(import.meta.url), ['--serve', mode], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, ...env, LOG_LEVEL: 'silent' },
  });
  return new Promise((resolve, reject) => {
    child.once('message', (ready) => resolve({ child, ready: ready as Ready }));
    child.once('exit', (code) => reject(new Error(`${mode} server exited (${code}) before it was ready`)));
  });
}

interface Load {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

async function load(port: number, path: string): Promise<Load> {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}${path}`,
    connections: Number(values.connections),
    duration: Number(values.seconds),
  });
  return {
    requestsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

async function main(): Promise<void> {
  const cached = await start('service');
  const uncached = await start('service', { READ_CACHE_SECONDS: '0' });
  const targets: Array<{ name: string; port: number; path: string }> = [];
  for (const [label, server] of [['', cached], [' (cache off)', uncached]] as const) {
    for (const [route, path] of Object.entries(server.ready.paths)) targets.push({ name: `${route}${label}`, port: server.ready.port, path });
  }
  // The bare body matches the status answer's size (the smaller one) so serialisation cost is comparable.
  const bare = await start('bare', { BARE_BODY_BYTES: String(cached.ready.bodyBytes?.status ?? 600) });
  targets.unshift({ name: 'bare', port: bare.ready.port, path: '/bare' });
  const results = new Map<string, Load[]>(targets.map((target) => [target.name, []]));
  const rounds = Number(values.rounds);
  try {
    for (const target of targets) await load(target.port, target.path); // warm-up, not counted
    for (let round = 0; round < rounds; round += 1) {
      for (const target of targets) results.get(target.name)!.push(await load(target.port, target.path));
    }
  } finally {
    for (const server of [bare, cached, uncached]) server.child.disconnect();
  }

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const bareRps = median(results.get('bare')!.map((r) => r.requestsPerSecond));
  console.log(`connections ${values.connections}, ${values.seconds} s per run, ${rounds} rounds (medians), body bytes ${JSON.stringify(cached.ready.bodyBytes)}`);
  console.log(`warehouse statements per call (first call of a test): ${JSON.stringify(cached.ready.statementsPerCall)}`);
  console.log('| route | req/s | ÷ bare | p50 ms | p99 ms | non-2xx | errors |');
  console.log('|---|---|---|---|---|---|---|');
  for (const [route, runs] of results) {
    const rps = median(runs.map((r) => r.requestsPerSecond));
    console.log(
      `| ${route} | ${rps.toFixed(0)} | ${(rps / bareRps).toFixed(2)} | ${median(runs.map((r) => r.p50))} | ${median(runs.map((r) => r.p99))} | ${runs.reduce((s, r) => s + r.non2xx, 0)} | ${runs.reduce((s, r) => s + r.errors, 0)} |`,
    );
  }
  console.log(`Reproduce: npx tsx bench/api-load.ts --connections ${values.connections} --seconds ${values.seconds} --rounds ${rounds}`);
}
