-- Parked creates (issue 13) and unverifiable actions in grant provenance.
-- The same layout as the SQLite migration; text in the "C" collation.
-- Times are BIGINT unix microseconds UTC.

-- +goose Up
-- A create the target refused as a conflict that correlation could not
-- resolve. The planner does not plan the pair's create again while the
-- fingerprint of what it would send is the same.
CREATE TABLE parked (
    person_key  TEXT COLLATE "C" NOT NULL,
    target      TEXT COLLATE "C" NOT NULL,
    fingerprint TEXT COLLATE "C" NOT NULL,
    reason      TEXT COLLATE "C" NOT NULL DEFAULT '',
    action_id   BIGINT NOT NULL DEFAULT 0,
    run_id      TEXT COLLATE "C" NOT NULL DEFAULT '',
    parked_at   BIGINT NOT NULL,
    PRIMARY KEY (person_key, target)
);

-- An account that becomes known (created, linked, reconciled) ends the
-- park, whichever code path writes it.
-- +goose StatementBegin
CREATE FUNCTION accord_unpark() RETURNS trigger AS $$
BEGIN
  DELETE FROM parked WHERE person_key = NEW.person_key AND target = NEW.target;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd
CREATE TRIGGER accounts_unpark AFTER INSERT ON accounts
  FOR EACH ROW EXECUTE FUNCTION accord_unpark();

-- An unverifiable action was accepted by the target as much as a
-- succeeded one: grants become true, revokes and deletes forget them.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION accord_grant_provenance() RETURNS trigger AS $$
BEGIN
  IF NEW.state NOT IN ('succeeded', 'unverifiable') OR OLD.state IN ('succeeded', 'unverifiable') THEN
    RETURN NULL;
  END IF;
  IF NEW.op IN ('grant', 'create_account') AND NEW.entitlements <> '' THEN
    INSERT INTO entitlement_grants (person_key, target, entitlement, granted_at, run_id)
    SELECT NEW.person_key, NEW.target, e, NEW.finished_at, NEW.run_id
    FROM json_array_elements_text(NEW.entitlements::json) AS e
    ON CONFLICT (person_key, target, entitlement) DO NOTHING;
  ELSIF NEW.op = 'revoke' AND NEW.entitlements <> '' THEN
    DELETE FROM entitlement_grants WHERE person_key = NEW.person_key AND target = NEW.target
      AND entitlement IN (SELECT json_array_elements_text(NEW.entitlements::json));
  ELSIF NEW.op = 'delete_account' THEN
    DELETE FROM entitlement_grants WHERE person_key = NEW.person_key AND target = NEW.target;
  END IF;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION accord_grant_provenance() RETURNS trigger AS $$
BEGIN
  IF NEW.state <> 'succeeded' OR OLD.state = 'succeeded' THEN
    RETURN NULL;
  END IF;
  IF NEW.op IN ('grant', 'create_account') AND NEW.entitlements <> '' THEN
    INSERT INTO entitlement_grants (person_key, target, entitlement, granted_at, run_id)
    SELECT NEW.person_key, NEW.target, e, NEW.finished_at, NEW.run_id
    FROM json_array_elements_text(NEW.entitlements::json) AS e
    ON CONFLICT (person_key, target, entitlement) DO NOTHING;
  ELSIF NEW.op = 'revoke' AND NEW.entitlements <> '' THEN
    DELETE FROM entitlement_grants WHERE person_key = NEW.person_key AND target = NEW.target
      AND entitlement IN (SELECT json_array_elements_text(NEW.entitlements::json));
  ELSIF NEW.op = 'delete_account' THEN
    DELETE FROM entitlement_grants WHERE person_key = NEW.person_key AND target = NEW.target;
  END IF;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd
DROP TRIGGER accounts_unpark ON accounts;
DROP FUNCTION accord_unpark();
DROP TABLE parked;
