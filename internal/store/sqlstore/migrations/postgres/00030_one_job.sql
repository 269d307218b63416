-- Issue 11: the store, not the planner, guarantees one unfinished job per
-- person and target, one open held run per scope, and fenced leases.

-- +goose Up
-- lease_epoch is the fencing token of a job's lease: raised at every lease,
-- checked by Commit, so an owner whose lease was taken over cannot commit.
ALTER TABLE jobs ADD COLUMN lease_epoch BIGINT NOT NULL DEFAULT 0;
-- digest identifies a held run's plan: the same plan held again is not
-- stored twice.
ALTER TABLE runs ADD COLUMN digest TEXT COLLATE "C" NOT NULL DEFAULT '';

-- Older stores may hold duplicates the indexes below forbid. The later
-- duplicate job is cancelled (the next plan recomputes what it would have
-- done), and of several open held runs of a scope only the newest stays.
UPDATE actions SET state = 'cancelled' WHERE state IN ('pending', 'running') AND job_id IN (
    SELECT j.id FROM jobs j WHERE j.state IN ('pending', 'leased') AND j.active = 1 AND EXISTS (
        SELECT 1 FROM jobs b WHERE b.person_key = j.person_key AND b.target = j.target AND b.id < j.id
        AND b.state IN ('pending', 'leased') AND b.active = 1));
UPDATE jobs SET state = 'cancelled', lease_owner = '', lease_until = 0
    WHERE state IN ('pending', 'leased') AND active = 1 AND EXISTS (
        SELECT 1 FROM jobs b WHERE b.person_key = jobs.person_key AND b.target = jobs.target AND b.id < jobs.id
        AND b.state IN ('pending', 'leased') AND b.active = 1);
UPDATE runs SET state = 'cancelled', note = 'superseded by a newer held run of the same scope'
    WHERE state = 'held' AND EXISTS (SELECT 1 FROM runs n WHERE n.state = 'held' AND n.scope = runs.scope
        AND (n.created_at > runs.created_at OR (n.created_at = runs.created_at AND n.id > runs.id)));

CREATE UNIQUE INDEX jobs_one_unfinished ON jobs (person_key, target) WHERE state IN ('pending', 'leased') AND active = 1;
CREATE UNIQUE INDEX runs_one_held ON runs (scope) WHERE state = 'held';

-- +goose Down
DROP INDEX runs_one_held;
DROP INDEX jobs_one_unfinished;
ALTER TABLE runs DROP COLUMN digest;
ALTER TABLE jobs DROP COLUMN lease_epoch;
