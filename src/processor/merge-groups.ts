// Set-based writes across claims: the fenced groups of several jobs that have the same shape (the same
// row-set statements, db/row-set.ts, at the same positions) become ONE group whose row-set statements each
// write every job's rows at once: one statement per step for the whole batch instead of one per job.
//
// Why it keeps every guarantee:
// - atomic and fenced: the merged group is one group in one transaction; every row of a row-set statement
//   checks its own claim (the modules' writes are row-set statements too, enrichment/modules/write-rows.ts),
//   and a statement that is not one is kept, one per job, with its own fence;
// - a lost fence writes nothing: the merged group's statement 0 (the claims' queue UPDATE) must touch exactly
//   as many rows as it carries claims (WriteGroup.fenceRows), any other count fails the whole call and rolls
//   it back; the batcher then sends every job's group alone, where a lost fence is that job's outcome only;
// - order: each job's statements still run in its own order (position by position), so its lock order holds.
import { MAX_STATEMENT_BYTES, mergeRowSets, rowSetKey } from '../db/row-set.js';
import type { ExecuteResult, GroupResult, Statement, WriteGroup } from '../db/warehouse.js';

/** Groups sent as one: `members` are the indexes (in the caller's list) of the groups it carries. */
export interface MergedGroup {
  group: WriteGroup;
  members: number[];
  /** Per member, per statement of its own: the index of the statement in `group` that ran it. */
  positions: number[][];
  /** Indexes in `group` of the statements merged for all members. */
  shared: ReadonlySet<number>;
}

/** What must agree for two groups to merge; undefined for a group that is never merged. */
function shapeOf(group: WriteGroup): string | undefined {
  if (!group.fenced || group.separate || (group.fenceRows ?? 1) !== 1) return undefined;
  const keys = group.statements.map((statement) => rowSetKey(statement) ?? '*');
  // Statement 0 must be a row-set fence: its merged row count is what tells the claims held.
  if (keys[0] === undefined || keys[0] === '*') return undefined;
  return keys.join('\u0001');
}

function merge(groups: readonly WriteGroup[], members: number[]): MergedGroup {
  const width = groups[members[0]!]!.statements.length;
  const statements: Statement[] = [];
  const positions: number[][] = members.map(() => []);
  const shared = new Set<number>();
  for (let position = 0; position < width; position += 1) {
    const column = members.map((member) => groups[member]!.statements[position]!);
    if (column[0]!.rowsBind !== undefined) {
      statements.push(mergeRowSets(column));
      shared.add(statements.length - 1);
      for (const own of positions) own.push(statements.length - 1);
    } else {
      column.forEach((statement, index) => {
        statements.push(statement);
        positions[index]!.push(statements.length - 1);
      });
    }
  }
  return { group: { statements, fenced: true, fenceRows: members.length }, members, positions, shared };
}

/** The largest rows bind of a group's row-set statements: what the group adds to any merged statement at most. */
function rowSetBytes(group: WriteGroup): number {
  let largest = 0;
  for (const statement of group.statements) {
    const rows = statement.rowsBind === undefined ? undefined : statement.binds?.[statement.rowsBind];
    if (typeof rows === 'string') largest = Math.max(largest, Buffer.byteLength(rows));
  }
  return largest;
}

/**
 * The groups to send: groups of one shape merged (two or more), the others as they are. A merge stops at
 * MAX_STATEMENT_BYTES of rows per statement (the next group of the shape starts another), so a merged statement
 * stays as retryable on Snowflake as its builders' own.
 */
export function mergeGroups(groups: readonly WriteGroup[]): MergedGroup[] {
  const byShape = new Map<string, { members: number[]; bytes: number }>();
  const planned: Array<number[]> = [];
  groups.forEach((group, index) => {
    const shape = shapeOf(group);
    const bytes = rowSetBytes(group);
    const open = shape === undefined ? undefined : byShape.get(shape);
    if (open !== undefined && open.bytes + bytes <= MAX_STATEMENT_BYTES) {
      open.members.push(index);
      open.bytes += bytes;
      return;
    }
    const fresh = [index];
    if (shape !== undefined) byShape.set(shape, { members: fresh, bytes });
    planned.push(fresh);
  });
  return planned.map((members) =>
    members.length === 1
      ? { group: groups[members[0]!]!, members, positions: [groups[members[0]!]!.statements.map((_, index) => index)], shared: new Set<number>() }
      : merge(groups, members),
  );
}

/** Each original group's result, from the results of the merged groups as sent (same order as mergeGroups). */
export function splitResults(plan: readonly MergedGroup[], results: readonly GroupResult[], count: number): GroupResult[] {
  const out: GroupResult[] = new Array(count);
  plan.forEach((sent, index) => {
    const result = results[index]!;
    if (sent.members.length === 1) {
      out[sent.members[0]!] = result;
      return;
    }
    sent.members.forEach((member, slot) => {
      const own = sent.positions[slot]!;
      out[member] = {
        // fenceRows made the call fail unless every claim held.
        held: result.held,
        results: own.map((at, position): ExecuteResult => {
          // Statement 0 touched exactly one queue row per claim (fenceRows): this claim's is 1.
          if (position === 0) return { rowsAffected: result.held ? 1 : 0 };
          const rows = result.results[at]?.rowsAffected ?? 0;
          return sent.shared.has(at) ? { rowsAffected: rows, merged: true } : { rowsAffected: rows };
        }),
      };
    });
  });
  return out;
}
