// Network rule for the whole test suite (vitest setupFiles): nothing may leave loopback.
//
// Every way a test process opens a connection goes through net.Socket#connect (http, https, fetch/undici,
// tls, the snowflake-sdk's axios), so that one method is wrapped, plus tls.connect, DNS look-ups and UDP
// sends. A target outside 127.0.0.0/8, ::1 and `localhost` throws a LoopbackViolation before the original
// method runs, so no packet (not even a DNS query) is sent; every attempt is recorded. A test file that
// made an attempt and did not take it with takeBlockedAttempts() fails in afterAll. Outside vitest (a bench
// script importing this module for the same guard) there is no afterAll: attempts still throw.
import dgram from 'node:dgram';
import dns from 'node:dns';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';
import tls from 'node:tls';

export interface BlockedAttempt {
  api: string;
  target: string;
}

export class LoopbackViolation extends Error {
  readonly code = 'ERR_LOOPBACK_ONLY';

  constructor(readonly attempt: BlockedAttempt) {
    super(`blocked by the test network guard: ${attempt.api} to ${attempt.target} (only loopback is allowed)`);
    this.name = 'LoopbackViolation';
  }
}

interface GuardState {
  installed: boolean;
  blocked: BlockedAttempt[];
}

// One state per process, whichever module instance (setup file or test import) reaches it first.
const STATE_KEY = Symbol.for('flakebench.test.loopbackGuard');
const globals = globalThis as unknown as Record<symbol, GuardState | undefined>;
const state: GuardState = (globals[STATE_KEY] ??= { installed: false, blocked: [] });

/** Attempts blocked since the last call (and forgets them). */
export function takeBlockedAttempts(): BlockedAttempt[] {
  return state.blocked.splice(0);
}

export function isLoopback(host: string): boolean {
  const name = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  if (net.isIPv4(name)) return name.startsWith('127.');
  if (net.isIPv6(name)) return name === '::1' || name === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(name);
  return false;
}

function block(api: string, host: string, port?: unknown): never {
  const attempt = { api, target: port === undefined ? host : `${host}:${String(port)}` };
  state.blocked.push(attempt);
  throw new LoopbackViolation(attempt);
}

/** Host and port of a net.Socket#connect call, or undefined for a local IPC path. */
function socketTarget(args: unknown[]): { host: string; port: unknown } | undefined {
  // net.connect() hands the socket its already-normalised arguments as [options, callback].
  const first = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0];
  if (typeof first === 'object' && first !== null) {
    const options = first as { host?: string; port?: unknown; path?: string };
    if (options.path) return undefined;
    return { host: options.host ?? 'localhost', port: options.port };
  }
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    return { host: typeof args[1] === 'string' ? args[1] : 'localhost', port: first };
  }
  return undefined;
}

function install(): void {
  const originalConnect = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function loopbackGuardedConnect(this: net.Socket, ...args: unknown[]) {
    const target = socketTarget(args);
    if (target && !isLoopback(target.host)) block('net.Socket.connect', target.host, target.port);
    return (originalConnect as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof net.Socket.prototype.connect;

  const originalTlsConnect = tls.connect;
  tls.connect = function loopbackGuardedTlsConnect(...args: unknown[]) {
    const options = (typeof args[0] === 'object' && args[0] !== null ? args[0] : typeof args[2] === 'object' ? args[2] : {}) as tls.ConnectionOptions;
    const host = typeof args[1] === 'string' ? args[1] : (options.host ?? 'localhost');
    if (!options.socket && !options.path && !isLoopback(host)) block('tls.connect', host, typeof args[0] === 'number' ? args[0] : options.port);
    return (originalTlsConnect as (...a: unknown[]) => tls.TLSSocket)(...args);
  } as typeof tls.connect;

  // DNS: only names that resolve locally may be looked up; anything else would send a query.
  const guardCallback = <F extends (...a: never[]) => unknown>(api: string, original: F): F =>
    function guarded(this: unknown, hostname: unknown, ...rest: unknown[]) {
      if (typeof hostname === 'string' && !isLoopback(hostname)) block(api, hostname);
      return (original as unknown as (...a: unknown[]) => unknown).call(this, hostname, ...rest);
    } as unknown as F;
  const guardPromise = <F extends (...a: never[]) => Promise<unknown>>(api: string, original: F): F =>
    async function guarded(this: unknown, hostname: unknown, ...rest: unknown[]) {
      if (typeof hostname === 'string' && !isLoopback(hostname)) block(api, hostname);
      return (original as unknown as (...a: unknown[]) => Promise<unknown>).call(this, hostname, ...rest);
    } as unknown as F;
  for (const name of ['lookup', 'resolve', 'resolve4', 'resolve6', 'resolveAny'] as const) {
    (dns as unknown as Record<string, unknown>)[name] = guardCallback(`dns.${name}`, dns[name] as never);
    (dns.promises as unknown as Record<string, unknown>)[name] = guardPromise(`dns.promises.${name}`, dns.promises[name] as never);
  }

  // UDP: the address is the first string argument after the message (send) or after the port (connect).
  const originalSend = dgram.Socket.prototype.send;
  dgram.Socket.prototype.send = function loopbackGuardedSend(this: dgram.Socket, ...args: unknown[]) {
    const address = args.slice(1).find((arg) => typeof arg === 'string') as string | undefined;
    if (address !== undefined && !isLoopback(address)) block('dgram.send', address);
    return (originalSend as (...a: unknown[]) => void).apply(this, args);
  } as typeof dgram.Socket.prototype.send;
  const originalUdpConnect = dgram.Socket.prototype.connect;
  dgram.Socket.prototype.connect = function loopbackGuardedUdpConnect(this: dgram.Socket, ...args: unknown[]) {
    const address = typeof args[1] === 'string' ? args[1] : 'localhost';
    if (!isLoopback(address)) block('dgram.connect', address, args[0]);
    return (originalUdpConnect as (...a: unknown[]) => void).apply(this, args);
  } as typeof dgram.Socket.prototype.connect;

  // Named ESM imports of builtins (`import { lookup } from 'node:dns'`) see the wrapped functions too.
  syncBuiltinESMExports();
  state.installed = true;
}

if (!state.installed) install();

// vitest sets VITEST in its workers; importing vitest anywhere else throws.
const { afterAll } = process.env.VITEST ? await import('vitest') : { afterAll: undefined };
afterAll?.(() => {
  const leaked = takeBlockedAttempts();
  if (leaked.length > 0) {
    throw new Error(`this test file tried to leave loopback: ${leaked.map((a) => `${a.api} → ${a.target}`).join(', ')}`);
  }
});
