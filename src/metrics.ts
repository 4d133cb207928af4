// The service's Prometheus metrics (prom-client), one registry per running service so that two instances
// in one process (tests) keep their figures apart. Writers increment the metrics named here; GET /metrics
// renders the registry. Figures that live in the warehouse (queue depth) are read at scrape time through
// the queue-stats cache, never by a query per scrape.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { StatementCounters } from './db/warehouse.js';
import type { QueueStats } from './queue/stats.js';

const SECONDS_BUCKETS = [0.05, 0.25, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, 24 * 3600];

export class ServiceMetrics {
  readonly registry = new Registry();
  private readonly warehouses = new Map<string, StatementCounters>();
  private queueStatsSource: (() => Promise<QueueStats>) | undefined;

  // Queue, from the cached queue stats (see queue/stats-cache.ts).
  readonly queueJobs: Gauge<'status'>;
  readonly queueReady: Gauge;
  readonly queueDeferred: Gauge;

  // Processor.
  readonly jobsClaimed: Counter;
  readonly claimsRescued: Counter;
  readonly jobsFinished: Counter<'outcome'>;
  readonly typesFinished: Counter<'type' | 'outcome'>;
  readonly typeAttempts: Counter<'type'>;
  readonly typeNotReady: Counter<'type'>;
  readonly typeWaitSeconds: Histogram<'type'>;
  readonly typeRunSeconds: Histogram<'type' | 'outcome'>;

  // Warehouse traffic, read from the adapters' counters at scrape time.
  readonly warehouseStatements: Gauge<'connection'>;
  readonly warehouseRoundTrips: Gauge<'connection'>;

  // WebSocket stream.
  readonly wsClients: Gauge;
  readonly wsDroppedSlowClients: Counter;
  readonly wsEventsSent: Counter<'type'>;

  // HTTP.
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route'>;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'fbde_process_' });
    const metrics = this;
    this.queueJobs = new Gauge({
      name: 'fbde_queue_jobs',
      help: 'Jobs in DELAYED_ENRICHMENT_QUEUE by status (cached queue stats).',
      labelNames: ['status'],
      registers,
      async collect() {
        const stats = await metrics.queueStats();
        if (!stats) return;
        for (const [status, count] of Object.entries(stats.depth_by_status)) this.set({ status }, count);
      },
    });
    // Each gauge reads the stats itself: the registry collects metrics concurrently, so one gauge setting
    // another in its collect would publish the other's previous value. The cache shares one computation.
    this.queueReady = new Gauge({
      name: 'fbde_queue_ready_jobs',
      help: 'Pending jobs whose next type is due now.',
      registers,
      async collect() {
        const stats = await metrics.queueStats();
        if (stats) this.set(stats.ready);
      },
    });
    this.queueDeferred = new Gauge({
      name: 'fbde_queue_deferred_jobs',
      help: 'Pending jobs whose next type is due later.',
      registers,
      async collect() {
        const stats = await metrics.queueStats();
        if (stats) this.set(stats.deferred);
      },
    });

    this.jobsClaimed = new Counter({ name: 'fbde_jobs_claimed_total', help: 'Jobs claimed by this instance.', registers });
    this.claimsRescued = new Counter({
      name: 'fbde_claims_rescued_total',
      help: 'Jobs claimed by this instance after another claim on them had expired (orphan recovery).',
      registers,
    });
    this.jobsFinished = new Counter({
      name: 'fbde_jobs_finished_total',
      help: 'Jobs this instance brought to a terminal status, by status.',
      labelNames: ['outcome'],
      registers,
    });
    this.typesFinished = new Counter({
      name: 'fbde_enrichment_types_finished_total',
      help: 'Enrichment type runs by type and outcome (COMPLETED, FAILED, NOT_APPLICABLE, retry, not_ready, released).',
      labelNames: ['type', 'outcome'],
      registers,
    });
    this.typeAttempts = new Counter({ name: 'fbde_enrichment_attempts_total', help: 'Attempts spent, by enrichment type.', labelNames: ['type'], registers });
    this.typeNotReady = new Counter({
      name: 'fbde_enrichment_not_ready_total',
      help: 'Readiness checks that found the source view behind, by enrichment type.',
      labelNames: ['type'],
      registers,
    });
    this.typeWaitSeconds = new Histogram({
      name: 'fbde_enrichment_wait_seconds',
      help: 'From a type being due to its run starting, by enrichment type.',
      labelNames: ['type'],
      buckets: SECONDS_BUCKETS,
      registers,
    });
    this.typeRunSeconds = new Histogram({
      name: 'fbde_enrichment_run_seconds',
      help: 'Run time of one enrichment type (readiness, read, transform, write), by type and outcome.',
      labelNames: ['type', 'outcome'],
      buckets: SECONDS_BUCKETS,
      registers,
    });

    this.warehouseStatements = new Gauge({
      name: 'fbde_warehouse_statements',
      help: 'Statements sent to the warehouse since start, by connection (monotonic).',
      labelNames: ['connection'],
      registers,
      collect() {
        for (const [connection, counters] of metrics.warehouses) this.set({ connection }, counters.statements);
      },
    });
    this.warehouseRoundTrips = new Gauge({
      name: 'fbde_warehouse_round_trips',
      help: 'Requests sent to the warehouse since start, by connection (monotonic).',
      labelNames: ['connection'],
      registers,
      collect() {
        for (const [connection, counters] of metrics.warehouses) this.set({ connection }, counters.roundTrips);
      },
    });

    this.wsClients = new Gauge({ name: 'fbde_ws_clients', help: 'Open WebSocket connections on /ws.', registers });
    this.wsDroppedSlowClients = new Counter({
      name: 'fbde_ws_dropped_slow_clients_total',
      help: 'WebSocket clients closed because their send buffer passed the cap.',
      registers,
    });
    this.wsEventsSent = new Counter({ name: 'fbde_ws_events_sent_total', help: 'Event frames sent to WebSocket clients, by type.', labelNames: ['type'], registers });

    this.httpRequests = new Counter({
      name: 'fbde_http_requests_total',
      help: 'HTTP requests by method, route pattern and status code.',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'fbde_http_request_duration_seconds',
      help: 'HTTP request duration by method and route pattern.',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers,
    });
  }

  /** Reports a connection's statement counters under `connection` (api, processor). */
  trackWarehouse(connection: string, counters: StatementCounters): void {
    this.warehouses.set(connection, counters);
  }

  /** Where the queue gauges come from at scrape time (the cached queue stats). */
  setQueueStatsSource(source: () => Promise<QueueStats>): void {
    this.queueStatsSource = source;
  }

  private async queueStats(): Promise<QueueStats | undefined> {
    try {
      return await this.queueStatsSource?.();
    } catch {
      // A scrape must still answer when the warehouse is unreachable; the gauges keep their last values.
      return undefined;
    }
  }
}
