// Every transaction the service sends takes its tables in the one lock order of src/db/lock-order.ts
// (queue → enrichment type tables → TEST_RESULTS → events). The flows run for real on the embedded engine
// (enqueue, forced re-enqueue, the processor with the five real enrichment modules over simulated
// ACCOUNT_USAGE, retry, cancel, purge) through a Warehouse that records each transaction's statements.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { lockOrderViolation, writtenTable } from '../src/db/lock-order.js';
import { realModules } from '../src/enrichment/modules/index.js';
import { EnrichmentRegistry } from '../src/enrichment/registry.js';
import { Processor } from '../src/processor/processor.js';
import { enqueueJob } from '../src/queue/enqueue.js';
import { cancelJob, purgeTestEnrichment, retryJob } from '../src/queue/operations.js';
import type { Services } from '../src/services.js';
import { simulate } from '../src/simulator/simulate.js';
import { VisibilityClock } from '../src/simulator/visibility.js';
import { openTestDatabase, type TestDatabase } from './support/embedded.js';
import { HookedWarehouse } from './support/hooked-warehouse.js';
import { controlledRegistry, createControlledTables, type Script } from './support/controlled-types.js';
import { insertTests, servicesFor } from './support/processor-fixtures.js';

const HOUR = 3_600_000;

function violations(transactions: readonly string[][]): string[] {
  return transactions.flatMap((statements) => {
    const why = lockOrderViolation(statements);
    return why === undefined ? [] : [`${why}\n    tables: ${statements.map((sql) => writtenTable(sql) ?? 'read').join(' → ')}`];
  });
}

describe('lock order', () => {
  let db: TestDatabase;
  let clock: ManualClock;
  let recorder: HookedWarehouse;
  let services: Services;
  beforeEach(async () => {
    clock = new ManualClock('2025-11-20T12:00:00Z');
    db = await openTestDatabase(clock);
    recorder = new HookedWarehouse(db.warehouse);
    services = servicesFor(db, clock, { LATENCY_SCALE: '1' }, recorder);
  });
  afterEach(async () => db.close());

  it('the check itself: a table first written after one ranked later is a violation, a re-write is not', () => {
    const queue = 'UPDATE DELAYED_ENRICHMENT_QUEUE SET STATUS = ? WHERE JOB_ID = ?';
    const test = 'UPDATE TEST_RESULTS SET DELAYED_ENRICHMENT_STATUS = ? WHERE TEST_ID = ?';
    const event = 'INSERT INTO ENRICHMENT_EVENTS (EVENT_TYPE) SELECT ?';
    const typeTable = 'DELETE FROM LOCK_CONTENTION_EVENTS WHERE TEST_ID = ?';
    // The enqueue order before this check existed: TEST_RESULTS, then the queue.
    expect(lockOrderViolation([test, 'INSERT INTO DELAYED_ENRICHMENT_QUEUE (JOB_ID) SELECT ?', test, event])).toMatch(
      /DELAYED_ENRICHMENT_QUEUE is first written after TEST_RESULTS/,
    );
    expect(lockOrderViolation([queue, event, test])).toMatch(/TEST_RESULTS is first written after ENRICHMENT_EVENTS/);
    expect(lockOrderViolation([queue, test, typeTable])).toMatch(/LOCK_CONTENTION_EVENTS is first written after TEST_RESULTS/);
    expect(lockOrderViolation([queue, typeTable, test, event, queue])).toBeUndefined();
    expect(lockOrderViolation(['SELECT 1', test])).toBeUndefined();
  });

  it('enqueue, the processor with the real modules, retry, cancel and purge all keep it', async () => {
    const sim = await simulate(db.warehouse, { tableType: 'HYBRID', seed: 7, durationMinutes: 5, sessions: 4, idSalt: 'lock-order' }, clock.now(), 1);
    const visibility = await VisibilityClock.bind(db.warehouse, clock);
    try {
      const testId = sim.tests[0]!.test_id;
      const request = { test_id: testId, run_id: sim.run_id, table_type: sim.table_type, test_end_time: sim.test_end_time, test_start_time: sim.test_start_time };
      const enqueued = await enqueueJob(services, request);
      expect(enqueued.created).toBe(true);
      clock.advance(4 * HOUR);
      await visibility.settled();
      const processor = new Processor(services, { registry: new EnrichmentRegistry(realModules()), warehouse: recorder });
      await processor.poll();
      await processor.idle();
      const [job] = await db.warehouse.query('SELECT STATUS FROM DELAYED_ENRICHMENT_QUEUE WHERE JOB_ID = ?', [enqueued.job_id]);
      expect(job?.STATUS).toBe('COMPLETED');
      // A completed job re-enqueued with force (delete + insert), then cancelled; and a purge.
      const forced = await enqueueJob(services, { ...request, force: true });
      expect(forced.created).toBe(true);
      await cancelJob(services, forced.job_id!);
      await purgeTestEnrichment(services, testId);
    } finally {
      visibility.stop();
    }
    const tables = new Set(recorder.transactions.flat().map(writtenTable));
    // The flows above wrote every kind of table the order names.
    for (const table of ['DELAYED_ENRICHMENT_QUEUE', 'TEST_RESULTS', 'ENRICHMENT_EVENTS', 'QUERY_EXECUTIONS', 'AGGREGATE_QUERY_METRICS', 'LOCK_CONTENTION_EVENTS', 'HYBRID_TABLE_CREDITS']) {
      expect(tables, table).toContain(table);
    }
    expect(recorder.transactions.length).toBeGreaterThanOrEqual(5);
    // The job's types were written together (write coalescing): one transaction first-writes several type tables.
    const typeTables = (statements: string[]) => new Set(statements.map(writtenTable).filter((table) => table !== undefined && !['DELAYED_ENRICHMENT_QUEUE', 'TEST_RESULTS', 'ENRICHMENT_EVENTS'].includes(table)));
    expect(Math.max(...recorder.transactions.map((statements) => typeTables(statements).size))).toBeGreaterThanOrEqual(3);
    expect(violations(recorder.transactions)).toEqual([]);
  }, 120_000);

  it('failures, not-ready types and a retry keep it too', async () => {
    await createControlledTables(db.warehouse);
    await insertTests(db.warehouse, [{ testId: 'lo-1', runId: 'r', tableType: 'HYBRID' }]);
    const enqueued = await enqueueJob(services, { test_id: 'lo-1', run_id: 'r', table_type: 'HYBRID', test_end_time: new Date('2025-11-20T11:00:00Z') });
    const script: Script = (_job, type) => (type === 'AGGREGATE' ? { kind: 'not_ready' } : type === 'LOCK_CONTENTION' ? { kind: 'permanent' } : { kind: 'succeed' });
    clock.advance(5 * HOUR);
    const processor = new Processor(services, { registry: controlledRegistry(script), warehouse: recorder });
    await processor.poll();
    await processor.idle();
    clock.advance(30 * HOUR);
    await processor.poll();
    await processor.idle();
    const [job] = await db.warehouse.query('SELECT STATUS FROM DELAYED_ENRICHMENT_QUEUE WHERE JOB_ID = ?', [enqueued.job_id]);
    expect(['COMPLETED', 'FAILED']).toContain(job?.STATUS);
    await retryJob(services, enqueued.job_id!);
    expect(violations(recorder.transactions)).toEqual([]);
  }, 60_000);
});
