// `npm run demo`: the service on the embedded default with latencies scaled down so that jobs complete
// within about a minute, fed by the simulator with a new test (mixed table types) every few seconds
// (DEMO_SIMULATE_EVERY_SECONDS, default 5), its tests pruned once they have been done for DEMO_KEEP_MINUTES
// (default 20), so a demo left running stays small. Settings given in the environment or the settings
// file win over these defaults.
import type { AddressInfo } from 'node:net';
import { main, readEnvironmentOrExit } from './server.js';
import { startDemoPruner } from './simulator/demo-prune.js';
import { startFeeder } from './simulator/feeder.js';

/** The page's URL on the address the service listens on (a wildcard address is opened as loopback). */
function dashboardUrl(address: AddressInfo | string | null): string {
  if (address === null || typeof address === 'string') return 'http://127.0.0.1:3000/';
  const wildcard = address.address === '0.0.0.0' || address.address === '::';
  const host = wildcard ? '127.0.0.1' : address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}/`;
}

const DEMO_DEFAULTS: Record<string, string> = {
  LATENCY_SCALE: '0.002', // 3 h of view latency becomes about 22 s
  POLL_CRON: '*/5 * * * * *', // every 5 s
  DISCOVERY_POLL_CRON: '*/30 * * * * *',
  STATS_CACHE_SECONDS: '5', // the dashboard's queue figures follow the fast demo
};

// Checked before the service starts, so a bad value never leaves a half-started demo behind.
const demoSettings = readEnvironmentOrExit().values;
function positiveSetting(name: string, fallback: string): number {
  const text = demoSettings[name]?.trim() || fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) {
    process.stderr.write(`${name} must be a positive number (got "${text}")\n`);
    process.exit(2);
  }
  return value;
}
const everySeconds = positiveSetting('DEMO_SIMULATE_EVERY_SECONDS', '5');
const keepMinutes = positiveSetting('DEMO_KEEP_MINUTES', '20');

const service = await main({}, {}, DEMO_DEFAULTS);
process.stdout.write(`\nDashboard: ${dashboardUrl(service.app.server.address())}  (open it in a browser; Ctrl-C stops the demo)\n\n`);
if (service.services.engine.engine === 'duckdb') {
  const feeder = startFeeder(service.app, service.services.log, { everyMs: everySeconds * 1000 });
  const pruner = startDemoPruner(service.services, service.services.log, { keepMs: keepMinutes * 60_000, everyMs: 60_000 });
  // Stop feeding before the service closes (close-with-grace handles the same signals and stops the service).
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      feeder.stop();
      pruner.stop();
    });
  }
  service.services.log.info({ every_seconds: everySeconds, keep_minutes: keepMinutes }, 'demo feeder started');
} else {
  service.services.log.warn('demo feeder needs the embedded engine; not started in Snowflake mode');
}
