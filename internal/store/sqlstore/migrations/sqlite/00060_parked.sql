-- Parked creates (issue 13) and unverifiable actions in grant provenance.
-- Times are INTEGER unix microseconds UTC.

-- +goose Up
-- A create the target refused as a conflict that correlation could not
-- resolve. The planner does not plan the pair's create again while the
-- fingerprint of what it would send is the same.
CREATE TABLE parked (
    person_key  TEXT NOT NULL,
    target      TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    action_id   INTEGER NOT NULL DEFAULT 0,
    run_id      TEXT NOT NULL DEFAULT '',
    parked_at   INTEGER NOT NULL,
    PRIMARY KEY (person_key, target)
);

-- An account that becomes known (created, linked, reconciled) ends the
-- park, whichever code path writes it.
-- +goose StatementBegin
CREATE TRIGGER accounts_unpark AFTER INSERT ON accounts
BEGIN
  DELETE FROM parked WHERE person_key = NEW.person_key AND target = NEW.target;
END;
-- +goose StatementEnd

-- An unverifiable action was accepted by the target as much as a
-- succeeded one: grants become true, revokes and deletes forget them.
DROP TRIGGER actions_grant_provenance;
DROP TRIGGER actions_revoke_provenance;
DROP TRIGGER actions_delete_provenance;
-- +goose StatementBegin
CREATE TRIGGER actions_grant_provenance AFTER UPDATE OF state ON actions
WHEN NEW.state IN ('succeeded', 'unverifiable') AND OLD.state NOT IN ('succeeded', 'unverifiable')
  AND NEW.op IN ('grant', 'create_account') AND NEW.entitlements <> ''
BEGIN
  INSERT INTO entitlement_grants (person_key, target, entitlement, granted_at, run_id)
  SELECT NEW.person_key, NEW.target, value, NEW.finished_at, NEW.run_id FROM json_each(NEW.entitlements) WHERE true
  ON CONFLICT (person_key, target, entitlement) DO NOTHING;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER actions_revoke_provenance AFTER UPDATE OF state ON actions
WHEN NEW.state IN ('succeeded', 'unverifiable') AND OLD.state NOT IN ('succeeded', 'unverifiable')
  AND NEW.op = 'revoke' AND NEW.entitlements <> ''
BEGIN
  DELETE FROM entitlement_grants WHERE person_key = NEW.person_key AND target = NEW.target
    AND entitlement IN (SELECT value FROM json_each(NEW.entitlements));
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER actions_delete_provenance AFTER UPDATE OF state ON actions
WHEN NEW.state IN ('succeeded', 'unverifiable') AND OLD.state NOT IN ('succeeded', 'unverifiable')
  AND NEW.op = 'delete_account'
BEGIN
  DELETE FROM entitlement_grants WHERE person_key = NEW.person_key AND target = NEW.target;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER actions_delete_provenance;
DROP TRIGGER actions_revoke_provenance;
DROP TRIGGER actions_grant_provenance;
-- +goose StatementBegin
CREATE TRIGGER actions_grant_provenance AFTER UPDATE OF state ON actions
WHEN NEW.state = 'succeeded' AND OLD.state <> 'succeeded'
  AND NEW.op IN ('grant', 'create_account') AND NEW.entitlements <> ''
BEGIN
  INSERT INTO entitlement_grants (person_key, target, entitlement, granted_at, run_id)
  SELECT NEW.person_key, NEW.target, value, NEW.finished_at, NEW.run_id FROM json_each(NEW.entitlements) WHERE true
  ON CONFLICT (person_key, target, entitlement) DO NOTHING;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER actions_revoke_provenance AFTER UPDATE OF state ON actions
WHEN NEW.state = 'succeeded' AND OLD.state <> 'succeeded' AND NEW.op = 'revoke' AND NEW.entitlements <> ''
BEGIN
  DELETE FROM entitlement_grants WHERE person_key = NEW.person_key AND target = NEW.target
    AND entitlement IN (SELECT value FROM json_each(NEW.entitlements));
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER actions_delete_provenance AFTER UPDATE OF state ON actions
WHEN NEW.state = 'succeeded' AND OLD.state <> 'succeeded' AND NEW.op = 'delete_account'
BEGIN
  DELETE FROM entitlement_grants WHERE person_key = NEW.person_key AND target = NEW.target;
END;
-- +goose StatementEnd
DROP TRIGGER accounts_unpark;
DROP TABLE parked;
