// Contention through Snowflake's driver: separate service processes (test/support/processor-child.ts, the real
// src/server.ts main() in Snowflake mode) against one fake Snowflake endpoint on 127.0.0.1, racing one due backlog
// with the controlled types. Each process has its own driver sessions, so every claim, fence and write crosses
// the real snowflake-sdk and the write carrier (db/write-carrier.ts), as it would on an account with several
// service instances. The checks are contention.ts's: every type written exactly once, every job claimed once.
import { enqueueJob } from '../../src/queue/enqueue.js';
import { startChild, type RunningChild } from '../support/child-process.js';
import { createControlledTables, ROWS_PER_TYPE } from '../support/controlled-types.js';
import { tempDir } from '../support/embedded.js';
import { insertTests } from '../support/processor-fixtures.js';
import { openFakeAccount } from './fake-account.js';

const TYPES_PER_JOB = 3; // STANDARD tests
const COMPLETION_TIMEOUT_MS = 300_000;

export interface ServiceProcessRace {
  figure: string;
  problems: string[];
}

export async function raceServiceProcesses(jobs: number, processes: number): Promise<ServiceProcessRace> {
  const problems: string[] = [];
  const account = await openFakeAccount();
  const { fake } = account;
  const dirs = Array.from({ length: processes }, () => tempDir('fbde-contention-sf-'));
  const children: RunningChild[] = [];
  const started = Date.now();
  try {
    await createControlledTables(account.setup);
    const ids = Array.from({ length: jobs }, (_, i) => `contention-sf-${String(i).padStart(5, '0')}`);
    const end = new Date(Date.now() - 4 * 3_600_000);
    await insertTests(account.setup, ids.map((testId) => ({ testId, runId: 'r', start: new Date(end.getTime() - 600_000), end })));
    for (const testId of ids) await enqueueJob(account.services, { test_id: testId, run_id: 'r', table_type: 'STANDARD', test_end_time: end });

    // Batches on (statement-batcher.ts), small enough that the quick run's 30 jobs are shared by all three.
    const env = { ...account.serviceEnv, CHILD_TYPE_MS: '20', MAX_CONCURRENT_JOBS: '4', CLAIM_BATCH_SIZE: '3' };
    children.push(...(await Promise.all(dirs.map((dir) => startChild(dir.path, env)))));

    const open = async () =>
      Number((await fake.runDirect(`SELECT COUNT(*) AS N FROM DELAYED_ENRICHMENT_QUEUE WHERE STATUS <> 'COMPLETED'`))[0]!.N);
    const deadline = Date.now() + COMPLETION_TIMEOUT_MS;
    while ((await open()) > 0 && Date.now() < deadline && children.every((child) => child.process.exitCode === null)) {
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    for (const [index, child] of children.entries()) {
      if (child.process.exitCode !== null) problems.push(`service process ${index} exited with ${child.process.exitCode}: ${child.stderr().slice(-300)}`);
    }

    const notCompleted = await fake.runDirect(`SELECT TEST_ID, STATUS FROM DELAYED_ENRICHMENT_QUEUE WHERE STATUS <> 'COMPLETED'`);
    for (const row of notCompleted) problems.push(`test ${String(row.TEST_ID)}: ${String(row.STATUS)}, expected COMPLETED`);
    const writes = await fake.runDirect('SELECT JOB_ID, ENRICHMENT_TYPE, COUNT(*) AS N FROM TEST_TYPE_WRITES GROUP BY 1, 2 HAVING COUNT(*) <> 1');
    for (const row of writes) problems.push(`job ${String(row.JOB_ID)}: ${String(row.ENRICHMENT_TYPE)} written ${String(row.N)} times`);
    const [written] = await fake.runDirect('SELECT COUNT(DISTINCT JOB_ID || ENRICHMENT_TYPE) AS N FROM TEST_TYPE_WRITES');
    if (Number(written!.N) !== jobs * TYPES_PER_JOB) problems.push(`${String(written!.N)} (job, type) writes, expected ${jobs * TYPES_PER_JOB}`);
    const sets = await fake.runDirect('SELECT TEST_ID, ENRICHMENT_TYPE, COUNT(*) AS N FROM TEST_TYPE_ROWS GROUP BY 1, 2 HAVING COUNT(*) <> ?', [ROWS_PER_TYPE]);
    for (const row of sets) problems.push(`test ${String(row.TEST_ID)}: ${String(row.ENRICHMENT_TYPE)} has ${String(row.N)} rows, expected ${ROWS_PER_TYPE}`);
    const claims = await fake.runDirect(`SELECT JOB_ID, COUNT(*) AS N FROM ENRICHMENT_EVENTS WHERE EVENT_TYPE = 'job_claimed' GROUP BY JOB_ID HAVING COUNT(*) <> 1`);
    for (const row of claims) problems.push(`job ${String(row.JOB_ID)}: claimed ${String(row.N)} times`);
    // Each process really took part: its claims came through its own driver sessions.
    const claimers = await fake.runDirect('SELECT COUNT(DISTINCT CLAIMED_BY) AS N FROM DELAYED_ENRICHMENT_QUEUE');
    const distinct = Number(claimers[0]!.N);
    if (distinct < Math.min(processes, 2)) problems.push(`only ${distinct} of ${processes} service processes claimed jobs`);
    const calls = fake.statements.filter((statement) => statement.sqlText.startsWith('CALL DELAYED_ENRICHMENT_WRITE_GROUPS')).length;
    const seconds = (Date.now() - started) / 1000;
    return {
      figure: `${processes} service processes via the Snowflake driver and the fake endpoint, ${jobs} jobs × ${TYPES_PER_JOB} types, ${distinct} instances claimed, ${calls} carrier calls (enqueue and processing), ${seconds.toFixed(0)} s`,
      problems,
    };
  } finally {
    await Promise.all(
      children.map(async (child) => {
        if (child.process.exitCode === null) child.process.kill('SIGTERM');
        await child.exited;
      }),
    );
    await account.close();
    for (const dir of dirs) dir.remove();
  }
}
