-- Migration 0000: FlakeBench's own tables, embedded mode only.
-- @engine duckdb
--
-- In Snowflake these tables belong to FlakeBench and already exist; this service never creates, drops
-- or rewrites them there. The embedded database needs them with the columns this service reads and
-- writes (the seed's section 3 and 4 columns are added by later migrations, as in Snowflake).

CREATE TABLE IF NOT EXISTS TEST_RESULTS (
    TEST_ID VARCHAR(36) NOT NULL,
    RUN_ID VARCHAR(36) NOT NULL,
    TEST_NAME VARCHAR(500),
    TABLE_TYPE VARCHAR(50) NOT NULL,            -- STANDARD, HYBRID, UNISTORE, INTERACTIVE, DYNAMIC, POSTGRES
    TABLE_NAME VARCHAR(500),                     -- benchmark target table
    DATABASE_NAME VARCHAR(500),
    SCHEMA_NAME VARCHAR(500),
    WAREHOUSE_NAME VARCHAR(500),
    QUERY_TAG VARCHAR(500),                      -- e.g. flakebench:test_id=<id>:phase=RUNNING
    STATUS VARCHAR(20),                          -- FlakeBench's test status
    START_TIME TIMESTAMP_NTZ,
    END_TIME TIMESTAMP_NTZ,
    CONCURRENCY INTEGER,
    ENRICHMENT_STATUS VARCHAR(20),               -- pass 1 (INFORMATION_SCHEMA) status
    CREATED_AT TIMESTAMP_NTZ DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT PK_TEST_RESULTS PRIMARY KEY (TEST_ID)
);

CREATE TABLE IF NOT EXISTS QUERY_EXECUTIONS (
    EXECUTION_ID VARCHAR(36) NOT NULL,
    TEST_ID VARCHAR(36) NOT NULL,
    QUERY_ID VARCHAR(500),                       -- Snowflake query id
    QUERY_KIND VARCHAR(50),                      -- FlakeBench's operation label (POINT_LOOKUP, RANGE_SCAN, ...)
    WARMUP BOOLEAN DEFAULT FALSE,
    SUCCESS BOOLEAN DEFAULT TRUE,
    START_TIME TIMESTAMP_NTZ,
    END_TIME TIMESTAMP_NTZ,
    DURATION_MS FLOAT,                           -- client-side latency
    SF_EXECUTION_MS FLOAT,                       -- pass 1 (INFORMATION_SCHEMA) columns
    SF_COMPILATION_MS FLOAT,
    SF_CLUSTER_NUMBER INTEGER,
    SF_PARTITIONS_SCANNED BIGINT,                -- filled by pass 2 from ACCOUNT_USAGE.QUERY_HISTORY
    SF_PARTITIONS_TOTAL BIGINT,
    SF_BYTES_SPILLED_LOCAL BIGINT,
    SF_BYTES_SPILLED_REMOTE BIGINT,
    CONSTRAINT PK_QUERY_EXECUTIONS PRIMARY KEY (EXECUTION_ID)
);
