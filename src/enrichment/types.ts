// The interface every enrichment type implements: one module per type (QUERY_HISTORY, AGGREGATE, ...).
// The processor owns scheduling, attempts, fencing, statuses and events; a module only answers
// "is the view ready?", reads, transforms (pure) and says what to write.
import type { Statement, Warehouse } from '../db/warehouse.js';
import type { Services } from '../services.js';
import type { QueueJob } from '../queue/job-state.js';
import type { EnrichmentType } from '../queue/plan.js';
import type { SourceViewName } from '../sources/account-usage.js';

export interface EnrichmentContext {
  services: Services;
  /** The processor's connection: reads go here (pass `signal` and `timeoutMs` to every statement). */
  warehouse: Warehouse;
  job: QueueJob;
  /** Injectable clock's "now" at the start of this type's run. */
  now: Date;
  /** Fires on cancel, lost lease, shutdown or the type's timeout. */
  signal: AbortSignal;
  /** Per-statement timeout for ACCOUNT_USAGE reads. */
  timeoutMs: number;
}

/** A batched read's own signal (aborted once every job in the batch stopped) and statement timeout. */
export interface BatchReadOptions {
  signal: AbortSignal;
  timeoutMs: number;
  /** The warehouse to read through (the processor's, with the view's row check). */
  warehouse: Warehouse;
}

export type Readiness = { ready: true } | { ready: false; reason: string; /** When to look again. */ retryAt?: Date };

/**
 * What `read` returns instead of rows when the view has not caught up with the test yet: the dense views
 * answer "caught up?" in the same statement as the read (readiness.ts), so the processor learns it from the
 * read. Not an error: the type waits without spending an attempt, as after a not-ready `checkReady`.
 */
export class ViewNotReady {
  constructor(
    readonly reason: string,
    /** When to look again (default: the processor's recheck interval). */
    readonly retryAt?: Date,
  ) {}
}

/**
 * The fence every write must carry. Put `fence.sql` in each statement's WHERE (AND-ed) and append
 * `fence.binds` to its binds, or write a row-set statement fenced per row whose rows name the fence's job and
 * claim (the builders of modules/write-rows.ts do): the statement then writes nothing once the job's claim was
 * lost, even inside a one-request batch. The processor refuses write lists whose statements lack it.
 */
export interface Fence {
  sql: string;
  binds: readonly [string, string];
}

export interface EnrichmentModule<Source = unknown, Output = unknown> {
  type: EnrichmentType;
  /** The ACCOUNT_USAGE view read (its start-up probe gates the type). */
  view: SourceViewName;
  /**
   * "Is the view ready?" when it can be answered without I/O (the sparse views: documented latency passed).
   * Types whose readiness needs the view leave it out and answer from `read` (ViewNotReady).
   */
  checkReady?(context: EnrichmentContext): Promise<Readiness>;
  /** The view's rows for the job, or ViewNotReady when the read found the view behind the test. */
  read(context: EnrichmentContext): Promise<Source | ViewNotReady>;
  /**
   * Optional: the reads of several jobs of this type in ONE statement (issue 10, batches for a backlog). The
   * processor calls it when jobs of the type are due together (contexts.length >= 2): the view is read once over
   * the union of their windows and tags and the rows are split per job in TypeScript. Returns one entry per
   * context, in the same order, each exactly what `read` would have returned for that job alone. A throw fails
   * the batch only: the processor then reads each job alone, so one job's bad rows cannot fail the others.
   */
  readMany?(contexts: readonly EnrichmentContext[], options: BatchReadOptions): Promise<Array<Source | ViewNotReady>>;
  /** Pure: no I/O, no clock. A long one may return a promise and yield to the event loop (aggregate.ts). */
  transform(source: Source, job: QueueJob): Output | Promise<Output>;
  /** Rows the output holds (reported in the progress event and the type's state). */
  rowCount(output: Output): number;
  /**
   * Statements that replace the test's rows of this type and its TEST_RESULTS summary columns:
   * delete previous rows, insert new ones (so a re-run never duplicates). Each carries the fence.
   */
  writeStatements(output: Output, job: QueueJob, fence: Fence): Statement[];
}

/** Thrown by a module for errors retrying cannot fix (missing privilege, unknown test, bad data). */
export class PermanentEnrichmentError extends Error {
  readonly retryable = false;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentEnrichmentError';
  }
}
