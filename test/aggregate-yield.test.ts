// The AGGREGATE transform's percentile estimates take seconds of CPU for a large test; run through the module
// they hand the event loop back meanwhile, and the result is exactly the one computed straight through.
import { describe, expect, it } from 'vitest';
import { transformAggregate, type AggregateSourceRow } from '../src/enrichment/aggregate-transform.js';
import { aggregateModule, type AggregateSource } from '../src/enrichment/modules/aggregate.js';
import { tagBelongsToTest, testTagPrefixes } from '../src/enrichment/query-tags.js';
import type { QueueJob } from '../src/queue/job-state.js';
import { planSimulation } from '../src/simulator/simulate.js';

function simulatedRows(): AggregateSourceRow[] {
  const plan = planSimulation({ tableType: 'HYBRID', shape: 'bimodal', seed: 7, durationMinutes: 10, idSalt: 'yield', background: false }, new Date('2025-11-20T12:00:00Z'), 1);
  const test = plan.workload.tests[0]!;
  const prefixes = testTagPrefixes(test.testId, test.runId, [{ testId: test.testId, queryTag: test.queryTagBase }]);
  return (plan.rows.views.AGGREGATE_QUERY_HISTORY as unknown as AggregateSourceRow[]).filter((row) => tagBelongsToTest(row.QUERY_TAG, prefixes));
}

describe('AGGREGATE transform on a large test', () => {
  const rows = simulatedRows();

  it('lets timers run while it estimates, and gives what the synchronous transform gives', async () => {
    expect(rows.length).toBeGreaterThan(100);
    const readAt = new Date('2025-11-20T12:00:00Z');
    let turns = 0;
    const timer = setInterval(() => (turns += 1), 1);
    let output: unknown;
    try {
      // The module ignores the job (a pure transform of the rows).
      output = await aggregateModule.transform({ rows, readAt } as AggregateSource, {} as QueueJob);
    } finally {
      clearInterval(timer);
    }
    expect(turns, 'event-loop turns taken by a 1 ms timer while the transform ran').toBeGreaterThan(0);
    expect(output).toEqual({ ...transformAggregate(rows), readAt });
  });
});
