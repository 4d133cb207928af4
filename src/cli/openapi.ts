// `npm run openapi`: writes openapi.yaml from the route schemas (a test fails when the file is stale).
import { writeFileSync } from 'node:fs';
import { isEntryPoint } from './entry.js';
import { renderOpenApi } from '../openapi.js';

export const OPENAPI_FILE = new URL('../../openapi.yaml', import.meta.url);

if (isEntryPoint(import.meta.url)) {
  writeFileSync(OPENAPI_FILE, await renderOpenApi());
  process.stdout.write('wrote openapi.yaml\n');
}
