-- 021_retry_dependencies.sql -- a failed or cancelled job run again
-- (POST /api/jobs/{id}/retry, POST /api/jobs/retry) is counted from its own
-- dependencies, as a dependency's retry counts its dependents
-- (resolve_dependents() of 017).
--
-- Until now a retry made the job pending whatever its dependencies: a job
-- cancelled because a dependency failed ran at once though that dependency
-- was still failed, and a waiting job cancelled through the API and retried
-- while its dependencies still ran started before them. Now, for each job
-- retried:
--   - a dependency it needs to succeed (run_when 'success') that failed or
--     was cancelled refuses the retry: the job is left as it is, and the
--     answer names that dependency (retry that one first: its dependents
--     are counted again then, this one with them);
--   - otherwise the job waits (status 'waiting') while any dependency is
--     live, and is pending when none is; its edges say which it still
--     waits for, as resolution leaves them.
-- A job without dependencies is pending again, as before.
--
-- Only a function is added: processors of the previous version never
-- retry, and go on as they were.

-- Retry the failed or cancelled jobs among p_ids with p_more attempts more.
-- One row for each of them: its status after (pending or waiting), its
-- max_attempts, and refused NULL; or, for one left as it is, its status,
-- and refused saying which dependency failed. Ids of jobs not failed or
-- cancelled (or of none) get no row.
CREATE FUNCTION jobvisor.retry_jobs(p_ids bigint[], p_more integer)
RETURNS TABLE (id bigint, status text, max_attempts integer, refused text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
	v_ids bigint[];
BEGIN
	IF p_more IS NULL OR p_more < 1 THEN
		RAISE EXCEPTION 'jobvisor.retry_jobs: p_more must be at least 1, not %', p_more
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- The jobs, locked in id order; then their dependencies FOR SHARE, in
	-- id order, so that the statuses read are committed ones that stay
	-- (a dependency finishing meanwhile waits for this transaction, and
	-- then resolves the edge as this leaves it).
	SELECT array_agg(l.id) INTO v_ids FROM (
		SELECT j.id FROM jobvisor.jobs j
		WHERE j.id = ANY (p_ids) AND j.status IN ('failed', 'cancelled')
		ORDER BY j.id
		FOR NO KEY UPDATE) l;
	IF v_ids IS NULL THEN
		RETURN;
	END IF;
	PERFORM 1 FROM jobvisor.jobs k
	WHERE k.id = ANY (ARRAY(SELECT d.depends_on FROM jobvisor.job_dependencies d
	                        WHERE d.job_id = ANY (v_ids)))
	ORDER BY k.id
	FOR SHARE;
	RETURN QUERY
	WITH e AS (
		-- (a dependency that retention has removed counts as finished,
		-- as in resolution)
		SELECT d.job_id, d.depends_on AS dep, d.resolved, k.status AS st
		FROM jobvisor.job_dependencies d
		LEFT JOIN jobvisor.jobs k ON k.id = d.depends_on
		WHERE d.job_id = ANY (v_ids)
	),
	c AS (
		SELECT j.id, j.run_when,
		       count(e.dep) FILTER (WHERE e.st IN ('pending', 'waiting', 'running'))::integer
		           AS live,
		       min(e.dep) FILTER (WHERE e.st IN ('failed', 'cancelled')) AS bad
		FROM jobvisor.jobs j
		LEFT JOIN e ON e.job_id = j.id
		WHERE j.id = ANY (v_ids)
		GROUP BY j.id, j.run_when
	),
	ok AS (
		SELECT c.id, c.live FROM c WHERE c.bad IS NULL OR c.run_when = 'always'
	),
	edges AS (
		UPDATE jobvisor.job_dependencies d
		SET resolved = NOT d.resolved
		FROM e
		WHERE d.job_id = e.job_id AND d.depends_on = e.dep
		  AND d.job_id IN (SELECT ok.id FROM ok)
		  AND e.resolved <> coalesce(e.st IN ('succeeded', 'failed', 'cancelled'), true)
	),
	upd AS (
		UPDATE jobvisor.jobs j
		SET status = CASE WHEN ok.live > 0 THEN 'waiting' ELSE 'pending' END,
		    waiting_on = ok.live, blocked_by = NULL,
		    scheduled_at = now(), finished_at = NULL, locked_by = NULL, updated_at = now(),
		    max_attempts = j.attempts + p_more
		FROM ok
		WHERE j.id = ok.id
		RETURNING j.id, j.status, j.max_attempts
	)
	SELECT u.id, u.status, u.max_attempts, NULL::text FROM upd u
	UNION ALL
	SELECT c.id, j.status, j.max_attempts,
	       jobvisor.dependency_error(k.id, k.workflow_key, k.status)
	FROM c
	JOIN jobvisor.jobs j ON j.id = c.id
	JOIN jobvisor.jobs k ON k.id = c.bad
	WHERE c.bad IS NOT NULL AND c.run_when = 'success';
END
$$;

COMMENT ON FUNCTION jobvisor.retry_jobs(bigint[], integer)
	IS 'failed or cancelled jobs run again, counted from their dependencies: waiting, pending, or refused naming a failed one';
