// Processor cost for a due backlog on DuckDB, per job and per type: port calls (what Snowflake sees as requests
// with the default write carrier, one request per transaction: db/write-carrier.ts), statements, and engine
// statements including BEGIN/COMMIT (the requests of SNOWFLAKE_WRITE_CARRIER=statements); jobs/s, peak RSS.
// The round trips of the real modules through the real driver are bench/round-trips.ts's.
// Baseline, in the same run on a fresh copy of the same backlog: the seed design's processor (section 5)
// replayed statement by statement with autocommit (bench/seed-design.ts): 3 + 3·T requests per job (+ one
// poll per 3 jobs), every statement its own round trip.
// Both sides write ROWS rows per type; ours as the real modules do (row-set statements, merged across a batch).
// Both sides read the "view" with one cheap query per type (ours folds readiness into the read, as the real dense
// modules do; the seed has no readiness check), and ours with --batch > 1 reads the jobs due together in one
// query (readMany, as the real modules), so the comparison is of the queue's own traffic.
// Run: npx tsx bench/processor.ts [--jobs 300] [--hybrid-share 0.5] [--concurrency 3] [--batch 25]
import { parseArgs } from 'node:util';
import { ManualClock } from '../src/clock.js';
import { ROW_FENCE_SQL, ROWS_FROM, textOf } from '../src/db/row-set.js';
import type { BindValue, Row, Statement, StatementOptions, TransactionScope, Warehouse, WriteGroup } from '../src/db/warehouse.js';
import { fencedInsert, fencedTestRow, fencedTestUpdate } from '../src/enrichment/modules/write-rows.js';
import { EnrichmentRegistry } from '../src/enrichment/registry.js';
import type { EnrichmentModule } from '../src/enrichment/types.js';
import { Processor } from '../src/processor/processor.js';
import { enqueueJob } from '../src/queue/enqueue.js';
import { ENRICHMENT_TYPES, SOURCE_VIEW_OF_TYPE, type EnrichmentType } from '../src/queue/plan.js';
import { openTestDatabase, type TestDatabase } from '../test/support/embedded.js';
import { insertTests, servicesFor } from '../test/support/processor-fixtures.js';
import { replaySeedDesign, SEED_ROWS_TABLE_DDL } from './seed-design.js';

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '300' },
    'hybrid-share': { type: 'string', default: '0.5' },
    concurrency: { type: 'string', default: '3' },
    batch: { type: 'string', default: '25' },
  },
});
const JOBS = Number(values.jobs);
const HYBRID_SHARE = Number(values['hybrid-share']);
const CONCURRENCY = values.concurrency!;
const BATCH = values.batch!;
const ROWS = 5;
const END = new Date('2026-01-15T08:00:00.000Z');

/** Counts port calls (requests) and the statements inside them. */
class CountingWarehouse implements Warehouse {
  requests = 0;
  statements = 0;
  constructor(private readonly inner: Warehouse) {}
  get engine() {
    return this.inner.engine;
  }
  get counters() {
    return this.inner.counters;
  }
  query<T extends Row = Row>(sql: string, binds?: readonly BindValue[], options?: StatementOptions) {
    this.requests += 1;
    this.statements += 1;
    return this.inner.query<T>(sql, binds, options);
  }
  execute(sql: string, binds?: readonly BindValue[], options?: StatementOptions) {
    this.requests += 1;
    this.statements += 1;
    return this.inner.execute(sql, binds, options);
  }
  transaction(statements: readonly Statement[], options?: StatementOptions) {
    this.requests += 1;
    this.statements += statements.length;
    return this.inner.transaction(statements, options);
  }
  writeGroups(groups: readonly WriteGroup[], options?: StatementOptions) {
    this.requests += 1;
    this.statements += groups.reduce((sum, group) => sum + group.statements.length, 0);
    return this.inner.writeGroups(groups, options);
  }
  withTransaction<T>(work: (scope: TransactionScope) => Promise<T>, options?: StatementOptions): Promise<T> {
    this.requests += 1;
    return this.inner.withTransaction(work, options);
  }
  close() {
    return this.inner.close();
  }
}

/** The type's previous rows of the test (the bench's table is keyed by test and type; the type is value c0). */
const deleteBenchRows = fencedTestRow(
  'bench.processor.delete_rows',
  `DELETE FROM BENCH_ROWS WHERE EXISTS (SELECT 1 FROM (
  SELECT ${textOf('test')} AS TEST_ID, ${textOf('c0')} AS T FROM ${ROWS_FROM} WHERE ${ROW_FENCE_SQL}) s
  WHERE s.TEST_ID = BENCH_ROWS.TEST_ID AND s.T = BENCH_ROWS.T)`,
);
const insertBenchRows = fencedInsert('BENCH_ROWS', [{ name: 'TEST_ID' }, { name: 'T' }, { name: 'N' }]);
const updateBenchCount = fencedTestUpdate('bench.processor.update_test', [{ name: 'QUERY_INSIGHTS_COUNT' }]);

/** A type that reads like a real one (a readiness query, a read query) and replaces ROWS rows. */
function benchModule(type: EnrichmentType): EnrichmentModule<number[], number[]> {
  return {
    type,
    view: SOURCE_VIEW_OF_TYPE[type],
    async read({ warehouse, job, signal }) {
      await warehouse.query('SELECT TEST_ID FROM TEST_RESULTS WHERE TEST_ID = ?', [job.testId], { signal });
      return Array.from({ length: ROWS }, (_, i) => i);
    },
    async readMany(contexts, { warehouse, signal }) {
      const ids = JSON.stringify(contexts.map((context) => context.job.testId));
      await warehouse.query(
        'SELECT TEST_ID FROM TEST_RESULTS WHERE TEST_ID IN (SELECT AS_VARCHAR(j.VALUE) FROM (SELECT PARSE_JSON(?) AS J) p, LATERAL FLATTEN(INPUT => p.J) j)',
        [ids],
        { signal },
      );
      return contexts.map(() => Array.from({ length: ROWS }, (_, i) => i));
    },
    transform: (rows) => rows,
    rowCount: (rows) => rows.length,
    // As the real modules write (enrichment/modules/write-rows.ts): row-set statements fenced per row, which the
    // batcher merges across the jobs of a batch.
    writeStatements(rows, job, fence) {
      return [
        deleteBenchRows(job, fence, [type]),
        ...insertBenchRows(rows.map((n) => [job.testId, type, n]), fence),
        updateBenchCount(job, fence, [rows.length]),
      ];
    },
  };
}

async function backlog(clock: ManualClock): Promise<{ db: TestDatabase; types: number }> {
  const db = await openTestDatabase(clock);
  await db.warehouse.execute(SEED_ROWS_TABLE_DDL);
  const hybrid = Math.round(JOBS * HYBRID_SHARE);
  const tests = Array.from({ length: JOBS }, (_, i) => ({ testId: `bench-${i}`, runId: 'r', tableType: i < hybrid ? 'HYBRID' : 'STANDARD' }));
  await insertTests(db.warehouse, tests);
  const services = servicesFor(db, clock);
  for (const test of tests) await enqueueJob(services, { test_id: test.testId, run_id: 'r', table_type: test.tableType, test_end_time: END });
  return { db, types: hybrid * 5 + (JOBS - hybrid) * 3 };
}

function peakRssMb(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

async function runOurs() {
  const clock = new ManualClock('2026-01-15T12:00:00.000Z');
  const { db, types } = await backlog(clock);
  const counting = new CountingWarehouse(await db.database.connect());
  const services = servicesFor(db, clock, { MAX_CONCURRENT_JOBS: CONCURRENCY, CLAIM_BATCH_SIZE: BATCH }, counting);
  const registry = new EnrichmentRegistry(ENRICHMENT_TYPES.map(benchModule) as EnrichmentModule[]);
  const processor = new Processor(services, { registry, warehouse: counting });
  const engineBefore = counting.counters.statements;
  const started = performance.now();
  await processor.poll();
  await processor.idle();
  const seconds = (performance.now() - started) / 1000;
  const [left] = await db.warehouse.query(`SELECT COUNT(*) AS N FROM DELAYED_ENRICHMENT_QUEUE WHERE STATUS <> 'COMPLETED'`);
  if (Number(left!.N) !== 0) throw new Error(`${String(left!.N)} jobs not completed`);
  // Every (test, type) written exactly once, so a fast figure cannot come from writes that did nothing.
  const [written] = await db.warehouse.query<{ N: number; K: number }>("SELECT COUNT(*) AS N, COUNT(DISTINCT TEST_ID || '/' || T) AS K FROM BENCH_ROWS");
  if (Number(written!.N) !== types * ROWS || Number(written!.K) !== types) {
    throw new Error(`BENCH_ROWS holds ${String(written!.N)} rows of ${String(written!.K)} (test, type) pairs, not ${types * ROWS} of ${types}`);
  }
  const result = { requests: counting.requests, statements: counting.statements, engine: counting.counters.statements - engineBefore, seconds, types };
  await db.close();
  return result;
}

/** The seed's processor, statement by statement (autocommit), on the same backlog. */
async function runSeed() {
  const clock = new ManualClock('2026-01-15T12:00:00.000Z');
  const { db, types } = await backlog(clock);
  const counting = new CountingWarehouse(await db.database.connect());
  const started = performance.now();
  await replaySeedDesign(counting, clock.now(), ROWS);
  const seconds = (performance.now() - started) / 1000;
  const result = { requests: counting.requests, statements: counting.statements, engine: counting.counters.statements, seconds, types };
  await db.close();
  return result;
}

const seed = await runSeed();
const ours = await runOurs();
const fmt = (n: number) => n.toFixed(2);
const row = (name: string, r: typeof ours) =>
  `| ${name} | ${fmt(r.requests / JOBS)} | ${fmt(r.requests / r.types)} | ${fmt(r.statements / JOBS)} | ${fmt(r.engine / JOBS)} | ${fmt(JOBS / r.seconds)} |`;
console.log(`backlog: ${JOBS} due jobs (${Math.round(JOBS * HYBRID_SHARE)} HYBRID × 5 types, the rest STANDARD × 3), ${ROWS} rows per type, MAX_CONCURRENT_JOBS=${CONCURRENCY}, CLAIM_BATCH_SIZE=${BATCH}`);
console.log('| processor | port calls/job (= Snowflake requests with one-request transactions) | port calls/type | statements/job | engine statements/job incl. BEGIN/COMMIT (= Snowflake requests with SNOWFLAKE_WRITE_CARRIER=statements) | jobs/s (DuckDB) |');
console.log('|---|---|---|---|---|---|');
console.log(row('seed design (baseline, same run)', seed));
console.log(row('this processor', ours));
console.log(
  `ratios ours/seed: port calls/job ${fmt(ours.requests / seed.requests)}, engine statements/job ${fmt(ours.engine / seed.engine)}, jobs/s ${fmt(seed.seconds / ours.seconds)}`,
);
console.log(`peak RSS of this process: ${peakRssMb()} MB`);
