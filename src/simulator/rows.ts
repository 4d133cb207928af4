// What FlakeBench writes (TEST_RESULTS, QUERY_EXECUTIONS) and what Snowflake later publishes in the five
// ACCOUNT_USAGE views about the same executions, as plain rows keyed by the documented column names,
// each view row with its VISIBLE_AT. Pure.
import { usageWindowMs } from '../queue/plan.js';
import type { SourceViewName } from '../sources/account-usage.js';
import { familyOf } from './patterns.js';
import { hashString, Random } from './random.js';
import { percentileCont, sortedCopy, statisticsObject } from './statistics.js';
import { visibleAt, type VisibilityOptions } from './visibility.js';
import type { Execution, SimulatedTest, Workload } from './workload.js';

export type SimRow = Record<string, unknown>;

export interface SimulatedRows {
  TEST_RESULTS: SimRow[];
  QUERY_EXECUTIONS: SimRow[];
  views: Record<SourceViewName, SimRow[]>;
  /** Hourly credit windows this simulation adds to HYBRID_TABLE_USAGE_HISTORY (merged with existing ones on write). */
  creditWindows: CreditWindow[];
}

export interface CreditWindow {
  start: number;
  end: number;
  credits: number;
  visibleAt: Date;
}

const HOUR = 3_600_000;
const MINUTE = 60_000;
/** Credits per hybrid request, and the account's own hourly baseline (other hybrid tables). */
const CREDITS_PER_REQUEST = 0.00002;
const BACKGROUND_CREDITS_PER_HOUR = 0.05;
const DATABASE_ID = 41;
const WAREHOUSE_ID = 7;
/** The warehouse size FlakeBench records in TEST_RESULTS.WAREHOUSE_SIZE (QUERY_HISTORY spells it 'Small'). */
const WAREHOUSE_SIZE = 'SMALL';
/**
 * TEST_RESULTS.STATUS of a test that ran to its end. FlakeBench's schema does not list its statuses; its
 * backend ends a finished test as COMPLETED (FAILED / CANCELLED otherwise, RUNNING while it runs).
 */
export const FINISHED_STATUS = 'COMPLETED';

export function buildRows(workload: Workload, visibility: VisibilityOptions): SimulatedRows {
  const random = new Random(`${workload.params.seed}:visibility`);
  const family = familyOf(workload.tableType);
  const TEST_RESULTS = workload.tests.map((test, index) => testResultsRow(workload, test, index));

  const QUERY_EXECUTIONS: SimRow[] = [];
  const QUERY_HISTORY: SimRow[] = [];
  const LOCK_WAIT_HISTORY: SimRow[] = [];
  const QUERY_INSIGHTS: SimRow[] = [];
  // The hybrid table's object id: stable per table name, like a real table's.
  const objectId = 100_000 + (hashString(workload.targetTable) % 900_000);
  let insightInstance = 0;
  for (const e of workload.executions) {
    const end = e.start + e.totalMs;
    if (e.test >= 0) QUERY_EXECUTIONS.push(queryExecutionRow(workload, e));
    if (family === 'postgres') continue;
    if (e.inQueryHistory) {
      QUERY_HISTORY.push({
        QUERY_ID: e.queryId,
        QUERY_TEXT: e.pattern.text,
        DATABASE_ID,
        DATABASE_NAME: workload.databaseName,
        SCHEMA_ID: 3,
        SCHEMA_NAME: workload.schemaName,
        QUERY_TYPE: e.error ? 'UNKNOWN' : e.pattern.queryType,
        SESSION_ID: e.sessionId,
        USER_NAME: 'FLAKEBENCH',
        ROLE_NAME: 'FLAKEBENCH_ROLE',
        WAREHOUSE_ID,
        WAREHOUSE_NAME: workload.warehouseName,
        WAREHOUSE_SIZE: 'Small',
        WAREHOUSE_TYPE: 'STANDARD',
        CLUSTER_NUMBER: 1,
        QUERY_TAG: e.queryTag,
        EXECUTION_STATUS: e.error ? 'FAIL' : 'SUCCESS',
        ERROR_CODE: e.error ? Number(e.error.code) : null,
        ERROR_MESSAGE: e.error?.message ?? null,
        START_TIME: new Date(e.start),
        END_TIME: new Date(end),
        TOTAL_ELAPSED_TIME: e.totalMs,
        BYTES_SCANNED: e.bytesScanned,
        PERCENTAGE_SCANNED_FROM_CACHE: e.cacheFraction,
        ROWS_PRODUCED: e.rowsProduced,
        PARTITIONS_SCANNED: e.partitionsScanned,
        PARTITIONS_TOTAL: e.partitionsTotal,
        BYTES_SPILLED_TO_LOCAL_STORAGE: e.spillLocal,
        BYTES_SPILLED_TO_REMOTE_STORAGE: e.spillRemote,
        COMPILATION_TIME: e.compileMs,
        EXECUTION_TIME: e.execMs,
        QUEUED_PROVISIONING_TIME: 0,
        QUEUED_REPAIR_TIME: 0,
        QUEUED_OVERLOAD_TIME: e.queuedOverloadMs,
        TRANSACTION_BLOCKED_TIME: e.blockedMs,
        TRANSACTION_ID: e.transactionId,
        QUERY_HASH: e.pattern.hash.split('').reverse().join(''),
        QUERY_HASH_VERSION: 2,
        QUERY_PARAMETERIZED_HASH: e.pattern.hash,
        QUERY_PARAMETERIZED_HASH_VERSION: 1,
        RELEASE_VERSION: '9.38.2',
        VISIBLE_AT: visibleAt('QUERY_HISTORY', end, visibility, random),
      });
    }
    if (e.lockWait) {
      const waitEnd = e.lockWait.requestedAt + e.blockedMs;
      for (const blocker of e.lockWait.blockers) {
        LOCK_WAIT_HISTORY.push({
          OBJECT_ID: objectId,
          OBJECT_NAME: 'ROW',
          SCHEMA_ID: 0,
          SCHEMA_NAME: null,
          DATABASE_ID,
          DATABASE_NAME: workload.databaseName,
          QUERY_ID: e.queryId,
          TRANSACTION_ID: e.transactionId,
          LOCK_TYPE: 'ROW',
          REQUESTED_AT: new Date(e.lockWait.requestedAt),
          ACQUIRED_AT: new Date(blocker.acquiredAt),
          BLOCKER_QUERIES: [{ is_snowflake: blocker.is_snowflake, query_id: blocker.query_id, transaction_id: blocker.transaction_id }],
          VISIBLE_AT: visibleAt('LOCK_WAIT_HISTORY', waitEnd, visibility, random),
        });
      }
    }
    if (e.insight) {
      insightInstance += 1;
      QUERY_INSIGHTS.push({
        START_TIME: new Date(e.start),
        END_TIME: new Date(end),
        TOTAL_ELAPSED_TIME: e.totalMs,
        QUERY_ID: e.queryId,
        QUERY_HASH: e.pattern.hash.split('').reverse().join(''),
        QUERY_PARAMETERIZED_HASH: e.pattern.hash,
        WAREHOUSE_ID: String(WAREHOUSE_ID),
        WAREHOUSE_NAME: workload.warehouseName,
        INSIGHT_INSTANCE_ID: insightInstance,
        INSIGHT_TYPE_ID: e.insight.type,
        MESSAGE: { summary: `${e.insight.type.replace('QUERY_INSIGHT_', '').toLowerCase().replaceAll('_', ' ')} in ${e.pattern.kind}`, bytes_spilled_remote: e.spillRemote },
        SUGGESTIONS: e.insight.type === 'QUERY_INSIGHT_SEARCH_OPTIMIZATION_USED' ? [] : [`Review ${e.pattern.kind} (${e.insight.topic.toLowerCase()})`],
        IS_OPPORTUNITY: !e.insight.type.endsWith('_USED'),
        INSIGHT_TOPIC: e.insight.topic,
        VISIBLE_AT: visibleAt('QUERY_INSIGHTS', end, visibility, random),
      });
    }
  }

  const AGGREGATE_QUERY_HISTORY = family === 'postgres' ? [] : aggregateRows(workload, visibility, random);
  const creditWindows = family === 'hybrid' ? creditWindowsOf(workload, visibility, random) : [];
  return {
    TEST_RESULTS,
    QUERY_EXECUTIONS,
    views: { QUERY_HISTORY, AGGREGATE_QUERY_HISTORY, LOCK_WAIT_HISTORY, HYBRID_TABLE_USAGE_HISTORY: [], QUERY_INSIGHTS },
    creditWindows,
  };
}

/** One row per (minute, hash, session, tag), statistics over exactly that row's executions. */
function aggregateRows(workload: Workload, visibility: VisibilityOptions, random: Random): SimRow[] {
  const groups = new Map<string, Execution[]>();
  for (const e of workload.executions) {
    const minute = Math.floor(e.start / MINUTE) * MINUTE;
    const key = `${minute}|${e.pattern.hash}|${e.sessionId}|${e.queryTag ?? ''}`;
    let group = groups.get(key);
    if (!group) groups.set(key, (group = []));
    group.push(e);
  }
  const rows: SimRow[] = [];
  const hybrid = familyOf(workload.tableType) === 'hybrid';
  for (const group of groups.values()) {
    const first = group[0] as Execution;
    const minute = Math.floor(first.start / MINUTE) * MINUTE;
    const stats = (pick: (e: Execution) => number, withSum = true) => statisticsObject(group.map(pick), withSum);
    const errors = new Map<string, { code: string; message: string; count: number }>();
    for (const e of group) {
      if (!e.error) continue;
      const entry = errors.get(e.error.code) ?? { code: e.error.code, message: e.error.message, count: 0 };
      entry.count += 1;
      errors.set(e.error.code, entry);
    }
    rows.push({
      CALLS: group.length,
      INTERVAL_START_TIME: new Date(minute),
      INTERVAL_END_TIME: new Date(minute + MINUTE),
      QUERY_PARAMETERIZED_HASH: first.pattern.hash,
      QUERY_TEXT: first.pattern.text,
      DATABASE_ID,
      DATABASE_NAME: workload.databaseName,
      SCHEMA_ID: 3,
      SCHEMA_NAME: workload.schemaName,
      QUERY_TYPE: first.pattern.queryType,
      SESSION_ID: first.sessionId,
      USER_NAME: 'FLAKEBENCH',
      ROLE_NAME: 'FLAKEBENCH_ROLE',
      ROLE_TYPE: 'ROLE',
      WAREHOUSE_ID,
      WAREHOUSE_NAME: workload.warehouseName,
      WAREHOUSE_SIZE: 'Small',
      WAREHOUSE_TYPE: 'STANDARD',
      QUERY_TAG: first.queryTag,
      IS_CLIENT_GENERATED_STATEMENT: false,
      RELEASE_VERSION: '9.38.2',
      ERRORS: [...errors.values()],
      TOTAL_ELAPSED_TIME: stats((e) => e.totalMs),
      BYTES_SCANNED: stats((e) => e.bytesScanned),
      PERCENTAGE_SCANNED_FROM_CACHE: stats((e) => e.cacheFraction, false),
      ROWS_PRODUCED: stats((e) => e.rowsProduced),
      PARTITIONS_SCANNED: stats((e) => e.partitionsScanned),
      PARTITIONS_TOTAL: stats((e) => e.partitionsTotal),
      BYTES_SPILLED_TO_LOCAL_STORAGE: stats((e) => e.spillLocal),
      BYTES_SPILLED_TO_REMOTE_STORAGE: stats((e) => e.spillRemote),
      COMPILATION_TIME: stats((e) => e.compileMs),
      EXECUTION_TIME: stats((e) => e.execMs),
      QUEUED_PROVISIONING_TIME: stats(() => 0),
      QUEUED_REPAIR_TIME: stats(() => 0),
      QUEUED_OVERLOAD_TIME: stats((e) => e.queuedOverloadMs),
      TRANSACTION_BLOCKED_TIME: stats((e) => e.blockedMs),
      HYBRID_TABLE_REQUESTS_THROTTLED_COUNT: hybrid ? group.filter((e) => e.throttled).length : 0,
      VISIBLE_AT: visibleAt('AGGREGATE_QUERY_HISTORY', minute + MINUTE, visibility, random),
    });
  }
  return rows;
}

/**
 * Account-level hourly credits over the hours the run touched. From 2026-03-01 on Snowflake no longer bills
 * hybrid table requests, but the view keeps reporting usage (docs: historical data can still be queried, new
 * data is not billed), so windows are published on both sides of that date.
 */
// Windows are hourly, compressed like the rest of the timeline by LATENCY_SCALE (usageWindowMs), so the demo's
// tests see their window close seconds after they end. A window shows once it has closed plus the view's
// latency (visibleAt from the window end).
function creditWindowsOf(workload: Workload, visibility: VisibilityOptions, random: Random): CreditWindow[] {
  const windowMs = usageWindowMs(visibility);
  const requests = new Map<number, number>();
  for (const e of workload.executions) {
    const start = Math.floor(e.start / windowMs) * windowMs;
    requests.set(start, (requests.get(start) ?? 0) + 1);
  }
  const windows: CreditWindow[] = [];
  for (const [start, count] of [...requests.entries()].sort((a, b) => a[0] - b[0])) {
    const credits = Math.round((count * CREDITS_PER_REQUEST + (BACKGROUND_CREDITS_PER_HOUR * windowMs) / HOUR) * 1e9) / 1e9;
    windows.push({ start, end: start + windowMs, credits, visibleAt: visibleAt('HYBRID_TABLE_USAGE_HISTORY', start + windowMs, visibility, random) });
  }
  return windows;
}

// ---- FlakeBench's own rows ------------------------------------------------------------------------------

/** Operation labels FlakeBench reports per-kind latency columns for (its *_P50_LATENCY_MS ... columns). */
const KIND_COLUMNS: Readonly<Record<string, string>> = {
  POINT_LOOKUP: 'POINT_LOOKUP',
  RANGE_SCAN: 'RANGE_SCAN',
  INSERT: 'INSERT',
  UPDATE: 'UPDATE',
  UPDATE_BY_KEY: 'UPDATE',
};

const round3 = (value: number) => Math.round(value * 1000) / 1000;

/** P50/P95/P99/MIN/MAX of client latencies under FlakeBench's column prefix (NULLs when there are none). */
function latencyColumns(prefix: string, latencies: readonly number[]): SimRow {
  if (latencies.length === 0) {
    return Object.fromEntries(['P50', 'P95', 'P99', 'MIN', 'MAX'].map((stat) => [`${prefix}_${stat}_LATENCY_MS`, null]));
  }
  const sorted = sortedCopy(latencies);
  return {
    [`${prefix}_P50_LATENCY_MS`]: round3(percentileCont(sorted, 0.5)),
    [`${prefix}_P95_LATENCY_MS`]: round3(percentileCont(sorted, 0.95)),
    [`${prefix}_P99_LATENCY_MS`]: round3(percentileCont(sorted, 0.99)),
    [`${prefix}_MIN_LATENCY_MS`]: sorted[0] as number,
    [`${prefix}_MAX_LATENCY_MS`]: sorted[sorted.length - 1] as number,
  };
}

/**
 * The TEST_RESULTS row FlakeBench writes when a test ends: every NOT NULL column, the run's summary from its
 * measurement phase (client-side latencies), the benchmark target in TEST_CONFIG:target (FlakeBench has no
 * database or schema column), QUERY_TAG without a phase, and pass 1 (ENRICHMENT_STATUS) done. Columns of other
 * modes (Postgres PG_*, OLAP, GENERIC_SQL, FIND_MAX) are NULL, as FlakeBench leaves them for a Snowflake test.
 */
function testResultsRow(workload: Workload, test: SimulatedTest, index: number): SimRow {
  const measured = workload.executions.filter((e) => e.test === index && e.phase === 'RUNNING');
  const seconds = (test.end - test.warmupEnd) / 1000;
  const reads = measured.filter((e) => e.pattern.queryType === 'SELECT');
  const writes = measured.filter((e) => e.pattern.queryType !== 'SELECT');
  const failed = measured.filter((e) => e.error !== null);
  const latencies = measured.map((e) => e.clientMs);
  const sorted = sortedCopy(latencies);
  const overall = (fraction: number) => (sorted.length === 0 ? null : round3(percentileCont(sorted, fraction)));
  const perKind: SimRow = {};
  for (const prefix of ['POINT_LOOKUP', 'RANGE_SCAN', 'INSERT', 'UPDATE']) {
    Object.assign(perKind, latencyColumns(prefix, measured.filter((e) => KIND_COLUMNS[e.pattern.kind] === prefix).map((e) => e.clientMs)));
  }
  const target = {
    database: workload.databaseName,
    schema: workload.schemaName,
    table_name: workload.targetTable,
    table_type: workload.tableType,
    warehouse: workload.warehouseName,
  };
  const errors = new Map<string, { code: string; message: string; count: number }>();
  for (const e of failed) {
    const entry = errors.get(e.error!.code) ?? { code: e.error!.code, message: e.error!.message, count: 0 };
    entry.count += 1;
    errors.set(e.error!.code, entry);
  }
  return {
    TEST_ID: test.testId,
    RUN_ID: test.runId,
    TEST_NAME: `${workload.tableType.toLowerCase()} ${workload.params.shape} worker ${index + 1}/${workload.tests.length}`,
    SCENARIO_NAME: `${workload.tableType.toLowerCase()}_${workload.params.shape}`,
    TABLE_NAME: workload.targetTable,
    TABLE_TYPE: workload.tableType,
    WAREHOUSE: workload.warehouseName,
    WAREHOUSE_SIZE,
    STATUS: FINISHED_STATUS,
    START_TIME: new Date(test.start),
    END_TIME: new Date(test.end),
    DURATION_SECONDS: (test.end - test.start) / 1000,
    CONCURRENT_CONNECTIONS: test.sessions,
    TOTAL_OPERATIONS: measured.length,
    READ_OPERATIONS: reads.length,
    WRITE_OPERATIONS: writes.length,
    FAILED_OPERATIONS: failed.length,
    QPS: round3(measured.length / seconds),
    READS_PER_SECOND: round3(reads.length / seconds),
    WRITES_PER_SECOND: round3(writes.length / seconds),
    AVG_LATENCY_MS: latencies.length === 0 ? null : round3(latencies.reduce((sum, v) => sum + v, 0) / latencies.length),
    P50_LATENCY_MS: overall(0.5),
    P90_LATENCY_MS: overall(0.9),
    P95_LATENCY_MS: overall(0.95),
    P99_LATENCY_MS: overall(0.99),
    MAX_LATENCY_MS: sorted.length === 0 ? null : (sorted[sorted.length - 1] as number),
    MIN_LATENCY_MS: sorted.length === 0 ? null : (sorted[0] as number),
    BYTES_READ: reads.reduce((sum, e) => sum + e.bytesScanned, 0),
    BYTES_WRITTEN: 0,
    ROWS_READ: reads.reduce((sum, e) => sum + e.rowsProduced, 0),
    ROWS_WRITTEN: writes.filter((e) => e.error === null).length,
    ERROR_COUNT: failed.length,
    ERROR_RATE: measured.length === 0 ? 0 : failed.length / measured.length,
    ERRORS: [...errors.values()],
    TEST_CONFIG: {
      target,
      workload: { concurrency: test.sessions, duration_seconds: (test.end - test.start) / 1000, warmup_seconds: (test.warmupEnd - test.start) / 1000 },
    },
    TAGS: { simulated: true, seed: workload.params.seed },
    CREATED_AT: new Date(test.start),
    UPDATED_AT: new Date(test.end),
    ...latencyColumns('READ', reads.map((e) => e.clientMs)),
    ...latencyColumns('WRITE', writes.map((e) => e.clientMs)),
    ...perKind,
    APP_OVERHEAD_P50_MS: measured.length === 0 ? null : round3(percentileCont(sortedCopy(measured.map((e) => e.clientMs - e.totalMs)), 0.5)),
    WAREHOUSE_CONFIG_SNAPSHOT: { name: workload.warehouseName, size: WAREHOUSE_SIZE, min_cluster_count: 1, max_cluster_count: 1 },
    QUERY_TAG: test.queryTagBase,
    ENRICHMENT_STATUS: 'COMPLETED',
  };
}

/**
 * A QUERY_EXECUTIONS row as FlakeBench writes it: client-side latency, WARMUP flag and QUERY_KIND, and the
 * pass-1 SF_* columns only for statements INFORMATION_SCHEMA.QUERY_HISTORY() knows (pass 2 fills the
 * partition and spill columns later).
 */
function queryExecutionRow(workload: Workload, e: Execution): SimRow {
  const known = e.inQueryHistory;
  return {
    EXECUTION_ID: e.executionId,
    TEST_ID: workload.tests[e.test]?.testId,
    QUERY_ID: e.queryId,
    QUERY_TEXT: e.pattern.text,
    START_TIME: new Date(e.start),
    END_TIME: new Date(e.start + e.clientMs),
    DURATION_MS: e.clientMs,
    ROWS_AFFECTED: e.error === null ? (e.pattern.queryType === 'SELECT' ? e.rowsProduced : 1) : 0,
    BYTES_SCANNED: known ? e.bytesScanned : null,
    WAREHOUSE: workload.warehouseName,
    SUCCESS: e.error === null,
    ERROR: e.error?.message ?? null,
    CONNECTION_ID: e.sessionId % 1_000_000,
    CREATED_AT: new Date(e.start + e.clientMs),
    QUERY_KIND: e.pattern.kind,
    WORKER_ID: e.test,
    WARMUP: e.phase === 'WARMUP',
    APP_ELAPSED_MS: e.clientMs,
    SF_TOTAL_ELAPSED_MS: known ? e.totalMs : null,
    SF_EXECUTION_MS: known ? e.execMs : null,
    SF_COMPILATION_MS: known ? e.compileMs : null,
    SF_QUEUED_OVERLOAD_MS: known ? e.queuedOverloadMs : null,
    SF_QUEUED_PROVISIONING_MS: known ? 0 : null,
    SF_TX_BLOCKED_MS: known ? e.blockedMs : null,
    SF_BYTES_SCANNED: known ? e.bytesScanned : null,
    SF_ROWS_PRODUCED: known ? e.rowsProduced : null,
    APP_OVERHEAD_MS: known ? e.clientMs - e.totalMs : null,
    SF_CLUSTER_NUMBER: known ? 1 : null,
    SF_PCT_SCANNED_FROM_CACHE: known ? e.cacheFraction : null,
  };
}
