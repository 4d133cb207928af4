// The claim fence: a job belongs to whoever holds the claim token written on its queue row, and every
// write made on the strength of a claim carries this condition, so a claim that was taken over (another
// instance rescued an expired lease, or won a claim race that Snowflake's READ COMMITTED let both sides
// "win", see claim.ts) writes nothing. Evaluated by each statement when it runs, i.e. on the latest
// committed row.
import type { Fence } from '../enrichment/types.js';
import { ROW_FENCE_SQL } from '../db/row-set.js';
import type { BindValue, Statement } from '../db/warehouse.js';

/** Binds: [jobId, claimId]. */
export const FENCE_SQL = 'EXISTS (SELECT 1 FROM DELAYED_ENRICHMENT_QUEUE WHERE JOB_ID = ? AND CLAIM_ID = ?)';

export function fenceOf(jobId: string, claimId: string): Fence {
  return { sql: FENCE_SQL, binds: [jobId, claimId] };
}

/**
 * Whether a statement carries the fence (the processor refuses module writes that do not): the fence with its
 * binds, or a row-set statement fenced per row (db/row-set.ts) whose every row names the fence's job and claim.
 */
export function isFenced(statement: Statement, fence: Fence): boolean {
  if (statement.rowsBind !== undefined && statement.sql.includes(ROW_FENCE_SQL)) return rowsCarry(statement.binds?.[statement.rowsBind], fence);
  if (!statement.sql.includes(FENCE_SQL)) return false;
  const binds = statement.binds ?? [];
  return binds.some((value, index) => value === fence.binds[0] && binds[index + 1] === fence.binds[1]);
}

function rowsCarry(rows: BindValue | undefined, fence: Fence): boolean {
  if (typeof rows !== 'string') return false;
  const parsed: unknown = JSON.parse(rows);
  return (
    Array.isArray(parsed) &&
    parsed.every((row: unknown) => typeof row === 'object' && row !== null && (row as Record<string, unknown>).job === fence.binds[0] && (row as Record<string, unknown>).claim === fence.binds[1])
  );
}
