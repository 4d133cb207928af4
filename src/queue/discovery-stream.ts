// The discovery poll fed by a stream on TEST_RESULTS (AUTO_ENQUEUE_SOURCE=stream, Snowflake only): the opt-in
// alternative to the scan in discovery.ts for accounts that allow change tracking on FlakeBench's table.
//
// An idle poll is ONE statement that reads no table: SYSTEM$STREAM_HAS_DATA on the stream and
// SYSTEM$LAST_CHANGE_COMMIT_TIME on the queue. SYSTEM$STREAM_HAS_DATA "performs a diff on the table version
// metadata" and is meant to keep a suspended warehouse from being resumed when nothing changed
// (docs.snowflake.com/en/sql-reference/functions/system_stream_has_data); SYSTEM$LAST_CHANGE_COMMIT_TIME returns
// a token that differs whenever a DML changed the table (docs.snowflake.com/en/sql-reference/functions/
// system_last_change_commit_time). The scan's statement also tells the instance when to wake (other
// instances' due jobs and expiring leases, nextWakeSelect); that answer depends on the queue's rows only, so
// it is read again (one more statement) only when the queue's token moved. Whether either function runs
// without a warehouse outside a task's WHEN clause is not documented: estimated (both read only metadata).
//
// When the stream has data, its changed rows' keys are copied into DELAYED_ENRICHMENT_DISCOVERY_INBOX by one
// INSERT … SELECT: a stream's offset advances only when a DML statement that reads it commits, and querying it
// alone does not advance it, even in an explicit transaction (docs.snowflake.com/en/user-guide/streams-intro). The inbox's tests that pass the scan's own conditions (FINISHED_UNENQUEUED) are then enqueued
// through the usual path, and only then are the handled keys deleted: a crash or an error at any step leaves
// them in the inbox, and the next poll after a start looks at the inbox whatever the stream says.
//
// The stream is a standard one (not APPEND_ONLY): FlakeBench UPDATEs a test's row when it ends (STATUS,
// END_TIME, ENRICHMENT_STATUS), and a standard stream returns an update as a DELETE and an INSERT record
// with METADATA$ISUPDATE = TRUE, so the row's new state is an INSERT record either way; an append-only stream
// records inserts only (docs.snowflake.com/en/user-guide/streams-intro, "Types of streams", "Stream columns"). A key not yet eligible leaves the
// inbox unless only time can make it eligible: a row still running or a first pass still PENDING changes
// again when it ends, and the stream brings it back then; a row whose first pass never records a status
// (older FlakeBench) becomes eligible an hour after it ended without any change, so it stays until then.
//
// Not handled: a stream left unread longer than TEST_RESULTS's data retention goes stale and fails every read
// (an hourly SYSTEM$STREAM_HAS_DATA on an empty stream keeps it from going stale, per the function's page; a
// service stopped for that long is the case). Then DROP STREAM DELAYED_ENRICHMENT_TEST_RESULTS_CHANGES: the next
// start creates it again and scans TEST_RESULTS once.
import { sql } from '../db/sql-registry.js';
import { isWarehouseError, type Warehouse } from '../db/warehouse.js';
import { nextWakeTime } from './claim.js';
import {
  DISCOVERY_BATCH,
  FINISHED_UNENQUEUED,
  FIRST_PASS_GRACE_MS,
  FOUND_COLUMNS,
  TERMINAL_STATUS,
  discoverFinishedTests,
  discoveryWindow,
  finishedTestsOf,
  type FinishedTest,
} from './discovery.js';

/** The stream on FlakeBench's TEST_RESULTS, created next to it (the session's database and schema). */
export const DISCOVERY_STREAM = 'DELAYED_ENRICHMENT_TEST_RESULTS_CHANGES';

/** IF NOT EXISTS: an existing stream keeps its offset (a restart must not skip the changes made meanwhile). */
const CREATE_STREAM = sql('queue.discovery_stream.create', `CREATE STREAM IF NOT EXISTS ${DISCOVERY_STREAM} ON TABLE TEST_RESULTS`);

// The stream's name is written into the text: it is a constant of this module, and the documentation shows
// the argument only as a quoted literal.
const CHECK = sql(
  'queue.discovery_stream.check',
  `SELECT SYSTEM$STREAM_HAS_DATA('${DISCOVERY_STREAM}') AS TESTS_CHANGED, SYSTEM$LAST_CHANGE_COMMIT_TIME('DELAYED_ENRICHMENT_QUEUE') AS QUEUE_VERSION`,
);

/**
 * Consumes the stream: the keys of rows inserted or updated since the offset, unless they are already waiting
 * or already have a job or a delayed status (the service's own writes to TEST_RESULTS are consumed and dropped
 * here). Reading the stream in this INSERT advances its offset when it commits, also when no row qualifies.
 * Binds: [now].
 */
const CONSUME = sql(
  'queue.discovery_stream.consume',
  `INSERT INTO DELAYED_ENRICHMENT_DISCOVERY_INBOX (TEST_ID, RUN_ID, NOTED_AT)
SELECT DISTINCT s.TEST_ID, s.RUN_ID, CAST(? AS TIMESTAMP_NTZ)
FROM ${DISCOVERY_STREAM} s
LEFT JOIN DELAYED_ENRICHMENT_DISCOVERY_INBOX i ON i.TEST_ID = s.TEST_ID AND i.RUN_ID = s.RUN_ID
LEFT JOIN DELAYED_ENRICHMENT_QUEUE q ON q.TEST_ID = s.TEST_ID AND q.RUN_ID = s.RUN_ID
WHERE s.METADATA$ACTION = 'INSERT' AND s.TEST_ID IS NOT NULL AND s.RUN_ID IS NOT NULL AND s.DELAYED_ENRICHMENT_STATUS IS NULL
  AND i.TEST_ID IS NULL AND q.JOB_ID IS NULL`,
);

const IN_INBOX = `EXISTS (SELECT 1 FROM DELAYED_ENRICHMENT_DISCOVERY_INBOX i WHERE i.TEST_ID = tr.TEST_ID AND i.RUN_ID = tr.RUN_ID)`;

/** Finished, its first pass unrecorded, within the grace: eligible by time alone (FINISHED_UNENQUEUED's grace). Binds: [graceEnd]. */
const WAITING_FOR_GRACE = `tr.END_TIME IS NOT NULL AND ${TERMINAL_STATUS} AND tr.ENRICHMENT_STATUS IS NULL
    AND tr.END_TIME >= CAST(? AS TIMESTAMP_NTZ) AND tr.DELAYED_ENRICHMENT_STATUS IS NULL`;

/**
 * The inbox's tests that the scan would find (oldest first, DISCOVERY_BATCH at most), and on every row the
 * earliest END_TIME of an inbox test that waits only for the first-pass grace. Binds: [graceEnd, lookBackStart, graceEnd].
 */
const READ_INBOX = sql(
  'queue.discovery_stream.read_inbox',
  `WITH waiting AS (
  SELECT MIN(tr.END_TIME) AS GRACE_WAIT_FROM FROM TEST_RESULTS tr
  WHERE ${IN_INBOX} AND ${WAITING_FOR_GRACE}
),
found AS (
  SELECT ${FOUND_COLUMNS}
  FROM TEST_RESULTS tr
  WHERE ${IN_INBOX} AND ${FINISHED_UNENQUEUED}
  ORDER BY tr.END_TIME, tr.TEST_ID
  LIMIT ${DISCOVERY_BATCH}
)
SELECT w.GRACE_WAIT_FROM, f.TEST_ID, f.RUN_ID, f.TABLE_TYPE, f.START_TIME, f.END_TIME
FROM waiting w LEFT JOIN found f ON 1 = 1
ORDER BY f.END_TIME, f.TEST_ID`,
);

/**
 * Removes the keys that are handled: the test has a job (enqueued now, or by anyone), or it is neither
 * eligible now nor waiting for the grace (gone, too old, POSTGRES, a run's parent, still running: a change
 * that makes it eligible comes through the stream again). An eligible key whose enqueue failed stays.
 * Binds: [lookBackStart, graceEnd, graceEnd].
 */
const CLEAR_HANDLED = sql(
  'queue.discovery_stream.clear_handled',
  `DELETE FROM DELAYED_ENRICHMENT_DISCOVERY_INBOX
WHERE EXISTS (SELECT 1 FROM DELAYED_ENRICHMENT_QUEUE q
    WHERE q.TEST_ID = DELAYED_ENRICHMENT_DISCOVERY_INBOX.TEST_ID AND q.RUN_ID = DELAYED_ENRICHMENT_DISCOVERY_INBOX.RUN_ID)
  OR NOT EXISTS (SELECT 1 FROM TEST_RESULTS tr
    WHERE tr.TEST_ID = DELAYED_ENRICHMENT_DISCOVERY_INBOX.TEST_ID AND tr.RUN_ID = DELAYED_ENRICHMENT_DISCOVERY_INBOX.RUN_ID
      AND ((${FINISHED_UNENQUEUED}) OR (${WAITING_FOR_GRACE})))`,
);

/** Thrown when the stream cannot be created: names what the role or the table lacks. */
export class DiscoveryStreamError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DiscoveryStreamError';
  }
}

export interface StreamDiscoveryResult {
  /** The queue's next wake-up, when it was read (undefined: the queue did not change, what is known holds). */
  wake?: Date | null;
}

/** Enqueues found tests; returns how many could not be enqueued (they are looked at again). */
export type EnqueueFound = (tests: readonly FinishedTest[]) => Promise<{ failed: number }>;

/** One instance's stream-fed discovery; what it remembers between polls is only a hint (a restart forgets it safely). */
export class StreamDiscovery {
  private streamReady = false;
  /** A scan of TEST_RESULTS is still owed: once per start, for what ended before the stream existed. */
  private scanOwed = true;
  /** The inbox may hold keys to look at now (at start: keys a crash left behind). */
  private inboxDue = true;
  /** When a key waiting for the first-pass grace becomes eligible. */
  private graceDueAt: Date | null = null;
  /** The queue's SYSTEM$LAST_CHANGE_COMMIT_TIME when its wake-up was last read. */
  private queueVersion: string | undefined;

  constructor(
    private readonly warehouse: Warehouse,
    private readonly options: { running: () => Iterable<string>; lookBackMs: number },
  ) {}

  /**
   * Creates the stream if it does not exist. The first stream on a table turns on change tracking, which only
   * the table's owner may do (docs.snowflake.com/en/user-guide/streams-manage); creating one needs CREATE
   * STREAM on the schema, and reading it SELECT on the table (docs.snowflake.com/en/sql-reference/sql/create-stream).
   */
  async ensureStream(): Promise<void> {
    if (this.streamReady) return;
    try {
      await this.warehouse.execute(CREATE_STREAM);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      const code = isWarehouseError(error) && error.code ? ` (Snowflake ${error.code})` : '';
      throw new DiscoveryStreamError(
        `AUTO_ENQUEUE_SOURCE=stream: cannot create stream ${DISCOVERY_STREAM} on TEST_RESULTS${code}: ${reason}. ` +
          "The service's role needs CREATE STREAM on the results schema and SELECT on TEST_RESULTS, and change tracking must be on for TEST_RESULTS: " +
          "its owner runs ALTER TABLE TEST_RESULTS SET CHANGE_TRACKING = TRUE (only the table's owner may turn it on). Or set AUTO_ENQUEUE_SOURCE=scan.",
        { cause: error },
      );
    }
    this.streamReady = true;
  }

  async discover(now: Date, enqueue: EnqueueFound): Promise<StreamDiscoveryResult> {
    await this.ensureStream();
    const [check] = await this.warehouse.query(CHECK);
    const [lookBackStart, graceEnd] = discoveryWindow(now, this.options.lookBackMs);
    if (check?.TESTS_CHANGED === true) {
      await this.warehouse.execute(CONSUME, [now]);
      this.inboxDue = true;
    }
    const version = String(check?.QUEUE_VERSION ?? '');
    const result: StreamDiscoveryResult = {};
    let scanned: FinishedTest[] = [];
    if (this.scanOwed) {
      // The scan's one statement: what ended before the stream existed, and the wake-up.
      const scan = await discoverFinishedTests(this.warehouse, { running: this.options.running(), now, autoEnqueue: true, lookBackMs: this.options.lookBackMs });
      scanned = scan.finished;
      result.wake = scan.wake;
    } else if (version !== this.queueVersion) {
      result.wake = await nextWakeTime(this.warehouse, this.options.running());
    }
    let failed = 0;
    if (this.inboxDue || (this.graceDueAt !== null && this.graceDueAt.getTime() <= now.getTime())) {
      const rows = await this.warehouse.query(READ_INBOX, [graceEnd, lookBackStart, graceEnd]);
      const waitingFrom = rows[0]?.GRACE_WAIT_FROM;
      this.graceDueAt = waitingFrom instanceof Date ? new Date(waitingFrom.getTime() + FIRST_PASS_GRACE_MS) : null;
      const inbox = finishedTestsOf(rows);
      const scannedKeys = new Set(scanned.map(testKey));
      ({ failed } = await enqueue([...scanned, ...inbox.filter((test) => !scannedKeys.has(testKey(test)))]));
      await this.warehouse.execute(CLEAR_HANDLED, [lookBackStart, graceEnd, graceEnd]);
      // Keys left eligible (an enqueue failed, or more than one batch) are looked at again at the next poll.
      this.inboxDue = failed > 0 || inbox.length >= DISCOVERY_BATCH;
    } else if (scanned.length > 0) {
      ({ failed } = await enqueue(scanned));
    }
    // The start-up scan is owed again while it may have left tests behind (a full batch, a failed enqueue).
    this.scanOwed = this.scanOwed && (scanned.length >= DISCOVERY_BATCH || failed > 0);
    this.queueVersion = version;
    return result;
  }
}

function testKey(test: FinishedTest): string {
  return `${test.testId}\u0000${test.runId}`;
}
