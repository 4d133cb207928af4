// Assembles the running service: engine → migrations → app (→ processor and scheduler, when enabled).
// Used by server.ts, the demo, and tests that want the whole thing on a real port.
import { buildApp, type App } from './app.js';
import { systemClock, type Clock } from './clock.js';
import type { Config } from './config.js';
import { assertMigrationsCurrent, migrate, migrationStatus } from './db/migrations.js';
import { openEngine, type EngineHandle } from './engine.js';
import { createHealthState } from './health.js';
import type { EnrichmentRegistry } from './enrichment/registry.js';
import type { Logger } from './logger.js';
import { startBackgroundWork, type BackgroundWork } from './processor/index.js';
import { createServices, type Services } from './services.js';

export interface RunningService {
  app: App;
  services: Services;
  /** Stops background work, closes the app (and its sockets) and the engine. Safe to call twice. */
  stop(): Promise<void>;
}

export interface StartOptions {
  clock?: Clock;
  /** Opened engine to use instead of opening one from the config (tests). */
  engine?: EngineHandle;
  /** Enrichment type modules for the processor (default: the real ones). */
  registry?: EnrichmentRegistry;
}

export async function startService(config: Config, log: Logger, options: StartOptions = {}): Promise<RunningService> {
  const clock = options.clock ?? systemClock;
  const engine = options.engine ?? (await openEngine(config, log));
  try {
    const health = createHealthState(engine.engine, clock.now());
    if (engine.engine === 'duckdb') {
      // Embedded: the service owns the database file, so it creates and migrates it on start.
      await migrate(engine.warehouse, { clock, log });
    } else {
      // Snowflake: migrations are an explicit, reviewed step (`npm run migrate`); refuse to run behind.
      await assertMigrationsCurrent(engine.warehouse);
    }
    const status = await migrationStatus(engine.warehouse);
    health.migrations = {
      applied: status.applied.length,
      pending: status.pending.length,
      current: status.pending.length === 0 && status.mismatched.length === 0,
      latest: status.applied.at(-1)?.version ?? null,
    };
    const services = createServices({ config, clock, log, engine, health });
    const app = await buildApp(services);
    const background: BackgroundWork | undefined = config.enrichmentEnabled
      ? await startBackgroundWork(services, options.registry ? { registry: options.registry } : {})
      : undefined;
    let stopped = false;
    return {
      app,
      services,
      async stop() {
        if (stopped) return;
        stopped = true;
        // Background work first (it releases its claims), then sockets, then the engine.
        await background?.stop();
        services.storageHealth.stop();
        await app.close();
        await engine.close();
      },
    };
  } catch (error) {
    await engine.close();
    throw error;
  }
}
