-- The cut-off becomes a history (issue 16): moving it must never change a closed or settled day.
-- From business day `effective_from` on, each day closes `cutoff_minutes` after its Beijing
-- midnight, until the next step. A change adds a step from the next open day; the first step
-- starts at 1970-01-01 with the cut-off in force until now, so every day has exactly one cut-off
-- and the days already posted keep the close they had.
CREATE TABLE settlement_cutoffs (
  effective_from  text PRIMARY KEY CHECK (effective_from ~ '^\d{4}-\d{2}-\d{2}$'),
  cutoff_minutes  integer NOT NULL CHECK (cutoff_minutes BETWEEN 1 AND 1440),
  created_at      timestamptz NOT NULL
);
INSERT INTO settlement_cutoffs (effective_from, cutoff_minutes, created_at)
  SELECT '1970-01-01', cutoff_minutes, updated_at FROM settlement_calendar WHERE singleton;

-- Each process caches the history (src/db/config-cache.ts): a change moves config_version.
CREATE TRIGGER settlement_cutoffs_config_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON settlement_cutoffs
  FOR EACH STATEMENT EXECUTE FUNCTION config_version_bump();

-- The one mutable cut-off it replaces (its config_version trigger goes with it).
DROP TABLE settlement_calendar;
