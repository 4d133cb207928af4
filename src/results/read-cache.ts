// The per-test reads (status, server metrics, lock contention, credits, insights), kept in memory: a test's
// stored results change only when one of its events commits, so a dashboard polling a test every few
// seconds should not resume a billed warehouse each time. Each entry holds the statement's rows and the JSON
// answer shaped from them; the answer depends on the clock only through its `minutes_remaining` values, so it
// is reused until the first of them would change (`answerStableUntil`), then shaped again from the same rows.
//
// An entry is dropped when
// - an event of its test commits on this instance (the bus), or is read from the outbox written by another
//   instance (the WebSocket feed, while sockets are open);
// - this instance writes without an event (a processor batch, a purge, cleanup) and says so;
// - READ_CACHE_SECONDS pass (other instances' changes and FlakeBench's own TEST_RESULTS writes show up
//   within that time).
// Concurrent misses for the same statement share one warehouse call; rows read while their test was
// invalidated are used for that request but not kept. An unknown test (404) is never kept: FlakeBench may
// write the test a moment later.
import { LRUCache } from 'lru-cache';
import type { Clock } from '../clock.js';
import type { BindValue, Row } from '../db/warehouse.js';
import type { Services } from '../services.js';
import { answerStableUntil, isKnownTest, readHead } from './availability.js';

/** Entries kept at most (a few KB each: one test's head row, its data rows and one answer). */
const MAX_ENTRIES = 2_000;

interface Entry {
  testId: string;
  rows: Row[];
  answer?: { value: unknown; until: number };
}

interface Pending {
  testId: string;
  entry: Promise<Entry>;
  stale: boolean;
}

export class TestReadCache {
  private readonly entries: LRUCache<string, Entry> | undefined;
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly clock: Clock,
    maxAgeMs: number,
  ) {
    // maxAgeMs 0 turns the cache off (every read goes to the warehouse).
    this.entries = maxAgeMs > 0 ? new LRUCache({ max: MAX_ENTRIES, ttl: maxAgeMs, perf: { now: () => clock.now().getTime() } }) : undefined;
  }

  /**
   * The answer shaped from the rows of `text` with `binds`: from memory while the rows and the answer are
   * fresh, else shaped again (from cached rows when they are fresh, else from `read`).
   */
  async answer<T>(testId: string, text: string, binds: readonly BindValue[], read: () => Promise<Row[]>, shape: (rows: Row[], now: Date) => T): Promise<T> {
    const entry = await this.entry(testId, text, binds, read);
    const now = this.clock.now();
    if (entry.answer && now.getTime() < entry.answer.until) return entry.answer.value as T;
    const value = shape(entry.rows, now);
    entry.answer = { value, until: answerStableUntil(readHead(testId, entry.rows[0]), now) };
    return value;
  }

  private async entry(testId: string, text: string, binds: readonly BindValue[], read: () => Promise<Row[]>): Promise<Entry> {
    if (!this.entries) return { testId, rows: await read() };
    const key = `${testId}\u0000${text}\u0000${JSON.stringify(binds)}`;
    const cached = this.entries.get(key);
    if (cached) return cached;
    const inFlight = this.pending.get(key);
    if (inFlight) return inFlight.entry;
    const pending: Pending = { testId, entry: read().then((rows) => ({ testId, rows })), stale: false };
    this.pending.set(key, pending);
    try {
      const entry = await pending.entry;
      if (!pending.stale && isKnownTest(entry.rows[0])) this.entries.set(key, entry);
      return entry;
    } finally {
      this.pending.delete(key);
    }
  }

  /** Something of this test changed: its next reads go to the warehouse. */
  invalidate(testId: string | null): void {
    if (!this.entries || testId === null) return;
    for (const [key, entry] of this.entries.entries()) if (entry.testId === testId) this.entries.delete(key);
    for (const pending of this.pending.values()) if (pending.testId === testId) pending.stale = true;
  }

  /** Changes whose tests are not known one by one (cleanup): everything is read again. */
  clear(): void {
    this.entries?.clear();
    for (const pending of this.pending.values()) pending.stale = true;
  }

  get size(): number {
    return this.entries?.size ?? 0;
  }
}

/** A per-test read (its statement starts with the head CTEs) through the services' cache, shaped by `shape`. */
export function cachedTestAnswer<T>(services: Services, testId: string, text: string, binds: readonly BindValue[], shape: (rows: Row[], now: Date) => T): Promise<T> {
  return services.testReads.answer(testId, text, binds, () => services.warehouse.query(text, binds), shape);
}
