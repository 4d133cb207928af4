// The documented contracts of the five SNOWFLAKE.ACCOUNT_USAGE views this service reads: column names,
// types, latency, retention. One source for the simulated views (their DDL), replay validation, and the
// offline Snowflake SQL check. Taken from docs.snowflake.com (see shared/notes/account-usage-facts.md);
// column names are upper case, as Snowflake returns and exports them.

export type SourceColumnType = 'TEXT' | 'NUMBER' | 'FLOAT' | 'BOOLEAN' | 'TIMESTAMP_LTZ' | 'OBJECT' | 'ARRAY' | 'VARIANT';

export interface SourceColumn {
  name: string;
  type: SourceColumnType;
  /** Replayed rows must carry this column (the service cannot place or attribute a row without it). */
  required?: boolean;
}

export type SourceViewName =
  | 'QUERY_HISTORY'
  | 'AGGREGATE_QUERY_HISTORY'
  | 'LOCK_WAIT_HISTORY'
  | 'HYBRID_TABLE_USAGE_HISTORY'
  | 'QUERY_INSIGHTS';

export interface SourceViewContract {
  name: SourceViewName;
  /** Documented maximum latency: rows may appear this long after the activity. */
  latencyMinutes: number;
  retentionDays: number;
  /** The column whose value places a row in time (visibility and retention are measured from it). */
  timeColumn: string;
  columns: SourceColumn[];
}

/** Fully qualified name, as written in every statement for both engines. */
export function sourceViewName(view: SourceViewName): string {
  return `SNOWFLAKE.ACCOUNT_USAGE.${view}`;
}

const col = (name: string, type: SourceColumnType, required = false): SourceColumn =>
  required ? { name, type, required } : { name, type };

/** The statistics OBJECT columns of AGGREGATE_QUERY_HISTORY (keys: sum avg stddev min median p90 p99 p99.9 max). */
export const AGGREGATE_STAT_COLUMNS = [
  'TOTAL_ELAPSED_TIME',
  'BYTES_SCANNED',
  'PERCENTAGE_SCANNED_FROM_CACHE',
  'BYTES_WRITTEN',
  'BYTES_WRITTEN_TO_RESULT',
  'BYTES_READ_FROM_RESULT',
  'ROWS_PRODUCED',
  'ROWS_INSERTED',
  'ROWS_UPDATED',
  'ROWS_DELETED',
  'ROWS_UNLOADED',
  'BYTES_DELETED',
  'PARTITIONS_SCANNED',
  'PARTITIONS_TOTAL',
  'BYTES_SPILLED_TO_LOCAL_STORAGE',
  'BYTES_SPILLED_TO_REMOTE_STORAGE',
  'BYTES_SENT_OVER_THE_NETWORK',
  'COMPILATION_TIME',
  'EXECUTION_TIME',
  'QUEUED_PROVISIONING_TIME',
  'QUEUED_REPAIR_TIME',
  'QUEUED_OVERLOAD_TIME',
  'TRANSACTION_BLOCKED_TIME',
  'OUTBOUND_DATA_TRANSFER_BYTES',
  'INBOUND_DATA_TRANSFER_BYTES',
  'LIST_EXTERNAL_FILES_TIME',
  'CREDITS_USED_CLOUD_SERVICES',
  'EXTERNAL_FUNCTION_TOTAL_INVOCATIONS',
  'EXTERNAL_FUNCTION_TOTAL_SENT_ROWS',
  'EXTERNAL_FUNCTION_TOTAL_RECEIVED_ROWS',
  'EXTERNAL_FUNCTION_TOTAL_SENT_BYTES',
  'EXTERNAL_FUNCTION_TOTAL_RECEIVED_BYTES',
  'QUERY_LOAD_PERCENT',
  'QUERY_ACCELERATION_BYTES_SCANNED',
  'QUERY_ACCELERATION_PARTITIONS_SCANNED',
  'QUERY_ACCELERATION_UPPER_LIMIT_SCALE_FACTOR',
  'CHILD_QUERIES_WAIT_TIME',
] as const;

/** Keys of every statistics object, lower case and case-sensitive. Three objects have no `sum`. */
export const AGGREGATE_STAT_KEYS = ['sum', 'avg', 'stddev', 'min', 'median', 'p90', 'p99', 'p99.9', 'max'] as const;
export const AGGREGATE_STATS_WITHOUT_SUM = [
  'PERCENTAGE_SCANNED_FROM_CACHE',
  'QUERY_LOAD_PERCENT',
  'QUERY_ACCELERATION_UPPER_LIMIT_SCALE_FACTOR',
] as const;

export const QUERY_HISTORY: SourceViewContract = {
  name: 'QUERY_HISTORY',
  latencyMinutes: 45,
  retentionDays: 365,
  timeColumn: 'START_TIME',
  columns: [
    col('QUERY_ID', 'TEXT', true),
    col('QUERY_TEXT', 'TEXT'),
    col('DATABASE_ID', 'NUMBER'),
    col('DATABASE_NAME', 'TEXT'),
    col('SCHEMA_ID', 'NUMBER'),
    col('SCHEMA_NAME', 'TEXT'),
    col('QUERY_TYPE', 'TEXT'),
    col('SESSION_ID', 'NUMBER'),
    col('AUTHN_EVENT_ID', 'NUMBER'),
    col('USER_NAME', 'TEXT'),
    col('ROLE_NAME', 'TEXT'),
    col('WAREHOUSE_ID', 'NUMBER'),
    col('WAREHOUSE_NAME', 'TEXT'),
    col('WAREHOUSE_SIZE', 'TEXT'),
    col('WAREHOUSE_TYPE', 'TEXT'),
    col('CLUSTER_NUMBER', 'NUMBER'),
    col('QUERY_TAG', 'TEXT'),
    col('EXECUTION_STATUS', 'TEXT'),
    col('ERROR_CODE', 'NUMBER'),
    col('ERROR_MESSAGE', 'TEXT'),
    col('START_TIME', 'TIMESTAMP_LTZ', true),
    col('END_TIME', 'TIMESTAMP_LTZ', true),
    col('TOTAL_ELAPSED_TIME', 'NUMBER'),
    col('BYTES_SCANNED', 'NUMBER'),
    col('PERCENTAGE_SCANNED_FROM_CACHE', 'FLOAT'),
    col('BYTES_WRITTEN', 'NUMBER'),
    col('BYTES_WRITTEN_TO_RESULT', 'NUMBER'),
    col('BYTES_READ_FROM_RESULT', 'NUMBER'),
    col('ROWS_PRODUCED', 'NUMBER'),
    col('ROWS_INSERTED', 'NUMBER'),
    col('ROWS_UPDATED', 'NUMBER'),
    col('ROWS_DELETED', 'NUMBER'),
    col('ROWS_UNLOADED', 'NUMBER'),
    col('BYTES_DELETED', 'NUMBER'),
    col('PARTITIONS_SCANNED', 'NUMBER'),
    col('PARTITIONS_TOTAL', 'NUMBER'),
    col('BYTES_SPILLED_TO_LOCAL_STORAGE', 'NUMBER'),
    col('BYTES_SPILLED_TO_REMOTE_STORAGE', 'NUMBER'),
    col('BYTES_SENT_OVER_THE_NETWORK', 'NUMBER'),
    col('COMPILATION_TIME', 'NUMBER'),
    col('EXECUTION_TIME', 'NUMBER'),
    col('QUEUED_PROVISIONING_TIME', 'NUMBER'),
    col('QUEUED_REPAIR_TIME', 'NUMBER'),
    col('QUEUED_OVERLOAD_TIME', 'NUMBER'),
    col('TRANSACTION_BLOCKED_TIME', 'NUMBER'),
    col('OUTBOUND_DATA_TRANSFER_CLOUD', 'TEXT'),
    col('OUTBOUND_DATA_TRANSFER_REGION', 'TEXT'),
    col('OUTBOUND_DATA_TRANSFER_BYTES', 'NUMBER'),
    col('INBOUND_DATA_TRANSFER_CLOUD', 'TEXT'),
    col('INBOUND_DATA_TRANSFER_REGION', 'TEXT'),
    col('INBOUND_DATA_TRANSFER_BYTES', 'NUMBER'),
    col('LIST_EXTERNAL_FILES_TIME', 'NUMBER'),
    col('CREDITS_USED_CLOUD_SERVICES', 'NUMBER'),
    col('RELEASE_VERSION', 'TEXT'),
    col('EXTERNAL_FUNCTION_TOTAL_INVOCATIONS', 'NUMBER'),
    col('EXTERNAL_FUNCTION_TOTAL_SENT_ROWS', 'NUMBER'),
    col('EXTERNAL_FUNCTION_TOTAL_RECEIVED_ROWS', 'NUMBER'),
    col('EXTERNAL_FUNCTION_TOTAL_SENT_BYTES', 'NUMBER'),
    col('EXTERNAL_FUNCTION_TOTAL_RECEIVED_BYTES', 'NUMBER'),
    col('QUERY_LOAD_PERCENT', 'NUMBER'),
    col('IS_CLIENT_GENERATED_STATEMENT', 'BOOLEAN'),
    col('QUERY_ACCELERATION_BYTES_SCANNED', 'NUMBER'),
    col('QUERY_ACCELERATION_PARTITIONS_SCANNED', 'NUMBER'),
    col('QUERY_ACCELERATION_UPPER_LIMIT_SCALE_FACTOR', 'NUMBER'),
    col('TRANSACTION_ID', 'NUMBER'),
    col('CHILD_QUERIES_WAIT_TIME', 'NUMBER'),
    col('ROLE_TYPE', 'TEXT'),
    col('QUERY_HASH', 'TEXT'),
    col('QUERY_HASH_VERSION', 'NUMBER'),
    col('QUERY_PARAMETERIZED_HASH', 'TEXT'),
    col('QUERY_PARAMETERIZED_HASH_VERSION', 'NUMBER'),
    col('SECONDARY_ROLE_STATS', 'TEXT'),
    col('ROWS_WRITTEN_TO_RESULT', 'NUMBER'),
    col('QUERY_RETRY_TIME', 'NUMBER'),
    col('QUERY_RETRY_CAUSE', 'TEXT'),
    col('FAULT_HANDLING_TIME', 'NUMBER'),
    col('USER_TYPE', 'TEXT'),
    col('USER_DATABASE_NAME', 'TEXT'),
    col('USER_DATABASE_ID', 'TEXT'),
    col('USER_SCHEMA_NAME', 'TEXT'),
    col('USER_SCHEMA_ID', 'TEXT'),
    col('BIND_VALUES', 'ARRAY'),
    col('AGENT_TYPE', 'TEXT'),
  ],
};

export const AGGREGATE_QUERY_HISTORY: SourceViewContract = {
  name: 'AGGREGATE_QUERY_HISTORY',
  latencyMinutes: 180,
  retentionDays: 365,
  timeColumn: 'INTERVAL_START_TIME',
  columns: [
    col('CALLS', 'NUMBER', true),
    col('INTERVAL_START_TIME', 'TIMESTAMP_LTZ', true),
    col('INTERVAL_END_TIME', 'TIMESTAMP_LTZ', true),
    col('QUERY_PARAMETERIZED_HASH', 'TEXT', true),
    col('QUERY_TEXT', 'TEXT'),
    col('DATABASE_ID', 'NUMBER'),
    col('DATABASE_NAME', 'TEXT'),
    col('SCHEMA_ID', 'NUMBER'),
    col('SCHEMA_NAME', 'TEXT'),
    col('QUERY_TYPE', 'TEXT'),
    col('SESSION_ID', 'NUMBER'),
    col('USER_NAME', 'TEXT'),
    col('ROLE_NAME', 'TEXT'),
    col('ROLE_TYPE', 'TEXT'),
    col('WAREHOUSE_ID', 'NUMBER'),
    col('WAREHOUSE_NAME', 'TEXT'),
    col('WAREHOUSE_SIZE', 'TEXT'),
    col('WAREHOUSE_TYPE', 'TEXT'),
    col('QUERY_TAG', 'TEXT'),
    col('IS_CLIENT_GENERATED_STATEMENT', 'BOOLEAN'),
    col('RELEASE_VERSION', 'TEXT'),
    col('ERRORS', 'ARRAY'),
    ...AGGREGATE_STAT_COLUMNS.map((name) => col(name, 'OBJECT')),
    col('OUTBOUND_DATA_TRANSFER_CLOUD', 'TEXT'),
    col('OUTBOUND_DATA_TRANSFER_REGION', 'TEXT'),
    col('INBOUND_DATA_TRANSFER_CLOUD', 'TEXT'),
    col('INBOUND_DATA_TRANSFER_REGION', 'TEXT'),
    col('HYBRID_TABLE_REQUESTS_THROTTLED_COUNT', 'NUMBER'),
  ],
};

export const LOCK_WAIT_HISTORY: SourceViewContract = {
  name: 'LOCK_WAIT_HISTORY',
  latencyMinutes: 180,
  retentionDays: 365,
  timeColumn: 'REQUESTED_AT',
  columns: [
    col('OBJECT_ID', 'NUMBER'),
    col('OBJECT_NAME', 'TEXT'),
    col('SCHEMA_ID', 'NUMBER'),
    col('SCHEMA_NAME', 'TEXT'),
    col('DATABASE_ID', 'NUMBER'),
    col('DATABASE_NAME', 'TEXT'),
    col('QUERY_ID', 'TEXT', true),
    col('TRANSACTION_ID', 'NUMBER'),
    col('LOCK_TYPE', 'TEXT', true),
    col('REQUESTED_AT', 'TIMESTAMP_LTZ', true),
    col('ACQUIRED_AT', 'TIMESTAMP_LTZ'),
    col('BLOCKER_QUERIES', 'VARIANT'),
  ],
};

export const HYBRID_TABLE_USAGE_HISTORY: SourceViewContract = {
  name: 'HYBRID_TABLE_USAGE_HISTORY',
  latencyMinutes: 180,
  retentionDays: 365,
  timeColumn: 'START_TIME',
  columns: [
    col('OBJECT_TYPE', 'TEXT'),
    col('OBJECT_ID', 'NUMBER'),
    col('OBJECT_NAME', 'TEXT'),
    col('START_TIME', 'TIMESTAMP_LTZ', true),
    col('END_TIME', 'TIMESTAMP_LTZ', true),
    col('CREDITS_USED', 'NUMBER', true),
  ],
};

export const QUERY_INSIGHTS: SourceViewContract = {
  name: 'QUERY_INSIGHTS',
  latencyMinutes: 90,
  retentionDays: 365,
  timeColumn: 'START_TIME',
  columns: [
    col('START_TIME', 'TIMESTAMP_LTZ', true),
    col('END_TIME', 'TIMESTAMP_LTZ'),
    col('TOTAL_ELAPSED_TIME', 'NUMBER'),
    col('QUERY_ID', 'TEXT', true),
    col('QUERY_HASH', 'TEXT'),
    col('QUERY_PARAMETERIZED_HASH', 'TEXT'),
    col('WAREHOUSE_ID', 'TEXT'),
    col('WAREHOUSE_NAME', 'TEXT'),
    col('INSIGHT_INSTANCE_ID', 'NUMBER'),
    col('INSIGHT_TYPE_ID', 'TEXT', true),
    col('MESSAGE', 'VARIANT'),
    col('SUGGESTIONS', 'ARRAY'),
    col('IS_OPPORTUNITY', 'BOOLEAN'),
    col('INSIGHT_TOPIC', 'TEXT'),
  ],
};

export const SOURCE_VIEWS: readonly SourceViewContract[] = [
  QUERY_HISTORY,
  AGGREGATE_QUERY_HISTORY,
  LOCK_WAIT_HISTORY,
  HYBRID_TABLE_USAGE_HISTORY,
  QUERY_INSIGHTS,
];

export function sourceView(name: SourceViewName): SourceViewContract {
  const view = SOURCE_VIEWS.find((candidate) => candidate.name === name);
  if (!view) throw new Error(`unknown source view ${name}`);
  return view;
}

/** Hybrid-table requests stopped being metered on this date: HYBRID_TABLE_USAGE_HISTORY has no later rows. */
export const HYBRID_METERING_ENDED_AT = new Date('2026-03-01T00:00:00.000Z');

/**
 * HYBRID_TABLE_USAGE_HISTORY's window length: not documented, hourly as observed. A window is published
 * within the view's latency after it closes, so the window holding a test's end decides when its credits
 * can be read.
 */
export const HYBRID_USAGE_WINDOW_MS = 3_600_000;

/** Documented insight types by topic (QUERY_INSIGHTS.INSIGHT_TYPE_ID). */
export const INSIGHT_TYPES: Readonly<Record<string, readonly string[]>> = {
  TABLE_SCAN: [
    'QUERY_INSIGHT_NO_FILTER_ON_TOP_OF_TABLE_SCAN',
    'QUERY_INSIGHT_INAPPLICABLE_FILTER_ON_TABLE_SCAN',
    'QUERY_INSIGHT_UNSELECTIVE_FILTER',
    'QUERY_INSIGHT_LIKE_WITH_LEADING_WILDCARD',
    'QUERY_INSIGHT_FILTER_WITH_CLUSTERING_KEY',
    'QUERY_INSIGHT_SEARCH_OPTIMIZATION_USED',
    'QUERY_INSIGHT_SNOWFLAKE_OPTIMA',
    'QUERY_INSIGHT_SEARCH_OPTIMIZATION_AND_SNOWFLAKE_OPTIMA',
    'QUERY_INSIGHT_SNOWFLAKE_OPTIMA_PLANNING_USED',
  ],
  JOIN: [
    'QUERY_INSIGHT_SNOWFLAKE_OPTIMA_PLANNING_OPPORTUNITY',
    'QUERY_INSIGHT_JOIN_WITH_NO_JOIN_CONDITION',
    'QUERY_INSIGHT_INEFFICIENT_JOIN_CONDITION',
    'QUERY_INSIGHT_NESTED_EXPLODING_JOIN',
    'QUERY_INSIGHT_EXPLODING_JOIN',
  ],
  AGGREGATION: ['QUERY_INSIGHT_INEFFICIENT_AGGREGATE'],
  UNION: ['QUERY_INSIGHT_UNNECESSARY_UNION_DISTINCT'],
  WAREHOUSE: ['QUERY_INSIGHT_REMOTE_SPILLAGE', 'QUERY_INSIGHT_QUEUED_OVERLOAD'],
};
