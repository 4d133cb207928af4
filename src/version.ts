import { readFileSync } from 'node:fs';

/** The service version, from package.json (read once at start). */
export const SERVICE_VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** Sent as QUERY_TAG on Snowflake sessions so the account's own history shows this service's queries. */
export const SERVICE_QUERY_TAG = `flakebench-delayed-enrichment/${SERVICE_VERSION}`;
