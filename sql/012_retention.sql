-- 012_retention.sql -- history retention that works: finished jobs older than
-- history.retention_days (failed ones: history.failed_retention_days), their
-- job_executions, and old schedule_runs are deleted in bounded batches, by
-- one processor at a time, without slowing claiming.
--
-- Before, only schedule_runs were pruned: finished jobs and job_executions
-- grew without end.
--
-- How the rows are found: no new index. A purge walks jobs_status_id_idx
-- (status, id) of 005, one finished status at a time, in id order, from
-- the lowest id up to a bound above which no job can be old enough: every
-- job whose id is above that of a job created after the horizon was
-- enqueued after the horizon, so it cannot have finished before it (ids
-- are handed out in time order, and created_at defaults to the inserting
-- transaction's start, before its id was taken). The bound is found by a
-- binary search over the primary key (about 30 probes). The walk looks at
-- at most p_batch entries per call, deletes those finished before the
-- horizon, then their executions through job_executions_job_idx (job_id,
-- attempt). So a batch costs the same at 10 000 or 100 million rows, and
-- the rows it passes over and keeps (a job enqueued before the horizon that
-- finished after it) are few.
--
-- Why not the BRIN indexes on jobs.finished_at and job_executions.started_at
-- that 001 meant for this: deleting old rows frees their pages, new rows
-- are written into them, and a BRIN range's summary only ever widens, so
-- after one cycle every reused range says "holds rows from long ago" and an
-- "older than" scan reads the whole table. Measured on PostgreSQL 15 with
-- 1 000 000 executions over 60 days, the older half deleted and its space
-- refilled: the 16 700 rows older than a horizon (about 330 blocks' worth)
-- cost a read of 7 424 blocks, every reused range.
-- Why not a new btree on finished_at: every completion would pay its
-- insertion (001 measured ~5 % of a job's database time), and built in this
-- migration's transaction (CREATE INDEX CONCURRENTLY cannot run in one) it
-- would block claiming for as long as the build over a big table takes.
-- This migration takes no lock on jobs or job_executions at all.
--
-- Why not partitioning job_executions by time (retention by DROP of a
-- partition): see docs/retention.md. In short: executions must go with
-- their job, and a job's attempts can span partitions; the partition key
-- would have to join the primary key; converting a populated table without
-- stopping claiming takes several steps outside one transaction. It is
-- left to the throughput issue, with the measurements of this one.
--
-- One processor at a time: the single row of jobvisor.history_purge is the
-- lease of the round in progress (holder, lease_until) and, locked for the
-- length of each batch (FOR UPDATE SKIP LOCKED), makes two batches never
-- run at once. No session state (no session advisory lock): this works
-- through a transaction pooler. A round starts at most once per
-- p_interval across all processors; a holder that stops hands the round
-- over (release_purge), one that dies is replaced once its lease has run
-- out, and the new holder goes on from the round's cursor.
--
-- Claiming is not held up: the purge deletes finished rows only, which no
-- claim, completion or rescue locks or waits for; job rows another
-- transaction holds (an API retry) are skipped, not waited for. What is
-- left is the I/O and CPU a batch costs, bounded by its size (see
-- contrib/bench.sh --purge-rows and docs/retention.md for the figures).

CREATE TABLE jobvisor.history_purge (
	id                  boolean     PRIMARY KEY DEFAULT true
	                    CONSTRAINT history_purge_one_row CHECK (id),
	-- The round in progress: holder NULL when none.
	holder              bigint,                  -- processors.id
	lease_until         timestamptz,
	round_started_at    timestamptz,
	walk                text
	                    CONSTRAINT history_purge_walk_check
	                    CHECK (walk IN ('succeeded', 'cancelled', 'failed', 'schedule_runs')),
	walk_after          bigint      NOT NULL DEFAULT 0, -- ids up to this one were looked at
	walk_bound          bigint,                  -- ids from this one on cannot be old enough
	round_jobs          bigint      NOT NULL DEFAULT 0,
	round_executions    bigint      NOT NULL DEFAULT 0,
	round_schedule_runs bigint      NOT NULL DEFAULT 0,
	-- The last round that finished.
	last_processor      bigint,
	last_started_at     timestamptz,
	last_finished_at    timestamptz,
	last_jobs           bigint      NOT NULL DEFAULT 0,
	last_executions     bigint      NOT NULL DEFAULT 0,
	last_schedule_runs  bigint      NOT NULL DEFAULT 0,
	-- Rows removed since this migration, by all processors.
	jobs_removed        bigint      NOT NULL DEFAULT 0,
	executions_removed  bigint      NOT NULL DEFAULT 0,
	schedule_runs_removed bigint    NOT NULL DEFAULT 0
);
INSERT INTO jobvisor.history_purge DEFAULT VALUES;

COMMENT ON TABLE jobvisor.history_purge IS
	'history retention: the lease of the purge in progress, the last round, totals';

-- The lowest id from which on no job can have been enqueued before
-- p_before: max(id) + 1 when every job was, 0 when there are none. A
-- binary search over the primary key that takes created_at to grow with
-- id; where it does not (a transaction that ran long before inserting), it
-- errs on the safe side only: the bound it finds belongs to a job created
-- at or after p_before, and every later id was taken later still. (A
-- created_at written by hand into the future makes the bound too low, and
-- delays the removal of the jobs after it until that time.)
CREATE FUNCTION jobvisor.history_id_bound(p_before timestamptz) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
	v_lo bigint := 0;
	v_hi bigint;
	v_mid bigint;
	v_id bigint;
	v_created timestamptz;
BEGIN
	SELECT j.id INTO v_hi FROM jobvisor.jobs j ORDER BY j.id DESC LIMIT 1;
	IF v_hi IS NULL THEN
		RETURN 0;
	END IF;
	-- The answer lies in [v_lo, v_hi]; v_hi = max(id) + 1 stands for "all".
	v_hi := v_hi + 1;
	WHILE v_lo < v_hi LOOP
		v_mid := v_lo + (v_hi - v_lo) / 2;
		-- (v_mid < v_hi <= max(id) + 1: a job at or above v_mid exists)
		SELECT j.id, j.created_at INTO v_id, v_created
		FROM jobvisor.jobs j WHERE j.id >= v_mid ORDER BY j.id LIMIT 1;
		IF v_id IS NULL OR v_created >= p_before THEN
			v_hi := v_mid;
		ELSE
			v_lo := v_id + 1;
		END IF;
	END LOOP;
	RETURN v_lo;
END
$$;

-- The walks of a round, in this order: jobs by finished status, then
-- schedule_runs. The first after p_walk (NULL: the first) whose rows are
-- kept for a time, not forever (NULL); NULL when none is left.
CREATE FUNCTION jobvisor.purge_next_walk(p_walk text, p_retention interval,
                                         p_failed_retention interval,
                                         p_runs_retention interval) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT t.walk
	FROM unnest(ARRAY['succeeded', 'cancelled', 'failed', 'schedule_runs'],
	            ARRAY[p_retention, p_retention, p_failed_retention, p_runs_retention])
	     WITH ORDINALITY AS t(walk, keep, n)
	WHERE t.keep IS NOT NULL
	  AND t.n > coalesce(array_position(ARRAY['succeeded', 'cancelled', 'failed', 'schedule_runs'],
	                                    p_walk), 0)
	ORDER BY t.n LIMIT 1
$$;

-- One step of the purge, for processor p_processor: one batch of at most
-- p_batch rows looked at, in its own transaction (the caller's statement).
-- Call it again while it says 'more'.
--
--   p_retention         succeeded and cancelled jobs finished longer ago than
--                       this go, with their executions; NULL keeps them
--   p_failed_retention  the same for failed jobs; NULL keeps them
--   p_runs_retention    schedule_runs created longer ago go; NULL keeps them
--   p_interval          a new round starts when the last one started at
--                       least this long ago (whoever runs it)
--   p_lease             how long a round stays its holder's without a step
--
-- Pending and running jobs are never touched, whatever their age; nor are
-- the executions of jobs that are kept.
--
-- Returns one row: state is 'busy' (another processor's round: nothing
-- done), 'idle' (no round due yet: nothing done), 'more' (a batch done, the
-- round goes on) or 'done' (the round finished with this batch); the rows
-- this call removed; wait_ms, how long to wait before the next call (0 for
-- 'more'); and the round's start (NULL for 'busy' and 'idle').
CREATE FUNCTION jobvisor.purge_history(p_processor bigint, p_retention interval,
                                       p_failed_retention interval, p_runs_retention interval,
                                       p_interval interval, p_batch integer DEFAULT 1000,
                                       p_lease interval DEFAULT '1 minute',
                                       p_now timestamptz DEFAULT NULL)
RETURNS TABLE (state text, jobs bigint, executions bigint, schedule_runs bigint,
               wait_ms bigint, round_started_at timestamptz)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
	v_now timestamptz := coalesce(p_now, clock_timestamp());
	r jobvisor.history_purge%ROWTYPE;
	v_keep interval;
	v_horizon timestamptz;
	v_scanned bigint := 0;
	v_last bigint;
	v_jobs bigint := 0;
	v_execs bigint := 0;
	v_runs bigint := 0;
BEGIN
	IF p_batch IS NULL OR p_batch < 1 OR p_interval IS NULL OR p_lease IS NULL THEN
		RAISE EXCEPTION 'jobvisor.purge_history: p_batch must be positive, p_interval and p_lease given'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- A row lock that another transaction holds on an old row must not
	-- stall the caller's thread: fail this batch, and try again later.
	PERFORM set_config('lock_timeout', '5s', true);
	INSERT INTO jobvisor.history_purge DEFAULT VALUES ON CONFLICT DO NOTHING;
	-- Locked until this batch commits: two batches never run at once.
	SELECT * INTO r FROM jobvisor.history_purge FOR UPDATE SKIP LOCKED;
	IF NOT FOUND THEN
		RETURN QUERY SELECT 'busy', 0::bigint, 0::bigint, 0::bigint,
			(extract(epoch FROM p_lease) * 1000)::bigint, NULL::timestamptz;
		RETURN;
	END IF;
	IF r.holder IS NOT NULL AND r.holder <> p_processor AND r.lease_until > v_now THEN
		RETURN QUERY SELECT 'busy', 0::bigint, 0::bigint, 0::bigint,
			ceil(extract(epoch FROM r.lease_until - v_now) * 1000)::bigint, NULL::timestamptz;
		RETURN;
	END IF;
	IF r.holder IS NULL THEN
		IF r.last_started_at > v_now - p_interval THEN
			RETURN QUERY SELECT 'idle', 0::bigint, 0::bigint, 0::bigint,
				ceil(extract(epoch FROM r.last_started_at + p_interval - v_now) * 1000)::bigint,
				NULL::timestamptz;
			RETURN;
		END IF;
		r.round_started_at := v_now;
		r.walk := jobvisor.purge_next_walk(NULL, p_retention, p_failed_retention,
		                                   p_runs_retention);
		r.walk_after := 0;
		r.walk_bound := NULL;
		r.round_jobs := 0;
		r.round_executions := 0;
		r.round_schedule_runs := 0;
	END IF;
	-- (a lapsed lease of another processor: its round goes on from its cursor)
	r.holder := p_processor;
	r.lease_until := v_now + p_lease;

	-- (a walk of a round taken over whose rows this caller keeps is over)
	v_keep := CASE r.walk WHEN 'failed' THEN p_failed_retention
	                      WHEN 'schedule_runs' THEN p_runs_retention
	                      ELSE p_retention END;
	v_horizon := v_now - v_keep;
	IF v_keep IS NULL THEN
		v_scanned := 0;
	ELSIF r.walk = 'schedule_runs' THEN
		WITH d AS (
			DELETE FROM jobvisor.schedule_runs s
			WHERE s.ctid = ANY (ARRAY(SELECT s2.ctid FROM jobvisor.schedule_runs s2
			                          WHERE s2.created_at < v_horizon LIMIT p_batch))
			  AND s.created_at < v_horizon
			RETURNING 1
		)
		SELECT count(*) INTO v_runs FROM d;
		v_scanned := v_runs;
	ELSE
		IF r.walk_bound IS NULL THEN
			r.walk_bound := jobvisor.history_id_bound(v_horizon);
		END IF;
		-- The walk's status is a literal in the statement, so each walk
		-- gets the plan for its own share of the table.
		EXECUTE format($q$
			WITH scan AS MATERIALIZED (
				SELECT j.id, coalesce(j.finished_at, j.updated_at) < $1 AS old
				FROM jobvisor.jobs j
				WHERE j.status = %1$L AND j.id > $2 AND j.id < $3
				ORDER BY j.id LIMIT $4
			),
			-- (rows someone else holds are skipped: the next round
			-- takes them)
			gone AS (
				SELECT j.id FROM jobvisor.jobs j
				WHERE j.id = ANY (ARRAY(SELECT s.id FROM scan s WHERE s.old))
				  AND j.status = %1$L AND coalesce(j.finished_at, j.updated_at) < $1
				FOR UPDATE OF j SKIP LOCKED
			),
			del AS (
				DELETE FROM jobvisor.jobs j
				WHERE j.id = ANY (ARRAY(SELECT g.id FROM gone g))
				RETURNING j.id
			),
			ex AS (
				DELETE FROM jobvisor.job_executions e
				WHERE e.job_id = ANY (ARRAY(SELECT d.id FROM del d))
				RETURNING 1
			)
			SELECT (SELECT count(*) FROM scan), (SELECT max(s.id) FROM scan s),
			       (SELECT count(*) FROM del), (SELECT count(*) FROM ex)
			$q$, r.walk)
		INTO v_scanned, v_last, v_jobs, v_execs
		USING v_horizon, r.walk_after, r.walk_bound, p_batch;
	END IF;

	r.round_jobs := r.round_jobs + v_jobs;
	r.round_executions := r.round_executions + v_execs;
	r.round_schedule_runs := r.round_schedule_runs + v_runs;
	IF v_keep IS NOT NULL AND v_scanned >= p_batch THEN
		-- (schedule_runs: deleted rows are gone, so no cursor is needed)
		r.walk_after := coalesce(v_last, r.walk_after);
		state := 'more';
	ELSE
		r.walk := jobvisor.purge_next_walk(r.walk, p_retention, p_failed_retention,
		                                   p_runs_retention);
		r.walk_after := 0;
		r.walk_bound := NULL;
		state := CASE WHEN r.walk IS NULL THEN 'done' ELSE 'more' END;
	END IF;
	round_started_at := r.round_started_at;
	IF state = 'done' THEN
		r.last_processor := p_processor;
		r.last_started_at := r.round_started_at;
		r.last_finished_at := v_now;
		r.last_jobs := r.round_jobs;
		r.last_executions := r.round_executions;
		r.last_schedule_runs := r.round_schedule_runs;
		r.holder := NULL;
		r.lease_until := NULL;
		r.round_started_at := NULL;
		r.walk := NULL;
		r.round_jobs := 0;
		r.round_executions := 0;
		r.round_schedule_runs := 0;
		wait_ms := ceil(extract(epoch FROM p_interval) * 1000)::bigint;
	ELSE
		wait_ms := 0;
	END IF;
	UPDATE jobvisor.history_purge h
	SET holder = r.holder, lease_until = r.lease_until, round_started_at = r.round_started_at,
	    walk = r.walk, walk_after = r.walk_after, walk_bound = r.walk_bound,
	    round_jobs = r.round_jobs, round_executions = r.round_executions,
	    round_schedule_runs = r.round_schedule_runs,
	    last_processor = r.last_processor, last_started_at = r.last_started_at,
	    last_finished_at = r.last_finished_at, last_jobs = r.last_jobs,
	    last_executions = r.last_executions, last_schedule_runs = r.last_schedule_runs,
	    jobs_removed = h.jobs_removed + v_jobs,
	    executions_removed = h.executions_removed + v_execs,
	    schedule_runs_removed = h.schedule_runs_removed + v_runs;
	jobs := v_jobs;
	executions := v_execs;
	schedule_runs := v_runs;
	RETURN NEXT;
END
$$;

-- A processor that stops hands its round over: its lease ends now, and the
-- next processor to ask goes on from the round's cursor. Returns whether it
-- held one.
CREATE FUNCTION jobvisor.release_purge(p_processor bigint) RETURNS boolean
LANGUAGE sql AS $$
	WITH u AS (
		UPDATE jobvisor.history_purge SET lease_until = '-infinity'
		WHERE holder = p_processor RETURNING 1
	)
	SELECT EXISTS (SELECT 1 FROM u)
$$;

-- The oldest finished job and the oldest execution kept, for `jobvisor
-- status` and /metrics: the earliest finished_at among the 100 lowest ids
-- of each finished status, and the earliest started_at among the 100 lowest
-- execution ids. Index probes, not a scan: the oldest rows are the lowest
-- ids, up to the few enqueued long before they ran. NULL when none.
CREATE FUNCTION jobvisor.history_oldest(OUT finished_at timestamptz, OUT execution_at timestamptz)
LANGUAGE sql STABLE AS $$
	SELECT (SELECT min(f) FROM (
	          (SELECT coalesce(j.finished_at, j.updated_at) AS f FROM jobvisor.jobs j
	           WHERE j.status = 'succeeded' ORDER BY j.id LIMIT 100)
	          UNION ALL
	          (SELECT coalesce(j.finished_at, j.updated_at) FROM jobvisor.jobs j
	           WHERE j.status = 'failed' ORDER BY j.id LIMIT 100)
	          UNION ALL
	          (SELECT coalesce(j.finished_at, j.updated_at) FROM jobvisor.jobs j
	           WHERE j.status = 'cancelled' ORDER BY j.id LIMIT 100)) s),
	       (SELECT min(e.started_at) FROM (SELECT e.started_at FROM jobvisor.job_executions e
	                                        ORDER BY e.id LIMIT 100) e)
$$;

COMMENT ON FUNCTION jobvisor.purge_history(bigint, interval, interval, interval, interval, integer,
                                           interval, timestamptz)
	IS 'one bounded step of history retention (one processor at a time)';
