-- Migration 0012: which simulated run wrote each row of the simulated ACCOUNT_USAGE base tables.
-- @engine duckdb
--
-- The demo's pruner (src/simulator/demo-prune.ts) removed view rows by time only: a row stayed while it lay
-- within two hours of any remaining test, so under `npm run demo` (a test every few seconds) no row left before
-- two hours, and the billed hybrid tests, which all share one date, kept each other's rows forever. With the
-- run's id on its rows, a pruned run's rows go with it. Not a documented column: the views do not show it.
-- NULL: rows from replay, rows written before this migration, and the account-level hybrid usage windows that
-- several runs add to (those keep the time rule).
ALTER TABLE SIMULATED_ACCOUNT_USAGE.QUERY_HISTORY ADD COLUMN IF NOT EXISTS SIMULATED_RUN_ID VARCHAR;
ALTER TABLE SIMULATED_ACCOUNT_USAGE.AGGREGATE_QUERY_HISTORY ADD COLUMN IF NOT EXISTS SIMULATED_RUN_ID VARCHAR;
ALTER TABLE SIMULATED_ACCOUNT_USAGE.LOCK_WAIT_HISTORY ADD COLUMN IF NOT EXISTS SIMULATED_RUN_ID VARCHAR;
ALTER TABLE SIMULATED_ACCOUNT_USAGE.HYBRID_TABLE_USAGE_HISTORY ADD COLUMN IF NOT EXISTS SIMULATED_RUN_ID VARCHAR;
ALTER TABLE SIMULATED_ACCOUNT_USAGE.QUERY_INSIGHTS ADD COLUMN IF NOT EXISTS SIMULATED_RUN_ID VARCHAR;
