// openapi.yaml is generated from the route schemas (`npm run openapi`); this test fails when it drifts.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { OPENAPI_FILE } from '../src/cli/openapi.js';
import { renderOpenApi } from '../src/openapi.js';
import { SERVICE_VERSION } from '../src/version.js';

describe('openapi.yaml', () => {
  it('renders the same document twice, whatever the environment of the process', async () => {
    const first = await renderOpenApi();
    const saved = { API_TOKEN: process.env.API_TOKEN, PORT: process.env.PORT, LATENCY_SCALE: process.env.LATENCY_SCALE };
    Object.assign(process.env, { API_TOKEN: 'a-token-of-at-least-16-chars', PORT: '4321', LATENCY_SCALE: '0.01' });
    try {
      expect(await renderOpenApi()).toBe(first);
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  it('is an OpenAPI 3.1 document of this version with a described response on every operation', async () => {
    const document = parse(await renderOpenApi()) as {
      openapi: string;
      info: { version: string };
      paths: Record<string, Record<string, { responses?: Record<string, unknown> }>>;
    };
    expect(document.openapi).toBe('3.1.0');
    expect(document.info.version).toBe(SERVICE_VERSION);
    expect(Object.keys(document.paths)).toContain('/health');
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        expect(Object.keys(operation.responses ?? {}), `${method.toUpperCase()} ${path}`).not.toEqual([]);
      }
    }
  });

  it('matches the committed openapi.yaml', async () => {
    const rendered = await renderOpenApi();
    let committed = '';
    try {
      committed = readFileSync(OPENAPI_FILE, 'utf8');
    } catch {
      // A missing file reads as empty and fails below with the same advice.
    }
    // One assertion on the whole text, so the diff shows exactly which route schema changed.
    expect(committed, 'openapi.yaml is stale: run `npm run openapi` and commit the result').toBe(rendered);
  });
});
