// Everything a route or background task needs, built once at start and passed down explicitly.
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import type { Warehouse } from './db/warehouse.js';
import type { EngineHandle } from './engine.js';
import type { HealthState } from './health.js';
import type { Logger } from './logger.js';
import type { LocalSignals } from './queue/local-signals.js';

export interface Services {
  config: Config;
  clock: Clock;
  log: Logger;
  engine: EngineHandle;
  /** Shortcut for engine.warehouse. */
  warehouse: Warehouse;
  health: HealthState;
  /** Due times and cancels this instance tells its own processor about (see queue/local-signals.ts). */
  signals: LocalSignals;
}

declare module 'fastify' {
  interface FastifyInstance {
    services: Services;
  }
}
