// GET /api/tests/{id}/hybrid-credits: the credits attributed to a hybrid test, per usage window, with the
// attribution note. HYBRID_TABLE_USAGE_HISTORY is account-level, so the credits are an attribution by
// time overlap, not a measurement of the test alone; windows from 2026-03-01 on are not billed (each row's
// BILLED column, written by the enrichment). Zero
// credits are never shown for "no data": without windows the total is null with a reason.
// One statement: head + the test's HYBRID_TABLE_CREDITS rows + its TEST_RESULTS totals.
import { sql } from '../db/sql-registry.js';
import type { Row } from '../db/warehouse.js';
import type { Services } from '../services.js';
import { REQUESTS_PRORATED } from '../enrichment/credits-transform.js';
import { HYBRID_METERING_ENDED_AT } from '../sources/account-usage.js';
import { HEAD_COLUMNS, HEAD_CTES, iso, num, readHead, typeAvailability, type AvailabilityState, type TypeAvailability } from './availability.js';
import { cachedTestAnswer } from './read-cache.js';

/** Usage windows are hourly: a day-long test has 25; this bounds a pathological one. */
export const MAX_WINDOWS = 1000;

const READ_CREDITS = sql(
  'results.hybrid_credits',
  `WITH ${HEAD_CTES},
c AS (
  SELECT START_TIME, END_TIME, CREDITS_USED, WINDOW_CREDITS_USED, OVERLAP_FRACTION, OVERLAPPING_TESTS, REQUESTS_COUNT,
    ATTRIBUTION_METHOD, TABLE_NAME, BILLED, REQUESTS_METHOD
  FROM HYBRID_TABLE_CREDITS WHERE TEST_ID = ?
  ORDER BY START_TIME LIMIT ${MAX_WINDOWS + 1}
),
s AS (
  SELECT t.HYBRID_CREDITS_USED, t.HYBRID_CREDITS_REQUESTS
  FROM TEST_RESULTS t JOIN head ON t.TEST_ID = head.T_TEST_ID AND t.RUN_ID = head.T_RUN_ID
  LIMIT 1 -- TEST_RESULTS has no key: a test stored twice must not list each window twice
)
SELECT ${HEAD_COLUMNS}, s.HYBRID_CREDITS_USED AS S_CREDITS_USED, s.HYBRID_CREDITS_REQUESTS AS S_REQUESTS, c.START_TIME AS C_START_TIME, c.END_TIME AS C_END_TIME, c.CREDITS_USED AS C_CREDITS_USED,
  c.WINDOW_CREDITS_USED AS C_WINDOW_CREDITS_USED, c.OVERLAP_FRACTION AS C_OVERLAP_FRACTION, c.OVERLAPPING_TESTS AS C_OVERLAPPING_TESTS,
  c.REQUESTS_COUNT AS C_REQUESTS_COUNT, c.ATTRIBUTION_METHOD AS C_ATTRIBUTION_METHOD, c.TABLE_NAME AS C_TABLE_NAME,
  c.BILLED AS C_BILLED, c.REQUESTS_METHOD AS C_REQUESTS_METHOD
FROM head h LEFT JOIN s ON 1 = 1 LEFT JOIN c ON 1 = 1
ORDER BY c.START_TIME`,
);

export interface CreditWindowItem {
  start_time: string | null;
  end_time: string | null;
  /** The window's credits × overlap_fraction. */
  credits_used: number | null;
  /** The account's credits in the whole window, before proration. */
  window_credits_used: number | null;
  overlap_fraction: number | null;
  overlapping_tests: number | null;
  /** The test's own requests inside the window. */
  requests_count: number | null;
  /** False for windows from 2026-03-01 on: Snowflake stopped billing hybrid table requests (the BILLED column). */
  billed: boolean;
  /** How requests_count was counted: exact, or 'estimated (pro-rata by overlap)' when a window bound split a minute. */
  requests_method: string | null;
}

export interface Attribution {
  method: string | null;
  /** Share of all listed windows' time inside the test (time-weighted over the windows). */
  overlap_fraction: number | null;
  /** The most other hybrid tests overlapping any one of the windows (their usage is in the same credits). */
  overlapping_tests: number | null;
  /** When some windows are not billed: the date Snowflake stopped billing hybrid table requests. */
  not_billed_since: string | null;
  /** How the windows' request counts were counted ('estimated (pro-rata by overlap)' when any was prorated). */
  requests_method: string | null;
  note: string;
}

export interface HybridCredits {
  test_id: string;
  status: AvailabilityState;
  expected_at: string | null;
  minutes_remaining: number | null;
  reason: string | null;
  /** Σ attributed credits; null unless COMPLETED with at least one usage window. */
  total_credits: number | null;
  total_requests: number | null;
  target_table: string | null;
  windows: CreditWindowItem[];
  windows_truncated: boolean;
  attribution: Attribution | null;
  availability: TypeAvailability;
}

function windowOf(row: Row): CreditWindowItem {
  const start = row.C_START_TIME instanceof Date ? row.C_START_TIME : null;
  return {
    start_time: iso(start),
    end_time: iso(row.C_END_TIME as Date | null),
    credits_used: num(row.C_CREDITS_USED),
    window_credits_used: num(row.C_WINDOW_CREDITS_USED),
    overlap_fraction: num(row.C_OVERLAP_FRACTION),
    overlapping_tests: num(row.C_OVERLAPPING_TESTS),
    requests_count: num(row.C_REQUESTS_COUNT),
    billed: row.C_BILLED === true,
    requests_method: typeof row.C_REQUESTS_METHOD === 'string' ? row.C_REQUESTS_METHOD : null,
  };
}

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

function attributionOf(rows: Row[], windows: CreditWindowItem[]): Attribution {
  const method = typeof rows[0]?.C_ATTRIBUTION_METHOD === 'string' ? rows[0].C_ATTRIBUTION_METHOD : null;
  let span = 0;
  let inside = 0;
  for (const window of windows) {
    if (!window.start_time || !window.end_time || window.overlap_fraction === null) continue;
    const ms = Date.parse(window.end_time) - Date.parse(window.start_time);
    span += ms;
    inside += ms * window.overlap_fraction;
  }
  const others = windows.map((window) => window.overlapping_tests).filter((n): n is number => n !== null);
  const mostOthers = others.length > 0 ? Math.max(...others) : null;
  const unbilled = windows.filter((window) => !window.billed).length;
  const methods = new Set(windows.map((window) => window.requests_method).filter((m): m is string => m !== null));
  const requestsMethod = methods.has(REQUESTS_PRORATED) ? REQUESTS_PRORATED : ([...methods][0] ?? null);
  const note = [
    `Account-level credits of ${windows.length} HYBRID_TABLE_USAGE_HISTORY window(s) overlapping the test, prorated by the share of each window inside the test (${method ?? 'time overlap'}); Snowflake reports no per-table usage.`,
    mostOthers ? `Up to ${mostOthers} other hybrid test(s) ran in the same windows; their requests are in the same credits.` : 'No other hybrid test overlapped these windows.',
    "Requests are the test's own (tag-matched) per minute bucket, its first partial minute included" +
      (requestsMethod === REQUESTS_PRORATED ? `; a minute split by a window bound is shared ${REQUESTS_PRORATED}.` : '.'),
    unbilled > 0 ? `${unbilled} window(s) from ${HYBRID_METERING_ENDED_AT.toISOString().slice(0, 10)} on are not billed (Snowflake stopped metering hybrid table requests).` : '',
  ]
    .filter((part) => part !== '')
    .join(' ');
  return {
    method,
    overlap_fraction: span > 0 ? round(inside / span, 6) : null,
    overlapping_tests: mostOthers,
    not_billed_since: unbilled > 0 ? HYBRID_METERING_ENDED_AT.toISOString() : null,
    requests_method: requestsMethod,
    note,
  };
}

export function shapeHybridCredits(testId: string, rows: Row[], now: Date): HybridCredits {
  const head = readHead(testId, rows[0]);
  const availability = typeAvailability(head, 'HYBRID_CREDITS', now);
  const base = {
    test_id: testId,
    status: availability.status,
    expected_at: availability.expected_at,
    minutes_remaining: availability.minutes_remaining,
    reason: availability.reason,
    target_table: head.test?.tableName ?? null,
    availability,
  };
  const empty = { total_credits: null, total_requests: null, windows: [], windows_truncated: false };
  if (availability.status !== 'COMPLETED') return { ...base, ...empty, attribution: null };
  const windowRows = rows.filter((row) => row.C_START_TIME instanceof Date);
  if (windowRows.length === 0) {
    return { ...base, ...empty, reason: 'no HYBRID_TABLE_USAGE_HISTORY window overlapped the test: no credits to attribute', attribution: null };
  }
  const windows = windowRows.slice(0, MAX_WINDOWS).map(windowOf);
  return {
    ...base,
    target_table: typeof windowRows[0]!.C_TABLE_NAME === 'string' ? windowRows[0]!.C_TABLE_NAME : base.target_table,
    // TEST_RESULTS keeps the exact total (FLOAT); the window rows are NUMBER(38,3), rounded each.
    total_credits: num(windowRows[0]!.S_CREDITS_USED) ?? round(windows.reduce((sum, window) => sum + (window.credits_used ?? 0), 0), 9),
    total_requests: num(windowRows[0]!.S_REQUESTS) ?? windows.reduce((sum, window) => sum + (window.requests_count ?? 0), 0),
    windows,
    windows_truncated: windowRows.length > MAX_WINDOWS,
    attribution: attributionOf(windowRows, windows),
  };
}

/** One statement, or none when the read cache holds the rows. */
export async function hybridCredits(services: Services, testId: string): Promise<HybridCredits> {
  return cachedTestAnswer(services, testId, READ_CREDITS, [testId, testId, testId], (rows, now) => shapeHybridCredits(testId, rows, now));
}
