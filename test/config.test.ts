// Configuration: documented defaults, every bad value reported on its own line, the entry point failing
// before it listens, and the README's table listing exactly the variables src/config.ts reads.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, VARIABLES, loadConfig, readEnvironment } from '../src/config.js';
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
    // FlakeBench's defaults for where its results are: RESULTS_DATABASE / RESULTS_SCHEMA.
    expect(config.snowflake?.database).toBe('FLAKEBENCH');
    expect(config.snowflake?.schema).toBe('TEST_RESULTS');
    expect(config.snowflake?.host).toBeUndefined();
  });

  it("reads SNOWFLAKE_WRITE_CARRIER ('procedure' unless set) and names a value it does not know", () => {
    const account = { SNOWFLAKE_ACCOUNT: 'myorg-myaccount', SNOWFLAKE_USER: 'svc', SNOWFLAKE_PASSWORD: 'pw' };
    expect(loadConfig(account).snowflake?.writeCarrier).toBe('procedure');
    expect(loadConfig({ ...account, SNOWFLAKE_WRITE_CARRIER: 'inline' }).snowflake?.writeCarrier).toBe('inline');
    expect(loadConfig({ ...account, SNOWFLAKE_WRITE_CARRIER: 'statements' }).snowflake?.writeCarrier).toBe('statements');
    const problems = problemsOf({ ...account, SNOWFLAKE_WRITE_CARRIER: 'multi-statement' });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^SNOWFLAKE_WRITE_CARRIER: .*"multi-statement"/);
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
      RESULTS_SCHEMA: 'TEST_RESULTS; DROP TABLE X',
      SNOWFLAKE_ACCESS_URL: 'ftp://example',
      SNOWFLAKE_HOST: 'https://acct.snowflakecomputing.com/',
    });
    expect(problems.map((problem) => problem.split(':')[0]).sort()).toEqual(['RESULTS_SCHEMA', 'SNOWFLAKE_ACCESS_URL', 'SNOWFLAKE_HOST']);
    expect(problems.find((problem) => problem.startsWith('SNOWFLAKE_HOST'))).toMatch(/host name without scheme/);
  });
});

const ACCOUNT = { SNOWFLAKE_ACCOUNT: 'myorg-myaccount', SNOWFLAKE_USER: 'svc', SNOWFLAKE_PASSWORD: 'pw-123456' };

describe("FlakeBench's settings", () => {
  it('RESULTS_DATABASE / RESULTS_SCHEMA place the tables; SNOWFLAKE_DATABASE / SNOWFLAKE_SCHEMA (its session default) do not', () => {
    const placed = loadConfig({ ...ACCOUNT, RESULTS_DATABASE: 'BENCH', RESULTS_SCHEMA: 'RESULTS', SNOWFLAKE_DATABASE: 'OTHER_DB', SNOWFLAKE_SCHEMA: 'PUBLIC' });
    expect(placed.snowflake).toMatchObject({ database: 'BENCH', schema: 'RESULTS' });
    // FlakeBench's .env usually carries SNOWFLAKE_SCHEMA=PUBLIC: the results stay where FlakeBench keeps them.
    const flakebenchDefaults = loadConfig({ ...ACCOUNT, SNOWFLAKE_DATABASE: 'FLAKEBENCH', SNOWFLAKE_SCHEMA: 'PUBLIC' });
    expect(flakebenchDefaults.snowflake).toMatchObject({ database: 'FLAKEBENCH', schema: 'TEST_RESULTS' });
    expect(Object.keys(VARIABLES)).not.toContain('SNOWFLAKE_SCHEMA');
    expect(Object.keys(VARIABLES)).not.toContain('SNOWFLAKE_DATABASE');
  });

  it('SNOWFLAKE_HOST becomes the host the driver connects to; SNOWFLAKE_ACCESS_URL stays a separate, full URL', () => {
    const config = loadConfig({ ...ACCOUNT, SNOWFLAKE_HOST: 'myorg-myaccount.privatelink.snowflakecomputing.com' });
    expect(config.snowflake?.host).toBe('myorg-myaccount.privatelink.snowflakecomputing.com');
    expect(config.snowflake?.accessUrl).toBeUndefined();
    const both = loadConfig({ ...ACCOUNT, SNOWFLAKE_HOST: 'h.example', SNOWFLAKE_ACCESS_URL: 'http://127.0.0.1:9' });
    expect(both.snowflake).toMatchObject({ host: 'h.example', accessUrl: 'http://127.0.0.1:9' });
  });

  it('CORS_ORIGINS takes a comma list or a JSON array, and says so when it is neither', () => {
    expect(loadConfig({ CORS_ORIGINS: '["http://localhost:5173", "http://127.0.0.1:8080"]' }).corsOrigins).toEqual([
      'http://localhost:5173',
      'http://127.0.0.1:8080',
    ]);
    const problems = problemsOf({ CORS_ORIGINS: '["http://localhost:5173", 3]' });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^CORS_ORIGINS: .*JSON array/);
  });
});

/** FlakeBench's .env as its users have it: its connection names, its results location, keys only FlakeBench reads. */
const FLAKEBENCH_ENV = `# FlakeBench settings
SNOWFLAKE_ACCOUNT=myorg-myaccount
SNOWFLAKE_USER="FLAKEBENCH_SVC"
SNOWFLAKE_PASSWORD='s3cret #not a comment'
SNOWFLAKE_WAREHOUSE=BENCH_WH
SNOWFLAKE_DATABASE=FLAKEBENCH
SNOWFLAKE_SCHEMA=PUBLIC
SNOWFLAKE_ROLE=FLAKEBENCH_ROLE
SNOWFLAKE_POOL_SIZE=6
export RESULTS_DATABASE=FLAKEBENCH_PROD
RESULTS_SCHEMA=TEST_RESULTS
CORS_ORIGINS=http://localhost:5173,http://localhost:3000
COST_DOLLARS_PER_CREDIT=4.00
POSTGRES_HOST=pg.internal
APP_MODE=production
`;

describe('readEnvironment (.env and ENV_FILE)', () => {
  it("loads FlakeBench's own .env from the working directory: its settings apply, keys it alone knows are ignored", () => {
    const dir = tempDir();
    try {
      writeFileSync(join(dir.path, '.env'), FLAKEBENCH_ENV);
      const environment = readEnvironment({ PATH: '/usr/bin' }, dir.path);
      expect(environment.file).toBe(join(dir.path, '.env'));
      const config = loadConfig(environment.values, environment);
      expect(config.snowflake).toMatchObject({
        account: 'myorg-myaccount',
        user: 'FLAKEBENCH_SVC',
        password: 's3cret #not a comment',
        warehouse: 'BENCH_WH',
        role: 'FLAKEBENCH_ROLE',
        poolSize: 6,
        database: 'FLAKEBENCH_PROD',
        schema: 'TEST_RESULTS',
      });
      expect(config.corsOrigins).toEqual(['http://localhost:5173', 'http://localhost:3000']);
    } finally {
      dir.remove();
    }
  });

  it('the environment wins over the file, also with an empty value; nothing is written into process.env', () => {
    const dir = tempDir();
    try {
      writeFileSync(join(dir.path, '.env'), 'PORT=4100\nLOG_LEVEL=debug\nRESULTS_SCHEMA=FROM_FILE\nSTATS_CACHE_SECONDS=7\n');
      const environment = readEnvironment({ PORT: '4200', LOG_LEVEL: '' }, dir.path);
      const config = loadConfig(environment.values, environment);
      expect(config.port).toBe(4200); // environment over file
      expect(config.logLevel).toBe('info'); // set empty in the environment: the default, not the file's value
      expect(config.statsCacheMs).toBe(7000); // only in the file
      expect([...environment.fromFile].sort()).toEqual(['RESULTS_SCHEMA', 'STATS_CACHE_SECONDS']);
      expect(process.env.STATS_CACHE_SECONDS).toBeUndefined();
    } finally {
      dir.remove();
    }
  });

  it('without a .env the environment is all there is; ENV_FILE names another file, relative to the working directory', () => {
    const dir = tempDir();
    try {
      const none = readEnvironment({ PORT: '4300' }, dir.path);
      expect(none.file).toBeUndefined();
      expect(loadConfig(none.values).port).toBe(4300);
      mkdirSync(join(dir.path, 'conf'));
      writeFileSync(join(dir.path, '.env'), 'PORT=4400\n');
      writeFileSync(join(dir.path, 'conf', 'service.env'), 'PORT=4500\nENV_FILE=elsewhere.env\n');
      const named = readEnvironment({ ENV_FILE: 'conf/service.env' }, dir.path);
      expect(named.file).toBe(join(dir.path, 'conf', 'service.env'));
      expect(loadConfig(named.values).port).toBe(4500); // the named file, not ./.env
      expect(named.values.ENV_FILE).toBe('conf/service.env'); // a file does not redirect to another
    } finally {
      dir.remove();
    }
  });

  it('an ENV_FILE that cannot be read is one problem naming it', () => {
    const dir = tempDir();
    try {
      let problems: string[] = [];
      try {
        readEnvironment({ ENV_FILE: 'missing.env' }, dir.path);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        problems = (error as ConfigError).problems;
      }
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^ENV_FILE: cannot read .*missing\.env \(ENOENT\)$/);
    } finally {
      dir.remove();
    }
  });

  it('bad values from the file are reported one per line, each naming the file; secrets are not echoed', () => {
    const dir = tempDir();
    try {
      const file = join(dir.path, '.env');
      writeFileSync(file, `${FLAKEBENCH_ENV}PORT=eighty\nRESULTS_SCHEMA="TEST RESULTS"\nAPI_TOKEN=short-token\n`);
      const environment = readEnvironment({ LATENCY_SCALE: '7' }, dir.path);
      let problems: string[] = [];
      try {
        loadConfig(environment.values, environment);
      } catch (error) {
        problems = (error as ConfigError).problems;
      }
      expect(problems.map((problem) => problem.split(':')[0]).sort()).toEqual(['API_TOKEN', 'LATENCY_SCALE', 'PORT', 'RESULTS_SCHEMA']);
      for (const problem of problems) expect(problem).not.toContain('\n');
      for (const name of ['PORT', 'RESULTS_SCHEMA', 'API_TOKEN']) {
        expect(problems.find((problem) => problem.startsWith(`${name}:`)), name).toContain(`(set in ${file})`);
      }
      expect(problems.find((problem) => problem.startsWith('LATENCY_SCALE:'))).not.toContain('set in');
      expect(problems.join('\n')).not.toContain('short-token');
      expect(problems.join('\n')).not.toContain('s3cret');
    } finally {
      dir.remove();
    }
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
          ENV_FILE: '/dev/null',
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

describe('the server entry point with a settings file', () => {
  it("reads FlakeBench's .env named by ENV_FILE: its unknown keys pass silently, its bad values exit 2, one line each", () => {
    const data = tempDir();
    try {
      const file = join(data.path, 'flakebench.env');
      writeFileSync(file, `${FLAKEBENCH_ENV}PORT=eighty\nPOLL_CRON=sometimes\n`);
      const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 120_000,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          SNOWFLAKE_DISABLE_PLATFORM_DETECTION: 'true',
          ENV_FILE: file,
          DATA_DIR: data.path,
          // Loopback only, should the configuration ever pass.
          SNOWFLAKE_ACCESS_URL: 'http://127.0.0.1:9',
        },
      });
      expect(result.error).toBeUndefined();
      expect(result.status).toBe(2);
      const lines = result.stderr.split('\n').filter((line) => line.trim() !== '');
      expect(lines).toEqual([
        'invalid configuration:',
        expect.stringMatching(new RegExp(`^  - PORT: must be an integer.*\\(set in ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\)$`)),
        expect.stringMatching(/^  - POLL_CRON: not a valid cron expression/),
      ]);
      expect(result.stderr).not.toMatch(/COST_DOLLARS_PER_CREDIT|POSTGRES_HOST|APP_MODE/);
      expect(result.stderr).not.toContain('s3cret');
      expect(readdirSync(data.path)).toEqual(['flakebench.env']);
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
