-- Incremental reconciliation (issue 14): the watermark a connector that
-- reads only changed accounts (recon.DeltaLister) returned at the end of a
-- reconciliation's listing, e.g. an LDAP directory's largest
-- modifyTimestamp. The next reconciliation of the target reads from it.

-- +goose Up
ALTER TABLE recons ADD COLUMN watermark TEXT NOT NULL DEFAULT '';
ALTER TABLE recons ADD COLUMN delta INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE recons DROP COLUMN delta;
ALTER TABLE recons DROP COLUMN watermark;
