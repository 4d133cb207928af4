// Statements an idle instance sends per simulated hour (on Snowflake each one may resume a warehouse,
// billed at least 60 s). The hour is replayed on a ManualClock with the configured cron schedules
// (node-cron's own parser gives the firing minutes), the wake-up timer live.
// Baseline in the same run: the seed's processor, which polls the queue with one SELECT every 5 minutes.
// Run: npx tsx bench/idle.ts [--hours 24]
import { parseArgs } from 'node:util';
import { createTask } from 'node-cron';
import { ManualClock } from '../src/clock.js';
import { Processor } from '../src/processor/processor.js';
import { Scheduler } from '../src/processor/scheduler.js';
import { openTestDatabase } from '../test/support/embedded.js';
import { servicesFor } from '../test/support/processor-fixtures.js';

const { values } = parseArgs({ options: { hours: { type: 'string', default: '24' } } });
const hours = Number(values.hours);
const clock = new ManualClock('2026-01-15T00:00:00.000Z');
const db = await openTestDatabase(clock);
const warehouse = await db.database.connect();
const services = servicesFor(db, clock, {}, warehouse);
const processor = new Processor(services, { warehouse });
const scheduler = new Scheduler(services, processor);
scheduler.start();
await processor.poll(); // start-up look at the queue
await processor.idle();

/** Does a cron expression fire at this minute? (node-cron's matcher; the task is never started.) */
const matcher = (expression: string) => createTask(expression, () => undefined, { timezone: 'UTC' });
const poll = matcher(services.config.pollCron);
const discovery = matcher(services.config.discoveryPollCron);
const before = warehouse.counters.statements;
let seedStatements = 0;
for (let minute = 1; minute <= hours * 60; minute += 1) {
  clock.advance(60_000);
  const now = clock.now();
  if (poll.match(now)) {
    seedStatements += 1; // the seed's poll SELECT
    await processor.poll();
  }
  if (discovery.match(now)) await processor.discover();
  await processor.idle();
}
const ours = warehouse.counters.statements - before;
console.log(`idle for ${hours} simulated hours, POLL_CRON="${services.config.pollCron}", DISCOVERY_POLL_CRON="${services.config.discoveryPollCron}"`);
console.log('| processor | statements / idle hour |');
console.log('|---|---|');
console.log(`| seed design (SELECT every poll) | ${(seedStatements / hours).toFixed(2)} |`);
console.log(`| this processor | ${(ours / hours).toFixed(2)} |`);
console.log(`ratio ours/seed: ${(ours / seedStatements).toFixed(3)}`);
await scheduler.stop();
await processor.stop(0);
await db.close();
