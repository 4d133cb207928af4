// The real modules' writes merged across the jobs of a claim batch (enrichment/modules/write-rows.ts,
// processor/merge-groups.ts), on DuckDB: jobs due together write each step (a type table's DELETE and INSERT,
// the test's TEST_RESULTS columns) with one statement for all of them, and store exactly what the same jobs
// store one at a time (one job per claim and one claim at a time, so nothing merges), which is the oracle.
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import type { Row } from '../src/db/warehouse.js';
import { realModules } from '../src/enrichment/modules/index.js';
import { EnrichmentRegistry } from '../src/enrichment/registry.js';
import { Processor } from '../src/processor/processor.js';
import { enqueueJob } from '../src/queue/enqueue.js';
import { typesForTableType, type EnrichmentType, type TableType } from '../src/queue/plan.js';
import { simulate } from '../src/simulator/simulate.js';
import { openTestDatabase, type TestDatabase } from './support/embedded.js';
import { HookedWarehouse } from './support/hooked-warehouse.js';
import { servicesFor } from './support/processor-fixtures.js';

const HOUR = 3_600_000;
const START = new Date('2025-11-20T08:00:00Z');
const TABLE_TYPES: TableType[] = ['HYBRID', 'HYBRID', 'HYBRID', 'STANDARD', 'STANDARD', 'STANDARD'];

/** What a run stored, per table, without the random row ids. */
const SNAPSHOTS: Record<string, string> = {
  TEST_RESULTS: 'SELECT * FROM TEST_RESULTS ORDER BY TEST_ID',
  AGGREGATE_TEST_METRICS: 'SELECT * FROM AGGREGATE_TEST_METRICS ORDER BY TEST_ID',
  AGGREGATE_QUERY_METRICS: 'SELECT * EXCLUDE (METRIC_ID) FROM AGGREGATE_QUERY_METRICS ORDER BY TEST_ID, QUERY_PARAMETERIZED_HASH, QUERY_TAG',
  LOCK_CONTENTION_EVENTS: 'SELECT * EXCLUDE (EVENT_ID) FROM LOCK_CONTENTION_EVENTS ORDER BY TEST_ID, REQUESTED_AT, QUERY_ID',
  HYBRID_TABLE_CREDITS: 'SELECT * EXCLUDE (CREDIT_ID) FROM HYBRID_TABLE_CREDITS ORDER BY TEST_ID, START_TIME',
  QUERY_INSIGHTS_CACHE: 'SELECT * EXCLUDE (INSIGHT_ID) FROM QUERY_INSIGHTS_CACHE ORDER BY TEST_ID, QUERY_ID, INSIGHT_TYPE',
  QUERY_EXECUTIONS: 'SELECT * FROM QUERY_EXECUTIONS ORDER BY EXECUTION_ID',
};

const opened: TestDatabase[] = [];
afterEach(async () => {
  for (const db of opened.splice(0)) await db.close();
});

interface Run {
  stored: Record<string, Row[]>;
  statuses: string[];
  /** Statements sent per text prefix, over every write call of the run. */
  sent: (prefix: string) => number;
}

/** The same six simulated tests (ids and rows reproducible), enqueued and processed with the given settings. */
async function run(env: Record<string, string>): Promise<Run> {
  const clock = new ManualClock(START);
  const db = await openTestDatabase(clock);
  opened.push(db);
  const recording = new HookedWarehouse(db.warehouse);
  const services = servicesFor(db, clock, env, recording);
  for (const [index, tableType] of TABLE_TYPES.entries()) {
    const sim = await simulate(db.warehouse, { tableType, seed: 40 + index, durationMinutes: 3, sessions: 2, idSalt: `merged-module-writes-${index}` }, clock.now(), 1);
    await enqueueJob(services, { test_id: sim.tests[0]!.test_id, run_id: sim.run_id, table_type: tableType, test_end_time: sim.test_end_time, test_start_time: sim.test_start_time });
  }
  // Every view's latency has passed (the simulated view rows are visible on the system clock, long after START).
  clock.advance(5 * HOUR);
  const processor = new Processor(services, { registry: new EnrichmentRegistry(realModules()) });
  await processor.poll();
  await processor.idle();
  const stored: Record<string, Row[]> = {};
  for (const [table, text] of Object.entries(SNAPSHOTS)) stored[table] = await db.warehouse.query(text);
  const statuses = (await db.warehouse.query<{ STATUS: string }>('SELECT STATUS FROM DELAYED_ENRICHMENT_QUEUE ORDER BY JOB_ID')).map((row) => row.STATUS);
  const statements = recording.transactions.flat();
  return { stored, statuses, sent: (prefix) => statements.filter((text) => text.startsWith(prefix)).length };
}

describe('module writes merged across the jobs of a batch', () => {
  it('six jobs due together write the type tables with fewer statements than jobs and store what one job at a time stores', async () => {
    const alone = await run({ CLAIM_BATCH_SIZE: '1', MAX_CONCURRENT_JOBS: '1' });
    const together = await run({ CLAIM_BATCH_SIZE: '25' });
    expect(alone.statuses).toEqual(Array(TABLE_TYPES.length).fill('COMPLETED'));
    expect(together.statuses).toEqual(alone.statuses);

    // One at a time: one statement per job and step. Together: one per write call and step (a shape per
    // table type), however many jobs it carries. Jobs merge only when they reach a step in the same turn of
    // the event loop (statement-batcher.ts), and after the AGGREGATE transform (which yields) they may reach
    // the later steps apart, depending on the machine's timing: so each step sends at most one statement per
    // job, and the steps together send fewer than one per job (none merged: as many as alone).
    const jobsOf = (type: EnrichmentType) => TABLE_TYPES.filter((tableType) => typesForTableType(tableType).includes(type)).length;
    const steps: Array<[string, EnrichmentType]> = [
      ['INSERT INTO AGGREGATE_QUERY_METRICS', 'AGGREGATE'],
      ['UPDATE TEST_RESULTS\nSET THROTTLED_QUERY_COUNT', 'AGGREGATE'],
      ['DELETE FROM LOCK_CONTENTION_EVENTS', 'LOCK_CONTENTION'],
      ['INSERT INTO HYBRID_TABLE_CREDITS', 'HYBRID_CREDITS'],
      ['INSERT INTO QUERY_INSIGHTS_CACHE', 'QUERY_INSIGHTS'],
    ];
    for (const [prefix, type] of steps) {
      expect(jobsOf(type), type).toBeGreaterThanOrEqual(2);
      expect(alone.sent(prefix), prefix).toBe(jobsOf(type));
      expect(together.sent(prefix), prefix).toBeLessThanOrEqual(jobsOf(type));
    }
    const sentTogether = steps.reduce((sum, [prefix]) => sum + together.sent(prefix), 0);
    expect(sentTogether, 'statements of all steps together').toBeLessThan(steps.reduce((sum, [, type]) => sum + jobsOf(type), 0));

    // Rows were written, so the comparison says something.
    expect(alone.stored.AGGREGATE_QUERY_METRICS!.length).toBeGreaterThan(TABLE_TYPES.length);
    expect(alone.stored.HYBRID_TABLE_CREDITS!.length).toBeGreaterThan(0);
    for (const table of Object.keys(SNAPSHOTS)) expect(together.stored[table], table).toEqual(alone.stored[table]);
  });
});
