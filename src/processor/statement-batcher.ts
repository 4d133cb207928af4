// Batches for a backlog (issue 10): the jobs of a claim run side by side and reach the same step at the same
// moment, so the reads of one enrichment type and the fenced writes that the runs ask for within one turn of the
// event loop are sent together: one `readMany` statement per type (EnrichmentModule.readMany) and one
// `writeGroups` request for the writes, instead of one of each per job. The runs themselves do not change: each
// still asks for its own read and its own fenced group, and gets back exactly its own answer.
//
// Writes of the same shape are merged into one group with one statement per step for all their jobs
// (merge-groups.ts); a lost fence among them fails the merged write, which then goes job by job like any failure.
//
// Per-job fallback: when a batched read throws, each job is read alone; when a multi-group write fails, each
// group is sent alone. One job's bad rows or failing statement therefore fails that job only, with its own error.
//
// Lock order (db/lock-order.ts): groups go into one transaction only when they first write the same tables in
// the same order (the same "signature"), so the transaction takes its locks in that one order.
import { writtenTable } from '../db/lock-order.js';
import type { GroupResult, Warehouse, WriteGroup } from '../db/warehouse.js';
import { MAX_CARRIER_PAYLOAD_BYTES } from '../db/write-carrier.js';
import type { EnrichmentContext, EnrichmentModule, ViewNotReady } from '../enrichment/types.js';
import type { Logger } from '../logger.js';
import { mergeGroups, splitResults } from './merge-groups.js';

/** The most jobs one batched read covers. */
export const MAX_JOBS_PER_READ = 200;
/**
 * The widest time span (earliest window start to latest window end) one batched read covers: the view is read
 * over that span, so jobs far apart in time (a backfill of months) go in separate reads instead of one scan of
 * everything between them.
 */
export const MAX_READ_SPAN_MS = 12 * 3_600_000;
/** The most groups one write request carries (its size is bounded by MAX_CARRIER_PAYLOAD_BYTES too). */
export const MAX_GROUPS_PER_WRITE = 100;

type Source = unknown;

interface PendingRead {
  context: EnrichmentContext;
  resolve(source: Source | ViewNotReady): void;
  reject(error: unknown): void;
}

interface PendingWrite {
  group: WriteGroup;
  resolve(result: GroupResult): void;
  reject(error: unknown): void;
}

export interface BatcherStats {
  /** Batched reads sent (each served 2 or more jobs) and the jobs they served. */
  batchedReads: number;
  batchedReadJobs: number;
  /** Batched reads that failed and were replaced by one read per job. */
  readFallbacks: number;
  /** Write requests that carried 2 or more groups, and those groups. */
  batchedWrites: number;
  batchedWriteGroups: number;
  /** Multi-group writes that failed and were resent one group at a time. */
  writeFallbacks: number;
  /** Groups of the same shape sent as one merged group (merge-groups.ts), and the groups they carried. */
  mergedGroups: number;
  mergedGroupMembers: number;
}

export class StatementBatcher {
  private reads = new Map<EnrichmentModule, PendingRead[]>();
  private writes: PendingWrite[] = [];
  private scheduled = false;
  readonly stats: BatcherStats = { batchedReads: 0, batchedReadJobs: 0, readFallbacks: 0, batchedWrites: 0, batchedWriteGroups: 0, writeFallbacks: 0, mergedGroups: 0, mergedGroupMembers: 0 };

  constructor(
    private readonly warehouse: Warehouse,
    private readonly log: Logger,
  ) {}

  /** The job's read of `module` (context.warehouse is the one to read through), batched with others of the type. */
  read(module: EnrichmentModule, context: EnrichmentContext): Promise<Source | ViewNotReady> {
    if (!module.readMany) return module.read(context);
    return new Promise((resolve, reject) => {
      const queue = this.reads.get(module) ?? [];
      queue.push({ context, resolve, reject });
      this.reads.set(module, queue);
      this.schedule();
    });
  }

  /** One fenced group, sent with the other groups asked for in this turn of the event loop. */
  write(group: WriteGroup): Promise<GroupResult> {
    return new Promise((resolve, reject) => {
      this.writes.push({ group, resolve, reject });
      this.schedule();
    });
  }

  /** After the current turn: every run that reached its read or write by then is in the batch. */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const reads = this.reads;
      const writes = this.writes;
      this.reads = new Map();
      this.writes = [];
      for (const [module, pending] of reads) for (const batch of readBatches(pending)) void this.sendReads(module, batch);
      for (const batch of writeBatches(writes)) void this.sendWrites(batch);
    });
  }

  private async sendReads(module: EnrichmentModule, batch: PendingRead[]): Promise<void> {
    const live = batch.filter((entry) => !entry.context.signal.aborted);
    for (const entry of batch) if (entry.context.signal.aborted) entry.reject(entry.context.signal.reason);
    if (live.length === 0) return;
    if (live.length === 1 || !module.readMany) {
      await Promise.all(live.map((entry) => readAlone(module, entry)));
      return;
    }
    const first = live[0]!.context;
    const batchSignal = allAborted(live.map((entry) => entry.context.signal));
    try {
      const sources = await module.readMany(
        live.map((entry) => entry.context),
        { signal: batchSignal.signal, timeoutMs: first.timeoutMs, warehouse: first.warehouse },
      );
      if (sources.length !== live.length) throw new Error(`${module.type} readMany answered ${sources.length} sources for ${live.length} jobs`);
      this.stats.batchedReads += 1;
      this.stats.batchedReadJobs += live.length;
      live.forEach((entry, index) => entry.resolve(sources[index]));
    } catch (error) {
      this.stats.readFallbacks += 1;
      this.log.warn({ type: module.type, jobs: live.length, err: error instanceof Error ? error.message : String(error) }, 'batched read failed; reading each job alone');
      await Promise.all(live.map((entry) => readAlone(module, entry)));
    } finally {
      batchSignal.release();
    }
  }

  private async sendWrites(batch: PendingWrite[]): Promise<void> {
    if (batch.length === 1) {
      await this.writeAlone(batch[0]!);
      return;
    }
    let results: GroupResult[];
    const plan = mergeGroups(batch.map((entry) => entry.group));
    try {
      const sent = await this.warehouse.writeGroups(plan.map((merged) => merged.group));
      if (sent.length !== plan.length) throw new Error(`writeGroups answered ${sent.length} results for ${plan.length} groups`);
      results = splitResults(plan, sent, batch.length);
    } catch (error) {
      // Nothing of the batch was written (one transaction): each group goes alone, with its own outcome.
      this.stats.writeFallbacks += 1;
      this.log.warn({ groups: batch.length, err: error instanceof Error ? error.message : String(error) }, 'batched write failed; sending each job\'s write alone');
      for (const entry of batch) await this.writeAlone(entry);
      return;
    }
    this.stats.batchedWrites += 1;
    this.stats.batchedWriteGroups += batch.length;
    for (const merged of plan) {
      if (merged.members.length < 2) continue;
      this.stats.mergedGroups += 1;
      this.stats.mergedGroupMembers += merged.members.length;
    }
    batch.forEach((entry, index) => entry.resolve(results[index]!));
  }

  private async writeAlone(entry: PendingWrite): Promise<void> {
    try {
      const [result] = await this.warehouse.writeGroups([entry.group]);
      if (!result) throw new Error('writeGroups answered no result for one group');
      entry.resolve(result);
    } catch (error) {
      entry.reject(error);
    }
  }
}

async function readAlone(module: EnrichmentModule, entry: PendingRead): Promise<void> {
  try {
    entry.resolve(await module.read(entry.context));
  } catch (error) {
    entry.reject(error);
  }
}

/** Reads in test-end order, cut where a batch would pass MAX_JOBS_PER_READ or MAX_READ_SPAN_MS. */
function readBatches(pending: PendingRead[]): PendingRead[][] {
  const sorted = [...pending].sort((a, b) => a.context.job.testEndTime.getTime() - b.context.job.testEndTime.getTime());
  const batches: PendingRead[][] = [];
  let batch: PendingRead[] = [];
  let spanStart = Infinity;
  for (const entry of sorted) {
    const { testStartTime, testEndTime } = entry.context.job;
    const start = (testStartTime ?? testEndTime).getTime();
    if (batch.length > 0 && (batch.length >= MAX_JOBS_PER_READ || testEndTime.getTime() - Math.min(spanStart, start) > MAX_READ_SPAN_MS)) {
      batches.push(batch);
      batch = [];
      spanStart = Infinity;
    }
    spanStart = Math.min(spanStart, start);
    batch.push(entry);
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

/** The tables a group first writes, in order: groups with the same signature share a transaction. */
function signature(group: WriteGroup): string {
  const tables: string[] = [];
  for (const statement of group.statements) {
    const table = writtenTable(statement.sql);
    if (table !== undefined && !tables.includes(table)) tables.push(table);
  }
  return `${group.fenced ? 'fenced' : 'plain'}:${tables.join(',')}`;
}

/** A group's size in the carrier's payload (texts and binds), near enough to keep a request under its limit. */
function groupBytes(group: WriteGroup): number {
  return group.statements.reduce((sum, statement) => sum + Buffer.byteLength(statement.sql) + Buffer.byteLength(JSON.stringify(statement.binds ?? [])) + 16, 16);
}

function writeBatches(pending: PendingWrite[]): PendingWrite[][] {
  const open = new Map<string, { entries: PendingWrite[]; bytes: number }>();
  const batches: PendingWrite[][] = [];
  for (const entry of pending) {
    const key = signature(entry.group);
    const bytes = groupBytes(entry.group);
    let batch = open.get(key);
    if (batch === undefined || batch.entries.length >= MAX_GROUPS_PER_WRITE || batch.bytes + bytes > MAX_CARRIER_PAYLOAD_BYTES) {
      batch = { entries: [], bytes: 0 };
      open.set(key, batch);
      batches.push(batch.entries);
    }
    batch.entries.push(entry);
    batch.bytes += bytes;
  }
  return batches;
}

/**
 * Aborts once every one of the signals has (a batch keeps running while any of its jobs still wants it).
 * `release` removes its listeners when the read is over: the jobs' signals are AbortSignal.any() signals,
 * which Node keeps alive while they have a listener (with whatever the listener holds).
 */
function allAborted(signals: readonly AbortSignal[]): { signal: AbortSignal; release(): void } {
  const controller = new AbortController();
  let left = signals.length;
  const onAbort = () => {
    left -= 1;
    if (left === 0) controller.abort(new Error('every job of the batched read stopped'));
  };
  for (const signal of signals) {
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  }
  return {
    signal: controller.signal,
    release: () => {
      for (const signal of signals) signal.removeEventListener('abort', onAbort);
    },
  };
}
