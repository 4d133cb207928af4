// Queue stats are two warehouse statements; on Snowflake each can resume a billed warehouse. Every reader
// (GET /api/enrichment/stats, /metrics, the WebSocket queue_stats frames) goes through this cache: a value
// is reused until an event of this instance invalidates it or STATS_CACHE_SECONDS pass (changes made by
// other instances show up within that time). Concurrent readers share one computation.
import type { Clock } from '../clock.js';
import type { QueueStats } from './stats.js';

export class QueueStatsCache {
  private value: { stats: QueueStats; at: number } | undefined;
  private pending: Promise<QueueStats> | undefined;
  private generation = 0;

  constructor(
    private readonly compute: () => Promise<QueueStats>,
    private readonly clock: Clock,
    private readonly maxAgeMs: number,
  ) {}

  /** The cached stats when fresh, else one new computation (shared by concurrent callers). */
  get(): Promise<QueueStats> {
    const now = this.clock.now().getTime();
    if (this.value && now - this.value.at < this.maxAgeMs && now >= this.value.at) return Promise.resolve(this.value.stats);
    if (this.pending) return this.pending;
    const generation = this.generation;
    this.pending = this.compute()
      .then((stats) => {
        // An invalidation while computing means the result may already be stale: return it, do not keep it.
        if (generation === this.generation) this.value = { stats, at: now };
        return stats;
      })
      .finally(() => {
        this.pending = undefined;
      });
    return this.pending;
  }

  /** Something changed (an event of this instance): the next get() computes again. */
  invalidate(): void {
    this.generation += 1;
    this.value = undefined;
  }

  /** The last computed stats without computing (undefined before the first). */
  peek(): QueueStats | undefined {
    return this.value?.stats;
  }
}
