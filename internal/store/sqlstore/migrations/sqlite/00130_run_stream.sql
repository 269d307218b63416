-- Runs stored in parts as they are planned (issue 16): a run's jobs
-- arrive in batches of their own transactions, so one person and target
-- per run can no longer be checked in memory over the whole run. The
-- index checks it across batches.

-- +goose Up
CREATE UNIQUE INDEX jobs_run_pair ON jobs (run_id, person_key, target);

-- +goose Down
DROP INDEX jobs_run_pair;
