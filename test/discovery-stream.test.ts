// Discovery fed by a stream on TEST_RESULTS (AUTO_ENQUEUE_SOURCE=stream, issue 8 item 7's opt-in): through the
// real snowflake-sdk against the fake endpoint, whose FlakeBench tables have exactly the real columns and
// whose streams behave as documented (support/fake-streams.ts). FlakeBench's rows are written straight into
// the account (no API call). Each test runs on its own fake account.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { ConfigError, type Config } from '../src/config.js';
import { registeredStatements } from '../src/db/sql-registry.js';
import type { Warehouse } from '../src/db/warehouse.js';
import { Processor } from '../src/processor/processor.js';
import { DISCOVERY_STREAM } from '../src/queue/discovery-stream.js';
import { enqueueJob } from '../src/queue/enqueue.js';
import { startService, type RunningService } from '../src/service.js';
import { simulate } from '../src/simulator/simulate.js';
import { fakeSnowflakeConfig, migrateAccount, processDueJobs, silentLog, tempDir, testConfig } from './support/embedded.js';
import { FakeSnowflake } from './support/fake-snowflake.js';
import { INSERT_FLAKEBENCH_TEST_ROW, flakeBenchTestRowBinds, type FlakeBenchTestRow } from './support/flakebench-rows.js';

const PASSWORD = 'service-user-password';
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** A registered statement's text by name (what the service sends). */
const statementText = (name: string) => {
  const found = registeredStatements().find((statement) => statement.name === name);
  if (!found) throw new Error(`no statement ${name}`);
  return found.text;
};

describe('discovery through a stream on TEST_RESULTS (Snowflake driver, fake endpoint)', () => {
  let fake: FakeSnowflake;
  let dir: ReturnType<typeof tempDir>;
  let backing: Warehouse;
  let clock: ManualClock;
  let service: RunningService | undefined;

  beforeEach(async () => {
    fake = await FakeSnowflake.start({ password: PASSWORD });
    await fake.createFlakeBenchTables();
    await fake.createAccountUsageViews();
    backing = await fake.backingConnection();
    dir = tempDir('fbde-stream-');
    clock = new ManualClock('2025-11-20T12:00:00Z');
    await migrateAccount(config(), clock);
  });
  afterEach(async () => {
    await service?.stop();
    service = undefined;
    await backing.close();
    await fake.stop();
    dir.remove();
  });

  function config(overrides: Record<string, string> = {}): Config {
    return fakeSnowflakeConfig(fake.url, dir.path, PASSWORD, { LATENCY_SCALE: '1', AUTO_ENQUEUE_SOURCE: 'stream', ...overrides });
  }

  /** The service (processor off: the test drives its own Processor) and a Processor on it. */
  async function start(overrides: Record<string, string> = {}): Promise<Processor> {
    service = await startService(config(overrides), silentLog, { clock });
    return new Processor(service.services);
  }

  /** FlakeBench writing a test's row into its table (not through this service). */
  const insertTestRow = (row: FlakeBenchTestRow) => fake.runDirect(INSERT_FLAKEBENCH_TEST_ROW, flakeBenchTestRowBinds(clock.now(), row));
  const jobTests = async () => (await fake.runDirect('SELECT TEST_ID FROM DELAYED_ENRICHMENT_QUEUE ORDER BY TEST_ID')).map((row) => String(row.TEST_ID));
  const inboxTests = async () =>
    (await fake.runDirect('SELECT TEST_ID FROM DELAYED_ENRICHMENT_DISCOVERY_INBOX ORDER BY TEST_ID')).map((row) => String(row.TEST_ID));
  /** The texts the driver sent while `work` ran. */
  async function sentDuring(work: () => Promise<unknown>): Promise<string[]> {
    const before = fake.statements.length;
    await work();
    return fake.statements.slice(before).map((statement) => statement.sqlText);
  }

  it('a finished test written straight into TEST_RESULTS is found through the stream and enriched to its truth', async () => {
    const processor = await start();
    // The first poll after a start creates the stream and scans once (what ended before the stream existed).
    const first = await sentDuring(() => processor.discover());
    expect(first).toContain(statementText('queue.discovery_stream.create'));
    expect(first).toContain(statementText('queue.discovery'));
    expect(await jobTests()).toEqual([]);

    // FlakeBench (the simulator standing in for it and for Snowflake's views) writes a finished test.
    const sim = await simulate(backing, { tableType: 'HYBRID', seed: 11, durationMinutes: 5, sessions: 2, idSalt: 'stream' }, clock.now(), 1);
    const testId = sim.tests[0]!.test_id;
    const second = await sentDuring(() => processor.discover());
    // Found through the stream: consumed into the inbox, never by the scan.
    expect(second[0]).toBe(statementText('queue.discovery_stream.check'));
    expect(second).toContain(statementText('queue.discovery_stream.consume'));
    expect(second).not.toContain(statementText('queue.discovery'));
    expect(await jobTests()).toEqual(sim.tests.map((test) => test.test_id).sort());
    expect(await inboxTests()).toEqual([]);

    clock.advance(4 * HOUR);
    await processDueJobs(service!);
    const [job] = await fake.runDirect('SELECT STATUS FROM DELAYED_ENRICHMENT_QUEUE WHERE TEST_ID = ?', [testId]);
    expect(job?.STATUS).toBe('COMPLETED');
    const [overall] = await fake.runDirect('SELECT QUERY_COUNT FROM AGGREGATE_TEST_METRICS WHERE TEST_ID = ?', [testId]);
    expect(Number(overall?.QUERY_COUNT)).toBe(sim.tests[0]!.truth.overall.query_count);
  });

  it('leaves running, POSTGRES, too old and first-pass-running rows alone; finds them when they change or their grace ends', async () => {
    const processor = await start();
    await processor.discover();
    await insertTestRow({ testId: 'found-finished', runId: 'found-finished', endedAgoMs: 5 * MINUTE });
    await insertTestRow({ testId: 'running', runId: 'running', status: 'RUNNING', endedAgoMs: null, enrichmentStatus: null });
    await insertTestRow({ testId: 'postgres', runId: 'postgres', tableType: 'POSTGRES', endedAgoMs: 5 * MINUTE });
    await insertTestRow({ testId: 'too-old', runId: 'too-old', endedAgoMs: 8 * DAY });
    await insertTestRow({ testId: 'first-pass-running', runId: 'first-pass-running', endedAgoMs: 5 * MINUTE, enrichmentStatus: 'PENDING' });
    await insertTestRow({ testId: 'no-pass-recent', runId: 'no-pass-recent', endedAgoMs: 10 * MINUTE, enrichmentStatus: null });

    await processor.discover();
    expect(await jobTests()).toEqual(['found-finished']);
    // Only the row that time alone makes eligible waits in the inbox; the others come back when they change.
    expect(await inboxTests()).toEqual(['no-pass-recent']);
    const untouched = await fake.runDirect('SELECT TEST_ID FROM TEST_RESULTS WHERE DELAYED_ENRICHMENT_STATUS IS NULL ORDER BY TEST_ID');
    expect(untouched.map((row) => String(row.TEST_ID))).toEqual(['first-pass-running', 'no-pass-recent', 'postgres', 'running', 'too-old']);

    // FlakeBench ends the running test and the first pass (UPDATEs, as it does): the stream brings both back.
    const end = new Date(clock.now().getTime() - MINUTE);
    await fake.runDirect("UPDATE TEST_RESULTS SET STATUS = 'COMPLETED', END_TIME = CAST(? AS TIMESTAMP_NTZ), ENRICHMENT_STATUS = 'COMPLETED' WHERE TEST_ID = 'running'", [end]);
    await fake.runDirect("UPDATE TEST_RESULTS SET ENRICHMENT_STATUS = 'COMPLETED' WHERE TEST_ID = 'first-pass-running'");
    await processor.discover();
    expect(await jobTests()).toEqual(['first-pass-running', 'found-finished', 'running']);

    // No row changes, the hour passes: the waiting row is found from the inbox.
    clock.advance(HOUR);
    await processor.discover();
    expect(await jobTests()).toEqual(['first-pass-running', 'found-finished', 'no-pass-recent', 'running']);
    expect(await inboxTests()).toEqual([]);
  });

  it('an idle hour sends only the stream check, and a job enqueued elsewhere still wakes the instance', async () => {
    const processor = await start();
    await processor.poll();
    await processor.discover();
    await processor.discover(); // settles what the first poll changed
    const check = statementText('queue.discovery_stream.check');
    const idleHour = await sentDuring(async () => {
      // The default schedules: the poll every 5 minutes, discovery at :07.
      for (let minute = 1; minute <= 60; minute += 1) {
        clock.advance(MINUTE);
        if (minute % 5 === 0) await processor.poll();
        if (minute === 7) await processor.discover();
        await processor.idle();
      }
    });
    expect(idleHour).toEqual([check]);
    expect(processor.knownNextDue).toBeNull();

    // Another instance enqueues a test (this processor is not told: it has no scheduler listening). Its row
    // is FlakeBench's, its first pass still running, so discovery itself does not enqueue it.
    await insertTestRow({ testId: 'elsewhere', runId: 'elsewhere', endedAgoMs: 47 * MINUTE, enrichmentStatus: 'PENDING' });
    await processor.discover();
    expect(await jobTests()).toEqual([]);
    const end = new Date(clock.now().getTime() - 47 * MINUTE);
    await enqueueJob(service!.services, { test_id: 'elsewhere', run_id: 'elsewhere', table_type: 'HYBRID', test_end_time: end });
    expect(processor.knownNextDue).toBeNull();
    const [due] = await fake.runDirect("SELECT MIN(NEXT_DUE_AT) AS D FROM DELAYED_ENRICHMENT_QUEUE WHERE STATUS = 'PENDING'");
    // The queue's token moved: the next discovery reads the wake-up and the processor knows the job's due time.
    const sent = await sentDuring(() => processor.discover());
    expect(sent[0]).toBe(check);
    expect(sent).toContain(statementText('queue.next_wake'));
    expect(processor.knownNextDue?.getTime()).toBe((due!.D as Date).getTime());
  });

  it('an error after the stream was consumed loses no test: the key waits in the inbox for the next poll', async () => {
    const processor = await start();
    await processor.discover();
    await insertTestRow({ testId: 'survivor', runId: 'survivor', endedAgoMs: 5 * MINUTE });
    // The read of the inbox fails after the consuming INSERT committed (the stream's offset has moved).
    fake.failNext(/GRACE_WAIT_FROM/, { code: '000604', message: 'SQL execution canceled', sqlState: '57014' });
    await expect(processor.discover()).rejects.toThrow(/canceled/);
    expect(await jobTests()).toEqual([]);
    expect(await inboxTests()).toEqual(['survivor']);
    const [stream] = await service!.services.warehouse.query(statementText('queue.discovery_stream.check'));
    expect(stream?.TESTS_CHANGED).toBe(false);

    await processor.discover();
    expect(await jobTests()).toEqual(['survivor']);
    expect(await inboxTests()).toEqual([]);
  });

  it('an enqueue that fails after the stream was consumed loses no test: its key stays until a later enqueue succeeds', async () => {
    const processor = await start();
    await processor.discover();
    await insertTestRow({ testId: 'retried', runId: 'retried', endedAgoMs: 5 * MINUTE });
    // The job's INSERT fails, not retryably (inside the write transaction), in the batch enqueue and again in the
    // single-test enqueue it falls back to; discovery logs it and goes on.
    for (let i = 0; i < 2; i += 1) fake.failNext(/^INSERT INTO DELAYED_ENRICHMENT_QUEUE/, { code: '100000', message: 'internal error', sqlState: 'XX000' });
    await processor.discover();
    expect(await jobTests()).toEqual([]);
    expect(await inboxTests()).toEqual(['retried']);
    // No row changes; the next poll looks at the inbox again.
    await processor.discover();
    expect(await jobTests()).toEqual(['retried']);
    expect(await inboxTests()).toEqual([]);
  });

  it('the fake stream follows the documentation: a SELECT or a rolled-back DML leaves the offset, a committed DML moves it', async () => {
    await start();
    const warehouse = service!.services.warehouse;
    await warehouse.execute(statementText('queue.discovery_stream.create'));
    const hasData = async () => (await warehouse.query(statementText('queue.discovery_stream.check')))[0]?.TESTS_CHANGED;
    expect(await hasData()).toBe(false);
    await insertTestRow({ testId: 'r1', runId: 'r1', status: 'RUNNING', endedAgoMs: null, enrichmentStatus: null });
    expect(await hasData()).toBe(true);
    // An update of a row inserted since the offset is still one INSERT record (net changes).
    await fake.runDirect("UPDATE TEST_RESULTS SET STATUS = 'COMPLETED' WHERE TEST_ID = 'r1'");
    const read = `SELECT TEST_ID, STATUS, METADATA$ACTION AS A, METADATA$ISUPDATE AS U FROM ${DISCOVERY_STREAM} ORDER BY A`;
    expect(await warehouse.query(read)).toEqual([{ TEST_ID: 'r1', STATUS: 'COMPLETED', A: 'INSERT', U: false }]);
    expect(await hasData()).toBe(true); // a query alone does not consume
    await expect(
      warehouse.withTransaction(async (scope) => {
        await scope.execute(statementText('queue.discovery_stream.consume'), [clock.now()]);
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect(await hasData()).toBe(true);
    expect(await inboxTests()).toEqual([]);
    await warehouse.execute(statementText('queue.discovery_stream.consume'), [clock.now()]);
    expect(await hasData()).toBe(false);
    expect(await inboxTests()).toEqual(['r1']);
    // An update of a row from before the offset: a DELETE and an INSERT record, both METADATA$ISUPDATE.
    await fake.runDirect("UPDATE TEST_RESULTS SET STATUS = 'FAILED' WHERE TEST_ID = 'r1'");
    expect(await warehouse.query(read)).toEqual([
      { TEST_ID: 'r1', STATUS: 'COMPLETED', A: 'DELETE', U: true },
      { TEST_ID: 'r1', STATUS: 'FAILED', A: 'INSERT', U: true },
    ]);
  });

  it('a role that may not create the stream stops the start with what is missing', async () => {
    fake.failNext(/CREATE STREAM/, { code: '003001', message: "SQL access control error:\nInsufficient privileges to operate on table 'TEST_RESULTS'", sqlState: '42501' });
    // A service that starts anyway is stopped again (not left running behind the test).
    const outcome = await startService(config({ ENRICHMENT_ENABLED: 'true' }), silentLog, { clock }).then(
      async (started) => started.stop(),
      (error: unknown) => error,
    );
    expect(outcome).toBeInstanceOf(Error);
    expect((outcome as Error).message).toMatch(
      /cannot create stream DELAYED_ENRICHMENT_TEST_RESULTS_CHANGES.*003001.*CREATE STREAM.*CHANGE_TRACKING = TRUE.*AUTO_ENQUEUE_SOURCE=scan/s,
    );
  });

  it("'scan' stays the default: no stream is created and the poll is the scan's one statement", async () => {
    expect(testConfig().autoEnqueueSource).toBe('scan');
    const processor = await start({ AUTO_ENQUEUE_SOURCE: '' });
    const sent = await sentDuring(() => processor.discover());
    expect(sent[0]).toBe(statementText('queue.discovery'));
    expect(sent.some((text) => text.includes(DISCOVERY_STREAM))).toBe(false);
  });

  it("refuses 'stream' on the embedded engine with a clear configuration error", () => {
    expect(() => testConfig({ AUTO_ENQUEUE_SOURCE: 'stream' })).toThrow(ConfigError);
    expect(() => testConfig({ AUTO_ENQUEUE_SOURCE: 'stream' })).toThrow(/AUTO_ENQUEUE_SOURCE: 'stream' needs Snowflake mode/);
    expect(() => testConfig({ AUTO_ENQUEUE_SOURCE: 'tail' })).toThrow(/AUTO_ENQUEUE_SOURCE: must be one of scan, stream/);
  });
});
