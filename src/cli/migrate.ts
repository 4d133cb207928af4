// `npm run migrate [status | up | down --to <version> --yes]` against the configured engine.
import { systemClock } from '../clock.js';
import { loadCliConfig } from './entry.js';
import { migrate, migrationStatus, rollback } from '../db/migrations.js';
import { openEngine } from '../engine.js';
import { createLogger } from '../logger.js';

const USAGE = 'usage: npm run migrate -- [status | up | down --to <version> --yes]';

async function run(args: string[]): Promise<number> {
  const command = args[0] ?? 'up';
  const loaded = loadCliConfig();
  if (!loaded) return 2;
  const { config } = loaded;
  const log = createLogger(loaded.logLevel);
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const engine = await openEngine(config, log);
  try {
    if (command === 'status') {
      const status = await migrationStatus(engine.warehouse);
      out(`engine: ${engine.engine} (${engine.location})`);
      for (const m of status.applied) out(`applied  ${m.version}_${m.name}  ${m.appliedAt.toISOString()}`);
      for (const m of status.pending) out(`pending  ${m.file}`);
      for (const m of status.mismatched) out(`EDITED   ${m.version}_${m.name}: ${m.problem}`);
      return status.mismatched.length > 0 ? 1 : 0;
    }
    if (command === 'up') {
      const { applied } = await migrate(engine.warehouse, { clock: systemClock, log: { info: out, warn: out } });
      out(applied.length === 0 ? 'nothing to apply: the schema is current' : `applied ${applied.length} migration(s)`);
      return 0;
    }
    if (command === 'down') {
      const toIndex = args.indexOf('--to');
      const toVersion = toIndex >= 0 ? args[toIndex + 1] : undefined;
      if (toVersion === undefined || !/^\d{4}$/.test(toVersion) || !args.includes('--yes')) {
        process.stderr.write(`${USAGE}\n'down' backs up, then drops what migrations after --to created; confirm with --yes\n`);
        return 2;
      }
      const { rolledBack } = await rollback(engine.warehouse, { toVersion, clock: systemClock, log: { info: out, warn: out } });
      out(`rolled back ${rolledBack.length} migration(s)`);
      return 0;
    }
    process.stderr.write(`${USAGE}\n`);
    return 2;
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    await engine.close();
  }
}

process.exitCode = await run(process.argv.slice(2));
