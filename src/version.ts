import { readFileSync } from 'node:fs';
import { packagePath } from './package-root.js';

/** The service version, from package.json (read once at start). */
export const SERVICE_VERSION: string = (
  JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { version: string }
).version;

/** Sent as QUERY_TAG on Snowflake sessions so the account's own history shows this service's queries. */
export const SERVICE_QUERY_TAG = `flakebench-delayed-enrichment/${SERVICE_VERSION}`;
