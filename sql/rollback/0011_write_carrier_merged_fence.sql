-- Rollback of 0011: drop the write carrier (it holds no data). The code before 0011 needs 0009's procedure:
-- roll back to 0008 and migrate again, or set SNOWFLAKE_WRITE_CARRIER=inline or statements.
-- @engine snowflake
DROP PROCEDURE IF EXISTS DELAYED_ENRICHMENT_WRITE_GROUPS(VARCHAR);
