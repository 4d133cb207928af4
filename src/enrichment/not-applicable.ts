// Thrown by a module when its enrichment cannot exist for this test (not an error, not a retry): e.g.
// hybrid credits for a test that ran after Snowflake stopped metering hybrid requests. The type ends
// NOT_APPLICABLE with this reason.
export class NotApplicableError extends Error {
  readonly retryable = false;
  constructor(reason: string) {
    super(reason);
    this.name = 'NotApplicableError';
  }
}

export function isNotApplicable(error: unknown): error is NotApplicableError {
  return error instanceof NotApplicableError;
}
