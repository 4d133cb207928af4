-- Migration 0008: per-window BILLED in HYBRID_TABLE_CREDITS, and V_DELAYED_ENRICHMENT_STATUS independent of the
-- reader's session time zone.
--
-- BILLED: from 2026-03-01 Snowflake no longer bills hybrid table requests, but HYBRID_TABLE_USAGE_HISTORY keeps
-- the usage (docs.snowflake.com/en/sql-reference/account-usage/hybrid_table_usage_history); every window is
-- stored, flagged. REQUESTS_METHOD: how REQUESTS_COUNT was counted (src/enrichment/credits-transform.ts).
ALTER TABLE HYBRID_TABLE_CREDITS ADD COLUMN IF NOT EXISTS BILLED BOOLEAN;
ALTER TABLE HYBRID_TABLE_CREDITS ADD COLUMN IF NOT EXISTS REQUESTS_METHOD VARCHAR(50);
UPDATE HYBRID_TABLE_CREDITS SET BILLED = START_TIME < CAST('2026-03-01 00:00:00' AS TIMESTAMP_NTZ) WHERE BILLED IS NULL;

-- minutes_until_eligible compared CURRENT_TIMESTAMP (TIMESTAMP_LTZ) with the UTC NTZ column: Snowflake reads the
-- NTZ value in the *reader's* session time zone, so a reader in America/Los_Angeles got 480 minutes more.
-- SYSDATE() is the current time in UTC as TIMESTAMP_NTZ (docs.snowflake.com/en/sql-reference/functions/sysdate);
-- DuckDB has it from the prelude (src/db/prelude.ts).
CREATE OR REPLACE VIEW V_DELAYED_ENRICHMENT_STATUS AS
SELECT
    q.JOB_ID,
    q.TEST_ID,
    q.RUN_ID,
    q.TABLE_TYPE,
    q.STATUS,
    q.TEST_END_TIME,
    q.EARLIEST_ENRICHMENT_TIME,
    TIMESTAMPDIFF('minute', SYSDATE(), q.EARLIEST_ENRICHMENT_TIME) AS minutes_until_eligible,
    q.ATTEMPTS,
    q.LAST_ERROR,
    q.CLAIMED_BY,
    q.CLAIMED_AT,
    tr.TEST_NAME,
    tr.ENRICHMENT_STATUS AS immediate_enrichment_status,
    tr.DELAYED_ENRICHMENT_STATUS
FROM DELAYED_ENRICHMENT_QUEUE q
JOIN TEST_RESULTS tr ON q.TEST_ID = tr.TEST_ID AND q.RUN_ID = tr.RUN_ID
ORDER BY q.EARLIEST_ENRICHMENT_TIME ASC;
