// GET /ws against a listening service with real WebSocket clients: the completion summary after a
// simulated test, resume with replay, reset, heartbeat, slow-client close, auth, error frames, and two
// instances on one database. Conditions are awaited with bounded polling, never timed.
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ManualClock } from '../src/clock.js';
import type { EngineHandle } from '../src/engine.js';
import { eventBusOf } from '../src/events/bus.js';
import { MAX_MESSAGE_BYTES, MAX_TOPICS_PER_SOCKET } from '../src/events/frames.js';
import { insertEvent, type EnrichmentEvent } from '../src/events/outbox.js';
import { SLOW_CLIENT_CLOSE_CODE } from '../src/events/hub.js';
import { Processor } from '../src/processor/processor.js';
import { runCleanup } from '../src/queue/cleanup.js';
import { enqueueJob } from '../src/queue/enqueue.js';
import { cancelJob } from '../src/queue/operations.js';
import { startService, type RunningService } from '../src/service.js';
import type { Services } from '../src/services.js';
import { openTestDatabase, silentLog, startTestService, testConfig, type TestDatabase } from './support/embedded.js';
import { insertTests } from './support/processor-fixtures.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const TOKEN = 'ws-test-token-0123456789';

type Frame = Record<string, unknown> & { type: string; seq?: number; data?: Record<string, unknown> };

/** Polls `check` until it is truthy; fails naming `what` after a generous bound (a deadline, not a measurement). */
async function until<T>(check: () => T | Promise<T>, what: string, bound = 20_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + bound;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

class Client {
  readonly frames: Frame[] = [];
  closed: { code: number; reason: string } | undefined;
  pings = 0;
  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data, isBinary) => {
      expect(isBinary).toBe(false);
      this.frames.push(JSON.parse(data.toString()) as Frame);
    });
    socket.on('ping', () => (this.pings += 1));
    socket.on('close', (code, reason) => (this.closed = { code, reason: reason.toString() }));
  }

  static async open(url: string, options: WebSocket.ClientOptions = {}): Promise<Client> {
    const socket = new WebSocket(url, options);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return new Client(socket);
  }

  send(message: unknown): void {
    this.socket.send(typeof message === 'string' || Buffer.isBuffer(message) ? message : JSON.stringify(message));
  }

  events(): Frame[] {
    return this.frames.filter((frame) => typeof frame.seq === 'number');
  }

  /** The next frame of `type` after the first `skip` of them. */
  async next(type: string, skip = 0): Promise<Frame> {
    return until(() => this.frames.filter((frame) => frame.type === type)[skip], `a ${type} frame`);
  }

  /** Subscribes and waits for the ack; returns its last_seq. */
  async subscribe(topics: string[]): Promise<number> {
    const acks = this.frames.filter((frame) => frame.type === 'subscribed').length;
    this.send({ type: 'subscribe', topics });
    return (await this.next('subscribed', acks)).last_seq as number;
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.socket.close();
    return until(() => this.closed, 'the client close').then(() => undefined);
  }
}

const wsUrl = (address: string, path = '/ws') => `${address.replace('http', 'ws')}${path}`;

describe('WebSocket /ws', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function listening(env: Record<string, string> = {}, clock = new ManualClock('2026-03-02T12:00:00Z')) {
    const service = await startTestService({ clock, env: { LATENCY_SCALE: '0.01', ...env } });
    cleanups.push(() => service.stop());
    const address = await service.app.listen({ host: '127.0.0.1', port: 0 });
    const clients: Client[] = [];
    cleanups.push(async () => {
      for (const client of clients) await client.close().catch(() => undefined);
    });
    const connect = async (path = '/ws', options: WebSocket.ClientOptions = {}) => {
      const client = await Client.open(wsUrl(address, path), options);
      clients.push(client);
      return client;
    };
    return { service, clock, address, connect };
  }

  const outboxSeqs = async (services: Services, where: string, binds: Array<string | number>) =>
    (await services.warehouse.query(`SELECT SEQ FROM ENRICHMENT_EVENTS WHERE ${where} ORDER BY SEQ`, binds)).map((row) => Number(row.SEQ));

  /** Enqueues one job per id (real writer: commits, then publishes on the bus). */
  async function enqueueTests(services: Services, ids: string[], runId = 'run-ws'): Promise<void> {
    await insertTests(services.warehouse, ids.map((testId) => ({ testId, runId })));
    for (const testId of ids) {
      await enqueueJob(services, { test_id: testId, run_id: runId, table_type: 'STANDARD', test_end_time: new Date(services.clock.now().getTime() - HOUR) });
    }
  }

  it('streams enrichment_complete with the summary TEST_RESULTS holds after a simulated test, in seq order', async () => {
    const { service, clock, address, connect } = await listening();
    const queueClient = await connect();
    await queueClient.subscribe(['queue']);
    expect((await queueClient.next('queue_stats')).data).toHaveProperty('depth_by_status');

    const response = await fetch(`${address}/api/dev/simulate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ table_type: 'HYBRID', seed: 7, duration_minutes: 3, sessions: 4, enqueue: true }),
    });
    expect(response.status).toBe(200);
    const sim = (await response.json()) as { test_id: string; run_id: string; job_id: string; truth: Record<string, Record<string, number | null>> };
    const enqueued = await until(() => queueClient.events().find((frame) => frame.type === 'job_enqueued'), 'job_enqueued on the queue topic');
    expect(enqueued).toMatchObject({ test_id: sim.test_id, run_id: sim.run_id, job_id: sim.job_id });

    const testClient = await connect();
    const from = await testClient.subscribe([`test:${sim.test_id}`]);
    clock.advance(4 * HOUR);
    const processor = new Processor(service.services);
    await processor.poll();
    await processor.idle();

    const complete = await until(() => testClient.events().find((frame) => frame.type === 'enrichment_complete'), 'enrichment_complete');
    const [row] = await service.services.warehouse.query('SELECT * FROM TEST_RESULTS WHERE TEST_ID = ?', [sim.test_id]);
    expect(complete).toMatchObject({ test_id: sim.test_id, run_id: sim.run_id, job_id: sim.job_id });
    expect(complete.at).toMatch(/Z$/);
    const data = complete.data!;
    expect(data.delayed_enrichment_status).toBe('COMPLETED');
    expect(data.aggregate_enrichment_status).toBe('COMPLETED');
    expect(data.throttled_query_count).toBe(sim.truth.overall!.throttled_count);
    expect(data.lock_wait_count).toBe(sim.truth.lock_waits!.count);
    expect(data.hybrid_credits_used as number).toBeCloseTo(sim.truth.credits!.credits_used as number, 6);
    expect(data.query_insights_count).toBe(row!.QUERY_INSIGHTS_COUNT);
    expect(data.query_insights_high_severity_count).toBe(row!.QUERY_INSIGHTS_HIGH_SEVERITY_COUNT);
    expect(data.delayed_enrichment_completed_at).toBe((row!.DELAYED_ENRICHMENT_COMPLETED_AT as Date).toISOString());
    expect(data).not.toHaveProperty('summary');

    // Exactly the test's committed events after the subscription, in seq order, nothing else.
    const stored = await outboxSeqs(service.services, 'TEST_ID = ? AND SEQ > ?', [sim.test_id, from]);
    expect(testClient.events().map((frame) => frame.seq)).toEqual(stored);
    const types = testClient.events().map((frame) => frame.type);
    expect(types[0]).toBe('job_claimed');
    expect(types.filter((type) => type === 'enrichment_progress')).toHaveLength(5);
    expect(types.at(-1)).toBe('enrichment_complete');
    const progress = testClient.events().find((frame) => frame.type === 'enrichment_progress')!;
    expect(progress.data).toMatchObject({ outcome: 'COMPLETED' });
    expect(typeof progress.data!.enrichment_type).toBe('string');
    // The queue topic got every one of them too.
    await until(() => queueClient.events().some((frame) => frame.type === 'enrichment_complete'), 'enrichment_complete on queue');
    expect(queueClient.events().filter((frame) => (frame.seq as number) > from).map((frame) => frame.seq)).toEqual(stored);
    const sent = (await service.services.metrics.wsEventsSent.get()).values.find((value) => value.labels.type === 'enrichment_complete');
    expect(sent?.value).toBe(2); // one per subscribed socket
  });

  it('pushes queue_stats periodically to queue subscribers only, from the cached stats', async () => {
    const { service, connect } = await listening({ QUEUE_STATS_PUSH_SECONDS: '0.05' });
    await enqueueTests(service.services, ['qs-1']);
    const expected = await service.services.queueStats.get();
    const queue = await connect();
    const other = await connect();
    await other.subscribe(['test:qs-1']);
    await queue.subscribe(['queue']);
    const third = await queue.next('queue_stats', 3);
    expect(third).not.toHaveProperty('seq');
    expect(third.at).toMatch(/Z$/);
    expect(JSON.parse(JSON.stringify(third.data))).toEqual(JSON.parse(JSON.stringify(expected)));
    expect(other.frames.filter((frame) => frame.type === 'queue_stats')).toEqual([]);
  });

  it('resume replays exactly the missed events of the topics in order, then continues live without duplicates', async () => {
    const { service, connect } = await listening();
    const s = service.services;
    const first = await connect();
    await first.subscribe(['queue']);
    await enqueueTests(s, ['r-1', 'r-2']);
    await until(() => first.events().length === 2, 'two live events');
    const lastSeen = first.events().at(-1)!.seq as number;
    await first.close();

    await enqueueTests(s, ['r-3', 'r-4', 'r-5']);
    const missed = await outboxSeqs(s, 'SEQ > ?', [lastSeen]);
    expect(missed).toHaveLength(3);

    const second = await connect();
    await second.subscribe(['queue']);
    second.send({ type: 'resume', since: lastSeen });
    // Live writes while the replay runs: each must arrive once, after the replayed ones.
    const during = enqueueTests(s, ['r-6', 'r-7']);
    const resumed = await second.next('resumed');
    await during;
    const all = await outboxSeqs(s, 'SEQ > ?', [lastSeen]);
    await until(() => second.events().length >= all.length, 'replayed and live events');
    expect(second.events().map((frame) => frame.seq)).toEqual(all);
    expect(resumed.replayed as number).toBeGreaterThanOrEqual(missed.length);
    expect(second.frames.findIndex((frame) => frame.type === 'resumed')).toBeGreaterThanOrEqual(missed.length);

    // A topic-filtered resume replays only that test's events.
    const third = await connect();
    await third.subscribe(['test:r-4']);
    third.send({ type: 'resume', since: lastSeen });
    expect((await third.next('resumed')).replayed).toBe(1);
    expect(third.events().map((frame) => [frame.test_id, frame.type])).toEqual([['r-4', 'job_enqueued']]);
  });

  it('delivers in seq order across out-of-order commits: holds a gap until it fills, skips a rolled-back seq, sends a late commit late', async () => {
    const { service, connect } = await listening();
    const s = service.services;
    const other = await s.engine.connect(); // a second writer, like the processor's connection
    cleanups.push(() => other.close());
    const openWrites: Array<{ end(commit: boolean): void; done: Promise<void> }> = [];
    // A failed assertion must not leave a transaction open (the connection would never close).
    cleanups.push(async () => {
      for (const write of openWrites) write.end(false);
      await Promise.all(openWrites.map((write) => write.done));
    });
    const client = await connect();
    await client.subscribe(['run:run-order']);
    const event = (testId: string): EnrichmentEvent => ({ type: 'job_cancelled', at: s.clock.now(), job_id: null, test_id: testId, run_id: 'run-order' });
    const publish = (testId: string) => eventBusOf(s).publish([event(testId)]);
    const seqOf = async (testId: string) => (await outboxSeqs(s, 'TEST_ID = ?', [testId]))[0];

    /** Opens a transaction on the other connection that takes a seq and waits for `end` to commit (or roll back). */
    const openWrite = (testId: string) => {
      let end!: (commit: boolean) => void;
      const decision = new Promise<boolean>((resolve) => (end = resolve));
      let inserted!: () => void;
      const ready = new Promise<void>((resolve) => (inserted = resolve));
      const done = other
        .withTransaction(async (scope) => {
          const statement = insertEvent(event(testId));
          await scope.execute(statement.sql, statement.binds);
          inserted();
          if (!(await decision)) throw new Error('rolled back on purpose');
        })
        .then(
          () => publish(testId),
          () => undefined,
        );
      openWrites.push({ end, done });
      return { ready, end, done };
    };

    // 1. The lower seq commits after the higher one: the higher waits, then both arrive in order.
    const slowWrite = openWrite('o-held');
    await slowWrite.ready;
    await s.warehouse.transaction([insertEvent(event('o-after'))]);
    publish('o-after');
    await s.warehouse.query('SELECT 1'); // the feed's read (queued on this connection before) has run
    await new Promise((resolve) => setImmediate(resolve));
    expect(client.events()).toEqual([]);
    slowWrite.end(true);
    await slowWrite.done;
    await until(() => client.events().length === 2, 'both events once the gap filled');
    expect(client.events().map((frame) => frame.test_id)).toEqual(['o-held', 'o-after']);
    expect(client.events().map((frame) => frame.seq)).toEqual([await seqOf('o-held'), await seqOf('o-after')]);

    // 2. A seq whose transaction rolls back never fills: the later event comes after the settle window.
    const rolledBack = openWrite('o-rolled-back');
    await rolledBack.ready;
    rolledBack.end(false);
    await rolledBack.done;
    await s.warehouse.transaction([insertEvent(event('o-after-gap'))]);
    publish('o-after-gap');
    await until(() => client.events().length === 3, 'the event behind a gap that never fills');
    expect(client.events()[2]!.test_id).toBe('o-after-gap');

    // 3. A transaction that commits after its gap was skipped is still delivered (late), not lost.
    const late = openWrite('o-late');
    await late.ready;
    await s.warehouse.transaction([insertEvent(event('o-before-late'))]);
    publish('o-before-late');
    await until(() => client.events().length === 4, 'the event delivered past the late gap');
    late.end(true);
    await late.done;
    await until(() => client.events().length === 5, 'the late event');
    expect(client.events().slice(3).map((frame) => frame.test_id)).toEqual(['o-before-late', 'o-late']);
    expect(await seqOf('o-late')).toBeLessThan((await seqOf('o-before-late'))!);
  });

  it('answers reset when since is older than the events cleanup kept, or newer than the latest', async () => {
    const { service, clock, connect } = await listening();
    const s = service.services;
    await enqueueTests(s, ['old-1', 'old-2']);
    clock.advance(40 * DAY);
    await enqueueTests(s, ['new-1'], 'run-new');
    const removed = await runCleanup(s, s.warehouse);
    expect(removed).toBeDefined();
    const kept = await outboxSeqs(s, '1 = 1', []);
    expect(kept).toHaveLength(1);
    const oldest = kept[0]!;
    expect(oldest).toBeGreaterThan(1);

    const client = await connect();
    await client.subscribe(['queue']);
    client.send({ type: 'resume', since: 0 });
    const reset = await client.next('reset');
    expect(reset).toMatchObject({ since: 0, oldest_seq: oldest });
    expect(reset.detail).toMatch(/no longer kept/);

    client.send({ type: 'resume', since: oldest + 1000 });
    expect((await client.next('reset', 1)).detail).toMatch(/after the latest event/);

    client.send({ type: 'resume', since: oldest - 1 });
    expect(await client.next('resumed')).toMatchObject({ since: oldest - 1, replayed: 1 });
    expect(client.events().map((frame) => frame.seq)).toEqual([oldest]);
  });

  it('closes a socket that stops answering pings and keeps one that answers', async () => {
    const { service, connect } = await listening({ WS_HEARTBEAT_SECONDS: '0.1' });
    const deaf = await connect('/ws', { autoPong: false });
    const healthy = await connect();
    const closed = await until(() => deaf.closed, 'the deaf socket to be closed');
    expect(closed.code).toBe(1006); // terminated, no close handshake
    await until(() => healthy.pings >= 3, 'three pings on the healthy socket');
    expect(healthy.closed).toBeUndefined();
    await healthy.subscribe(['queue']);
    expect(await service.services.metrics.wsClients.get()).toMatchObject({ values: [{ value: 1 }] });
  });

  it('closes a client that stops reading with 4000 while another client gets every event', async () => {
    const { service, connect } = await listening({ WS_MAX_BUFFERED_KB: '256' });
    const s = service.services;
    const slow = await connect();
    const fast = await connect();
    const from = await fast.subscribe(['test:slow-load']);
    await slow.subscribe(['test:slow-load']);
    (slow.socket as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();

    const filler = 'x'.repeat(4000);
    let written = 0;
    const dropped = async () => (await s.metrics.wsDroppedSlowClients.get()).values[0]?.value ?? 0;
    for (let round = 0; round < 2000 && (await dropped()) === 0; round += 1) {
      const events: EnrichmentEvent[] = Array.from({ length: 20 }, (_, i) => ({
        type: 'enrichment_progress',
        at: s.clock.now(),
        job_id: null,
        test_id: 'slow-load',
        run_id: 'run-slow',
        enrichment_type: 'AGGREGATE',
        payload: { status: 'COMPLETED', rows: round * 20 + i, filler },
      }));
      await s.warehouse.transaction(events.map(insertEvent));
      eventBusOf(s).publish(events);
      written += events.length;
      await until(() => fast.events().length === written, `round ${round} at the fast client`);
    }
    expect(await dropped()).toBe(1);
    expect(fast.closed).toBeUndefined();
    const stored = await outboxSeqs(s, 'TEST_ID = ? AND SEQ > ?', ['slow-load', from]);
    expect(fast.events().map((frame) => frame.seq)).toEqual(stored);

    (slow.socket as unknown as { _socket: { resume(): void } })._socket.resume();
    const closed = await until(() => slow.closed, 'the slow client close');
    expect(closed.code).toBe(SLOW_CLIENT_CLOSE_CODE);
    expect(closed.reason).toMatch(/REST/);
    expect(slow.events().length).toBeLessThan(written);
  });

  it('app close ends every socket, also one whose peer stopped reading', async () => {
    const { service, connect } = await listening();
    const polite = await connect();
    const stuck = await connect();
    await polite.subscribe(['queue']);
    await stuck.subscribe(['queue']);
    (stuck.socket as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    try {
      await service.stop();
    } finally {
      (stuck.socket as unknown as { _socket: { resume(): void } })._socket.resume();
    }
    // A close handshake (the websocket plugin's own preClose may close first, without a code).
    expect([1001, 1005]).toContain((await until(() => polite.closed, 'the polite client close')).code);
    await until(() => stuck.closed, 'the stuck client close');
    expect((await service.services.metrics.wsClients.get()).values[0]?.value).toBe(0);
  });

  it('rejects the upgrade without a valid token (401) and accepts ?token= and the bearer header', async () => {
    const { address, connect } = await listening({ API_TOKEN: TOKEN, API_AUTH_SCOPE: 'all' });
    for (const path of ['/ws', '/ws?token=wrong-token-value-0000']) {
      const status = await new Promise<number>((resolve, reject) => {
        const socket = new WebSocket(wsUrl(address, path));
        socket.once('unexpected-response', (_request, response) => {
          resolve(response.statusCode ?? 0);
          socket.terminate();
        });
        socket.once('open', () => reject(new Error(`upgrade of ${path} was accepted`)));
        socket.once('error', () => undefined);
      });
      expect(status, path).toBe(401);
    }
    const byQuery = await connect(`/ws?token=${TOKEN}`);
    expect(await byQuery.subscribe(['queue'])).toBeGreaterThanOrEqual(0);
    const byHeader = await connect('/ws', { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(await byHeader.subscribe(['run:x'])).toBeGreaterThanOrEqual(0);

    const plain = await fetch(`${address}/ws?token=${TOKEN}`);
    expect(plain.status).toBe(426);
    expect(((await plain.json()) as { detail: string }).detail).toMatch(/WebSocket/);
  });

  it('answers every invalid message with an error frame naming the problem and stays usable', async () => {
    const { connect } = await listening();
    const client = await connect();
    const cases: Array<[string | Buffer, RegExp]> = [
      ['not json', /not valid JSON/],
      ['[1,2]', /JSON object/],
      ['{"type":1}', /"type" must be a string/],
      ['{"topics":["queue"]}', /no "type"/],
      ['{"type":"drop_tables"}', /unknown message type "drop_tables"/],
      ['{"type":"__proto__"}', /unknown message type/],
      ['{"type":"subscribe"}', /needs "topics"/],
      ['{"type":"subscribe","topics":"queue"}', /needs "topics"/],
      ['{"type":"subscribe","topics":[]}', /at least one topic/],
      ['{"type":"subscribe","topics":[7]}', /must be a string \(got number\)/],
      ['{"type":"subscribe","topics":["*"]}', /unknown topic "\*".*no "\*" topic/],
      ['{"type":"subscribe","topics":["test:"]}', /empty id/],
      [JSON.stringify({ type: 'subscribe', topics: [`test:${'x'.repeat(65)}`] }), /longer than 64/],
      ['{"type":"subscribe","topics":["test:a b"]}', /spaces or non-printable/],
      [JSON.stringify({ type: 'subscribe', topics: Array.from({ length: MAX_TOPICS_PER_SOCKET + 1 }, (_, i) => `test:${i}`) }), /more than the 100/],
      ['{"type":"subscribe","topics":["queue"],"extra":1}', /unexpected field "extra"/],
      ['{"type":"resume"}', /needs "since"/],
      ['{"type":"resume","since":"5"}', /non-negative integer/],
      ['{"type":"resume","since":-1}', /non-negative integer/],
      ['{"type":"resume","since":1.5}', /non-negative integer/],
      ['{"type":"resume","since":99999999999999999999}', /non-negative integer/],
      [JSON.stringify({ type: 'subscribe', topics: ['queue'], pad: 'y'.repeat(MAX_MESSAGE_BYTES) }), /larger than the 16384-byte limit/],
      ['{"a":"' + 'z'.repeat(200_000) + '"}', /larger than the 16384-byte limit/],
      [Buffer.from([0, 1, 2, 255]), /binary frames/],
    ];
    for (const [index, [message, expected]] of cases.entries()) {
      client.socket.send(message, { binary: Buffer.isBuffer(message) });
      const frame = await client.next('error', index);
      expect(frame.detail, String(message).slice(0, 60)).toMatch(expected);
      expect(Object.keys(frame).sort()).toEqual(['detail', 'type']);
    }
    expect(client.closed).toBeUndefined();
    expect(client.frames.filter((frame) => frame.type === 'subscribed')).toEqual([]);

    // Filling up to the cap works; one more topic is refused and changes nothing.
    await client.subscribe(Array.from({ length: MAX_TOPICS_PER_SOCKET }, (_, i) => `run:${i}`));
    client.send({ type: 'subscribe', topics: ['queue'] });
    expect((await client.next('error', cases.length)).detail).toMatch(/would pass the 100/);
    client.send({ type: 'unsubscribe', topics: ['run:0', 'run:1'] });
    expect(((await client.next('unsubscribed')).topics as string[]).length).toBe(MAX_TOPICS_PER_SOCKET - 2);
  });

  describe('two instances on one database', () => {
    let db: TestDatabase | undefined;
    const running: RunningService[] = [];
    afterEach(async () => {
      for (const service of running.splice(0)) await service.stop();
      await db?.close();
      db = undefined;
    });

    it("delivers an event written by the other instance at this instance's next poll", async () => {
      const clock = new ManualClock('2026-03-02T12:00:00Z');
      db = await openTestDatabase(clock);
      const shared = db;
      const engineOn = async (): Promise<EngineHandle> => ({
        engine: 'duckdb',
        warehouse: await shared.database.connect(),
        connect: () => shared.database.connect(),
        location: shared.engine.location,
        close: async () => undefined, // the test closes the database
      });
      const config = testConfig({ DATA_DIR: shared.dir, POLL_CRON: '* * * * * *' });
      const writer = await startService(config, silentLog, { clock, engine: await engineOn() });
      running.push(writer);
      const reader = await startService(config, silentLog, { clock, engine: await engineOn() });
      running.push(reader);
      const address = await reader.app.listen({ host: '127.0.0.1', port: 0 });

      const client = await Client.open(wsUrl(address));
      cleanups.push(() => client.close());
      const from = await client.subscribe(['run:run-shared']);
      await enqueueTests(writer.services, ['shared-1', 'shared-2'], 'run-shared');
      const stored = await outboxSeqs(writer.services, 'RUN_ID = ? AND SEQ > ?', ['run-shared', from]);
      expect(stored).toHaveLength(2);
      await until(() => client.events().length === 2, 'the writer instance events at the reader');
      expect(client.events().map((frame) => [frame.seq, frame.type, frame.test_id])).toEqual([
        [stored[0], 'job_enqueued', 'shared-1'],
        [stored[1], 'job_enqueued', 'shared-2'],
      ]);

      // The reader's read cache holds shared-1's rows; the writer's cancel reaches it through the feed.
      const statusOf = async () => (await reader.app.inject({ method: 'GET', url: '/api/tests/shared-1/delayed-enrichment-status' })).json();
      expect((await statusOf()).status).toBe('PENDING');
      const cached = reader.services.warehouse.counters.statements;
      expect((await statusOf()).status).toBe('PENDING');
      expect(reader.services.warehouse.counters.statements).toBe(cached);
      await cancelJob(writer.services, String(client.events()[0]!.job_id));
      await until(() => client.events().length === 3, 'the cancel at the reader');
      expect((await statusOf()).status).toBe('SKIPPED');

      // With nobody connected the reader's feed stops: a local event sends no statement.
      await client.close();
      await until(async () => ((await reader.services.metrics.wsClients.get()).values[0]?.value ?? 0) === 0, 'the reader to see the close');
      const before = reader.services.warehouse.counters.statements;
      eventBusOf(reader.services).publish([{ type: 'job_cancelled', at: clock.now(), job_id: null, test_id: null, run_id: null }]);
      await new Promise((resolve) => setImmediate(resolve));
      expect(reader.services.warehouse.counters.statements).toBe(before);
    });
  });
});
