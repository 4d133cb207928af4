import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // DuckDB is a native addon: separate processes keep each test file's database handles apart.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // ENV_FILE: a developer's .env (maybe with a real SNOWFLAKE_ACCOUNT) must never reach the services the
    // tests start; a test that wants a settings file names its own.
    env: { SNOWFLAKE_DISABLE_PLATFORM_DETECTION: 'true', TZ: 'UTC', ENV_FILE: '/dev/null' },
    setupFiles: ['test/support/loopback-guard.ts'],
  },
});
