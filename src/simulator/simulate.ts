// One simulated FlakeBench test (or multi-worker run): generate the workload, derive FlakeBench's rows and
// the ACCOUNT_USAGE rows, write them all in one transaction, and return the ground truth.
import { randomUUID } from 'node:crypto';
import type { TableType } from '../queue/plan.js';
import { SOURCE_VIEWS, type SourceViewName } from '../sources/account-usage.js';
import type { TransactionScope, Warehouse } from '../db/warehouse.js';
import { bulkInsertRows, catalogColumns, type LoadColumn } from './bulk-insert.js';
import { familyOf } from './patterns.js';
import { buildRows, type CreditWindow, type SimulatedRows } from './rows.js';
import { truthOf, type TestTruth } from './truth.js';
import { baseTableOf, duckDbTypeOf, SIMULATED_RUN_COLUMN, VISIBILITY_COLUMN } from './view-tables.js';
import type { VisibilityOptions } from './visibility.js';
import { generateWorkload, type Shape, type TagForm, type Workload, type WorkloadParams } from './workload.js';

export interface SimulationRequest {
  tableType: TableType;
  shape?: Shape;
  seed?: number;
  durationMinutes?: number;
  warmupMinutes?: number;
  sessions?: number;
  workers?: number;
  ratePerSession?: number;
  endedMinutesAgo?: number;
  lockContention?: boolean;
  background?: boolean;
  jitter?: number;
  lateMinutes?: Partial<Record<SourceViewName, number>>;
  /** Session tag form (default `test_id`, FlakeBench's; `run_id` is the seed's planned form). */
  tagForm?: TagForm;
  /** Makes ids reproducible too (default: random, so repeated simulations never collide). */
  idSalt?: string;
}

export interface SimulationPlan {
  workload: Workload;
  rows: SimulatedRows;
}

export interface SimulatedTestResult {
  test_id: string;
  truth: TestTruth;
}

export interface SimulationResult {
  run_id: string;
  seed: number;
  tests: SimulatedTestResult[];
  rows: Record<string, number>;
  test_start_time: Date;
  test_end_time: Date;
  table_type: TableType;
  target_table: string;
}

export function workloadParams(request: SimulationRequest): WorkloadParams {
  const shape = request.shape ?? 'lognormal';
  const durationMinutes = request.durationMinutes ?? 10;
  const family = familyOf(request.tableType);
  return {
    tableType: request.tableType,
    shape,
    seed: request.seed ?? Math.floor(Math.random() * 2 ** 31),
    durationMinutes,
    warmupMinutes: request.warmupMinutes ?? Math.min(2, durationMinutes / 5),
    sessions: request.sessions ?? (shape === 'many_sessions' ? 64 : 8),
    workers: request.workers ?? 1,
    ratePerSession: request.ratePerSession ?? (family === 'hybrid' ? 4 : 0.5),
    endedMinutesAgo: request.endedMinutesAgo ?? 0,
    lockContention: request.lockContention ?? true,
    background: request.background ?? true,
    tagForm: request.tagForm ?? 'test_id',
  };
}

/** A simulation is held in memory before it is written: this bounds it (about 10x the 30-minute, 32-session test). */
export const MAX_SIMULATED_STATEMENTS = 2_000_000;

/** Statements the test's sessions will run, about (background traffic excluded). */
export function estimatedStatements(params: WorkloadParams): number {
  return Math.round(params.sessions * params.durationMinutes * 60 * params.ratePerSession);
}

/** Pure: the same request, time and salt give the same rows. */
export function planSimulation(request: SimulationRequest, now: Date, latencyScale: number): SimulationPlan {
  const params = workloadParams(request);
  const visibility: VisibilityOptions = { latencyScale, jitter: request.jitter ?? 0, lateMinutes: request.lateMinutes ?? {} };
  const workload = generateWorkload(params, now, request.idSalt ?? randomUUID());
  return { workload, rows: buildRows(workload, visibility) };
}

export function viewColumns(view: SourceViewName): LoadColumn[] {
  const contract = SOURCE_VIEWS.find((v) => v.name === view);
  if (!contract) throw new Error(`unknown view ${view}`);
  return [
    ...contract.columns.map((column) => ({ name: column.name, duckType: duckDbTypeOf(column) })),
    { name: VISIBILITY_COLUMN, duckType: 'TIMESTAMP' },
  ];
}

// Embedded-only statements on the simulated base table (never sent to Snowflake, so not in the SQL registry).
const HYBRID_USAGE = 'SIMULATED_ACCOUNT_USAGE.HYBRID_TABLE_USAGE_HISTORY';
const FIND_WINDOW = `SELECT CREDITS_USED, VISIBLE_AT FROM ${HYBRID_USAGE} WHERE START_TIME = CAST(? AS TIMESTAMP) AND END_TIME = CAST(? AS TIMESTAMP)`;
const ADD_TO_WINDOW = `UPDATE ${HYBRID_USAGE} SET CREDITS_USED = CREDITS_USED + CAST(? AS DECIMAL(38,9)), VISIBLE_AT = GREATEST(VISIBLE_AT, CAST(? AS TIMESTAMP))
WHERE START_TIME = CAST(? AS TIMESTAMP) AND END_TIME = CAST(? AS TIMESTAMP)`;

/** Account-level usage has one row per window: add this run's credits to a window another run created. */
async function writeCreditWindows(scope: TransactionScope, windows: readonly CreditWindow[]): Promise<CreditWindow[]> {
  const merged: CreditWindow[] = [];
  const fresh: Record<string, unknown>[] = [];
  for (const window of windows) {
    const start = new Date(window.start);
    const end = new Date(window.end);
    const existing = await scope.query<{ CREDITS_USED: number }>(FIND_WINDOW, [start, end]);
    if (existing.length > 0) {
      await scope.execute(ADD_TO_WINDOW, [window.credits, window.visibleAt, start, end]);
      merged.push({ ...window, credits: Math.round((Number(existing[0]?.CREDITS_USED) + window.credits) * 1e9) / 1e9 });
    } else {
      fresh.push({ OBJECT_TYPE: 'ACCOUNT', OBJECT_ID: null, OBJECT_NAME: null, START_TIME: start, END_TIME: end, CREDITS_USED: window.credits, VISIBLE_AT: window.visibleAt });
      merged.push(window);
    }
  }
  await bulkInsertRows(scope, HYBRID_USAGE, viewColumns('HYBRID_TABLE_USAGE_HISTORY'), fresh);
  return merged;
}

/** Writes a plan in one transaction; returns the merged credit windows and row counts. */
export function writeSimulation(warehouse: Warehouse, plan: SimulationPlan): Promise<{ windows: CreditWindow[]; rows: Record<string, number> }> {
  return writeSimulations(warehouse, [plan]);
}

/** Account-level windows of several plans as one list: plans sharing a window add their credits to it. */
function combinedCreditWindows(plans: readonly SimulationPlan[]): CreditWindow[] {
  if (plans.length === 1) return plans[0]!.rows.creditWindows;
  const byWindow = new Map<string, CreditWindow>();
  for (const window of plans.flatMap((plan) => plan.rows.creditWindows)) {
    const key = `${window.start}/${window.end}`;
    const seen = byWindow.get(key);
    byWindow.set(
      key,
      seen === undefined
        ? { ...window }
        : { ...seen, credits: Math.round((seen.credits + window.credits) * 1e9) / 1e9, visibleAt: seen.visibleAt > window.visibleAt ? seen.visibleAt : window.visibleAt },
    );
  }
  return [...byWindow.values()];
}

/**
 * Writes several plans in one transaction (a transaction costs far more than its rows on DuckDB, so seeding
 * thousands of tests goes plan batch by plan batch); returns the merged credit windows and row counts.
 */
export async function writeSimulations(
  warehouse: Warehouse,
  plans: readonly SimulationPlan[],
): Promise<{ windows: CreditWindow[]; rows: Record<string, number> }> {
  const testColumns = await catalogColumns(warehouse, 'main', 'TEST_RESULTS');
  const executionColumns = await catalogColumns(warehouse, 'main', 'QUERY_EXECUTIONS');
  const only = (columns: LoadColumn[], sample: Record<string, unknown> | undefined) =>
    columns.filter((column) => sample !== undefined && column.name in sample);
  const all = <T>(pick: (rows: SimulatedRows) => T[]): T[] => plans.flatMap((plan) => pick(plan.rows));
  const testRows = all((rows) => rows.TEST_RESULTS);
  const executionRows = all((rows) => rows.QUERY_EXECUTIONS);
  const creditWindows = combinedCreditWindows(plans);
  return warehouse.withTransaction(async (scope) => {
    const rows: Record<string, number> = {};
    rows.TEST_RESULTS = await bulkInsertRows(scope, 'main.TEST_RESULTS', only(testColumns, testRows[0]), testRows);
    rows.QUERY_EXECUTIONS = await bulkInsertRows(scope, 'main.QUERY_EXECUTIONS', only(executionColumns, executionRows[0]), executionRows);
    for (const view of SOURCE_VIEWS) {
      if (view.name === 'HYBRID_TABLE_USAGE_HISTORY') continue;
      // Each row carries its run, so the demo's pruner can remove exactly a pruned run's rows.
      const viewRows = plans.flatMap((plan) => plan.rows.views[view.name].map((row) => ({ ...row, [SIMULATED_RUN_COLUMN]: plan.workload.runId })));
      rows[view.name] = await bulkInsertRows(scope, baseTableOf(view), [...viewColumns(view.name), { name: SIMULATED_RUN_COLUMN, duckType: 'VARCHAR' }], viewRows);
    }
    const windows = await writeCreditWindows(scope, creditWindows);
    rows.HYBRID_TABLE_USAGE_HISTORY = creditWindows.length;
    return { windows, rows };
  });
}

export async function simulate(warehouse: Warehouse, request: SimulationRequest, now: Date, latencyScale: number): Promise<SimulationResult> {
  const plan = planSimulation(request, now, latencyScale);
  const { windows, rows } = await writeSimulation(warehouse, plan);
  const hybrid = familyOf(plan.workload.tableType) === 'hybrid';
  const first = plan.workload.tests[0];
  if (!first) throw new Error('a simulation has at least one test');
  return {
    run_id: plan.workload.runId,
    seed: plan.workload.params.seed,
    tests: plan.workload.tests.map((test, index) => ({ test_id: test.testId, truth: truthOf(plan.workload, index, windows, hybrid) })),
    rows,
    test_start_time: new Date(first.start),
    test_end_time: new Date(first.end),
    table_type: plan.workload.tableType,
    target_table: plan.workload.targetTable,
  };
}
