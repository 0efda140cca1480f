-- release.sql -- jobvisor.release_unheld() after a lost connection: the
-- jobs running under the processor that it does not hold go back to
-- pending, the attempt not counted, with a history row saying so; with a
-- connection epoch only once per epoch, and claims of older epochs are
-- refused. And jobvisor.control_poll(), the cancel/pause poll.
\set VERBOSITY terse
\set now '2100-01-01 12:00:00+00'
TRUNCATE jobvisor.jobs, jobvisor.job_executions, jobvisor.processors RESTART IDENTITY;
INSERT INTO jobvisor.processors (name, hostname, pid, version)
SELECT 'p' || g, 'host', 1, 'test' FROM generate_series(1, 2) g;
-- (release_unheld() takes no p_now: a released job is due at the clock,
-- at_clock, long before :'now')
CREATE TEMP VIEW jobs_v AS
SELECT id, status, attempts AS att, locked_by AS lk,
       abs(extract(epoch FROM scheduled_at - clock_timestamp())) < 3600 AS at_clock
FROM jobvisor.jobs ORDER BY id;
INSERT INTO jobvisor.jobs (type, scheduled_at)
SELECT 'noop', :'now'::timestamptz - interval '1 min' FROM generate_series(1, 5);
SELECT count(*) FROM jobvisor.claim(1, 3, 0, '{noop}', :'now') WHERE id IS NOT NULL;
SELECT count(*) FROM jobvisor.claim(2, 2, 0, '{noop}', :'now') WHERE id IS NOT NULL;
-- Processor 1 runs 1, 2, 3 but knows only of 1: 2 and 3 are released.
-- Processor 2's jobs are not touched.
SELECT * FROM jobvisor.release_unheld(1, '{1}') ORDER BY id;
SELECT * FROM jobs_v;
SELECT job_id, attempt, processor, outcome, duration_ms, error
FROM jobvisor.job_executions ORDER BY job_id;
-- Nothing held (NULL or empty): all of its running jobs.
SELECT * FROM jobvisor.release_unheld(1, NULL) ORDER BY id;
SELECT * FROM jobvisor.release_unheld(2, '{}') ORDER BY id;
SELECT * FROM jobs_v;
-- The attempt given back: claimed again, it is attempt 1 again.
SELECT id, attempts FROM jobvisor.claim(1, 2, 0, '{noop}', :'now') WHERE id IS NOT NULL ORDER BY id;

-- Epochs: release_unheld(.., epoch) runs once per newer epoch and moves
-- claim_epoch to it; an older or equal epoch releases nothing.
SELECT id, claim_epoch FROM jobvisor.processors ORDER BY id;
SELECT * FROM jobvisor.release_unheld(1, '{}', 1) ORDER BY id;
SELECT id, claim_epoch FROM jobvisor.processors ORDER BY id;
SELECT count(*) FROM jobvisor.claim(1, 2, 0, '{noop}', :'now', 1) WHERE id IS NOT NULL;
SELECT count(*) FROM jobvisor.release_unheld(1, '{}', 1);
SELECT count(*) FROM jobvisor.release_unheld(1, '{}', 0);
SELECT id, status, att, lk FROM jobs_v WHERE status = 'running';
-- A claim sent on the connection of epoch 1 after the release of epoch 2
-- claims nothing; one of epoch 2 does.
SELECT * FROM jobvisor.release_unheld(1, '{}', 2) ORDER BY id;
SELECT count(*) FROM jobvisor.claim(1, 5, 0, '{noop}', :'now', 1);
SELECT count(*) FROM jobvisor.claim(1, 5, 0, '{noop}', :'now', 2) WHERE id IS NOT NULL;
SELECT id, claim_epoch FROM jobvisor.processors ORDER BY id;
-- History: every release wrote one row per job, attempts never counted.
SELECT job_id, count(*), max(attempt) FROM jobvisor.job_executions GROUP BY 1 ORDER BY 1;
SELECT id, status, att FROM jobs_v;

-- control_poll(processor, running ids): one row per job no longer running
-- under it (its status, NULL when gone), then the trailer with the
-- processor's control_seq and control_pause.
TRUNCATE jobvisor.jobs, jobvisor.job_executions RESTART IDENTITY;
INSERT INTO jobvisor.jobs (type, scheduled_at)
SELECT 'noop', :'now'::timestamptz - interval '1 min' FROM generate_series(1, 4);
SELECT count(*) FROM jobvisor.claim(1, 3, 0, '{noop}', :'now') WHERE id IS NOT NULL;
SELECT count(*) FROM jobvisor.claim(2, 1, 0, '{noop}', :'now') WHERE id IS NOT NULL;
UPDATE jobvisor.jobs SET status = 'cancelled', locked_by = NULL, finished_at = :'now' WHERE id = 2;
UPDATE jobvisor.processors SET control_seq = 3, control_pause = true WHERE id = 1;
-- 1 runs on; 2 was cancelled; 4 is processor 2's; 9 does not exist.
SELECT * FROM jobvisor.control_poll(1, '{1,2,4,9}') ORDER BY job_id NULLS LAST;
SELECT * FROM jobvisor.control_poll(2, NULL);
SELECT * FROM jobvisor.control_poll(42, '{1}');
