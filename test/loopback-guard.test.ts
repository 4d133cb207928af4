// The suite-wide network guard (test/support/loopback-guard.ts, loaded by vitest setupFiles) blocks any
// attempt to leave loopback before it is made, and records it.
import dns from 'node:dns';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import config from '../vitest.config.js';
import { isLoopback, LoopbackViolation, takeBlockedAttempts } from './support/loopback-guard.js';

const METADATA = '169.254.169.254';

/** The error `work` throws synchronously (fails the test when it does not throw). */
function thrownBy(work: () => unknown): unknown {
  try {
    work();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to throw');
}

/** Refuse to make a real outside attempt when the guard is missing: fail first. */
function requireGuard(): void {
  expect(net.Socket.prototype.connect.name).toBe('loopbackGuardedConnect');
}

afterEach(() => {
  // Attempts made on purpose here are taken by each test; anything left would fail the file in afterAll.
  expect(takeBlockedAttempts()).toEqual([]);
});

describe('loopback guard', () => {
  it('is installed for every test file through setupFiles', () => {
    expect(config.test?.setupFiles).toContain('test/support/loopback-guard.ts');
    expect(net.Socket.prototype.connect.name).toBe('loopbackGuardedConnect');
  });

  it('tells loopback targets from the rest', () => {
    for (const host of ['127.0.0.1', '127.8.9.10', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) expect(isLoopback(host)).toBe(true);
    for (const host of [METADATA, '10.0.0.1', '0.0.0.0', '::', 'metadata.google.internal', 'sts.amazonaws.com', '128.0.0.1']) {
      expect(isLoopback(host)).toBe(false);
    }
  });

  it('blocks a TCP connection to the cloud metadata address before it is made', () => {
    requireGuard();
    const socket = new net.Socket();
    const error = thrownBy(() => socket.connect(80, METADATA));
    expect(error).toBeInstanceOf(LoopbackViolation);
    expect((error as LoopbackViolation).code).toBe('ERR_LOOPBACK_ONLY');
    // No connection was started: the socket never began connecting and has no remote end.
    expect(socket.connecting).toBe(false);
    expect(socket.remoteAddress).toBeUndefined();
    expect(takeBlockedAttempts()).toEqual([{ api: 'net.Socket.connect', target: `${METADATA}:80` }]);
    socket.destroy();
  });

  it('blocks http, fetch and tls to the metadata address', async () => {
    requireGuard();
    expect(thrownBy(() => http.get(`http://${METADATA}/latest/meta-data/`))).toBeInstanceOf(LoopbackViolation);
    const fetched = await fetch(`http://${METADATA}/computeMetadata/v1/`).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(fetched).toBeInstanceOf(Error);
    expect(thrownBy(() => tls.connect({ host: METADATA, port: 443 }))).toBeInstanceOf(LoopbackViolation);
    const targets = takeBlockedAttempts().map((attempt) => attempt.target);
    expect(targets).toContain(`${METADATA}:80`);
    expect(targets).toContain(`${METADATA}:443`);
    expect(targets.length).toBeGreaterThanOrEqual(3);
  });

  it('blocks DNS look-ups of outside names (no query is sent), and allows localhost', async () => {
    requireGuard();
    expect(thrownBy(() => dns.lookup('metadata.google.internal', () => undefined))).toBeInstanceOf(LoopbackViolation);
    await expect(dns.promises.lookup('sts.amazonaws.com')).rejects.toBeInstanceOf(LoopbackViolation);
    expect(takeBlockedAttempts().map((attempt) => attempt.target)).toEqual(['metadata.google.internal', 'sts.amazonaws.com']);
    const local = await dns.promises.lookup('localhost');
    expect(isLoopback(local.address)).toBe(true);
  });

  it('lets loopback connections through', async () => {
    const server = net.createServer((socket) => socket.end('hello'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const received = await new Promise<string>((resolve, reject) => {
        const client = net.connect({ host: '127.0.0.1', port });
        let text = '';
        client.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
        client.on('end', () => resolve(text));
        client.on('error', reject);
      });
      expect(received).toBe('hello');
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
