// /health under a real disk fault: the service's DATA_DIR on a tmpfs this test mounts, filled to the last
// byte. DuckDB's checkpoint then fails and invalidates the file; the processor's next discovery poll fails on
// it, /health turns degraded; once the space is back the recheck reopens the file and /health is ok again,
// with every committed row still there. Needs root (mount): skipped with the reason without it, unless REQUIRE_MOUNT=1.
import { afterEach, describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { startService, type RunningService } from '../src/service.js';
import { silentLog, testConfig } from './support/embedded.js';
import { insertTests } from './support/processor-fixtures.js';
import { MOUNT_REQUIRED, mountTmpfs, tmpfsAvailable, type Tmpfs } from './support/tmpfs.js';

const mount = tmpfsAvailable();
if (!mount.ok && !MOUNT_REQUIRED) console.warn(`storage-health test skipped: ${mount.reason} (set REQUIRE_MOUNT=1 to make this fail)`);

interface Health {
  status: string;
  migrations: { current: boolean };
  storage: { reason: string; since: string; last_failure_at: string; failures: number } | null;
}

async function healthOf(app: App): Promise<{ statusCode: number; body: Health }> {
  const response = await app.inject({ method: 'GET', url: '/health' });
  return { statusCode: response.statusCode, body: response.json() as Health };
}

/** Asks /health every 100 ms until `done` holds (or 20 s pass: then the last answer is returned). */
async function healthUntil(app: App, done: (health: Health) => boolean): Promise<{ statusCode: number; body: Health }> {
  const giveUpAt = Date.now() + 20_000;
  for (;;) {
    const health = await healthOf(app);
    if (done(health.body) || Date.now() > giveUpAt) return health;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('GET /health on a failing disk', () => {
  let tmpfs: Tmpfs | undefined;
  let service: RunningService | undefined;
  afterEach(async () => {
    tmpfs?.unfill();
    await service?.stop();
    service = undefined;
    tmpfs?.unmount();
    tmpfs = undefined;
  });

  it.runIf(!mount.ok && MOUNT_REQUIRED)('needs a tmpfs mount when REQUIRE_MOUNT=1', () => {
    throw new Error(`${mount.ok ? '' : mount.reason}: run as root with CAP_SYS_ADMIN`);
  });

  it.skipIf(!mount.ok)('turns degraded when the disk is full, and ok again once a write succeeds, nothing committed lost', async () => {
    tmpfs = mountTmpfs(32);
    service = await startService(
      testConfig({ DATA_DIR: tmpfs.path, ENRICHMENT_ENABLED: 'true', AUTO_ENQUEUE: 'false', POLL_CRON: '* * * * * *', DISCOVERY_POLL_CRON: '* * * * * *' }),
      silentLog,
    );
    const { app, services } = service;
    const before = await healthOf(app);
    expect(before.body.status).toBe('ok');
    expect(before.body.storage).toBeNull();

    await insertTests(services.warehouse, [{ testId: 'committed-before' }]);
    tmpfs.fill();
    // The checkpoint (DuckDB runs one by itself once the WAL passes checkpoint_threshold) has no room: DuckDB
    // invalidates the file, and every statement on it fails from now on, reads too.
    await expect(services.warehouse.execute('CHECKPOINT')).rejects.toThrow(/invalidated/);

    const degraded = await healthUntil(app, (health) => health.status === 'degraded');
    expect(degraded.statusCode).toBe(200);
    expect(degraded.body.status).toBe('degraded');
    expect(degraded.body.migrations.current).toBe(true);
    expect(degraded.body.storage?.reason).toMatch(/No space left on device|invalidated/);
    expect(degraded.body.storage?.failures).toBeGreaterThan(0);
    expect(Date.parse(degraded.body.storage!.last_failure_at)).toBeGreaterThanOrEqual(Date.parse(degraded.body.storage!.since));

    tmpfs.unfill();
    const recovered = await healthUntil(app, (health) => health.status === 'ok');
    expect(recovered.body.status).toBe('ok');
    expect(recovered.body.storage).toBeNull();
    // The service's own connection works again (moved to the reopened file), and the committed row is there.
    await insertTests(services.warehouse, [{ testId: 'written-after' }]);
    const rows = await services.warehouse.query('SELECT TEST_ID FROM TEST_RESULTS ORDER BY TEST_ID');
    expect(rows.map((row) => row.TEST_ID)).toEqual(['committed-before', 'written-after']);
  });
});
