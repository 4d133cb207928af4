// Injected faults: the real processor and the real enrichment types over a simulated backlog, with 20 % of
// the source reads failing as Snowflake's do — permission denied, statement timeout, a dropped connection,
// or a malformed row (a view row whose numbers are not numbers, which the service must refuse by name). The clock is stepped from one due time to the
// next, so backoff is checked to the millisecond, not waited out. Promises checked:
// - nothing is left IN_PROGRESS or claimed, every job ends terminal;
// - every injected failure's reason is in its job's ERROR_HISTORY, under its type and attempt;
// - a retryable failure is tried again after the backoff of its attempt (within the jitter), never beyond
//   MAX_ATTEMPTS; a permission error or a malformed row is not retried.
// Run: npx tsx test/reliability/faults.ts [--jobs 40] [--rate 0.2] [--seed 3] [--quick]
import { AsyncLocalStorage } from 'node:async_hooks';
import { parseArgs } from 'node:util';
import { ManualClock } from '../../src/clock.js';
import { DuckDbDatabase } from '../../src/db/duckdb.js';
import { WarehouseError, withQuery, type BindValue, type Row, type StatementOptions, type Warehouse } from '../../src/db/warehouse.js';
import { realModules } from '../../src/enrichment/modules/index.js';
import { EnrichmentRegistry } from '../../src/enrichment/registry.js';
import type { EnrichmentModule } from '../../src/enrichment/types.js';
import { Processor } from '../../src/processor/processor.js';
import { backoffDelayMs, DEFAULT_BACKOFF } from '../../src/queue/backoff.js';
import { TERMINAL_STATUSES } from '../../src/queue/job-state.js';
import { createServices } from '../../src/services.js';
import { SOURCE_VIEWS, type SourceViewName } from '../../src/sources/account-usage.js';
import { Random } from '../../src/simulator/random.js';
import { silentLog, testConfig } from '../support/embedded.js';
import { queueRows, report, seedBacklog } from './backlog.js';

const { values } = parseArgs({
  options: { jobs: { type: 'string' }, rate: { type: 'string', default: '0.2' }, seed: { type: 'string', default: '3' }, quick: { type: 'boolean', default: false } },
});
const JOBS = Number(values.jobs ?? (values.quick ? 15 : 40));
const RATE = Number(values.rate);
const SEED = Number(values.seed);
const MAX_ATTEMPTS = 3;
const FAULT_KINDS = ['permission', 'timeout', 'connection', 'malformed'] as const;
type FaultKind = (typeof FAULT_KINDS)[number];

interface Read {
  jobId: string;
  type: string;
  at: number;
  fault: FaultKind | null;
  message: string | null;
}

/** The errors as the Snowflake adapter reports them (codes from Snowflake's error messages). */
function faultError(kind: Exclude<FaultKind, 'malformed'>, view: string): WarehouseError {
  switch (kind) {
    case 'permission':
      return new WarehouseError('permission', `SQL access control error: Insufficient privileges to operate on view '${view}' (injected)`, { code: '003001' });
    case 'timeout':
      return new WarehouseError('timeout', `Statement reached its statement or warehouse timeout of 60 second(s) and was canceled (injected ${view})`, { code: '000630' });
    case 'connection':
      return new WarehouseError('connection', `Network error: socket hang up reading ${view} (injected)`);
  }
}

/** Set while a type's read should see a malformed row (async-context scoped: reads run concurrently). */
const malformNextRead = new AsyncLocalStorage<{ view: SourceViewName; corrupted: number }>();

/**
 * The processor's connection, as a changed view or a broken export would answer: during a read marked above,
 * the first row's numeric view columns come back as text. Below the service's own checks, as a view would be.
 */
function malformingWarehouse(warehouse: Warehouse): Warehouse {
  return withQuery(warehouse, async <T extends Row = Row>(sql: string, binds?: readonly BindValue[], options?: StatementOptions): Promise<T[]> => {
    const rows = await warehouse.query<T>(sql, binds, options);
    const mark = malformNextRead.getStore();
    const [first, ...rest] = rows;
    if (!mark || !first) return rows;
    const numeric = new Set(SOURCE_VIEWS.find((view) => view.name === mark.view)!.columns.filter((c) => c.type === 'NUMBER' || c.type === 'FLOAT').map((c) => c.name));
    const broken: Row = { ...first };
    for (const [key, cell] of Object.entries(first)) {
      if (numeric.has(key) && cell !== null) {
        broken[key] = 'n/a';
        mark.corrupted += 1;
      }
    }
    return [broken as T, ...rest];
  });
}

const reads: Read[] = [];
const random = new Random(SEED);
/** A second stream for the kind of fault, so it does not depend on the draw that chose to fail. */
const kinds = new Random(SEED + 1);

/** A real module whose source read fails at RATE (its readiness check and writes are untouched). */
function faulty(module: EnrichmentModule, clock: ManualClock): EnrichmentModule {
  return {
    ...module,
    async read(context) {
      const fault: FaultKind | null = random.next() < RATE ? FAULT_KINDS[Math.floor(kinds.next() * FAULT_KINDS.length)]! : null;
      const read: Read = { jobId: context.job.jobId, type: module.type, at: clock.now().getTime(), fault, message: null };
      reads.push(read);
      if (fault === null) return module.read(context);
      if (fault !== 'malformed') {
        const error = faultError(fault, module.view);
        read.message = error.message;
        throw error;
      }
      const mark = { view: module.view, corrupted: 0 };
      try {
        return await malformNextRead.run(mark, () => module.read(context));
      } catch (error) {
        read.message = (error as Error).message;
        throw error;
      } finally {
        // A read with no numeric view column to break (QUERY_HISTORY's coverage counts) had no fault.
        if (mark.corrupted === 0) read.fault = null;
      }
    },
  };
}

const backlog = await seedBacklog(JOBS, SEED);
const problems: string[] = [];
let steps = 0;
try {
  const database = await DuckDbDatabase.open(backlog.file);
  try {
    const warehouse = await database.connect();
    const clock = new ManualClock(new Date().toISOString());
    const services = createServices({
      config: testConfig({ MAX_ATTEMPTS: String(MAX_ATTEMPTS), MAX_CONCURRENT_JOBS: '4' }),
      clock,
      log: silentLog,
      engine: { engine: 'duckdb', warehouse, connect: () => database.connect(), location: backlog.file, close: async () => undefined },
    });
    const registry = new EnrichmentRegistry(realModules().map((module) => faulty(module, clock)));
    const processor = new Processor(services, { registry, warehouse: malformingWarehouse(warehouse), random: () => random.next() });
    // Poll, then step the clock to the next due time, until nothing is left to do.
    for (; steps < 500; steps += 1) {
      await processor.poll();
      await processor.idle();
      const [next] = await warehouse.query(`SELECT MIN(NEXT_DUE_AT) AS DUE FROM DELAYED_ENRICHMENT_QUEUE WHERE STATUS = 'PENDING'`);
      if (!(next?.DUE instanceof Date)) break;
      if (next.DUE.getTime() > clock.now().getTime()) clock.set(next.DUE.toISOString());
    }

    const rows = await queueRows(warehouse);
    const histories = new Map(
      (await warehouse.query('SELECT JOB_ID, ERROR_HISTORY FROM DELAYED_ENRICHMENT_QUEUE')).map((row) => [
        String(row.JOB_ID),
        row.ERROR_HISTORY as Array<{ type: string; attempt: number; error: string; retryable: boolean }>,
      ]),
    );
    for (const row of rows) {
      if (!(TERMINAL_STATUSES as readonly string[]).includes(row.status)) problems.push(`job ${row.jobId}: left ${row.status}`);
      if (row.claimId !== null) problems.push(`job ${row.jobId}: left claimed`);
    }
    // Per (job, type): the reads in order, and what each failure must have led to.
    const byType = new Map<string, Read[]>();
    for (const read of reads) byType.set(`${read.jobId} ${read.type}`, [...(byType.get(`${read.jobId} ${read.type}`) ?? []), read]);
    for (const [key, typeReads] of byType) {
      const [jobId, type] = key.split(' ') as [string, string];
      const state = rows.find((row) => row.jobId === jobId)?.types[type];
      const history = histories.get(jobId) ?? [];
      if (typeReads.length > MAX_ATTEMPTS) problems.push(`job ${jobId}: ${type} read ${typeReads.length} times, limit ${MAX_ATTEMPTS}`);
      typeReads.forEach((read, index) => {
        const attempt = index + 1;
        if (read.fault === null) return;
        if (read.message !== null && !history.some((entry) => entry.type === type && entry.attempt === attempt && entry.error.includes(read.message!))) {
          problems.push(`job ${jobId}: ${type} attempt ${attempt} failed (${read.fault}: ${read.message}) but ERROR_HISTORY does not say so`);
        }
        const next = typeReads[index + 1];
        // Retrying cannot fix a missing privilege or a malformed row: the type ends FAILED at once.
        if (read.fault === 'permission' || read.fault === 'malformed') {
          if (next) problems.push(`job ${jobId}: ${type} retried after a ${read.fault} failure`);
          if (state?.status !== 'FAILED') problems.push(`job ${jobId}: ${type} is ${state?.status} after a ${read.fault} failure, expected FAILED`);
          if (read.message === null) problems.push(`job ${jobId}: ${type} accepted a malformed row without an error`);
          return;
        }
        if (!next) {
          if (attempt < MAX_ATTEMPTS) problems.push(`job ${jobId}: ${type} not retried after a ${read.fault} failure at attempt ${attempt}`);
          return;
        }
        const nominal = backoffDelayMs(attempt, { ...DEFAULT_BACKOFF, jitter: 0 }, 0.5);
        const low = backoffDelayMs(attempt, DEFAULT_BACKOFF, 0);
        const high = backoffDelayMs(attempt, DEFAULT_BACKOFF, 0.999_999);
        const gap = next.at - read.at;
        if (gap < low || gap > high) problems.push(`job ${jobId}: ${type} retried ${gap} ms after attempt ${attempt}, backoff allows ${low}–${high} ms (nominal ${nominal})`);
      });
    }
  } finally {
    await database.close();
  }
} finally {
  backlog.remove();
}
const injected = reads.filter((read) => read.fault !== null);
const byKind = FAULT_KINDS.map((kind) => `${kind} ${injected.filter((read) => read.fault === kind).length}`).join(', ');
report('faults', `${JOBS} jobs, ${reads.length} source reads, ${injected.length} failed (${byKind}), ${steps} clock steps`, problems);
