// In-process signals between the API side of one instance and its own processor, so that neither waits for
// a poll: an enqueue or retry tells the scheduler a new due time (its wake-up timer fires then, and idle polls
// stay silent), and a cancel aborts the job's running work at once. Other instances learn the same things
// through the queue table (discovery poll, and the fence at their next write or lease renewal).
type DueListener = (dueAt: Date) => void;
type Aborter = (jobId: string) => boolean;

export class LocalSignals {
  private readonly dueListeners = new Set<DueListener>();
  private readonly aborters = new Set<Aborter>();

  onDue(listener: DueListener): () => void {
    this.dueListeners.add(listener);
    return () => this.dueListeners.delete(listener);
  }

  noteDue(dueAt: Date): void {
    for (const listener of this.dueListeners) listener(dueAt);
  }

  onAbort(aborter: Aborter): () => void {
    this.aborters.add(aborter);
    return () => this.aborters.delete(aborter);
  }

  /** True when a run of the job on this instance was told to stop. */
  abort(jobId: string): boolean {
    let found = false;
    for (const aborter of this.aborters) found = aborter(jobId) || found;
    return found;
  }
}
