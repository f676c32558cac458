-- Risk rules join the configuration each paycore process caches (src/db/config-cache.ts): every
-- payment and signing reads the rules that apply from the cache instead of from the table, so
-- every change to them must move config_version in the changing transaction, as a change to a
-- merchant or a channel does (migration 0701). A rule created, changed, disabled or deleted
-- through any process is then used by the next payment of every process: the statement that
-- records a payment's intent writes nothing when the version moved since the request's cached
-- configuration was read, and the request runs again on fresh configuration.
CREATE TRIGGER risk_rules_config_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON risk_rules
  FOR EACH STATEMENT EXECUTE FUNCTION config_version_bump();
