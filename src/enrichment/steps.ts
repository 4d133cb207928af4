// Long pure computations (the percentile estimates) are written as generators that yield between pieces of
// work, so one implementation either runs straight through (runSteps) or hands the event loop back every few
// milliseconds (runStepsYielding) and the server keeps answering meanwhile. Where it yields never changes
// the result: the generator does the same arithmetic in the same order either way.
export type Steps<T> = Generator<void, T, void>;

export function runSteps<T>(steps: Steps<T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/** Runs the steps, giving the event loop a turn (setImmediate) whenever `sliceMs` have passed since the last. */
export async function runStepsYielding<T>(steps: Steps<T>, sliceMs = 10): Promise<T> {
  let since = performance.now();
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    if (performance.now() - since >= sliceMs) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      since = performance.now();
    }
  }
}
