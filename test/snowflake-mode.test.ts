// The whole service in Snowflake mode: config → src/engine.ts → the Snowflake adapter → the real driver →
// the fake endpoint on 127.0.0.1.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import type { Config } from '../src/config.js';
import { loadMigrations, migrate, MigrationError } from '../src/db/migrations.js';
import { openEngine } from '../src/engine.js';
import { startService } from '../src/service.js';
import { FakeSnowflake } from './support/fake-snowflake.js';
import { silentLog, tempDir, testConfig } from './support/embedded.js';

const PASSWORD = 'service-user-password';
const dir = tempDir('fbde-sfmode-');
const quiet = { info: () => undefined, warn: () => undefined };
let fake: FakeSnowflake;
let config: Config;

beforeAll(async () => {
  fake = await FakeSnowflake.start({ password: PASSWORD });
  // FlakeBench's own tables already exist in its Snowflake schema, with their real columns (the stand-in
  // migrations 0000 and 0006 are embedded-only).
  await fake.createFlakeBenchTables();
  config = testConfig({
    DATA_DIR: dir.path,
    SNOWFLAKE_ACCOUNT: 'FAKEACCOUNT',
    SNOWFLAKE_USER: 'SERVICE_USER',
    SNOWFLAKE_PASSWORD: PASSWORD,
    SNOWFLAKE_ACCESS_URL: fake.url,
    SNOWFLAKE_POOL_SIZE: '2',
  });
});

afterAll(async () => {
  await fake?.stop();
  dir.remove();
});

describe('Snowflake mode', () => {
  it('refuses to start while migrations are pending, naming `npm run migrate`, and closes its sessions', async () => {
    const error = await startService(config, silentLog, { clock: new ManualClock() }).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as Error).message).toContain('npm run migrate');
    expect((error as Error).message).toContain('0001_create_enrichment_tables.sql: not applied');
    expect(fake.logins.some((login) => login.accepted)).toBe(true);
    expect(fake.openSessions).toBe(0);
  });

  it('starts after migrate() ran through the Snowflake adapter, and /health reports engine snowflake', async () => {
    const engine = await openEngine(config, silentLog);
    try {
      expect(engine.engine).toBe('snowflake');
      const { applied } = await migrate(engine.warehouse, { clock: new ManualClock(), log: quiet });
      expect(applied).toContain('0001_create_enrichment_tables');
      expect(applied).not.toContain('0000_embedded_flakebench_base');
      expect(applied).not.toContain('0006_embedded_flakebench_real_tables');
    } finally {
      await engine.close();
    }
    // The Snowflake text of the migrations reached the endpoint, not the DuckDB rewrite.
    const sent = fake.statements.map((statement) => statement.sqlText);
    expect(sent.some((text) => /CLUSTER BY \(TEST_ID\)/.test(text))).toBe(true);
    expect(sent.some((text) => /CREATE SEQUENCE IF NOT EXISTS ENRICHMENT_EVENT_SEQ START = 1 INCREMENT = 1 ORDER/.test(text))).toBe(true);
    expect(sent.some((text) => /PAYLOAD VARIANT/.test(text))).toBe(true);

    const service = await startService(config, silentLog, { clock: new ManualClock() });
    try {
      const response = await service.app.inject({ method: 'GET', url: '/health' });
      expect(response.statusCode).toBe(200);
      const body = response.json<{ engine: string; migrations: { pending: number; current: boolean; applied: number } }>();
      expect(body.engine).toBe('snowflake');
      expect(body.migrations.pending).toBe(0);
      expect(body.migrations.current).toBe(true);
      expect(body.migrations.applied).toBe(appliedOnSnowflake());
    } finally {
      await service.stop();
    }
    expect(fake.openSessions).toBe(0);
  });
});

/** Migrations that apply to Snowflake (every file not marked `@engine duckdb`). */
function appliedOnSnowflake(): number {
  return loadMigrations().filter((migration) => migration.engine !== 'duckdb').length;
}
