// The one place a row count enters SQL text (src/db/limit.ts): only a positive safe integer within the bound.
import { describe, expect, it } from 'vitest';
import { limitClause } from '../src/db/limit.js';

describe('limitClause', () => {
  it('writes a valid count into the text', () => {
    expect(limitClause(1)).toBe('LIMIT 1');
    expect(limitClause(500, 500)).toBe('LIMIT 500');
  });

  it('refuses anything that is not an integer from 1 to the bound', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
      expect(() => limitClause(bad), String(bad)).toThrow(/invalid LIMIT count/);
    }
    expect(() => limitClause(501, 500)).toThrow(/from 1 to 500/);
    // A string that would smuggle SQL never reaches the text.
    expect(() => limitClause('1; DROP TABLE TEST_RESULTS' as unknown as number)).toThrow(/invalid LIMIT count/);
  });
});
