-- The overview's success rates count the attempts that ended in the last
-- hour and day per target and outcome. Ordered by target and outcome, the
-- index answers each count as one range of itself; ordered by time alone,
-- every attempt of the window was read from the table and sorted for the
-- GROUP BY (2 s a page at 250,000 attempts an hour; see BENCHMARKS.md,
-- console pages).

-- +goose Up
CREATE INDEX audit_attempt_end_outcome ON audit (target, outcome, at) WHERE kind = 'attempt_end';
DROP INDEX audit_attempt_end_at;

-- +goose Down
CREATE INDEX audit_attempt_end_at ON audit (at) WHERE kind = 'attempt_end';
DROP INDEX audit_attempt_end_outcome;
