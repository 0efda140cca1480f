-- 020_released_outcome.sql -- history outcome 'released': an attempt given
-- back without being counted (at shutdown, or because the claim's answer was
-- lost with the connection) is no longer written as 'rescued'.
--
-- Until now job_executions said 'rescued' for three things: a rescue by
-- another processor (rescue_stuck(): "rescued: processor N stopped
-- heartbeating"), a self-fenced attempt (engine outcome 'fenced', counted as
-- the rescue it pre-empts), and a release (engine outcome 'released' through
-- complete(): "released at shutdown (attempt not counted)"; release_unheld():
-- "released: the claim's answer was lost with the connection (attempt not
-- counted)"). /api/cron/insights counted releases as attempts "rescued from
-- silent processors", and /api/cron/metrics counted them as rescued attempts,
-- though the job's attempt counter had given them back. Now a release has its
-- own outcome, 'released'; rescued means rescued.
--
-- Rows written before this migration are left as they are (rewriting the
-- history would scan it under the lock the constraint swap takes): their
-- error text still tells them apart, and the analytics read a 'rescued' row
-- whose error begins with 'released' as a release (core/api/analytics.c).
--
-- Applied to a populated database while processors run. Before the line
-- `-- @transaction` (run by `jobvisor migrate` statement by statement, outside
-- a transaction, again harmlessly on a retry): the new outcome constraint
-- added NOT VALID under a temporary name (a catalog change under a lock
-- bounded to 500 ms), then validated, which scans the history without
-- blocking the processors' inserts. In the transaction the old constraint is
-- dropped and the new one renamed (catalog changes only), and the two
-- functions that write releases are replaced, same signatures: processors of
-- older versions call them unchanged and from then on write 'released' too.
--
-- (In the block below, a statement's `;` begins the next line: the part
-- outside the transaction is split into statements at lines that end with
-- `;`.)
DO $$
BEGIN
	PERFORM set_config('lock_timeout', '500ms', true)
	; BEGIN
		ALTER TABLE jobvisor.job_executions
			ADD CONSTRAINT job_executions_outcome_check_020
			CHECK (outcome IN ('succeeded', 'failed', 'timed_out', 'crashed', 'rescued',
			                   'cancelled', 'released')) NOT VALID
	; EXCEPTION WHEN duplicate_object THEN
		NULL -- (added by a run before this one, or by a concurrent one)
	; END
	; END
$$;
-- Validated (a scan under SHARE UPDATE EXCLUSIVE: completions go on). A
-- concurrent migrate may have finished the migration meanwhile (renaming the
-- constraint): then there is nothing left to validate.
DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_constraint c
	           WHERE c.conrelid = 'jobvisor.job_executions'::regclass
	             AND c.conname = 'job_executions_outcome_check_020' AND NOT c.convalidated) THEN
		BEGIN
			ALTER TABLE jobvisor.job_executions
				VALIDATE CONSTRAINT job_executions_outcome_check_020
		; EXCEPTION WHEN undefined_object THEN
			NULL
		; END
	; END IF
	; END
$$;

-- @transaction

ALTER TABLE jobvisor.job_executions DROP CONSTRAINT job_executions_outcome_check;
ALTER TABLE jobvisor.job_executions
	RENAME CONSTRAINT job_executions_outcome_check_020 TO job_executions_outcome_check;

-- The history outcome of an engine outcome: 'released' is now itself;
-- 'fenced' stays a rescue (010_engine_fence.sql says why).
CREATE OR REPLACE FUNCTION jobvisor.outcome_of(p_outcome text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE p_outcome WHEN 'released' THEN 'released'
	                      WHEN 'fenced' THEN 'rescued'
	                      WHEN 'succeeded' THEN 'succeeded'
	                      WHEN 'timed_out' THEN 'timed_out'
	                      WHEN 'crashed' THEN 'crashed'
	                      WHEN 'cancelled' THEN 'cancelled'
	                      ELSE 'failed' END
$$;

-- release_unheld() of 010_engine_fence.sql, with one change: its history
-- rows say 'released'.
CREATE OR REPLACE FUNCTION jobvisor.release_unheld(p_processor bigint, p_held bigint[],
                                                   p_epoch integer DEFAULT NULL)
RETURNS TABLE (id bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
	v_now timestamptz;
BEGIN
	IF p_epoch IS NOT NULL THEN
		PERFORM pg_advisory_xact_lock(8231457790154011);
		IF EXISTS (SELECT 1 FROM jobvisor.processors p
		           WHERE p.id = p_processor AND p.claim_epoch >= p_epoch) THEN
			RETURN; -- a newer (or this same) release already ran
		END IF;
	END IF;
	v_now := clock_timestamp();
	RETURN QUERY
	WITH orphan AS (
		UPDATE jobvisor.jobs j
		SET status = 'pending', locked_by = NULL, attempts = j.attempts - 1,
		    scheduled_at = v_now, updated_at = v_now
		WHERE j.status = 'running' AND j.locked_by = p_processor
		  AND NOT (j.id = ANY (coalesce(p_held, '{}')))
		RETURNING j.id, j.attempts + 1 AS attempt, j.type, j.user_id, j.started_at
	),
	hist AS (
		INSERT INTO jobvisor.job_executions
			(job_id, attempt, processor, type, user_id, started_at, finished_at,
			 duration_ms, outcome, error)
		SELECT o.id, o.attempt, p_processor, o.type, o.user_id, coalesce(o.started_at, v_now),
		       v_now, 0, 'released',
		       'released: the claim''s answer was lost with the connection (attempt not counted)'
		FROM orphan o
		RETURNING job_id
	)
	SELECT o.id FROM orphan o;
	-- Last, so the processor's row is locked (against its own heartbeat)
	-- only for the moment before commit.
	IF p_epoch IS NOT NULL THEN
		UPDATE jobvisor.processors SET claim_epoch = p_epoch WHERE processors.id = p_processor;
	END IF;
END
$$;

COMMENT ON COLUMN jobvisor.job_executions.outcome IS
	'succeeded, failed, timed_out, crashed, rescued (by another processor, or self-fenced), '
	'cancelled, released (given back uncounted: at shutdown, or a lost claim answer; '
	'before 020: rescued with an error beginning "released")';
