-- Rollback of 0009: drop the write carrier (it holds no data). Set SNOWFLAKE_WRITE_CARRIER=inline or
-- statements before running the service on the rolled-back schema.
-- @engine snowflake
DROP PROCEDURE IF EXISTS DELAYED_ENRICHMENT_WRITE_GROUPS(VARCHAR);
