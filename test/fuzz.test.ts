// Hostile input against the real app: every operation in the generated OpenAPI document is called with
// thousands of malformed and hostile requests (wrong types, oversized and bad JSON bodies, injection strings,
// unknown ids, bad encodings, wrong tokens), and /ws gets bad frames. Expected: no 5xx, the database unchanged by
// every rejected request (a checksum over every table after each one), and the service still answering.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ManualClock } from '../src/clock.js';
import { realModules } from '../src/enrichment/modules/index.js';
import { EnrichmentRegistry } from '../src/enrichment/registry.js';
import { Processor } from '../src/processor/processor.js';
import { enqueueJob } from '../src/queue/enqueue.js';
import { simulate } from '../src/simulator/simulate.js';
import { VisibilityClock } from '../src/simulator/visibility.js';
import { Random } from '../src/simulator/random.js';
import { startTestService } from './support/embedded.js';

const TOKEN = 'fuzz-token-0123456789abcdef';
const HTTP_REQUESTS = Number(process.env.FUZZ_HTTP_REQUESTS ?? 9000);
const WS_MESSAGES = Number(process.env.FUZZ_WS_MESSAGES ?? 2000);
const HOUR = 3_600_000;
/** Requests between two database checksums. */
const BATCH = 25;

// Every table the service reads or writes (the checksum must see any change a rejected request could make).
const TABLES = [
  'DELAYED_ENRICHMENT_QUEUE',
  'ENRICHMENT_EVENTS',
  'TEST_RESULTS',
  'QUERY_EXECUTIONS',
  'AGGREGATE_QUERY_METRICS',
  'AGGREGATE_TEST_METRICS',
  'LOCK_CONTENTION_EVENTS',
  'HYBRID_TABLE_CREDITS',
  'QUERY_INSIGHTS_CACHE',
  'SCHEMA_MIGRATIONS',
];

const HOSTILE_STRINGS = [
  "' OR '1'='1",
  "1; DROP TABLE TEST_RESULTS; --",
  "x' UNION SELECT * FROM DELAYED_ENRICHMENT_QUEUE --",
  '%',
  '_',
  '\\',
  '\u0000',
  '../../../../etc/passwd',
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  '${7*7}',
  '{{constructor.constructor("return process")()}}',
  'A'.repeat(40),
  'B'.repeat(5000),
  '😀'.repeat(50),
  '\r\nX-Injected: 1',
  ' ',
  '',
  '-1',
  '0',
  '1e309',
  'NaN',
  'null',
  'true',
  '[]',
  '{}',
  '2026-13-45T99:99:99Z',
  '0000-00-00',
  'PENDING; DELETE FROM TEST_RESULTS',
  '__proto__',
];

const HOSTILE_VALUES: unknown[] = [
  ...HOSTILE_STRINGS,
  -1,
  0,
  1.5,
  2 ** 53 + 1,
  -1e308,
  true,
  false,
  null,
  [],
  [null],
  ['x'.repeat(1000)],
  {},
  { $gt: '' },
  { __proto__: { polluted: true } },
  Array.from({ length: 200 }, (_, i) => i),
];

const RAW_BODIES = [
  'not json',
  '{',
  '[1,2',
  '{"a":}',
  '{"test_id": "x", "test_id": 5}',
  '\u0000\u0001\u0002',
  '['.repeat(5000) + ']'.repeat(5000),
  '{"a":'.repeat(2000) + '1' + '}'.repeat(2000),
  'null',
  '1',
  '"string"',
  '[]',
  '{"__proto__":{"polluted":true}}',
  '{"constructor":{"prototype":{"polluted":true}}}',
];

const BAD_PATH_SEGMENTS = ['%ZZ', '%E0%A4%A', '%00', '..%2F..%2F', '%2e%2e', encodeURIComponent('x'.repeat(300)), '%C0%AF'];

interface Operation {
  method: string;
  path: string;
  pathParams: string[];
  queryParams: string[];
  bodyProperties: string[];
  hasBody: boolean;
}

function operationsOf(document: { paths?: Record<string, Record<string, unknown>> }): Operation[] {
  const operations: Operation[] = [];
  for (const [path, methods] of Object.entries(document.paths ?? {})) {
    for (const [method, value] of Object.entries(methods)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      const op = value as {
        parameters?: Array<{ in: string; name: string }>;
        requestBody?: { content?: Record<string, { schema?: { properties?: Record<string, unknown> } }> };
      };
      const parameters = op.parameters ?? [];
      const bodySchema = op.requestBody?.content?.['application/json']?.schema;
      operations.push({
        method: method.toUpperCase(),
        path,
        pathParams: parameters.filter((p) => p.in === 'path').map((p) => p.name),
        queryParams: parameters.filter((p) => p.in === 'query').map((p) => p.name),
        bodyProperties: Object.keys(bodySchema?.properties ?? {}),
        hasBody: op.requestBody !== undefined,
      });
    }
  }
  return operations;
}

type Service = Awaited<ReturnType<typeof startTestService>>;

describe('hostile input', () => {
  let clock: ManualClock;
  let service: Service;
  let visibility: VisibilityClock;
  let knownIds: string[] = [];

  beforeAll(async () => {
    clock = new ManualClock('2025-11-20T12:00:00Z');
    service = await startTestService({ clock, env: { LATENCY_SCALE: '1', API_TOKEN: TOKEN } });
    visibility = await VisibilityClock.bind(service.services.warehouse, clock);
    // Data for every kind of route: a completed hybrid test, a completed standard test, a pending one.
    const s = service.services;
    for (const [tableType, seed] of [
      ['HYBRID', 3],
      ['STANDARD', 4],
    ] as const) {
      const sim = await simulate(s.warehouse, { idSalt: 'fuzz', tableType, seed, durationMinutes: 2, sessions: 2, ratePerSession: 0.5, background: false }, clock.now(), s.config.latencyScale);
      for (const test of sim.tests) {
        const job = await enqueueJob(s, {
          test_id: test.test_id,
          run_id: sim.run_id,
          table_type: sim.table_type,
          test_end_time: sim.test_end_time,
          test_start_time: sim.test_start_time,
        });
        knownIds.push(test.test_id, sim.run_id, job.job_id ?? '');
      }
    }
    clock.advance(4 * HOUR);
    await visibility.settled();
    const processor = new Processor(s, { registry: new EnrichmentRegistry(realModules()) });
    await processor.poll();
    await processor.idle();
    const pending = await simulate(s.warehouse, { idSalt: 'fuzz-pending', tableType: 'HYBRID', seed: 5, durationMinutes: 2, sessions: 1, ratePerSession: 0.5, background: false }, clock.now(), s.config.latencyScale);
    const job = await enqueueJob(s, {
      test_id: pending.tests[0]!.test_id,
      run_id: pending.run_id,
      table_type: pending.table_type,
      test_end_time: pending.test_end_time,
    });
    knownIds.push(pending.tests[0]!.test_id, job.job_id ?? '');
    knownIds = knownIds.filter((id) => id !== '');
  }, 120_000);

  afterAll(async () => {
    visibility?.stop();
    await service?.stop();
  });

  /** Row count and an order-independent hash of every row, for every table, in one statement. */
  async function checksum(): Promise<string> {
    const parts = TABLES.map((table) => `(SELECT COUNT(*) || ':' || COALESCE(CAST(bit_xor(hash(t)) AS VARCHAR), '-') FROM ${table} t) AS ${table}`);
    const [row] = await service.services.warehouse.query(`SELECT ${parts.join(', ')}`);
    return JSON.stringify(row);
  }

  it('answers thousands of hostile HTTP requests with 4xx (never 5xx) and changes nothing it rejected', async () => {
    const random = new Random('fuzz-http');
    await service.app.ready();
    const operations = operationsOf(service.app.swagger() as never);
    expect(operations.length).toBeGreaterThan(Number(process.env.FUZZ_MIN_OPERATIONS ?? 10));
    const anyValue = () => random.pick(HOSTILE_VALUES);
    const anyString = () => (random.chance(0.3) && knownIds.length > 0 ? random.pick(knownIds) : random.pick(HOSTILE_STRINGS));

    const byStatus = new Map<number, number>();
    const serverErrors: string[] = [];
    const changedByRejected: string[] = [];
    let accepted = 0;
    let injectMs = 0;
    let checksumMs = 0;
    let batch: string[] = [];
    let batchAccepted = false;
    let before = await checksum();

    for (let i = 0; i < HTTP_REQUESTS; i += 1) {
      const op = random.pick(operations);
      let url = op.path;
      for (const name of op.pathParams) {
        const segment = random.chance(0.15) ? random.pick(BAD_PATH_SEGMENTS) : encodeURIComponent(anyString());
        url = url.replace(`{${name}}`, segment === '' ? '%20' : segment);
      }
      const query: string[] = [];
      for (const name of [...op.queryParams, ...(random.chance(0.2) ? ['unknown_param', 'limit', 'cursor'] : [])]) {
        if (random.chance(0.5)) continue;
        const value = random.pick([anyString(), String(anyValue()), random.pick(BAD_PATH_SEGMENTS)]);
        query.push(`${encodeURIComponent(name)}=${random.chance(0.1) ? value : encodeURIComponent(value)}`);
      }
      if (query.length > 0) url += `?${query.join('&')}`;

      const headers: Record<string, string> = {};
      const auth = random.next();
      if (auth < 0.75) headers.authorization = `Bearer ${TOKEN}`;
      else if (auth < 0.85) headers.authorization = `Bearer ${random.pick(HOSTILE_STRINGS.filter((s) => !/[\r\n\u0000]/.test(s)))}`;
      else if (auth < 0.9) headers.authorization = 'Basic YWRtaW46YWRtaW4=';
      if (random.chance(0.2)) headers.accept = random.pick(['text/html', '*/*', 'application/xml', 'text/html;q=0.1, application/json', 'garbage/;;']);
      if (random.chance(0.1)) headers['hx-request'] = 'true';

      let payload: string | undefined;
      if (op.method !== 'GET') {
        const kind = random.next();
        if (kind < 0.25) payload = random.pick(RAW_BODIES);
        else if (kind < 0.3) payload = JSON.stringify({ x: 'y'.repeat(2 * 1024 * 1024) });
        else if (kind < 0.85 && op.bodyProperties.length > 0) {
          const body: Record<string, unknown> = {};
          for (const name of op.bodyProperties) if (random.chance(0.5)) body[name] = anyValue();
          if (random.chance(0.3)) body[random.pick(HOSTILE_STRINGS) || 'empty'] = anyValue();
          payload = JSON.stringify(body);
        } else payload = JSON.stringify(anyValue());
        const type = random.next();
        headers['content-type'] = type < 0.85 ? 'application/json' : type < 0.9 ? 'text/plain' : type < 0.95 ? 'application/x-www-form-urlencoded' : 'application/json; charset=latin-7';
      }

      const sentAt = performance.now();
      const response = await service.app.inject({
        method: op.method as 'GET',
        url,
        headers,
        ...(payload === undefined ? {} : { payload }),
        // Spread over many client addresses so the rate limits do not answer everything with 429.
        remoteAddress: `127.${random.int(0, 255)}.${random.int(0, 255)}.${random.int(1, 254)}`,
      });
      injectMs += performance.now() - sentAt;
      byStatus.set(response.statusCode, (byStatus.get(response.statusCode) ?? 0) + 1);
      if (response.statusCode >= 500) serverErrors.push(`${op.method} ${url.slice(0, 200)} → ${response.statusCode} ${response.body.slice(0, 200)}`);
      if (response.statusCode >= 400 && response.statusCode < 500) {
        const body = response.headers['content-type']?.toString().includes('json') ? (response.json() as { detail?: unknown }) : undefined;
        if (body !== undefined && (typeof body.detail !== 'string' || body.detail === '')) serverErrors.push(`${op.method} ${url} → ${response.statusCode} without detail`);
      }
      // The database is compared every BATCH requests (a checksum costs far more than a request). A batch
      // in which every mutating request was rejected must leave it unchanged; a batch with an accepted
      // mutation (2xx on POST/DELETE, rare by construction) is re-baselined and counted.
      batch.push(`${op.method} ${url.slice(0, 200)} → ${response.statusCode}`);
      if (op.method !== 'GET' && response.statusCode < 400) batchAccepted = true;
      if (batch.length >= BATCH || i === HTTP_REQUESTS - 1) {
        const checkedAt = performance.now();
        const after = await checksum();
        checksumMs += performance.now() - checkedAt;
        if (after !== before) {
          if (batchAccepted) accepted += 1;
          else changedByRejected.push(batch.join('\n'));
          before = after;
        }
        batch = [];
        batchAccepted = false;
      }
    }

    const summary = [...byStatus.entries()].sort(([a], [b]) => a - b).map(([status, count]) => `${status}: ${count}`).join(', ');
    console.log(`fuzz HTTP: ${HTTP_REQUESTS} requests over ${operations.length} operations; by status ${summary}; ${accepted} batches with an accepted change; ${changedByRejected.length} batches of only rejected or read requests changed the database; ${serverErrors.length} 5xx (requests ${Math.round(injectMs)} ms, checksums ${Math.round(checksumMs)} ms)`);
    expect(serverErrors).toEqual([]);
    expect(changedByRejected).toEqual([]);
    const health = await service.app.inject({ method: 'GET', url: '/health' });
    expect(health.statusCode).toBe(200);
  }, 600_000);

  it('answers thousands of hostile WebSocket messages with error frames, never a crash', async () => {
    const address = await service.app.listen({ host: '127.0.0.1', port: 0 });
    const url = `${address.replace('http', 'ws')}/ws?token=${TOKEN}`;
    const random = new Random('fuzz-ws');
    const before = await checksum();
    const frames: Array<string | Buffer> = [
      'not json',
      '{',
      'null',
      '42',
      '[]',
      '""',
      '{"type":1}',
      '{"type":"subscribe"}',
      '{"type":"subscribe","topics":"queue"}',
      '{"type":"subscribe","topics":[1,2,3]}',
      '{"type":"subscribe","topics":[null]}',
      JSON.stringify({ type: 'subscribe', topics: Array.from({ length: 5000 }, (_, i) => `test:${i}`) }),
      JSON.stringify({ type: 'subscribe', topics: ['test:' + 'x'.repeat(10_000)] }),
      '{"type":"subscribe","topics":["nonsense"]}',
      '{"type":"unsubscribe","topics":{}}',
      '{"type":"resume"}',
      '{"type":"resume","since":"abc"}',
      '{"type":"resume","since":-5}',
      '{"type":"resume","since":1e309}',
      '{"type":"resume","since":99999999999999999999}',
      '{"type":"drop_tables"}',
      '{"__proto__":{"type":"subscribe"}}',
      '{"type":"subscribe","topics":["test:\' OR 1=1 --"]}',
      Buffer.from([0, 1, 2, 3, 255]),
      '\u0000'.repeat(100),
      '['.repeat(3000) + ']'.repeat(3000),
    ];

    let sent = 0;
    let errorFrames = 0;
    let closes = 0;
    while (sent < WS_MESSAGES) {
      const socket = new WebSocket(url);
      await new Promise<void>((resolve, reject) => {
        socket.once('open', () => resolve());
        socket.once('error', reject);
      });
      let open = true;
      socket.on('message', (data) => {
        const text = data.toString();
        try {
          if ((JSON.parse(text) as { type?: string }).type === 'error') errorFrames += 1;
        } catch {
          // Every server frame is JSON; a non-JSON frame fails the check below.
          errorFrames = Number.NaN;
        }
      });
      socket.on('close', () => {
        open = false;
        closes += 1;
      });
      for (let i = 0; i < 200 && open; i += 1) {
        const frame = random.pick(frames);
        socket.send(frame);
        sent += 1;
      }
      // Let the server answer what it got before closing.
      socket.send('{"type":"ping-check"}');
      await new Promise((resolve) => setTimeout(resolve, 100));
      socket.close();
      await new Promise((resolve) => (open ? socket.once('close', resolve) : resolve(undefined)));
    }
    console.log(`fuzz WS: ${sent} hostile messages, ${errorFrames} error frames received, ${closes} sockets closed`);
    expect(Number.isNaN(errorFrames)).toBe(false);
    expect(errorFrames).toBeGreaterThan(sent / 2);
    expect(await checksum()).toBe(before);
    const health = await service.app.inject({ method: 'GET', url: '/health' });
    expect(health.statusCode).toBe(200);
  }, 300_000);
});
