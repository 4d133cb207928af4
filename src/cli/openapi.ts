// `npm run openapi`: writes openapi.yaml from the route schemas (a test fails when the file is stale).
import { writeFileSync } from 'node:fs';
import { isEntryPoint } from './entry.js';
import { renderOpenApi } from '../openapi.js';
import { packagePath } from '../package-root.js';

/** The repository's openapi.yaml (also when this runs from the compiled dist/src/cli/). */
export const OPENAPI_FILE = packagePath('openapi.yaml');

if (isEntryPoint(import.meta.url)) {
  writeFileSync(OPENAPI_FILE, await renderOpenApi());
  process.stdout.write('wrote openapi.yaml\n');
}
