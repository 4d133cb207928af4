// `npm run replay -- <dir>`: loads <TABLE_OR_VIEW>.ndjson files exported from a real account into the embedded
// database, while the service is stopped (it owns the file while it runs: use POST /api/dev/replay then).
// All or nothing; exit 0 on success, 1 on rejected input (each problem as file:line), 2 on bad usage/config.
// Columns nobody documents are listed and left out; `--strict` refuses them instead.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock } from '../clock.js';
import { migrate } from '../db/migrations.js';
import { openEngine } from '../engine.js';
import { createLogger } from '../logger.js';
import { replay, ReplayError } from '../simulator/replay.js';
import { isEntryPoint, loadCliConfig } from './entry.js';

const USAGE = 'usage: npm run replay -- [--strict] <directory with TEST_RESULTS.ndjson, QUERY_HISTORY.ndjson, ...>';

export async function runReplay(args: string[]): Promise<number> {
  const strict = args.includes('--strict');
  const positional = args.filter((arg) => arg !== '--strict');
  const dir = positional[0];
  if (dir === undefined || positional.length > 1 || dir.startsWith('--')) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const loaded = loadCliConfig();
  if (!loaded) return 2;
  const { config } = loaded;
  if (config.snowflake) {
    process.stderr.write('replay loads the embedded database only; unset SNOWFLAKE_ACCOUNT\n');
    return 2;
  }
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => name.endsWith('.ndjson')).sort();
  } catch (error) {
    process.stderr.write(`cannot read ${dir}: ${(error as Error).message}\n`);
    return 2;
  }
  const files = names.map((name) => ({ name, text: readFileSync(join(dir, name), 'utf8') }));
  const log = createLogger(loaded.logLevel);
  let engine;
  try {
    engine = await openEngine(config, log);
  } catch (error) {
    process.stderr.write(`cannot open the embedded database (is the service running? use POST /api/dev/replay then): ${(error as Error).message}\n`);
    return 1;
  }
  try {
    await migrate(engine.warehouse, { clock: systemClock, log });
    const result = await replay(engine.warehouse, files, { strict, log });
    for (const [table, count] of Object.entries(result.rows)) process.stdout.write(`${table}: ${count} rows\n`);
    for (const c of result.undocumented_columns) {
      process.stdout.write(`${c.file}: column ${c.column} is not documented, left out (${c.rows} rows, first at line ${c.first_line})\n`);
    }
    for (const c of result.not_stored_columns) {
      process.stdout.write(`${c.file}: documented column ${c.column} is not stored by the embedded table, left out (${c.rows} rows)\n`);
    }
    return 0;
  } catch (error) {
    if (error instanceof ReplayError) {
      process.stderr.write(`replay rejected, nothing loaded:\n${error.problems.map((p) => `  ${p}`).join('\n')}\n`);
      return 1;
    }
    throw error;
  } finally {
    await engine.close();
  }
}

if (isEntryPoint(import.meta.url)) {
  process.exitCode = await runReplay(process.argv.slice(2));
}
