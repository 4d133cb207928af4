// The ordered tail of the ENRICHMENT_EVENTS outbox for this instance's WebSocket clients.
//
// Why it reads the table instead of forwarding bus objects: bus events carry neither SEQ nor the
// committed summary, and events written by other instances never reach this bus. The bus (after every
// local commit) and the processor's poll schedule only say "read now".
//
// Ordering: SEQ comes from a sequence, and two transactions (API and processor connections, or two
// instances) can commit out of SEQ order. A read that shows a gap (seq jumps) holds the later events
// until the gap fills or SETTLE_MS pass; then the gap is skipped. A skipped seq that commits later within
// LATE_WATCH_MS is still delivered (late, out of order) rather than lost; resume always replays from the
// table, so it never misses a committed event.
//
// Cost: nothing is queried while no socket is open (start/stop follow the clients), since on Snowflake
// every statement may resume a billed warehouse.
import { performance } from 'node:perf_hooks';
import { createTask, type ScheduledTask } from 'node-cron';
import type { Warehouse } from '../db/warehouse.js';
import type { Services } from '../services.js';
import { eventBusOf } from './bus.js';
import { readEventBounds, readEventsAfter, type StoredEvent } from './outbox.js';

/** How long a seq gap is waited for before the events behind it are delivered. */
export const SETTLE_MS = 1500;
/** How long a skipped seq is still looked for (a transaction that committed very late). */
export const LATE_WATCH_MS = 60_000;
const PAGE = 1000;

export type FeedSink = (event: StoredEvent, late: boolean) => void;

interface SeqRange {
  from: number;
  to: number;
  /** Gaps: when first seen. Late watches: when the watch ends. */
  at: number;
}

export class EventFeed {
  /** Every seq ≤ cursor was delivered or given up. Undefined while stopped. */
  private cursor: number | undefined;
  private starting: Promise<void> | undefined;
  private generation = 0;
  private reading = false;
  private dirty = false;
  private gaps: SeqRange[] = [];
  private lateWatch: SeqRange[] = [];
  private readonly deliveredLate = new Set<number>();
  private settleTimer: NodeJS.Timeout | undefined;
  private pollTask: ScheduledTask | undefined;
  private unsubscribeBus: (() => void) | undefined;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly services: Services,
    private readonly sink: FeedSink,
    private readonly warehouse: Warehouse = services.warehouse,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** The seq up to which events were handed to the sink (live starts after it). */
  get position(): number {
    return this.cursor ?? 0;
  }

  get running(): boolean {
    return this.starting !== undefined;
  }

  /** Starts tailing from the latest stored seq (idempotent; concurrent callers share the start). */
  start(): Promise<void> {
    if (this.starting) return this.starting;
    const generation = this.generation;
    // Listen before reading the bounds so a commit in between still triggers a read.
    this.unsubscribeBus = eventBusOf(this.services).subscribe(() => this.refresh());
    this.pollTask = createTask(this.services.config.pollCron, () => this.refresh(), { name: 'ws-feed-poll', timezone: 'UTC', noOverlap: true });
    void this.pollTask.start();
    this.starting = readEventBounds(this.warehouse).then(
      (bounds) => {
        if (generation !== this.generation) return;
        this.cursor = bounds.latest ?? 0;
        if (this.dirty) this.refresh();
      },
      (error: unknown) => {
        if (generation === this.generation) this.stop();
        throw error;
      },
    );
    return this.starting;
  }

  /** Stops reading (the last socket closed); a later start() begins again from the latest seq. */
  stop(): void {
    this.generation += 1;
    this.starting = undefined;
    this.cursor = undefined;
    this.dirty = false;
    this.reading = false; // a read still in flight belongs to the old generation and is discarded
    this.gaps = [];
    this.lateWatch = [];
    this.deliveredLate.clear();
    if (this.settleTimer) clearTimeout(this.settleTimer);
    this.settleTimer = undefined;
    this.unsubscribeBus?.();
    this.unsubscribeBus = undefined;
    const task = this.pollTask;
    this.pollTask = undefined;
    if (task) void Promise.resolve(task.destroy()).catch(() => undefined);
    this.releaseIdle();
  }

  /** Read the outbox now (coalesced: one read at a time, one more if asked while reading). */
  refresh(): void {
    if (!this.starting) return;
    if (this.cursor === undefined || this.reading) {
      this.dirty = true;
      return;
    }
    this.dirty = false;
    this.reading = true;
    const generation = this.generation;
    void this.readAll(generation)
      .catch((error: unknown) => {
        if (generation === this.generation) {
          this.services.log.warn({ err: error instanceof Error ? error.message : String(error) }, 'WebSocket feed could not read the events outbox; retrying at the next trigger');
        }
      })
      .finally(() => {
        if (generation !== this.generation) return;
        this.reading = false;
        if (this.dirty) this.refresh();
        else this.releaseIdle();
      });
  }

  /** Resolves when no read is running or pending (tests and the benchmark wait on it). */
  idle(): Promise<void> {
    if (!this.reading && !this.dirty) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private releaseIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private async readAll(generation: number): Promise<void> {
    this.expireLateWatch();
    let lower = Math.min(this.cursor!, ...this.lateWatch.map((range) => range.from - 1));
    for (;;) {
      const rows = await readEventsAfter(this.warehouse, lower, PAGE);
      if (generation !== this.generation) return;
      const held = this.consume(rows);
      if (held || rows.length < PAGE) return;
      lower = rows[rows.length - 1]!.seq;
    }
  }

  /** Hands rows to the sink in seq order; returns true when a gap holds the rest back. */
  private consume(rows: readonly StoredEvent[]): boolean {
    const now = this.now();
    try {
      for (const event of rows) {
        const cursor = this.cursor!;
        if (event.seq <= cursor) {
          if (this.isWatched(event.seq) && !this.deliveredLate.has(event.seq)) {
            this.deliveredLate.add(event.seq);
            this.sink(event, true);
          }
          continue;
        }
        const expected = cursor + 1;
        if (event.seq > expected) {
          const gap = this.gapAt(expected, event.seq - 1, now);
          const waited = now - gap.at;
          if (waited < SETTLE_MS) {
            this.armSettleTimer(SETTLE_MS - waited);
            return true;
          }
          this.lateWatch.push({ from: expected, to: event.seq - 1, at: now + LATE_WATCH_MS });
        }
        this.cursor = event.seq;
        this.sink(event, false);
      }
      return false;
    } finally {
      this.gaps = this.gaps.filter((gap) => gap.to > this.cursor!);
    }
  }

  /** The gap containing `from`, first seen now when new (a gap that partly filled keeps its age). */
  private gapAt(from: number, to: number, now: number): SeqRange {
    const known = this.gaps.find((gap) => gap.from <= from && from <= gap.to);
    if (known) return known;
    const gap = { from, to, at: now };
    this.gaps.push(gap);
    return gap;
  }

  private isWatched(seq: number): boolean {
    return this.lateWatch.some((range) => range.from <= seq && seq <= range.to);
  }

  private expireLateWatch(): void {
    const now = this.now();
    const before = this.lateWatch.length;
    this.lateWatch = this.lateWatch.filter((range) => range.at > now);
    if (this.lateWatch.length !== before) {
      for (const seq of this.deliveredLate) if (!this.isWatched(seq)) this.deliveredLate.delete(seq);
    }
  }

  private armSettleTimer(delayMs: number): void {
    if (this.settleTimer) return;
    this.settleTimer = setTimeout(() => {
      this.settleTimer = undefined;
      this.refresh();
    }, Math.ceil(delayMs) + 5);
    this.settleTimer.unref();
  }
}
