import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // DuckDB is a native addon: separate processes keep each test file's database handles apart.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    env: { SNOWFLAKE_DISABLE_PLATFORM_DETECTION: 'true', TZ: 'UTC' },
    setupFiles: ['test/support/loopback-guard.ts'],
  },
});
