// A fake Snowflake account for the reliability scripts that run service processes in Snowflake mode: one
// fake endpoint (test/support/fake-snowflake.ts) in the script's own process, so a SIGKILLed service process
// never takes "the account" with it. The account holds FlakeBench's tables and the ACCOUNT_USAGE views, and
// the service's objects installed through the real driver once, as an operator would (`npm run migrate`),
// before any instance starts. The service processes reach it through the driver at 127.0.0.1 only.
import { systemClock } from '../../src/clock.js';
import { migrate } from '../../src/db/migrations.js';
import { openSnowflakeWarehouse } from '../../src/db/snowflake.js';
import type { Warehouse } from '../../src/db/warehouse.js';
import { createServices, type Services } from '../../src/services.js';
import { silentLog, testConfig } from '../support/embedded.js';
import { FakeSnowflake, fakeSnowflakeSettings } from '../support/fake-snowflake.js';

const PASSWORD = 'reliability-password';

export interface FakeAccount {
  fake: FakeSnowflake;
  /** A driver session for setup (enqueueing as FlakeBench would); closed by close(). */
  setup: Warehouse;
  /** The service's queue and event services over `setup`. */
  services: Services;
  /** What a service process needs in its environment to run in Snowflake mode against this account. */
  serviceEnv: Record<string, string>;
  close(): Promise<void>;
}

export async function openFakeAccount(): Promise<FakeAccount> {
  const fake = await FakeSnowflake.start({ password: PASSWORD });
  let setup: Warehouse | undefined;
  try {
    await fake.createFlakeBenchTables();
    await fake.createAccountUsageViews();
    setup = await openSnowflakeWarehouse(fakeSnowflakeSettings(fake, PASSWORD, { statementTimeoutMs: 60_000, writeCarrier: 'procedure' }), silentLog);
    await migrate(setup, { clock: systemClock, log: { info: () => undefined, warn: () => undefined } });
    const opened = setup;
    const services = createServices({
      config: testConfig(),
      clock: systemClock,
      log: silentLog,
      engine: { engine: 'snowflake', warehouse: opened, connect: async () => opened, location: 'fake', close: async () => undefined },
    });
    return {
      fake,
      setup: opened,
      services,
      serviceEnv: {
        ENV_FILE: '/dev/null',
        SNOWFLAKE_ACCOUNT: 'FAKEACCOUNT',
        SNOWFLAKE_USER: 'SERVICE_USER',
        SNOWFLAKE_PASSWORD: PASSWORD,
        SNOWFLAKE_ACCESS_URL: fake.url,
        SNOWFLAKE_POOL_SIZE: '2',
        SNOWFLAKE_DISABLE_PLATFORM_DETECTION: 'true',
        AUTO_ENQUEUE: 'false',
      },
      async close() {
        await opened.close();
        await fake.stop();
      },
    };
  } catch (error) {
    await setup?.close();
    await fake.stop();
    throw error;
  }
}
