// FlakeBench's settings in Snowflake mode, through the real snowflake-sdk against the fake endpoint on
// 127.0.0.1: a FlakeBench .env (SNOWFLAKE_SCHEMA=PUBLIC, its results in RESULTS_DATABASE.RESULTS_SCHEMA)
// makes every session of the service run in the results schema, where its unqualified statements resolve.
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, readEnvironment, type SnowflakeSettings } from '../src/config.js';
import { driverConnectionOptions } from '../src/db/snowflake.js';
import { openEngine } from '../src/engine.js';
import { FakeSnowflake } from './support/fake-snowflake.js';
import { silentLog, tempDir } from './support/embedded.js';

const PASSWORD = 'flakebench-service-password';
const dir = tempDir('fbde-sfloc-');
const originalCwd = process.cwd();
let fake: FakeSnowflake;

beforeAll(async () => {
  // Nothing of the driver may land in the repository's working directory.
  process.chdir(dir.path);
  fake = await FakeSnowflake.start({ password: PASSWORD });
});

afterAll(async () => {
  await fake?.stop();
  process.chdir(originalCwd);
  dir.remove();
});

describe("FlakeBench's .env in Snowflake mode", () => {
  it('sessions run in RESULTS_DATABASE.RESULTS_SCHEMA, not in FlakeBench\'s session default SNOWFLAKE_DATABASE.SNOWFLAKE_SCHEMA', async () => {
    writeFileSync(
      join(dir.path, '.env'),
      [
        '# FlakeBench .env',
        'SNOWFLAKE_ACCOUNT=FAKEACCOUNT',
        'SNOWFLAKE_USER=SERVICE_USER',
        `SNOWFLAKE_PASSWORD="${PASSWORD}"`,
        'SNOWFLAKE_WAREHOUSE=BENCH_WH',
        'SNOWFLAKE_ROLE=FLAKEBENCH_ROLE',
        'SNOWFLAKE_DATABASE=FLAKEBENCH',
        'SNOWFLAKE_SCHEMA=PUBLIC',
        'RESULTS_DATABASE=FB_RESULTS',
        'RESULTS_SCHEMA=BENCH_RESULTS',
        'SNOWFLAKE_POOL_SIZE=2',
        'COST_DOLLARS_PER_CREDIT=4.00',
        '',
      ].join('\n'),
    );
    // The environment adds what only a test sets: the loopback endpoint, and quiet logs.
    const environment = readEnvironment({ SNOWFLAKE_ACCESS_URL: fake.url, LOG_LEVEL: 'silent', DATA_DIR: dir.path }, dir.path);
    const config = loadConfig(environment.values, environment);
    const engine = await openEngine(config, silentLog);
    try {
      expect(engine.engine).toBe('snowflake');
      expect(engine.location).toBe('FAKEACCOUNT/FB_RESULTS.BENCH_RESULTS');
      const [row] = await engine.warehouse.query<{ ONE: number }>('SELECT 1 AS ONE');
      expect(row?.ONE).toBe(1);
    } finally {
      await engine.close();
    }
    const accepted = fake.logins.filter((login) => login.accepted);
    expect(accepted.length).toBeGreaterThan(0);
    for (const login of accepted) {
      // The login request names the session's context; unqualified table names resolve in it.
      expect(login.query).toMatchObject({
        databaseName: 'FB_RESULTS',
        schemaName: 'BENCH_RESULTS',
        warehouse: 'BENCH_WH',
        roleName: 'FLAKEBENCH_ROLE',
      });
      expect(login.body.LOGIN_NAME).toBe('SERVICE_USER');
    }
    expect(fake.statements.some((statement) => statement.sqlText === 'SELECT 1 AS ONE')).toBe(true);
  });
});

describe('SNOWFLAKE_HOST', () => {
  // The driver's own connection configuration (the code that turns options into the URL it sends requests
  // to) is used here without connecting: SNOWFLAKE_HOST names a host outside loopback, so nothing is sent.
  const require = createRequire(import.meta.url);
  const ConnectionConfig = require('snowflake-sdk/dist/lib/connection/connection_config.js') as new (options: object) => {
    accessUrl: string;
    host: string;
  };
  const settings = (overrides: Record<string, string>): SnowflakeSettings => {
    const config = loadConfig({ SNOWFLAKE_ACCOUNT: 'myorg-myaccount', SNOWFLAKE_USER: 'svc', SNOWFLAKE_PASSWORD: 'pw', ...overrides });
    if (!config.snowflake) throw new Error('expected Snowflake settings');
    return config.snowflake;
  };

  it('is the host the driver connects to, over https, instead of the one derived from the account', () => {
    const options = driverConnectionOptions(settings({ SNOWFLAKE_HOST: 'snowflake.us-west-2.aws.snowflakecomputing.com' }));
    const resolved = new ConnectionConfig(options);
    expect(resolved.accessUrl).toBe('https://snowflake.us-west-2.aws.snowflakecomputing.com');
    const derived = new ConnectionConfig(driverConnectionOptions(settings({})));
    expect(derived.accessUrl).toBe('https://myorg-myaccount.snowflakecomputing.com');
  });

  it('gives way to SNOWFLAKE_ACCESS_URL, the full URL (how the tests reach 127.0.0.1)', () => {
    const resolved = new ConnectionConfig(driverConnectionOptions(settings({ SNOWFLAKE_HOST: 'h.example.com', SNOWFLAKE_ACCESS_URL: 'http://127.0.0.1:9' })));
    expect(resolved.accessUrl).toBe('http://127.0.0.1:9');
  });
});
