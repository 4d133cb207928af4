// Round trips per job on Snowflake, counted at the driver: the real snowflake-sdk (through src/db/snowflake.ts)
// against the fake endpoint on 127.0.0.1 (test/support/fake-snowflake.ts), which records every HTTP request it
// receives. A round trip is one HTTP request the driver sends: a query request (one per statement, BEGIN and
// COMMIT included) or any other (login, session delete, telemetry, abort, result fetch) — all counted.
//
// One account per run: FlakeBench's tables and the simulated ACCOUNT_USAGE views, the service's migrations
// through the driver, N finished tests written by the simulator (src/simulator/simulate.ts, as the backfill
// bench seeds them), each enqueued through the real enqueue path with an end far enough in the past that
// every type is due and its view ready. Then either the real Processor with the real enrichment modules
// drains the queue, or the seed design's replay (bench/seed-design.ts) does, on a fresh account with the same
// data. Only the requests sent while the queue drains are counted (setup and enqueue are not).
import { ManualClock } from '../src/clock.js';
import { migrate } from '../src/db/migrations.js';
import { registeredStatements } from '../src/db/sql-registry.js';
import { openEngine, type EngineHandle } from '../src/engine.js';
import { realModules } from '../src/enrichment/modules/index.js';
import { EnrichmentRegistry } from '../src/enrichment/registry.js';
import { Processor } from '../src/processor/processor.js';
import { enqueueJob } from '../src/queue/enqueue.js';
import { typesForTableType, type TableType } from '../src/queue/plan.js';
import { createServices } from '../src/services.js';
import { planSimulation, writeSimulations, type SimulationPlan } from '../src/simulator/simulate.js';
import { fakeSnowflakeConfig, silentLog, tempDir } from '../test/support/embedded.js';
import { FakeSnowflake, type ReceivedStatement } from '../test/support/fake-snowflake.js';
import { replaySeedDesign, SEED_ROWS_TABLE_DDL } from './seed-design.js';

export const CATEGORIES = ['claim', 'reads', 'writes', 'lease', 'other'] as const;
export type Category = (typeof CATEGORIES)[number];
export type CategoryCounts = Record<Category, number>;

export interface Scenario {
  name: string;
  /** Table types of the tests, one job each (HYBRID/UNISTORE: 5 types, the others: 3). */
  tableTypes: readonly TableType[];
}

export interface Measurement {
  side: 'ours' | 'seed';
  jobs: number;
  /** Enrichment types the jobs ran (5 per hybrid job, 3 per standard one). */
  types: number;
  /** Every HTTP request the fake received while the queue drained. */
  requests: number;
  byCategory: CategoryCounts;
  /** Of the writes: BEGIN/COMMIT/ROLLBACK requests. */
  transactionControl: number;
  /** Non-query requests by path (logins, telemetry, ...), and statements no registered name matched. */
  otherDetail: Record<string, number>;
  /** The adapter's own counters over the same interval (ours: round trips it sent = query requests). */
  adapterRoundTrips: number;
  /** Query requests the fake recorded (cross-check of adapterRoundTrips). */
  queryRequests: number;
  /** Single-job runs only: requests per type, in run order, by category (the job's start and claim apart). */
  perType?: Array<{ segment: string; byCategory: CategoryCounts; total: number }>;
  /** Every query request in arrival order: session, category, registered name (or the text's start). */
  sequence: string[];
  completed: number;
  seconds: number;
}

const PASSWORD = 'round-trips-bench';
/** When the simulated tests ran: in the past, so every simulated view row is already visible (real time). */
const SIMULATED_AT = new Date('2025-11-20T12:00:00.000Z');
/** The processor's clock: 6 hours later, past every view's latency and the hourly credit window's close. */
const PROCESSED_AT = new Date(SIMULATED_AT.getTime() + 6 * 3_600_000);
/** Rows per type the seed's replay inserts (its INSERT is one statement whatever the count). */
const SEED_ROWS_PER_TYPE = 5;
const QUERY_REQUEST = 'POST /queries/v1/query-request';

export function typesOf(scenario: Scenario): number {
  return scenario.tableTypes.reduce((sum, tableType) => sum + typesForTableType(tableType).length, 0);
}

/**
 * Small FlakeBench tests (1 minute, 2 sessions, the simulator's default rates and lock contention). No other
 * account traffic: the dense views catch up on the test's own last queries, and background rows would only
 * make the seeding slow (the reads' round trips do not depend on how many rows they return).
 */
function plans(scenario: Scenario): SimulationPlan[] {
  return scenario.tableTypes.map((tableType, i) =>
    planSimulation(
      { tableType, seed: i + 1, durationMinutes: 1, warmupMinutes: 0, sessions: 2, background: false, endedMinutesAgo: 5 + i, idSalt: `round-trips-${scenario.name}-${i}` },
      SIMULATED_AT,
      1,
    ),
  );
}

interface Account {
  fake: FakeSnowflake;
  engine: EngineHandle;
  services: ReturnType<typeof createServices>;
  close(): Promise<void>;
}

/** A fresh fake account with the scenario's tests written and enqueued through the driver. */
async function preparedAccount(scenario: Scenario, env: Record<string, string>): Promise<Account> {
  const fake = await FakeSnowflake.start({ password: PASSWORD });
  const dir = tempDir('fbde-round-trips-');
  let engine: EngineHandle | undefined;
  try {
    await fake.createFlakeBenchTables();
    await fake.createAccountUsageViews();
    const config = fakeSnowflakeConfig(fake.url, dir.path, PASSWORD, { LATENCY_SCALE: '1', ...env });
    engine = await openEngine(config, silentLog);
    const clock = new ManualClock(PROCESSED_AT);
    await migrate(engine.warehouse, { clock, log: { info: () => undefined, warn: () => undefined } });
    const backing = await fake.backingConnection();
    const simulated = plans(scenario);
    try {
      for (let i = 0; i < simulated.length; i += 50) await writeSimulations(backing, simulated.slice(i, i + 50));
    } finally {
      await backing.close();
    }
    const services = createServices({ config, clock, log: silentLog, engine });
    for (const plan of simulated) {
      const test = plan.workload.tests[0]!;
      await enqueueJob(services, {
        test_id: test.testId,
        run_id: plan.workload.runId,
        table_type: plan.workload.tableType,
        test_end_time: new Date(test.end),
        test_start_time: new Date(test.start),
      });
    }
    const opened = engine;
    return {
      fake,
      engine: opened,
      services,
      async close() {
        await opened.close();
        await fake.stop();
        dir.remove();
      },
    };
  } catch (error) {
    await engine?.close();
    await fake.stop();
    dir.remove();
    throw error;
  }
}

/** Registered statement texts → names (whitespace-normalised; builders match by their longest common prefix). */
function statementNames(): { exact: Map<string, string>; all: Array<{ name: string; text: string }> } {
  const all = registeredStatements().map((statement) => ({ name: statement.name, text: normalised(statement.text) }));
  return { exact: new Map(all.map((statement) => [statement.text, statement.name])), all };
}

function normalised(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** A registered name for a statement text: exact, or the registered text sharing the longest prefix (≥ 60 characters). */
function nameOf(text: string, names: ReturnType<typeof statementNames>): string | undefined {
  const sent = normalised(text);
  const exact = names.exact.get(sent);
  if (exact !== undefined) return exact;
  let best: { name: string; length: number } | undefined;
  for (const candidate of names.all) {
    let length = 0;
    while (length < sent.length && length < candidate.text.length && sent[length] === candidate.text[length]) length += 1;
    if (length >= 60 && (best === undefined || length > best.length)) best = { name: candidate.name, length };
  }
  return best?.name;
}

// The bare statements only: a Snowflake Scripting block also starts with BEGIN.
const TRANSACTION_START = /^\s*(BEGIN|START)(\s+(TRANSACTION|WORK))?\s*;?\s*$/i;
const TRANSACTION_END = /^\s*(COMMIT|ROLLBACK)(\s+WORK)?\s*;?\s*$/i;

// A request that carries several statements at once (a stored or inline procedure, a Snowflake Scripting
// block): a write, whatever its registered name (issue 10's one-request transactions).
const CARRIER = /^\s*(CALL\b|EXECUTE\s+IMMEDIATE\b|BEGIN\b[\s\S]*\bEND\b|WITH\b[\s\S]*\bAS\s+PROCEDURE\b)/i;

/** Category of a statement outside a transaction, for our processor (by its registered name). */
function ourCategory(name: string | undefined, text: string): Category {
  if (name?.startsWith('queue.claim.')) return 'claim';
  if (name === 'processor.job.renew_lease') return 'lease';
  if (CARRIER.test(text)) return 'writes';
  if (name === undefined) return 'other';
  if (name.startsWith('enrichment.') && /^\s*(SELECT|WITH)\b/i.test(text)) return 'reads';
  if (/^\s*(INSERT|UPDATE|DELETE|MERGE)\b/i.test(text) && !name.startsWith('queue.')) return 'writes';
  return 'other';
}

/** Category of one of the seed replay's statements (bench/seed-design.ts: poll and claim, view read, writes). */
function seedCategory(text: string): Category {
  if (/^\s*SELECT\b[\s\S]*\bFROM DELAYED_ENRICHMENT_QUEUE\b/i.test(text) || /CLAIMED_BY = 'seed'/.test(text)) return 'claim';
  if (/^\s*SELECT\b/i.test(text)) return 'reads';
  if (/^\s*(INSERT|UPDATE|DELETE)\b/i.test(text)) return 'writes';
  return 'other';
}

export function emptyCounts(): CategoryCounts {
  return { claim: 0, reads: 0, writes: 0, lease: 0, other: 0 };
}

interface Classified {
  statement: ReceivedStatement;
  name: string | undefined;
  category: Category;
  /** BEGIN/COMMIT/ROLLBACK. */
  control: boolean;
  /** Index of the transaction (per session, BEGIN to COMMIT) the statement belongs to, if any. */
  transaction: number | undefined;
}

/**
 * Classifies the statements in arrival order. A transaction (BEGIN … COMMIT on one session) counts as a whole
 * in the category of what it holds: the claim's if it claims, else writes; statements outside one by name.
 */
function classify(statements: readonly ReceivedStatement[], side: Measurement['side']): Classified[] {
  const names = statementNames();
  const open = new Map<number, number>();
  const members = new Map<number, Classified[]>();
  let transactions = 0;
  const classified = statements.map((statement): Classified => {
    const text = statement.sqlText;
    const name = side === 'ours' ? nameOf(text, names) : undefined;
    const category = side === 'ours' ? ourCategory(name, text) : seedCategory(text);
    let transaction = open.get(statement.sessionId);
    const control = TRANSACTION_START.test(text) || TRANSACTION_END.test(text);
    if (TRANSACTION_START.test(text)) {
      transaction = transactions++;
      open.set(statement.sessionId, transaction);
    }
    const entry: Classified = { statement, name, category, control, transaction };
    if (transaction !== undefined) members.set(transaction, [...(members.get(transaction) ?? []), entry]);
    if (TRANSACTION_END.test(text)) open.delete(statement.sessionId);
    return entry;
  });
  for (const group of members.values()) {
    const category: Category = group.some((entry) => entry.category === 'claim') ? 'claim' : 'writes';
    for (const entry of group) entry.category = category;
  }
  return classified;
}

/**
 * Single job: query requests per type in run order. The job's reads and writes are sequential, and each type
 * ends with its write (a transaction, BEGIN to COMMIT, or one request that writes), so the reads and writes up
 * to and including each write are the type's; with one write more than types, the first is the job's start
 * batch. The claim and the requests that belong to no type (wake-up query, a new session's setup) have rows of
 * their own: they arrive concurrently with the job's, at no fixed place. Undefined when the writes do not line
 * up with the types (the processor's shape changed: the totals still stand, and --trace shows the sequence).
 */
function perTypeSegments(classified: readonly Classified[], types: readonly string[]): Measurement['perType'] {
  const unitOf = (entry: Classified, index: number) => (entry.transaction !== undefined ? `t${entry.transaction}` : `r${index}`);
  const lastOfUnit = new Map<string, number>();
  classified.forEach((entry, index) => {
    if (entry.category === 'writes') lastOfUnit.set(unitOf(entry, index), index);
  });
  const writes = lastOfUnit.size;
  const row = (segment: string) => ({ segment, byCategory: emptyCounts(), total: 0 });
  const claim = row('claim');
  const other = row('not per type (lease renewals, wake-up, session setup)');
  if (writes === 1) return coalescedSegments(classified, types, claim, other, row);
  if (writes !== types.length && writes !== types.length + 1) return undefined;
  const positional = [...(writes > types.length ? ['job start batch'] : []), ...types, 'after the last type'].map(row);
  const ends = new Set(lastOfUnit.values());
  let segment = 0;
  classified.forEach((entry, index) => {
    const target = entry.category === 'claim' ? claim : entry.category === 'other' || entry.category === 'lease' ? other : positional[segment]!;
    target.byCategory[entry.category] += 1;
    target.total += 1;
    if (ends.has(index)) segment += 1;
  });
  return [claim, ...positional.filter((r) => r.segment !== 'after the last type' || r.total > 0), other];
}

type Segment = NonNullable<Measurement['perType']>[number];

/**
 * The job's types written together (write coalescing, WRITE_COALESCE_SECONDS): one read per type in run order,
 * then the one write of the whole job. Undefined when the reads do not line up with the types.
 */
function coalescedSegments(classified: readonly Classified[], types: readonly string[], claim: Segment, other: Segment, row: (segment: string) => Segment): Measurement['perType'] {
  if (classified.filter((entry) => entry.category === 'reads').length !== types.length) return undefined;
  const positional = [...types, "the job's one write (every type)"].map(row);
  let segment = -1;
  for (const entry of classified) {
    if (entry.category === 'reads') segment += 1;
    const target = entry.category === 'claim' ? claim : entry.category === 'other' || entry.category === 'lease' ? other : entry.category === 'writes' ? positional.at(-1)! : positional[Math.max(0, segment)]!;
    target.byCategory[entry.category] += 1;
    target.total += 1;
  }
  return [claim, ...positional, other];
}

/** Drains the queue with our processor or the seed's replay and counts what the driver sent meanwhile. */
export async function measure(scenario: Scenario, side: Measurement['side'], env: Record<string, string> = {}): Promise<Measurement> {
  const account = await preparedAccount(scenario, env);
  try {
    const { fake, engine, services } = account;
    const warehouse = engine.warehouse;
    if (side === 'seed') await warehouse.execute(SEED_ROWS_TABLE_DDL);
    const requestsBefore = fake.requests.length;
    const statementsBefore = fake.statements.length;
    const adapterBefore = warehouse.counters.roundTrips;
    const started = performance.now();
    if (side === 'ours') {
      const processor = new Processor(services, { registry: new EnrichmentRegistry(realModules()) });
      await processor.poll();
      await processor.idle();
    } else {
      await replaySeedDesign(warehouse, services.clock.now(), SEED_ROWS_PER_TYPE);
    }
    const seconds = (performance.now() - started) / 1000;
    const requests = fake.requests.slice(requestsBefore);
    const statements = fake.statements.slice(statementsBefore);
    const adapterRoundTrips = warehouse.counters.roundTrips - adapterBefore;
    // Checked on the backing database, so the check itself sends nothing through the driver.
    const [status] = await fake.runDirect(`SELECT COUNT(*) AS N, COUNT_IF(STATUS = 'COMPLETED') AS DONE FROM DELAYED_ENRICHMENT_QUEUE`);
    const classified = classify(statements, side);
    const byCategory = emptyCounts();
    const otherDetail: Record<string, number> = {};
    for (const entry of classified) {
      byCategory[entry.category] += 1;
      if (entry.category === 'other') {
        const label = entry.name ?? `unregistered: ${normalised(entry.statement.sqlText).slice(0, 60)}`;
        otherDetail[label] = (otherDetail[label] ?? 0) + 1;
      }
    }
    for (const request of requests.filter((path) => path !== QUERY_REQUEST)) {
      byCategory.other += 1;
      otherDetail[request] = (otherDetail[request] ?? 0) + 1;
    }
    const measurement: Measurement = {
      side,
      jobs: Number(status!.N),
      types: typesOf(scenario),
      requests: requests.length,
      byCategory,
      transactionControl: classified.filter((entry) => entry.control).length,
      otherDetail,
      adapterRoundTrips,
      queryRequests: requests.filter((path) => path === QUERY_REQUEST).length,
      completed: Number(status!.DONE),
      seconds,
      sequence: classified.map(
        (entry) => `s${entry.statement.sessionId} ${entry.category.padEnd(6)} ${entry.name ?? normalised(entry.statement.sqlText).slice(0, 80)}`,
      ),
    };
    // Segments exist only for a job that ran every type (a broken run is reported by its completion count).
    if (side === 'ours' && scenario.tableTypes.length === 1 && measurement.completed === measurement.jobs) {
      measurement.perType = perTypeSegments(classified, typesForTableType(scenario.tableTypes[0]!));
    }
    return measurement;
  } finally {
    await account.close();
  }
}
