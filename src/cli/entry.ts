import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig, readEnvironment, type Config } from '../config.js';

/** True when the module at `moduleUrl` is the script node was started with (not merely imported). */
export function isEntryPoint(moduleUrl: string): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}

/**
 * The configuration for a command-line tool (environment over the settings file, as for the service), or
 * undefined after printing every problem to stderr (the caller exits 2). Command-line tools log at warn unless LOG_LEVEL asks for more detail.
 */
export function loadCliConfig(): { config: Config; logLevel: Config['logLevel'] } | undefined {
  try {
    const environment = readEnvironment();
    const config = loadConfig(environment.values, environment);
    return { config, logLevel: config.logLevel === 'info' ? 'warn' : config.logLevel };
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return undefined;
    }
    throw error;
  }
}
