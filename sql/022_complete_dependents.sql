-- 022_complete_dependents.sql -- a completion resolves the dependents of
-- the jobs it finishes all at once, their locks taken in one id order.
--
-- Until now 017's trigger resolved them row by row as complete()'s update
-- of the batch ended: the dependents of the first finished job locked,
-- resolved, then those of the next. Two processors completing at once jobs
-- whose dependents overlap -- C waiting on A and E, F on D and B, one
-- processor finishing A and D, the other B and E -- could each lock one of
-- C and F and wait for the other: PostgreSQL broke the deadlock by failing
-- one completion, whose batch the processor sent again a second later.
-- Now complete() keeps the trigger quiet for its own update
-- (jobvisor.resolving, as the cascade does), then locks every waiting
-- dependent of the batch in id order and resolves them with one call of
-- resolve_dependents(); two such completions take those locks in the same
-- order, and one waits for the other. Jobs nothing depends on (every job
-- outside a workflow) pay nothing more than two set_config() calls a batch.
--
-- complete() of 014, with only that change and the same signature:
-- processors of the previous version call it unchanged.

CREATE OR REPLACE FUNCTION jobvisor.complete(p_processor bigint, p_done jsonb,
                                  p_retry_base_ms integer DEFAULT 1000,
                                  p_retry_max_ms integer DEFAULT 3600000,
                                  p_now timestamptz DEFAULT NULL)
RETURNS TABLE (id bigint, attempt integer, applied boolean, status text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
	v_now timestamptz := coalesce(p_now, clock_timestamp());
	v_ids bigint[];
	v_attempts integer[];
	v_status text[];
	v_deps bigint[];
	r record;
BEGIN
	-- (the dependents of the jobs finished here are resolved below, all at
	-- once, not row by row by 017's trigger)
	PERFORM set_config('jobvisor.resolving', 'on', true);
	-- The applied ones: job update and history row in one statement. The
	-- fence is in the UPDATE's own WHERE, so it is re-checked on the newest
	-- row version should a rescue or cancel commit meanwhile; only rows the
	-- UPDATE really changed get their history row.
	WITH input AS (
		SELECT * FROM jsonb_to_recordset(p_done) AS t(
			id bigint, attempt integer, outcome text, retryable boolean,
			retry_ms bigint, duration_ms bigint, error text, output text, result jsonb)
	),
	upd AS (
		UPDATE jobvisor.jobs j
		SET status = jobvisor.next_status(i.outcome, i.retryable, j.attempts, j.max_attempts),
		    attempts = CASE WHEN i.outcome = 'released' THEN j.attempts - 1 ELSE j.attempts END,
		    locked_by = NULL,
		    scheduled_at = CASE
		      WHEN i.outcome = 'released' THEN v_now
		      WHEN jobvisor.next_status(i.outcome, i.retryable, j.attempts, j.max_attempts) = 'pending'
		      THEN v_now + make_interval(secs =>
		        (CASE WHEN i.retry_ms >= 0 THEN i.retry_ms
		              ELSE jobvisor.backoff_ms(j.attempts, p_retry_base_ms, p_retry_max_ms)
		         END) / 1000.0)
		      ELSE j.scheduled_at END,
		    last_error = CASE WHEN i.outcome IN ('succeeded', 'released') THEN j.last_error
		                      ELSE i.error END,
		    result = coalesce(i.result, j.result),
		    finished_at = CASE WHEN jobvisor.next_status(i.outcome, i.retryable, j.attempts,
		                                                 j.max_attempts) = 'pending'
		                       THEN NULL ELSE v_now END,
		    updated_at = v_now
		FROM input i
		WHERE j.id = ANY (ARRAY(SELECT i2.id FROM input i2))
		  AND j.id = i.id AND j.attempts = i.attempt
		  -- (the fence, written so that it is a filter on the rows found by
		  -- id and not a condition jobs_running_locked_by_idx could
		  -- answer: the planner, which thinks few jobs run, would walk
		  -- them all)
		  AND j.locked_by + 0 = p_processor AND j.status || '' = 'running'
		RETURNING j.id, i.attempt, i.outcome, i.duration_ms, i.error, i.output, i.result,
		          j.type, j.user_id, j.started_at, j.status AS new_status, j.has_dependents
	),
	hist AS (
		INSERT INTO jobvisor.job_executions
			(job_id, attempt, processor, type, user_id, started_at, finished_at,
			 duration_ms, outcome, error, output, result)
		SELECT u.id, u.attempt, p_processor, u.type, u.user_id, coalesce(u.started_at, v_now),
		       v_now, greatest(coalesce(u.duration_ms, 0), 0),
		       jobvisor.outcome_of(u.outcome),
		       CASE WHEN u.outcome = 'released'
		            THEN 'released at shutdown (attempt not counted)' ELSE u.error END,
		       u.output, u.result
		FROM upd u
		RETURNING job_id
	)
	SELECT array_agg(u.id), array_agg(u.attempt), array_agg(u.new_status),
	       array_agg(u.id ORDER BY u.id) FILTER (WHERE u.has_dependents
	                                        AND u.new_status IN ('succeeded', 'failed', 'cancelled'))
	INTO v_ids, v_attempts, v_status, v_deps
	FROM upd u;
	PERFORM set_config('jobvisor.resolving', 'off', true);

	-- Their dependents: every waiting one of the whole batch locked first,
	-- in id order, then resolved. Two completions whose dependents overlap
	-- (a job waiting on one of each) lock them in the same order, so one
	-- waits for the other; resolved row by row, each locking the dependents
	-- of one finished job at a time, they could each hold one the other
	-- needed next: a deadlock, and a batch recorded a second later.
	IF v_deps IS NOT NULL THEN
		PERFORM 1 FROM jobvisor.jobs j
		WHERE j.id = ANY (ARRAY(SELECT d.job_id FROM jobvisor.job_dependencies d
		                        WHERE d.depends_on = ANY (v_deps) AND NOT d.resolved))
		  AND j.status = 'waiting'
		ORDER BY j.id
		FOR NO KEY UPDATE;
		PERFORM set_config('jobvisor.resolving', 'on', true);
		PERFORM jobvisor.resolve_dependents(v_deps);
		PERFORM set_config('jobvisor.resolving', 'off', true);
	END IF;

	RETURN QUERY
	SELECT u.id, u.attempt, true, u.status
	FROM unnest(v_ids, v_attempts, v_status) AS u(id, attempt, status);

	-- The late ones (rare): the job moved on. Leave it alone; mark the
	-- attempt's history row stale, or write one if it has none. One row at a
	-- time, by index, so the cost never grows with the history.
	IF coalesce(array_length(v_ids, 1), 0) = jsonb_array_length(p_done) THEN
		RETURN; -- all applied: nothing late (the common case, kept O(n))
	END IF;
	FOR r IN
		SELECT * FROM jsonb_to_recordset(p_done) AS t(
			id bigint, attempt integer, outcome text, duration_ms bigint, error text,
			output text, result jsonb)
		WHERE v_ids IS NULL OR NOT (t.id = ANY (v_ids))
	LOOP
		-- A replay of a completion that did commit, sent again because the
		-- connection broke before its answer came back: already recorded
		-- by this processor, with this outcome and error. Report it as
		-- applied. (The error tells it from the row a rescue wrote for the
		-- same attempt, which names the processor too and, for a released
		-- or fenced result, has the same outcome.)
		IF EXISTS (SELECT 1 FROM jobvisor.job_executions e
		           WHERE e.job_id = r.id AND e.attempt = r.attempt
		             AND e.processor = p_processor AND NOT e.stale
		             AND e.outcome = jobvisor.outcome_of(r.outcome)
		             AND e.error IS NOT DISTINCT FROM
		                 CASE WHEN r.outcome = 'released'
		                      THEN 'released at shutdown (attempt not counted)'
		                      ELSE r.error END) THEN
			id := r.id;
			attempt := r.attempt;
			applied := true;
			SELECT j.status INTO status FROM jobvisor.jobs j WHERE j.id = r.id;
			RETURN NEXT;
			CONTINUE;
		END IF;
		UPDATE jobvisor.job_executions e
		SET stale = true,
		    error = concat_ws(E'\n', e.error,
		                      'late result, not applied: ' || r.outcome
		                      || coalesce(': ' || r.error, '')),
		    output = coalesce(e.output, r.output),
		    result = coalesce(e.result, r.result)
		WHERE e.id = (SELECT max(e2.id) FROM jobvisor.job_executions e2
		              WHERE e2.job_id = r.id AND e2.attempt = r.attempt);
		IF NOT FOUND THEN
			INSERT INTO jobvisor.job_executions
				(job_id, attempt, processor, type, user_id, started_at, finished_at,
				 duration_ms, outcome, stale, error, output, result)
			SELECT r.id, r.attempt, p_processor, coalesce(j.type, '?'), j.user_id,
			       v_now - make_interval(secs => greatest(coalesce(r.duration_ms, 0), 0) / 1000.0),
			       v_now, greatest(coalesce(r.duration_ms, 0), 0),
			       jobvisor.outcome_of(r.outcome), true,
			       'late result, not applied: the job had moved on'
			       || coalesce(E'\n' || r.error, ''),
			       r.output, r.result
			FROM (SELECT 1) one
			LEFT JOIN jobvisor.jobs j ON j.id = r.id;
		END IF;
		id := r.id;
		attempt := r.attempt;
		applied := false;
		status := NULL;
		RETURN NEXT;
	END LOOP;
END
$$;
