// Lets a cancel on this instance abort the job's running work at once (other instances notice through
// the fence at their next write or lease renewal). Keyed by the Services object.
type Aborter = (jobId: string) => boolean;

const aborters = new WeakMap<object, Set<Aborter>>();

export function registerAborter(owner: object, aborter: Aborter): () => void {
  let set = aborters.get(owner);
  if (!set) {
    set = new Set();
    aborters.set(owner, set);
  }
  set.add(aborter);
  return () => set.delete(aborter);
}

export function abortLocalRun(owner: object, jobId: string): boolean {
  let found = false;
  for (const aborter of aborters.get(owner) ?? []) found = aborter(jobId) || found;
  return found;
}
