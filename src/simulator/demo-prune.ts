// The demo's pruning: `npm run demo` simulates a test every few seconds, each with thousands of executions
// and their ACCOUNT_USAGE rows, so a demo left running would grow its database file without end (about
// 19 MB a minute). Once a simulated test's job has been terminal for DEMO_KEEP_MINUTES, everything of it
// goes: FlakeBench's rows, the service's results, events and job, and the simulated view rows its run wrote
// (shared rows of no run stay while a remaining test's window needs them). Embedded-only and demo-only: never
// sent to Snowflake (not in the SQL registry), and never run by the service itself, which keeps a user's
// results until RETENTION_DAYS.
import type { Logger } from '../logger.js';
import { TERMINAL_STATUSES } from '../queue/job-state.js';
import type { Services } from '../services.js';
import { SOURCE_VIEWS } from '../sources/account-usage.js';
import { baseTableOf, SIMULATED_RUN_COLUMN } from './view-tables.js';

/** Tables holding rows per test: the service's results and events, then FlakeBench's own (simulated) rows. */
const PER_TEST_TABLES = ['AGGREGATE_QUERY_METRICS', 'AGGREGATE_TEST_METRICS', 'LOCK_CONTENTION_EVENTS', 'HYBRID_TABLE_CREDITS', 'QUERY_INSIGHTS_CACHE', 'ENRICHMENT_EVENTS', 'QUERY_EXECUTIONS', 'TEST_RESULTS'];

const PRUNABLE_TESTS = `SELECT TEST_ID FROM DELAYED_ENRICHMENT_QUEUE
  WHERE STATUS IN (${TERMINAL_STATUSES.map((status) => `'${status}'`).join(', ')}) AND UPDATED_AT < CAST(? AS TIMESTAMP_NTZ)`;

/**
 * A view row written by a simulated run goes once no test of that run remains. A row of no run (the account's
 * hourly hybrid usage windows, which several runs add to; replayed rows) is kept while it lies near a
 * remaining test.
 */
const NEEDED_MARGIN = "INTERVAL '2 hours'";

export interface PruneCounts {
  tests: number;
  rows: number;
}

/** One transaction: every table's rows of the prunable tests, then their jobs, then their runs' view rows. */
export async function pruneDemoTests(services: Services, keepMs: number): Promise<PruneCounts> {
  const cutoff = new Date(services.clock.now().getTime() - keepMs);
  const [count] = await services.warehouse.query(`SELECT COUNT(*) AS N FROM (${PRUNABLE_TESTS}) p`, [cutoff]);
  const tests = Number(count?.N ?? 0);
  if (tests === 0) return { tests: 0, rows: 0 };
  const statements = [
    ...PER_TEST_TABLES.map((table) => ({ sql: `DELETE FROM ${table} WHERE TEST_ID IN (${PRUNABLE_TESTS})`, binds: [cutoff] })),
    { sql: `DELETE FROM DELAYED_ENRICHMENT_QUEUE WHERE TEST_ID IN (${PRUNABLE_TESTS})`, binds: [cutoff] },
    ...SOURCE_VIEWS.flatMap((view) => [
      {
        sql: `DELETE FROM ${baseTableOf(view)} v WHERE v.${SIMULATED_RUN_COLUMN} IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM TEST_RESULTS t WHERE t.RUN_ID = v.${SIMULATED_RUN_COLUMN})`,
        binds: [],
      },
      {
        sql: `DELETE FROM ${baseTableOf(view)} v WHERE v.${SIMULATED_RUN_COLUMN} IS NULL AND NOT EXISTS (SELECT 1 FROM TEST_RESULTS t
  WHERE v.${view.timeColumn} >= t.START_TIME - ${NEEDED_MARGIN} AND v.${view.timeColumn} <= COALESCE(t.END_TIME, t.START_TIME) + ${NEEDED_MARGIN})`,
        binds: [],
      },
    ]),
  ];
  const results = await services.warehouse.transaction(statements);
  services.testReads.clear();
  return { tests, rows: results.reduce((sum, result) => sum + result.rowsAffected, 0) };
}

export interface DemoPruner {
  stop(): void;
}

/** Prunes every `everyMs`; a run still going makes the next one skip. */
export function startDemoPruner(services: Services, log: Logger, options: { keepMs: number; everyMs: number }): DemoPruner {
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    pruneDemoTests(services, options.keepMs)
      .then((counts) => {
        if (counts.tests > 0) log.info({ ...counts, keep_minutes: options.keepMs / 60_000 }, 'demo: pruned old simulated tests');
      })
      .catch((error: unknown) => log.warn({ err: error }, 'demo: pruning failed'))
      .finally(() => {
        busy = false;
      });
  }, options.everyMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
