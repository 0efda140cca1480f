-- 010_engine_fence.sql -- the engine across failovers, partitions and
-- transaction poolers: heartbeats that a held lock cannot delay, the outcome
-- of an attempt stopped by self-fencing, claims fenced by connection epoch,
-- and cancel and pause requests a processor can poll for when NOTIFY cannot
-- reach it.

---------------------------------------------------------------- heartbeat
-- The heartbeat is what keeps other processors from rescuing this one's
-- jobs, and a processor stops its own jobs when its heartbeats go
-- unconfirmed for long (self-fencing, README "How serve works"). So the
-- liveness update must commit whatever the rescue that rides along waits
-- for: a lock on jobs held by someone else (LOCK TABLE, a long migration)
-- made the whole heartbeat wait, and the processor looked dead meanwhile.
-- The rescue now runs in a subtransaction with a short lock_timeout
-- (transaction-scoped: nothing stays on the session, so this is safe through
-- a transaction pooler); when it cannot have its locks, it is skipped and the
-- next heartbeat tries again. heartbeat_at is the transaction's start
-- (now()), which is after the processor sent the heartbeat: the processor
-- measures its fencing deadline from its send time, so the database's view
-- of its last sign of life is never earlier than its own.
CREATE OR REPLACE FUNCTION jobvisor.heartbeat(p_processor bigint, p_state text, p_stuck interval)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	v_rescued integer := 0;
BEGIN
	UPDATE jobvisor.processors
	SET heartbeat_at = now(), state = p_state, stopped_at = NULL
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

----------------------------------------------------------------- outcomes
-- 'fenced': the processor stopped the attempt itself because its heartbeat
-- had gone unconfirmed for the rescue horizon minus a margin, so that it was
-- dead before any other processor could rescue it. In history it is a
-- rescue ('rescued', with the error naming self-fencing), and it counts as
-- an attempt, as the rescue another processor would have made a moment
-- later counts: the outcome does not depend on which of the two wins the
-- race. The engine sends it retryable with no delay (back to pending at
-- once while attempts remain, else failed).
CREATE OR REPLACE FUNCTION jobvisor.outcome_of(p_outcome text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE p_outcome WHEN 'released' THEN 'rescued'
	                      WHEN 'fenced' THEN 'rescued'
	                      WHEN 'succeeded' THEN 'succeeded'
	                      WHEN 'timed_out' THEN 'timed_out'
	                      WHEN 'crashed' THEN 'crashed'
	                      WHEN 'cancelled' THEN 'cancelled'
	                      ELSE 'failed' END
$$;

-- complete() of 002_engine.sql, with one change: a late result is taken for
-- the replay of one already recorded only when the history row has its
-- error too. A fenced or released result that arrives after another
-- processor rescued the attempt found the rescue's row (same attempt, same
-- processor, outcome 'rescued') and was reported as applied; now it is a
-- late result, and the rescue's row is marked stale with it.
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

--------------------------------------------------------- claim epochs
-- A processor gives up on a connection whose answer is overdue or lost, and
-- reconnects; a claim sent on the old connection may still be running in
-- its backend (waiting for a lock), and commit after the processor's
-- release_unheld() ran: its jobs would then be running under a live
-- processor that does not know it holds them, and nobody would ever rescue
-- them. So every claim carries the processor's connection epoch, and
-- release_unheld() moves the epoch forward under the claims' advisory lock:
-- a claim from an older connection either committed before (and its jobs
-- are released, as they are not held) or finds the epoch moved and claims
-- nothing. An older release_unheld() that commits late likewise changes
-- nothing (it would release jobs claimed since).
ALTER TABLE jobvisor.processors ADD COLUMN claim_epoch integer NOT NULL DEFAULT 0;

DROP FUNCTION jobvisor.claim(bigint, integer, integer, text[], timestamptz);

-- The claim of 002_engine.sql, unchanged but for p_epoch (NULL: not checked,
-- for callers that hold no connection epoch).
CREATE FUNCTION jobvisor.claim(p_processor bigint, p_slots integer, p_per_user integer,
                               p_types text[], p_now timestamptz DEFAULT NULL,
                               p_epoch integer DEFAULT NULL)
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
	-- (a statement after the lock: its snapshot sees every release_unheld()
	-- that committed before the lock was granted)
	IF p_epoch IS NOT NULL AND NOT EXISTS (
		SELECT 1 FROM jobvisor.processors p
		WHERE p.id = p_processor AND p.claim_epoch = p_epoch) THEN
		RETURN; -- sent on a connection the processor has given up on
	END IF;
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

DROP FUNCTION jobvisor.release_unheld(bigint, bigint[]);

-- After a lost connection (see 002_engine.sql): every job running under the
-- processor that it does not hold goes back to pending. With p_epoch (the
-- processor's new connection epoch), only when that epoch is newer than the
-- processor's, and the epoch is moved to it: under the claims' advisory
-- lock, so no claim of an older connection commits after this.
CREATE FUNCTION jobvisor.release_unheld(p_processor bigint, p_held bigint[],
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
		       v_now, 0, 'rescued',
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

------------------------------------------------------ control by polling
-- Cancel and pause requests travel by NOTIFY (jobvisor_cancel,
-- jobvisor_control). A processor that cannot LISTEN (database.url through a
-- transaction pooler and no database.listen_url, or a NOTIFY that did not
-- reach its LISTEN at start) asks instead, every poll interval, with
-- control_poll(): the state it answers from is written in both cases, so
-- nothing depends on NOTIFY arriving.
--   - pause/resume: POST /api/processors/{id}/pause|resume sets
--     control_pause and counts control_seq up; the processor applies
--     control_pause whenever control_seq differs from the one it last saw.
--   - cancel: the API's cancel makes the job 'cancelled' (locked_by NULL);
--     the processor passes the jobs it runs and is told which of them are no
--     longer running under it (cancelled, or taken from it otherwise), and
--     stops those runs.
ALTER TABLE jobvisor.processors ADD COLUMN control_seq bigint NOT NULL DEFAULT 0;
ALTER TABLE jobvisor.processors ADD COLUMN control_pause boolean NOT NULL DEFAULT false;

-- One row per job of p_running no longer running under p_processor (its
-- status now, NULL when the row is gone), then a trailer with a NULL job_id
-- and the processor's control_seq and control_pause.
CREATE FUNCTION jobvisor.control_poll(p_processor bigint, p_running bigint[])
RETURNS TABLE (job_id bigint, job_status text, control_seq bigint, control_pause boolean)
LANGUAGE sql STABLE AS $$
	SELECT r.id, j.status, NULL::bigint, NULL::boolean
	FROM unnest(coalesce(p_running, '{}')) AS r(id)
	LEFT JOIN jobvisor.jobs j ON j.id = r.id
	WHERE j.id IS NULL OR j.status <> 'running' OR j.locked_by IS DISTINCT FROM p_processor
	UNION ALL
	SELECT NULL, NULL, p.control_seq, p.control_pause
	FROM jobvisor.processors p WHERE p.id = p_processor
$$;

COMMENT ON FUNCTION jobvisor.claim(bigint, integer, integer, text[], timestamptz, integer)
	IS 'claim up to p_slots due jobs for a processor, fair across users, within per_user_limit';
COMMENT ON FUNCTION jobvisor.control_poll(bigint, bigint[])
	IS 'cancel and pause requests for a processor that cannot LISTEN';
