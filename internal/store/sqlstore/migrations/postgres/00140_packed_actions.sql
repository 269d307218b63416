-- A job's planned actions stored packed on its row (issue 16): a held
-- initial load of 500,000 jobs would otherwise store 5.5 million action
-- rows, each with the key and four indexes. packed holds the encoded
-- actions of the job (see packed.go), packed_n how many, first_action the
-- ID of the first (the actions have IDs first_action .. first_action +
-- packed_n - 1, allocated when the run is stored). Leasing the job writes
-- them to actions and sets packed_n to 0, so the indexes below only hold
-- jobs not yet leased.

-- +goose Up
ALTER TABLE jobs ADD COLUMN packed TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN packed_n BIGINT NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN first_action BIGINT NOT NULL DEFAULT 0;
CREATE INDEX jobs_packed ON jobs (first_action) WHERE packed_n > 0;
CREATE INDEX jobs_packed_run ON jobs (run_id, first_action) WHERE packed_n > 0;
CREATE INDEX jobs_packed_person ON jobs (person_key, first_action) WHERE packed_n > 0;

-- +goose Down
DROP INDEX jobs_packed_person;
DROP INDEX jobs_packed_run;
DROP INDEX jobs_packed;
ALTER TABLE jobs DROP COLUMN first_action;
ALTER TABLE jobs DROP COLUMN packed_n;
ALTER TABLE jobs DROP COLUMN packed;
