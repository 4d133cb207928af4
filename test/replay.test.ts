// Replay of exported NDJSON: a valid fixture set loads (through the route and the CLI), rows are visible at
// once with exact values; a malformed set is rejected naming file:line and leaves the database unchanged.
// Real-shaped exports (every column of FlakeBench's tables and of the five views, built from the column lists by
// a seeded generator in fixtures/flakebench-export.ts) load as they are; undocumented columns are reported and
// left out, or refused with strict; lower-case keys load; a bad value anywhere changes nothing.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { DuckDbDatabase } from '../src/db/duckdb.js';
import type { Warehouse } from '../src/db/warehouse.js';
import { createLogger } from '../src/logger.js';
import { startService } from '../src/service.js';
import { SOURCE_VIEWS } from '../src/sources/account-usage.js';
import { FLAKEBENCH_QUERY_EXECUTIONS_COLUMNS, FLAKEBENCH_TEST_RESULTS_COLUMNS } from '../src/sources/flakebench-tables.js';
import { exportFiles, exportSet, type ExportRow, type ExportSet } from './fixtures/flakebench-export.js';
import { startTestService, tempDir, testConfig } from './support/embedded.js';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'replay');
const filesOf = (dir: string) =>
  Object.fromEntries(readdirSync(join(FIXTURES, dir)).map((name) => [name, readFileSync(join(FIXTURES, dir, name), 'utf8')]));

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

type Service = Awaited<ReturnType<typeof startTestService>>;
interface ReplayAnswer {
  rows: Record<string, number>;
  undocumented_columns: Array<{ file: string; column: string; rows: number; first_line: number }>;
  not_stored_columns: Array<{ file: string; column: string; rows: number }>;
}

async function started(): Promise<Service> {
  const service = await startTestService();
  cleanups.push(() => service.stop());
  return service;
}

const post = (service: Service, payload: Record<string, unknown>) => service.app.inject({ method: 'POST', url: '/api/dev/replay', payload });

/** Every table replay writes, with its schema in the embedded database and its documented columns. */
const TARGETS: Array<{ name: string; schema: string; documented: string[] }> = [
  { name: 'TEST_RESULTS', schema: 'main', documented: FLAKEBENCH_TEST_RESULTS_COLUMNS.map((c) => c.name) },
  { name: 'QUERY_EXECUTIONS', schema: 'main', documented: FLAKEBENCH_QUERY_EXECUTIONS_COLUMNS.map((c) => c.name) },
  ...SOURCE_VIEWS.map((view) => ({ name: view.name, schema: 'SIMULATED_ACCOUNT_USAGE', documented: view.columns.map((c) => c.name) })),
];

async function storedColumns(w: Warehouse, schema: string, table: string): Promise<string[]> {
  const rows = await w.query<{ N: string }>(
    'SELECT column_name AS N FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = ? AND table_name = ? ORDER BY column_index',
    [schema, table],
  );
  return rows.map((row) => row.N);
}

/** Row count and a digest of every row of every table replay writes. */
async function checksum(w: Warehouse): Promise<Record<string, { N: number; H: string }>> {
  const out: Record<string, { N: number; H: string }> = {};
  for (const target of TARGETS) {
    const rows = await w.query<{ N: number; H: string }>(
      `SELECT COUNT(*) AS N, md5(COALESCE(string_agg(CAST(t AS VARCHAR), '|' ORDER BY CAST(t AS VARCHAR)), '')) AS H FROM ${target.schema}.${target.name} t`,
    );
    out[target.name] = rows[0] as { N: number; H: string };
  }
  return out;
}

const canonical = (row: Record<string, unknown>) => JSON.stringify(row, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));

/**
 * The rows of each table equal the exported rows on every documented column the table stores (absent keys are
 * NULL); compared as multisets, since a view has no key.
 */
async function expectStoredAsExported(w: Warehouse, set: ExportSet): Promise<void> {
  const exported: Record<string, ExportRow[]> = {
    TEST_RESULTS: set.tests.map((t) => t.testResults),
    QUERY_EXECUTIONS: set.tests.flatMap((t) => t.queryExecutions),
    ...set.views,
  };
  for (const target of TARGETS) {
    const stored = new Set(await storedColumns(w, target.schema, target.name));
    // The guessed stand-ins (before migration 0006) stored Snowflake FLOAT as 32-bit FLOAT: compare at that precision.
    const singles = new Set(
      (
        await w.query<{ N: string }>(
          "SELECT column_name AS N FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = ? AND table_name = ? AND data_type = 'FLOAT'",
          [target.schema, target.name],
        )
      ).map((row) => row.N),
    );
    const columns = target.documented.filter((name) => stored.has(name));
    const expectedValue = (name: string, value: unknown) =>
      typeof value === 'bigint' ? String(value) : typeof value === 'number' && singles.has(name) ? Math.fround(value) : (value ?? null);
    const expected = (exported[target.name] ?? []).map((row) => Object.fromEntries(columns.map((name) => [name, expectedValue(name, row[name])])));
    const actual = await w.query(`SELECT ${columns.map((c) => `"${c}"`).join(', ')} FROM ${target.schema}.${target.name}`);
    const sort = (rows: Array<Record<string, unknown>>) => rows.map(canonical).sort();
    expect(sort(actual), target.name).toEqual(sort(expected));
  }
}

describe('POST /api/dev/replay', () => {
  it('loads the valid fixture set, visible at once, with timestamps in UTC and large ids exact', async () => {
    const service = await started();
    const response = await post(service, { files: filesOf('valid') });
    expect(response.statusCode, response.body).toBe(200);
    const expectedRows = Object.fromEntries(
      Object.entries(filesOf('valid')).map(([name, text]) => [name.replace('.ndjson', ''), text.split('\n').filter((l) => l.trim()).length]),
    );
    const answer = response.json() as ReplayAnswer;
    expect(answer.rows).toEqual(expectedRows);
    expect(answer.undocumented_columns).toEqual([]);
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
    const service = await started();
    const lines = Array.from({ length: 12_000 }, (_, i) =>
      JSON.stringify({ QUERY_ID: `q-${i}`, START_TIME: '2026-01-15T03:00:00.000-08:00', END_TIME: '2026-01-15T11:00:01Z', TOTAL_ELAPSED_TIME: i }).replace(
        /}$/,
        `,"TRANSACTION_ID":${1765432109876543210n + BigInt(i)}}`,
      ),
    );
    const response = await post(service, { files: { QUERY_HISTORY: lines.join('\n') } });
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
    const service = await started();
    const before = await checksum(service.services.warehouse);
    const response = await post(service, { files: filesOf('malformed') });
    expect(response.statusCode).toBe(400);
    expect((response.json() as { detail: string }).detail).toMatch(/QUERY_HISTORY\.ndjson:2: column START_TIME/);
    expect(await checksum(service.services.warehouse)).toEqual(before);
  });

  it('loads a real-shaped export of both tables and all five views as it is, every documented value stored exactly', async () => {
    const service = await started();
    const w = service.services.warehouse;
    const set = exportSet(8);
    const files = exportFiles(set);
    // The export is real-shaped: TEST_RESULTS rows carry (nearly) all of FlakeBench's columns, NULLs left out.
    const firstTest = JSON.parse(files['TEST_RESULTS.ndjson']?.split('\n')[0] ?? '{}') as Record<string, unknown>;
    expect(Object.keys(firstTest).length).toBeGreaterThan(70);
    expect(firstTest.SCENARIO_NAME).toEqual(expect.any(String));
    expect(firstTest.START_TIME).toMatch(/^2026-01-15 \d{2}:\d{2}:\d{2}\.\d{3}$/);
    const response = await post(service, { files });
    expect(response.statusCode, response.body).toBe(200);
    const answer = response.json() as ReplayAnswer;
    expect(answer.rows).toEqual({
      TEST_RESULTS: set.tests.length,
      QUERY_EXECUTIONS: set.tests.length * 6,
      ...Object.fromEntries(Object.entries(set.views).map(([view, rows]) => [view, rows.length])),
    });
    expect(answer.undocumented_columns).toEqual([]);
    // Documented columns the embedded tables lack (none once they have FlakeBench's real columns) are named.
    const expectedNotStored: string[] = [];
    for (const target of TARGETS.slice(0, 2)) {
      const stored = new Set(await storedColumns(w, target.schema, target.name));
      const rows = target.name === 'TEST_RESULTS' ? set.tests.map((t) => t.testResults) : set.tests.flatMap((t) => t.queryExecutions);
      for (const name of target.documented) if (!stored.has(name) && rows.some((row) => row[name] != null)) expectedNotStored.push(`${target.name}.ndjson ${name}`);
    }
    expect(answer.not_stored_columns.map((c) => `${c.file} ${c.column}`).sort()).toEqual(expectedNotStored.sort());
    await expectStoredAsExported(w, set);
    // Replayed view rows are visible at once through the views the enrichment reads.
    const visible = await w.query<{ N: number }>('SELECT COUNT(*) AS N FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY');
    expect(visible[0]?.N).toBe(set.views.QUERY_HISTORY.length);
  });

  it('a replayed test enqueues without target fields: table, database and schema come from the replayed row', async () => {
    const service = await started();
    const set = exportSet(144, 2);
    expect((await post(service, { files: exportFiles(set, { keys: 'lower' }) })).statusCode).toBe(200);
    for (const { testResults } of set.tests) {
      const response = await service.app.inject({
        method: 'POST',
        url: '/api/enrichment/jobs',
        payload: {
          test_id: testResults.TEST_ID,
          run_id: testResults.RUN_ID,
          table_type: testResults.TABLE_TYPE,
          test_end_time: (testResults.END_TIME as Date).toISOString(),
        },
      });
      expect(response.statusCode, response.body).toBeLessThan(300);
      const target = (testResults.TEST_CONFIG as { target: Record<string, string> }).target;
      const jobs = await service.services.warehouse.query(
        'SELECT TARGET_TABLE, TARGET_DATABASE, TARGET_SCHEMA, TEST_START_TIME FROM DELAYED_ENRICHMENT_QUEUE WHERE TEST_ID = ?',
        [testResults.TEST_ID as string],
      );
      expect(jobs).toEqual([
        { TARGET_TABLE: testResults.TABLE_NAME, TARGET_DATABASE: target.database, TARGET_SCHEMA: target.schema, TEST_START_TIME: testResults.START_TIME },
      ]);
    }
  });

  it('reports a documented column the embedded table does not have as not stored, and loads the rest', async () => {
    const service = await started();
    const w = service.services.warehouse;
    // An embedded table without one of FlakeBench's columns (as the guessed stand-ins were).
    await w.execute('ALTER TABLE TEST_RESULTS DROP COLUMN IF EXISTS REALISM_PROFILE');
    const set = exportSet(21, 3);
    for (const test of set.tests) test.testResults.REALISM_PROFILE = 'production_like';
    const response = await post(service, { files: { 'TEST_RESULTS.ndjson': exportFiles(set)['TEST_RESULTS.ndjson'] } });
    expect(response.statusCode, response.body).toBe(200);
    const answer = response.json() as ReplayAnswer;
    expect(answer.rows).toEqual({ TEST_RESULTS: 3 });
    expect(answer.not_stored_columns).toContainEqual({ file: 'TEST_RESULTS.ndjson', column: 'REALISM_PROFILE', rows: 3 });
    expect(answer.undocumented_columns).toEqual([]);
  });

  it('reports an undocumented column by file and name and leaves it out; strict refuses it naming file, line and column', async () => {
    const service = await started();
    const w = service.services.warehouse;
    const set = exportSet(5, 3);
    const files = exportFiles(set, {
      extra: {
        'TEST_RESULTS.ndjson': { 1: { FLAKEBENCH_NEXT_VERSION_COLUMN: 'x' }, 2: { FLAKEBENCH_NEXT_VERSION_COLUMN: 'y' } },
        // VISIBLE_AT is a column of the simulated view's base table, but not of the view: never taken from a file.
        'QUERY_HISTORY.ndjson': { 0: { VISIBLE_AT: '2099-01-01 00:00:00.000' } },
      },
    });
    const before = await checksum(w);
    const refused = await post(service, { files, strict: true });
    expect(refused.statusCode, refused.body).toBe(400);
    const detail = (refused.json() as { detail: string }).detail;
    expect(detail).toMatch(/QUERY_HISTORY\.ndjson:1: column VISIBLE_AT is not documented/);
    expect(detail).toMatch(/TEST_RESULTS\.ndjson:2: column FLAKEBENCH_NEXT_VERSION_COLUMN is not documented/);
    expect(await checksum(w)).toEqual(before);

    const loaded = await post(service, { files });
    expect(loaded.statusCode, loaded.body).toBe(200);
    const answer = loaded.json() as ReplayAnswer;
    expect(answer.undocumented_columns).toEqual([
      { file: 'TEST_RESULTS.ndjson', column: 'FLAKEBENCH_NEXT_VERSION_COLUMN', rows: 2, first_line: 2 },
      { file: 'QUERY_HISTORY.ndjson', column: 'VISIBLE_AT', rows: 1, first_line: 1 },
    ]);
    await expectStoredAsExported(w, set);
    expect(await storedColumns(w, 'main', 'TEST_RESULTS')).not.toContain('FLAKEBENCH_NEXT_VERSION_COLUMN');
    // The row's VISIBLE_AT was left out: it shows at once.
    const visible = await w.query<{ N: number }>('SELECT COUNT(*) AS N FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY');
    expect(visible[0]?.N).toBe(set.views.QUERY_HISTORY.length);
  });

  it('logs each undocumented column it left out (the route\'s answer names it too)', async () => {
    const dir = tempDir();
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...String(chunk).split('\n').filter(Boolean));
        done();
      },
    });
    const service = await startService(testConfig({ DATA_DIR: dir.path }), createLogger('warn', sink), { clock: new ManualClock() });
    cleanups.push(async () => {
      await service.stop();
      dir.remove();
    });
    const set = exportSet(233, 1);
    const files = exportFiles(set, { extra: { 'LOCK_WAIT_HISTORY.ndjson': { 1: { LOCK_SCOPE: 'ROW' } } } });
    const response = await service.app.inject({ method: 'POST', url: '/api/dev/replay', payload: { files } });
    expect(response.statusCode, response.body).toBe(200);
    expect((response.json() as ReplayAnswer).undocumented_columns).toEqual([{ file: 'LOCK_WAIT_HISTORY.ndjson', column: 'LOCK_SCOPE', rows: 1, first_line: 2 }]);
    const logged = lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((entry) => entry.column === 'LOCK_SCOPE');
    expect(logged).toEqual([expect.objectContaining({ level: 40, file: 'LOCK_WAIT_HISTORY.ndjson', rows: 1, first_line: 2 })]);
  });

  it('accepts a column this service adds to TEST_RESULTS as documented', async () => {
    const service = await started();
    const set = exportSet(13, 1);
    const files = exportFiles(set, { extra: { 'TEST_RESULTS.ndjson': { 0: { THROTTLED_QUERY_COUNT: 7 } } } });
    const response = await post(service, { files: { 'TEST_RESULTS.ndjson': files['TEST_RESULTS.ndjson'] }, strict: true });
    expect(response.statusCode, response.body).toBe(200);
    const rows = await service.services.warehouse.query('SELECT THROTTLED_QUERY_COUNT FROM TEST_RESULTS');
    expect(rows).toEqual([{ THROTTLED_QUERY_COUNT: 7 }]);
  });

  it('loads lower-case keys as the same columns', async () => {
    const service = await started();
    const set = exportSet(34);
    const response = await post(service, { files: exportFiles(set, { keys: 'lower' }), strict: true });
    expect(response.statusCode, response.body).toBe(200);
    expect((response.json() as ReplayAnswer).undocumented_columns).toEqual([]);
    await expectStoredAsExported(service.services.warehouse, set);
  });

  it('refuses a row with two keys that differ only in case', async () => {
    const service = await started();
    const set = exportSet(55, 2);
    const files = exportFiles(set, { extra: { 'QUERY_EXECUTIONS.ndjson': { 3: { warmup: true } } } });
    const before = await checksum(service.services.warehouse);
    const response = await post(service, { files });
    expect(response.statusCode, response.body).toBe(400);
    expect((response.json() as { detail: string }).detail).toMatch(/QUERY_EXECUTIONS\.ndjson:4: keys WARMUP and warmup name the same column/);
    expect(await checksum(service.services.warehouse)).toEqual(before);
  });

  it('refuses the whole load for one bad value in any file, naming file, line and column, and changes nothing', async () => {
    const service = await started();
    const w = service.services.warehouse;
    expect((await post(service, { files: exportFiles(exportSet(1)) })).statusCode).toBe(200);
    const before = await checksum(w);
    expect(before.TEST_RESULTS?.N).toBeGreaterThan(0);
    const set = exportSet(2);
    const last = (rows: ExportRow[]) => rows.length - 1;
    const bad: Array<[string, number, string, unknown, RegExp]> = [
      ['TEST_RESULTS.ndjson', 2, 'CONCURRENT_CONNECTIONS', 'four', /TEST_RESULTS\.ndjson:3: column CONCURRENT_CONNECTIONS: expected a number/],
      ['TEST_RESULTS.ndjson', 0, 'TOTAL_OPERATIONS', 12.5, /TEST_RESULTS\.ndjson:1: column TOTAL_OPERATIONS: expected an integer/],
      ['TEST_RESULTS.ndjson', 1, 'TEST_ID', 'x'.repeat(37), /TEST_RESULTS\.ndjson:2: column TEST_ID: expected at most 36 characters/],
      ['QUERY_EXECUTIONS.ndjson', 5, 'END_TIME', '2026-02-30 10:00:00.000', /QUERY_EXECUTIONS\.ndjson:6: column END_TIME: expected a timestamp/],
      ['QUERY_EXECUTIONS.ndjson', 0, 'SUCCESS', 'true', /QUERY_EXECUTIONS\.ndjson:1: column SUCCESS: expected true or false/],
      ['QUERY_INSIGHTS.ndjson', last(set.views.QUERY_INSIGHTS), 'SUGGESTIONS', 'use a larger warehouse', /QUERY_INSIGHTS\.ndjson:\d+: column SUGGESTIONS: expected a JSON array/],
      ['AGGREGATE_QUERY_HISTORY.ndjson', 0, 'CALLS', null, /AGGREGATE_QUERY_HISTORY\.ndjson:1: required column CALLS is missing/],
    ];
    for (const [file, index, column, value, detail] of bad) {
      const response = await post(service, { files: exportFiles(set, { extra: { [file]: { [index]: { [column]: value } } } }) });
      expect(response.statusCode, `${file} ${column}`).toBe(400);
      expect((response.json() as { detail: string }).detail).toMatch(detail);
      expect(await checksum(w), `${file} ${column}`).toEqual(before);
    }
    // A missing required column (FlakeBench's NOT NULL SCENARIO_NAME) is refused too.
    delete set.tests[1]?.testResults.SCENARIO_NAME;
    const missing = await post(service, { files: exportFiles(set) });
    expect(missing.statusCode).toBe(400);
    expect((missing.json() as { detail: string }).detail).toMatch(/TEST_RESULTS\.ndjson:2: required column SCENARIO_NAME is missing/);
    expect(await checksum(w)).toEqual(before);
  });

  it('accepts Snowflake\'s timestamp text and ISO-8601 as the same instants', async () => {
    const service = await started();
    const forms = [
      '2026-01-15 03:00:00.000 -0800',
      '2026-01-15 11:00:00.000',
      '2026-01-15 11:00:00',
      '2026-01-15T11:00:00Z',
      '2026-01-15T12:00:00.000+01:00',
      '2026-01-15 06:30:00.000000000 -0430',
      '2026-01-15T11:00:00.000+0000',
    ];
    const lines = forms.map((form, i) => JSON.stringify({ START_TIME: form, END_TIME: '2026-01-15T12:00:00Z', CREDITS_USED: i, OBJECT_NAME: form }));
    const response = await post(service, { files: { HYBRID_TABLE_USAGE_HISTORY: lines.join('\n') } });
    expect(response.statusCode, response.body).toBe(200);
    const rows = await service.services.warehouse.query<{ START_TIME: Date }>('SELECT DISTINCT START_TIME FROM SNOWFLAKE.ACCOUNT_USAGE.HYBRID_TABLE_USAGE_HISTORY');
    expect(rows).toEqual([{ START_TIME: new Date('2026-01-15T11:00:00.000Z') }]);
  });

  it('rejects missing required columns, wrong types and unknown files', async () => {
    const service = await started();
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ AGGREGATE_QUERY_HISTORY: '{"INTERVAL_START_TIME":"2026-01-15T00:00:00Z","INTERVAL_END_TIME":"2026-01-15T00:01:00Z","QUERY_PARAMETERIZED_HASH":"h"}' }, /AGGREGATE_QUERY_HISTORY\.ndjson:1: required column CALLS is missing/],
      [{ 'QUERY_EXECUTIONS.ndjson': '\n{"EXECUTION_ID":"e","TEST_ID":"t","DURATION_MS":"fast"}' }, /QUERY_EXECUTIONS\.ndjson:2: column DURATION_MS: expected a number/],
      [{ 'AGGREGATE_QUERY_HISTORY.ndjson': '{"CALLS":1,"INTERVAL_START_TIME":"2026-01-15T00:00:00Z","INTERVAL_END_TIME":"2026-01-15T00:01:00Z","QUERY_PARAMETERIZED_HASH":"h","ERRORS":{"code":"1"}}' }, /column ERRORS: expected a JSON array/],
      [{ 'WAREHOUSE_METERING_HISTORY.ndjson': '{}' }, /WAREHOUSE_METERING_HISTORY\.ndjson: not a replayable table or view/],
      [{ 'LOCK_WAIT_HISTORY.ndjson': '{"QUERY_ID":"q","LOCK_TYPE":"ROW","REQUESTED_AT":"2026-01-15T00:00:00Z","query_id":"r"}' }, /LOCK_WAIT_HISTORY\.ndjson:1: keys QUERY_ID and query_id name the same column/],
      [{ 'LOCK_WAIT_HISTORY.ndjson': '{"QUERY_ID":"q","LOCK_TYPE":"ROW","REQUESTED_AT":"2026-01-15T00:00:00Z","QUERY_ID":"r"}' }, /LOCK_WAIT_HISTORY\.ndjson:1: key QUERY_ID given twice/],
      // A time without seconds, an offset beyond ±18 h and a bare date are no timestamps.
      [{ 'HYBRID_TABLE_USAGE_HISTORY.ndjson': '{"START_TIME":"2026-01-15T11:00:00Z","END_TIME":"2026-01-15T12:00Z","CREDITS_USED":1}' }, /column END_TIME: expected a timestamp/],
      [{ 'HYBRID_TABLE_USAGE_HISTORY.ndjson': '{"START_TIME":"2026-01-15 11:00:00.000 +1900","END_TIME":"2026-01-15T12:00:00Z","CREDITS_USED":1}' }, /column START_TIME: expected a timestamp/],
      [{ 'HYBRID_TABLE_USAGE_HISTORY.ndjson': '{"START_TIME":"2026-01-15","END_TIME":"2026-01-15T12:00:00Z","CREDITS_USED":1}' }, /column START_TIME: expected a timestamp/],
    ];
    for (const [files, detail] of cases) {
      const response = await post(service, { files });
      expect(response.statusCode, JSON.stringify(files)).toBe(400);
      expect((response.json() as { detail: string }).detail).toMatch(detail);
    }
  });
});

describe('npm run replay', () => {
  const runCli = (dataDir: string, args: string[], logLevel = 'silent') =>
    spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/replay.ts', ...args], {
      cwd: join(import.meta.dirname, '..'),
      env: { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: logLevel, SNOWFLAKE_ACCOUNT: '' },
      encoding: 'utf8',
    });

  async function countRows(dataDir: string): Promise<Record<string, number>> {
    const database = await DuckDbDatabase.open(join(dataDir, 'flakebench.duckdb'));
    try {
      const w = await database.connect();
      const out: Record<string, number> = {};
      for (const target of TARGETS) {
        out[target.name] = (await w.query<{ N: number }>(`SELECT COUNT(*) AS N FROM ${target.schema}.${target.name}`))[0]?.N ?? -1;
      }
      return out;
    } finally {
      await database.close();
    }
  }

  it('loads a directory with the service stopped, and exits non-zero naming file:line on bad input', async () => {
    const data = tempDir();
    cleanups.push(() => data.remove());
    const bad = runCli(data.path, [join(FIXTURES, 'malformed')]);
    expect(bad.status, bad.stderr).toBe(1);
    expect(bad.stderr).toMatch(/QUERY_HISTORY\.ndjson:2: column START_TIME/);
    const good = runCli(data.path, [join(FIXTURES, 'valid')]);
    expect(good.status, good.stderr).toBe(0);
    expect(good.stdout).toMatch(/QUERY_HISTORY: 1 rows/);
    expect((await countRows(data.path)).QUERY_EXECUTIONS).toBe(2);
  });

  it('--strict refuses an undocumented column (exit 1, file:line and column); without it the column is listed, logged and left out', async () => {
    const data = tempDir();
    cleanups.push(() => data.remove());
    const exportDir = join(data.path, 'export');
    mkdirSync(exportDir);
    const set = exportSet(89, 2);
    const files = exportFiles(set, { extra: { 'QUERY_EXECUTIONS.ndjson': { 4: { EXPORTED_BY: 'snowsql' } } } });
    for (const [name, text] of Object.entries(files)) writeFileSync(join(exportDir, name), text);

    const strict = runCli(data.path, ['--strict', exportDir]);
    expect(strict.status, strict.stderr).toBe(1);
    expect(strict.stderr).toMatch(/QUERY_EXECUTIONS\.ndjson:5: column EXPORTED_BY is not documented/);
    const empty = await countRows(data.path);
    expect(Object.values(empty).every((n) => n === 0), JSON.stringify(empty)).toBe(true);

    const loaded = runCli(data.path, [exportDir], 'warn');
    expect(loaded.status, loaded.stderr).toBe(0);
    expect(loaded.stdout).toMatch(/^TEST_RESULTS: 2 rows$/m);
    expect(loaded.stdout).toMatch(/^QUERY_EXECUTIONS\.ndjson: column EXPORTED_BY is not documented, left out \(1 rows, first at line 5\)$/m);
    const logLine = loaded.stdout.split('\n').find((line) => line.startsWith('{') && line.includes('EXPORTED_BY'));
    expect(JSON.parse(logLine ?? '{}')).toMatchObject({ level: 40, file: 'QUERY_EXECUTIONS.ndjson', column: 'EXPORTED_BY', rows: 1, first_line: 5 });
    const counts = await countRows(data.path);
    expect(counts.TEST_RESULTS).toBe(2);
    expect(counts.QUERY_EXECUTIONS).toBe(12);
    expect(counts.LOCK_WAIT_HISTORY).toBe(set.views.LOCK_WAIT_HISTORY.length);
  });
});
