// HYBRID_TABLE_USAGE_HISTORY windows → HYBRID_TABLE_CREDITS rows for one test. Pure.
//
// The view is account-level (OBJECT_ID/NAME are always NULL, no request counts), so credits cannot be
// measured per test: each window overlapping the test is attributed to it prorated by the overlapped share of
// the window, and every row says so (ATTRIBUTION_METHOD) and how many other tests overlapped the same window
// (their activity is in the same credits). Hybrid requests are not billed from 2026-03-01 on, but the view
// keeps the usage (docs.snowflake.com/en/sql-reference/account-usage/hybrid_table_usage_history): windows on
// either side are recorded as the view holds them, each row with BILLED (false from that date on). Only a test
// after that date whose windows have no rows is "not applicable", never zero credits.
//
// REQUESTS_COUNT is the test's own requests (tag-matched, so every request of a bucket is the test's) in the
// one-minute buckets inside the window. A bucket counts whole even when the test started or ended inside it:
// its tagged requests are the test's, so the first partial minute is counted. Only a bucket that a window
// boundary splits (the view's granularity is not documented; hourly windows never split a minute) is shared
// between the windows pro-rata by overlap, and the row says so (REQUESTS_METHOD 'estimated (pro-rata by
// overlap)').
import { HYBRID_METERING_ENDED_AT } from '../sources/account-usage.js';

export const CREDIT_ATTRIBUTION_METHOD = 'ACCOUNT_TIME_OVERLAP';
export const REQUESTS_EXACT = 'exact (whole minute buckets)';
export const REQUESTS_PRORATED = 'estimated (pro-rata by overlap)';
const BUCKET_MS = 60_000;

/** The test's requests per one-minute bucket (AGGREGATE_QUERY_HISTORY intervals, or QUERY_EXECUTIONS minutes). */
export interface RequestBucket {
  /** Epoch ms of the bucket's start. */
  minute: number;
  requests: number;
}

/** Requests of the buckets inside [start, end); a bucket cut by a bound contributes its overlapped share. */
export function requestsInWindow(buckets: readonly RequestBucket[], start: Date, end: Date): { requests: number; prorated: boolean } {
  let requests = 0;
  let prorated = false;
  for (const bucket of buckets) {
    const overlap = overlapMs(bucket.minute, bucket.minute + BUCKET_MS, start.getTime(), end.getTime());
    if (overlap <= 0) continue;
    if (overlap < BUCKET_MS) prorated = true;
    requests += (bucket.requests * overlap) / BUCKET_MS;
  }
  return { requests: prorated ? Math.round(requests) : requests, prorated };
}

export interface UsageWindow {
  START_TIME: Date;
  END_TIME: Date;
  CREDITS_USED: number;
}

export interface TestInterval {
  testId: string;
  start: Date;
  end: Date;
}

export interface CreditRow {
  startTime: Date;
  endTime: Date;
  /** CREDITS_USED × overlapFraction. */
  creditsUsed: number;
  windowCreditsUsed: number;
  overlapFraction: number;
  overlappingTests: number;
  /** The test's own requests inside the window (its AGGREGATE rows or QUERY_EXECUTIONS), 0 when none. */
  requestsCount: number;
  /** REQUESTS_EXACT, or REQUESTS_PRORATED when a window bound split a minute bucket. */
  requestsMethod: string;
  /** False for windows from 2026-03-01 on: Snowflake stopped billing hybrid table requests. */
  billed: boolean;
  raw: UsageWindow;
}

export type CreditsOutcome =
  | { kind: 'not_applicable'; reason: string }
  | { kind: 'rows'; rows: CreditRow[]; totalCredits: number; totalRequests: number; start: Date | null; end: Date | null };

const overlapMs = (aStart: number, aEnd: number, bStart: number, bEnd: number) => Math.max(0, Math.min(aEnd, bEnd) - Math.max(aStart, bStart));

/**
 * @param windows usage windows overlapping the test window
 * @param others other tests' intervals (to count overlaps), the test itself may be included and is skipped
 * @param requests the test's own requests per minute bucket
 */
export function transformCredits(
  test: TestInterval,
  windows: readonly UsageWindow[],
  others: readonly TestInterval[],
  requests: readonly RequestBucket[],
): CreditsOutcome {
  if (test.end.getTime() > HYBRID_METERING_ENDED_AT.getTime() && windows.length === 0) {
    return {
      kind: 'not_applicable',
      reason:
        'HYBRID_TABLE_USAGE_HISTORY had no usage window for this test when read (Snowflake stopped metering hybrid table requests on 2026-03-01; its hourly windows can appear after the due time)',
    };
  }
  const testStart = test.start.getTime();
  const testEnd = test.end.getTime();
  const rows: CreditRow[] = [];
  for (const window of [...windows].sort((a, b) => a.START_TIME.getTime() - b.START_TIME.getTime())) {
    const wStart = window.START_TIME.getTime();
    const wEnd = window.END_TIME.getTime();
    const span = wEnd - wStart;
    const overlap = overlapMs(testStart, testEnd, wStart, wEnd);
    if (span <= 0 || overlap <= 0) continue;
    const fraction = overlap / span;
    const inWindow = requestsInWindow(requests, window.START_TIME, window.END_TIME);
    rows.push({
      startTime: window.START_TIME,
      endTime: window.END_TIME,
      creditsUsed: window.CREDITS_USED * fraction,
      windowCreditsUsed: window.CREDITS_USED,
      overlapFraction: fraction,
      overlappingTests: others.filter(
        (other) => other.testId !== test.testId && overlapMs(other.start.getTime(), other.end.getTime(), wStart, wEnd) > 0,
      ).length,
      requestsCount: inWindow.requests,
      requestsMethod: inWindow.prorated ? REQUESTS_PRORATED : REQUESTS_EXACT,
      billed: wStart < HYBRID_METERING_ENDED_AT.getTime(),
      raw: window,
    });
  }
  return {
    kind: 'rows',
    rows,
    totalCredits: rows.reduce((acc, row) => acc + row.creditsUsed, 0),
    totalRequests: rows.reduce((acc, row) => acc + row.requestsCount, 0),
    start: rows[0]?.startTime ?? null,
    end: rows.at(-1)?.endTime ?? null,
  };
}
