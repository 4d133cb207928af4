// `npm run bench -- <name|all> [-- args for a single script]`: runs the scripts in bench/ one after another,
// each in its own process (a benchmark's heap and handles never leak into the next one's figures), after a
// description of the machine the figures come from. Each script prints its own figures and the baseline it
// measured in the same run; this prints, before each, the command that reproduces it alone.
// Exit code: the first failing script's, after all have run.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, totalmem, release, platform } from 'node:os';
import { fileURLToPath } from 'node:url';

/** In the order `all` runs them: quick and self-contained first, the long backfill last. */
export const BENCHMARKS = ['fidelity', 'simulate', 'processor', 'round-trips', 'idle', 'api-load', 'ws-delivery', 'backfill'] as const;

const benchDir = fileURLToPath(new URL('.', import.meta.url));
const [name, ...passThrough] = process.argv.slice(2);
if (name === undefined || (name !== 'all' && !(BENCHMARKS as readonly string[]).includes(name))) {
  console.error(`usage: npm run bench -- <${BENCHMARKS.join('|')}|all> [script arguments]`);
  process.exit(2);
}
if (name === 'all' && passThrough.length > 0) {
  console.error('script arguments go with a single benchmark, not with all');
  process.exit(2);
}

const cpu = cpus();
console.log(
  `machine: ${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, ` +
    `${platform()} ${release()}, Node ${process.version}, ${new Date().toISOString()}`,
);

let status = 0;
for (const bench of name === 'all' ? BENCHMARKS : [name]) {
  const script = `${benchDir}${bench}.ts`;
  if (!existsSync(script)) throw new Error(`bench/${bench}.ts is missing`);
  console.log(`\n=== ${bench}: npx tsx bench/${bench}.ts${passThrough.length ? ` ${passThrough.join(' ')}` : ''}`);
  const run = spawnSync(process.execPath, ['--import', 'tsx', script, ...passThrough], { stdio: 'inherit' });
  const code = run.status ?? 1;
  if (code !== 0) {
    console.log(`=== ${bench} failed (exit ${run.status ?? run.signal})`);
    if (status === 0) status = code;
  }
}
process.exit(status);
