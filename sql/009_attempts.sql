-- 009_attempts.sql -- a job never runs past its max_attempts, however it was
-- written.
--
-- claim() takes any due pending job and counts the attempt, so a row made
-- pending with attempts >= max_attempts (a plain INSERT that copies a job
-- with its counts, an UPDATE lowering max_attempts) ran anyway, past its
-- limit. No engine path makes such a row: completion and rescue set pending
-- only while attempts < max_attempts, a release gives the attempt back
-- (attempts - 1 of a running job), and a retry from the API sets
-- max_attempts = attempts + N. So the rule is a constraint, which holds for
-- every writer and costs nothing on the claim: a pending job has an attempt
-- left, and a running one is within its limit (so that giving its attempt
-- back leaves it pending with one left). The INSERT or UPDATE that would
-- break it fails with SQLSTATE 23514 naming jobs_within_max_attempts_check,
-- at the writer's own statement, instead of a job running that should not.
-- (PostgreSQL checks constraints in name order: this one comes after
-- jobs_max_attempts_check, so max_attempts 0 is still reported as that.)
--
-- Rows that break it already: a pending one fails now, without running
-- (last_error says why; there was no attempt, so no job_executions row); a
-- running one goes on, that attempt now its last (max_attempts = attempts).

UPDATE jobvisor.jobs
SET status = 'failed', finished_at = now(), updated_at = now(),
    last_error = format('not run: it was pending with attempts (%s) not below max_attempts'
                        ' (%s) when migration 009_attempts made that an error',
                        attempts, max_attempts)
WHERE status = 'pending' AND attempts >= max_attempts;

UPDATE jobvisor.jobs
SET max_attempts = attempts, updated_at = now()
WHERE status = 'running' AND attempts > max_attempts;

ALTER TABLE jobvisor.jobs ADD CONSTRAINT jobs_within_max_attempts_check
	CHECK (CASE status WHEN 'pending' THEN attempts < max_attempts
	                   WHEN 'running' THEN attempts <= max_attempts
	                   ELSE true END);

COMMENT ON CONSTRAINT jobs_within_max_attempts_check ON jobvisor.jobs
	IS 'a pending job has an attempt left (attempts < max_attempts); a running one is within max_attempts';
