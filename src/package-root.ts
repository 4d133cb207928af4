// The package's root folder (where package.json, sql/ and openapi.yaml live), found from this module's own
// location, never from the working directory. The same code runs from src/ (tsx, tests) and from the
// compiled dist/src/ (npm start), which sit at different depths below the root, so the root is the
// nearest folder upwards whose package.json is this package's (dist/ has none).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = 'flakebench-delayed-enrichment';

function findPackageRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === PACKAGE_NAME) return dir;
    if (dirname(dir) === dir) throw new Error(`cannot find the ${PACKAGE_NAME} package root above ${start}`);
  }
}

export const PACKAGE_ROOT: string = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

/** A path inside the package (e.g. `packagePath('sql')`). */
export function packagePath(...parts: string[]): string {
  return join(PACKAGE_ROOT, ...parts);
}
