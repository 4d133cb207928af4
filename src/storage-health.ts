// Whether the embedded database's disk takes writes: the processor reports its failed polls and job runs
// here; a storage failure (WarehouseError kind 'storage': read-only file system, disk full, I/O error, a
// file DuckDB invalidated) makes /health degraded until a write succeeds again.
//
// While degraded, a cheap check (the engine's checkStorage: on DuckDB one committed no-op write, reopening an
// invalidated file first) runs every recheckMs until it passes. Nothing runs while healthy, and an engine
// without a check (Snowflake: no statement may be sent just for health) sends nothing.
import { isWarehouseError, type WarehouseError } from './db/warehouse.js';
import type { Clock } from './clock.js';
import type { Logger } from './logger.js';

export interface StorageSnapshot {
  /** The latest failure's reason (first line of the engine's message). */
  reason: string;
  since: string;
  last_failure_at: string;
  failures: number;
}

export interface StorageHealthOptions {
  clock: Clock;
  log: Logger;
  /** Resolves when the disk takes a write again; undefined: no check (the next failure or success tells). */
  check: (() => Promise<void>) | undefined;
  recheckMs: number;
}

export class StorageHealth {
  private state: StorageSnapshot | undefined;
  private timer: NodeJS.Timeout | undefined;
  private checking = false;
  private stopped = false;

  constructor(private readonly options: StorageHealthOptions) {}

  get degraded(): boolean {
    return this.state !== undefined;
  }

  /** What /health shows: null while writes succeed. */
  snapshot(): StorageSnapshot | null {
    return this.state ? { ...this.state } : null;
  }

  /** Reports a failed poll or run; only storage failures count. Returns whether it was one. */
  noteFailure(error: unknown): boolean {
    const storage = storageErrorIn(error);
    if (!storage) return false;
    const at = this.options.clock.now().toISOString();
    if (!this.state) this.options.log.error({ err: storage.message }, 'embedded database storage failing: /health degraded');
    this.state = {
      reason: storage.message,
      since: this.state?.since ?? at,
      last_failure_at: at,
      failures: (this.state?.failures ?? 0) + 1,
    };
    this.scheduleCheck();
    return true;
  }

  /** A write went through: the disk is back. */
  noteWriteSucceeded(): void {
    if (!this.state) return;
    this.options.log.info({ since: this.state.since, failures: this.state.failures }, 'embedded database storage recovered: /health ok');
    this.state = undefined;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private scheduleCheck(): void {
    const { check, recheckMs } = this.options;
    if (!check || this.timer || this.checking || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.checking = true;
      check()
        .then(() => this.noteWriteSucceeded())
        .catch((error: unknown) => {
          if (!this.noteFailure(error)) this.options.log.warn({ err: String(error) }, 'storage check failed');
        })
        .finally(() => {
          this.checking = false;
          if (this.state) this.scheduleCheck();
        });
    }, recheckMs);
    this.timer.unref();
  }
}

/** The storage failure in an error or its causes (a job run may wrap the adapter's error). */
function storageErrorIn(error: unknown): WarehouseError | undefined {
  for (let current: unknown = error, depth = 0; current && depth < 5; depth += 1) {
    if (isWarehouseError(current) && current.kind === 'storage') return current;
    current = current instanceof Error ? current.cause : undefined;
  }
  return undefined;
}
