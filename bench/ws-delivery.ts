// enrichment_complete delivery to 1,000 WebSocket subscribers of one test on the real app: from the commit of
// the event row (on a second connection, like the processor's) and its publish on the bus, through the feed's
// outbox read and the hub's per-socket sends, to each client's 'message' — p50/p99 over every (event, client).
// Baseline, in the same run and alternating round by round: a bare `ws` WebSocketServer broadcasting a frame
// of the same byte length to 1,000 other clients (`for (const c of wss.clients) c.send(frame)`), timed from
// just before the loop. The clients live in a worker thread (their own event loop), loopback only; times are
// process.hrtime (one monotonic clock for both threads).
// Run: npx tsx bench/ws-delivery.ts [--clients 1000] [--rounds 40]
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { WebSocketServer } from 'ws';
import { systemClock } from '../src/clock.js';
import { eventBusOf } from '../src/events/bus.js';
import { insertEvent, type EnrichmentEvent } from '../src/events/outbox.js';
import { startTestService } from '../test/support/embedded.js';

const { values } = parseArgs({ options: { clients: { type: 'string', default: '1000' }, rounds: { type: 'string', default: '40' } } });
const CLIENTS = Number(values.clients);
const ROUNDS = Number(values.rounds);
const TEST_ID = 'bench-ws-0000-0000-0000-000000000001';
const RUN_ID = 'bench-ws-run-0000-0000-000000000001';
const ROUND_BOUND_MS = 20_000;

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

// The clients: plain JS in a worker thread. Each set records, per frame key, every client's receipt time.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const WebSocket = require(workerData.wsPath);
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
const sets = new Map();
parentPort.on('message', async (command) => {
  if (command.cmd === 'connect') {
    const set = { sockets: [], received: new Map(), frameBytes: 0 };
    sets.set(command.set, set);
    for (let i = 0; i < command.count; i += 100) {
      const batch = [];
      for (let j = i; j < Math.min(command.count, i + 100); j += 1) {
        batch.push(new Promise((resolve, reject) => {
          const socket = new WebSocket(command.url);
          socket.on('message', (data) => {
            const at = nowMs();
            const frame = JSON.parse(data.toString());
            if (frame.type === 'subscribed') return resolve(socket);
            const key = frame.seq ?? frame.round;
            if (key === undefined) return;
            set.frameBytes = data.length;
            let times = set.received.get(key);
            if (!times) set.received.set(key, (times = []));
            times.push(at);
          });
          socket.once('open', () => {
            if (command.topics) socket.send(JSON.stringify({ type: 'subscribe', topics: command.topics }));
            else resolve(socket);
          });
          socket.once('error', reject);
        }));
      }
      set.sockets.push(...(await Promise.all(batch)));
    }
    parentPort.postMessage({ cmd: 'connected', set: command.set });
  } else if (command.cmd === 'collect') {
    const set = sets.get(command.set);
    const deadline = Date.now() + command.boundMs;
    const poll = () => {
      const times = set.received.get(command.key) ?? [];
      if (times.length >= set.sockets.length || Date.now() > deadline) {
        set.received.delete(command.key);
        parentPort.postMessage({ cmd: 'collected', times, frameBytes: set.frameBytes });
      } else setTimeout(poll, 2);
    };
    poll();
  } else if (command.cmd === 'close') {
    for (const set of sets.values()) for (const socket of set.sockets) socket.terminate();
    parentPort.postMessage({ cmd: 'closed' });
  }
});
`;

const worker = new Worker(WORKER, { eval: true, workerData: { wsPath: createRequire(import.meta.url).resolve('ws') } });
const reply = <T>(cmd: string, message: Record<string, unknown>): Promise<T> =>
  new Promise((resolve) => {
    const listener = (answer: { cmd: string } & T) => {
      if (answer.cmd !== cmd) return;
      worker.off('message', listener);
      resolve(answer);
    };
    worker.on('message', listener);
    worker.postMessage(message);
  });

// The real service (system clock, processor off: this process writes the events itself, as the processor would).
const service = await startTestService({ clock: systemClock, env: { LOG_LEVEL: 'silent' } });
const address = await service.app.listen({ host: '127.0.0.1', port: 0 });
const s = service.services;
const writer = await s.engine.connect();

const bare = new WebSocketServer({ host: '127.0.0.1', port: 0 });
await new Promise<void>((resolve) => bare.once('listening', () => resolve()));
const barePort = (bare.address() as { port: number }).port;

await reply('connected', { cmd: 'connect', set: 'ours', count: CLIENTS, url: `${address.replace('http', 'ws')}/ws`, topics: [`test:${TEST_ID}`] });
await reply('connected', { cmd: 'connect', set: 'bare', count: CLIENTS, url: `ws://127.0.0.1:${barePort}` });

/** One job-level completion as the processor stores it (payload.summary from TEST_RESULTS). */
const completion = (round: number): EnrichmentEvent => ({
  type: 'enrichment_complete',
  at: s.clock.now(),
  job_id: `bench-job-${String(round).padStart(4, '0')}-0000-0000-000000000000`.slice(0, 36),
  test_id: TEST_ID,
  run_id: RUN_ID,
  enrichment_type: null,
  payload: {
    status: 'COMPLETED',
    completed_types: ['QUERY_HISTORY', 'AGGREGATE', 'LOCK_CONTENTION', 'HYBRID_CREDITS', 'QUERY_INSIGHTS'],
    failed_types: [],
    last_error: null,
    summary: {
      delayed_status: 'COMPLETED',
      aggregate_status: 'COMPLETED',
      throttled_query_count: 1234,
      hybrid_credits_used: 0.0123456,
      lock_wait_count: 17,
      query_insights_count: 0,
      query_insights_high_severity_count: 0,
    },
  },
});

interface Round {
  latencies: number[];
  frameBytes: number;
}

async function oursRound(round: number): Promise<Round> {
  const event = completion(round);
  await writer.transaction([insertEvent(event)]);
  const t0 = nowMs(); // committed
  eventBusOf(s).publish([event]); // what every writer does right after its commit
  const [row] = await writer.query('SELECT MAX(SEQ) AS SEQ FROM ENRICHMENT_EVENTS');
  const seq = Number(row!.SEQ);
  const answer = await reply<{ times: number[]; frameBytes: number }>('collected', { cmd: 'collect', set: 'ours', key: seq, boundMs: ROUND_BOUND_MS });
  return { latencies: answer.times.map((t) => t - t0), frameBytes: answer.frameBytes };
}

async function bareRound(round: number, bytes: number): Promise<Round> {
  const head = JSON.stringify({ round, pad: '' });
  const frame = JSON.stringify({ round, pad: 'x'.repeat(Math.max(0, bytes - head.length)) });
  const t0 = nowMs();
  for (const client of bare.clients) client.send(frame);
  const answer = await reply<{ times: number[]; frameBytes: number }>('collected', { cmd: 'collect', set: 'bare', key: round, boundMs: ROUND_BOUND_MS });
  return { latencies: answer.times.map((t) => t - t0), frameBytes: answer.frameBytes };
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
const pause = () => new Promise((resolve) => setTimeout(resolve, 20));

// Warm-up (JIT, socket buffers) and the frame size for the baseline.
const warm = await oursRound(0);
const frameBytes = warm.frameBytes;
await bareRound(0, frameBytes);
const statementsBefore = s.warehouse.counters.statements;

const ours: number[] = [];
const baseline: number[] = [];
let missing = 0;
let bareBytes = 0;
for (let round = 1; round <= ROUNDS; round += 1) {
  // Alternate which goes first so drift in the machine's load hits both alike.
  const first = round % 2 === 0 ? 'ours' : 'bare';
  for (const side of first === 'ours' ? ['ours', 'bare'] : ['bare', 'ours']) {
    await pause();
    const result = side === 'ours' ? await oursRound(round) : await bareRound(round, frameBytes);
    missing += CLIENTS - result.latencies.length;
    if (side === 'ours') ours.push(...result.latencies);
    else {
      baseline.push(...result.latencies);
      bareBytes = result.frameBytes;
    }
  }
}
const feedStatements = s.warehouse.counters.statements - statementsBefore;

ours.sort((a, b) => a - b);
baseline.sort((a, b) => a - b);
const fmt = (ms: number) => ms.toFixed(2);
console.log(`${CLIENTS} subscribers per side, ${ROUNDS} events per side, frame ${frameBytes} B (ours) / ${bareBytes} B (bare); clients in a worker thread; loopback`);
console.log('| delivery | p50 ms | p99 ms | max ms | deliveries |');
console.log('|---|---|---|---|---|');
console.log(`| bare ws broadcast (baseline, same run) | ${fmt(percentile(baseline, 50))} | ${fmt(percentile(baseline, 99))} | ${fmt(baseline.at(-1)!)} | ${baseline.length} |`);
console.log(`| /ws enrichment_complete (commit → client) | ${fmt(percentile(ours, 50))} | ${fmt(percentile(ours, 99))} | ${fmt(ours.at(-1)!)} | ${ours.length} |`);
console.log(`ratio ours/bare: p50 ${(percentile(ours, 50) / percentile(baseline, 50)).toFixed(2)}, p99 ${(percentile(ours, 99) / percentile(baseline, 99)).toFixed(2)} (goal p99 ≤ 2)`);
console.log(`API-connection statements for ${ROUNDS} events: ${feedStatements} (${(feedStatements / ROUNDS).toFixed(2)} per event, the feed's outbox read); missing deliveries: ${missing}`);
console.log('reproduce: npx tsx bench/ws-delivery.ts' + (CLIENTS !== 1000 || ROUNDS !== 40 ? ` --clients ${CLIENTS} --rounds ${ROUNDS}` : ''));

await reply('closed', { cmd: 'close' });
await worker.terminate();
await new Promise<void>((resolve) => bare.close(() => resolve()));
await writer.close();
await service.stop();
