// Pure rules: how an error is classified, and what a job's status is once its types have moved.
import { isWarehouseError } from '../db/warehouse.js';
import { isTerminal, type TypeStates } from '../queue/job-state.js';

export interface ClassifiedError {
  message: string;
  retryable: boolean;
  /** The enrichment cannot exist for this test (e.g. hybrid metering ended): the type ends NOT_APPLICABLE. */
  notApplicable?: boolean;
}

/** Errors retrying cannot fix (privilege, missing object, bad SQL, a module's permanent error) end the type. */
export function classifyError(error: unknown): ClassifiedError {
  const message = (error instanceof Error ? error.message : String(error)).slice(0, 2000);
  if (error instanceof Error && error.name === 'NotApplicableError') return { message, retryable: false, notApplicable: true };
  if (isWarehouseError(error)) return { message, retryable: error.retryable };
  if (error && typeof error === 'object' && 'retryable' in error && error.retryable === false) return { message, retryable: false };
  return { message, retryable: true };
}

export interface JobOutcome {
  /** PENDING while any type is not terminal. */
  status: 'PENDING' | 'COMPLETED' | 'FAILED';
  /** The failures, one per failed type ("TYPE: reason"), or null. */
  lastError: string | null;
}

/**
 * Seed v0.3 partial-success rule: every type terminal and none failed → COMPLETED; some completed and
 * others failed for good → COMPLETED with the failures in LAST_ERROR; nothing completed → FAILED.
 */
export function jobOutcome(states: TypeStates): JobOutcome {
  const entries = Object.entries(states).filter(([, state]) => state !== undefined);
  const failures = entries
    .filter(([, state]) => state!.status === 'FAILED')
    .map(([type, state]) => `${type}: ${state!.last_error ?? 'failed'}`);
  const lastError = failures.length > 0 ? failures.join('; ') : null;
  if (entries.some(([, state]) => !isTerminal(state!.status))) return { status: 'PENDING', lastError };
  if (failures.length === 0) return { status: 'COMPLETED', lastError: null };
  const completed = entries.some(([, state]) => state!.status === 'COMPLETED');
  return { status: completed ? 'COMPLETED' : 'FAILED', lastError };
}
