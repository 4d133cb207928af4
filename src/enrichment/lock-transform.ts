// LOCK_WAIT_HISTORY rows of one test → LOCK_CONTENTION_EVENTS rows, one per lock wait (the seed: "one row per
// lock wait event"), their blockers, and the TEST_RESULTS summary. Pure.
//
// Documented facts this follows (spec/sources.md, docs.snowflake.com/en/sql-reference/account-usage/lock_wait_history
// and /en/user-guide/tables-hybrid-monitor-transactions): each row is one waiting transaction; on standard tables
// BLOCKER_QUERIES lists up to 20 blockers, the first being the statement the holder ran when the wait began; for
// hybrid tables it has one element and several blockers give several rows of the same wait. A wait is therefore
// (QUERY_ID, TRANSACTION_ID, REQUESTED_AT): its event row carries the first blocker in the seed's columns and
// every blocker in RAW_EVENT, plus three counts (migration 0007) that let one SQL text count unique blockers
// over all of them without FLATTEN (which DuckDB lacks): BLOCKER_COUNT, UNIDENTIFIED_BLOCKERS (no ids: Snowflake
// internal or short hybrid blockers) and FIRST_SEEN_BLOCKERS, the blockers no earlier wait of the test named,
// so that SUM(FIRST_SEEN_BLOCKERS) is the number of distinct identified blockers. ACQUIRED_AT is when the *holder* acquired the lock,
// so ACQUIRED_AT − REQUESTED_AT is not the wait (it can be negative). The wait duration is the waiting query's
// TRANSACTION_BLOCKED_TIME from QUERY_HISTORY, when known. OBJECT_NAME is the literal ROW for hybrid row locks:
// the event names the test's target table instead (the table the test's statements lock), the literal stays in
// RAW_EVENT.

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

export interface LockBlocker {
  /** Exact: NUMBER(38,0) ids above 2^53 are decimal text. Null when the view leaves it empty. */
  transactionId: number | string | null;
  queryId: string | null;
}

export interface LockEvent {
  lockTransactionId: number | string | null;
  /** The first blocker's ids (the seed's columns); every blocker is in `blockers`. */
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
  blockers: LockBlocker[];
  /** Blockers without a transaction or query id. */
  unidentifiedBlockers: number;
  /** Identified blockers (by transaction id, else query id) that no earlier event of the test named. */
  firstSeenBlockers: number;
  /** The wait's first view row, with BLOCKER_QUERIES holding every blocker of the wait. */
  rawEvent: LockSourceRow;
}

/** The table a row lock is on, when the view says only ROW. */
export interface LockTarget {
  tableName: string | null;
  schemaName: string | null;
  databaseName: string | null;
}

export interface LockSummary {
  /** Waits: one per event (rows of the view collapsed over blockers). */
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

/** A blocker is its transaction, else (no transaction id) its statement; null when the view names neither. */
const blockerKey = (blocker: LockBlocker): string | null =>
  blocker.transactionId !== null ? `t:${String(blocker.transactionId)}` : blocker.queryId !== null ? `q:${blocker.queryId}` : null;

const waitKeyOf = (row: LockSourceRow) => `${row.QUERY_ID}|${row.TRANSACTION_ID ?? ''}|${row.REQUESTED_AT.getTime()}`;

const isRowLiteral = (row: LockSourceRow) => row.LOCK_TYPE.toUpperCase() === 'ROW' && (row.OBJECT_NAME ?? '').toUpperCase() === 'ROW';

/**
 * @param rows lock wait rows already restricted to the test (its query ids and time window)
 * @param blockedTimeByQuery TRANSACTION_BLOCKED_TIME (ms) of the waiting queries, from QUERY_HISTORY
 * @param target the test's target table, named for row locks (the view says ROW)
 */
export function transformLocks(
  rows: readonly LockSourceRow[],
  blockedTimeByQuery: ReadonlyMap<string, number>,
  target: LockTarget = { tableName: null, schemaName: null, databaseName: null },
): { events: LockEvent[]; summary: LockSummary } {
  // The view rows of each wait; a hybrid wait with n blockers is n rows. The first blocker: the row whose
  // holder acquired the lock first (the view gives the rows no order), then the lower blocker id.
  const waits = new Map<string, LockSourceRow[]>();
  for (const row of rows) {
    const key = waitKeyOf(row);
    waits.set(key, [...(waits.get(key) ?? []), row]);
  }
  const waitsPerQuery = new Map<string, number>();
  for (const [first] of waits.values()) waitsPerQuery.set(first!.QUERY_ID, (waitsPerQuery.get(first!.QUERY_ID) ?? 0) + 1);
  // A query's blocked time can be given to its wait only when it waited once; several waits share one total.
  const durationFor = (queryId: string) => (waitsPerQuery.get(queryId) === 1 ? (blockedTimeByQuery.get(queryId) ?? null) : null);

  const events: LockEvent[] = [];
  for (const waitRows of waits.values()) {
    const ordered = [...waitRows].sort(
      (a, b) =>
        (a.ACQUIRED_AT?.getTime() ?? Infinity) - (b.ACQUIRED_AT?.getTime() ?? Infinity) ||
        String(blockersOf(a.BLOCKER_QUERIES)[0]?.transaction_id ?? '').localeCompare(String(blockersOf(b.BLOCKER_QUERIES)[0]?.transaction_id ?? '')),
    );
    const first = ordered[0]!;
    const viewBlockers = ordered.flatMap((row) => blockersOf(row.BLOCKER_QUERIES));
    const blockers: LockBlocker[] = viewBlockers.map((blocker) => ({
      transactionId: emptyToNull(blocker.transaction_id),
      queryId: emptyToNull(blocker.query_id),
    }));
    const named = isRowLiteral(first) && target.tableName !== null;
    events.push({
      lockTransactionId: first.TRANSACTION_ID,
      blockingTransactionId: blockers[0]?.transactionId ?? null,
      blockingQueryId: blockers[0]?.queryId ?? null,
      requestedAt: first.REQUESTED_AT,
      lockAcquiredAt: first.ACQUIRED_AT,
      waitDurationMs: durationFor(first.QUERY_ID),
      lockType: first.LOCK_TYPE.toUpperCase(),
      objectId: first.OBJECT_ID,
      objectName: named ? target.tableName : first.OBJECT_NAME,
      schemaName: named ? (first.SCHEMA_NAME ?? target.schemaName) : first.SCHEMA_NAME,
      databaseName: named ? (first.DATABASE_NAME ?? target.databaseName) : first.DATABASE_NAME,
      queryId: first.QUERY_ID,
      blockers,
      unidentifiedBlockers: blockers.filter((blocker) => blockerKey(blocker) === null).length,
      firstSeenBlockers: 0,
      rawEvent: { ...first, BLOCKER_QUERIES: viewBlockers },
    });
  }
  events.sort((a, b) => a.requestedAt.getTime() - b.requestedAt.getTime() || a.queryId.localeCompare(b.queryId));
  const seen = new Set<string>();
  for (const event of events) {
    for (const key of event.blockers.map(blockerKey)) {
      if (key === null || seen.has(key)) continue;
      seen.add(key);
      event.firstSeenBlockers += 1;
    }
  }

  const waitingQueries = [...waitsPerQuery.keys()];
  const known = waitingQueries.map((queryId) => blockedTimeByQuery.get(queryId)).filter((ms): ms is number => ms !== undefined);
  const summary: LockSummary = {
    waitCount: events.length,
    totalMs: known.length > 0 ? known.reduce((a, b) => a + b, 0) : null,
    maxMs: known.length > 0 ? Math.max(...known) : null,
    waitsWithoutDuration: waitingQueries.length - known.length,
  };
  return { events, summary };
}
