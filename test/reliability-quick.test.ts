// The quick variants of the reliability scripts (test/reliability/, `npm run reliability` runs the long
// ones): each runs as its own process, as a user would run it, and must exit 0 with its PASS line.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

function runScript(name: string, args: readonly string[]): Promise<{ code: number | null; output: string }> {
  const script = fileURLToPath(new URL(`./reliability/${name}.ts`, import.meta.url));
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, '--quick', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.on('exit', (code) => resolve({ code, output }));
  });
}

describe('reliability scripts, quick variants', () => {
  // crash and shutdown run once per engine (--engine snowflake: service processes through the real driver
  // against a fake account in the script's process); contention covers both engines in one run.
  const runs: Array<{ name: string; args: string[] }> = [
    ...['crash', 'shutdown'].flatMap((name) => ['duckdb', 'snowflake'].map((engine) => ({ name, args: ['--engine', engine] }))),
    { name: 'faults', args: [] },
    { name: 'contention', args: [] },
  ];
  for (const { name, args } of runs) {
    it(`${[name, '--quick', ...args].join(' ')} passes`, async () => {
      const { code, output } = await runScript(name, args);
      expect(output).toMatch(new RegExp(`^${name}: PASS$`, 'm'));
      expect(code).toBe(0);
    }, 300_000);
  }
});

// disk-faults is not among them: on the read-only fault DuckDB sometimes aborts the service process from native
// code (an uncaught duckdb::IOException truncating the WAL), so its quick run fails in some runs. It runs on
// demand (`npm run reliability -- disk-faults`) until that is handled (issue 12).
