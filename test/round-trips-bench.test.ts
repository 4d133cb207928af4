// Smoke test of bench/round-trips.ts's measurement (bench/round-trip-count.ts) on its smallest scenario: one
// due STANDARD job through the real driver against the fake endpoint. It checks that the job completed and
// that the counts are consistent (every request the fake received is in exactly one category; the adapter's
// own counter agrees with the fake), and the seed replay's count against the seed's documented sequence.
// No figure of this processor is asserted: it is what the bench reports, and other work changes it.
import { describe, expect, it } from 'vitest';
import { CATEGORIES, measure, type Measurement, type Scenario } from '../bench/round-trip-count.js';

const ONE_STANDARD_JOB: Scenario = { name: 'smoke', tableTypes: ['STANDARD'] };
const sumOfCategories = (m: Measurement) => CATEGORIES.reduce((sum, category) => sum + m.byCategory[category], 0);

describe('round-trips bench, one due STANDARD job', () => {
  it('this processor: the job completes, every request is counted once, per type adds up to the query requests', async () => {
    const ours = await measure(ONE_STANDARD_JOB, 'ours');
    expect(ours.jobs).toBe(1);
    expect(ours.completed).toBe(1);
    expect(ours.types).toBe(3);
    expect(ours.requests).toBeGreaterThan(0);
    expect(sumOfCategories(ours)).toBe(ours.requests);
    // The driver-side counter (src/db/snowflake.ts) and the endpoint saw the same statements.
    expect(ours.adapterRoundTrips).toBe(ours.queryRequests);
    expect(ours.sequence).toHaveLength(ours.queryRequests);
    const nonQuery = Object.entries(ours.otherDetail).filter(([what]) => /^[A-Z]+ \//.test(what));
    expect(ours.queryRequests + nonQuery.reduce((sum, [, n]) => sum + n, 0)).toBe(ours.requests);
    // Per type: the claim, the three types in run order (and a start batch, if the processor sends one apart;
    // with write coalescing, the job's one write has a row of its own).
    const perType = ours.perType ?? [];
    expect(perType.map((row) => row.segment)).toEqual(expect.arrayContaining(['claim', 'QUERY_HISTORY', 'AGGREGATE', 'QUERY_INSIGHTS']));
    expect(perType.reduce((sum, row) => sum + row.total, 0)).toBe(ours.queryRequests);
    for (const type of ['QUERY_HISTORY', 'AGGREGATE', 'QUERY_INSIGHTS']) {
      const row = perType.find((entry) => entry.segment === type)!;
      expect(row.byCategory.reads, type).toBeGreaterThan(0);
    }
    expect(ours.byCategory.writes).toBeGreaterThan(0);
  });

  it("the seed design's replay: 3 + 3·T statements per job plus its polls (one per 3 jobs and the last, empty one)", async () => {
    const seed = await measure(ONE_STANDARD_JOB, 'seed');
    expect(seed.completed).toBe(1);
    // Hand-computed from the seed's sequence for one job with T = 3: claim UPDATE, 3 × (view SELECT, INSERT,
    // UPDATE TEST_RESULTS), UPDATE status, UPDATE queue = 12; polls: the one that finds it and the empty one = 2.
    expect(seed.requests).toBe(14);
    expect(seed.byCategory).toEqual({ claim: 3, reads: 3, writes: 8, lease: 0, other: 0 });
    expect(sumOfCategories(seed)).toBe(seed.requests);
  });
});
