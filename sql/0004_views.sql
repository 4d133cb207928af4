-- Migration 0004: the seed's analysis views (section 6), as written there except
-- CURRENT_TIMESTAMP without parentheses (both engines accept it).

CREATE OR REPLACE VIEW V_AGGREGATE_QUERY_STATS AS
SELECT
    TEST_ID,
    RUN_ID,
    COUNT(DISTINCT QUERY_PARAMETERIZED_HASH) AS unique_query_patterns,
    SUM(QUERY_COUNT) AS total_queries,
    SUM(EXEC_SUM_MS) AS total_exec_ms,
    SUM(EXEC_SUM_MS) / NULLIF(SUM(QUERY_COUNT), 0) AS weighted_avg_exec_ms,
    MAX(EXEC_MAX_MS) AS max_exec_ms,
    MAX(EXEC_P95_MS) AS worst_p95_exec_ms,
    MAX(EXEC_P99_MS) AS worst_p99_exec_ms,
    SUM(HYBRID_REQUESTS_THROTTLED_COUNT) AS total_throttled_requests,
    SUM(ERRORS_COUNT) AS total_errors,
    SUM(QUEUED_OVERLOAD_SUM_MS) AS total_queued_overload_ms,
    MAX(QUEUED_OVERLOAD_MAX_MS) AS max_queued_overload_ms
FROM AGGREGATE_QUERY_METRICS
GROUP BY TEST_ID, RUN_ID;

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
    COUNT(DISTINCT BLOCKING_TRANSACTION_ID) AS unique_blockers
FROM LOCK_CONTENTION_EVENTS
GROUP BY TEST_ID, RUN_ID;

CREATE OR REPLACE VIEW V_DELAYED_ENRICHMENT_STATUS AS
SELECT
    q.JOB_ID,
    q.TEST_ID,
    q.RUN_ID,
    q.TABLE_TYPE,
    q.STATUS,
    q.TEST_END_TIME,
    q.EARLIEST_ENRICHMENT_TIME,
    TIMESTAMPDIFF('minute', CURRENT_TIMESTAMP, q.EARLIEST_ENRICHMENT_TIME) AS minutes_until_eligible,
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
