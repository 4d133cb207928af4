// `npm run reliability [-- <name|all>] [--quick]`: runs the reliability scripts in this folder one after
// another, each in its own process, each printing its figure and PASS or FAIL with the offending jobs.
// --quick runs the short variants (what `npm test` runs through test/reliability-quick.test.ts).
// Exit code: 1 when any script failed, after all have run.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const RELIABILITY_SCRIPTS = ['crash', 'shutdown', 'faults', 'contention', 'demo-growth', 'disk-faults'] as const;

const here = fileURLToPath(new URL('.', import.meta.url));
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const names = args.filter((arg) => arg !== '--quick');
const chosen = names.length === 0 || names.includes('all') ? [...RELIABILITY_SCRIPTS] : names;
const unknown = chosen.filter((name) => !(RELIABILITY_SCRIPTS as readonly string[]).includes(name));
if (unknown.length > 0) {
  console.error(`unknown reliability script ${unknown.join(', ')}; usage: npm run reliability -- <${RELIABILITY_SCRIPTS.join('|')}|all> [--quick]`);
  process.exit(2);
}

const failed: string[] = [];
for (const name of chosen) {
  console.log(`\n=== ${name}: npx tsx test/reliability/${name}.ts${quick ? ' --quick' : ''}`);
  const run = spawnSync(process.execPath, ['--import', 'tsx', `${here}${name}.ts`, ...(quick ? ['--quick'] : [])], {
    stdio: 'inherit',
    env: { ...process.env, SNOWFLAKE_DISABLE_PLATFORM_DETECTION: 'true' },
  });
  if (run.status !== 0) failed.push(name);
}
console.log(failed.length === 0 ? '\nreliability: all passed' : `\nreliability: failed: ${failed.join(', ')}`);
process.exit(failed.length === 0 ? 0 : 1);
