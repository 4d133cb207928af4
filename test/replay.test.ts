// Replay of exported NDJSON: a valid fixture set loads (through the route and the CLI), rows are visible at
// once with exact values; a malformed set is rejected naming file:line and leaves the database unchanged.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DuckDbDatabase } from '../src/db/duckdb.js';
import { startTestService, tempDir } from './support/embedded.js';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'replay');
const filesOf = (dir: string) =>
  Object.fromEntries(readdirSync(join(FIXTURES, dir)).map((name) => [name, readFileSync(join(FIXTURES, dir, name), 'utf8')]));

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function counts(service: Awaited<ReturnType<typeof startTestService>>) {
  const w = service.services.warehouse;
  const out: Record<string, number> = {};
  for (const table of ['TEST_RESULTS', 'QUERY_EXECUTIONS', 'SIMULATED_ACCOUNT_USAGE.QUERY_HISTORY', 'SIMULATED_ACCOUNT_USAGE.LOCK_WAIT_HISTORY']) {
    out[table] = (await w.query<{ N: number }>(`SELECT COUNT(*) AS N FROM ${table}`))[0]?.N ?? -1;
  }
  return out;
}

describe('POST /api/dev/replay', () => {
  it('loads the valid fixture set, visible at once, with timestamps in UTC and large ids exact', async () => {
    const service = await startTestService();
    cleanups.push(() => service.stop());
    const response = await service.app.inject({ method: 'POST', url: '/api/dev/replay', payload: { files: filesOf('valid') } });
    expect(response.statusCode, response.body).toBe(200);
    const expectedRows = Object.fromEntries(
      Object.entries(filesOf('valid')).map(([name, text]) => [name.replace('.ndjson', ''), text.split('\n').filter((l) => l.trim()).length]),
    );
    expect((response.json() as { rows: Record<string, number> }).rows).toEqual(expectedRows);
    const w = service.services.warehouse;
    const history = await w.query<{ START_TIME: Date; TX: string }>(
      'SELECT START_TIME, CAST(TRANSACTION_ID AS VARCHAR) AS TX FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY',
    );
    // 03:55 at -08:00 is 11:55 UTC; the 19-digit transaction id survives unrounded.
    expect(history).toEqual([{ START_TIME: new Date('2026-01-15T11:55:00.000Z'), TX: '1765432109876543210' }]);
    const aggregate = (await w.query('SELECT EXECUTION_TIME, ERRORS FROM SNOWFLAKE.ACCOUNT_USAGE.AGGREGATE_QUERY_HISTORY')) as unknown as Array<{
      EXECUTION_TIME: Record<string, number>;
      ERRORS: unknown;
    }>;
    expect(aggregate[0]?.EXECUTION_TIME['p99.9']).toBe(1049.556);
    expect(aggregate[0]?.ERRORS).toEqual([{ code: '000604', message: 'SQL execution canceled', count: 1 }]);
    // A timestamp without an offset is UTC.
    expect(await w.query('SELECT REQUESTED_AT FROM SNOWFLAKE.ACCOUNT_USAGE.LOCK_WAIT_HISTORY')).toEqual([
      { REQUESTED_AT: new Date('2026-01-15T11:55:00.050Z') },
    ]);
    for (const view of ['LOCK_WAIT_HISTORY', 'HYBRID_TABLE_USAGE_HISTORY', 'QUERY_INSIGHTS']) {
      const rows = await w.query<{ N: number }>(`SELECT COUNT(*) AS N FROM SNOWFLAKE.ACCOUNT_USAGE.${view}`);
      expect(rows[0]?.N, view).toBe(1);
    }
    const tests = await w.query<{ TEST_ID: string; END_TIME: Date }>('SELECT TEST_ID, END_TIME FROM TEST_RESULTS');
    expect(tests).toEqual([{ TEST_ID: '7d0c9a52-2b1e-4c8e-9f00-000000000001', END_TIME: new Date('2026-01-15T12:00:00.000Z') }]);
  });

  it('loads a large file (the temporary-file path) with exact 19-digit ids and UTC timestamps', async () => {
    const service = await startTestService();
    cleanups.push(() => service.stop());
    const lines = Array.from({ length: 12_000 }, (_, i) =>
      JSON.stringify({ QUERY_ID: `q-${i}`, START_TIME: '2026-01-15T03:00:00.000-08:00', END_TIME: '2026-01-15T11:00:01Z', TOTAL_ELAPSED_TIME: i }).replace(
        /}$/,
        `,"TRANSACTION_ID":${1765432109876543210n + BigInt(i)}}`,
      ),
    );
    const response = await service.app.inject({ method: 'POST', url: '/api/dev/replay', payload: { files: { QUERY_HISTORY: lines.join('\n') } } });
    expect(response.statusCode, response.body).toBe(200);
    const rows = await service.services.warehouse.query(
      "SELECT CAST(TRANSACTION_ID AS VARCHAR) AS TX, START_TIME FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY WHERE QUERY_ID IN ('q-0', 'q-11999') ORDER BY TOTAL_ELAPSED_TIME",
    );
    expect(rows).toEqual([
      { TX: '1765432109876543210', START_TIME: new Date('2026-01-15T11:00:00.000Z') },
      { TX: '1765432109876555209', START_TIME: new Date('2026-01-15T11:00:00.000Z') },
    ]);
  });

  it('rejects a malformed set naming file and line, and changes nothing', async () => {
    const service = await startTestService();
    cleanups.push(() => service.stop());
    const before = await counts(service);
    const response = await service.app.inject({ method: 'POST', url: '/api/dev/replay', payload: { files: filesOf('malformed') } });
    expect(response.statusCode).toBe(400);
    expect((response.json() as { detail: string }).detail).toMatch(/QUERY_HISTORY\.ndjson:2: column START_TIME/);
    expect(await counts(service)).toEqual(before);
  });

  it('answers 409 and rolls every file back when a row collides with an existing one', async () => {
    const service = await startTestService();
    cleanups.push(() => service.stop());
    const files = filesOf('valid');
    // TEST_RESULTS last, so the views' rows are already inserted when its duplicate key fails.
    const ordered = Object.fromEntries(Object.entries(files).sort(([a], [b]) => (a === 'TEST_RESULTS.ndjson' ? 1 : b === 'TEST_RESULTS.ndjson' ? -1 : 0)));
    expect((await service.app.inject({ method: 'POST', url: '/api/dev/replay', payload: { files: ordered } })).statusCode).toBe(200);
    const before = await counts(service);
    const again = await service.app.inject({ method: 'POST', url: '/api/dev/replay', payload: { files: ordered } });
    expect(again.statusCode, again.body).toBe(409);
    expect((again.json() as { detail: string }).detail).toMatch(/^(TEST_RESULTS|QUERY_EXECUTIONS)\.ndjson: /);
    expect(await counts(service)).toEqual(before);
  });

  it('rejects unknown columns, missing required columns, wrong types and unknown files', async () => {
    const service = await startTestService();
    cleanups.push(() => service.stop());
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ 'LOCK_WAIT_HISTORY.ndjson': '{"QUERY_ID":"q","LOCK_TYPE":"ROW","REQUESTED_AT":"2026-01-15T00:00:00Z","LOCK_TRANSACTION_ID":1}' }, /LOCK_WAIT_HISTORY\.ndjson:1: unknown column LOCK_TRANSACTION_ID/],
      [{ AGGREGATE_QUERY_HISTORY: '{"INTERVAL_START_TIME":"2026-01-15T00:00:00Z","INTERVAL_END_TIME":"2026-01-15T00:01:00Z","QUERY_PARAMETERIZED_HASH":"h"}' }, /AGGREGATE_QUERY_HISTORY\.ndjson:1: required column CALLS is missing/],
      [{ 'QUERY_EXECUTIONS.ndjson': '\n{"EXECUTION_ID":"e","TEST_ID":"t","DURATION_MS":"fast"}' }, /QUERY_EXECUTIONS\.ndjson:2: column DURATION_MS: expected a number/],
      [{ 'AGGREGATE_QUERY_HISTORY.ndjson': '{"CALLS":1,"INTERVAL_START_TIME":"2026-01-15T00:00:00Z","INTERVAL_END_TIME":"2026-01-15T00:01:00Z","QUERY_PARAMETERIZED_HASH":"h","ERRORS":{"code":"1"}}' }, /column ERRORS: expected a JSON array/],
      [{ 'WAREHOUSE_METERING_HISTORY.ndjson': '{}' }, /WAREHOUSE_METERING_HISTORY\.ndjson: not a replayable table or view/],
      // Snowflake's default text form (space before the offset) and a time without seconds are not ISO-8601 here.
      [{ 'HYBRID_TABLE_USAGE_HISTORY.ndjson': '{"START_TIME":"2026-01-15 03:00:00.000 -0800","END_TIME":"2026-01-15T12:00:00Z","CREDITS_USED":1}' }, /HYBRID_TABLE_USAGE_HISTORY\.ndjson:1: column START_TIME: expected an ISO-8601 timestamp/],
      [{ 'HYBRID_TABLE_USAGE_HISTORY.ndjson': '{"START_TIME":"2026-01-15T11:00:00Z","END_TIME":"2026-01-15T12:00Z","CREDITS_USED":1}' }, /column END_TIME: expected an ISO-8601 timestamp/],
    ];
    for (const [files, detail] of cases) {
      const response = await service.app.inject({ method: 'POST', url: '/api/dev/replay', payload: { files } });
      expect(response.statusCode, JSON.stringify(files)).toBe(400);
      expect((response.json() as { detail: string }).detail).toMatch(detail);
    }
  });
});

describe('npm run replay', () => {
  const runCli = (dataDir: string, dir: string) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/replay.ts', dir], {
      cwd: join(import.meta.dirname, '..'),
      env: { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: 'silent', SNOWFLAKE_ACCOUNT: '' },
      encoding: 'utf8',
    });

  it('loads a directory with the service stopped, and exits non-zero naming file:line on bad input', async () => {
    const data = tempDir();
    cleanups.push(() => data.remove());
    const bad = runCli(data.path, join(FIXTURES, 'malformed'));
    expect(bad.status, bad.stderr).toBe(1);
    expect(bad.stderr).toMatch(/QUERY_HISTORY\.ndjson:2: column START_TIME/);
    const good = runCli(data.path, join(FIXTURES, 'valid'));
    expect(good.status, good.stderr).toBe(0);
    expect(good.stdout).toMatch(/QUERY_HISTORY: 1 rows/);
    const database = await DuckDbDatabase.open(join(data.path, 'flakebench.duckdb'));
    try {
      const w = await database.connect();
      const rows = await w.query<{ N: number }>('SELECT COUNT(*) AS N FROM QUERY_EXECUTIONS');
      expect(rows[0]?.N).toBe(2);
    } finally {
      await database.close();
    }
  });
});
