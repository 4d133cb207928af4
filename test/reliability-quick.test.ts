// The quick variants of the reliability scripts (test/reliability/, `npm run reliability` runs the long
// ones): each runs as its own process, as a user would run it, and must exit 0 with its PASS line.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MOUNT_REQUIRED, ext4DiskAvailable } from './support/tmpfs.js';

function runScript(name: string): Promise<{ code: number | null; output: string }> {
  const script = fileURLToPath(new URL(`./reliability/${name}.ts`, import.meta.url));
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, '--quick'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.on('exit', (code) => resolve({ code, output }));
  });
}

describe('reliability scripts, quick variants', () => {
  for (const name of ['crash', 'shutdown', 'faults', 'contention']) {
    it(`${name} --quick passes`, async () => {
      const { code, output } = await runScript(name);
      expect(output).toMatch(new RegExp(`^${name}: PASS$`, 'm'));
      expect(code).toBe(0);
    }, 300_000);
  }
});

// disk-faults mounts its own file systems (a tmpfs, a loop-mounted ext4 image): on a machine that cannot, it is
// skipped with the reason printed, unless REQUIRE_MOUNT=1 makes that a failure.
const mount = ext4DiskAvailable();
if (!mount.ok && !MOUNT_REQUIRED) console.warn(`disk-faults --quick skipped: ${mount.reason} (set REQUIRE_MOUNT=1 to make this fail)`);
describe('reliability script disk-faults, quick variant', () => {
  it.runIf(!mount.ok && MOUNT_REQUIRED)('needs mount when REQUIRE_MOUNT=1', () => {
    throw new Error(`${mount.ok ? '' : mount.reason}: run as root with CAP_SYS_ADMIN`);
  });
  it.skipIf(!mount.ok)('disk-faults --quick passes', async () => {
    const { code, output } = await runScript('disk-faults');
    expect(output).toMatch(/^disk-faults: PASS$/m);
    expect(code).toBe(0);
  }, 300_000);
});
