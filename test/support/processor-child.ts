// A real service process for the reliability tests: src/server.ts's main() (so SIGTERM goes through
// close-with-grace exactly as in production) with controlled enrichment types that take
// CHILD_TYPE_MS each, or with CHILD_TYPES=real the real ones over the simulated views. Prints "ready" and
// then every committed event as one JSON line on stdout (and a `work_started` line per job, below).
// Usage: node --import tsx test/support/processor-child.ts <dataDir>
import { eventBusOf } from '../../src/events/bus.js';
import { main } from '../../src/server.js';
import { controlledRegistry, type Script } from './controlled-types.js';

// The suite's network guard, before the service starts (the driver loads inside main(), in Snowflake mode): a
// connection outside loopback throws in the service process as it would in a test file. This process is not a
// vitest worker even when a test started it (VITEST is inherited), so the guard must not look for vitest here.
delete process.env.VITEST;
await import('./loopback-guard.js');

const dataDir = process.argv[2];
if (!dataDir) throw new Error('usage: processor-child.ts <dataDir>');
const typeMs = Number(process.env.CHILD_TYPE_MS ?? '200');

// Jobs whose work began here: the first time a controlled type of a job runs, a `work_started` line says so
// (a claim's first event, job_claimed, commits only with its first type's write).
const started = new Set<string>();
const slowWork: Script = (job) => {
  if (!started.has(job.jobId)) {
    started.add(job.jobId);
    process.stdout.write(`${JSON.stringify({ type: 'work_started', job_id: job.jobId, enrichment_type: null })}\n`);
  }
  return { kind: 'slow', ms: typeMs };
};

const service = await main(
  {
    DATA_DIR: dataDir,
    PORT: process.env.CHILD_PORT ?? '0',
    LOG_LEVEL: process.env.CHILD_LOG_LEVEL ?? 'silent',
    ENRICHMENT_ENABLED: 'true',
    POLL_CRON: '* * * * * *',
    DISCOVERY_POLL_CRON: '* * * * * *',
  },
  process.env.CHILD_TYPES === 'real' ? {} : { registry: controlledRegistry(slowWork) },
);
eventBusOf(service.services).subscribe((event) => {
  process.stdout.write(`${JSON.stringify({ type: event.type, job_id: event.job_id, enrichment_type: event.enrichment_type ?? null })}\n`);
});
process.stdout.write('ready\n');
