// readMany of the dense-view types (AGGREGATE, QUERY_HISTORY; issue 10, batches for a backlog): one statement for
// a batch of jobs that returns, per job, exactly what the job's own read returns. The single read is the oracle:
// the batch is compared with `read` of each job on the same data, through the view row check the processor
// puts in front of every read. The data is the simulator's (FlakeBench's rows and the ACCOUNT_USAGE views), with
// the cases a batch can get wrong: a run's parent (its prefixes cover its children, so a child's row matches
// several of them), overlapping windows, a test without rows, one whose view has not caught up while the others'
// has, warm-up rows, and tags that look alike (`test_id=12` and `test_id=123`). Run on the embedded engine and
// through the real snowflake-sdk against the fake endpoint.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { migrate } from '../src/db/migrations.js';
import { withQuery, type BindValue, type StatementOptions, type Warehouse } from '../src/db/warehouse.js';
import { aggregateModule, type AggregateSource } from '../src/enrichment/modules/aggregate.js';
import { queryHistoryModule, type QueryHistorySource } from '../src/enrichment/modules/query-history.js';
import { tagPrefixes } from '../src/enrichment/modules/scope.js';
import { ViewNotReady, type EnrichmentContext, type EnrichmentModule } from '../src/enrichment/types.js';
import { claimBatch } from '../src/queue/claim.js';
import { enqueueJob } from '../src/queue/enqueue.js';
import type { TableType } from '../src/queue/plan.js';
import { createServices, type Services } from '../src/services.js';
import { openEngine, type EngineHandle } from '../src/engine.js';
import { buildRows } from '../src/simulator/rows.js';
import { workloadParams, writeSimulations, type SimulationRequest } from '../src/simulator/simulate.js';
import { writeVisibilityNow } from '../src/simulator/visibility.js';
import { generateWorkload, type Workload } from '../src/simulator/workload.js';
import { checkedSourceWarehouse } from '../src/sources/row-check.js';
import { fakeSnowflakeConfig, silentLog, startTestService, tempDir } from './support/embedded.js';
import { FakeSnowflake } from './support/fake-snowflake.js';
import { insertTests } from './support/processor-fixtures.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** "Now" of both runs: the views show what became visible by then. */
const NOW = new Date('2025-11-20T12:00:00Z');
/** The tests that are caught up ended this long before NOW (AGGREGATE_QUERY_HISTORY's latency is 3 h). */
const EARLY = new Date(NOW.getTime() - 4 * HOUR);

/** A simulated workload whose tests carry the given ids (tags, QUERY_EXECUTIONS and look-alikes follow). */
function renamed(workload: Workload, ids: readonly string[]): Workload {
  const pairs = workload.tests.map((test, index) => [test.testId, ids[index] ?? test.testId] as const);
  const rename = (text: string) => pairs.reduce((acc, [from, to]) => acc.replaceAll(`test_id=${from}`, `test_id=${to}`), text);
  return {
    ...workload,
    tests: workload.tests.map((test, index) => ({ ...test, testId: pairs[index]![1], queryTagBase: rename(test.queryTagBase) })),
    executions: workload.executions.map((execution) => ({ ...execution, queryTag: execution.queryTag === null ? null : rename(execution.queryTag) })),
  };
}

function plan(request: SimulationRequest, at: Date, salt: string, ids: readonly string[] = []) {
  const workload = renamed(generateWorkload(workloadParams(request), at, salt), ids);
  return { workload, rows: buildRows(workload, { latencyScale: 1, jitter: 0, lateMinutes: {} }) };
}

interface Batch {
  /** Name → the job's context, in batch order. */
  names: string[];
  contexts: EnrichmentContext[];
  runId: string;
  children: string[];
}

/**
 * Writes the scenario with `setup` (a DuckDB connection to the data: the embedded file, or the fake's backing
 * database), enqueues every test and claims them through `services` (as the processor would: the claim
 * brings each job's run tags).
 */
async function prepareBatch(setup: Warehouse, services: Services): Promise<Batch> {
  const run = plan({ tableType: 'HYBRID', seed: 21, durationMinutes: 6, sessions: 3, workers: 3, ratePerSession: 1, tagForm: 'run_id' }, EARLY, 'read-many-run');
  // Overlapping windows: 123 ended 3 minutes before 12; each has its look-alike background tag (120, 1230).
  const twelve = plan({ tableType: 'HYBRID', seed: 22, durationMinutes: 6, sessions: 2, ratePerSession: 1 }, EARLY, 'read-many-12', ['12']);
  const twelveThree = plan({ tableType: 'HYBRID', seed: 23, durationMinutes: 6, sessions: 2, ratePerSession: 1, endedMinutesAgo: 3 }, EARLY, 'read-many-123', ['123']);
  // Ended at NOW: none of its rows is visible yet.
  const late = plan({ tableType: 'HYBRID', seed: 24, durationMinutes: 6, sessions: 2, ratePerSession: 1 }, NOW, 'read-many-late', ['late']);
  await writeSimulations(setup, [run, twelve, twelveThree, late]);

  const runId = run.workload.runId;
  const children = run.workload.tests.map((test) => test.testId);
  const first = run.workload.tests[0]!;
  // FlakeBench's parent row of a multi-worker run: TEST_ID = RUN_ID, no executions of its own.
  await insertTests(setup, [
    { testId: runId, runId, tableType: 'HYBRID', start: new Date(first.start), end: new Date(first.end) },
    { testId: 'quiet', tableType: 'STANDARD', start: new Date(EARLY.getTime() - 12 * MINUTE), end: new Date(EARLY.getTime() - 2 * MINUTE) },
  ]);
  // A query of 12 that QUERY_HISTORY has, recorded twice (FlakeBench's QUERY_EXECUTIONS has no key): TOTAL counts
  // both rows, MATCHED the query once.
  await setup.execute(
    `INSERT INTO QUERY_EXECUTIONS SELECT * REPLACE (EXECUTION_ID || '-again' AS EXECUTION_ID) FROM QUERY_EXECUTIONS
     WHERE TEST_ID = '12' AND QUERY_ID IN (SELECT QUERY_ID FROM SIMULATED_ACCOUNT_USAGE.QUERY_HISTORY) ORDER BY EXECUTION_ID LIMIT 1`,
  );
  // A straggler of 12's session 20 minutes after its end, outside its read window (which another job's reaches).
  await setup.execute(
    `INSERT INTO SIMULATED_ACCOUNT_USAGE.AGGREGATE_QUERY_HISTORY SELECT * REPLACE (INTERVAL_START_TIME + INTERVAL 20 MINUTE AS INTERVAL_START_TIME,
       INTERVAL_END_TIME + INTERVAL 20 MINUTE AS INTERVAL_END_TIME, VISIBLE_AT + INTERVAL 20 MINUTE AS VISIBLE_AT)
     FROM SIMULATED_ACCOUNT_USAGE.AGGREGATE_QUERY_HISTORY WHERE QUERY_TAG = 'flakebench:test_id=12:phase=RUNNING' ORDER BY INTERVAL_START_TIME DESC, SESSION_ID LIMIT 1`,
  );
  await writeVisibilityNow(setup, NOW);

  const tests: Array<{ name: string; testId: string; runId: string; tableType: TableType; start: Date; end: Date }> = [
    { name: 'parent', testId: runId, runId, tableType: 'HYBRID', start: new Date(first.start), end: new Date(first.end) },
    ...run.workload.tests.map((test, index) => ({ name: `child${index + 1}`, testId: test.testId, runId, tableType: 'HYBRID' as const, start: new Date(test.start), end: new Date(test.end) })),
    ...[twelve, twelveThree, late].map(({ workload }) => {
      const test = workload.tests[0]!;
      return { name: test.testId, testId: test.testId, runId: test.runId, tableType: 'HYBRID' as const, start: new Date(test.start), end: new Date(test.end) };
    }),
    { name: 'quiet', testId: 'quiet', runId: 'run-quiet', tableType: 'STANDARD', start: new Date(EARLY.getTime() - 12 * MINUTE), end: new Date(EARLY.getTime() - 2 * MINUTE) },
  ];
  for (const test of tests) {
    await enqueueJob(services, { test_id: test.testId, run_id: test.runId, table_type: test.tableType, test_start_time: test.start, test_end_time: test.end });
  }
  const claim = await claimBatch(services.warehouse, { now: new Date(NOW.getTime() + 3 * 24 * HOUR), leaseMs: HOUR, limit: 100, claimedBy: 'read-many-test' });
  expect(claim.jobs).toHaveLength(tests.length);
  const contexts = tests.map((test) => {
    const job = claim.jobs.find((candidate) => candidate.testId === test.testId && candidate.runId === test.runId);
    if (!job) throw new Error(`job of ${test.name} not claimed`);
    return { services, warehouse: services.warehouse, job, now: NOW, signal: new AbortController().signal, timeoutMs: 30_000 };
  });
  return { names: tests.map((test) => test.name), contexts, runId, children };
}

/** A warehouse that records every statement and the options it was sent with. */
function recording(warehouse: Warehouse): { warehouse: Warehouse; sent: Array<{ sql: string; options: StatementOptions | undefined }> } {
  const sent: Array<{ sql: string; options: StatementOptions | undefined }> = [];
  return {
    sent,
    warehouse: withQuery(warehouse, (sql: string, binds?: readonly BindValue[], options?: StatementOptions) => {
      sent.push({ sql, options });
      return warehouse.query(sql, binds, options);
    }),
  };
}

/** Row order is the engine's (neither read sorts): the same canonical order for both sides. */
const canonicalRows = (source: AggregateSource) => [...source.rows].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));

function canonical(module: EnrichmentModule, result: unknown): unknown {
  if (result instanceof ViewNotReady || module !== aggregateModule) return result;
  const source = result as AggregateSource;
  return { ...source, rows: canonicalRows(source) };
}

interface Compared {
  single: unknown[];
  many: unknown[];
  /** Statements the batch sent through its own warehouse, and through the jobs' (which it must not use). */
  batchStatements: number;
  contextStatements: number;
}

/** Each job's `read` (the oracle), then one `readMany` of all of them, both through the view row check. */
async function compare(module: EnrichmentModule, batch: Batch, warehouse: Warehouse, statementsAt?: () => number): Promise<Compared> {
  const checked = checkedSourceWarehouse(warehouse, module.view);
  const single: unknown[] = [];
  for (const context of batch.contexts) single.push(await module.read({ ...context, warehouse: checked }));

  const batchSide = recording(warehouse);
  const contextSide = recording(warehouse);
  const signal = new AbortController().signal;
  const before = statementsAt?.();
  const many = await module.readMany!(
    batch.contexts.map((context) => ({ ...context, warehouse: contextSide.warehouse })),
    { warehouse: checkedSourceWarehouse(batchSide.warehouse, module.view), signal, timeoutMs: 12_345 },
  );
  if (statementsAt) expect(statementsAt() - before!, 'requests the driver sent for the batch').toBe(1);
  for (const { options } of batchSide.sent) expect(options).toMatchObject({ signal, timeoutMs: 12_345 });
  expect(many).toHaveLength(batch.contexts.length);
  // First a summary per job (every job that differs shows in one message), then deep equality per job, and
  // after the same (pure) transform.
  const summary = (results: unknown[]) =>
    Object.fromEntries(
      results.map((result, index) => [
        batch.names[index],
        result instanceof ViewNotReady ? 'not ready' : module === aggregateModule ? `${(result as AggregateSource).rows.length} rows` : result,
      ]),
    );
  expect(summary(many)).toEqual(summary(single));
  for (const [index, context] of batch.contexts.entries()) {
    const name = batch.names[index]!;
    expect(canonical(module, many[index]), name).toEqual(canonical(module, single[index]));
    const one = single[index];
    if (!(one instanceof ViewNotReady)) {
      const sorted = (value: unknown) => (module === aggregateModule ? { ...(value as AggregateSource), rows: canonicalRows(value as AggregateSource) } : value);
      // The AGGREGATE transform is async (it yields while estimating): compare outputs, not promises.
      expect(await module.transform(sorted(many[index]), context.job), name).toEqual(await module.transform(sorted(one), context.job));
    }
  }
  return { single, many, batchStatements: batchSide.sent.length, contextStatements: contextSide.sent.length };
}

/** What the scenario must contain for the comparison to mean something (checked on the oracle's side). */
async function expectScenarioCovered(batch: Batch, aggregate: unknown[], history: unknown[], query: (sql: string, binds: BindValue[]) => Promise<Array<Record<string, unknown>>>) {
  const at = (name: string) => batch.names.indexOf(name);
  const rowsOf = (name: string) => (aggregate[at(name)] as AggregateSource).rows;
  // Not caught up while the others are.
  expect(aggregate[at('late')]).toBeInstanceOf(ViewNotReady);
  expect(history[at('late')]).toBeInstanceOf(ViewNotReady);
  for (const name of batch.names.filter((n) => n !== 'late')) {
    expect(aggregate[at(name)], name).not.toBeInstanceOf(ViewNotReady);
    expect(history[at(name)], name).not.toBeInstanceOf(ViewNotReady);
  }
  // A test without rows: nothing, though other tests' rows lie in its window.
  expect(rowsOf('quiet')).toEqual([]);
  expect(history[at('quiet')]).toMatchObject({ total: 0, matched: 0 });
  // The parent's rows hold its children's, each once, though a child's row matches two of the parent's
  // prefixes (`flakebench:run_id=R` and `flakebench:run_id=R:test_id=C`); the rest are the run's other tags
  // (the simulator's look-alike `...:test_id=<child>0`, which the run's own prefix covers).
  const children = batch.children.flatMap((_, index) => rowsOf(`child${index + 1}`));
  expect(children.length).toBeGreaterThan(0);
  const childTags = new Set(children.map((row) => row.QUERY_TAG));
  const parentsOfChildren = rowsOf('parent').filter((row) => childTags.has(row.QUERY_TAG));
  expect(canonicalRows({ rows: parentsOfChildren, readAt: NOW })).toEqual(canonicalRows({ rows: children, readAt: NOW }));
  expect(rowsOf('parent').every((row) => row.QUERY_TAG!.startsWith(`flakebench:run_id=${batch.runId}:test_id=`))).toBe(true);
  // 12's rows are its own; 123's rows (and the look-alike 120) lie in its window and start with its prefix.
  expect(rowsOf('12').length).toBeGreaterThan(0);
  expect(rowsOf('12').every((row) => row.QUERY_TAG!.startsWith('flakebench:test_id=12:phase='))).toBe(true);
  const [context12] = [batch.contexts[at('12')]!];
  const [lookAlikes] = await query(
    `SELECT COUNT(*) AS N FROM SNOWFLAKE.ACCOUNT_USAGE.AGGREGATE_QUERY_HISTORY WHERE STARTSWITH(QUERY_TAG, 'flakebench:test_id=12') AND NOT STARTSWITH(QUERY_TAG, 'flakebench:test_id=12:')
       AND INTERVAL_START_TIME >= CAST(? AS TIMESTAMP_NTZ) AND INTERVAL_START_TIME < CAST(? AS TIMESTAMP_NTZ)`,
    [new Date(context12.job.testStartTime!.getTime() - 5 * MINUTE), new Date(context12.job.testEndTime.getTime() + 5 * MINUTE)],
  );
  expect(Number(lookAlikes!.N)).toBeGreaterThan(0);
  const windowEnd12 = new Date(context12.job.testEndTime.getTime() + 5 * MINUTE);
  const [straggler] = await query(
    "SELECT COUNT(*) AS N FROM SNOWFLAKE.ACCOUNT_USAGE.AGGREGATE_QUERY_HISTORY WHERE QUERY_TAG = 'flakebench:test_id=12:phase=RUNNING' AND INTERVAL_START_TIME >= CAST(? AS TIMESTAMP_NTZ)",
    [windowEnd12],
  );
  expect(Number(straggler!.N)).toBe(1);
  expect(rowsOf('12').every((row) => row.INTERVAL_START_TIME.getTime() < windowEnd12.getTime())).toBe(true);
  // Warm-up rows are in the view with the tests' prefixes, and in no source.
  const [warmup] = await query("SELECT COUNT(*) AS N FROM SNOWFLAKE.ACCOUNT_USAGE.AGGREGATE_QUERY_HISTORY WHERE QUERY_TAG LIKE '%:phase=WARMUP'", []);
  expect(Number(warmup!.N)).toBeGreaterThan(0);
  for (const name of batch.names.filter((n) => n !== 'late')) expect(rowsOf(name).some((row) => row.QUERY_TAG?.includes('phase=WARMUP')), name).toBe(false);
  // Coverage: 12 counts its executions with a query id (the one recorded twice twice), matched at most distinct ones.
  const [executions] = await query("SELECT COUNT(*) AS N, COUNT(DISTINCT QUERY_ID) AS D FROM QUERY_EXECUTIONS WHERE TEST_ID = '12' AND QUERY_ID IS NOT NULL", []);
  expect(Number(executions!.N)).toBe(Number(executions!.D) + 1);
  expect(history[at('12')]).toMatchObject({ total: Number(executions!.N) });
  const matched12 = (history[at('12')] as QueryHistorySource).matched;
  expect(matched12).toBeGreaterThan(0);
  expect(matched12).toBeLessThanOrEqual(Number(executions!.D));
}

describe('readMany of the dense views on the embedded engine', () => {
  let service: Awaited<ReturnType<typeof startTestService>>;
  let batch: Batch;

  beforeAll(async () => {
    service = await startTestService({ clock: new ManualClock(NOW), env: { LATENCY_SCALE: '1' } });
    batch = await prepareBatch(service.services.warehouse, service.services);
  });
  afterAll(async () => service?.stop());

  it('AGGREGATE and QUERY_HISTORY: one statement for the batch, per job exactly what its own read returns', async () => {
    const aggregate = await compare(aggregateModule as EnrichmentModule, batch, service.services.warehouse);
    const history = await compare(queryHistoryModule as EnrichmentModule, batch, service.services.warehouse);
    for (const result of [aggregate, history]) {
      expect(result.batchStatements).toBe(1);
      expect(result.contextStatements).toBe(0);
    }
    await expectScenarioCovered(batch, aggregate.single, history.single, (sql, binds) => service.services.warehouse.query(sql, binds));
  });

  it('a batch whose jobs are all behind the view: every job ViewNotReady, as its own read says', async () => {
    const behind = { ...batch, names: ['late', 'late again'], contexts: [batch.contexts[batch.names.indexOf('late')]!, batch.contexts[batch.names.indexOf('late')]!] };
    for (const module of [aggregateModule, queryHistoryModule] as EnrichmentModule[]) {
      const result = await compare(module, behind, service.services.warehouse);
      expect(result.many.every((entry) => entry instanceof ViewNotReady)).toBe(true);
    }
  });

  it('the tag prefixes the batch reads are the jobs\' own (the claim brought them: no statement)', async () => {
    const parent = batch.contexts[batch.names.indexOf('parent')]!;
    const prefixes = await tagPrefixes(parent);
    expect(prefixes).toEqual(expect.arrayContaining([`flakebench:run_id=${batch.runId}`, ...batch.children.map((child) => `flakebench:run_id=${batch.runId}:test_id=${child}`)]));
  });
});

describe('readMany of the dense views through the Snowflake driver (fake endpoint)', () => {
  const PASSWORD = 'read-many-password';
  const dir = tempDir('fbde-read-many-');
  const originalCwd = process.cwd();
  let fake: FakeSnowflake;
  let engine: EngineHandle;
  let backing: Warehouse;
  let batch: Batch;

  beforeAll(async () => {
    // The driver writes snowflake.log into the working directory: run in a fresh one.
    process.chdir(dir.path);
    fake = await FakeSnowflake.start({ password: PASSWORD });
    await fake.createFlakeBenchTables();
    await fake.createAccountUsageViews();
    const config = fakeSnowflakeConfig(fake.url, dir.path, PASSWORD, { LATENCY_SCALE: '1', SNOWFLAKE_POOL_SIZE: '1' });
    engine = await openEngine(config, silentLog);
    const clock = new ManualClock(NOW);
    await migrate(engine.warehouse, { clock, log: { info: () => undefined, warn: () => undefined } });
    backing = await fake.backingConnection();
    batch = await prepareBatch(backing, createServices({ config, clock, log: silentLog, engine }));
  });
  afterAll(async () => {
    await backing?.close();
    await engine?.close();
    await fake?.stop();
    process.chdir(originalCwd);
    dir.remove();
  });

  it('AGGREGATE and QUERY_HISTORY: one request for the batch, per job what its own read returns through the driver', async () => {
    expect(engine.engine).toBe('snowflake');
    const requests = () => fake.statements.length;
    const aggregate = await compare(aggregateModule as EnrichmentModule, batch, engine.warehouse, requests);
    const history = await compare(queryHistoryModule as EnrichmentModule, batch, engine.warehouse, requests);
    const sent = fake.statements.map((statement) => statement.sqlText);
    expect(sent.some((text) => text.includes('LATERAL FLATTEN(INPUT => bp.J) bj'))).toBe(true);
    await expectScenarioCovered(batch, aggregate.single, history.single, (sql, binds) => fake.runDirect(sql, binds));
  });
});
