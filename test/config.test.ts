// Configuration: documented defaults, every bad value reported on its own line, the entry point failing
// before it listens, and the README's table listing exactly the variables src/config.ts reads.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, VARIABLES, loadConfig } from '../src/config.js';
import { tempDir } from './support/embedded.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected the configuration to be rejected');
}

/** The README's configuration table: variable → default cell (backticks removed). */
function readmeTable(): Map<string, string> {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.split(/^## Configuration\s*$/m)[1]?.split(/^## /m)[0] ?? '';
  const rows = new Map<string, string>();
  for (const line of section.split('\n')) {
    const cells = line.split('|').map((cell) => cell.trim());
    const name = /^`([A-Z][A-Z0-9_]+)`$/.exec(cells[1] ?? '')?.[1];
    if (name) rows.set(name, (cells[2] ?? '').replace(/`/g, ''));
  }
  return rows;
}

describe('loadConfig', () => {
  it('uses the documented defaults: embedded engine, loopback, the seed schedule and limits', () => {
    const config = loadConfig({});
    expect(config.snowflake).toBeUndefined();
    expect(config.host).toBe('127.0.0.1');
    expect(config.port).toBe(3000);
    expect(config.apiToken).toBeUndefined();
    expect(config.apiAuthScope).toBe('mutating');
    expect(config.corsOrigins).toEqual([]);
    expect(config.latencyScale).toBe(1);
    expect(config.enrichmentEnabled).toBe(true);
    expect(config.pollCron).toBe('*/5 * * * *');
    expect(config.maxConcurrentJobs).toBe(3);
    expect(config.maxAttempts).toBe(3);
    expect(config.leaseMs).toBe(600 * 1000);
    expect(config.deadlineMs).toBe(24 * 3600 * 1000);
    expect(config.bufferMinutes).toEqual({ queryHistory: 5, queryInsights: 10, accountUsage3h: 15 });
  });

  it('converts and validates values', () => {
    const config = loadConfig({
      PORT: '0',
      LATENCY_SCALE: '0.002',
      ENRICHMENT_ENABLED: 'false',
      CORS_ORIGINS: 'http://localhost:5173, http://127.0.0.1:8080 ,',
      SNOWFLAKE_ACCOUNT: 'myorg-myaccount',
      SNOWFLAKE_USER: 'svc',
      SNOWFLAKE_PRIVATE_KEY_PATH: '/keys/svc.p8',
    });
    expect(config.port).toBe(0);
    expect(config.latencyScale).toBe(0.002);
    expect(config.enrichmentEnabled).toBe(false);
    expect(config.corsOrigins).toEqual(['http://localhost:5173', 'http://127.0.0.1:8080']);
    expect(config.snowflake).toMatchObject({ account: 'myorg-myaccount', user: 'svc', privateKeyPath: '/keys/svc.p8', password: undefined });
    expect(config.snowflake?.database).toBe('FLAKEBENCH');
    expect(config.snowflake?.schema).toBe('TEST_RESULTS');
  });

  it('reports every bad value at once, one line each, naming the variable', () => {
    const problems = problemsOf({ PORT: 'abc', LATENCY_SCALE: '5', POLL_CRON: 'every five minutes', SNOWFLAKE_ACCOUNT: 'myorg-myaccount' });
    const about = (name: string) => problems.filter((problem) => problem.startsWith(`${name}:`) || problem.startsWith(`${name} `));
    expect(about('PORT')).toHaveLength(1);
    expect(about('PORT')[0]).toMatch(/integer/);
    expect(about('LATENCY_SCALE')).toHaveLength(1);
    expect(about('LATENCY_SCALE')[0]).toMatch(/at most 1/);
    expect(about('POLL_CRON')).toHaveLength(1);
    expect(about('POLL_CRON')[0]).toMatch(/cron/);
    // An account without a user, and without any authentication method.
    expect(about('SNOWFLAKE_USER')).toHaveLength(1);
    expect(about('SNOWFLAKE_PASSWORD')).toHaveLength(1);
    expect(problems).toHaveLength(5);
    for (const problem of problems) expect(problem).not.toContain('\n');
    let message = '';
    try {
      loadConfig({ PORT: 'abc', LATENCY_SCALE: '5' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message.split('\n').filter((line) => line.startsWith('  - '))).toHaveLength(2);
  });

  it('refuses both a password and a private key', () => {
    const problems = problemsOf({
      SNOWFLAKE_ACCOUNT: 'myorg-myaccount',
      SNOWFLAKE_USER: 'svc',
      SNOWFLAKE_PASSWORD: 'hunter2-secret',
      SNOWFLAKE_PRIVATE_KEY_PATH: '/keys/svc.p8',
    });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/SNOWFLAKE_PASSWORD and SNOWFLAKE_PRIVATE_KEY_PATH/);
    expect(problems[0]).not.toContain('hunter2-secret');
  });

  it('never echoes a secret value in a problem', () => {
    const problems = problemsOf({ API_TOKEN: 'short-secret' });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^API_TOKEN: .*16/);
    expect(problems[0]).not.toContain('short-secret');
  });

  it('rejects identifiers that could carry SQL and non-http access URLs', () => {
    const problems = problemsOf({
      SNOWFLAKE_ACCOUNT: 'a',
      SNOWFLAKE_USER: 'u',
      SNOWFLAKE_PASSWORD: 'p',
      SNOWFLAKE_SCHEMA: 'TEST_RESULTS; DROP TABLE X',
      SNOWFLAKE_ACCESS_URL: 'ftp://example',
    });
    expect(problems.map((problem) => problem.split(':')[0]).sort()).toEqual(['SNOWFLAKE_ACCESS_URL', 'SNOWFLAKE_SCHEMA']);
  });
});

describe('the server entry point', () => {
  it('exits non-zero with one line per problem and no stack trace, before opening the database or listening', () => {
    const data = tempDir();
    try {
      const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 120_000,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          SNOWFLAKE_DISABLE_PLATFORM_DETECTION: 'true',
          DATA_DIR: data.path,
          PORT: 'abc',
          LATENCY_SCALE: '5',
          CLEANUP_CRON: '61 * * * *',
          SNOWFLAKE_ACCOUNT: 'myorg-myaccount',
          SNOWFLAKE_USER: 'svc',
          SNOWFLAKE_PASSWORD: 'hunter2-secret',
          SNOWFLAKE_PRIVATE_KEY_PATH: '/keys/svc.p8',
        },
      });
      expect(result.error).toBeUndefined();
      expect(result.status).not.toBe(0);
      expect(result.status).not.toBeNull();
      const lines = result.stderr.split('\n').filter((line) => line.trim() !== '');
      const problems = lines.filter((line) => line.startsWith('  - '));
      expect(problems).toHaveLength(4);
      for (const name of ['PORT', 'LATENCY_SCALE', 'CLEANUP_CRON', 'SNOWFLAKE_PASSWORD and SNOWFLAKE_PRIVATE_KEY_PATH']) {
        expect(problems.filter((line) => line.startsWith(`  - ${name}`)), name).toHaveLength(1);
      }
      expect(lines.filter((line) => !line.startsWith('  - '))).toEqual(['invalid configuration:']);
      expect(result.stderr).not.toMatch(/^\s+at /m);
      expect(result.stderr).not.toContain('hunter2-secret');
      expect(result.stdout).not.toMatch(/listening/);
      // It stopped before opening the embedded database: the data folder is still empty.
      expect(existsSync(data.path)).toBe(true);
      expect(readdirSync(data.path)).toEqual([]);
    } finally {
      data.remove();
    }
  });
});

describe('README configuration table', () => {
  it('lists exactly the variables src/config.ts reads, with the same defaults', () => {
    const table = readmeTable();
    const declared = Object.keys(VARIABLES);
    expect([...table.keys()].filter((name) => !declared.includes(name)), 'in README but not in src/config.ts').toEqual([]);
    expect(declared.filter((name) => !table.has(name)), 'in src/config.ts but not in README').toEqual([]);
    for (const [name, spec] of Object.entries(VARIABLES) as Array<[string, { default?: unknown }]>) {
      const cell = table.get(name);
      if (spec.default === undefined) expect(['unset', '—', '-', ''], name).toContain(cell);
      else if (spec.default === '') expect(cell, name).toBe('empty');
      else expect(cell, name).toBe(String(spec.default));
    }
  });
});
