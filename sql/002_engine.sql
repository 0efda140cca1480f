-- 002_engine.sql -- what `jobvisor serve` runs: claim, complete, rescue.
--
-- Each is one function, so the engine needs one round trip per batch and the
-- same operation is what the API, the dashboard and tests call. Every time
-- comparison uses the database clock (clock_timestamp(), so that history
-- intervals of different transactions compare truthfully); each function takes an optional
-- p_now so tests can place rows just inside or outside a horizon instead of
-- sleeping.

-- Exponential backoff with "equal jitter": half the delay fixed, half random,
-- so retries of a burst of failures spread out instead of stampeding.
CREATE FUNCTION jobvisor.backoff_ms(p_attempt integer, p_base_ms integer, p_max_ms integer)
RETURNS bigint
LANGUAGE sql VOLATILE AS $$
	SELECT (d / 2 + random() * d / 2)::bigint
	FROM (SELECT least(p_max_ms::float8,
	                   p_base_ms::float8 * power(2, least(greatest(p_attempt, 1) - 1, 40))) AS d) s
$$;

-- The claim.
--
-- Why an advisory lock and not FOR UPDATE SKIP LOCKED alone: SKIP LOCKED
-- keeps two processors from taking the same row, but not from each counting
-- a user's running jobs before the other's claim commits, and so both
-- starting that user's third job. per_user_limit is global (guarantee 2), so
-- claims are serialised by one transaction-scoped advisory lock. The critical
-- section is this one statement over at most batch_size rows (a few ms), so
-- with N processors each claiming a batch per round trip the lock is far
-- from the bottleneck; it is released at commit, and because each statement
-- of a plpgsql function takes a fresh snapshot, the claim below sees every
-- claim committed before the lock was granted. Rows are still taken with
-- SKIP LOCKED so a row held by someone else (a cancel in progress) is simply
-- passed over.
--
-- Fairness: jobs with a user are taken per user -- a loose index scan over
-- jobs_claim_user_idx lists the users with pending jobs (one index probe per
-- user, however many jobs each has), and each user offers at most its
-- allowance (per_user_limit minus its running jobs, capped at the batch).
-- Candidates are then ordered by priority, then by their rank within their
-- user, so one round takes every user's first job before anyone's second: a
-- user with 100 000 pending jobs delays another user's one job by at most
-- one round. Jobs without a user are limited only by the slots and compete
-- as one more "user". At most 1 000 users are looked at per round.
--
-- Only jobs of p_types (the types this processor has executors for) are
-- taken: processors with different executors can share one database.
--
-- When fewer than p_slots jobs were claimed, one more row follows with a NULL
-- id and next_due_ms: milliseconds until the next pending job of p_types is
-- due (0: one is due but held back by per_user_limit; NULL: none pending),
-- so the processor knows when to look again without another round trip.
CREATE FUNCTION jobvisor.claim(p_processor bigint, p_slots integer, p_per_user integer,
                               p_types text[], p_now timestamptz DEFAULT NULL)
RETURNS TABLE (id bigint, type text, user_id text, payload jsonb, attempts integer,
               max_attempts integer, timeout_seconds integer, next_due_ms bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
	v_now timestamptz;
	v_claimed bigint;
BEGIN
	IF p_slots IS NULL OR p_slots <= 0 THEN
		RETURN;
	END IF;
	PERFORM pg_advisory_xact_lock(8231457790154011);
	-- The wall clock after the lock, not the transaction's start: a claim
	-- that waited for the lock must not date its jobs before the
	-- completions it waited for. started_at below reads the clock again
	-- while the claim statement runs, after its snapshot, so it is later
	-- than the finish of every completion the claim saw: the history's
	-- intervals are the database's own truth about what ran when.
	v_now := coalesce(p_now, clock_timestamp());
	RETURN QUERY
	WITH RECURSIVE users(uid) AS (
		(SELECT j.user_id FROM jobvisor.jobs j
		 WHERE j.status = 'pending' AND j.user_id IS NOT NULL
		 ORDER BY j.user_id LIMIT 1)
		UNION ALL
		SELECT (SELECT j.user_id FROM jobvisor.jobs j
		        WHERE j.status = 'pending' AND j.user_id IS NOT NULL AND j.user_id > u.uid
		        ORDER BY j.user_id LIMIT 1)
		FROM users u
		WHERE u.uid IS NOT NULL
	),
	allowance AS (
		SELECT u.uid,
		       CASE WHEN p_per_user > 0
		            THEN p_per_user - (SELECT count(*)::integer FROM jobvisor.jobs r
		                               WHERE r.status = 'running' AND r.user_id = u.uid)
		            ELSE p_slots END AS n
		FROM (SELECT uid FROM users WHERE uid IS NOT NULL LIMIT 1000) u
	),
	cand AS (
		SELECT c.id, c.priority, c.scheduled_at, c.rk
		FROM allowance a
		CROSS JOIN LATERAL (
			SELECT j.id, j.priority, j.scheduled_at,
			       row_number() OVER (ORDER BY j.priority DESC, j.scheduled_at, j.id) AS rk
			FROM jobvisor.jobs j
			WHERE j.status = 'pending' AND j.user_id = a.uid AND j.scheduled_at <= v_now
			  AND j.type = ANY (p_types)
			ORDER BY j.priority DESC, j.scheduled_at, j.id
			LIMIT least(a.n, p_slots)
		) c
		WHERE a.n > 0
		UNION ALL
		(SELECT j.id, j.priority, j.scheduled_at,
		        row_number() OVER (ORDER BY j.priority DESC, j.scheduled_at, j.id) AS rk
		 FROM jobvisor.jobs j
		 WHERE j.status = 'pending' AND j.user_id IS NULL AND j.scheduled_at <= v_now
		   AND j.type = ANY (p_types)
		 ORDER BY j.priority DESC, j.scheduled_at, j.id
		 LIMIT p_slots)
	),
	pick AS (
		SELECT c.id FROM cand c
		ORDER BY c.priority DESC, c.rk, c.scheduled_at, c.id
		LIMIT p_slots
	),
	-- (= ANY (ARRAY(...)), not IN or a join: the planner then fetches the
	-- picked rows by primary key instead of hashing the whole table)
	locked AS (
		SELECT j.id FROM jobvisor.jobs j
		WHERE j.id = ANY (ARRAY(SELECT pick.id FROM pick)) AND j.status = 'pending'
		FOR UPDATE OF j SKIP LOCKED
	)
	UPDATE jobvisor.jobs j
	SET status = 'running', locked_by = p_processor, attempts = j.attempts + 1,
	    started_at = coalesce(p_now, clock_timestamp()), updated_at = v_now
	WHERE j.id = ANY (ARRAY(SELECT l.id FROM locked l))
	RETURNING j.id, j.type, j.user_id, j.payload, j.attempts, j.max_attempts, j.timeout_seconds,
	          NULL::bigint;
	GET DIAGNOSTICS v_claimed = ROW_COUNT;
	IF v_claimed < p_slots THEN
		RETURN QUERY
		SELECT NULL::bigint, NULL::text, NULL::text, NULL::jsonb, NULL::integer,
		       NULL::integer, NULL::integer,
		       -- (greatest() skips NULLs: keep "none pending" NULL)
		       CASE WHEN min(j.scheduled_at) IS NOT NULL
		            THEN greatest(0, ceil(extract(epoch FROM min(j.scheduled_at) - v_now)
		                                  * 1000))::bigint END
		FROM jobvisor.jobs j
		WHERE j.status = 'pending' AND j.type = ANY (p_types);
	END IF;
END
$$;

-- The history outcome of an engine outcome ('released' is history's 'rescued').
CREATE FUNCTION jobvisor.outcome_of(p_outcome text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE p_outcome WHEN 'released' THEN 'rescued'
	                      WHEN 'succeeded' THEN 'succeeded'
	                      WHEN 'timed_out' THEN 'timed_out'
	                      WHEN 'crashed' THEN 'crashed'
	                      WHEN 'cancelled' THEN 'cancelled'
	                      ELSE 'failed' END
$$;

-- What a job becomes after an attempt ended with p_outcome.
CREATE FUNCTION jobvisor.next_status(p_outcome text, p_retryable boolean, p_attempts integer,
                                     p_max_attempts integer) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE
	         WHEN p_outcome = 'succeeded' THEN 'succeeded'
	         WHEN p_outcome = 'released' THEN 'pending'
	         WHEN p_outcome = 'cancelled' THEN 'cancelled'
	         WHEN coalesce(p_retryable, false) AND p_attempts < p_max_attempts THEN 'pending'
	         ELSE 'failed'
	       END
$$;

-- Completion of a batch of attempts, in one transaction: each updates its job
-- and writes its one job_executions row.
--
-- p_done is a JSON array of objects {id, attempt, outcome, retryable,
-- retry_ms, duration_ms, error, output, result} where outcome is one of
-- succeeded | failed | timed_out | crashed | cancelled | released
-- ('released': stopped at shutdown, back to pending with the attempt not
-- counted; its history row says so, with outcome 'rescued').
--
-- Fencing (guarantee 3): a result applies only while the job is still
-- running as that attempt on that processor. Otherwise (rescued or
-- cancelled meanwhile) the job is left alone and the attempt's existing
-- history row is marked stale, with the late outcome added to its error.
--
-- Returns one row per input: the job, the attempt, whether it applied, and
-- the job's status after it (NULL when it did not apply).
CREATE FUNCTION jobvisor.complete(p_processor bigint, p_done jsonb,
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
	r record;
BEGIN
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
		WHERE j.id = i.id AND j.attempts = i.attempt AND j.locked_by = p_processor
		  AND j.status = 'running'
		RETURNING j.id, i.attempt, i.outcome, i.duration_ms, i.error, i.output, i.result,
		          j.type, j.user_id, j.started_at, j.status AS new_status
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
	SELECT array_agg(u.id), array_agg(u.attempt), array_agg(u.new_status)
	INTO v_ids, v_attempts, v_status
	FROM upd u;

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
		-- by this processor, with this outcome. Report it as applied.
		IF EXISTS (SELECT 1 FROM jobvisor.job_executions e
		           WHERE e.job_id = r.id AND e.attempt = r.attempt
		             AND e.processor = p_processor AND NOT e.stale
		             AND e.outcome = jobvisor.outcome_of(r.outcome)) THEN
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

-- Stuck-job rescue: running jobs whose processor stopped heartbeating more
-- than p_timeout ago (or is gone, or says it stopped) go back to pending, or
-- to failed when their attempts are spent; each rescued attempt gets its
-- history row, outcome 'rescued'. Processors found dead are marked stopped.
-- Safe to run from any number of processors at once: rows are taken with
-- SKIP LOCKED and re-checked, so two rescuers never rescue one job twice.
-- Returns the jobs rescued.
CREATE FUNCTION jobvisor.rescue_stuck(p_timeout interval, p_now timestamptz DEFAULT NULL)
RETURNS TABLE (id bigint, attempt integer, status text, processor bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
	v_now timestamptz := coalesce(p_now, clock_timestamp());
BEGIN
	UPDATE jobvisor.processors p
	SET state = 'stopped', stopped_at = v_now
	WHERE p.state <> 'stopped' AND p.heartbeat_at < v_now - p_timeout;

	RETURN QUERY
	WITH dead AS (
		SELECT j.id, j.locked_by
		FROM jobvisor.jobs j
		LEFT JOIN jobvisor.processors p ON p.id = j.locked_by
		WHERE j.status = 'running'
		  AND (p.id IS NULL OR p.state = 'stopped' OR p.heartbeat_at < v_now - p_timeout)
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

-- A processor's heartbeat, and the rescue every live processor runs with
-- it: one round trip. A processor found dead while it was cut off comes
-- back to 'running' here; its jobs were rescued meanwhile and fencing keeps
-- its late results out. Returns the number of jobs rescued.
CREATE FUNCTION jobvisor.heartbeat(p_processor bigint, p_state text, p_stuck interval)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	v_rescued integer;
BEGIN
	UPDATE jobvisor.processors
	SET heartbeat_at = now(), state = p_state, stopped_at = NULL
	WHERE id = p_processor;
	SELECT count(*) INTO v_rescued FROM jobvisor.rescue_stuck(p_stuck);
	RETURN v_rescued;
END
$$;

-- After a lost connection: the answer of a claim that did commit may never
-- have arrived, leaving jobs running under this processor that it does not
-- know it holds -- nobody would ever rescue them, as the processor is alive.
-- The processor passes the ids it does hold; every other job it has running
-- goes back to pending, the attempt not counted, with a history row saying so.
-- Returns the jobs released.
CREATE FUNCTION jobvisor.release_unheld(p_processor bigint, p_held bigint[])
RETURNS TABLE (id bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
	v_now timestamptz := clock_timestamp();
BEGIN
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
		       v_now, 0, 'rescued',
		       'released: the claim''s answer was lost with the connection (attempt not counted)'
		FROM orphan o
		RETURNING job_id
	)
	SELECT o.id FROM orphan o;
END
$$;

COMMENT ON FUNCTION jobvisor.claim(bigint, integer, integer, text[], timestamptz)
	IS 'claim up to p_slots due jobs for a processor, fair across users, within per_user_limit';
COMMENT ON FUNCTION jobvisor.complete(bigint, jsonb, integer, integer, timestamptz)
	IS 'record a batch of finished attempts (fenced by attempt and processor)';
COMMENT ON FUNCTION jobvisor.rescue_stuck(interval, timestamptz)
	IS 'rescue running jobs of processors whose heartbeat is older than p_timeout';
