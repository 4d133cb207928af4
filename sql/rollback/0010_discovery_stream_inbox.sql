-- Rollback of 0010: drop the discovery inbox and the stream the service created for AUTO_ENQUEUE_SOURCE=stream
-- (a stream holds no data: only its offset). Keys still in the inbox are found again by AUTO_ENQUEUE_SOURCE=scan.
-- @engine snowflake
DROP STREAM IF EXISTS DELAYED_ENRICHMENT_TEST_RESULTS_CHANGES;
DROP TABLE IF EXISTS DELAYED_ENRICHMENT_DISCOVERY_INBOX;
