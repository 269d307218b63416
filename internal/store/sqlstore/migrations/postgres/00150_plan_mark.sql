-- A plan is read a page at a time, each page one snapshot, and stored a
-- moment later. A job of another run for the same person and target that
-- finishes in between leaves the pair free yet changed since the plan
-- read it: storing the plan's job as if the plan were current could send
-- a create the other job already made. job_clock numbers the transactions
-- that finish jobs, in commit order (the row's lock orders them on
-- PostgreSQL; SQLite has one writer): jobs.finish_seq is the number of
-- the transaction that finished a job (0 while unfinished), a plan page
-- reads job_clock.seq in its snapshot, and each job carries it as
-- plan_mark. A job of another run with finish_seq > plan_mark finished
-- after the plan was read: the pair is left out as if taken.
-- runs.plan_mark is the smallest plan_mark of a run's jobs (0: none), so
-- that the check reads only the jobs finished since, by jobs_finished.

-- +goose Up
CREATE TABLE job_clock (id INTEGER PRIMARY KEY, seq BIGINT NOT NULL);
INSERT INTO job_clock (id, seq) VALUES (1, 1);
ALTER TABLE jobs ADD COLUMN plan_mark BIGINT NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN finish_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN plan_mark BIGINT NOT NULL DEFAULT 0;
CREATE INDEX jobs_finished ON jobs (finish_seq) WHERE finish_seq > 0;

-- +goose Down
DROP INDEX jobs_finished;
ALTER TABLE runs DROP COLUMN plan_mark;
ALTER TABLE jobs DROP COLUMN finish_seq;
ALTER TABLE jobs DROP COLUMN plan_mark;
DROP TABLE job_clock;
