// The processor: claims due jobs (up to MAX_CONCURRENT_JOBS × CLAIM_BATCH_SIZE running at once), runs each in a
// JobRun (the runs share their statements through one StatementBatcher: jobs due together cost one read per
// type and one write request, not one each), and keeps in memory the earliest time something may become due, so that a poll with nothing
// due sends no statement at all (on Snowflake every query can resume a billed warehouse).
import type { Warehouse } from '../db/warehouse.js';
import type { EnrichmentRegistry } from '../enrichment/registry.js';
import { defaultRegistry } from '../enrichment/registry.js';
import { scaledBackoff, type BackoffPolicy } from '../queue/backoff.js';
import { claimBatch, instanceName, nextWakeTime } from '../queue/claim.js';
import { discoverFinishedTests, type FinishedTest } from '../queue/discovery.js';
import { StreamDiscovery } from '../queue/discovery-stream.js';
import { enqueueJobs } from '../queue/enqueue-batch.js';
import type { Services } from '../services.js';
import type { SourceViewName } from '../sources/account-usage.js';
import { classifyError } from './outcomes.js';
import { JobRun, type RunResult, type StopReason } from './runner.js';
import { StatementBatcher } from './statement-batcher.js';

export interface ProcessorOptions {
  /** The processor's own connection (default: the service's). */
  warehouse?: Warehouse;
  registry?: EnrichmentRegistry;
  /** CLAIMED_BY; default host:pid. */
  claimedBy?: string;
  backoff?: BackoffPolicy;
  random?: () => number;
}

/** Base recheck delay for a not-ready view (scaled by LATENCY_SCALE, at least 1 s). */
const NOT_READY_RECHECK_MS = 5 * 60_000;

export class Processor {
  readonly warehouse: Warehouse;
  readonly claimedBy: string;
  private readonly registry: EnrichmentRegistry;
  private readonly runs = new Map<string, { run: JobRun; done: Promise<RunResult | undefined> }>();
  /** Earliest time this instance knows something may be claimable; null: nothing known. */
  private nextDue: Date | null;
  private stopping = false;
  private lastPollAt: Date | null = null;
  private polling: Promise<number> | undefined;
  private pollAgain = false;
  private readonly listeners = new Set<() => void>();
  private readonly deps: ConstructorParameters<typeof JobRun>[0];
  readonly batcher: StatementBatcher;
  /** AUTO_ENQUEUE with AUTO_ENQUEUE_SOURCE=stream: the stream-fed discovery (queue/discovery-stream.ts). */
  readonly streamDiscovery: StreamDiscovery | undefined;
  /**
   * What this instance did since start. A claim ends one way: `completed`/`failed` (the job reached that
   * terminal status), `rescheduled` (back to PENDING with types left for later), `releasedForShutdown`,
   * `lost` (cancelled or reclaimed elsewhere: nothing written) or `errors` (the run threw; the lease expires).
   */
  readonly stats = {
    claimed: 0,
    rescued: 0,
    completed: 0,
    failed: 0,
    rescheduled: 0,
    releasedForShutdown: 0,
    lost: 0,
    lostRaces: 0,
    errors: 0,
    polls: 0,
    quietPolls: 0,
  };

  constructor(
    readonly services: Services,
    options: ProcessorOptions = {},
  ) {
    this.warehouse = options.warehouse ?? services.warehouse;
    this.registry = options.registry ?? defaultRegistry();
    this.claimedBy = options.claimedBy ?? instanceName();
    // Unknown at start: the first poll asks the warehouse once.
    this.nextDue = new Date(0);
    const { config } = services;
    this.batcher = new StatementBatcher(this.warehouse, services.log);
    this.streamDiscovery =
      config.autoEnqueue && config.autoEnqueueSource === 'stream'
        ? new StreamDiscovery(this.warehouse, { running: () => this.runs.keys(), lookBackMs: config.autoEnqueueLookBackMs })
        : undefined;
    this.deps = {
      batcher: this.batcher,
      services,
      warehouse: this.warehouse,
      registry: this.registry,
      viewAccess: (view: SourceViewName) => {
        const probe = services.health.views.find((entry) => entry.view === view);
        return probe ? { readable: probe.readable, ...(probe.error ? { error: probe.error } : {}) } : undefined;
      },
      backoff: options.backoff ?? scaledBackoff(config.latencyScale),
      random: options.random ?? Math.random,
      typeTimeoutMs: config.typeTimeoutMs,
      statementTimeoutMs: config.snowflake?.statementTimeoutMs ?? 120_000,
      notReadyRecheckMs: Math.max(1000, Math.round(NOT_READY_RECHECK_MS * config.latencyScale)),
    };
  }

  /** The earliest time this instance knows something may be due (for the wake-up timer). */
  get knownNextDue(): Date | null {
    return this.nextDue;
  }

  get runningJobs(): number {
    return this.runs.size;
  }

  /** Called when the known next due time changes. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Something falls due at `at` (an enqueue on this instance, a rescheduled type). */
  noteDue(at: Date): void {
    if (this.nextDue === null || at.getTime() < this.nextDue.getTime()) {
      this.nextDue = at;
      for (const listener of this.listeners) listener();
    }
  }

  /**
   * Claims and starts due jobs when this instance knows something is due; otherwise sends nothing.
   * Returns the number of jobs claimed. Overlapping calls coalesce.
   */
  poll(): Promise<number> {
    if (this.polling) {
      this.pollAgain = true;
      return this.polling;
    }
    this.polling = this.pollLoop().finally(() => {
      this.polling = undefined;
    });
    return this.polling;
  }

  /**
   * The slower discovery poll: one statement asks the queue what is due (finds other instances' jobs) and
   * TEST_RESULTS for finished tests nobody enqueued (AUTO_ENQUEUE); those are enqueued, then it polls.
   * With AUTO_ENQUEUE_SOURCE=stream an idle poll is one metadata-only statement instead (queue/discovery-stream.ts).
   */
  async discover(): Promise<number> {
    if (this.stopping) return 0;
    const { config, clock } = this.services;
    if (this.streamDiscovery) {
      const found = await this.streamDiscovery.discover(clock.now(), (tests) => this.enqueueFound(tests));
      if (found.wake !== undefined) this.setNextDue(found.wake);
      return this.poll();
    }
    const found = await discoverFinishedTests(this.warehouse, {
      running: this.runs.keys(),
      now: clock.now(),
      autoEnqueue: config.autoEnqueue,
      lookBackMs: config.autoEnqueueLookBackMs,
    });
    this.setNextDue(found.wake);
    await this.enqueueFound(found.finished);
    return this.poll();
  }

  /** Enqueues what discovery found; one test that cannot be enqueued does not stop the others (counted in `failed`). */
  private async enqueueFound(tests: readonly FinishedTest[]): Promise<{ failed: number }> {
    if (tests.length === 0) return { failed: 0 };
    if (this.stopping) return { failed: tests.length };
    const results = await enqueueJobs(
      this.services,
      tests.map((test) => ({
        test_id: test.testId,
        run_id: test.runId,
        table_type: test.tableType,
        test_end_time: test.endTime,
        ...(test.startTime ? { test_start_time: test.startTime } : {}),
      })),
    );
    results.forEach((result, index) => {
      if (!(result instanceof Error)) return;
      const test = tests[index]!;
      this.services.log.warn({ test_id: test.testId, run_id: test.runId, err: result.message }, 'discovery could not enqueue a finished test');
    });
    const failed = results.filter((result) => result instanceof Error).length;
    const enqueued = results.filter((result) => !(result instanceof Error) && result.created).length;
    this.services.log.info({ found: tests.length, enqueued }, 'discovery enqueued finished FlakeBench tests');
    return { failed };
  }

  private async pollLoop(): Promise<number> {
    let total = 0;
    do {
      this.pollAgain = false;
      total += await this.pollOnce();
    } while (this.pollAgain && !this.stopping);
    return total;
  }

  private async pollOnce(): Promise<number> {
    this.stats.polls += 1;
    const now = this.services.clock.now();
    this.lastPollAt = now;
    const { maxConcurrentJobs, claimBatchSize } = this.services.config;
    const free = maxConcurrentJobs * claimBatchSize - this.runs.size;
    // Claim a whole batch's worth or nothing: runs ending one by one would otherwise refill one slot at a time,
    // and jobs claimed one by one do not reach their steps together (nothing to share).
    if (this.stopping || free < claimBatchSize || this.nextDue === null || this.nextDue.getTime() > now.getTime()) {
      this.stats.quietPolls += 1;
      return 0;
    }
    const claim = await claimBatch(this.warehouse, {
      now,
      leaseMs: this.services.config.leaseMs,
      limit: free,
      claimedBy: this.claimedBy,
      running: this.runs.keys(),
    });
    if (claim.lostRace) {
      // Another instance took rows we also wanted: look again shortly, the queue may hold more. The
      // jobs that still carry our token (claim.jobs) are ours and run now.
      this.stats.lostRaces += 1;
      setTimeout(() => void this.poll().catch(() => undefined), 5 + Math.random() * 25).unref();
    }
    const rescued = new Set(claim.rescued);
    for (const job of claim.jobs) this.start(new JobRun(this.deps, job, job.claimId ?? claim.claimId, { rescued: rescued.has(job.jobId) }));
    this.stats.claimed += claim.jobs.length;
    this.stats.rescued += rescued.size;
    this.services.metrics.jobsClaimed.inc(claim.jobs.length);
    if (rescued.size > 0) this.services.metrics.claimsRescued.inc(rescued.size);
    if (!claim.lostRace && claim.jobs.length < free && !this.stopping) {
      // Fewer due than slots: nothing else is due now; learn when the next one is (the claim's read-back
      // brought it when it took any job).
      this.setNextDue(claim.wake !== undefined ? claim.wake : await nextWakeTime(this.warehouse, this.runs.keys()));
    }
    return claim.jobs.length;
  }

  private start(run: JobRun): void {
    const done = run
      .run()
      .then((result) => {
        if (result.ending === 'lost') this.stats.lost += 1;
        else if (result.ending === 'released_for_shutdown') this.stats.releasedForShutdown += 1;
        else if (result.status === 'COMPLETED') this.stats.completed += 1;
        else if (result.status === 'FAILED') this.stats.failed += 1;
        else this.stats.rescheduled += 1;
        if (result.nextDueAt) this.noteDue(result.nextDueAt);
        return result;
      })
      .catch((error: unknown) => {
        // The claim stays until its lease expires; any instance then reclaims the job, this one too. The lease
        // ends within LEASE_MS of now: look then. Once the run is gone from `runs`, the queue's wake time
        // (nextWakeSelect) counts this lease like another instance's, so a poll that fails in between, or a
        // wake time learned later, still brings this instance back to it.
        this.stats.errors += 1;
        this.services.storageHealth.noteFailure(error);
        this.runs.delete(run.job.jobId);
        this.noteDue(new Date(this.services.clock.now().getTime() + this.services.config.leaseMs));
        this.services.log.error({ job: run.job.jobId, err: classifyError(error).message }, 'job run failed');
        return undefined;
      })
      .finally(() => {
        this.runs.delete(run.job.jobId);
        if (!this.stopping) void this.poll().catch((error: unknown) => this.logPollError(error));
      });
    this.runs.set(run.job.jobId, { run, done });
  }

  private setNextDue(at: Date | null): void {
    // Keep earlier knowledge from running jobs (they report when they finish).
    this.nextDue = at;
    for (const listener of this.listeners) listener();
  }

  private logPollError(error: unknown): void {
    this.services.storageHealth.noteFailure(error);
    this.services.log.error({ err: classifyError(error).message }, 'processor poll failed');
  }

  /** Aborts a job this instance is running (cancel); returns whether it was running here. */
  abortJob(jobId: string, reason: StopReason = 'cancelled'): boolean {
    const entry = this.runs.get(jobId);
    entry?.run.abort(reason);
    return entry !== undefined;
  }

  /** Resolves when nothing is running (tests and benchmarks). */
  async idle(): Promise<void> {
    while (this.runs.size > 0 || this.polling) {
      await Promise.all([...this.runs.values()].map((entry) => entry.done));
      if (this.polling) await this.polling;
    }
  }

  /**
   * Shutdown: claim nothing more, let running types finish within `graceMs`, then abort the rest;
   * every unfinished job is released (back to PENDING, the attempt not spent).
   */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    if (this.polling) await this.polling.catch(() => undefined);
    for (const { run } of this.runs.values()) run.drain();
    const all = Promise.all([...this.runs.values()].map((entry) => entry.done));
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'grace'>((resolve) => {
      timer = setTimeout(() => resolve('grace'), graceMs);
    });
    const first = await Promise.race([all, graceOver]);
    if (timer) clearTimeout(timer);
    if (first === 'grace') {
      for (const { run } of this.runs.values()) run.abort('shutdown');
      await Promise.all([...this.runs.values()].map((entry) => entry.done));
    }
    this.listeners.clear();
  }

  /** What /health shows, from memory only. */
  snapshot(): Record<string, unknown> {
    return {
      running: !this.stopping,
      claimed_by: this.claimedBy,
      last_poll_at: this.lastPollAt?.toISOString() ?? null,
      // Each figure counts one thing (since start): claims taken, and how they ended.
      jobs_claimed: this.stats.claimed,
      claims_rescued: this.stats.rescued,
      jobs_completed: this.stats.completed,
      jobs_failed: this.stats.failed,
      jobs_rescheduled: this.stats.rescheduled,
      jobs_released_for_shutdown: this.stats.releasedForShutdown,
      claims_lost: this.stats.lost,
      run_errors: this.stats.errors,
      in_flight: [...this.runs.keys()],
      running_jobs: this.runs.size,
      max_concurrent_jobs: this.services.config.maxConcurrentJobs,
      claim_batch_size: this.services.config.claimBatchSize,
      // Statements shared by jobs due together (issue 10): batched reads and the jobs they served, multi-job writes.
      batched_reads: this.batcher.stats.batchedReads,
      batched_read_jobs: this.batcher.stats.batchedReadJobs,
      batched_read_fallbacks: this.batcher.stats.readFallbacks,
      batched_writes: this.batcher.stats.batchedWrites,
      batched_write_groups: this.batcher.stats.batchedWriteGroups,
      batched_write_fallbacks: this.batcher.stats.writeFallbacks,
      next_known_due_at: this.nextDue?.toISOString() ?? null,
      stopping: this.stopping,
      registered_types: this.registry.types(),
      polls: this.stats.polls,
      quiet_polls: this.stats.quietPolls,
      claim_races_lost: this.stats.lostRaces,
    };
  }
}
