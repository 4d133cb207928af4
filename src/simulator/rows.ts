// What FlakeBench writes (TEST_RESULTS, QUERY_EXECUTIONS) and what Snowflake later publishes in the five
// ACCOUNT_USAGE views about the same executions, as plain rows keyed by the documented column names,
// each view row with its VISIBLE_AT. Pure.
import { HYBRID_METERING_ENDED_AT, type SourceViewName } from '../sources/account-usage.js';
import { familyOf } from './patterns.js';
import { hashString, Random } from './random.js';
import { statisticsObject } from './statistics.js';
import { visibleAt, type VisibilityOptions } from './visibility.js';
import type { Execution, Workload } from './workload.js';

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

export function buildRows(workload: Workload, visibility: VisibilityOptions): SimulatedRows {
  const random = new Random(`${workload.params.seed}:visibility`);
  const family = familyOf(workload.tableType);
  const concurrency = workload.tests[0]?.sessions ?? 0;
  const TEST_RESULTS = workload.tests.map((test, index) => ({
    TEST_ID: test.testId,
    RUN_ID: test.runId,
    TEST_NAME: `${workload.tableType.toLowerCase()} ${workload.params.shape} worker ${index + 1}/${workload.tests.length}`,
    TABLE_TYPE: workload.tableType,
    TABLE_NAME: workload.targetTable,
    DATABASE_NAME: workload.databaseName,
    SCHEMA_NAME: workload.schemaName,
    WAREHOUSE_NAME: workload.warehouseName,
    QUERY_TAG: `${test.queryTagBase}:phase=RUNNING`,
    STATUS: 'COMPLETED',
    START_TIME: new Date(test.start),
    END_TIME: new Date(test.end),
    CONCURRENCY: concurrency,
    ENRICHMENT_STATUS: 'COMPLETED',
    CREATED_AT: new Date(test.end),
  }));

  const QUERY_EXECUTIONS: SimRow[] = [];
  const QUERY_HISTORY: SimRow[] = [];
  const LOCK_WAIT_HISTORY: SimRow[] = [];
  const QUERY_INSIGHTS: SimRow[] = [];
  // The hybrid table's object id: stable per table name, like a real table's.
  const objectId = 100_000 + (hashString(workload.targetTable) % 900_000);
  let insightInstance = 0;
  for (const e of workload.executions) {
    const end = e.start + e.totalMs;
    if (e.test >= 0) {
      QUERY_EXECUTIONS.push({
        EXECUTION_ID: e.executionId,
        TEST_ID: workload.tests[e.test]?.testId,
        QUERY_ID: e.queryId,
        QUERY_KIND: e.pattern.kind,
        WARMUP: e.phase === 'WARMUP',
        SUCCESS: e.error === null,
        START_TIME: new Date(e.start),
        END_TIME: new Date(e.start + e.clientMs),
        DURATION_MS: e.clientMs,
        // Pass 1 (INFORMATION_SCHEMA) knows only the statements QUERY_HISTORY records.
        SF_EXECUTION_MS: e.inQueryHistory ? e.execMs : null,
        SF_COMPILATION_MS: e.inQueryHistory ? e.compileMs : null,
        SF_CLUSTER_NUMBER: e.inQueryHistory ? 1 : null,
      });
    }
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

/** Account-level hourly credits over the hours the run touched; none from 2026-03-01 (metering stopped). */
// A window shows once it has closed plus the view's latency (visibleAt from the window end).
function creditWindowsOf(workload: Workload, visibility: VisibilityOptions, random: Random): CreditWindow[] {
  const requests = new Map<number, number>();
  for (const e of workload.executions) {
    const hour = Math.floor(e.start / HOUR) * HOUR;
    requests.set(hour, (requests.get(hour) ?? 0) + 1);
  }
  const windows: CreditWindow[] = [];
  for (const [hour, count] of [...requests.entries()].sort((a, b) => a[0] - b[0])) {
    if (hour + HOUR > HYBRID_METERING_ENDED_AT.getTime()) continue;
    const credits = Math.round((count * CREDITS_PER_REQUEST + BACKGROUND_CREDITS_PER_HOUR) * 1e9) / 1e9;
    windows.push({ start: hour, end: hour + HOUR, credits, visibleAt: visibleAt('HYBRID_TABLE_USAGE_HISTORY', hour + HOUR, visibility, random) });
  }
  return windows;
}
