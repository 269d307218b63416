-- Reconciliation: what the targets showed (observed accounts and
-- memberships, kept apart from the known state accord plans from),
-- resumable aggregation state, a per-reconciliation correlation index,
-- drift records, and grant provenance for access reports.
-- Times are INTEGER unix microseconds UTC (0 = unset); lists and maps are
-- JSON text.

-- +goose Up
-- Known accounts are looked up by native ID when a page is correlated.
CREATE INDEX accounts_native ON accounts (target, native_id);

-- One row per reconciliation of one target. next_cursor is where the current
-- listing phase goes on, saved with each page: a restart resumes there.
CREATE TABLE recons (
    id           TEXT PRIMARY KEY,
    target       TEXT NOT NULL,
    phase        TEXT NOT NULL,
    next_cursor  TEXT NOT NULL DEFAULT '',
    pages        INTEGER NOT NULL DEFAULT 0,
    accounts     INTEGER NOT NULL DEFAULT 0,
    memberships  INTEGER NOT NULL DEFAULT 0,
    ents_read    INTEGER NOT NULL DEFAULT 0,
    dry_run      INTEGER NOT NULL DEFAULT 0,
    counts       TEXT NOT NULL DEFAULT '',
    run_id       TEXT NOT NULL DEFAULT '',
    note         TEXT NOT NULL DEFAULT '',
    lease_owner  TEXT NOT NULL DEFAULT '',
    lease_until  INTEGER NOT NULL DEFAULT 0,
    started_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    finished_at  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX recons_target ON recons (target, started_at);
CREATE UNIQUE INDEX recons_unfinished ON recons (target) WHERE finished_at = 0;

-- The correlation index of one reconciliation: a person's value under a
-- rule, normalised (lower-cased for case-insensitive rules).
CREATE TABLE recon_keys (
    recon_id   TEXT NOT NULL,
    rule       INTEGER NOT NULL,
    value      TEXT NOT NULL,
    person_key TEXT NOT NULL,
    PRIMARY KEY (recon_id, rule, value, person_key)
);

CREATE TABLE recon_accounts (
    target       TEXT NOT NULL,
    native_id    TEXT NOT NULL,
    person_key   TEXT NOT NULL DEFAULT '',
    correlation  TEXT NOT NULL,
    rule         INTEGER NOT NULL DEFAULT 0,
    candidates   TEXT NOT NULL DEFAULT '',
    link         TEXT NOT NULL DEFAULT '',
    attributes   TEXT NOT NULL DEFAULT '',
    active       INTEGER NOT NULL,
    entitlements TEXT NOT NULL DEFAULT '',
    ents_known   INTEGER NOT NULL DEFAULT 0,
    recon_id     TEXT NOT NULL,
    seen_at      INTEGER NOT NULL,
    PRIMARY KEY (target, native_id)
);
CREATE INDEX recon_accounts_person ON recon_accounts (target, person_key, native_id);
CREATE INDEX recon_accounts_recon ON recon_accounts (target, recon_id);

-- Memberships read by listing entitlements (targets that do not report
-- them on the account).
CREATE TABLE recon_memberships (
    target      TEXT NOT NULL,
    native_id   TEXT NOT NULL,
    entitlement TEXT NOT NULL,
    recon_id    TEXT NOT NULL,
    PRIMARY KEY (target, native_id, entitlement)
);
CREATE INDEX recon_memberships_recon ON recon_memberships (target, recon_id);

-- A drift record stays open (resolved_at = 0) while reconciliations keep
-- finding it; one open record per identity.
CREATE TABLE drift (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    target      TEXT NOT NULL,
    class       TEXT NOT NULL,
    person_key  TEXT NOT NULL DEFAULT '',
    native_id   TEXT NOT NULL DEFAULT '',
    subject     TEXT NOT NULL DEFAULT '',
    expected    TEXT NOT NULL DEFAULT '',
    actual      TEXT NOT NULL DEFAULT '',
    detail      TEXT NOT NULL DEFAULT '',
    action      TEXT NOT NULL DEFAULT '',
    recon_id    TEXT NOT NULL,
    detected_at INTEGER NOT NULL,
    seen_at     INTEGER NOT NULL,
    resolved_at INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX drift_open ON drift (target, class, person_key, native_id, subject) WHERE resolved_at = 0;
CREATE INDEX drift_target ON drift (target, person_key, native_id);
CREATE INDEX drift_person ON drift (person_key, target);

-- Provenance of entitlements of known accounts: granted_at is when accord
-- granted it (run_id) or a reconciliation first saw it; verified_at is
-- when a reconciliation last read it on the target.
CREATE TABLE entitlement_grants (
    person_key  TEXT NOT NULL,
    target      TEXT NOT NULL,
    entitlement TEXT NOT NULL,
    granted_at  INTEGER NOT NULL,
    run_id      TEXT NOT NULL DEFAULT '',
    verified_at INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (person_key, target, entitlement)
);
CREATE INDEX entitlement_grants_target ON entitlement_grants (target, person_key);

-- Grants are recorded where they become true: when a grant (or a create
-- with entitlements) succeeds, whichever code path commits it. A revoke
-- or a delete forgets them, so a later grant starts a new "since".
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

-- +goose Down
DROP TRIGGER actions_delete_provenance;
DROP TRIGGER actions_revoke_provenance;
DROP TRIGGER actions_grant_provenance;
DROP TABLE entitlement_grants;
DROP TABLE drift;
DROP TABLE recon_memberships;
DROP TABLE recon_accounts;
DROP TABLE recon_keys;
DROP TABLE recons;
DROP INDEX accounts_native;
