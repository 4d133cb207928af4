// isFenced: the processor's check that a module's write carries the claim fence (queue/fence.ts), for both
// forms a write may take: the fence with its binds, or a row-set statement whose every row names the claim.
import { describe, expect, it } from 'vitest';
import { FENCED_ROWS_FROM, ROWS_FROM, rowSetStatement } from '../src/db/row-set.js';
import { fencedInsert, fencedTestDelete, fencedTestUpdate } from '../src/enrichment/modules/write-rows.js';
import type { QueueJob } from '../src/queue/job-state.js';
import { FENCE_SQL, fenceOf, isFenced } from '../src/queue/fence.js';

const fence = fenceOf('job-1', 'claim-1');
const job = { jobId: 'job-1', testId: 'test-1', runId: 'run-1' } as QueueJob;
const insertRows = fencedInsert('FENCE_TEST_ROWS', [{ name: 'TEST_ID' }, { name: 'N' }]);

describe('isFenced', () => {
  it('accepts the fence with its own binds and refuses it with another claim or without it', () => {
    expect(isFenced({ sql: `DELETE FROM T WHERE TEST_ID = ? AND ${FENCE_SQL}`, binds: ['test-1', 'job-1', 'claim-1'] }, fence)).toBe(true);
    expect(isFenced({ sql: `DELETE FROM T WHERE TEST_ID = ? AND ${FENCE_SQL}`, binds: ['test-1', 'job-1', 'claim-2'] }, fence)).toBe(false);
    expect(isFenced({ sql: 'DELETE FROM T WHERE TEST_ID = ?', binds: ['test-1', 'job-1', 'claim-1'] }, fence)).toBe(false);
  });

  it("accepts the modules' row-set writes built for the claim, also with no rows", () => {
    for (const statement of [...insertRows([['test-1', 1], ['test-1', 2]], fence), ...insertRows([], fence), fencedTestDelete('fence.test.delete', 'FENCE_TEST_ROWS')(job, fence), fencedTestUpdate('fence.test.update', [{ name: 'QUERY_INSIGHTS_COUNT' }])(job, fence, [3])]) {
      expect(isFenced(statement, fence), statement.sql).toBe(true);
    }
  });

  it('refuses a row-set write with one row of another claim, or one that does not check the rows', () => {
    const mine = { job: 'job-1', claim: 'claim-1', c0: 'test-1' };
    const sql = `INSERT INTO FENCE_TEST_ROWS (TEST_ID) SELECT AS_VARCHAR(GET(r.VALUE, 'c0')) FROM ${FENCED_ROWS_FROM}`;
    expect(isFenced(rowSetStatement(sql, [mine, mine]), fence)).toBe(true);
    expect(isFenced(rowSetStatement(sql, [mine, { ...mine, claim: 'claim-2' }]), fence)).toBe(false);
    expect(isFenced(rowSetStatement(sql, [mine, { c0: 'test-1' }]), fence)).toBe(false);
    // The rows name the claim, but the text never checks them.
    const unchecked = `INSERT INTO FENCE_TEST_ROWS (TEST_ID) SELECT AS_VARCHAR(GET(r.VALUE, 'c0')) FROM ${ROWS_FROM}`;
    expect(isFenced(rowSetStatement(unchecked, [mine]), fence)).toBe(false);
    // Built for another claim of the same job.
    expect(insertRows([['test-1', 1]], fenceOf('job-1', 'claim-2')).every((statement) => isFenced(statement, fence))).toBe(false);
  });
});
