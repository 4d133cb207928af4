// Drives the processor: node-cron for the poll (seed: every 5 minutes), the slower discovery poll and
// the daily cleanup, plus a wake-up timer for the next due time this instance knows (so a job due at
// 11:50 runs at 11:50, not at the next poll). A poll with nothing known to be due sends no statement.
import { createTask, type ScheduledTask } from 'node-cron';
import type { Clock } from '../clock.js';
import type { Services } from '../services.js';
import { runCleanup } from '../queue/cleanup.js';
import { classifyError } from './outcomes.js';
import type { Processor } from './processor.js';

/** Longest single setTimeout (Node caps delays at 2^31-1 ms). */
const MAX_TIMER_MS = 2_147_483_647;

interface ObservableClock extends Clock {
  onChange(listener: (now: Date) => void): () => void;
}

function isObservable(clock: Clock): clock is ObservableClock {
  return typeof (clock as Partial<ObservableClock>).onChange === 'function';
}

export class Scheduler {
  private readonly tasks: ScheduledTask[] = [];
  private wakeTimer: NodeJS.Timeout | undefined;
  private readonly unsubscribe: Array<() => void> = [];
  private stopped = false;

  constructor(
    private readonly services: Services,
    private readonly processor: Processor,
  ) {}

  start(): void {
    const { config } = this.services;
    const guard = (name: string, work: () => Promise<unknown>) => async () => {
      try {
        await work();
      } catch (error) {
        this.services.storageHealth.noteFailure(error);
        this.services.log.error({ task: name, err: classifyError(error).message }, 'scheduled task failed');
      }
    };
    const options = { noOverlap: true, timezone: 'UTC' };
    this.tasks.push(
      createTask(config.pollCron, guard('poll', () => this.processor.poll()), { ...options, name: 'enrichment-poll' }),
      createTask(config.discoveryPollCron, guard('discovery', () => this.processor.discover()), { ...options, name: 'enrichment-discovery' }),
      createTask(config.cleanupCron, guard('cleanup', () => runCleanup(this.services, this.processor.warehouse)), { ...options, name: 'enrichment-cleanup' }),
    );
    for (const task of this.tasks) void task.start();
    this.unsubscribe.push(this.processor.onChange(() => this.armWakeTimer()));
    this.unsubscribe.push(this.services.signals.onDue((at) => this.processor.noteDue(at)));
    const { clock } = this.services;
    // A simulated clock moves without real time passing: re-check the wake-up when it moves.
    if (isObservable(clock)) this.unsubscribe.push(clock.onChange(() => this.armWakeTimer()));
    this.armWakeTimer();
  }

  /** Fires the poll when the next known due time arrives. */
  private armWakeTimer(): void {
    if (this.stopped) return;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    const due = this.processor.knownNextDue;
    if (due === null) return;
    const delay = Math.max(0, due.getTime() - this.services.clock.now().getTime());
    this.wakeTimer = setTimeout(
      () => {
        this.wakeTimer = undefined;
        if (this.services.clock.now().getTime() >= due.getTime()) {
          void this.processor.poll().catch((error: unknown) => {
            this.services.storageHealth.noteFailure(error);
            this.services.log.error({ err: classifyError(error).message }, 'wake-up poll failed');
          });
        } else {
          this.armWakeTimer();
        }
      },
      Math.min(delay, MAX_TIMER_MS),
    );
    this.wakeTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    for (const unsubscribe of this.unsubscribe) unsubscribe();
    for (const task of this.tasks) await task.destroy();
    this.tasks.length = 0;
  }
}
