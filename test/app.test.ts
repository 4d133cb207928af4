// The real app (built by startService on a real DuckDB file) through app.inject: /health, errors, auth, logs.
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { Type } from '@sinclair/typebox';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.js';
import { startService, type RunningService } from '../src/service.js';
import { WarehouseError } from '../src/db/warehouse.js';
import { startTestService, tempDir, testConfig } from './support/embedded.js';

const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const TOKEN = 'test-token-0123456789abcdef';

/** A pino destination whose lines the test can read back. */
function logSink(): { stream: Writable; lines(): Array<Record<string, unknown>>; text(): string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  const text = () => chunks.join('');
  return {
    stream,
    text,
    lines: () =>
      text()
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

let running: Array<{ stop(): Promise<void> }> = [];
afterEach(async () => {
  for (const service of running.reverse()) await service.stop();
  running = [];
});

async function start(env: Record<string, string> = {}) {
  const service = await startTestService({ env });
  running.push(service);
  return service;
}

/** Throwaway routes registered on a fresh app before it is ready (the app builder itself is the real one). */
function addProbeRoutes(service: RunningService): void {
  service.app.post(
    '/test/echo',
    { schema: { body: Type.Object({ count: Type.Integer({ minimum: 1 }), name: Type.String() }) } },
    async (request) => request.body,
  );
  service.app.get('/test/read', async () => ({ read: true }));
  service.app.get('/test/boom', async () => {
    throw new WarehouseError('other', "SQL compilation error: invalid identifier 'SECRET_COLUMN' in SELECT SECRET_COLUMN FROM DELAYED_ENRICHMENT_QUEUE");
  });
}

describe('GET /health', () => {
  it('answers ok with the engine, the package version and current migrations, without a warehouse statement', async () => {
    const service = await start();
    await service.app.ready();
    const before = { ...service.services.warehouse.counters };
    const response = await service.app.inject({ method: 'GET', url: '/health' });
    const after = { ...service.services.warehouse.counters };
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.status).toBe('ok');
    expect(body.engine).toBe('duckdb');
    expect(body.version).toBe(PACKAGE_VERSION);
    expect(body.migrations.current).toBe(true);
    expect(body.migrations.pending).toBe(0);
    expect(body.migrations.applied).toBeGreaterThan(0);
    expect(after).toEqual(before);
    // The counters do move for a statement, so the comparison above can fail.
    await service.services.warehouse.query('SELECT 1 AS ONE');
    expect(service.services.warehouse.counters.statements).toBeGreaterThan(after.statements);
  });
});

describe('errors', () => {
  it('answers an unknown route with 404 and a problem body', async () => {
    const service = await start();
    const response = await service.app.inject({ method: 'GET', url: '/api/no-such-thing?x=1' });
    expect(response.statusCode).toBe(404);
    expect(response.headers['content-type']).toMatch(/application\/json/);
    const body = response.json();
    expect(Object.keys(body).sort()).toEqual(['detail', 'status', 'title']);
    expect(body.status).toBe(404);
    expect(body.title).toBe('Not Found');
    expect(body.detail).toContain('/api/no-such-thing');
  });

  it('answers a failure with 500 and a generic problem: no stack, no SQL; the log keeps the error', async () => {
    const dir = tempDir();
    const sink = logSink();
    const service = await startService(testConfig({ DATA_DIR: dir.path }), createLogger('error', sink.stream));
    running.push({ stop: async () => (await service.stop(), dir.remove()) });
    addProbeRoutes(service);
    const response = await service.app.inject({ method: 'GET', url: '/test/boom' });
    expect(response.statusCode).toBe(500);
    const body = response.json();
    expect(Object.keys(body).sort()).toEqual(['detail', 'status', 'title']);
    expect(body.status).toBe(500);
    for (const leak of ['SECRET_COLUMN', 'SELECT', 'DELAYED_ENRICHMENT_QUEUE', 'WarehouseError', '.ts:', '    at ']) {
      expect(response.body).not.toContain(leak);
    }
    const logged = sink.lines().find((line) => line.msg === 'request failed');
    expect(JSON.stringify(logged)).toContain('SECRET_COLUMN');
  });

  it('answers a validation error with 400 naming the field', async () => {
    const service = await start();
    addProbeRoutes(service);
    const response = await service.app.inject({ method: 'POST', url: '/test/echo', payload: { count: 'many', name: 'x' } });
    expect(response.statusCode).toBe(400);
    const body = response.json();
    expect(body.status).toBe(400);
    expect(body.detail).toContain('count');
    const missing = await service.app.inject({ method: 'POST', url: '/test/echo', payload: { count: 2 } });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().detail).toContain('name');
    const ok = await service.app.inject({ method: 'POST', url: '/test/echo', payload: { count: 2, name: 'x' } });
    expect(ok.statusCode).toBe(200);
  });
});

describe('API_TOKEN', () => {
  it('protects mutating routes: no token or a wrong one is 401, the right one passes; GETs stay open', async () => {
    const service = await start({ API_TOKEN: TOKEN });
    addProbeRoutes(service);
    const payload = { count: 1, name: 'x' };
    const none = await service.app.inject({ method: 'POST', url: '/test/echo', payload });
    expect(none.statusCode).toBe(401);
    expect(none.json().status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer');
    const wrong = await service.app.inject({ method: 'POST', url: '/test/echo', payload, headers: { authorization: `Bearer ${TOKEN}x` } });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.body).not.toContain(TOKEN);
    const right = await service.app.inject({ method: 'POST', url: '/test/echo', payload, headers: { authorization: `Bearer ${TOKEN}` } });
    expect(right.statusCode).toBe(200);
    expect((await service.app.inject({ method: 'GET', url: '/test/read' })).statusCode).toBe(200);
    expect((await service.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
  });

  it("with API_AUTH_SCOPE=all protects GETs too, except /health", async () => {
    const service = await start({ API_TOKEN: TOKEN, API_AUTH_SCOPE: 'all' });
    addProbeRoutes(service);
    expect((await service.app.inject({ method: 'GET', url: '/test/read' })).statusCode).toBe(401);
    const right = await service.app.inject({ method: 'GET', url: '/test/read', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(right.statusCode).toBe(200);
    // WebSocket clients cannot set headers; they present the token in the query string.
    expect((await service.app.inject({ method: 'GET', url: `/test/read?token=${TOKEN}` })).statusCode).toBe(200);
    expect((await service.app.inject({ method: 'GET', url: '/test/read?token=wrong-token-0123456789' })).statusCode).toBe(401);
    expect((await service.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
  });

  it('is not required when unset', async () => {
    const service = await start();
    addProbeRoutes(service);
    expect((await service.app.inject({ method: 'POST', url: '/test/echo', payload: { count: 1, name: 'x' } })).statusCode).toBe(200);
  });
});

describe('logging', () => {
  it('redacts passwords, tokens and private keys wherever they appear in a log line', () => {
    const sink = logSink();
    const log = createLogger('info', sink.stream);
    log.info(
      {
        password: 'pw-top-secret',
        token: 'tok-top-secret',
        privateKey: 'key-top-secret',
        settings: { password: 'pw-nested-secret', apiToken: 'api-nested-secret', privateKeyPass: 'pass-nested-secret' },
        req: { headers: { authorization: 'Bearer header-secret' } },
        account: 'visible-account',
      },
      'connecting',
    );
    const text = sink.text();
    for (const secret of ['pw-top-secret', 'tok-top-secret', 'key-top-secret', 'pw-nested-secret', 'api-nested-secret', 'pass-nested-secret', 'header-secret']) {
      expect(text).not.toContain(secret);
    }
    const [line] = sink.lines();
    expect(line?.password).toBe('[redacted]');
    expect((line?.settings as Record<string, unknown>).password).toBe('[redacted]');
    expect(line?.account).toBe('visible-account');
  });
});

describe('restart', () => {
  it('a second start on the same DATA_DIR applies no migration and starts normally', async () => {
    const dir = tempDir();
    try {
      const firstLog = logSink();
      const first = await startService(testConfig({ DATA_DIR: dir.path }), createLogger('info', firstLog.stream));
      const applied = firstLog.lines().filter((line) => String(line.msg).startsWith('applied migration'));
      expect(applied.length).toBeGreaterThan(0);
      await first.stop();

      const secondLog = logSink();
      const second = await startService(testConfig({ DATA_DIR: dir.path }), createLogger('info', secondLog.stream));
      try {
        expect(secondLog.lines().filter((line) => String(line.msg).startsWith('applied migration'))).toEqual([]);
        const health = (await second.app.inject({ method: 'GET', url: '/health' })).json();
        expect(health.status).toBe('ok');
        expect(health.migrations).toMatchObject({ applied: applied.length, pending: 0, current: true });
      } finally {
        await second.stop();
      }
    } finally {
      dir.remove();
    }
  });
});
