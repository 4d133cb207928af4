// What this instance learns about due times without asking the warehouse: an enqueue on this instance
// tells the scheduler when the new job falls due, so the wake-up timer can fire then and idle polls can
// stay silent. Keyed by the Services object (one scheduler per running service).
type DueListener = (dueAt: Date) => void;

const listeners = new WeakMap<object, Set<DueListener>>();

export function onDueHint(owner: object, listener: DueListener): () => void {
  let set = listeners.get(owner);
  if (!set) {
    set = new Set();
    listeners.set(owner, set);
  }
  set.add(listener);
  return () => set.delete(listener);
}

export function noteDue(owner: object, dueAt: Date): void {
  for (const listener of listeners.get(owner) ?? []) listener(dueAt);
}
