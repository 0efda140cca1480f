-- 013_rescue_horizon.sql -- each processor's jobs are rescued no sooner than
-- its own horizon, whoever asks.
--
-- A processor fences itself (stops its running jobs) when its heartbeat has
-- gone unconfirmed for its rescue horizon (processor.stuck_job_timeout_minutes)
-- minus a margin: guarantee 1 across a partition rests on nobody rescuing its
-- jobs before that. But rescue_stuck() took the horizon of whoever called it:
-- a processor configured with a shorter horizon, or POST
-- /api/cron/reset-stuck-jobs with a shorter timeoutMinutes, could take a
-- partitioned processor's jobs while they still ran there. So each processor
-- declares its horizon (at registration and with every heartbeat) in
-- rescue_after, and a rescue waits for the longer of the caller's horizon and
-- the silent processor's own. Rows of older versions declare none (NULL): the
-- caller's horizon applies, as before.

ALTER TABLE jobvisor.processors ADD COLUMN rescue_after interval;
COMMENT ON COLUMN jobvisor.processors.rescue_after
	IS 'the rescue horizon this processor fences itself by: its running jobs are never rescued before its heartbeat is this old';

CREATE OR REPLACE FUNCTION jobvisor.heartbeat(p_processor bigint, p_state text, p_stuck interval)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	v_rescued integer := 0;
BEGIN
	UPDATE jobvisor.processors
	SET heartbeat_at = now(), state = p_state, stopped_at = NULL, rescue_after = p_stuck
	WHERE id = p_processor;
	BEGIN
		PERFORM set_config('lock_timeout', '1s', true);
		SELECT count(*) INTO v_rescued FROM jobvisor.rescue_stuck(p_stuck);
	EXCEPTION WHEN lock_not_available THEN
		v_rescued := 0;
	END;
	RETURN v_rescued;
END
$$;

-- rescue_stuck() of 002_engine.sql, with one change: a processor counts as
-- silent only once its heartbeat is older than the longer of p_timeout and
-- its own rescue_after.
CREATE OR REPLACE FUNCTION jobvisor.rescue_stuck(p_timeout interval, p_now timestamptz DEFAULT NULL)
RETURNS TABLE (id bigint, attempt integer, status text, processor bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
	v_now timestamptz := coalesce(p_now, clock_timestamp());
BEGIN
	UPDATE jobvisor.processors p
	SET state = 'stopped', stopped_at = v_now
	WHERE p.state <> 'stopped'
	  AND p.heartbeat_at < v_now - greatest(p_timeout, coalesce(p.rescue_after, p_timeout));

	RETURN QUERY
	WITH dead AS (
		SELECT j.id, j.locked_by
		FROM jobvisor.jobs j
		LEFT JOIN jobvisor.processors p ON p.id = j.locked_by
		WHERE j.status = 'running'
		  AND (p.id IS NULL OR p.state = 'stopped'
		       OR p.heartbeat_at < v_now - greatest(p_timeout, coalesce(p.rescue_after, p_timeout)))
		FOR UPDATE OF j SKIP LOCKED
	),
	upd AS (
		UPDATE jobvisor.jobs j
		SET status = CASE WHEN j.attempts < j.max_attempts THEN 'pending' ELSE 'failed' END,
		    locked_by = NULL,
		    scheduled_at = v_now,
		    last_error = 'rescued: processor ' || d.locked_by || ' stopped heartbeating',
		    finished_at = CASE WHEN j.attempts < j.max_attempts THEN NULL ELSE v_now END,
		    updated_at = v_now
		FROM dead d
		WHERE j.id = d.id AND j.status = 'running'
		RETURNING j.id, j.attempts, j.status, d.locked_by, j.type, j.user_id, j.started_at
	),
	hist AS (
		INSERT INTO jobvisor.job_executions
			(job_id, attempt, processor, type, user_id, started_at, finished_at,
			 duration_ms, outcome, error)
		SELECT u.id, u.attempts, u.locked_by, u.type, u.user_id,
		       coalesce(u.started_at, v_now), v_now,
		       greatest(0, (extract(epoch FROM v_now - coalesce(u.started_at, v_now)) * 1000)::bigint),
		       'rescued', 'rescued: processor ' || u.locked_by || ' stopped heartbeating'
		FROM upd u
		RETURNING job_id
	)
	SELECT u.id, u.attempts, u.status, u.locked_by FROM upd u;
END
$$;
