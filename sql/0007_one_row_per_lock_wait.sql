-- Migration 0007: LOCK_CONTENTION_EVENTS holds one row per lock wait (seed section 4: "one row per lock wait
-- event"), its first blocker in the seed's BLOCKING_* columns and every blocker in RAW_EVENT. A wait has up to
-- 20 blockers on standard tables, and one view row per blocker on hybrid tables
-- (docs.snowflake.com/en/sql-reference/account-usage/lock_wait_history,
-- docs.snowflake.com/en/user-guide/tables-hybrid-monitor-transactions). Counting unique blockers over all of
-- them from RAW_EVENT would need FLATTEN, which DuckDB lacks, so the enrichment writes three counts per wait
-- (src/enrichment/lock-transform.ts) and the seed's view sums them.

ALTER TABLE LOCK_CONTENTION_EVENTS ADD COLUMN IF NOT EXISTS BLOCKER_COUNT INTEGER;          -- blockers of the wait
ALTER TABLE LOCK_CONTENTION_EVENTS ADD COLUMN IF NOT EXISTS UNIDENTIFIED_BLOCKERS INTEGER;  -- of them, without any id
ALTER TABLE LOCK_CONTENTION_EVENTS ADD COLUMN IF NOT EXISTS FIRST_SEEN_BLOCKERS INTEGER;    -- identified, named by no earlier wait of the test

-- Rows written before this migration are one per (wait x blocker): each is one blocker, first seen in the
-- earliest row that names it (by transaction id, else query id). Waits stay counted per row until re-enriched.
UPDATE LOCK_CONTENTION_EVENTS SET BLOCKER_COUNT = 1,
    UNIDENTIFIED_BLOCKERS = IFF(BLOCKING_TRANSACTION_ID IS NULL AND BLOCKING_QUERY_ID IS NULL, 1, 0),
    FIRST_SEEN_BLOCKERS = IFF(BLOCKING_TRANSACTION_ID IS NULL AND BLOCKING_QUERY_ID IS NULL, 0,
        IFF(EVENT_ID IN (
            SELECT EVENT_ID FROM (
                SELECT EVENT_ID, ROW_NUMBER() OVER (
                    PARTITION BY TEST_ID, RUN_ID, COALESCE(TO_VARCHAR(BLOCKING_TRANSACTION_ID), BLOCKING_QUERY_ID)
                    ORDER BY REQUESTED_AT, EVENT_ID) AS SEEN
                FROM LOCK_CONTENTION_EVENTS
                WHERE BLOCKING_TRANSACTION_ID IS NOT NULL OR BLOCKING_QUERY_ID IS NOT NULL
            ) ranked WHERE SEEN = 1), 1, 0))
WHERE BLOCKER_COUNT IS NULL;

-- The seed's view; unique_blockers counts every blocker of every wait (the seed's
-- COUNT(DISTINCT BLOCKING_TRANSACTION_ID) would see only each wait's first), by transaction id, else query id.
CREATE OR REPLACE VIEW V_LOCK_CONTENTION_SUMMARY AS
SELECT
    TEST_ID,
    RUN_ID,
    COUNT(*) AS lock_wait_count,
    SUM(WAIT_DURATION_MS) AS total_wait_ms,
    AVG(WAIT_DURATION_MS) AS avg_wait_ms,
    MAX(WAIT_DURATION_MS) AS max_wait_ms,
    MIN(REQUESTED_AT) AS first_lock_wait,
    MAX(REQUESTED_AT) AS last_lock_wait,
    COUNT(DISTINCT OBJECT_NAME) AS affected_tables,
    COALESCE(SUM(FIRST_SEEN_BLOCKERS), 0) AS unique_blockers
FROM LOCK_CONTENTION_EVENTS
GROUP BY TEST_ID, RUN_ID;
