// Contention, twice:
// 1. several processors, each on its own connection to one embedded database (DuckDB lets one process write a
//    file, so they share this process), race one due backlog with the controlled types of the processor tests
//    (test/support/controlled-types.ts: a fenced delete+insert per type, and one TEST_TYPE_WRITES row per
//    committed execution);
// 2. separate service processes in Snowflake mode against one fake Snowflake endpoint (contention-snowflake.ts).
// Every type must be written exactly once, every job claimed once and COMPLETED.
// Run: npx tsx test/reliability/contention.ts [--jobs 1000] [--processors 4] [--sf-jobs 300] [--sf-processes 3] [--quick]
import { parseArgs } from 'node:util';
import { ManualClock } from '../../src/clock.js';
import { Processor } from '../../src/processor/processor.js';
import { enqueueJob } from '../../src/queue/enqueue.js';
import { openTestDatabase } from '../support/embedded.js';
import { controlledRegistry, createControlledTables, ROWS_PER_TYPE, succeedAll } from '../support/controlled-types.js';
import { insertTests, servicesFor } from '../support/processor-fixtures.js';
import { report } from './backlog.js';
import { raceServiceProcesses } from './contention-snowflake.js';

const { values } = parseArgs({
  options: {
    jobs: { type: 'string' },
    processors: { type: 'string', default: '4' },
    'sf-jobs': { type: 'string' },
    'sf-processes': { type: 'string', default: '3' },
    quick: { type: 'boolean', default: false },
  },
});
const JOBS = Number(values.jobs ?? (values.quick ? 200 : 1000));
const PROCESSORS = Number(values.processors);
// Every write is a carrier CALL that the fake runs in a worker thread: fewer jobs than the embedded race.
const SF_JOBS = Number(values['sf-jobs'] ?? (values.quick ? 30 : 300));
const SF_PROCESSES = Number(values['sf-processes']);
const TYPES_PER_JOB = 3; // STANDARD tests
const END = new Date('2026-01-15T11:00:00.000Z');

const clock = new ManualClock('2026-01-15T11:00:00.000Z');
const db = await openTestDatabase(clock);
const problems: string[] = [];
let rounds = 0;
let claimedTotal = 0;
try {
  await createControlledTables(db.warehouse);
  const ids = Array.from({ length: JOBS }, (_, i) => `contention-${String(i).padStart(5, '0')}`);
  await insertTests(db.warehouse, ids.map((testId) => ({ testId, runId: 'r' })));
  const enqueuer = servicesFor(db, clock);
  for (const testId of ids) await enqueueJob(enqueuer, { test_id: testId, run_id: 'r', table_type: 'STANDARD', test_end_time: END });
  clock.advance(4 * 3_600_000);

  const processors = await Promise.all(
    Array.from({ length: PROCESSORS }, async (_, i) => {
      const warehouse = await db.database.connect();
      const services = servicesFor(db, clock, { MAX_CONCURRENT_JOBS: '8' }, warehouse);
      return new Processor(services, { registry: controlledRegistry(succeedAll), warehouse, claimedBy: `contention-${i}` });
    }),
  );
  const open = async () => Number((await db.warehouse.query(`SELECT COUNT(*) AS N FROM DELAYED_ENRICHMENT_QUEUE WHERE STATUS <> 'COMPLETED'`))[0]!.N);
  for (; rounds < 10 * JOBS && (await open()) > 0; rounds += 1) {
    await Promise.all(processors.map((processor) => processor.poll()));
    await Promise.all(processors.map((processor) => processor.idle()));
  }
  claimedTotal = processors.reduce((sum, processor) => sum + processor.stats.claimed, 0);

  const notCompleted = await db.warehouse.query(`SELECT TEST_ID, STATUS FROM DELAYED_ENRICHMENT_QUEUE WHERE STATUS <> 'COMPLETED'`);
  for (const row of notCompleted) problems.push(`test ${String(row.TEST_ID)}: ${String(row.STATUS)}, expected COMPLETED`);
  const writes = await db.warehouse.query('SELECT JOB_ID, ENRICHMENT_TYPE, COUNT(*) AS N FROM TEST_TYPE_WRITES GROUP BY 1, 2 HAVING COUNT(*) <> 1');
  for (const row of writes) problems.push(`job ${String(row.JOB_ID)}: ${String(row.ENRICHMENT_TYPE)} written ${String(row.N)} times`);
  const [written] = await db.warehouse.query('SELECT COUNT(DISTINCT JOB_ID || ENRICHMENT_TYPE) AS N FROM TEST_TYPE_WRITES');
  if (Number(written!.N) !== JOBS * TYPES_PER_JOB) problems.push(`${String(written!.N)} (job, type) writes, expected ${JOBS * TYPES_PER_JOB}`);
  const sets = await db.warehouse.query('SELECT TEST_ID, ENRICHMENT_TYPE, COUNT(*) AS N FROM TEST_TYPE_ROWS GROUP BY 1, 2 HAVING COUNT(*) <> ?', [ROWS_PER_TYPE]);
  for (const row of sets) problems.push(`test ${String(row.TEST_ID)}: ${String(row.ENRICHMENT_TYPE)} has ${String(row.N)} rows, expected ${ROWS_PER_TYPE}`);
  const claims = await db.warehouse.query(`SELECT JOB_ID, COUNT(*) AS N FROM ENRICHMENT_EVENTS WHERE EVENT_TYPE = 'job_claimed' GROUP BY JOB_ID HAVING COUNT(*) <> 1`);
  for (const row of claims) problems.push(`job ${String(row.JOB_ID)}: claimed ${String(row.N)} times`);
} catch (error) {
  problems.push((error as Error).message);
} finally {
  await db.close();
}
const embedded = `${PROCESSORS} processors on separate connections, ${JOBS} jobs × ${TYPES_PER_JOB} types, ${claimedTotal} claims in ${rounds} rounds`;
let snowflake = 'service processes against the fake Snowflake endpoint: not run';
try {
  const race = await raceServiceProcesses(SF_JOBS, SF_PROCESSES);
  snowflake = race.figure;
  problems.push(...race.problems.map((problem) => `Snowflake: ${problem}`));
} catch (error) {
  problems.push(`Snowflake: ${(error as Error).message}`);
}
report('contention', `${embedded}; ${snowflake}`, problems);
