// Start-up permission probe: one zero-row query per ACCOUNT_USAGE view, with a time predicate (never
// scan a view unbounded). The result goes to /health; a view that cannot be read ends the jobs of its
// types with that reason (degraded mode) instead of retrying them.
import { sqlSample } from '../db/sql-registry.js';
import type { Warehouse } from '../db/warehouse.js';
import type { ViewProbe } from '../health.js';
import { SOURCE_VIEWS, sourceViewName, type SourceViewContract } from '../sources/account-usage.js';
import { classifyError } from './outcomes.js';

export function probeStatement(view: SourceViewContract): string {
  return `SELECT 1 AS OK FROM ${sourceViewName(view.name)} WHERE ${view.timeColumn} >= CAST(? AS TIMESTAMP_NTZ) LIMIT 0`;
}

for (const view of SOURCE_VIEWS) sqlSample(`processor.probe.${view.name}`, probeStatement(view));

export async function probeViews(warehouse: Warehouse, now: Date, timeoutMs = 30_000): Promise<ViewProbe[]> {
  const results: ViewProbe[] = [];
  for (const view of SOURCE_VIEWS) {
    const checked = now.toISOString();
    try {
      await warehouse.query(probeStatement(view), [now], { timeoutMs });
      results.push({ view: view.name, readable: true, checked_at: checked });
    } catch (error) {
      results.push({ view: view.name, readable: false, checked_at: checked, error: classifyError(error).message });
    }
  }
  return results;
}
