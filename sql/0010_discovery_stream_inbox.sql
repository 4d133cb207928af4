-- Migration 0010: the inbox of the stream-fed discovery poll (AUTO_ENQUEUE_SOURCE=stream, src/queue/discovery-stream.ts).
-- Snowflake only (the whole file): the embedded engine has no streams and always scans.
-- @engine snowflake
--
-- A stream's offset advances only when a DML statement that reads it commits ("Querying a stream alone does
-- not advance its offset", docs.snowflake.com/en/user-guide/streams-intro): the poll copies the changed
-- tests' keys from the stream into this table in one INSERT … SELECT, so a crash after that commit loses no
-- test (its key waits here until it is enqueued or can no longer be). The stream itself is created by the
-- service only when the setting asks for it: creating the first stream on FlakeBench's table turns on change
-- tracking there, which is the account owner's choice, not a migration's.
CREATE TABLE IF NOT EXISTS DELAYED_ENRICHMENT_DISCOVERY_INBOX (
    TEST_ID VARCHAR(36) NOT NULL,
    RUN_ID VARCHAR(36) NOT NULL,
    NOTED_AT TIMESTAMP_NTZ NOT NULL
);
