// Enrichment type modules whose behaviour the test controls (succeed, fail transiently, fail
// permanently, not ready, slow, hang). They go through the real processor like the real types will:
// readiness, read, pure transform, fenced delete+insert of the test's rows. Their rows go to two
// tables the tests create: TEST_TYPE_ROWS (replaced on every run: one set per type) and
// TEST_TYPE_WRITES (appended: one row per committed execution).
import type { Statement, Warehouse } from '../../src/db/warehouse.js';
import { NotApplicableError } from '../../src/enrichment/not-applicable.js';
import { EnrichmentRegistry } from '../../src/enrichment/registry.js';
import { PermanentEnrichmentError, type EnrichmentModule, type Fence } from '../../src/enrichment/types.js';
import type { QueueJob } from '../../src/queue/job-state.js';
import { ENRICHMENT_TYPES, SOURCE_VIEW_OF_TYPE, type EnrichmentType } from '../../src/queue/plan.js';

export type Behaviour =
  | { kind: 'succeed'; rows?: number }
  | { kind: 'transient' }
  | { kind: 'permanent' }
  | { kind: 'not_applicable' }
  | { kind: 'not_ready'; retryAt?: Date }
  | { kind: 'slow'; ms: number; rows?: number }
  | { kind: 'hang' }
  | { kind: 'gate'; until: Promise<void>; rows?: number }
  /** Reads and transforms fine; its INSERT then fails in the database (a value that does not cast). */
  | { kind: 'bad_write' };

export type Script = (job: QueueJob, type: EnrichmentType) => Behaviour;

export const ROWS_PER_TYPE = 3;

export async function createControlledTables(warehouse: Warehouse): Promise<void> {
  await warehouse.execute(
    'CREATE TABLE IF NOT EXISTS TEST_TYPE_ROWS (TEST_ID VARCHAR, RUN_ID VARCHAR, ENRICHMENT_TYPE VARCHAR, ROW_NO INTEGER, CLAIM_ID VARCHAR)',
  );
  await warehouse.execute('CREATE TABLE IF NOT EXISTS TEST_TYPE_WRITES (JOB_ID VARCHAR, ENRICHMENT_TYPE VARCHAR, CLAIM_ID VARCHAR)');
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(new Error('aborted'));
    }, { once: true });
  });
}

interface Source {
  rows: number;
}

/** `batched`: the module also has readMany (one call for the jobs due together), counted in `calls`. */
export interface BatchedReads {
  calls: number;
  jobs: number;
}

export function controlledModule(type: EnrichmentType, script: Script, batched?: BatchedReads): EnrichmentModule<Source, number[]> {
  const module: EnrichmentModule<Source, number[]> = {
    type,
    view: SOURCE_VIEW_OF_TYPE[type],
    async checkReady({ job }) {
      const behaviour = script(job, type);
      if (behaviour.kind === 'not_ready') {
        return { ready: false, reason: `${type} view has not caught up`, ...(behaviour.retryAt ? { retryAt: behaviour.retryAt } : {}) };
      }
      return { ready: true };
    },
    async read({ job, signal }) {
      const behaviour = script(job, type);
      switch (behaviour.kind) {
        case 'transient':
          throw new Error(`${type}: transient failure`);
        case 'permanent':
          throw new PermanentEnrichmentError(`${type}: insufficient privileges`);
        case 'not_applicable':
          throw new NotApplicableError(`${type}: nothing to enrich for this test`);
        case 'slow':
          await sleep(behaviour.ms, signal);
          return { rows: behaviour.rows ?? ROWS_PER_TYPE };
        case 'hang':
          await new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true }));
          return { rows: 0 };
        case 'gate':
          await behaviour.until;
          return { rows: behaviour.rows ?? ROWS_PER_TYPE };
        default:
          return { rows: behaviour.kind === 'succeed' ? (behaviour.rows ?? ROWS_PER_TYPE) : ROWS_PER_TYPE };
      }
    },
    transform(source) {
      return Array.from({ length: source.rows }, (_, index) => index + 1);
    },
    rowCount(output) {
      return output.length;
    },
    writeStatements(output: number[], job: QueueJob, fence: Fence) {
      const statements: Statement[] = [
        {
          sql: `DELETE FROM TEST_TYPE_ROWS WHERE TEST_ID = ? AND RUN_ID = ? AND ENRICHMENT_TYPE = ? AND ${fence.sql}`,
          binds: [job.testId, job.runId, type, ...fence.binds],
        },
        {
          sql: `INSERT INTO TEST_TYPE_WRITES (JOB_ID, ENRICHMENT_TYPE, CLAIM_ID) SELECT ?, ?, ? FROM (SELECT 1 AS ONE) AS ONE_ROW WHERE ${fence.sql}`,
          binds: [job.jobId, type, fence.binds[1], ...fence.binds],
        },
      ];
      if (type === 'QUERY_INSIGHTS') {
        // A summary column, as the real module writes one (the completion event reports it).
        statements.push({
          sql: `UPDATE TEST_RESULTS SET QUERY_INSIGHTS_COUNT = ? WHERE TEST_ID = ? AND RUN_ID = ? AND ${fence.sql}`,
          binds: [output.length, job.testId, job.runId, ...fence.binds],
        });
      }
      if (script(job, type).kind === 'bad_write') {
        statements.push({
          sql: `INSERT INTO TEST_TYPE_WRITES (JOB_ID, ENRICHMENT_TYPE, CLAIM_ID) SELECT ?, ?, CAST(? AS INTEGER) FROM (SELECT 1 AS ONE) AS ONE_ROW WHERE ${fence.sql}`,
          binds: [job.jobId, type, 'not a number', ...fence.binds],
        });
      }
      if (output.length > 0) {
        statements.push({
          sql: `INSERT INTO TEST_TYPE_ROWS (TEST_ID, RUN_ID, ENRICHMENT_TYPE, ROW_NO, CLAIM_ID)
SELECT ?, ?, ?, v.N, ? FROM (VALUES ${output.map(() => '(?)').join(', ')}) AS v(N) WHERE ${fence.sql}`,
          binds: [job.testId, job.runId, type, fence.binds[1], ...output, ...fence.binds],
        });
      }
      return statements;
    },
  };
  if (batched) {
    // Each job's answer is its own read's: the batch changes how many calls are made, not what they return.
    module.readMany = async (contexts) => {
      batched.calls += 1;
      batched.jobs += contexts.length;
      return Promise.all(contexts.map((context) => module.read(context)));
    };
  }
  return module;
}

export function controlledRegistry(script: Script, types: readonly EnrichmentType[] = ENRICHMENT_TYPES, batched?: BatchedReads): EnrichmentRegistry {
  return new EnrichmentRegistry(types.map((type) => controlledModule(type, script, batched)));
}

export const succeedAll: Script = () => ({ kind: 'succeed' });
