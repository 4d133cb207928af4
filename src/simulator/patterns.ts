// The statements a simulated FlakeBench test runs, per family of table type. The parameterized hash is a
// hash of the statement text, so every test of a table type shares its hashes (as in Snowflake, where the
// same statement from different tests has the same QUERY_PARAMETERIZED_HASH): only tags and query ids
// tell tests apart.
import { createHash } from 'node:crypto';
import type { TableType } from '../queue/plan.js';

export interface QueryPattern {
  /** FlakeBench's operation label (QUERY_EXECUTIONS.QUERY_KIND). */
  kind: string;
  text: string;
  queryType: 'SELECT' | 'UPDATE' | 'INSERT';
  /** Median execution time in ms before the shape is applied. */
  medianMs: number;
  weight: number;
  /** Touches only hybrid tables: short runs are missing from QUERY_HISTORY. */
  hybridOnly: boolean;
  /** Row-lock contention (hybrid updates). */
  contention: boolean;
  /** Chance of spilling (standard tables). */
  spillChance: number;
  partitionsTotal: number;
  /** Insight type ids this statement can earn, with their chance per execution (standard tables only). */
  insights: ReadonlyArray<{ type: string; topic: string; chance: number }>;
  hash: string;
}

export type TableFamily = 'hybrid' | 'standard' | 'postgres';

export function familyOf(tableType: TableType): TableFamily {
  if (tableType === 'HYBRID' || tableType === 'UNISTORE') return 'hybrid';
  if (tableType === 'POSTGRES') return 'postgres';
  return 'standard';
}

export function targetTableOf(tableType: TableType): string {
  return `FB_${tableType}_ORDERS`;
}

function pattern(p: Omit<QueryPattern, 'hash'>): QueryPattern {
  return { ...p, hash: createHash('sha256').update(p.text).digest('hex').slice(0, 32) };
}

export function patternsFor(tableType: TableType): QueryPattern[] {
  const table = targetTableOf(tableType);
  if (familyOf(tableType) === 'hybrid') {
    const base = { spillChance: 0, partitionsTotal: 0, insights: [] };
    return [
      pattern({ ...base, kind: 'POINT_LOOKUP', text: `SELECT * FROM ${table} WHERE O_ID = ?`, queryType: 'SELECT', medianMs: 4, weight: 50, hybridOnly: true, contention: false }),
      pattern({ ...base, kind: 'RANGE_SCAN', text: `SELECT * FROM ${table} WHERE O_ID BETWEEN ? AND ?`, queryType: 'SELECT', medianMs: 18, weight: 20, hybridOnly: true, contention: false }),
      pattern({ ...base, kind: 'UPDATE_BY_KEY', text: `UPDATE ${table} SET O_AMOUNT = O_AMOUNT + ? WHERE O_ID = ?`, queryType: 'UPDATE', medianMs: 7, weight: 20, hybridOnly: true, contention: true }),
      pattern({ ...base, kind: 'INSERT', text: `INSERT INTO ${table} (O_ID, O_AMOUNT) VALUES (?, ?)`, queryType: 'INSERT', medianMs: 6, weight: 8, hybridOnly: true, contention: false }),
      pattern({ ...base, kind: 'JOIN_DIMENSION', text: `SELECT o.*, c.NAME FROM ${table} o JOIN FB_CUSTOMERS c ON c.C_ID = o.C_ID WHERE o.O_ID = ?`, queryType: 'SELECT', medianMs: 140, weight: 2, hybridOnly: false, contention: false, partitionsTotal: 40 }),
    ];
  }
  const base = { hybridOnly: false, contention: false };
  return [
    pattern({ ...base, kind: 'POINT_LOOKUP', text: `SELECT * FROM ${table} WHERE O_ID = ?`, queryType: 'SELECT', medianMs: 180, weight: 40, spillChance: 0, partitionsTotal: 1200,
      insights: [{ type: 'QUERY_INSIGHT_SEARCH_OPTIMIZATION_USED', topic: 'TABLE_SCAN', chance: 0.01 }] }),
    pattern({ ...base, kind: 'RANGE_SCAN', text: `SELECT * FROM ${table} WHERE O_DATE BETWEEN ? AND ?`, queryType: 'SELECT', medianMs: 450, weight: 30, spillChance: 0, partitionsTotal: 1200,
      insights: [{ type: 'QUERY_INSIGHT_UNSELECTIVE_FILTER', topic: 'TABLE_SCAN', chance: 0.02 }] }),
    pattern({ ...base, kind: 'AGGREGATION', text: `SELECT C_ID, SUM(O_AMOUNT) FROM ${table} GROUP BY C_ID`, queryType: 'SELECT', medianMs: 1800, weight: 15, spillChance: 0.05, partitionsTotal: 1200,
      insights: [{ type: 'QUERY_INSIGHT_INEFFICIENT_AGGREGATE', topic: 'AGGREGATION', chance: 0.03 }] }),
    pattern({ ...base, kind: 'JOIN', text: `SELECT * FROM ${table} o JOIN FB_LINEITEMS l ON l.O_ID = o.O_ID WHERE o.O_DATE = ?`, queryType: 'SELECT', medianMs: 2600, weight: 10, spillChance: 0.02, partitionsTotal: 5400,
      insights: [{ type: 'QUERY_INSIGHT_EXPLODING_JOIN', topic: 'JOIN', chance: 0.04 }] }),
    pattern({ ...base, kind: 'UPDATE', text: `UPDATE ${table} SET O_STATUS = ? WHERE O_ID = ?`, queryType: 'UPDATE', medianMs: 900, weight: 5, spillChance: 0, partitionsTotal: 1200, insights: [] }),
  ];
}

/**
 * Insight types a perfect enrichment rates HIGH (spec/sources.md: remote spillage, exploding or condition-less
 * joins). Kept apart from the processor's own table on purpose: the truth must not come from the code under test.
 */
export const HIGH_SEVERITY_INSIGHT_TYPES: ReadonlySet<string> = new Set([
  'QUERY_INSIGHT_REMOTE_SPILLAGE',
  'QUERY_INSIGHT_EXPLODING_JOIN',
  'QUERY_INSIGHT_NESTED_EXPLODING_JOIN',
  'QUERY_INSIGHT_JOIN_WITH_NO_JOIN_CONDITION',
]);
