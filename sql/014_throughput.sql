-- 014_throughput.sql -- fewer index insertions per job (docs/performance.md).
--
-- A job's row is written three times: by the enqueue, by the claim and by
-- the completion. Claim and completion change `status`, which partial
-- indexes depend on, so neither update is HOT, and every index whose
-- predicate the new row version satisfies gets a new entry each time. An
-- index over all jobs therefore costs three insertions per job; a partial
-- index over finished jobs costs one, and one over live (pending, running)
-- jobs none at completion. Measured with `contrib/bench.sh` (50 000 noop
-- jobs, 10 slots, batch 100, prefetch 200): dropping the two indexes over
-- all jobs that only GET /api/jobs used, jobs_status_id_idx and
-- jobs_type_id_idx, raised throughput by a quarter to a third.
--
-- What replaces them, for listing (newest first) and counting:
--   - pending and running jobs: the partial indexes the engine has anyway
--     (jobs_pending_due_idx, jobs_running_locked_by_idx), or the primary key
--     when most jobs are live (a backlog);
--   - finished jobs by type or user: jobs_done_type_idx and
--     jobs_done_user_idx, one insertion at completion;
--   - failed and cancelled jobs: jobs_unsuccessful_idx, written only when a
--     job fails or is cancelled;
--   - succeeded jobs: the primary key (most finished jobs succeeded), and
--     their number is the total less the others (jobvisor.job_counts()).
-- jobs_user_id_idx (all jobs of a user) goes for the same reason, and
-- jobs_finished_idx (BRIN on finished_at) too: since 012 no query uses it.
--
-- Applied to a populated database while processors run (guarantee: claiming
-- never stops for long): the new indexes are built first, with CREATE INDEX
-- CONCURRENTLY, which cannot run in a transaction, so they come before the
-- line `-- @transaction` and `jobvisor migrate` runs them one by one, outside
-- it (and again, harmlessly, should the migration have to be retried). The
-- part after the line is the migration's transaction: dropping an index is
-- a change of the catalog only, over in milliseconds, and migrate bounds
-- its wait for the table's lock (lock_timeout) and tries again, so claims
-- queue behind it for no longer than that. claim(), complete() and every
-- other function keep their signatures: processors of version 13 go on
-- working through the upgrade and after it.

CREATE INDEX CONCURRENTLY IF NOT EXISTS jobs_done_type_idx
	ON jobvisor.jobs (type, id)
	WHERE status IN ('succeeded', 'failed', 'cancelled');

CREATE INDEX CONCURRENTLY IF NOT EXISTS jobs_done_user_idx
	ON jobvisor.jobs (user_id, id)
	WHERE user_id IS NOT NULL AND status IN ('succeeded', 'failed', 'cancelled');

CREATE INDEX CONCURRENTLY IF NOT EXISTS jobs_unsuccessful_idx
	ON jobvisor.jobs (status, id)
	WHERE status IN ('failed', 'cancelled');

-- @transaction

-- The indexes above must be built before the ones they replace go. Another
-- migrate that runs at the same time may still be building one (its own
-- run of the part above found it there and went on): then this is a lock
-- not available yet, and migrate tries again shortly.
DO $$
DECLARE
	v_name text;
BEGIN
	SELECT string_agg(c.relname, ', ') INTO v_name
	FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
	WHERE i.indrelid = 'jobvisor.jobs'::regclass AND NOT i.indisvalid;
	IF v_name IS NOT NULL THEN
		RAISE EXCEPTION 'index % of jobvisor.jobs is still being built (or its build failed)',
		                v_name
		      USING ERRCODE = 'lock_not_available',
		            HINT = 'run jobvisor migrate again; it rebuilds an index whose build failed';
	END IF;
END
$$;

DROP INDEX jobvisor.jobs_status_id_idx;
DROP INDEX jobvisor.jobs_type_id_idx;
DROP INDEX jobvisor.jobs_user_id_idx;
DROP INDEX jobvisor.jobs_finished_idx;

-- Every job leaves two dead row versions behind (the pending and the
-- running one), so the table needs vacuuming by the number of jobs, not by
-- its size: PostgreSQL's default waits for a fifth of the table to be dead
-- (2 000 000 versions at 10 million jobs) and lets the claim index fill
-- with dead entries meanwhile. history rows are only appended: vacuum them
-- by inserts, so the visibility map stays current for index-only scans.
-- (Storage parameters take a SHARE UPDATE EXCLUSIVE lock, which claims,
-- completions and enqueues do not conflict with.)
ALTER TABLE jobvisor.jobs SET (
	autovacuum_vacuum_scale_factor = 0.01,
	autovacuum_vacuum_threshold = 10000,
	autovacuum_vacuum_insert_scale_factor = 0.05,
	autovacuum_analyze_scale_factor = 0.02,
	autovacuum_vacuum_cost_delay = 1
);
ALTER TABLE jobvisor.job_executions SET (
	autovacuum_vacuum_insert_scale_factor = 0.05,
	autovacuum_analyze_scale_factor = 0.02
);

------------------------------------------------------------------- claim
-- claim() of 010_engine_fence.sql, same signature and answers (processors
-- of version 13 call it unchanged), with a fast path for the common case of
-- no pending job with a user_id: the fair claim's machinery (the loose scan
-- over users, the per-user windows, the merge and the re-fetch of the picked
-- rows by primary key) costs nothing there but CPU. Measured: see
-- docs/performance.md. (The fair path is indented as in 010, inside ELSE.)
CREATE OR REPLACE FUNCTION jobvisor.claim(p_processor bigint, p_slots integer, p_per_user integer,
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
	-- The fast path: no job of any user is pending, so there is nobody to
	-- be fair between and no per-user limit that could bind. One walk of
	-- jobs_claim_idx in claim order, locking as it goes (SKIP LOCKED: a row
	-- another transaction holds is passed over, never waited for), and the
	-- update finds the locked rows by their ctid, not by a second descent
	-- of the primary key. A user's job enqueued meanwhile waits for the
	-- next claim, as it would behind a claim that started a moment earlier.
	IF NOT EXISTS (SELECT 1 FROM jobvisor.jobs j
	               WHERE j.status = 'pending' AND j.user_id IS NOT NULL) THEN
		RETURN QUERY
		WITH locked AS (
			SELECT j.ctid FROM jobvisor.jobs j
			WHERE j.status = 'pending' AND j.user_id IS NULL AND j.scheduled_at <= v_now
			  AND j.type = ANY (p_types)
			ORDER BY j.priority DESC, j.scheduled_at, j.id
			LIMIT p_slots
			FOR UPDATE OF j SKIP LOCKED
		)
		UPDATE jobvisor.jobs j
		SET status = 'running', locked_by = p_processor, attempts = j.attempts + 1,
		    started_at = coalesce(p_now, clock_timestamp()), updated_at = v_now
		WHERE j.ctid = ANY (ARRAY(SELECT l.ctid FROM locked l))
		RETURNING j.id, j.type, j.user_id, j.payload, j.attempts, j.max_attempts,
		          j.timeout_seconds, NULL::bigint;
		GET DIAGNOSTICS v_claimed = ROW_COUNT;
	ELSE
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
	END IF;
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

---------------------------------------------------------------- complete
-- complete() of 010_engine_fence.sql with one change: the jobs to update are
-- fetched by primary key (= ANY of the ids sent), not by walking every
-- running job of the processor (jobs_running_locked_by_idx) and hashing
-- them. The fence is the same (status running, locked by the processor,
-- the attempt's number), checked on each row found. With 1 000 slots and prefetch, a completion of 100 jobs walked more
-- than 1 000 rows for them; now it looks up the 100.
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
		WHERE j.id = ANY (ARRAY(SELECT i2.id FROM input i2))
		  AND j.id = i.id AND j.attempts = i.attempt
		  -- (the fence, written so that it is a filter on the rows found by
		  -- id and not a condition jobs_running_locked_by_idx could
		  -- answer: the planner, which thinks few jobs run, would walk
		  -- them all)
		  AND j.locked_by + 0 = p_processor AND j.status || '' = 'running'
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

-- How many jobs there are in each status, without reading the table: the
-- live and unsuccessful ones through their partial indexes, the succeeded
-- ones as the rest of the total (which the primary key answers).
CREATE FUNCTION jobvisor.job_counts()
RETURNS TABLE (status text, n bigint)
LANGUAGE sql STABLE AS $$
	WITH c AS MATERIALIZED (
		SELECT (SELECT count(*) FROM jobvisor.jobs j WHERE j.status = 'pending') AS pending,
		       (SELECT count(*) FROM jobvisor.jobs j WHERE j.status = 'running') AS running,
		       (SELECT count(*) FROM jobvisor.jobs j WHERE j.status = 'failed') AS failed,
		       (SELECT count(*) FROM jobvisor.jobs j WHERE j.status = 'cancelled') AS cancelled,
		       (SELECT count(*) FROM jobvisor.jobs j) AS total
	)
	SELECT s.status, s.n
	FROM c, LATERAL (VALUES ('pending', c.pending), ('running', c.running),
	                        ('succeeded', greatest(c.total - c.pending - c.running
	                                               - c.failed - c.cancelled, 0)),
	                        ('failed', c.failed), ('cancelled', c.cancelled)) AS s(status, n)
$$;

COMMENT ON FUNCTION jobvisor.job_counts()
	IS 'jobs by status, from partial indexes and the primary key';

-- The oldest finished job (`jobvisor status`, /metrics): 012 took the
-- lowest ids of each finished status through jobs_status_id_idx. Without
-- it, the succeeded ones come from the primary key, which passes every
-- older job of another status first: all the failed jobs kept longer than
-- the succeeded ones (history.failed_retention_days), on every scrape. Now
-- the 300 lowest ids of finished jobs, whatever their status: the primary
-- key passes only the live jobs among the oldest (delayed ones), and the
-- oldest finished job is among the lowest ids as before.
CREATE OR REPLACE FUNCTION jobvisor.history_oldest(OUT finished_at timestamptz,
                                                   OUT execution_at timestamptz)
LANGUAGE sql STABLE AS $$
	SELECT (SELECT min(s.f) FROM (
	          SELECT coalesce(j.finished_at, j.updated_at) AS f FROM jobvisor.jobs j
	          WHERE j.status IN ('succeeded', 'failed', 'cancelled') ORDER BY j.id LIMIT 300) s),
	       (SELECT min(e.started_at) FROM (SELECT e.started_at FROM jobvisor.job_executions e
	                                        ORDER BY e.id LIMIT 100) e)
$$;
