-- 006_schedules.sql -- what the scheduler (core/scheduler.c) needs beyond
-- the jobvisor.schedules table of 001: the record of materialised runs.
--
-- Exactly once: a schedule's run at run_at becomes a job only in the
-- transaction that inserts its schedule_runs row (INSERT ... ON CONFLICT DO
-- NOTHING RETURNING, then the job). The primary key decides, so two
-- processors that somehow both see the same run (a stale next_run_at, a
-- clock step, a config sync racing the scheduler) cannot both enqueue it:
-- the second insert finds the row and enqueues nothing. The scheduler's
-- FOR UPDATE SKIP LOCKED on the schedule row only spreads the work; this
-- key is what makes it correct.
CREATE TABLE jobvisor.schedule_runs (
	schedule    text        NOT NULL,      -- schedules.name
	run_at      timestamptz NOT NULL,      -- the cron time (jitter not included)
	job_id      bigint,                    -- the job it enqueued (NULL: skipped)
	processor   bigint,                    -- processors.id that materialised it
	created_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (schedule, run_at)
);

-- Pruning: rows older than the history retention (7 days at least).
CREATE INDEX schedule_runs_created_idx ON jobvisor.schedule_runs USING brin (created_at);

-- The scheduler scans enabled schedules by next_run_at: 001's partial
-- index schedules_next_run_idx covers it.

COMMENT ON TABLE jobvisor.schedule_runs IS 'one row per materialised schedule run (exactly once)';
