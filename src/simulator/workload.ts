// The simulated FlakeBench workload: sessions that run the table type's statements back to back with a
// think time, over a warm-up then a measurement phase, with latencies drawn from the chosen shape. Pure:
// the same parameters (seed, anchor time, id salt) give the same executions.
//
// Two generators: `values` (seeded by the seed alone) draws every latency, error and wait, so the truth
// depends only on the seed and the parameters; `ids` (seed + salt) draws test, run and query ids, so two
// simulations with one seed do not collide in the database.
import type { TableType } from '../queue/plan.js';
import { familyOf, patternsFor, targetTableOf, type QueryPattern } from './patterns.js';
import { Random } from './random.js';

/**
 * Latency shapes. `multimodal`: a small slow mode far above the rest (a few percent of calls at 8× and 40× the
 * median, such as cache misses and remote reads), with empty gaps between the modes. `heavier_tail`: one call in
 * ten multiplied by a Pareto factor of shape 1.05 (infinite variance), against `heavy_tail`'s one in twenty at 1.3.
 */
export const SHAPES = ['lognormal', 'bimodal', 'heavy_tail', 'heavier_tail', 'multimodal', 'drift', 'many_sessions'] as const;
export type Shape = (typeof SHAPES)[number];

export interface WorkloadParams {
  tableType: TableType;
  shape: Shape;
  seed: number;
  durationMinutes: number;
  /** Warm-up part of the duration (its queries carry phase=WARMUP). */
  warmupMinutes: number;
  /** Sessions of the whole run (split over the workers). */
  sessions: number;
  /** Child tests under one run id (FlakeBench's multi-worker runs). */
  workers: number;
  /** Statements per second per session (think time between statements is exponential). */
  ratePerSession: number;
  /** The test ended this long before `now`. */
  endedMinutesAgo: number;
  /** Hybrid row-lock contention (waits; only those over ~5 s reach LOCK_WAIT_HISTORY). */
  lockContention: boolean;
  /** Unrelated traffic in the same window (other tags, other tests, look-alike tags). */
  background: boolean;
  /**
   * How sessions are tagged: `test_id` is what FlakeBench writes (`flakebench:test_id=<id>:phase=...`),
   * `run_id` the seed document's planned form (`flakebench:run_id=<run>:test_id=<id>:phase=...`).
   */
  tagForm: TagForm;
}

export const TAG_FORMS = ['test_id', 'run_id'] as const;
export type TagForm = (typeof TAG_FORMS)[number];

export interface SimError {
  code: string;
  message: string;
}

export interface BlockerQuery {
  is_snowflake: boolean;
  query_id: string;
  transaction_id: number | null;
  acquiredAt: number;
}

export interface Execution {
  /** Index into Workload.tests; -1 for background traffic. */
  test: number;
  sessionId: number;
  queryTag: string | null;
  phase: 'WARMUP' | 'RUNNING' | null;
  pattern: QueryPattern;
  queryId: string;
  executionId: string;
  /** Epoch ms. */
  start: number;
  compileMs: number;
  queuedOverloadMs: number;
  blockedMs: number;
  execMs: number;
  totalMs: number;
  clientMs: number;
  error: SimError | null;
  throttled: boolean;
  inQueryHistory: boolean;
  transactionId: number;
  partitionsScanned: number;
  partitionsTotal: number;
  bytesScanned: number;
  rowsProduced: number;
  spillLocal: number;
  spillRemote: number;
  cacheFraction: number;
  /** Set for waits LOCK_WAIT_HISTORY records (over ~5 s): one row per blocker. */
  lockWait: { requestedAt: number; blockers: BlockerQuery[] } | null;
  insight: { type: string; topic: string } | null;
}

export interface SimulatedTest {
  testId: string;
  runId: string;
  queryTagBase: string;
  start: number;
  end: number;
  warmupEnd: number;
  sessions: number;
}

export interface Workload {
  params: WorkloadParams;
  runId: string;
  tableType: TableType;
  targetTable: string;
  databaseName: string;
  schemaName: string;
  warehouseName: string;
  tests: SimulatedTest[];
  executions: Execution[];
}

/** Recorded lock waits are longer than this (LOCK_WAIT_HISTORY keeps only hybrid waits over about 5 s). */
export const RECORDED_WAIT_MS = 5000;
/** Short hybrid-only statements under this are missing from QUERY_HISTORY (unless sampled). */
export const HYBRID_SHORT_QUERY_MS = 500;

const ERRORS: readonly SimError[] = [
  { code: '000604', message: 'SQL execution canceled' },
  { code: '100038', message: "Numeric value 'n/a' is not recognized" },
  { code: '000630', message: 'Statement reached its statement or warehouse timeout of 60 second(s) and was canceled.' },
];

export function generateWorkload(params: WorkloadParams, now: Date, idSalt: string): Workload {
  const values = new Random(params.seed);
  const ids = new Random(`${params.seed}:${idSalt}`);
  const family = familyOf(params.tableType);
  const patterns = patternsFor(params.tableType);
  const weights = patterns.map((p) => p.weight);
  const end = now.getTime() - Math.round(params.endedMinutesAgo * 60_000);
  const start = end - Math.round(params.durationMinutes * 60_000);
  const warmupEnd = start + Math.round(params.warmupMinutes * 60_000);
  const runId = ids.uuid();
  const workers = Math.max(1, params.workers);
  const tests: SimulatedTest[] = [];
  for (let w = 0; w < workers; w += 1) {
    const testId = ids.uuid();
    const queryTagBase = params.tagForm === 'run_id' ? `flakebench:run_id=${runId}:test_id=${testId}` : `flakebench:test_id=${testId}`;
    const sessions = Math.ceil(params.sessions / workers);
    tests.push({ testId, runId, queryTagBase, start, end, warmupEnd, sessions });
  }

  const executions: Execution[] = [];
  let transactionCounter = 0;
  const nextTransactionId = () => 1_765_000_000_000_000 + ids.int(0, 999_999) * 1000 + (transactionCounter++ % 1000);
  const meanThinkMs = 1000 / params.ratePerSession;

  const runSession = (test: number, sessionStart: number, sessionEnd: number, tagOf: (t: number) => { tag: string | null; phase: Execution['phase'] }) => {
    const sessionId = 1_000_000_000 + ids.int(0, 999_999_999);
    let t = sessionStart + values.next() * meanThinkMs;
    while (t < sessionEnd) {
      const pattern = values.weighted(patterns, weights);
      const { tag, phase } = tagOf(t);
      const progress = (t - start) / Math.max(1, end - start);
      const execMs = Math.max(1, Math.round(drawLatency(values, params.shape, pattern.medianMs, progress)));
      const compileMs = Math.max(0, Math.round(family === 'hybrid' ? values.lognormal(1.5, 0.3) : values.lognormal(40, 0.4)));
      const throttled = family === 'hybrid' && values.chance(params.shape === 'many_sessions' ? 0.01 : 0.003);
      const queuedOverloadMs = throttled ? values.int(20, 400) : family === 'standard' && values.chance(0.02) ? values.int(100, 3000) : 0;
      let blockedMs = 0;
      if (family === 'hybrid' && pattern.contention && params.lockContention && values.chance(0.03)) {
        // Long (recorded) waits only in the measurement phase, so "the test's waits" has one meaning; background
        // traffic has them too, so attribution by the waiting query is exercised.
        const long = phase !== 'WARMUP' && values.chance(0.15);
        blockedMs = long ? Math.round(RECORDED_WAIT_MS + 200 + values.exponential(6000)) : Math.round(Math.min(4500, values.lognormal(600, 0.9)));
      }
      const error = values.chance(0.003) ? values.pick(ERRORS) : null;
      const totalMs = compileMs + queuedOverloadMs + blockedMs + execMs;
      const clientMs = totalMs + Math.max(1, Math.round(values.lognormal(family === 'hybrid' ? 3 : 15, 0.3)));
      const sampled = values.chance(0.02);
      const inQueryHistory =
        family !== 'postgres' && !(family === 'hybrid' && pattern.hybridOnly && totalMs < HYBRID_SHORT_QUERY_MS && error === null && !sampled);
      const spill = pattern.spillChance > 0 && values.chance(pattern.spillChance);
      const spillRemote = spill && values.chance(0.5) ? values.int(1, 400) * 1_048_576 : 0;
      const spillLocal = spill ? values.int(1, 2000) * 1_048_576 : 0;
      const partitionsTotal = pattern.partitionsTotal;
      const partitionsScanned = partitionsTotal === 0 ? 0 : values.int(1, partitionsTotal);
      let insight: Execution['insight'] = null;
      if (family === 'standard' && phase === 'RUNNING' && inQueryHistory) {
        if (spillRemote > 0) insight = { type: 'QUERY_INSIGHT_REMOTE_SPILLAGE', topic: 'WAREHOUSE' };
        else for (const candidate of pattern.insights) if (insight === null && values.chance(candidate.chance)) insight = { type: candidate.type, topic: candidate.topic };
      }
      const execution: Execution = {
        test,
        sessionId,
        queryTag: tag,
        phase,
        pattern,
        queryId: queryIdFrom(ids),
        executionId: ids.uuid(),
        start: Math.round(t),
        compileMs,
        queuedOverloadMs,
        blockedMs,
        execMs,
        totalMs,
        clientMs,
        error,
        throttled,
        inQueryHistory,
        transactionId: pattern.queryType === 'SELECT' ? 0 : nextTransactionId(),
        partitionsScanned,
        partitionsTotal,
        bytesScanned: family === 'hybrid' ? values.int(1, 64) * 1024 : partitionsScanned * values.int(8, 16) * 1_048_576,
        rowsProduced: pattern.kind === 'POINT_LOOKUP' ? 1 : values.int(1, 500),
        spillLocal,
        spillRemote,
        cacheFraction: family === 'standard' ? Math.round(values.next() * 100) / 100 : 0,
        lockWait: null,
        insight,
      };
      if (blockedMs > RECORDED_WAIT_MS) {
        const requestedAt = execution.start + compileMs + queuedOverloadMs;
        const blockers: BlockerQuery[] = [];
        const count = values.weighted([1, 2, 3], [6, 3, 1]);
        for (let b = 0; b < count; b += 1) {
          // Short hybrid blockers leave their ids empty (documented); others name a statement of the run.
          const holder = executions.length > 0 && values.chance(0.6) ? executions[values.int(0, executions.length - 1)] : undefined;
          blockers.push({
            is_snowflake: false,
            query_id: holder ? holder.queryId : '',
            transaction_id: holder ? holder.transactionId || nextTransactionId() : null,
            acquiredAt: requestedAt - values.int(50, 3000),
          });
        }
        execution.lockWait = { requestedAt, blockers };
      }
      executions.push(execution);
      t += clientMs + values.exponential(meanThinkMs);
    }
  };

  tests.forEach((test, index) => {
    for (let s = 0; s < test.sessions; s += 1) {
      runSession(index, start, end, (t) =>
        t < warmupEnd ? { tag: `${test.queryTagBase}:phase=WARMUP`, phase: 'WARMUP' } : { tag: `${test.queryTagBase}:phase=RUNNING`, phase: 'RUNNING' },
      );
    }
  });

  if (params.background) {
    const first = tests[0] as SimulatedTest;
    const otherTest = ids.uuid();
    // Tags a careless filter would take for this run's: LIKE wildcards, prefixes without a delimiter.
    const lookAlikes: Array<string | null> = [
      null,
      'etl:job=nightly_load',
      `flakebench:test_id=${otherTest}:phase=RUNNING`,
      `${first.queryTagBase}0:phase=RUNNING`,
      `flakebench:run_id=${runId}0:test_id=${otherTest}:phase=RUNNING`,
    ];
    for (const tag of lookAlikes) {
      runSession(-1, start - 10 * 60_000, end + 10 * 60_000, () => ({ tag, phase: null }));
    }
  }

  return {
    params,
    runId,
    tableType: params.tableType,
    targetTable: targetTableOf(params.tableType),
    databaseName: 'FLAKEBENCH',
    schemaName: 'BENCH',
    warehouseName: family === 'hybrid' ? 'FB_HYBRID_WH' : 'FB_STANDARD_WH',
    tests,
    executions,
  };
}

function drawLatency(random: Random, shape: Shape, median: number, progress: number): number {
  switch (shape) {
    case 'lognormal':
    case 'many_sessions':
      return random.lognormal(median, 0.45);
    case 'bimodal':
      return random.chance(0.25) ? random.lognormal(median * 6, 0.25) : random.lognormal(median, 0.25);
    case 'heavy_tail':
      return random.lognormal(median, 0.35) * (random.chance(0.05) ? Math.min(200, random.pareto(1.3)) : 1);
    case 'heavier_tail':
      return random.lognormal(median, 0.35) * (random.chance(0.1) ? Math.min(1000, random.pareto(1.05)) : 1);
    case 'multimodal': {
      const mode = random.next();
      if (mode < 0.03) return random.lognormal(median * 40, 0.15);
      if (mode < 0.07) return random.lognormal(median * 8, 0.15);
      return random.lognormal(median, 0.25);
    }
    case 'drift':
      return random.lognormal(median * (1 + 2 * progress), 0.35);
  }
}

/** Snowflake-looking query id (hex groups, like 01b8c2f4-0205-8a51-0000-0004c1d2e3f5). */
function queryIdFrom(ids: Random): string {
  const h = ids.hex(24);
  return `01${h.slice(0, 6)}-${h.slice(6, 10)}-${h.slice(10, 14)}-0000-${h.slice(14, 24)}00`;
}
