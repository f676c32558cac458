-- One number that moves whenever read-mostly configuration changes: merchants, their products
-- and API keys, the channels and the settlement calendar. Each paycore process caches those
-- (src/db/config-cache.ts) and drops its cache when the number moves, so a change made through
-- any process on this database is seen by all of them (docs/scaling.md). Statement triggers: one
-- bump per changing statement, in the changing transaction.
CREATE TABLE config_version (
  singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  version    bigint NOT NULL
);
INSERT INTO config_version (singleton, version) VALUES (true, 1);

CREATE FUNCTION config_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE config_version SET version = version + 1 WHERE singleton;
  RETURN NULL;
END;
$$;

CREATE TRIGGER merchants_config_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON merchants
  FOR EACH STATEMENT EXECUTE FUNCTION config_version_bump();
CREATE TRIGGER merchant_products_config_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON merchant_products
  FOR EACH STATEMENT EXECUTE FUNCTION config_version_bump();
CREATE TRIGGER api_keys_config_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON api_keys
  FOR EACH STATEMENT EXECUTE FUNCTION config_version_bump();
CREATE TRIGGER channels_config_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON channels
  FOR EACH STATEMENT EXECUTE FUNCTION config_version_bump();
CREATE TRIGGER settlement_calendar_config_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON settlement_calendar
  FOR EACH STATEMENT EXECUTE FUNCTION config_version_bump();
