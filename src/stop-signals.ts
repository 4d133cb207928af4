// The service's stop signals. close-with-grace runs the graceful stop (its deadline, uncaught errors); the
// signals are taken here because one Ctrl-C reaches a service started by npm twice: the terminal sends SIGINT
// to the whole foreground process group, npm's child included, and npm forwards the SIGINT it got as well.
// close-with-grace reads any second signal as "exit now", so every Ctrl-C of `npm run demo` exited at once,
// leaving its claims to expire instead of releasing them. The same signal again within DUPLICATE_WINDOW_MS is
// that echo and is ignored; any later signal (a second Ctrl-C from an impatient user) still exits at once.
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

/** npm forwards within milliseconds; a person pressing Ctrl-C twice takes longer than this. */
export const DUPLICATE_WINDOW_MS = 1000;

export type SignalAction = 'stop' | 'ignore' | 'exit';

/** Pure: what a signal at `atMs` means, given the first stop signal seen (if any). */
export function actionFor(signal: StopSignal, atMs: number, first: { signal: StopSignal; atMs: number } | undefined): SignalAction {
  if (first === undefined) return 'stop';
  return signal === first.signal && atMs - first.atMs < DUPLICATE_WINDOW_MS ? 'ignore' : 'exit';
}

/** Installs the handlers: `stop` on the first signal, `exit` on a real second one. */
export function onStopSignals(handlers: { stop(signal: StopSignal): void; exit(signal: StopSignal): void }, now: () => number = Date.now): void {
  let first: { signal: StopSignal; atMs: number } | undefined;
  for (const signal of STOP_SIGNALS) {
    process.on(signal, () => {
      const atMs = now();
      const action = actionFor(signal, atMs, first);
      if (action === 'stop') {
        first = { signal, atMs };
        handlers.stop(signal);
      } else if (action === 'exit') {
        handlers.exit(signal);
      }
    });
  }
}
