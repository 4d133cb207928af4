// The /ws clients of one service: subscriptions, resume with replay, per-socket sends with a buffer cap,
// heartbeat, and queue_stats pushes. Sends never wait for a client: a socket whose unsent data passes
// WS_MAX_BUFFERED_KB is closed with 4000 (resync over REST), so one slow client never slows the others.
// Timers run only while sockets are open and are unref'd; close() ends every socket.
import type { WebSocket, RawData } from 'ws';
import type { Services } from '../services.js';
import { EventFeed } from './feed.js';
import { controlFrame, encodeEvent, errorFrame, matchesTopics, MAX_TOPICS_PER_SOCKET, parseClientMessage } from './frames.js';
import { readEventBounds, readEventsAfter, type StoredEvent } from './outbox.js';

/** Close code for a client that fell behind: refetch over REST, then reconnect and resume. */
export const SLOW_CLIENT_CLOSE_CODE = 4000;
const SLOW_CLIENT_REASON = 'send buffer over the cap: refetch over REST, then reconnect and resume';
/** Resume scans at most this many stored events; further back the client gets reset and refetches. */
export const MAX_REPLAY_SCAN = 20_000;
const REPLAY_PAGE = 1000;
/** How long shutdown waits for close handshakes before cutting sockets. */
const CLOSE_GRACE_MS = 500;

const OPEN = 1;

interface Client {
  socket: WebSocket;
  topics: Set<string>;
  /** Answered the last ping. */
  alive: boolean;
  /** Live events that arrived while a resume replays (sent after it, without duplicates). */
  replayBuffer: Array<{ event: StoredEvent; frame: Buffer; late: boolean }> | undefined;
  /** Live events with seq ≤ this were covered by a resume (not sent again). */
  coveredSeq: number;
  /** Messages are handled one after the other. */
  chain: Promise<void>;
  closed: boolean;
}

export class EventHub {
  private readonly clients = new Set<Client>();
  /** Sockets closed for being slow, until their peer finishes the handshake (shutdown cuts them). */
  private readonly dropped = new Set<WebSocket>();
  readonly feed: EventFeed;
  private heartbeat: NodeJS.Timeout | undefined;
  private statsTimer: NodeJS.Timeout | undefined;
  private closing = false;

  constructor(private readonly services: Services) {
    this.feed = new EventFeed(services, (event, late) => {
      // The feed also sees other instances' events: the only way their changes reach this read cache early.
      services.testReads.invalidate(event.test_id);
      this.deliver(event, late);
    });
  }

  get size(): number {
    return this.clients.size;
  }

  /** Takes over a freshly upgraded socket. Synchronous: listeners are attached before anything is awaited. */
  attach(socket: WebSocket): void {
    if (this.closing) {
      socket.close(1001, 'server shutting down');
      return;
    }
    const client: Client = { socket, topics: new Set(), alive: true, replayBuffer: undefined, coveredSeq: 0, chain: Promise.resolve(), closed: false };
    this.clients.add(client);
    this.services.metrics.wsClients.inc();
    socket.on('message', (data: RawData, isBinary: boolean) => {
      client.chain = client.chain.then(() => this.handle(client, data, isBinary)).catch((error: unknown) => {
        this.services.log.warn({ err: error instanceof Error ? error.message : String(error) }, 'WebSocket message handling failed');
        this.sendControl(client, errorFrame('the service could not handle this message; the error is in its log'));
      });
    });
    socket.on('pong', () => {
      client.alive = true;
    });
    socket.on('close', () => this.detach(client));
    socket.on('error', () => this.detach(client));
    this.startTimers();
    // Start tailing as soon as someone is connected, so `last_seq` in the first ack is current.
    this.feed.start().catch((error: unknown) => {
      this.services.log.warn({ err: error instanceof Error ? error.message : String(error) }, 'WebSocket feed could not start');
    });
  }

  private detach(client: Client): void {
    if (client.closed) return;
    client.closed = true;
    this.clients.delete(client);
    this.services.metrics.wsClients.dec();
    this.updateStatsTimer();
    if (this.clients.size === 0) {
      this.stopTimers();
      this.feed.stop();
    }
  }

  private async handle(client: Client, data: RawData, isBinary: boolean): Promise<void> {
    if (client.closed) return;
    const parsed = parseClientMessage(data, isBinary);
    if (!parsed.ok) return this.sendControl(client, errorFrame(parsed.detail));
    const message = parsed.message;
    if (message.type === 'subscribe') {
      const added = message.topics.filter((topic) => !client.topics.has(topic));
      if (client.topics.size + added.length > MAX_TOPICS_PER_SOCKET) {
        return this.sendControl(
          client,
          errorFrame(`subscribing to ${added.length} more topics would pass the ${MAX_TOPICS_PER_SOCKET} a socket may hold (it holds ${client.topics.size}); nothing changed`),
        );
      }
      await this.feed.start();
      for (const topic of added) client.topics.add(topic);
      this.updateStatsTimer();
      // last_seq: live events after it follow; a client that refetches over REST now can later resume from it.
      this.sendControl(client, controlFrame('subscribed', { topics: [...client.topics], last_seq: this.feed.position }));
      if (added.includes('queue')) await this.sendQueueStats([client]);
      return;
    }
    if (message.type === 'unsubscribe') {
      for (const topic of message.topics) client.topics.delete(topic);
      this.updateStatsTimer();
      return this.sendControl(client, controlFrame('unsubscribed', { topics: [...client.topics] }));
    }
    return this.resume(client, message.since);
  }

  /**
   * Replays every stored event with seq > since that matches the socket's topics, up to the feed's
   * position, then continues live (events delivered meanwhile are buffered and sent after, deduplicated).
   * since older than the oldest kept event, or newer than the latest one: reset (refetch over REST).
   */
  private async resume(client: Client, since: number): Promise<void> {
    await this.feed.start();
    client.replayBuffer = [];
    const upTo = this.feed.position;
    const sent = new Set<number>();
    let replayed = 0;
    try {
      const bounds = await readEventBounds(this.services.warehouse);
      const latest = Math.max(bounds.latest ?? 0, upTo);
      const oldest = bounds.oldest ?? latest + 1;
      if (since > latest) return this.reset(client, since, bounds, `since ${since} is after the latest event (${latest}); the client's position is not from this event store`);
      if (since < oldest - 1) return this.reset(client, since, bounds, `events after ${since} are no longer kept (oldest kept: ${bounds.oldest ?? 'none'})`);
      let lower = since;
      let scanned = 0;
      while (lower < upTo && !client.closed) {
        const rows = await readEventsAfter(this.services.warehouse, lower, REPLAY_PAGE);
        for (const event of rows) {
          if (event.seq > upTo) break;
          if (matchesTopics(event, client.topics)) {
            this.sendEvent(client, event, encodeEvent(event));
            sent.add(event.seq);
            replayed += 1;
          }
        }
        scanned += rows.length;
        if (rows.length < REPLAY_PAGE) break;
        lower = rows[rows.length - 1]!.seq;
        if (scanned >= MAX_REPLAY_SCAN && lower < upTo) {
          return this.reset(client, since, bounds, `more than ${MAX_REPLAY_SCAN} events to replay after ${since}`);
        }
      }
      client.coveredSeq = Math.max(client.coveredSeq, since, upTo);
      this.sendControl(client, controlFrame('resumed', { since, replayed, last_seq: upTo }));
    } finally {
      const buffered = client.replayBuffer ?? [];
      client.replayBuffer = undefined;
      for (const item of buffered) {
        if (sent.has(item.event.seq)) continue;
        if (!item.late && item.event.seq <= client.coveredSeq) continue;
        this.sendEvent(client, item.event, item.frame);
      }
    }
  }

  private reset(client: Client, since: number, bounds: { oldest: number | null; latest: number | null }, detail: string): void {
    // Live events keep flowing after a reset; the client's REST refetch covers what came before.
    client.coveredSeq = Math.max(client.coveredSeq, this.feed.position);
    this.sendControl(client, controlFrame('reset', { detail, since, oldest_seq: bounds.oldest, latest_seq: bounds.latest, last_seq: this.feed.position }));
  }

  /** The feed's sink: one encoding per event, sent to every socket whose topics match. */
  private deliver(event: StoredEvent, late: boolean): void {
    let frame: Buffer | undefined;
    for (const client of this.clients) {
      if (!matchesTopics(event, client.topics)) continue;
      frame ??= encodeEvent(event);
      if (client.replayBuffer) client.replayBuffer.push({ event, frame, late });
      else if (late || event.seq > client.coveredSeq) this.sendEvent(client, event, frame);
    }
  }

  private sendEvent(client: Client, event: StoredEvent, frame: Buffer): void {
    if (this.send(client, frame)) this.services.metrics.wsEventsSent.inc({ type: event.type });
  }

  private sendControl(client: Client, text: string): void {
    this.send(client, Buffer.from(text));
  }

  /** Queues a text frame; closes the socket instead when its unsent data is over the cap. Never waits. */
  private send(client: Client, frame: Buffer): boolean {
    if (client.closed || client.socket.readyState !== OPEN) return false;
    if (client.socket.bufferedAmount > this.services.config.ws.maxBufferedBytes) {
      this.services.metrics.wsDroppedSlowClients.inc();
      this.services.log.info({ buffered_bytes: client.socket.bufferedAmount }, 'closing a slow WebSocket client (send buffer over the cap)');
      const socket = client.socket;
      this.dropped.add(socket);
      socket.once('close', () => this.dropped.delete(socket));
      socket.close(SLOW_CLIENT_CLOSE_CODE, SLOW_CLIENT_REASON);
      this.detach(client);
      return false;
    }
    client.socket.send(frame, { binary: false });
    return true;
  }

  private startTimers(): void {
    if (this.heartbeat) return;
    this.heartbeat = setInterval(() => this.beat(), this.services.config.ws.heartbeatMs);
    this.heartbeat.unref();
  }

  private stopTimers(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    if (this.statsTimer) clearInterval(this.statsTimer);
    this.statsTimer = undefined;
  }

  /** A socket that did not answer the previous ping is cut (its peer is gone or stuck). */
  private beat(): void {
    for (const client of this.clients) {
      if (!client.alive) {
        client.socket.terminate();
        this.detach(client);
        continue;
      }
      client.alive = false;
      try {
        client.socket.ping();
      } catch {
        this.detach(client);
      }
    }
  }

  /** queue_stats pushes run only while some socket subscribes to `queue`. */
  private updateStatsTimer(): void {
    const wanted = [...this.clients].some((client) => client.topics.has('queue'));
    if (wanted && !this.statsTimer) {
      this.statsTimer = setInterval(() => void this.sendQueueStats(), this.services.config.ws.queueStatsPushMs);
      this.statsTimer.unref();
    } else if (!wanted && this.statsTimer) {
      clearInterval(this.statsTimer);
      this.statsTimer = undefined;
    }
  }

  private async sendQueueStats(targets?: Client[]): Promise<void> {
    let stats: unknown;
    try {
      stats = await this.services.queueStats.get();
    } catch (error) {
      this.services.log.warn({ err: error instanceof Error ? error.message : String(error) }, 'queue_stats not sent: the queue stats could not be read');
      return;
    }
    const frame = Buffer.from(controlFrame('queue_stats', { at: this.services.clock.now().toISOString(), data: stats }));
    for (const client of targets ?? this.clients) {
      if (client.topics.has('queue') && this.send(client, frame)) this.services.metrics.wsEventsSent.inc({ type: 'queue_stats' });
    }
  }

  /** Shutdown: close every socket (1001), cut those that do not finish the handshake, stop timers and feed. */
  async close(): Promise<void> {
    this.closing = true;
    for (const socket of this.dropped) socket.terminate(); // a slow peer would hold the close handshake for 30 s
    this.dropped.clear();
    const sockets = [...this.clients].map((client) => client.socket);
    for (const socket of sockets) socket.close(1001, 'server shutting down');
    this.stopTimers();
    this.feed.stop();
    const closed = sockets.map((socket) =>
      socket.readyState === 3 ? Promise.resolve() : new Promise<void>((resolve) => socket.once('close', () => resolve())),
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(closed), new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS)))]);
    clearTimeout(timer);
    for (const socket of sockets) if (socket.readyState !== 3) socket.terminate();
    for (const client of [...this.clients]) this.detach(client);
  }
}
