// Statements an idle instance sends per simulated hour (on Snowflake each one may resume a warehouse,
// billed at least 60 s). The hour is replayed on a ManualClock with the configured cron schedules
// (node-cron's own parser gives the firing minutes), the wake-up timer live.
// Baseline in the same run: the seed's processor, which polls the queue with one SELECT every 5 minutes.
// --source stream: AUTO_ENQUEUE_SOURCE=stream, Snowflake mode through the real driver against the fake endpoint
// (test/support/fake-snowflake.ts, on loopback), whose streams follow the documentation (fake-streams.ts).
// Run: npx tsx bench/idle.ts [--hours 24] [--source scan|stream]
import { parseArgs } from 'node:util';
import { createTask } from 'node-cron';
import { ManualClock } from '../src/clock.js';
import type { Warehouse } from '../src/db/warehouse.js';
import { Processor } from '../src/processor/processor.js';
import { Scheduler } from '../src/processor/scheduler.js';
import { startService } from '../src/service.js';
import type { Services } from '../src/services.js';
import { fakeSnowflakeConfig, migrateAccount, openTestDatabase, silentLog, tempDir } from '../test/support/embedded.js';
import { FakeSnowflake } from '../test/support/fake-snowflake.js';
import { servicesFor } from '../test/support/processor-fixtures.js';

const { values } = parseArgs({ options: { hours: { type: 'string', default: '24' }, source: { type: 'string', default: 'scan' } } });
const hours = Number(values.hours);
const clock = new ManualClock('2026-01-15T00:00:00.000Z');

/** The embedded engine (scan), or Snowflake mode against the fake endpoint with AUTO_ENQUEUE_SOURCE=stream. */
async function open(): Promise<{ services: Services; warehouse: Warehouse; sent?: () => string[]; close(): Promise<void> }> {
  if (values.source !== 'stream') {
    const db = await openTestDatabase(clock);
    const warehouse = await db.database.connect();
    return { services: servicesFor(db, clock, {}, warehouse), warehouse, close: () => db.close() };
  }
  const password = 'bench-password';
  const fake = await FakeSnowflake.start({ password });
  await fake.createFlakeBenchTables();
  const dir = tempDir('fbde-idle-');
  const config = fakeSnowflakeConfig(fake.url, dir.path, password, { AUTO_ENQUEUE_SOURCE: 'stream' });
  await migrateAccount(config, clock);
  const service = await startService(config, silentLog, { clock });
  return {
    services: service.services,
    warehouse: service.services.warehouse,
    sent: () => fake.statements.map((statement) => statement.sqlText),
    async close() {
      await service.stop();
      await fake.stop();
      dir.remove();
    },
  };
}

const { services, warehouse, sent, close } = await open();
const processor = new Processor(services, { warehouse });
const scheduler = new Scheduler(services, processor);
scheduler.start();
await processor.poll(); // start-up look at the queue
await processor.idle();
if (values.source === 'stream') {
  // The first discoveries after a start create the stream, scan once and read the wake-up: not idle.
  await processor.discover();
  await processor.discover();
}
const sentBefore = sent?.().length ?? 0;

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
console.log(
  `idle for ${hours} simulated hours, AUTO_ENQUEUE_SOURCE=${services.config.autoEnqueueSource}, POLL_CRON="${services.config.pollCron}", DISCOVERY_POLL_CRON="${services.config.discoveryPollCron}"`,
);
console.log('| processor | statements / idle hour |');
console.log('|---|---|');
console.log(`| seed design (SELECT every poll) | ${(seedStatements / hours).toFixed(2)} |`);
console.log(`| this processor | ${(ours / hours).toFixed(2)} |`);
console.log(`ratio ours/seed: ${(ours / seedStatements).toFixed(3)}`);
if (sent) {
  const texts = sent().slice(sentBefore);
  console.log(`statements the driver sent: ${[...new Set(texts)].map((text) => `${texts.filter((t) => t === text).length} × ${text.slice(0, 60)}…`).join('; ')}`);
}
await scheduler.stop();
await processor.stop(0);
await close();
