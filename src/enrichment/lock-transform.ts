// LOCK_WAIT_HISTORY rows of one test → LOCK_CONTENTION_EVENTS rows (one per wait row and blocker) and the
// TEST_RESULTS summary over distinct waits. Pure.
//
// Documented facts this follows (spec/sources.md): each row is one waiting transaction; for hybrid tables
// BLOCKER_QUERIES has one element and several blockers give several rows; ACQUIRED_AT is when the *holder*
// acquired the lock, so ACQUIRED_AT − REQUESTED_AT is not the wait (it can be negative). The wait duration is
// the waiting query's TRANSACTION_BLOCKED_TIME from QUERY_HISTORY, when known.

export interface LockSourceRow {
  QUERY_ID: string;
  TRANSACTION_ID: number | string | null;
  REQUESTED_AT: Date;
  ACQUIRED_AT: Date | null;
  LOCK_TYPE: string;
  OBJECT_ID: number | string | null;
  OBJECT_NAME: string | null;
  SCHEMA_NAME: string | null;
  DATABASE_NAME: string | null;
  BLOCKER_QUERIES: unknown;
}

export interface LockEvent {
  lockTransactionId: number | string | null;
  blockingTransactionId: number | string | null;
  blockingQueryId: string | null;
  requestedAt: Date;
  lockAcquiredAt: Date | null;
  waitDurationMs: number | null;
  lockType: string;
  objectId: number | string | null;
  objectName: string | null;
  schemaName: string | null;
  databaseName: string | null;
  queryId: string;
  rawEvent: LockSourceRow;
}

export interface LockSummary {
  /** Distinct waits (rows of the view collapsed over blockers). */
  waitCount: number;
  /** Σ TRANSACTION_BLOCKED_TIME over the distinct waiting queries whose time is known; null when none is. */
  totalMs: number | null;
  maxMs: number | null;
  /** Waiting queries whose blocked time QUERY_HISTORY did not provide. */
  waitsWithoutDuration: number;
}

interface Blocker {
  is_snowflake?: boolean;
  query_id?: string | null;
  transaction_id?: number | string | null;
}

function blockersOf(value: unknown): Blocker[] {
  if (Array.isArray(value)) return value.filter((item): item is Blocker => typeof item === 'object' && item !== null);
  return [];
}

const emptyToNull = <T>(value: T | '' | undefined | null): T | null => (value === '' || value === undefined ? null : value);

/**
 * @param rows lock wait rows already restricted to the test (its query ids and time window)
 * @param blockedTimeByQuery TRANSACTION_BLOCKED_TIME (ms) of the waiting queries, from QUERY_HISTORY
 */
export function transformLocks(
  rows: readonly LockSourceRow[],
  blockedTimeByQuery: ReadonlyMap<string, number>,
): { events: LockEvent[]; summary: LockSummary } {
  const waitsPerQuery = new Map<string, Set<string>>();
  for (const row of rows) {
    const waitKey = `${row.TRANSACTION_ID ?? ''}@${row.REQUESTED_AT.getTime()}`;
    const set = waitsPerQuery.get(row.QUERY_ID) ?? new Set<string>();
    set.add(waitKey);
    waitsPerQuery.set(row.QUERY_ID, set);
  }
  // A query's blocked time can be given to its wait only when it waited once; several waits share one total.
  const durationFor = (queryId: string) =>
    (waitsPerQuery.get(queryId)?.size ?? 0) === 1 ? (blockedTimeByQuery.get(queryId) ?? null) : null;

  const events: LockEvent[] = [];
  const ordered = [...rows].sort((a, b) => a.REQUESTED_AT.getTime() - b.REQUESTED_AT.getTime() || a.QUERY_ID.localeCompare(b.QUERY_ID));
  for (const row of ordered) {
    const blockers = blockersOf(row.BLOCKER_QUERIES);
    const base = {
      lockTransactionId: row.TRANSACTION_ID,
      requestedAt: row.REQUESTED_AT,
      lockAcquiredAt: row.ACQUIRED_AT,
      waitDurationMs: durationFor(row.QUERY_ID),
      lockType: row.LOCK_TYPE.toUpperCase(),
      objectId: row.OBJECT_ID,
      objectName: row.OBJECT_NAME,
      schemaName: row.SCHEMA_NAME,
      databaseName: row.DATABASE_NAME,
      queryId: row.QUERY_ID,
      rawEvent: row,
    };
    if (blockers.length === 0) events.push({ ...base, blockingTransactionId: null, blockingQueryId: null });
    for (const blocker of blockers) {
      events.push({
        ...base,
        blockingTransactionId: emptyToNull(blocker.transaction_id),
        blockingQueryId: emptyToNull(blocker.query_id),
      });
    }
  }

  const waitingQueries = [...waitsPerQuery.keys()];
  const known = waitingQueries.map((queryId) => blockedTimeByQuery.get(queryId)).filter((ms): ms is number => ms !== undefined);
  const summary: LockSummary = {
    waitCount: [...waitsPerQuery.values()].reduce((acc, set) => acc + set.size, 0),
    totalMs: known.length > 0 ? known.reduce((a, b) => a + b, 0) : null,
    maxMs: known.length > 0 ? Math.max(...known) : null,
    waitsWithoutDuration: waitingQueries.length - known.length,
  };
  return { events, summary };
}
