// Environment variables → a typed, validated configuration. Each variable is declared once below with
// its TypeBox schema, default and description (the README's table lists the same variables; a test
// checks they agree). Invalid values are all reported together, one line each.
//
// The names are FlakeBench's where FlakeBench has one, so that FlakeBench's own `.env` configures this
// service unchanged (readEnvironment below loads it; keys this service does not know are ignored):
// RESULTS_DATABASE / RESULTS_SCHEMA say where FlakeBench keeps TEST_RESULTS, and this service works there
// (its tables sit next to FlakeBench's; every statement names its tables unqualified, resolved against
// the session's database and schema). FlakeBench's SNOWFLAKE_DATABASE / SNOWFLAKE_SCHEMA (default
// PUBLIC) are only its connection's default context, and inside Snowpark Container Services Snowflake sets
// them to the service's own schema: they are not read here, so they can never move the results tables.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { validate as validateCron } from 'node-cron';
import type { WriteCarrier } from './db/write-carrier.js';
import { MAX_CLAIM_BATCH } from './queue/claim.js';

const Identifier = Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_$]*$', description: 'a Snowflake identifier' });
const HostName = Type.String({
  pattern: '^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$',
  description: 'a host name without scheme, port or path',
});
const Minutes = Type.Number({ minimum: 0, maximum: 10_000 });
const PositiveInt = (maximum: number) => Type.Integer({ minimum: 1, maximum });

interface VariableSpec<S extends TSchema = TSchema> {
  schema: S;
  default?: Static<S>;
  description: string;
  /** Never logged or echoed in errors. */
  secret?: boolean;
  /** Extra check beyond the schema; returns a problem or undefined. */
  check?: (value: Static<S>) => string | undefined;
}

const cron = (value: string) => (validateCron(value) ? undefined : `not a valid cron expression (got "${value}")`);

// The overloads keep whether a variable has a default in its type (so settings with one are never undefined).
function variable<S extends TSchema>(spec: VariableSpec<S> & { default: Static<S> }): VariableSpec<S> & { default: Static<S> };
function variable<S extends TSchema>(spec: VariableSpec<S>): VariableSpec<S>;
function variable<S extends TSchema>(spec: VariableSpec<S>): VariableSpec<S> {
  return spec;
}

export const VARIABLES = {
  ENV_FILE: variable({
    schema: Type.String({ minLength: 1 }),
    default: '.env',
    description: 'Settings file read at start (relative to the working directory); a missing .env is fine, a missing ENV_FILE is an error. Variables of the environment win over the file.',
  }),
  HOST: variable({ schema: Type.String({ minLength: 1 }), default: '127.0.0.1', description: 'Listen address.' }),
  PORT: variable({ schema: Type.Integer({ minimum: 0, maximum: 65535 }), default: 3000, description: 'Listen port (0 picks a free one).' }),
  DATA_DIR: variable({ schema: Type.String({ minLength: 1 }), default: './data', description: 'Where the embedded DuckDB file lives.' }),
  LOG_LEVEL: variable({
    schema: Type.Union([Type.Literal('fatal'), Type.Literal('error'), Type.Literal('warn'), Type.Literal('info'), Type.Literal('debug'), Type.Literal('trace'), Type.Literal('silent')]),
    default: 'info' as const,
    description: 'pino log level.',
  }),
  API_TOKEN: variable({ schema: Type.String({ minLength: 16 }), description: 'Bearer token required by mutating routes (at least 16 characters). Unset: no authentication.', secret: true }),
  API_AUTH_SCOPE: variable({
    schema: Type.Union([Type.Literal('mutating'), Type.Literal('all')]),
    default: 'mutating' as const,
    description: "With API_TOKEN: 'mutating' protects POST routes, 'all' protects every route and /ws.",
  }),
  CORS_ORIGINS: variable({
    schema: Type.String(),
    default: '',
    description: 'Origins of the FlakeBench UI allowed by CORS: comma-separated, or a JSON array of strings.',
    check: (value) => (parseOrigins(value) === undefined ? 'must be comma-separated origins or a JSON array of strings' : undefined),
  }),
  LATENCY_SCALE: variable({
    schema: Type.Number({ exclusiveMinimum: 0, maximum: 1 }),
    default: 1,
    description: 'Multiplies every view latency and buffer (simulated views and due times). 1 in production; e.g. 0.002 makes 3 h about 22 s.',
  }),
  ENRICHMENT_ENABLED: variable({ schema: Type.Boolean(), default: true, description: 'Run the processor (false: API only).' }),
  POLL_CRON: variable({ schema: Type.String(), default: '*/5 * * * *', description: 'Processor poll schedule (node-cron, seconds field optional). Seed: every 5 minutes.', check: cron }),
  DISCOVERY_POLL_CRON: variable({
    schema: Type.String(),
    default: '7 * * * *',
    description: 'Slower poll that queries the queue even when this instance knows of nothing due (finds jobs enqueued by other instances). Hourly: an idle hour costs one statement.',
    check: cron,
  }),
  AUTO_ENQUEUE: variable({
    schema: Type.Boolean(),
    default: true,
    description: 'The discovery poll also enqueues finished FlakeBench tests it finds in TEST_RESULTS (FlakeBench needs no change), in the same statement.',
  }),
  AUTO_ENQUEUE_LOOKBACK_HOURS: variable({
    schema: PositiveInt(8_760),
    default: 168,
    description: 'How far back (by END_TIME) the discovery poll looks for finished tests; older ones are for POST /api/enrichment/backfill.',
  }),
  AUTO_ENQUEUE_SOURCE: variable({
    schema: Type.Union([Type.Literal('scan'), Type.Literal('stream')]),
    default: 'scan' as const,
    description:
      "How the discovery poll finds finished tests: 'scan' reads TEST_RESULTS in its one statement; 'stream' (Snowflake only; needs change tracking on TEST_RESULTS) checks a stream on it with SYSTEM$STREAM_HAS_DATA and reads TEST_RESULTS only when it changed (src/queue/discovery-stream.ts).",
  }),
  CLEANUP_CRON: variable({ schema: Type.String(), default: '17 3 * * *', description: 'Cleanup schedule (daily by default).', check: cron }),
  MAX_CONCURRENT_JOBS: variable({ schema: PositiveInt(64), default: 3, description: 'Batches of jobs processed at once by one instance (seed: 3 jobs); each holds up to CLAIM_BATCH_SIZE jobs.' }),
  CLAIM_BATCH_SIZE: variable({
    schema: PositiveInt(MAX_CLAIM_BATCH),
    default: 25,
    description:
      'Jobs per batch: an instance runs up to MAX_CONCURRENT_JOBS × CLAIM_BATCH_SIZE jobs at once, and the jobs due together share their statements: one read of each type\'s view and one write request for all of them (issue 10).',
  }),
  MAX_ATTEMPTS: variable({ schema: PositiveInt(100), default: 3, description: 'Attempts per enrichment type before it fails (seed: 3).' }),
  LEASE_SECONDS: variable({ schema: PositiveInt(86_400), default: 600, description: 'Claim lease length; renewed while work runs.' }),
  DEADLINE_HOURS: variable({ schema: Type.Number({ exclusiveMinimum: 0, maximum: 720 }), default: 24, description: 'A type whose view is still not ready this long after the test ended ends with that reason.' }),
  RETENTION_DAYS: variable({ schema: PositiveInt(3650), default: 30, description: 'Terminal jobs and events older than this are removed by cleanup.' }),
  TYPE_TIMEOUT_SECONDS: variable({ schema: PositiveInt(86_400), default: 900, description: 'One enrichment type (readiness, read, transform) may run this long; then it is aborted and counts as a transient failure.' }),
  WRITE_COALESCE_SECONDS: variable({
    schema: Type.Number({ minimum: 0, maximum: 3600 }),
    default: 60,
    description:
      "A finished type's results wait up to this long (plus the next type's run) to travel in one write with the next types' results of the same job: one Snowflake request instead of one per type (issue 10). 0 writes every type as soon as it finishes.",
  }),
  SHUTDOWN_GRACE_SECONDS: variable({ schema: Type.Number({ minimum: 0, maximum: 3600 }), default: 30, description: 'On SIGTERM, running types may finish within this time; the rest are aborted and released.' }),
  BUFFER_QUERY_HISTORY_MINUTES: variable({ schema: Minutes, default: 5, description: 'Added to QUERY_HISTORY latency (45 min).' }),
  BUFFER_QUERY_INSIGHTS_MINUTES: variable({ schema: Minutes, default: 10, description: 'Added to QUERY_INSIGHTS latency (90 min).' }),
  BUFFER_ACCOUNT_USAGE_3H_MINUTES: variable({ schema: Minutes, default: 15, description: 'Added to the 3 h latency of AGGREGATE_QUERY_HISTORY, LOCK_WAIT_HISTORY and HYBRID_TABLE_USAGE_HISTORY.' }),
  STATS_CACHE_SECONDS: variable({
    schema: Type.Integer({ minimum: 0, maximum: 86_400 }),
    default: 300,
    description: 'Queue stats (stats route, /metrics, WebSocket queue_stats) are reused this long unless this instance changes the queue; each recomputation is two statements.',
  }),
  READ_CACHE_SECONDS: variable({
    schema: Type.Integer({ minimum: 0, maximum: 86_400 }),
    default: 60,
    description:
      "Rows of a test's read routes are reused this long unless an event of the test arrives (this instance's, or another's through the WebSocket feed); 0 turns the cache off.",
  }),
  WS_HEARTBEAT_SECONDS: variable({
    schema: Type.Number({ minimum: 0.05, maximum: 3600 }),
    default: 25,
    description: 'WebSocket ping interval; a socket that has not answered the previous ping is closed.',
  }),
  WS_MAX_BUFFERED_KB: variable({
    schema: PositiveInt(1_048_576),
    default: 1024,
    description: "A WebSocket client whose unsent data passes this is closed with code 4000 (resync over REST); one slow client never slows the others.",
  }),
  QUEUE_STATS_PUSH_SECONDS: variable({
    schema: Type.Number({ minimum: 0.05, maximum: 86_400 }),
    default: 30,
    description: "Interval of queue_stats frames to WebSocket clients subscribed to the 'queue' topic (sent only while someone is).",
  }),
  SNOWFLAKE_ACCOUNT: variable({ schema: Type.String({ minLength: 1 }), description: 'Snowflake account identifier. Set: Snowflake mode. Unset: embedded DuckDB.' }),
  SNOWFLAKE_USER: variable({ schema: Type.String({ minLength: 1 }), description: 'Login name.' }),
  SNOWFLAKE_PASSWORD: variable({ schema: Type.String({ minLength: 1 }), description: 'Password authentication.', secret: true }),
  SNOWFLAKE_PRIVATE_KEY_PATH: variable({ schema: Type.String({ minLength: 1 }), description: 'Key-pair authentication: PEM private key file.' }),
  SNOWFLAKE_PRIVATE_KEY_PASSPHRASE: variable({ schema: Type.String({ minLength: 1 }), description: 'Passphrase of an encrypted private key.', secret: true }),
  SNOWFLAKE_ROLE: variable({ schema: Identifier, description: 'Role (needs IMPORTED PRIVILEGES on database SNOWFLAKE).' }),
  SNOWFLAKE_WAREHOUSE: variable({ schema: Identifier, description: 'Warehouse for queries.' }),
  RESULTS_DATABASE: variable({
    schema: Identifier,
    default: 'FLAKEBENCH',
    description: "FlakeBench's setting: database of its results tables (TEST_RESULTS, QUERY_EXECUTIONS); this service's tables live there too.",
  }),
  RESULTS_SCHEMA: variable({
    schema: Identifier,
    default: 'TEST_RESULTS',
    description: "FlakeBench's setting: schema of its results tables; this service's tables live there too.",
  }),
  SNOWFLAKE_HOST: variable({
    schema: HostName,
    description: 'Host name the driver connects to instead of the one derived from the account (Snowpark Container Services sets it).',
  }),
  SNOWFLAKE_ACCESS_URL: variable({
    schema: Type.String({ pattern: '^https?://' }),
    description: 'Full URL the driver connects to (scheme, host, port), e.g. a proxy; wins over SNOWFLAKE_HOST. Tests point it at a local endpoint on 127.0.0.1.',
  }),
  SNOWFLAKE_POOL_SIZE: variable({ schema: PositiveInt(32), default: 4, description: 'Connections in the Snowflake pool.' }),
  SNOWFLAKE_STATEMENT_TIMEOUT_SECONDS: variable({ schema: PositiveInt(86_400), default: 120, description: 'Timeout for each statement (ACCOUNT_USAGE reads included).' }),
  SNOWFLAKE_WRITE_CARRIER: variable({
    schema: Type.Union([Type.Literal('procedure'), Type.Literal('inline'), Type.Literal('statements')]),
    default: 'procedure' as const,
    description:
      "How a transaction travels to Snowflake (src/db/write-carrier.ts): 'procedure' one CALL of the stored procedure migrations 0009 and 0011 create; 'inline' the same body as an anonymous procedure (no CREATE PROCEDURE privilege; binds in it unverified); 'statements' BEGIN, each statement, COMMIT (n + 2 requests).",
  }),
} as const;

type Variables = typeof VARIABLES;
type Name = keyof Variables;
type ValueOf<N extends Name> = Static<Variables[N]['schema']>;
export type RawSettings = { [N in Name]: Variables[N] extends { default: unknown } ? ValueOf<N> : ValueOf<N> | undefined };

export interface SnowflakeSettings {
  account: string;
  user: string;
  password: string | undefined;
  privateKeyPath: string | undefined;
  privateKeyPassphrase: string | undefined;
  role: string | undefined;
  warehouse: string | undefined;
  /** Where FlakeBench's results tables and this service's tables are: the session's database and schema. */
  database: string;
  schema: string;
  /** SNOWFLAKE_HOST: the driver's `host` option (optional so that settings built by hand may leave it out). */
  host?: string | undefined;
  accessUrl: string | undefined;
  poolSize: number;
  statementTimeoutMs: number;
  /** SNOWFLAKE_WRITE_CARRIER; unset: 'procedure' (optional so that settings built by hand may leave it out). */
  writeCarrier?: WriteCarrier;
}

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  logLevel: RawSettings['LOG_LEVEL'];
  apiToken: string | undefined;
  apiAuthScope: RawSettings['API_AUTH_SCOPE'];
  corsOrigins: string[];
  latencyScale: number;
  enrichmentEnabled: boolean;
  pollCron: string;
  discoveryPollCron: string;
  autoEnqueue: boolean;
  autoEnqueueLookBackMs: number;
  /** AUTO_ENQUEUE_SOURCE: 'stream' only in Snowflake mode (loadConfig refuses it on the embedded engine). */
  autoEnqueueSource: RawSettings['AUTO_ENQUEUE_SOURCE'];
  cleanupCron: string;
  maxConcurrentJobs: number;
  claimBatchSize: number;
  maxAttempts: number;
  leaseMs: number;
  deadlineMs: number;
  retentionDays: number;
  shutdownGraceMs: number;
  typeTimeoutMs: number;
  /** WRITE_COALESCE_SECONDS in ms: how long a finished type's write may wait for the job's next ones (0: never). */
  writeCoalesceMs: number;
  statsCacheMs: number;
  readCacheMs: number;
  ws: { heartbeatMs: number; maxBufferedBytes: number; queueStatsPushMs: number };
  bufferMinutes: { queryHistory: number; queryInsights: number; accountUsage3h: number };
  /** Undefined: the embedded DuckDB engine. */
  snowflake: SnowflakeSettings | undefined;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export type EnvironmentValues = Record<string, string | undefined>;

/** The variables a process runs with: the environment over the settings file, and where the file was. */
export interface Environment {
  values: EnvironmentValues;
  /** Absolute path of the settings file read, if any. */
  file: string | undefined;
  /** Names whose value came from the file (problems with them say so). */
  fromFile: ReadonlySet<string>;
}

/**
 * The environment merged with the settings file: ENV_FILE if the environment sets it (it must exist),
 * otherwise `.env` in the working directory when there is one. A variable the environment sets, even to an
 * empty value, wins over the file (as with dotenv and docker's --env-file). The file is parsed with Node's
 * own dotenv parser (comments, quotes, `export` prefixes, multi-line quoted values); nothing is written
 * into process.env. Throws ConfigError when the file cannot be read.
 */
export function readEnvironment(env: EnvironmentValues = process.env, cwd: string = process.cwd()): Environment {
  const named = env.ENV_FILE?.trim();
  const path = resolve(cwd, named === undefined || named === '' ? '.env' : named);
  if ((named === undefined || named === '') && !existsSync(path)) return { values: { ...env }, file: undefined, fromFile: new Set() };
  let parsed: Record<string, string>;
  try {
    parsed = parseEnv(readFileSync(path, 'utf8')) as Record<string, string>;
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new ConfigError([`${named ? 'ENV_FILE' : '.env'}: cannot read ${path} (${reason})`]);
  }
  delete parsed.ENV_FILE; // the file does not choose itself
  const fromFile = new Set(Object.keys(parsed).filter((name) => env[name] === undefined));
  return { values: { ...parsed, ...env }, file: path, fromFile };
}

/** Parses the environment; throws ConfigError listing every problem. */
export function loadConfig(env: EnvironmentValues = process.env, source?: Pick<Environment, 'file' | 'fromFile'>): Config {
  const problems: string[] = [];
  const raw: Record<string, unknown> = {};
  const where = (name: string) => (source?.file !== undefined && source.fromFile.has(name) ? ` (set in ${source.file})` : '');
  for (const [name, spec] of Object.entries(VARIABLES) as unknown as Array<[Name, VariableSpec]>) {
    const text = env[name];
    if (text === undefined || text.trim() === '') {
      raw[name] = spec.default;
      continue;
    }
    const value = Value.Convert(spec.schema, text.trim());
    if (!Value.Check(spec.schema, value)) {
      const first = Value.Errors(spec.schema, value).First();
      const shown = spec.secret ? '' : ` (got "${text.replace(/\s+/g, ' ')}")`;
      problems.push(`${name}: ${describe(spec.schema, first?.message)}${shown}${where(name)}`);
      continue;
    }
    const extra = spec.check?.(value);
    if (extra !== undefined) problems.push(`${name}: ${extra}${where(name)}`);
    raw[name] = value;
  }
  const settings = raw as RawSettings;
  const snowflake = snowflakeSettings(settings, problems);
  if (settings.AUTO_ENQUEUE_SOURCE === 'stream' && snowflake === undefined) {
    // DuckDB has no streams and no change tracking; the embedded engine is one process, so the scan is cheap there.
    problems.push(`AUTO_ENQUEUE_SOURCE: 'stream' needs Snowflake mode (set SNOWFLAKE_ACCOUNT); the embedded engine has no streams, use 'scan'${where('AUTO_ENQUEUE_SOURCE')}`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    host: settings.HOST,
    port: settings.PORT,
    dataDir: settings.DATA_DIR,
    logLevel: settings.LOG_LEVEL,
    apiToken: settings.API_TOKEN,
    apiAuthScope: settings.API_AUTH_SCOPE,
    corsOrigins: parseOrigins(settings.CORS_ORIGINS) ?? [],
    latencyScale: settings.LATENCY_SCALE,
    enrichmentEnabled: settings.ENRICHMENT_ENABLED,
    pollCron: settings.POLL_CRON,
    discoveryPollCron: settings.DISCOVERY_POLL_CRON,
    autoEnqueue: settings.AUTO_ENQUEUE,
    autoEnqueueLookBackMs: settings.AUTO_ENQUEUE_LOOKBACK_HOURS * 3_600_000,
    autoEnqueueSource: settings.AUTO_ENQUEUE_SOURCE,
    cleanupCron: settings.CLEANUP_CRON,
    maxConcurrentJobs: settings.MAX_CONCURRENT_JOBS,
    claimBatchSize: settings.CLAIM_BATCH_SIZE,
    maxAttempts: settings.MAX_ATTEMPTS,
    leaseMs: settings.LEASE_SECONDS * 1000,
    deadlineMs: settings.DEADLINE_HOURS * 3_600_000,
    retentionDays: settings.RETENTION_DAYS,
    shutdownGraceMs: settings.SHUTDOWN_GRACE_SECONDS * 1000,
    typeTimeoutMs: settings.TYPE_TIMEOUT_SECONDS * 1000,
    writeCoalesceMs: settings.WRITE_COALESCE_SECONDS * 1000,
    statsCacheMs: settings.STATS_CACHE_SECONDS * 1000,
    readCacheMs: settings.READ_CACHE_SECONDS * 1000,
    ws: {
      heartbeatMs: Math.round(settings.WS_HEARTBEAT_SECONDS * 1000),
      maxBufferedBytes: settings.WS_MAX_BUFFERED_KB * 1024,
      queueStatsPushMs: Math.round(settings.QUEUE_STATS_PUSH_SECONDS * 1000),
    },
    bufferMinutes: {
      queryHistory: settings.BUFFER_QUERY_HISTORY_MINUTES,
      queryInsights: settings.BUFFER_QUERY_INSIGHTS_MINUTES,
      accountUsage3h: settings.BUFFER_ACCOUNT_USAGE_3H_MINUTES,
    },
    snowflake,
  };
}

function snowflakeSettings(settings: RawSettings, problems: string[]): SnowflakeSettings | undefined {
  if (settings.SNOWFLAKE_ACCOUNT === undefined) return undefined;
  if (settings.SNOWFLAKE_USER === undefined) problems.push('SNOWFLAKE_USER: required when SNOWFLAKE_ACCOUNT is set');
  const hasPassword = settings.SNOWFLAKE_PASSWORD !== undefined;
  const hasKey = settings.SNOWFLAKE_PRIVATE_KEY_PATH !== undefined;
  if (!hasPassword && !hasKey) {
    problems.push('SNOWFLAKE_PASSWORD or SNOWFLAKE_PRIVATE_KEY_PATH: one is required when SNOWFLAKE_ACCOUNT is set');
  }
  if (hasPassword && hasKey) {
    problems.push('SNOWFLAKE_PASSWORD and SNOWFLAKE_PRIVATE_KEY_PATH: set only one authentication method');
  }
  return {
    account: settings.SNOWFLAKE_ACCOUNT,
    user: settings.SNOWFLAKE_USER ?? '',
    password: settings.SNOWFLAKE_PASSWORD,
    privateKeyPath: settings.SNOWFLAKE_PRIVATE_KEY_PATH,
    privateKeyPassphrase: settings.SNOWFLAKE_PRIVATE_KEY_PASSPHRASE,
    role: settings.SNOWFLAKE_ROLE,
    warehouse: settings.SNOWFLAKE_WAREHOUSE,
    database: settings.RESULTS_DATABASE,
    schema: settings.RESULTS_SCHEMA,
    host: settings.SNOWFLAKE_HOST,
    accessUrl: settings.SNOWFLAKE_ACCESS_URL,
    poolSize: settings.SNOWFLAKE_POOL_SIZE,
    statementTimeoutMs: settings.SNOWFLAKE_STATEMENT_TIMEOUT_SECONDS * 1000,
    writeCarrier: settings.SNOWFLAKE_WRITE_CARRIER,
  };
}

/** CORS origins as a comma-separated list or a JSON array of strings; undefined when neither. */
function parseOrigins(text: string): string[] | undefined {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    try {
      const list: unknown = JSON.parse(trimmed);
      if (!Array.isArray(list) || !list.every((origin) => typeof origin === 'string')) return undefined;
      return list.map((origin) => origin.trim()).filter((origin) => origin !== '');
    } catch {
      return undefined;
    }
  }
  return trimmed.split(',').map((origin) => origin.trim()).filter((origin) => origin !== '');
}

function describe(schema: TSchema, fallback: string | undefined): string {
  const s = schema as Record<string, unknown>;
  if (s.type === 'integer') return `must be an integer${range(s)}`;
  if (s.type === 'number') return `must be a number${range(s)}`;
  if (s.type === 'boolean') return 'must be true or false';
  if (Array.isArray(s.anyOf)) {
    return `must be one of ${(s.anyOf as Array<{ const: unknown }>).map((option) => String(option.const)).join(', ')}`;
  }
  if (typeof s.pattern === 'string') return `${typeof s.description === 'string' ? `must be ${s.description}` : 'has the wrong form'}`;
  if (typeof s.minLength === 'number' && s.minLength > 1) return `must be at least ${s.minLength} characters`;
  return fallback ?? 'is invalid';
}

function range(s: Record<string, unknown>): string {
  const low = s.minimum ?? s.exclusiveMinimum;
  const high = s.maximum;
  if (low === undefined && high === undefined) return '';
  if (s.exclusiveMinimum !== undefined) return ` above ${String(low)}${high === undefined ? '' : ` and at most ${String(high)}`}`;
  if (low !== undefined && high !== undefined) return ` from ${String(low)} to ${String(high)}`;
  return low !== undefined ? ` of at least ${String(low)}` : ` of at most ${String(high)}`;
}
