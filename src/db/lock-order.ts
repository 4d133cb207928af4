// The one order in which a transaction may first write the service's tables. On Snowflake, UPDATE, DELETE
// and MERGE lock a standard table until COMMIT or ROLLBACK, and two transactions that take the same two
// locks in opposite orders deadlock: Snowflake aborts one statement, and otherwise each waits up to
// LOCK_TIMEOUT (docs.snowflake.com/en/sql-reference/transactions, "Resource locking"). Every transaction
// therefore takes its first write to each table in this order:
//   1. DELAYED_ENRICHMENT_QUEUE   the job row (a processor's fenced UPDATE, enqueue's lock, an operation's write)
//   2. the enrichment type tables QUERY_EXECUTIONS, AGGREGATE_*_METRICS, LOCK_CONTENTION_EVENTS, ... (any other table)
//   3. TEST_RESULTS               FlakeBench's row: the summary columns and statuses
//   4. ENRICHMENT_EVENTS          the outbox, last
// A later statement may write a table again (the release of a claim is the queue UPDATE that ends a
// batch): its lock is already held. test/lock-order.test.ts records every transaction the flows send
// and checks it against lockOrderViolation().

export const LOCK_ORDER = ['DELAYED_ENRICHMENT_QUEUE', '(enrichment type tables)', 'TEST_RESULTS', 'ENRICHMENT_EVENTS'] as const;

/** The table a DML statement writes (upper case), or undefined for a read or anything else. */
export function writtenTable(sql: string): string | undefined {
  const match = /^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|MERGE\s+INTO)\s+([A-Za-z_][\w$.]*)/i.exec(sql);
  return match ? (match[1] as string).toUpperCase().split('.').pop() : undefined;
}

function rank(table: string): number {
  if (table === 'DELAYED_ENRICHMENT_QUEUE') return 0;
  if (table === 'TEST_RESULTS') return 2;
  if (table === 'ENRICHMENT_EVENTS') return 3;
  return 1;
}

/**
 * Why the transaction's statements break LOCK_ORDER (a table first written after one ranked later), or
 * undefined when they keep it.
 */
export function lockOrderViolation(statements: readonly string[]): string | undefined {
  const taken: string[] = [];
  for (const sql of statements) {
    const table = writtenTable(sql);
    if (table === undefined || taken.includes(table)) continue;
    const later = taken.find((held) => rank(held) > rank(table));
    if (later !== undefined) return `${table} is first written after ${later} (order: ${LOCK_ORDER.join(' → ')}; taken so far: ${taken.join(', ')})`;
    taken.push(table);
  }
  return undefined;
}
