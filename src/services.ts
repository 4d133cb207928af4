// Everything a route or background task needs, built once at start and passed down explicitly.
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import type { Warehouse } from './db/warehouse.js';
import type { EngineHandle } from './engine.js';
import { eventBusOf } from './events/bus.js';
import { createHealthState, type HealthState } from './health.js';
import type { Logger } from './logger.js';
import { ServiceMetrics } from './metrics.js';
import { LocalSignals } from './queue/local-signals.js';
import { queueStats } from './queue/stats.js';
import { QueueStatsCache } from './queue/stats-cache.js';
import { TestReadCache } from './results/read-cache.js';
import { StorageHealth } from './storage-health.js';

/** How often a degraded embedded database is checked for taking writes again. */
const STORAGE_RECHECK_MS = 1000;

export interface Services {
  config: Config;
  clock: Clock;
  log: Logger;
  engine: EngineHandle;
  /** Shortcut for engine.warehouse. */
  warehouse: Warehouse;
  health: HealthState;
  /** Whether the embedded database's disk takes writes (the processor reports its failures here). */
  storageHealth: StorageHealth;
  /** Due times and cancels this instance tells its own processor about (see queue/local-signals.ts). */
  signals: LocalSignals;
  /** Prometheus metrics of this service (GET /metrics). */
  metrics: ServiceMetrics;
  /** Queue stats shared by the stats route, /metrics and the WebSocket queue_stats frames. */
  queueStats: QueueStatsCache;
  /** Rows of the per-test read routes (see results/read-cache.ts). */
  testReads: TestReadCache;
}

/** Builds Services and wires the parts that depend on each other (cache invalidation, metric sources). */
export function createServices(parts: {
  config: Config;
  clock: Clock;
  log: Logger;
  engine: EngineHandle;
  health?: HealthState;
}): Services {
  const metrics = new ServiceMetrics();
  const storageHealth = new StorageHealth({
    clock: parts.clock,
    log: parts.log,
    check: parts.engine.checkStorage,
    recheckMs: STORAGE_RECHECK_MS,
  });
  const health = parts.health ?? createHealthState(parts.engine.engine, parts.clock.now());
  health.storage = () => storageHealth.snapshot();
  const services: Services = {
    ...parts,
    warehouse: parts.engine.warehouse,
    health,
    storageHealth,
    signals: new LocalSignals(),
    metrics,
    queueStats: undefined as unknown as QueueStatsCache,
    testReads: new TestReadCache(parts.clock, parts.config.readCacheMs),
  };
  services.queueStats = new QueueStatsCache(() => queueStats(services), parts.clock, parts.config.statsCacheMs);
  // Any committed change of this instance may move the figures.
  eventBusOf(services).subscribe((event) => {
    services.queueStats.invalidate();
    services.testReads.invalidate(event.test_id);
  });
  metrics.trackWarehouse('api', services.warehouse.counters);
  metrics.setQueueStatsSource(() => services.queueStats.get());
  return services;
}

declare module 'fastify' {
  interface FastifyInstance {
    services: Services;
  }
}
