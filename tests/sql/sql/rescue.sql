-- rescue.sql -- jobvisor.rescue_stuck() and jobvisor.heartbeat(): which
-- running jobs are rescued (processor silent past the horizon, stopped, or
-- gone), what they become (pending with attempts left, else failed), their
-- history rows, and each processor's own horizon (rescue_after, 013) that
-- no caller's shorter stuck_job_timeout can cut short.
-- Time is fixed: rescue_stuck() gets p_now = :'now'; heartbeat(), which
-- reads the clock, is checked with margins of minutes.
\set VERBOSITY terse
\set now '2030-01-01 12:00:00+00'
TRUNCATE jobvisor.jobs, jobvisor.job_executions, jobvisor.processors RESTART IDENTITY;
CREATE TEMP VIEW jobs_v AS
SELECT id, status, attempts AS att, max_attempts AS max, locked_by AS lk,
       extract(epoch FROM scheduled_at - :'now'::timestamptz) AS due_s,
       extract(epoch FROM finished_at - :'now'::timestamptz) AS fin_s, last_error
FROM jobvisor.jobs ORDER BY id;
CREATE TEMP VIEW procs_v AS
SELECT id, name, state, extract(epoch FROM stopped_at - :'now'::timestamptz) AS stopped_s,
       rescue_after
FROM jobvisor.processors ORDER BY id;
-- Processors, by their last heartbeat before :'now' and their own horizon:
--   1 fresh (1 min ago)           4 silent 10 min, horizon 30 min
--   2 silent 6 min, no horizon    5 silent 31 min, horizon 30 min
--   3 said it stopped (1 min ago) 6 silent 10 min, horizon 2 min
INSERT INTO jobvisor.processors (name, hostname, pid, version, state, stopped_at, heartbeat_at, rescue_after)
VALUES ('fresh', 'h', 1, 't', 'running', NULL, :'now'::timestamptz - interval '1 min', interval '5 min'),
       ('silent', 'h', 1, 't', 'running', NULL, :'now'::timestamptz - interval '6 min', NULL),
       ('stopped', 'h', 1, 't', 'stopped', :'now'::timestamptz - interval '1 min',
        :'now'::timestamptz - interval '1 min', interval '5 min'),
       ('long', 'h', 1, 't', 'running', NULL, :'now'::timestamptz - interval '10 min', interval '30 min'),
       ('long-dead', 'h', 1, 't', 'paused', NULL, :'now'::timestamptz - interval '31 min', interval '30 min'),
       ('short', 'h', 1, 't', 'running', NULL, :'now'::timestamptz - interval '10 min', interval '2 min');
-- One running job under each processor, one under processor 99 (no such
-- row), one of processor 2 on its last attempt, and a pending one.
INSERT INTO jobvisor.jobs (type, status, locked_by, attempts, max_attempts, scheduled_at, started_at)
SELECT 'noop', 'running', p, a, 3, :'now'::timestamptz - interval '1 hour',
       :'now'::timestamptz - interval '20 min'
FROM (VALUES (1, 1), (2, 1), (3, 2), (4, 1), (5, 1), (6, 1), (99, 1), (2, 3)) v(p, a);
INSERT INTO jobvisor.jobs (type, scheduled_at) VALUES ('noop', :'now'::timestamptz - interval '1 hour');
-- The caller's horizon is 5 min: processor 1 is fresh, 4's own 30 min
-- keep its job (silent only 10 min); 2, 3, 5, 6 and 99's jobs are rescued.
-- Job 8 had no attempt left: failed.
SELECT * FROM jobvisor.rescue_stuck(interval '5 min', :'now') ORDER BY id;
SELECT * FROM jobs_v;
-- The silent processors are marked stopped (not 1 nor 4; 3 already was).
SELECT * FROM procs_v;
-- Each rescued attempt has its history row naming the processor, with
-- the time it ran (20 min).
SELECT job_id, attempt, processor, outcome, duration_ms, error,
       extract(epoch FROM finished_at - :'now'::timestamptz) AS fin_s
FROM jobvisor.job_executions ORDER BY job_id;
-- Run again: nothing more.
SELECT count(*) FROM jobvisor.rescue_stuck(interval '5 min', :'now');
-- A caller with a horizon longer than the processor's own: the caller's
-- applies (greatest). 40 min later, 4 is silent 50 min: rescued with a 45
-- min horizon, but not with 60 min.
SELECT count(*) FROM jobvisor.rescue_stuck(interval '60 min', :'now'::timestamptz + interval '40 min');
SELECT * FROM jobvisor.rescue_stuck(interval '45 min', :'now'::timestamptz + interval '40 min');
-- Exactly at the horizon is not past it.
TRUNCATE jobvisor.jobs, jobvisor.job_executions RESTART IDENTITY;
UPDATE jobvisor.processors SET state = 'running', stopped_at = NULL,
       heartbeat_at = :'now'::timestamptz - interval '5 min', rescue_after = NULL WHERE id = 1;
INSERT INTO jobvisor.jobs (type, status, locked_by, attempts) VALUES ('noop', 'running', 1, 1);
SELECT count(*) FROM jobvisor.rescue_stuck(interval '5 min', :'now');
SELECT count(*) FROM jobvisor.rescue_stuck(interval '5 min', :'now'::timestamptz + interval '1 ms');
SELECT id, status, att, lk, due_s, last_error FROM jobs_v;

-- heartbeat(processor, state, stuck_job_timeout): the processor's row is
-- renewed (back to its state, stopped_at cleared, rescue_after = its
-- horizon), then the rescue runs with that horizon, on the clock. It
-- returns the number of jobs rescued.
TRUNCATE jobvisor.jobs, jobvisor.job_executions, jobvisor.processors RESTART IDENTITY;
INSERT INTO jobvisor.processors (name, hostname, pid, version, state, stopped_at, heartbeat_at, rescue_after)
VALUES ('me', 'h', 1, 't', 'stopped', now() - interval '1 hour', now() - interval '1 hour', NULL),
       ('partitioned', 'h', 1, 't', 'running', NULL, now() - interval '10 min', interval '30 min'),
       ('old-version', 'h', 1, 't', 'running', NULL, now() - interval '10 min', NULL);
INSERT INTO jobvisor.jobs (type, status, locked_by, attempts) VALUES
	('noop', 'running', 1, 1), ('noop', 'running', 2, 1), ('noop', 'running', 3, 1);
SELECT jobvisor.heartbeat(1, 'paused', interval '5 min');
SELECT id, state, stopped_at IS NULL AS no_stopped_at, heartbeat_at > now() - interval '1 min' AS beat_recent, rescue_after
FROM jobvisor.processors ORDER BY id;
-- Processor 2 declared 30 min, so only 3's job (no horizon declared: the
-- caller's 5 min) was rescued; the caller's own job stays.
SELECT id, status, attempts, locked_by FROM jobvisor.jobs ORDER BY id;
SELECT jobvisor.heartbeat(1, 'running', interval '5 min');
