import { describe, expect, it } from 'vitest';
import { WarehouseError } from '../src/db/warehouse.js';
import { NotApplicableError } from '../src/enrichment/not-applicable.js';
import { PermanentEnrichmentError } from '../src/enrichment/types.js';
import type { TypeState, TypeStates } from '../src/queue/job-state.js';
import { classifyError, jobOutcome } from '../src/processor/outcomes.js';

const state = (status: TypeState['status'], last_error: string | null = null): TypeState => ({
  status,
  attempts: 1,
  due_at: '2026-01-15T12:00:00.000Z',
  last_error,
  rows: null,
  completed_at: null,
});

describe('job outcome (seed v0.3 partial-success rule)', () => {
  it('stays PENDING while a type is not terminal', () => {
    const states: TypeStates = { QUERY_HISTORY: state('COMPLETED'), AGGREGATE: state('PENDING') };
    expect(jobOutcome(states).status).toBe('PENDING');
  });
  it('COMPLETED when nothing failed, NOT_APPLICABLE counting as no failure', () => {
    expect(jobOutcome({ QUERY_HISTORY: state('COMPLETED'), HYBRID_CREDITS: state('NOT_APPLICABLE') })).toEqual({ status: 'COMPLETED', lastError: null });
  });
  it('COMPLETED with the failures named when some completed', () => {
    const outcome = jobOutcome({ QUERY_HISTORY: state('COMPLETED'), AGGREGATE: state('FAILED', 'boom'), LOCK_CONTENTION: state('FAILED', 'denied') });
    expect(outcome).toEqual({ status: 'COMPLETED', lastError: 'AGGREGATE: boom; LOCK_CONTENTION: denied' });
  });
  it('FAILED when nothing useful completed', () => {
    expect(jobOutcome({ AGGREGATE: state('FAILED', 'x'), HYBRID_CREDITS: state('NOT_APPLICABLE') }).status).toBe('FAILED');
  });
});

describe('error classification', () => {
  it('retries conflicts, timeouts and unknown errors; ends permission, missing objects, permanent and not-applicable', () => {
    expect(classifyError(new WarehouseError('conflict', 'c')).retryable).toBe(true);
    expect(classifyError(new WarehouseError('timeout', 't')).retryable).toBe(true);
    expect(classifyError(new Error('socket hang up')).retryable).toBe(true);
    expect(classifyError(new WarehouseError('permission', 'p')).retryable).toBe(false);
    expect(classifyError(new WarehouseError('not_found', 'n')).retryable).toBe(false);
    expect(classifyError(new PermanentEnrichmentError('unknown test')).retryable).toBe(false);
    expect(classifyError(new NotApplicableError('metering ended'))).toEqual({ message: 'metering ended', retryable: false, notApplicable: true });
  });
});
