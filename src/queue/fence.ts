// The claim fence: a job belongs to whoever holds the claim token written on its queue row, and every
// write made on the strength of a claim carries this condition, so a claim that was taken over (another
// instance rescued an expired lease, or won a claim race that Snowflake's READ COMMITTED let both sides
// "win", see claim.ts) writes nothing. Evaluated by each statement when it runs, i.e. on the latest
// committed row.
import type { Fence } from '../enrichment/types.js';
import type { Statement } from '../db/warehouse.js';

/** Binds: [jobId, claimId]. */
export const FENCE_SQL = 'EXISTS (SELECT 1 FROM DELAYED_ENRICHMENT_QUEUE WHERE JOB_ID = ? AND CLAIM_ID = ?)';

export function fenceOf(jobId: string, claimId: string): Fence {
  return { sql: FENCE_SQL, binds: [jobId, claimId] };
}

/** Whether a statement carries the fence (the processor refuses module writes that do not). */
export function isFenced(statement: Statement, fence: Fence): boolean {
  if (!statement.sql.includes(FENCE_SQL)) return false;
  const binds = statement.binds ?? [];
  return binds.some((value, index) => value === fence.binds[0] && binds[index + 1] === fence.binds[1]);
}
