// Rows of an ACCOUNT_USAGE view are checked against the view's documented column types before a transform
// sees them (src/sources/row-check.ts); a malformed row fails the type by name instead of publishing NaN.
import { describe, expect, it } from 'vitest';
import { classifyError } from '../src/processor/outcomes.js';
import { checkedSourceWarehouse, checkSourceRows, MalformedSourceRowError } from '../src/sources/row-check.js';
import { openTestDatabase } from './support/embedded.js';

describe('source row check', () => {
  it('accepts what the adapters return for valid rows: numbers, exact large integers as text, NULL, Dates', () => {
    expect(() =>
      checkSourceRows('LOCK_WAIT_HISTORY', [
        { TRANSACTION_ID: '1700000000000000123', QUERY_ID: 'q1', REQUESTED_AT: new Date('2026-01-01T00:00:00Z'), WAIT_TIME: null },
        { TRANSACTION_ID: 17, QUERY_ID: 'q2', REQUESTED_AT: null },
      ]),
    ).not.toThrow();
    expect(() => checkSourceRows('AGGREGATE_QUERY_HISTORY', [{ CALLS: 3, EXECUTION_TIME: { avg: 1.5, p99: '2', 'p99.9': null } }])).not.toThrow();
  });

  it('names the view, row, column and value of the first misfit', () => {
    expect(() => checkSourceRows('AGGREGATE_QUERY_HISTORY', [{ CALLS: 2 }, { CALLS: 'n/a' }])).toThrow(
      "malformed row 2 from AGGREGATE_QUERY_HISTORY: CALLS is 'n/a', documented as NUMBER",
    );
    expect(() => checkSourceRows('AGGREGATE_QUERY_HISTORY', [{ CALLS: 2, EXECUTION_TIME: { avg: 'fast' } }])).toThrow(
      "malformed row 1 from AGGREGATE_QUERY_HISTORY: EXECUTION_TIME:avg is 'fast', documented as a number",
    );
    expect(() => checkSourceRows('QUERY_HISTORY', [{ START_TIME: new Date(Number.NaN) }])).toThrow(/START_TIME is .*documented as TIMESTAMP_LTZ/);
    expect(() => checkSourceRows('QUERY_HISTORY', [{ QUERY_ID: 42 }])).toThrow('QUERY_ID is 42, documented as TEXT');
  });

  it("leaves a statement's own aliases alone", () => {
    expect(() => checkSourceRows('QUERY_HISTORY', [{ TOTAL: 'anything', MATCHED: null }])).not.toThrow();
  });

  it('is a failure retrying cannot fix', () => {
    expect(classifyError(new MalformedSourceRowError('malformed row 1 from QUERY_HISTORY: …'))).toMatchObject({ retryable: false });
  });

  it('checks every row set a query returns through the real warehouse, and forwards the rest', async () => {
    const db = await openTestDatabase();
    try {
      const checked = checkedSourceWarehouse(db.warehouse, 'HYBRID_TABLE_USAGE_HISTORY');
      await expect(checked.query(`SELECT 'lots' AS CREDITS_USED`)).rejects.toThrow("CREDITS_USED is 'lots', documented as");
      expect(await checked.query('SELECT 1.25 AS CREDITS_USED')).toEqual([{ CREDITS_USED: 1.25 }]);
      expect(await checked.execute('CREATE TABLE T (X INTEGER)')).toBeDefined();
      expect(checked.counters).toBe(db.warehouse.counters);
    } finally {
      await db.close();
    }
  });
});
