// `prestart` (and the other commands' pre-scripts): compile to dist/ so that `npm install && npm start`
// always runs the current sources. tsc is incremental (dist/.tsbuildinfo), so an unchanged tree costs one
// check, not a rebuild. In an install without devDependencies (`npm ci --omit=dev` after a build) there is
// no TypeScript: the dist/ already there is used as it is, and its absence is an error that says what to do.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
let tsc;
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
} catch {
  if (existsSync(new URL('../../dist/src/server.js', import.meta.url))) {
    process.stderr.write('TypeScript is not installed: using the existing dist/ build\n');
    process.exit(0);
  }
  process.stderr.write('no dist/ build and no TypeScript to make one: run `npm install` (with dev dependencies), then `npm run build`\n');
  process.exit(1);
}
const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);
