// Processor cost for a due backlog on DuckDB, per job and per type: port calls (what Snowflake sees as requests
// with the default write carrier, one request per transaction: db/write-carrier.ts), statements, and engine
// statements including BEGIN/COMMIT (the requests of SNOWFLAKE_WRITE_CARRIER=statements); jobs/s, peak RSS.
// The round trips of the real modules through the real driver are bench/round-trips.ts's.
// Baseline, in the same run on a fresh copy of the same backlog: the seed design's processor (section 5)
// replayed statement by statement with autocommit (bench/seed-design.ts): 3 + 3·T requests per job (+ one
// poll per 3 jobs), every statement its own round trip.
// Both sides read the "view" with one cheap query per type (ours folds readiness into the read, as the real dense
// modules do; the seed has no readiness check), and ours with --batch > 1 reads the jobs due together in one
// query (readMany, as the real modules), so the comparison is of the queue's own traffic.
// Run: npx tsx bench/processor.ts [--jobs 300] [--hybrid-share 0.5] [--concurrency 3] [--batch 25]
import { parseArgs } from 'node:util';
import { ManualClock } from '../src/clock.js';
import type { BindValue, Row, Statement, StatementOptions, TransactionScope, Warehouse, WriteGroup } from '../src/db/warehouse.js';
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
    writeStatements(rows, job, fence) {
      return [
        { sql: `DELETE FROM BENCH_ROWS WHERE TEST_ID = ? AND T = ? AND ${fence.sql}`, binds: [job.testId, type, ...fence.binds] },
        {
          sql: `INSERT INTO BENCH_ROWS (TEST_ID, T, N) SELECT ?, ?, v.N FROM (VALUES ${rows.map(() => '(?)').join(', ')}) AS v(N) WHERE ${fence.sql}`,
          binds: [job.testId, type, ...rows, ...fence.binds],
        },
        { sql: `UPDATE TEST_RESULTS SET QUERY_INSIGHTS_COUNT = ? WHERE TEST_ID = ? AND ${fence.sql}`, binds: [rows.length, job.testId, ...fence.binds] },
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
