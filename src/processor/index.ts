// Starts the background side of the service: a connection of its own, the start-up permission probe
// (kept for /health), the processor and its scheduler. stop() is the graceful shutdown.
import type { EnrichmentRegistry } from '../enrichment/registry.js';
import type { Services } from '../services.js';
import { classifyError } from './outcomes.js';
import { Processor } from './processor.js';
import { probeViews } from './probe.js';
import { Scheduler } from './scheduler.js';

export interface BackgroundWork {
  processor: Processor;
  scheduler: Scheduler;
  /** Stop claiming, let running types finish within SHUTDOWN_GRACE_SECONDS, release the rest. */
  stop(): Promise<void>;
}

export async function startBackgroundWork(services: Services, options: { registry?: EnrichmentRegistry } = {}): Promise<BackgroundWork> {
  // Its own connection: on DuckDB one connection runs one statement at a time, and API reads must not
  // wait behind a slow ACCOUNT_USAGE read (on Snowflake this is the shared pool).
  const warehouse = await services.engine.connect();
  if (warehouse !== services.warehouse) services.metrics.trackWarehouse('processor', warehouse.counters);
  services.health.views = await probeViews(warehouse, services.clock.now());
  for (const probe of services.health.views.filter((entry) => !entry.readable)) {
    services.log.warn({ view: probe.view, error: probe.error }, 'ACCOUNT_USAGE view not readable: its enrichment types will end with this reason');
  }
  const processor = new Processor(services, { warehouse, ...(options.registry ? { registry: options.registry } : {}) });
  // AUTO_ENQUEUE_SOURCE=stream: a role or table that does not allow the stream stops the start with the reason.
  await processor.streamDiscovery?.ensureStream();
  const unregister = services.signals.onAbort((jobId) => processor.abortJob(jobId, 'cancelled'));
  services.health.processor = () => processor.snapshot();
  const scheduler = new Scheduler(services, processor);
  scheduler.start();
  // Start-up: one look at the queue (jobs due while the service was down, expired leases).
  void processor.poll().catch((error: unknown) => services.log.error({ err: classifyError(error).message }, 'first poll failed'));
  let stopped: Promise<void> | undefined;
  return {
    processor,
    scheduler,
    stop() {
      stopped ??= (async () => {
        await scheduler.stop();
        await processor.stop(services.config.shutdownGraceMs);
        unregister();
      })();
      return stopped;
    },
  };
}
