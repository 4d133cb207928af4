// Where the simulated ACCOUNT_USAGE views keep their rows in the embedded database, and the DuckDB type of
// every documented column. The column lists come from src/sources/account-usage.ts only: the migration
// (sql/0005_embedded_account_usage.sql) was rendered by renderAccountUsageMigration() below, and
// test/simulator-views.test.ts checks the migrated views against the contracts again.
//
// Layout: each view ACCOUNT_USAGE.<VIEW> (catalog SNOWFLAKE, so SNOWFLAKE.ACCOUNT_USAGE.<VIEW> resolves) selects
// exactly the documented columns from the base table SIMULATED_ACCOUNT_USAGE.<VIEW>, which also holds
// VISIBLE_AT: the row shows once VISIBLE_AT has passed on the service's clock (NULL: visible at once, used by
// replay). "Now" for every view comes from one place, SIMULATED_ACCOUNT_USAGE.VISIBLE_NOW (see visibility.ts).
import { SOURCE_VIEWS, type SourceColumn, type SourceViewContract } from '../sources/account-usage.js';

export const BASE_SCHEMA = 'SIMULATED_ACCOUNT_USAGE';
export const VIEW_SCHEMA = 'ACCOUNT_USAGE';
export const VISIBILITY_COLUMN = 'VISIBLE_AT';
/**
 * The simulated run that wrote a base-table row (migration 0012; NULL for replayed rows and shared account
 * windows). Not a documented column, so no view shows it: it lets the demo's pruner remove exactly a pruned
 * run's rows, where a time rule keeps every row that lies near some newer test.
 */
export const SIMULATED_RUN_COLUMN = 'SIMULATED_RUN_ID';

/** Documented NUMBER columns that carry fractions (credits); every other NUMBER is NUMBER(38,0). */
const FRACTIONAL_NUMBER_COLUMNS = new Set(['CREDITS_USED', 'CREDITS_USED_CLOUD_SERVICES']);

/** The DuckDB type that stands for a documented Snowflake type (TIMESTAMP_LTZ is the prelude's alias). */
export function duckDbTypeOf(column: SourceColumn): string {
  switch (column.type) {
    case 'TEXT':
      return 'VARCHAR';
    case 'NUMBER':
      return FRACTIONAL_NUMBER_COLUMNS.has(column.name) ? 'DECIMAL(38,9)' : 'DECIMAL(38,0)';
    case 'FLOAT':
      return 'DOUBLE';
    case 'BOOLEAN':
      return 'BOOLEAN';
    case 'TIMESTAMP_LTZ':
      return 'TIMESTAMP_LTZ';
    case 'OBJECT':
    case 'ARRAY':
    case 'VARIANT':
      return 'JSON';
  }
}

export function baseTableOf(view: SourceViewContract): string {
  return `${BASE_SCHEMA}.${view.name}`;
}

/** The DDL of the simulated views (kept as the text of migration 0005; re-render it only into a new migration). */
export function renderAccountUsageMigration(): string {
  const parts: string[] = [
    '-- Migration 0005: simulated SNOWFLAKE.ACCOUNT_USAGE views, embedded mode only.',
    '-- @engine duckdb',
    '--',
    '-- Rendered from src/sources/account-usage.ts by renderAccountUsageMigration() (src/simulator/view-tables.ts).',
    '-- Each view shows exactly the documented columns of a base table that also holds VISIBLE_AT, and only the',
    '-- rows whose VISIBLE_AT has passed on the service clock (VISIBLE_NOW: the clock row, NULL = system time).',
    '',
    `CREATE SCHEMA IF NOT EXISTS ${BASE_SCHEMA};`,
    `CREATE SCHEMA IF NOT EXISTS ${VIEW_SCHEMA};`,
    '',
    `CREATE TABLE IF NOT EXISTS ${BASE_SCHEMA}.VISIBILITY_CLOCK (`,
    '    NOW_UTC TIMESTAMP_NTZ',
    ');',
    '',
    `CREATE OR REPLACE VIEW ${BASE_SCHEMA}.VISIBLE_NOW AS`,
    `SELECT COALESCE(MAX(NOW_UTC), CAST(timezone('UTC', now()) AS TIMESTAMP_NTZ)) AS NOW_UTC FROM ${BASE_SCHEMA}.VISIBILITY_CLOCK;`,
  ];
  for (const view of SOURCE_VIEWS) {
    const columns = view.columns.map((column) => `    ${column.name} ${duckDbTypeOf(column)}`);
    parts.push(
      '',
      `CREATE TABLE IF NOT EXISTS ${baseTableOf(view)} (`,
      [...columns, `    ${VISIBILITY_COLUMN} TIMESTAMP_NTZ`].join(',\n'),
      ');',
      '',
      `CREATE OR REPLACE VIEW ${VIEW_SCHEMA}.${view.name} AS`,
      'SELECT',
      view.columns.map((column) => `    b.${column.name}`).join(',\n'),
      `FROM ${baseTableOf(view)} b`,
      `WHERE b.${VISIBILITY_COLUMN} IS NULL OR b.${VISIBILITY_COLUMN} <= (SELECT n.NOW_UTC FROM ${BASE_SCHEMA}.VISIBLE_NOW n);`,
    );
  }
  return `${parts.join('\n')}\n`;
}
