// `npm run demo`: the service on the embedded default with latencies scaled down so that jobs complete
// within about a minute. Settings given in the environment win over these defaults.
import { main } from './server.js';

const DEMO_DEFAULTS: Record<string, string> = {
  LATENCY_SCALE: '0.002', // 3 h of view latency becomes about 22 s
  POLL_CRON: '*/5 * * * * *', // every 5 s
  DISCOVERY_POLL_CRON: '*/30 * * * * *',
};

const overrides: Record<string, string> = {};
for (const [name, value] of Object.entries(DEMO_DEFAULTS)) {
  if (process.env[name] === undefined) overrides[name] = value;
}
await main(overrides);
