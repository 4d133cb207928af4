// Runs one claimed job: decides which of its types are due, counts their attempts (saved with the first
// write; a claim that dies before it still spends them, counted by the claim that rescues the job), runs them
// one after another (read with readiness → pure transform → a fenced write), and ends the claim. Every state
// change goes out with its event in the same batch. A COMPLETED type's write is held for the next type's
// (write coalescing, WRITE_COALESCE_SECONDS): a job whose types finish close together is one write request
// instead of one per type (issue 10); if that shared write fails, each type is written again alone
// (replayAlone). A batch whose fenced queue UPDATE touches no row means the claim was lost (cancelled, or
// reclaimed after the lease ran out): the run stops and writes nothing more.
import { performance } from 'node:perf_hooks';
import { writtenTable } from '../db/lock-order.js';
import type { Statement, Warehouse } from '../db/warehouse.js';
import { isWarehouseError } from '../db/warehouse.js';
import type { EnrichmentRegistry } from '../enrichment/registry.js';
import { ViewNotReady, type EnrichmentContext, type EnrichmentModule } from '../enrichment/types.js';
import { eventBusOf } from '../events/bus.js';
import { insertEventsFenced, insertSummaryEventFenced, type EnrichmentEvent, type EventType } from '../events/outbox.js';
import type { JsonObject } from '../db/warehouse.js';
import { backoffDelayMs, type BackoffPolicy } from '../queue/backoff.js';
import { isTerminal, type ErrorRecord, type QueueJob, type TypeState } from '../queue/job-state.js';
import { SOURCE_VIEW_OF_TYPE, typeDueAt, type EnrichmentType } from '../queue/plan.js';
import type { Services } from '../services.js';
import { sourceViewName, type SourceViewName } from '../sources/account-usage.js';
import { checkedSourceWarehouse } from '../sources/row-check.js';
import { fenceOf, isFenced } from '../queue/fence.js';
import {
  aggregateStatus,
  release,
  renewLease,
  saveState,
  testStatus,
  totalAttempts,
} from './job-writes.js';
import { classifyError, jobOutcome } from './outcomes.js';
import type { StatementBatcher } from './statement-batcher.js';

export type StopReason = 'shutdown' | 'cancelled' | 'lease_lost';

export interface RunnerDeps {
  services: Services;
  warehouse: Warehouse;
  registry: EnrichmentRegistry;
  /** Start-up probe result for a view; undefined when not probed (treated as readable). */
  viewAccess(view: SourceViewName): { readable: boolean; error?: string } | undefined;
  backoff: BackoffPolicy;
  random: () => number;
  typeTimeoutMs: number;
  statementTimeoutMs: number;
  /** How long a not-ready type waits before the next readiness check (scaled). */
  notReadyRecheckMs: number;
  /** Shares reads and writes with the processor's other runs (statement-batcher.ts). */
  batcher: StatementBatcher;
}

export interface RunResult {
  /** How the run ended: claim released normally, released at shutdown, or lost/cancelled (nothing written). */
  ending: 'released' | 'released_for_shutdown' | 'lost';
  /** The job's next due time when it went back to PENDING. */
  nextDueAt: Date | null;
  status: string;
}

type TypeResult =
  | { kind: 'done'; output: unknown }
  | { kind: 'not_ready'; reason: string; retryAt?: Date }
  | { kind: 'error'; error: unknown }
  | { kind: 'timeout' }
  | { kind: 'aborted' };

/** A type's outcome as decided after its run: enough to record and write it again (see JobRun.replayAlone). */
interface DecidedOutcome {
  type: EnrichmentType;
  module: EnrichmentModule;
  result: TypeResult;
  deadline: Date;
  last: boolean;
}

/** A COMPLETED type's write held for the job's next write (write coalescing): its own tables' and TEST_RESULTS statements and events. */
interface HeldWrite {
  outcome: DecidedOutcome;
  statements: Statement[];
  events: EnrichmentEvent[];
}

interface RunSnapshot {
  typeState: QueueJob['typeState'];
  status: QueueJob['status'];
  lastError: string | null;
  errorHistory: ErrorRecord[];
  open: Set<EnrichmentType>;
  reports: Array<() => void>;
}

/** A write that carried held outcomes failed (nothing of it was written): they are written again one by one. */
class CoalescedWriteFailed extends Error {
  constructor(
    override readonly cause: unknown,
    readonly held: readonly HeldWrite[],
    readonly snapshot: RunSnapshot,
  ) {
    super(`a write carrying ${held.length} held type outcome(s) failed: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

const WRITE_CONFLICT_RETRIES = 5;
/** Error history entries kept per job (the newest). */
export const ERROR_HISTORY_LIMIT = 50;
const EVENTS_OR_QUEUE = new Set(['ENRICHMENT_EVENTS', 'DELAYED_ENRICHMENT_QUEUE']);
const OPENING_BEFORE = new Set(['TEST_RESULTS', ...EVENTS_OR_QUEUE]);

export class JobRun {
  private readonly controller = new AbortController();
  private stopReason: StopReason | undefined;
  private lost = false;
  /** Events written inside the statements themselves (the completion event), published after commit. */
  private trailing: EnrichmentEvent[] = [];
  /** Shutdown began: finish the running type, start no other. */
  private draining = false;
  /** The claim is being released for shutdown (the job's last log line says so). */
  private releasing = false;
  /** The claim was ended by a committed batch. */
  private finished = false;
  private lastError: string | null;
  private readonly errorHistory: ErrorRecord[];
  /** Types whose attempt this claim counted and that have not reached an outcome yet. */
  private readonly open = new Set<EnrichmentType>();
  /**
   * Metrics and log lines of the batch being built: they describe outcomes, so they are emitted only
   * once that batch committed with its fence held (a lost or failed write reports nothing).
   */
  private reports: Array<() => void> = [];
  /** When this claim's run started (monotonic, for durations). */
  private readonly startedAt = performance.now();
  /** Per type: when its current run started (monotonic), and how long after its due time (service clock). */
  private readonly typeStartedAt = new Map<EnrichmentType, number>();
  private readonly typeWaitMs = new Map<EnrichmentType, number>();
  /** Until when (service clock, ms) the lease is known to hold: set by the claim, moved by every commit. */
  private leaseUntil: number;
  /** Statements and events of the claim's opening, sent with the next batch (see runClaimed). */
  private readonly opening: Statement[] = [];
  private readonly openingEvents: EnrichmentEvent[] = [];
  /** The lease the batch being sent extends to (its saveState), taken over once it commits. */
  private batchLeaseUntil: number | undefined;
  /**
   * Write coalescing (WRITE_COALESCE_SECONDS): COMPLETED types whose write waits for the job's next write, when the
   * first of them was held (monotonic), and the state before it (to write them one by one if the shared write fails).
   * A claim that dies meanwhile wrote nothing of them: the claim that rescues the job runs them again.
   */
  private heldWrites: HeldWrite[] = [];
  private heldSince = 0;
  private beforeHeld: RunSnapshot | undefined;
  /** Off for the rest of the claim once a coalesced write failed. */
  private coalescing = true;

  constructor(
    private readonly deps: RunnerDeps,
    readonly job: QueueJob,
    readonly claimId: string,
    private readonly claim: { rescued?: boolean } = {},
  ) {
    this.lastError = job.lastError;
    this.errorHistory = [...job.errorHistory];
    this.leaseUntil = job.leaseExpiresAt?.getTime() ?? deps.services.clock.now().getTime() + deps.services.config.leaseMs;
  }

  /** Stops the run: 'shutdown' releases the claim (attempts given back); the others write nothing more. */
  abort(reason: StopReason): void {
    if (this.controller.signal.aborted) return;
    this.stopReason = reason;
    this.controller.abort(new Error(`job ${reason}`));
  }

  /** Shutdown: the running type may finish; the job's other types are released, not started. */
  drain(): void {
    this.draining = true;
  }

  get aborted(): boolean {
    return this.controller.signal.aborted;
  }

  async run(): Promise<RunResult> {
    const { services } = this.deps;
    // Looking is free (no statement): renew() sends one only when less than half the lease is left.
    const renewEvery = Math.max(1000, Math.floor(services.config.leaseMs / 6));
    const renewal = setInterval(() => void this.renew(), renewEvery);
    renewal.unref();
    try {
      return await this.runClaimed();
    } finally {
      clearInterval(renewal);
    }
  }

  /**
   * Extends the lease only when it is at risk: every committed batch already extends it (saveState), so a
   * job whose batches come often enough never sends a renewal (on Snowflake each one is a round trip).
   */
  private async renew(): Promise<void> {
    if (this.aborted) return;
    const { clock, config } = this.deps.services;
    const now = clock.now().getTime();
    if (this.leaseUntil - now > config.leaseMs / 2) return;
    const until = new Date(now + config.leaseMs);
    try {
      const statement = renewLease(this.job.jobId, this.claimId, until);
      const result = await this.deps.warehouse.execute(statement.sql, statement.binds);
      if (result.rowsAffected === 0) this.abort('lease_lost');
      else this.leaseUntil = Math.max(this.leaseUntil, until.getTime());
    } catch (error) {
      this.deps.services.log.warn({ job: this.job.jobId, err: classifyError(error).message }, 'lease renewal failed');
    }
  }

  private async runClaimed(): Promise<RunResult> {
    const { services, registry } = this.deps;
    const now = services.clock.now();
    const job = this.job;
    const events: EnrichmentEvent[] = [];
    const runnable: Array<{ type: EnrichmentType; module: EnrichmentModule }> = [];
    const deadline = job.deadlineAt ?? new Date(job.testEndTime.getTime() + services.config.deadlineMs);

    // A rescued claim whose holder never wrote (no type IN_PROGRESS): it died before its first batch, which
    // carries the opening. The types that were already due when it claimed (due a lease or more ago: a lease
    // runs out no sooner) count the attempt it could not save, as if it had been written.
    const unsaved = this.claim.rescued === true && !job.types.some((type) => job.typeState[type]?.status === 'IN_PROGRESS');
    const dueBeforeDeadClaim = now.getTime() - services.config.leaseMs;
    for (const type of job.types) {
      const state = this.stateOf(type);
      if (isTerminal(state.status)) continue;
      if (unsaved && state.status === 'PENDING' && Date.parse(state.due_at) <= dueBeforeDeadClaim) {
        state.attempts += 1;
        state.status = 'IN_PROGRESS';
      }
      if (state.status === 'IN_PROGRESS') {
        // The claim that counted this attempt ended without an outcome (process killed, lease expired).
        this.recordError(type, state.attempts, now, 'attempt interrupted: the claim ended before the type finished', true);
        state.status = 'PENDING';
        if (state.attempts >= services.config.maxAttempts) {
          this.endType(type, 'FAILED', `attempts exhausted (${state.attempts}); the last was interrupted`, now, events);
          continue;
        }
      }
      if (Date.parse(state.due_at) > now.getTime()) continue;
      const view = SOURCE_VIEW_OF_TYPE[type];
      const access = this.deps.viewAccess(view);
      if (access && !access.readable) {
        this.endType(type, 'FAILED', `${sourceViewName(view)} is not readable by the service's role: ${access.error ?? 'probe failed'}`, now, events);
        continue;
      }
      const module = registry.get(type);
      if (!module) {
        this.notReady(type, `no enrichment module is registered for ${type} in this build`, undefined, now, deadline, events);
        continue;
      }
      state.status = 'IN_PROGRESS';
      state.attempts += 1;
      this.open.add(type);
      runnable.push({ type, module });
    }

    this.reportClaimed(now, runnable.map((entry) => entry.type));
    if (runnable.length === 0) {
      const tail = this.finish(now, events);
      const done = await this.commit([this.save(now), ...tail], events);
      return done ? this.releasedResult() : this.lostResult();
    }
    if (job.testStored === false) return this.endMissingTest(runnable, now);
    // The opening: attempts counted (in the state the next batch saves), test marked IN_PROGRESS, job_claimed,
    // plus any immediate outcomes. It travels with the first type's write (one request less per job); a claim
    // that dies before that write is found by the claim that rescues the job (`unsaved` above).
    this.opening.push(testStatus(job, this.claimId, 'IN_PROGRESS', null, null));
    if (runnable.some((entry) => entry.type === 'AGGREGATE')) this.opening.push(aggregateStatus(job, this.claimId, 'IN_PROGRESS'));
    events.unshift(
      this.event('job_claimed', now, null, {
        claimed_by: job.claimedBy ?? '',
        types: runnable.map((entry) => entry.type),
        attempts: Object.fromEntries(runnable.map((entry) => [entry.type, this.stateOf(entry.type).attempts])),
      }),
    );
    this.openingEvents.push(...events);
    if (job.testStored === undefined) {
      // Read without the claim's TEST_RESULTS join: send the opening alone, its row count says whether the test exists.
      const results = await this.commit([this.save(now)], [], { countsRead: true });
      if (!results) return this.lostResult();
      if (results[1]?.rowsAffected === 0) return this.endMissingTest(runnable, now);
    }

    for (let index = 0; index < runnable.length; index += 1) {
      if (this.aborted || this.draining) break;
      const { type, module } = runnable[index]!;
      const ok = await this.runType(type, module, deadline, index === runnable.length - 1);
      if (!ok) break;
    }
    if (this.lost) return this.lostResult();
    if (this.finished) return this.releasedResult();
    if (this.stopReason === 'shutdown' || this.draining) return this.releaseForShutdown();
    if (this.aborted) return this.lostResult();
    return this.releasedResult();
  }

  /** The test is gone from TEST_RESULTS: nothing to enrich, retrying cannot help. */
  private async endMissingTest(runnable: ReadonlyArray<{ type: EnrichmentType }>, now: Date): Promise<RunResult> {
    const job = this.job;
    const ended: EnrichmentEvent[] = [];
    for (const { type } of runnable) {
      this.open.delete(type);
      this.endType(type, 'FAILED', `test ${job.testId} run ${job.runId} is not in TEST_RESULTS`, now, ended, true);
    }
    const tail = this.finish(now, ended);
    const done = await this.commit([this.save(now), ...tail], ended);
    return done ? this.releasedResult() : this.lostResult();
  }

  /** One type: run it under its timeout, then write its outcome (maybe with the next types'). False: stop the run. */
  private async runType(type: EnrichmentType, module: EnrichmentModule, deadline: Date, last: boolean): Promise<boolean> {
    const { services } = this.deps;
    this.typeStartedAt.set(type, performance.now());
    this.typeWaitMs.set(type, services.clock.now().getTime() - Date.parse(this.stateOf(type).due_at));
    const result = await this.execute(module);
    if (result.kind === 'aborted' || this.aborted) return false;
    const outcome: DecidedOutcome = { type, module, result, deadline, last };
    try {
      return await this.applyOutcome(outcome);
    } catch (error) {
      if (!(error instanceof CoalescedWriteFailed)) throw error;
      return this.replayAlone(error, outcome);
    }
  }

  /**
   * Records a type's outcome in the job's state and writes it in one fenced batch, or, for a COMPLETED type that
   * is not the last, holds the write to go with the next one (write coalescing, WRITE_COALESCE_SECONDS).
   */
  private async applyOutcome(outcome: DecidedOutcome): Promise<boolean> {
    const { type, module, result, deadline, last } = outcome;
    if (result.kind === 'aborted') return false;
    const { services } = this.deps;
    const snapshot = this.heldWrites.length === 0 ? this.snapshot() : undefined;
    const now = services.clock.now();
    const state = this.stateOf(type);
    const events: EnrichmentEvent[] = [];
    const statements: Statement[] = [];
    if (result.kind === 'done') {
      let writes: Statement[];
      let rows: number;
      try {
        const fence = fenceOf(this.job.jobId, this.claimId);
        writes = module.writeStatements(result.output, this.job, fence);
        rows = module.rowCount(result.output);
        const unfenced = writes.find((statement) => !isFenced(statement, fence));
        if (unfenced) throw Object.assign(new Error(`${type} module returned a write without the claim fence`), { retryable: false });
      } catch (error) {
        return this.writeFailure(type, error, now, last);
      }
      this.open.delete(type);
      state.status = 'COMPLETED';
      state.rows = rows;
      state.last_error = null;
      state.completed_at = now.toISOString();
      events.push(this.event('enrichment_progress', now, type, { status: 'COMPLETED', rows, attempt: state.attempts }));
      this.reportType(type, 'COMPLETED', { attempt: state.attempts, rows, spent: true });
      if (type === 'AGGREGATE') writes.push(aggregateStatus(this.job, this.claimId, 'COMPLETED'));
      if (!last && this.mayHold()) {
        if (snapshot !== undefined) {
          this.beforeHeld = snapshot;
          this.heldSince = performance.now();
        }
        this.heldWrites.push({ outcome, statements: writes, events });
        return true;
      }
      const tail = last ? this.finish(now, events) : [];
      statements.push(this.save(now), ...writes, ...tail);
      try {
        const committed = await this.commit(statements, events);
        if (committed && last) this.finished = true;
        return committed !== undefined;
      } catch (error) {
        if (error instanceof CoalescedWriteFailed) throw error;
        // The type's own statements failed (rolled back): record it as this attempt's failure.
        this.job.status = 'IN_PROGRESS';
        state.status = 'IN_PROGRESS';
        state.rows = null;
        state.completed_at = null;
        this.open.add(type);
        return this.writeFailure(type, error, now, last);
      }
    }
    if (result.kind === 'not_ready') {
      this.open.delete(type);
      state.attempts -= 1; // a check that found the view behind is not an attempt
      state.status = 'PENDING';
      this.notReady(type, result.reason, result.retryAt, now, deadline, events);
    } else {
      const error = result.kind === 'timeout' ? new Error(`${type} did not finish within ${this.deps.typeTimeoutMs} ms`) : result.error;
      this.open.delete(type);
      this.failAttempt(type, error, now, events);
    }
    const tail = last ? this.finish(now, events) : [];
    statements.push(this.save(now));
    if (type === 'AGGREGATE') statements.push(aggregateStatus(this.job, this.claimId, this.stateOf(type).status));
    statements.push(...tail);
    const committed = await this.commit(statements, events);
    if (committed && last) this.finished = true;
    return committed !== undefined;
  }

  /** Whether a finished type's write may wait for the next type's: on, not stopping, the oldest held not too old. */
  private mayHold(): boolean {
    const { writeCoalesceMs } = this.deps.services.config;
    if (!this.coalescing || writeCoalesceMs <= 0 || this.draining || this.aborted) return false;
    return this.heldWrites.length === 0 || performance.now() - this.heldSince < writeCoalesceMs;
  }

  /**
   * A write that carried held outcomes failed, so nothing of it was written. Back to the state before the first
   * held outcome, and every outcome since written again one type at a time (no coalescing for the rest of this
   * claim): each type's own failure is then handled as if it had never been held (its write failure recorded
   * under its type and attempt, the others still written).
   */
  private async replayAlone(failure: CoalescedWriteFailed, current: DecidedOutcome): Promise<boolean> {
    this.deps.services.log.warn(
      { job: this.job.jobId, types: [...failure.held.map((entry) => entry.outcome.type), current.type], err: classifyError(failure.cause).message },
      'coalesced write failed; writing each type alone',
    );
    this.restore(failure.snapshot);
    this.coalescing = false;
    for (const outcome of [...failure.held.map((entry) => entry.outcome), current]) {
      if (this.aborted && this.stopReason !== 'shutdown') return false;
      const ok = await this.applyOutcome(outcome);
      if (!ok) return false;
    }
    return true;
  }

  /** What applyOutcome changes, to go back to when a coalesced write fails (see replayAlone). */
  private snapshot(): RunSnapshot {
    return {
      typeState: structuredClone(this.job.typeState),
      status: this.job.status,
      lastError: this.lastError,
      errorHistory: [...this.errorHistory],
      open: new Set(this.open),
      reports: [...this.reports],
    };
  }

  private restore(snapshot: RunSnapshot): void {
    // In place: the job object is shared with the processor.
    const states = this.job.typeState as Record<string, unknown>;
    for (const key of Object.keys(states)) delete states[key];
    Object.assign(states, structuredClone(snapshot.typeState));
    this.job.status = snapshot.status;
    this.lastError = snapshot.lastError;
    this.errorHistory.splice(0, this.errorHistory.length, ...snapshot.errorHistory);
    this.open.clear();
    for (const type of snapshot.open) this.open.add(type);
    this.reports = [...snapshot.reports];
    this.trailing = [];
  }

  private async writeFailure(type: EnrichmentType, error: unknown, now: Date, last: boolean): Promise<boolean> {
    const events: EnrichmentEvent[] = [];
    this.open.delete(type);
    this.failAttempt(type, error, now, events);
    const tail = last ? this.finish(now, events) : [];
    const statements: Statement[] = [this.save(now)];
    if (type === 'AGGREGATE') statements.push(aggregateStatus(this.job, this.claimId, this.stateOf(type).status));
    statements.push(...tail);
    const committed = await this.commit(statements, events);
    if (committed && last) this.finished = true;
    return committed !== undefined;
  }

  /** Readiness, read and transform under the type's timeout and the run's abort signal. */
  private async execute(module: EnrichmentModule): Promise<TypeResult> {
    const { services } = this.deps;
    const timeout = new AbortController();
    const signal = AbortSignal.any([this.controller.signal, timeout.signal]);
    const timer = setTimeout(() => timeout.abort(new Error('type timeout')), this.deps.typeTimeoutMs);
    const context: EnrichmentContext = {
      services,
      warehouse: this.deps.warehouse,
      job: this.job,
      now: services.clock.now(),
      signal,
      timeoutMs: this.deps.statementTimeoutMs,
    };
    const work = (async (): Promise<TypeResult> => {
      const readiness = (await module.checkReady?.(context)) ?? { ready: true };
      // Rows of the view are checked against its documented types before the transform sees them. A dense view
      // answers "caught up?" in its read (readiness.ts), a sparse one in checkReady.
      const source = readiness.ready
        ? await this.deps.batcher.read(module, { ...context, warehouse: checkedSourceWarehouse(context.warehouse, module.view) })
        : new ViewNotReady(readiness.reason, readiness.retryAt);
      if (source instanceof ViewNotReady) return { kind: 'not_ready', reason: source.reason, ...(source.retryAt ? { retryAt: source.retryAt } : {}) };
      return { kind: 'done', output: await module.transform(source, this.job) };
    })().catch((error: unknown): TypeResult => ({ kind: 'error', error }));
    // A module that ignores its signal still cannot hold the run past the abort or the timeout.
    let stop: (result: TypeResult) => void = () => undefined;
    const stopped = new Promise<TypeResult>((resolve) => {
      stop = resolve;
    });
    const onAbort = () => stop(this.controller.signal.aborted ? { kind: 'aborted' } : { kind: 'timeout' });
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    try {
      const result = await Promise.race([work, stopped]);
      if (this.controller.signal.aborted) return { kind: 'aborted' };
      if (result.kind === 'error' && timeout.signal.aborted) return { kind: 'timeout' };
      return result;
    } finally {
      clearTimeout(timer);
      // Node keeps an AbortSignal.any() signal (and so this run, through the listener) alive for as long as
      // it has an abort listener and has not aborted: without this every finished run stayed on the heap.
      signal.removeEventListener('abort', onAbort);
    }
  }

  private failAttempt(type: EnrichmentType, error: unknown, now: Date, events: EnrichmentEvent[]): void {
    const state = this.stateOf(type);
    const { message, retryable, notApplicable } = classifyError(error);
    if (notApplicable) {
      // Not an error: this enrichment cannot exist for the test. The attempt is not counted as failed.
      state.status = 'NOT_APPLICABLE';
      state.last_error = message;
      state.completed_at = now.toISOString();
      events.push(this.event('enrichment_progress', now, type, { status: 'NOT_APPLICABLE', reason: message, attempt: state.attempts }));
      this.reportType(type, 'NOT_APPLICABLE', { attempt: state.attempts, spent: true, error: message });
      return;
    }
    this.recordError(type, state.attempts, now, message, retryable);
    const exhausted = state.attempts >= this.deps.services.config.maxAttempts;
    if (!retryable || exhausted) {
      const reason = retryable ? `${message} (attempts exhausted: ${state.attempts})` : message;
      state.status = 'FAILED';
      state.last_error = reason;
      events.push(this.event('enrichment_failed', now, type, { error: reason, attempt: state.attempts, retryable, will_retry: false }));
      this.reportType(type, 'FAILED', { attempt: state.attempts, spent: true, error: reason });
      return;
    }
    const delay = backoffDelayMs(state.attempts, this.deps.backoff, this.deps.random());
    const nextAt = new Date(now.getTime() + delay);
    state.status = 'PENDING';
    state.last_error = message;
    state.due_at = nextAt.toISOString();
    events.push(
      this.event('enrichment_failed', now, type, { error: message, attempt: state.attempts, retryable, will_retry: true, next_attempt_at: nextAt.toISOString() }),
    );
    this.reportType(type, 'retry', { attempt: state.attempts, spent: true, error: message, nextDueAt: nextAt });
  }

  private notReady(type: EnrichmentType, reason: string, retryAt: Date | undefined, now: Date, deadline: Date, events: EnrichmentEvent[]): void {
    const state = this.stateOf(type);
    if (now.getTime() >= deadline.getTime()) {
      this.endType(type, 'FAILED', `not ready by the deadline ${deadline.toISOString()}: ${reason}`, now, events);
      return;
    }
    // Each look at a lagging view costs a query (a warehouse resume on Snowflake): space the looks out,
    // doubling from the base recheck delay up to 12 times it (1 h at LATENCY_SCALE=1).
    const checks = (state.not_ready_checks ?? 0) + 1;
    state.not_ready_checks = checks;
    const delay = this.deps.notReadyRecheckMs * Math.min(12, 2 ** Math.min(checks - 1, 4));
    const proposed = retryAt ?? new Date(now.getTime() + delay);
    const nextAt = new Date(Math.min(Math.max(proposed.getTime(), now.getTime() + 1), deadline.getTime()));
    state.status = 'PENDING';
    state.due_at = nextAt.toISOString();
    state.last_error = `not ready: ${reason}`;
    events.push(this.event('enrichment_not_ready', now, type, { reason, next_check_at: nextAt.toISOString(), deadline_at: deadline.toISOString() }));
    this.reportType(type, 'not_ready', { attempt: state.attempts, spent: false, error: reason, nextDueAt: nextAt, now, checks });
  }

  /** `spent`: the attempt this claim counted for the type stays spent (the type had started). */
  private endType(type: EnrichmentType, status: 'FAILED', reason: string, now: Date, events: EnrichmentEvent[], spent = false): void {
    const state = this.stateOf(type);
    state.status = status;
    state.last_error = reason;
    this.lastError = `${type}: ${reason}`;
    events.push(this.event('enrichment_failed', now, type, { error: reason, attempt: state.attempts, retryable: false, will_retry: false }));
    this.reportType(type, status, { attempt: state.attempts, spent, error: reason });
  }

  private recordError(type: EnrichmentType, attempt: number, now: Date, error: string, retryable: boolean): void {
    this.errorHistory.push({ type, attempt, at: now.toISOString(), error, retryable });
    // Retries from the API reset attempts, so the history could grow without bound: keep the latest.
    if (this.errorHistory.length > ERROR_HISTORY_LIMIT) this.errorHistory.splice(0, this.errorHistory.length - ERROR_HISTORY_LIMIT);
    this.lastError = `${type}: ${error}`;
  }

  /** Statements that end this claim: the test's status, the job-level event, and the release (last). */
  private finish(now: Date, events: EnrichmentEvent[]): Statement[] {
    const outcome = jobOutcome(this.job.typeState);
    this.reportJobEnd(outcome.status, outcome.lastError);
    if (outcome.status === 'PENDING') {
      this.job.status = 'PENDING';
      return [testStatus(this.job, this.claimId, 'PENDING', null, null), release(this.job, this.claimId, 'PENDING', now)];
    }
    this.job.status = outcome.status;
    this.lastError = outcome.lastError;
    const failed = Object.entries(this.job.typeState).filter(([, s]) => s?.status === 'FAILED').map(([t]) => t);
    const completed = Object.entries(this.job.typeState).filter(([, s]) => s?.status === 'COMPLETED').map(([t]) => t);
    const final = this.event(outcome.status === 'COMPLETED' ? 'enrichment_complete' : 'enrichment_failed', now, null, {
      status: outcome.status,
      completed_types: completed,
      failed_types: failed,
      last_error: outcome.lastError,
    });
    // Inserted after the summary writes (not with the other events after the fenced UPDATE) so that
    // its stored payload carries the committed summary; published on the bus after the commit.
    this.trailing.push(final);
    return [
      testStatus(this.job, this.claimId, outcome.status, outcome.lastError, now),
      insertSummaryEventFenced(final, this.job.jobId, this.claimId),
      release(this.job, this.claimId, outcome.status, now),
    ];
  }

  /** Shutdown: types still open go back to PENDING with their attempt given back; the job is released. */
  private async releaseForShutdown(): Promise<RunResult> {
    const now = this.deps.services.clock.now();
    this.releasing = true;
    for (const type of this.open) {
      const state = this.stateOf(type);
      state.status = 'PENDING';
      state.attempts = Math.max(0, state.attempts - 1);
      this.reportType(type, 'released', { attempt: state.attempts, spent: false });
    }
    const aggregateOpen = this.open.has('AGGREGATE');
    this.open.clear();
    const events: EnrichmentEvent[] = [];
    const tail = this.finish(now, events);
    const statements: Statement[] = [this.save(now)];
    if (aggregateOpen) statements.push(aggregateStatus(this.job, this.claimId, 'PENDING'));
    statements.push(...tail);
    // Types that finished with their write held are written with the release (their state says COMPLETED).
    let committed: Array<{ rowsAffected: number }> | undefined;
    try {
      committed = await this.commit(statements, events, { ignoreAbort: true });
    } catch (error) {
      throw error instanceof CoalescedWriteFailed ? error.cause : error;
    }
    if (!committed) return this.lostResult();
    return { ending: 'released_for_shutdown', nextDueAt: this.job.status === 'PENDING' ? nextDueOf(this.job) : null, status: this.job.status };
  }

  /**
   * Sends one batch; the first statement is the fenced queue UPDATE. Returns undefined when the claim
   * was lost (nothing was written). DuckDB conflicts are retried (the batch is idempotent). `countsRead`: the
   * caller reads the statements' own row counts, so the batch is not merged with other claims' (the batcher
   * merges the others: a merged statement's count covers all its claims).
   */
  private async commit(
    batch: Statement[],
    batchEvents: EnrichmentEvent[],
    { ignoreAbort = false, countsRead = false }: { ignoreAbort?: boolean; countsRead?: boolean } = {},
  ): Promise<Array<{ rowsAffected: number }> | undefined> {
    if (this.lost || (this.aborted && !ignoreAbort && this.stopReason !== 'shutdown')) {
      this.trailing = [];
      this.reports = [];
      this.dropHeld();
      return undefined;
    }
    const held = this.heldWrites;
    const heldSnapshot = this.beforeHeld;
    if (held.length > 0) {
      batch = withHeldWrites(batch, held);
      batchEvents = [...held.flatMap((entry) => entry.events), ...batchEvents];
    }
    // The claim's opening (if not sent yet) goes in with the first TEST_RESULTS write, after the type's own
    // tables (lock order); its events first.
    const openAt = batch.findIndex((statement, index) => index > 0 && OPENING_BEFORE.has(writtenTable(statement.sql) ?? ''));
    const statements = [...batch.slice(0, openAt < 0 ? batch.length : openAt), ...this.opening, ...batch.slice(openAt < 0 ? batch.length : openAt)];
    const events = [...this.openingEvents, ...batchEvents];
    // The events go after the type tables and TEST_RESULTS (db/lock-order.ts) but before the job-level
    // summary event and the release, which ends the claim their fence checks.
    const closing = statements.findIndex((statement, index) => index > 0 && EVENTS_OR_QUEUE.has(writtenTable(statement.sql) ?? ''));
    const at = closing < 0 ? statements.length : closing;
    const inserts = events.length === 0 ? [] : [insertEventsFenced(events, this.job.jobId, this.claimId)];
    const fenced = [...statements.slice(0, at), ...inserts, ...statements.slice(at)];
    for (let attempt = 0; ; attempt += 1) {
      try {
        // One request on Snowflake (db/write-carrier.ts), shared with the other runs' writes of this moment
        // (statement-batcher.ts); a lost fence runs nothing after this group's queue UPDATE.
        const group = await this.deps.batcher.write({ statements: fenced, fenced: true, ...(countsRead ? { separate: true } : {}) });
        const results = group?.results ?? [];
        if (!group?.held) {
          this.trailing = [];
          this.reports = [];
          this.dropHeld();
          this.lost = true;
          this.abort('lease_lost');
          return undefined;
        }
        this.opening.length = 0;
        this.openingEvents.length = 0;
        this.dropHeld();
        if (this.batchLeaseUntil !== undefined) this.leaseUntil = Math.max(this.leaseUntil, this.batchLeaseUntil);
        eventBusOf(this.deps.services).publish([...events, ...this.trailing]);
        // Every batch changes the test's state, even one without an event (a release back to PENDING).
        this.deps.services.testReads.invalidate(this.job.testId);
        this.trailing = [];
        this.flushReports();
        // The results of the batch with its opening, in order (without the event insert).
        return [...results.slice(0, at), ...results.slice(at + inserts.length)];
      } catch (error) {
        if (isWarehouseError(error) && error.kind === 'conflict' && attempt < WRITE_CONFLICT_RETRIES) {
          await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20 * (attempt + 1)));
          continue;
        }
        this.trailing = [];
        this.reports = [];
        if (held.length > 0 && heldSnapshot !== undefined) {
          this.dropHeld();
          throw new CoalescedWriteFailed(error, held, heldSnapshot);
        }
        throw error;
      }
    }
  }

  /** The held writes are written (or will never be: the claim is lost). */
  private dropHeld(): void {
    this.heldWrites = [];
    this.beforeHeld = undefined;
  }

  /** Runs the reports of the batch that just committed (a failing report must not undo the commit). */
  private flushReports(): void {
    const reports = this.reports;
    this.reports = [];
    for (const report of reports) {
      try {
        report();
      } catch {
        // Metrics and logs are best effort.
      }
    }
  }

  /** Logs the claim once its start batch committed: the types due now and the attempt each is on. */
  private reportClaimed(now: Date, types: EnrichmentType[]): void {
    const job = this.job;
    const attempts = Object.fromEntries(types.map((type) => [type, this.stateOf(type).attempts]));
    const due = Object.fromEntries(types.map((type) => [type, this.stateOf(type).due_at]));
    // First in the batch's reports: outcomes decided while building the start batch come after it.
    this.reports.unshift(() =>
      this.deps.services.log.info(
        { job: job.jobId, test: job.testId, run: job.runId, claimed_by: job.claimedBy, rescued: this.claim.rescued === true, types, attempts, due, at: now.toISOString() },
        'job claimed',
      ),
    );
  }

  /** One type's outcome in the batch being built: metrics and its log line, emitted after the commit. */
  private reportType(
    type: EnrichmentType,
    outcome: 'COMPLETED' | 'FAILED' | 'NOT_APPLICABLE' | 'retry' | 'not_ready' | 'released',
    details: { attempt: number; spent: boolean; rows?: number; error?: string; nextDueAt?: Date; now?: Date; checks?: number },
  ): void {
    const { services } = this.deps;
    const { metrics, log } = services;
    const job = this.job;
    const started = this.typeStartedAt.get(type);
    const waitMs = this.typeWaitMs.get(type);
    // Measured to the outcome, not to the commit: a held write (write coalescing) commits later.
    const endedAt = performance.now();
    this.reports.push(() => {
      // Cleared only once reported: a write that failed and is re-recorded as a failure keeps its timing.
      this.typeStartedAt.delete(type);
      this.typeWaitMs.delete(type);
      const durationMs = started === undefined ? null : Math.round(endedAt - started);
      metrics.typesFinished.inc({ type, outcome });
      if (details.spent) metrics.typeAttempts.inc({ type });
      if (waitMs !== undefined) metrics.typeWaitSeconds.observe({ type }, Math.max(0, waitMs) / 1000);
      if (started !== undefined) metrics.typeRunSeconds.observe({ type, outcome }, (endedAt - started) / 1000);
      const base = { job: job.jobId, test: job.testId, run: job.runId, type, attempt: details.attempt };
      if (outcome === 'retry') {
        log.warn({ ...base, next_due_at: details.nextDueAt?.toISOString(), error: details.error, duration_ms: durationMs }, 'enrichment type failed; retry scheduled');
      } else if (outcome === 'not_ready') {
        metrics.typeNotReady.inc({ type });
        // How late against the planned due time (test end + the view's documented latency + buffer).
        const planned = typeDueAt(services.config, type, job.testEndTime);
        const lateMs = (details.now ?? services.clock.now()).getTime() - planned.getTime();
        // A not-ready check spends no attempt: the line counts checks instead.
        const { attempt: _attempt, ...identity } = base;
        const fields = {
          ...identity,
          not_ready_checks: details.checks,
          view: sourceViewName(SOURCE_VIEW_OF_TYPE[type]),
          planned_due_at: planned.toISOString(),
          late_minutes: Math.round(lateMs / 6000) / 10,
          next_check_at: details.nextDueAt?.toISOString(),
          reason: details.error,
        };
        if (lateMs > 0) log.warn(fields, 'source view not ready past the type\'s due time');
        else log.debug(fields, 'source view not ready yet');
      } else if (outcome === 'released') {
        log.info({ ...base, outcome }, 'enrichment type released for shutdown');
      } else {
        log.info(
          { ...base, outcome, rows: details.rows ?? null, duration_ms: durationMs, ...(details.error !== undefined ? { error: details.error } : {}) },
          'enrichment type finished',
        );
      }
    });
  }

  /** The claim's end in the batch being built: job outcome metric and log line, after the commit. */
  private reportJobEnd(status: 'PENDING' | 'COMPLETED' | 'FAILED', lastError: string | null): void {
    const { metrics, log } = this.deps.services;
    const job = this.job;
    const states = Object.entries(job.typeState).filter(([, state]) => state !== undefined);
    const types = Object.fromEntries(states.map(([type, state]) => [type, state!.status]));
    const rows = states.reduce((sum, [, state]) => sum + (state!.status === 'COMPLETED' ? (state!.rows ?? 0) : 0), 0);
    const attempts = totalAttempts(job.typeState);
    const releasing = this.releasing;
    const nextDueAt = status === 'PENDING' ? nextDueOf(job) : null;
    this.reports.push(() => {
      const base = { job: job.jobId, test: job.testId, run: job.runId, types, attempts, duration_ms: Math.round(performance.now() - this.startedAt) };
      if (status === 'PENDING') {
        log.info({ ...base, next_due_at: nextDueAt?.toISOString() ?? null }, releasing ? 'job released for shutdown' : 'job released; types left for later');
        return;
      }
      metrics.jobsFinished.inc({ outcome: status });
      log.info({ ...base, outcome: status, rows, ...(lastError ? { error: lastError } : {}) }, 'job finished');
    });
  }

  private save(now: Date): Statement {
    this.batchLeaseUntil = now.getTime() + this.deps.services.config.leaseMs;
    return saveState(this.job, this.claimId, {
      now,
      leaseMs: this.deps.services.config.leaseMs,
      lastError: this.lastError,
      errorHistory: this.errorHistory,
    });
  }

  private stateOf(type: EnrichmentType): TypeState {
    let state = this.job.typeState[type];
    if (!state) {
      state = {
        status: 'PENDING',
        attempts: 0,
        due_at: typeDueAt(this.deps.services.config, type, this.job.testEndTime).toISOString(),
        last_error: null,
        rows: null,
        completed_at: null,
      };
      this.job.typeState[type] = state;
    }
    return state;
  }

  private event(type: EventType, at: Date, enrichmentType: EnrichmentType | null, payload: JsonObject): EnrichmentEvent {
    return { type, at, job_id: this.job.jobId, test_id: this.job.testId, run_id: this.job.runId, enrichment_type: enrichmentType, payload };
  }

  private releasedResult(): RunResult {
    return { ending: 'released', nextDueAt: this.job.status === 'PENDING' ? nextDueOf(this.job) : null, status: this.job.status };
  }

  private lostResult(): RunResult {
    const reason = this.stopReason ?? 'lease_lost';
    this.deps.services.log.info({ job: this.job.jobId, test: this.job.testId, reason }, 'job run stopped; this claim wrote nothing more');
    return { ending: 'lost', nextDueAt: null, status: 'LOST' };
  }
}

function nextDueOf(job: QueueJob): Date | null {
  let best: number | null = null;
  for (const state of Object.values(job.typeState)) {
    if (!state || isTerminal(state.status)) continue;
    const at = Date.parse(state.due_at);
    if (best === null || at < best) best = at;
  }
  return best === null ? null : new Date(best);
}

/**
 * One batch with the held writes of earlier types (write coalescing) put in lock order (db/lock-order.ts): the
 * batch's fenced queue UPDATE first (it carries the whole job state, so the held outcomes need no save of their
 * own), then the held types' own tables in run order, the batch's own tables, the held TEST_RESULTS updates, and
 * the rest of the batch (its TEST_RESULTS, events, release).
 */
function withHeldWrites(batch: readonly Statement[], held: readonly HeldWrite[]): Statement[] {
  const [save, ...rest] = batch;
  if (save === undefined) throw new Error('a fenced batch starts with its queue UPDATE');
  const tables: Statement[] = [];
  const tests: Statement[] = [];
  for (const entry of held) {
    for (const statement of entry.statements) {
      const table = writtenTable(statement.sql);
      if (table !== undefined && EVENTS_OR_QUEUE.has(table)) throw new Error(`a held ${entry.outcome.type} write may not write ${table}`);
      (table === 'TEST_RESULTS' ? tests : tables).push(statement);
    }
  }
  const cut = rest.findIndex((statement) => OPENING_BEFORE.has(writtenTable(statement.sql) ?? ''));
  const at = cut < 0 ? rest.length : cut;
  return [save, ...tables, ...rest.slice(0, at), ...tests, ...rest.slice(at)];
}
