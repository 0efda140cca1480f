-- 027_claim_priorities.sql -- the claim reads each priority's due jobs.
--
-- jobs_claim_queue_idx and jobs_claim_user_idx order a queue's and type's
-- pending jobs by priority before time, so a walk of them in claim order
-- passed every job of a higher priority scheduled later before it reached
-- the due ones below it: under the lock every processor's claim waits for,
-- and once per claim. 026 read the due ones in due order where fewer are
-- due than the claim takes, but not in a backlog (more due than it takes),
-- and the fair claim's look at a user's jobs passed them always. Measured
-- on one backend, 1 000 000 jobs at priority 5 due tomorrow, 60 due now
-- at priorities 3 and 0, a claim of 10: 52-82 ms (with 027, 0.6-0.7 ms);
-- the same jobs all one user's: 143-207 ms (1.2-1.7 ms).
--
-- The walk in claim order now goes a priority at a time: a loose scan of
-- the priorities pending in the queue and type, highest first (one step
-- down the index each), and each one's due jobs in time order, a range of
-- the index holding the due ones only; it stops when it has as many as it
-- takes. So what it reads is one step per priority it passes, not one per
-- job. A priority is any integer: past 64 priorities the walk goes on in
-- claim order as before (so no enqueuer can make it take a step per job
-- with a priority each). Where no job of the queue and type is scheduled
-- later (one step down jobs_pending_due_idx a claim), the walk in claim
-- order passes nothing that is not due and stays as it was: one step
-- down the index for the first job, not one a priority and one past the
-- last. jobvisor.claim_walk() (jobs of no user) and
-- jobvisor.claim_walk_user() are that walk; claim() reads through them in
-- every path (the fast path's walk that locks as it goes stays as it was
-- where nothing is scheduled later), and the fair claim's look at whether
-- a user has a due job too.
--
-- No index and no table changes: claim() keeps its signature, processors
-- of version 26 get the new one.

CREATE FUNCTION jobvisor.claim_walk(p_queue text, p_type text, p_n integer,
                                    p_now timestamptz, p_later boolean)
RETURNS TABLE (id bigint, priority integer, scheduled_at timestamptz, row_ctid tid)
LANGUAGE sql STABLE AS $$
	WITH RECURSIVE pr(p, k) AS (
		SELECT (SELECT j.priority FROM jobvisor.jobs j
		        WHERE j.status = 'pending' AND j.user_id IS NULL AND j.queue = p_queue
		          AND j.type = p_type
		        ORDER BY j.priority DESC
		        LIMIT 1), 1
		WHERE p_later
		UNION ALL
		SELECT (SELECT j.priority FROM jobvisor.jobs j
		        WHERE j.status = 'pending' AND j.user_id IS NULL AND j.queue = p_queue
		          AND j.type = p_type AND j.priority < pr.p
		        ORDER BY j.priority DESC
		        LIMIT 1), pr.k + 1
		FROM pr
		WHERE pr.p IS NOT NULL AND pr.k < 64
	)
	-- (nothing of the queue and type scheduled later: the walk in claim
	-- order passes nothing that is not due)
	(SELECT a.id, a.priority, a.scheduled_at, a.ctid FROM (
		SELECT j.id, j.priority, j.scheduled_at, j.ctid FROM jobvisor.jobs j
		WHERE NOT p_later
		  AND j.status = 'pending' AND j.user_id IS NULL AND j.queue = p_queue
		  AND j.type = p_type AND j.scheduled_at <= p_now
		ORDER BY j.priority DESC, j.scheduled_at, j.id
		LIMIT p_n
	) a
	UNION ALL
	SELECT x.id, x.priority, x.scheduled_at, x.ctid
	FROM pr
	CROSS JOIN LATERAL (
		SELECT j.id, j.priority, j.scheduled_at, j.ctid FROM jobvisor.jobs j
		WHERE j.status = 'pending' AND j.user_id IS NULL AND j.queue = p_queue
		  AND j.type = p_type AND j.priority = pr.p AND j.scheduled_at <= p_now
		ORDER BY j.scheduled_at, j.id
		LIMIT p_n
	) x
	UNION ALL
	-- (past the 64th priority: the rest in claim order, the index's own;
	-- "IS TRUE" keeps the planner from reading every due job by time and
	-- sorting them instead)
	SELECT y.id, y.priority, y.scheduled_at, y.ctid FROM (
		SELECT j.id, j.priority, j.scheduled_at, j.ctid FROM jobvisor.jobs j
		WHERE j.status = 'pending' AND j.user_id IS NULL AND j.queue = p_queue
		  AND j.type = p_type AND j.priority < (SELECT pr.p FROM pr WHERE pr.k = 64)
		  AND (j.scheduled_at <= p_now) IS TRUE
		ORDER BY j.priority DESC, j.scheduled_at, j.id
		LIMIT p_n
	) y
	LIMIT p_n)
$$;

COMMENT ON FUNCTION jobvisor.claim_walk(text, text, integer, timestamptz, boolean)
	IS 'the claim''s walk: the first p_n due pending jobs of no user of a queue and type in claim order, a priority at a time where jobs are scheduled later (p_later); row_ctid: where each was read';

CREATE FUNCTION jobvisor.claim_walk_user(p_user text, p_queue text, p_type text, p_n integer,
                                         p_now timestamptz, p_later boolean)
RETURNS TABLE (id bigint, priority integer, scheduled_at timestamptz, row_ctid tid)
LANGUAGE sql STABLE AS $$
	WITH RECURSIVE pr(p, k) AS (
		SELECT (SELECT j.priority FROM jobvisor.jobs j
		        WHERE j.status = 'pending' AND j.user_id = p_user AND j.queue = p_queue
		          AND j.type = p_type
		        ORDER BY j.priority DESC
		        LIMIT 1), 1
		WHERE p_later
		UNION ALL
		SELECT (SELECT j.priority FROM jobvisor.jobs j
		        WHERE j.status = 'pending' AND j.user_id = p_user AND j.queue = p_queue
		          AND j.type = p_type AND j.priority < pr.p
		        ORDER BY j.priority DESC
		        LIMIT 1), pr.k + 1
		FROM pr
		WHERE pr.p IS NOT NULL AND pr.k < 64
	)
	-- (nothing of the queue and type scheduled later: the walk in claim
	-- order passes nothing that is not due)
	(SELECT a.id, a.priority, a.scheduled_at, a.ctid FROM (
		SELECT j.id, j.priority, j.scheduled_at, j.ctid FROM jobvisor.jobs j
		WHERE NOT p_later
		  AND j.status = 'pending' AND j.user_id = p_user AND j.queue = p_queue
		  AND j.type = p_type AND j.scheduled_at <= p_now
		ORDER BY j.priority DESC, j.scheduled_at, j.id
		LIMIT p_n
	) a
	UNION ALL
	SELECT x.id, x.priority, x.scheduled_at, x.ctid
	FROM pr
	CROSS JOIN LATERAL (
		SELECT j.id, j.priority, j.scheduled_at, j.ctid FROM jobvisor.jobs j
		WHERE j.status = 'pending' AND j.user_id = p_user AND j.queue = p_queue
		  AND j.type = p_type AND j.priority = pr.p AND j.scheduled_at <= p_now
		ORDER BY j.scheduled_at, j.id
		LIMIT p_n
	) x
	UNION ALL
	-- (past the 64th priority: the rest in claim order, the index's own;
	-- "IS TRUE" keeps the planner from reading every due job by time and
	-- sorting them instead)
	SELECT y.id, y.priority, y.scheduled_at, y.ctid FROM (
		SELECT j.id, j.priority, j.scheduled_at, j.ctid FROM jobvisor.jobs j
		WHERE j.status = 'pending' AND j.user_id = p_user AND j.queue = p_queue
		  AND j.type = p_type AND j.priority < (SELECT pr.p FROM pr WHERE pr.k = 64)
		  AND (j.scheduled_at <= p_now) IS TRUE
		ORDER BY j.priority DESC, j.scheduled_at, j.id
		LIMIT p_n
	) y
	LIMIT p_n)
$$;

COMMENT ON FUNCTION jobvisor.claim_walk_user(text, text, text, integer, timestamptz, boolean)
	IS 'the claim''s walk of one user''s due pending jobs of a queue and type, as claim_walk';

CREATE OR REPLACE FUNCTION jobvisor.claim(p_processor bigint, p_slots integer, p_per_user integer,
                               p_types text[], p_now timestamptz, p_epoch integer,
                               p_queues text[], p_limit_queues text[], p_limits integer[])
RETURNS TABLE (id bigint, type text, user_id text, payload jsonb, attempts integer,
               max_attempts integer, timeout_seconds integer, next_due_ms bigint, queue text)
LANGUAGE plpgsql
-- (the plans are over a few hundred rows at most, but the planner cannot
-- know how few queues and candidates there are, and its estimates made it
-- compile the statement to machine code first: seconds, at every claim)
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
	v_now timestamptz;
	v_claimed bigint;
	v_rated boolean;
	v_due timestamptz;
	v_open timestamptz;
	v_prefix integer;
	v_bq text[];       -- the queues this claim may start jobs in,
	v_bn integer[];    -- with their budgets,
	v_ba integer[];    -- rate limits,
	v_bp integer[];
	v_bpart text[];
	v_cut boolean;     -- a budget or a rate partition can cut candidates
	v_split boolean;   -- a rate limit per user or type
	v_weighted boolean; -- some user has a weight: turns are kept
	v_dq text[];       -- the served queues and types with due jobs:
	v_dt text[];       -- queue, type, how many are due (up to the
	v_dn integer[];    -- queue's budget) and the queue's budget
	v_db integer[];
	v_dl boolean[];    -- and whether any of its jobs is scheduled later
	v_later boolean;   -- any is
	v_window integer;  -- the fair claim: users to take candidates from,
	v_users text[];    -- those taken,
	v_rooms integer[]; -- each one's room under their limit,
	v_from text;       -- where the last claim's look stopped (fair_clock),
	v_uid text;        -- the user looked at,
	v_next text;
	v_first text;      -- the first user by user_id with a pending job
	v_room integer;
	v_ok boolean;      -- the user has room and a due job
	v_lap integer;     -- 1: round past the last user to the first
	v_seen integer;    -- users looked at
	v_more boolean;    -- the look stopped before it came round
BEGIN
	IF p_slots IS NULL OR p_slots <= 0 THEN
		RETURN;
	END IF;
	PERFORM pg_advisory_xact_lock(8231457790154011);
	IF p_epoch IS NOT NULL AND NOT EXISTS (
		SELECT 1 FROM jobvisor.processors p
		WHERE p.id = p_processor AND p.claim_epoch = p_epoch) THEN
		RETURN; -- sent on a connection the processor has given up on
	END IF;
	v_now := coalesce(p_now, clock_timestamp());
	-- The queues served: whether any has a limit or is paused, and any a
	-- rate limit (its starts are recorded; expired ones go).
	SELECT array_agg(q.name), coalesce(bool_or(q.rate_allowed IS NOT NULL), false),
	       coalesce(bool_or(q.paused OR q.global_concurrency IS NOT NULL
	                        OR q.rate_allowed IS NOT NULL), false)
	INTO v_bq, v_rated, v_cut
	FROM jobvisor.queues q
	WHERE p_queues IS NULL OR q.name = ANY (p_queues);
	IF v_rated THEN
		-- Each rated queue's starts that left its window go, and with them
		-- their count in the window's total: a few rows a claim, however
		-- long the period and however many starts it holds.
		WITH gone AS (
			DELETE FROM jobvisor.queue_starts t
			USING jobvisor.queues q
			WHERE t.queue = q.name AND q.rate_allowed IS NOT NULL
			  AND t.started_at <= v_now - make_interval(secs => q.rate_period_seconds)
			RETURNING t.queue, t.part, t.n
		)
		UPDATE jobvisor.queue_windows w
		SET n = w.n - g.n
		FROM (SELECT gone.queue, gone.part, sum(gone.n)::integer AS n
		      FROM gone GROUP BY gone.queue, gone.part) g
		WHERE w.queue = g.queue AND w.part = g.part;
	END IF;

	-- The queues this claim may start jobs in and their budgets, once.
	-- Seen now, before the claim statement's snapshot, they are no larger
	-- than that statement would see (no start comes between: claims are
	-- serialised; a window only loses old starts, running jobs only
	-- finish), so they are safe to start within. (Without a limit or a
	-- pause anywhere, every queue served has the free slots: nothing to
	-- count.)
	IF v_cut OR cardinality(p_limit_queues) > 0 THEN
		SELECT array_agg(b.name), array_agg(b.budget), array_agg(b.rate_allowed),
		       array_agg(b.rate_period_seconds), array_agg(b.rate_partition),
		       coalesce(bool_or(b.budget < p_slots OR b.rate_partition <> 'none'), false),
		       coalesce(bool_or(b.rate_partition <> 'none'), false)
		INTO v_bq, v_bn, v_ba, v_bp, v_bpart, v_cut, v_split
		FROM jobvisor.claim_budgets(p_processor, p_slots, p_queues, p_limit_queues, p_limits,
		                            v_now) b;
	ELSIF v_bq IS NOT NULL THEN
		v_bn := array_fill(p_slots, ARRAY[cardinality(v_bq)]);
		v_ba := array_fill(NULL::integer, ARRAY[cardinality(v_bq)]);
		v_bp := v_ba;
		v_bpart := array_fill('none'::text, ARRAY[cardinality(v_bq)]);
		v_split := false;
	END IF;

	-- The first user with a pending job, if any: whether the claim must be
	-- fair between users, and where its look at them may begin. In the
	-- order of jobs_claim_user_idx, so that it is read there: until 025 an
	-- EXISTS asked it, and where most jobs have a user the planner made
	-- that a scan of the table, which passed every finished job before the
	-- first pending one, at every claim.
	SELECT j.user_id INTO v_first FROM jobvisor.jobs j
	WHERE j.status = 'pending' AND j.user_id IS NOT NULL
	ORDER BY j.user_id
	LIMIT 1;

	-- How many jobs are due in each served queue and type, up to the
	-- queue's budget, from jobs_pending_due_idx (queue, type,
	-- scheduled_at): bounds for the walks below, which would otherwise
	-- pass every job of the queue and type scheduled later (delayed ones,
	-- retries waiting out their backoff) whenever fewer are due than they
	-- may take, under the lock every claim waits for. Jobs of types this
	-- processor does not serve are never read (until 026 the walks and
	-- this count passed them one by one). (In due order: the index's own,
	-- so that no estimate of how many are due can make a scan of the
	-- table look cheaper.)
	IF v_bq IS NOT NULL THEN
		SELECT array_agg(b.name), array_agg(t.type), array_agg(d.n), array_agg(b.budget),
		       array_agg((SELECT j.scheduled_at FROM jobvisor.jobs j
		                  WHERE j.status = 'pending' AND j.queue = b.name AND j.type = t.type
		                  ORDER BY j.scheduled_at DESC
		                  LIMIT 1) > v_now)
		INTO v_dq, v_dt, v_dn, v_db, v_dl
		FROM unnest(v_bq, v_bn) AS b(name, budget)
		CROSS JOIN (SELECT DISTINCT u.type FROM unnest(p_types) AS u(type)) t
		CROSS JOIN LATERAL (
			SELECT count(*)::integer AS n FROM (
				SELECT 1 FROM jobvisor.jobs j
				WHERE j.status = 'pending' AND j.queue = b.name AND j.type = t.type
				  AND j.scheduled_at <= v_now
				ORDER BY j.scheduled_at
				LIMIT b.budget) x
		) d
		WHERE d.n > 0;
		v_later := coalesce(true = ANY (v_dl), false);
	END IF;

	IF v_bq IS NULL OR v_dq IS NULL THEN
		-- every queue served is paused or at a limit, or nothing of the
		-- served types is due in them
		v_claimed := 0;
	-- The fast path: no user's job is pending and no rate limit is split by
	-- user or type, so there is nobody to be fair between and each queue's
	-- budget is one number; and one queue and type has due jobs (every
	-- processor's case without queues: and with one type, or with one
	-- type busy). One walk of that queue's and type's due jobs, locking
	-- as it goes (SKIP LOCKED), up to the due ones, updated by ctid. (Not
	-- with a rate limit, even one with room for every slot: its starts
	-- must be recorded. 016 took this path then, and such a limit never
	-- held.)
	--
	-- Fewer due than slots (a processor that keeps up): every due job is
	-- taken, in any order, so they are read in due order
	-- (jobs_pending_due_idx), a range of the due ones only. More: the
	-- best by claim order (jobs_claim_queue_idx), locked as they are
	-- read; or, where jobs of the queue and type are scheduled later,
	-- read a priority at a time (claim_walk), then locked where they were
	-- read. (Until 026 every claim walked in claim order, and until 027
	-- a backlog's did: a million jobs scheduled for tomorrow at a higher
	-- priority made each claim of today's jobs take 50-110 ms.)
	ELSIF NOT v_cut AND NOT v_rated AND cardinality(v_dq) = 1
	      AND v_first IS NULL THEN
		RETURN QUERY
		WITH locked AS (
			SELECT a.ctid FROM (
				SELECT j.ctid FROM jobvisor.jobs j
				WHERE v_dn[1] < v_db[1]
				  AND j.status = 'pending' AND j.user_id IS NULL AND j.queue = v_dq[1]
				  AND j.type = v_dt[1] AND j.scheduled_at <= v_now
				ORDER BY j.scheduled_at
				LIMIT v_dn[1]
				FOR UPDATE OF j SKIP LOCKED
			) a
			UNION ALL
			SELECT b.ctid FROM (
				SELECT j.ctid FROM jobvisor.jobs j
				WHERE v_dn[1] >= v_db[1] AND NOT v_dl[1]
				  AND j.status = 'pending' AND j.user_id IS NULL AND j.queue = v_dq[1]
				  AND j.type = v_dt[1] AND j.scheduled_at <= v_now
				ORDER BY j.priority DESC, j.scheduled_at, j.id
				LIMIT v_dn[1]
				FOR UPDATE OF j SKIP LOCKED
			) b
			UNION ALL
			SELECT c.ctid FROM (
				SELECT j.ctid FROM jobvisor.jobs j
				WHERE v_dn[1] >= v_db[1] AND v_dl[1]
				  AND j.ctid = ANY (ARRAY(SELECT w.row_ctid
				                          FROM jobvisor.claim_walk(v_dq[1], v_dt[1], v_dn[1],
				                                                   v_now, true) w))
				  AND j.status = 'pending' AND j.user_id IS NULL
				FOR UPDATE OF j SKIP LOCKED
			) c
		)
		UPDATE jobvisor.jobs j
		SET status = 'running', locked_by = p_processor, attempts = j.attempts + 1,
		    started_at = coalesce(p_now, clock_timestamp()), updated_at = v_now
		WHERE j.ctid = ANY (ARRAY(SELECT l.ctid FROM locked l))
		RETURNING j.id, j.type, j.user_id, j.payload, j.attempts, j.max_attempts,
		          j.timeout_seconds, NULL::bigint, j.queue;
		GET DIAGNOSTICS v_claimed = ROW_COUNT;
	ELSIF NOT v_split AND v_first IS NULL THEN
		RETURN QUERY
		WITH clk AS MATERIALIZED (
			SELECT coalesce(p_now, clock_timestamp()) AS t
		),
		bud AS (
			SELECT * FROM unnest(v_bq, v_bn, v_ba, v_bp, v_bpart)
			    AS b(name, budget, rate_allowed, rate_period_seconds, rate_partition)
		),
		-- Each served queue's and type's due jobs in claim order, up to
		-- how many are due; the queue's budget cuts them, and the best
		-- p_slots of all are locked (SKIP LOCKED) and started. (Picked
		-- first, locked after: locking in each walk would lock each
		-- type's share of the budget, to start the best of them only.)
		cand AS (
			SELECT c.id, c.queue, c.priority, c.scheduled_at,
			       row_number() OVER (PARTITION BY c.queue
			                          ORDER BY c.priority DESC, c.scheduled_at, c.id) AS nq
			FROM unnest(v_dq, v_dt, v_dn, v_db, v_dl) AS d(queue, type, n, budget, later)
			CROSS JOIN LATERAL (
				-- (fewer due than the budget: all of them, in due order;
				-- more: the best in claim order, as in the fast path)
				SELECT a.* FROM (
					SELECT j.id, j.queue, j.priority, j.scheduled_at FROM jobvisor.jobs j
					WHERE d.n < d.budget
					  AND j.status = 'pending' AND j.user_id IS NULL AND j.queue = d.queue
					  AND j.type = d.type AND j.scheduled_at <= v_now
					ORDER BY j.scheduled_at
					LIMIT d.n
				) a
				UNION ALL
				SELECT w.id, d.queue, w.priority, w.scheduled_at
				FROM jobvisor.claim_walk(d.queue, d.type, d.n, v_now, d.later) w
				WHERE d.n >= d.budget
			) c
		),
		pick AS (
			SELECT c.id FROM cand c JOIN bud b ON b.name = c.queue
			WHERE c.nq <= b.budget
			ORDER BY c.priority DESC, c.scheduled_at, c.id
			LIMIT p_slots
		),
		-- (= ANY (ARRAY(...)): fetched by primary key, as in the fair path)
		locked AS (
			SELECT j.id FROM jobvisor.jobs j
			WHERE j.id = ANY (ARRAY(SELECT pick.id FROM pick)) AND j.status = 'pending'
			FOR UPDATE OF j SKIP LOCKED
		),
		upd AS (
			UPDATE jobvisor.jobs j
			SET status = 'running', locked_by = p_processor, attempts = j.attempts + 1,
			    started_at = (SELECT clk.t FROM clk), updated_at = v_now
			WHERE j.id = ANY (ARRAY(SELECT l.id FROM locked l))
			RETURNING j.id, j.type, j.user_id, j.payload, j.attempts, j.max_attempts,
			          j.timeout_seconds, j.queue, j.started_at
		),
		st AS (
			INSERT INTO jobvisor.queue_starts (queue, part, started_at, n)
			SELECT u.queue, '', min(u.started_at), count(*)
			FROM upd u JOIN bud b ON b.name = u.queue
			WHERE b.rate_allowed IS NOT NULL
			GROUP BY u.queue
			RETURNING queue, part, n
		),
		win AS (
			INSERT INTO jobvisor.queue_windows AS w (queue, part, n)
			SELECT st.queue, st.part, st.n FROM st
			ON CONFLICT (queue, part) DO UPDATE SET n = w.n + EXCLUDED.n
		)
		SELECT u.id, u.type, u.user_id, u.payload, u.attempts, u.max_attempts,
		       u.timeout_seconds, NULL::bigint, u.queue
		FROM upd u;
		GET DIAGNOSTICS v_claimed = ROW_COUNT;
	ELSE
	-- When no queue's budget or rate partition's room can cut the
	-- candidates, ranking them per queue and partition (two sorts of up to
	-- p_slots candidates per user) is left out.
	v_prefix := CASE WHEN v_cut THEN NULL ELSE p_slots END;
	-- Turns are kept from claim to claim only while some user has a
	-- weight: with every weight 1, each claim's round-robin from the
	-- clock (every user's next job before anyone's second) is the whole
	-- of fairness, as before weights, and writes nothing.
	v_weighted := EXISTS (SELECT 1 FROM jobvisor.user_limits l WHERE l.weight > 1);
	-- The users this claim takes candidates from: up to v_window (twice
	-- the slots, at least 16, at most 1 000) with room under their limit
	-- (their user_limits row's max_running, NULL there meaning none;
	-- without a row, p_per_user, 0 meaning none) and a job due in the
	-- served queues and types. They are looked at in user_id order from
	-- the one after where the last claim stopped (fair_clock.next_user),
	-- round past the last to the first and on to that one: a loose scan of
	-- jobs_claim_user_idx, a user a step, at most 1 000 steps. So a claim's
	-- work follows its slots, not the number of users with pending jobs,
	-- and every user comes round in turn. (Until 025 every claim looked at
	-- the first 1 000 users by user_id: 18 ms a claim of 10 among 1 000
	-- users, under the lock every claim waits for, and users after the
	-- first 1 000 got nothing until those had run out of jobs.)
	v_window := least(greatest(2 * p_slots, 16), 1000);
	SELECT f.next_user INTO v_from FROM jobvisor.fair_clock f;
	v_users := '{}';
	v_rooms := '{}';
	v_lap := 0;
	v_seen := 0;
	v_more := false;
	IF v_from IS NOT NULL THEN
		SELECT j.user_id INTO v_uid FROM jobvisor.jobs j
		WHERE j.status = 'pending' AND j.user_id IS NOT NULL AND j.user_id > v_from
		ORDER BY j.user_id
		LIMIT 1;
	END IF;
	IF v_uid IS NULL THEN
		v_uid := v_first;
		v_lap := 1;
	END IF;
	LOOP
		EXIT WHEN v_uid IS NULL OR (v_lap = 1 AND v_uid > v_from); -- come round
		v_seen := v_seen + 1;
		-- (one statement a user: the room, a due job, the next user; the
		-- user's jobs read in the queues and types with due jobs only, so
		-- a backlog of theirs this processor does not serve is never
		-- walked. Where jobs are scheduled later, whether one is due is
		-- asked of claim_walk_user below, a statement of its own: the
		-- larger plan in this one cost every user looked at a fifth more
		-- when nothing is.)
		SELECT r.n, r.n > 0 AND (v_later OR EXISTS (
		           SELECT 1 FROM unnest(v_dq, v_dt) AS d(queue, type)
		           CROSS JOIN LATERAL (
		               SELECT 1 FROM jobvisor.jobs j
		               WHERE j.status = 'pending' AND j.user_id = v_uid AND j.queue = d.queue
		                 AND j.type = d.type AND j.scheduled_at <= v_now
		               ORDER BY j.priority DESC, j.scheduled_at, j.id
		               LIMIT 1) x)),
		       (SELECT j.user_id FROM jobvisor.jobs j
		        WHERE j.status = 'pending' AND j.user_id IS NOT NULL AND j.user_id > v_uid
		        ORDER BY j.user_id
		        LIMIT 1)
		INTO v_room, v_ok, v_next
		FROM (SELECT CASE WHEN lim.n IS NULL THEN p_slots
		                  ELSE lim.n - (SELECT count(*)::integer FROM jobvisor.jobs r
		                                WHERE r.status = 'running' AND r.user_id = v_uid) END AS n
		      FROM (SELECT CASE WHEN l.user_id IS NOT NULL THEN l.max_running
		                        ELSE nullif(p_per_user, 0) END AS n
		            FROM (SELECT 1) one
		            LEFT JOIN jobvisor.user_limits l ON l.user_id = v_uid) lim) r;
		IF v_ok AND v_later THEN
			v_ok := EXISTS (
				SELECT 1 FROM unnest(v_dq, v_dt, v_dl) AS d(queue, type, later)
				CROSS JOIN LATERAL jobvisor.claim_walk_user(v_uid, d.queue, d.type, 1, v_now,
				                                            d.later) x);
		END IF;
		IF v_ok THEN
			v_users := v_users || v_uid;
			v_rooms := v_rooms || v_room;
		END IF;
		IF cardinality(v_users) >= v_window OR v_seen >= 1000 THEN
			v_more := true;
			EXIT;
		END IF;
		IF v_next IS NULL AND v_lap = 0 THEN
			v_next := v_first; -- past the last user: round to the first
			v_lap := 1;
		END IF;
		v_uid := v_next;
	END LOOP;
	-- Then, in one statement: each user's next jobs in claim order in the
	-- served queues, up to their room; the jobs of no user as one more
	-- stream. Each candidate's key is its user's pass (user_turns, at least
	-- the clock) plus its rank over the user's weight, so a user of weight
	-- N has N turns per round, and rounds carry over from claim to claim.
	-- Then each queue's budget and each rate partition's room cut the
	-- candidates, best first, and the best p_slots are locked and started.
	-- The next claim's look begins after the last user that got a job here
	-- (the last looked at, if none did), when this one's stopped early.
	RETURN QUERY
	WITH
	clk AS MATERIALIZED (
		SELECT coalesce(p_now, clock_timestamp()) AS t, f.vtime
		FROM jobvisor.fair_clock f
		LIMIT 1
	),
	bud AS (
		SELECT * FROM unnest(v_bq, v_bn, v_ba, v_bp, v_bpart)
		    AS b(name, budget, rate_allowed, rate_period_seconds, rate_partition)
	),
	allowance AS MATERIALIZED (
		SELECT u.uid, coalesce(l.weight, 1) AS w,
		       greatest(coalesce(tn.pass, 0), (SELECT clk.vtime FROM clk)) AS pass, u.n
		FROM unnest(v_users, v_rooms) AS u(uid, n)
		LEFT JOIN jobvisor.user_limits l ON l.user_id = u.uid
		LEFT JOIN jobvisor.user_turns tn ON tn.user_id = u.uid
	),
	cand AS (
		SELECT c.id, c.queue, c.user_id, c.type, c.priority, c.scheduled_at,
		       a.pass + (c.rk - 1)::double precision / a.w AS key
		FROM allowance a
		CROSS JOIN LATERAL (
			-- (the user's next jobs in each queue and type with due jobs,
			-- the best of them)
			SELECT u.*, row_number() OVER (ORDER BY u.priority DESC, u.scheduled_at, u.id) AS rk
			FROM unnest(v_dq, v_dt, v_dl) AS d(queue, type, later)
			CROSS JOIN LATERAL (
				SELECT w.id, d.queue, a.uid AS user_id, d.type, w.priority, w.scheduled_at
				FROM jobvisor.claim_walk_user(a.uid, d.queue, d.type, least(a.n, p_slots),
				                              v_now, d.later) w
			) u
			ORDER BY u.priority DESC, u.scheduled_at, u.id
			LIMIT least(a.n, p_slots)
		) c
		WHERE a.n > 0
		UNION ALL
		SELECT c.id, c.queue, NULL, c.type, c.priority, c.scheduled_at,
		       (SELECT clk.vtime FROM clk)
		       + (row_number() OVER (ORDER BY c.priority DESC, c.scheduled_at, c.id) - 1)
		FROM unnest(v_dq, v_dt, v_dn, v_db, v_dl) AS d(queue, type, n, budget, later)
		CROSS JOIN LATERAL (
			-- (up to the queue's and type's due jobs, as in the fast path:
			-- all of them in due order when fewer are due than the budget)
			SELECT a.* FROM (
				SELECT j.id, j.queue, j.type, j.priority, j.scheduled_at
				FROM jobvisor.jobs j
				WHERE d.n < d.budget
				  AND j.status = 'pending' AND j.user_id IS NULL AND j.queue = d.queue
				  AND j.type = d.type AND j.scheduled_at <= v_now
				ORDER BY j.scheduled_at
				LIMIT d.n
			) a
			UNION ALL
			SELECT w.id, d.queue, d.type, w.priority, w.scheduled_at
			FROM jobvisor.claim_walk(d.queue, d.type, d.n, v_now, d.later) w
			WHERE d.n >= d.budget
		) c
	),
	parts AS (
		SELECT c.*, b.budget, b.rate_allowed, b.rate_period_seconds,
		       CASE b.rate_partition WHEN 'user_id' THEN coalesce(c.user_id, '')
		                             WHEN 'type' THEN c.type END AS part
		FROM cand c JOIN bud b ON b.name = c.queue
	),
	room AS (
		SELECT p.queue, p.part,
		       p.rate_allowed - coalesce((SELECT w.n FROM jobvisor.queue_windows w
		                                  WHERE w.queue = p.queue AND w.part = p.part), 0) AS n
		FROM (SELECT DISTINCT parts.queue, parts.part, parts.rate_allowed,
		                      parts.rate_period_seconds
		      FROM parts WHERE parts.part IS NOT NULL) p
	),
	-- (when no limit can bind, the best p_slots are all there is to rank;
	-- v_prefix NULL: LIMIT ALL)
	best AS (
		SELECT p.* FROM parts p
		ORDER BY p.priority DESC, p.key, p.scheduled_at, p.id
		LIMIT v_prefix
	),
	ranked AS (
		SELECT p.id, p.key, p.priority, p.scheduled_at, p.budget, r.n AS room,
		       row_number() OVER (PARTITION BY p.queue
		                          ORDER BY p.priority DESC, p.key, p.scheduled_at, p.id) AS nq,
		       row_number() OVER (PARTITION BY p.queue, p.part
		                          ORDER BY p.priority DESC, p.key, p.scheduled_at, p.id) AS np
		FROM best p
		LEFT JOIN room r ON r.queue = p.queue AND r.part = p.part
	),
	pick AS (
		SELECT r.id, r.key FROM ranked r
		WHERE r.nq <= r.budget AND (r.room IS NULL OR r.np <= r.room)
		ORDER BY r.priority DESC, r.key, r.scheduled_at, r.id
		LIMIT p_slots
	),
	-- (= ANY (ARRAY(...)), not IN or a join: the planner then fetches the
	-- picked rows by primary key instead of hashing the whole table)
	locked AS (
		SELECT j.id FROM jobvisor.jobs j
		WHERE j.id = ANY (ARRAY(SELECT pick.id FROM pick)) AND j.status = 'pending'
		FOR UPDATE OF j SKIP LOCKED
	),
	upd AS (
		UPDATE jobvisor.jobs j
		SET status = 'running', locked_by = p_processor, attempts = j.attempts + 1,
		    started_at = (SELECT clk.t FROM clk), updated_at = v_now
		WHERE j.id = ANY (ARRAY(SELECT l.id FROM locked l))
		RETURNING j.id, j.type, j.user_id, j.payload, j.attempts, j.max_attempts,
		          j.timeout_seconds, j.queue, j.started_at
	),
	st AS (
		INSERT INTO jobvisor.queue_starts (queue, part, started_at, n)
		SELECT u.queue, u.part, min(u.started_at), count(*)
		FROM (SELECT u.queue, u.started_at,
		             CASE b.rate_partition WHEN 'user_id' THEN coalesce(u.user_id, '')
		                                   WHEN 'type' THEN u.type ELSE '' END AS part
		      FROM upd u JOIN bud b ON b.name = u.queue
		      WHERE b.rate_allowed IS NOT NULL) u
		GROUP BY u.queue, u.part
		RETURNING queue, part, n
	),
	win AS (
		INSERT INTO jobvisor.queue_windows AS w (queue, part, n)
		SELECT st.queue, st.part, st.n FROM st
		ON CONFLICT (queue, part) DO UPDATE SET n = w.n + EXCLUDED.n
	),
	turns AS (
		INSERT INTO jobvisor.user_turns AS tn (user_id, pass)
		SELECT a.uid, a.pass + count(*)::double precision / a.w
		FROM upd u JOIN allowance a ON a.uid = u.user_id
		WHERE v_weighted
		GROUP BY a.uid, a.pass, a.w
		ON CONFLICT (user_id) DO UPDATE SET pass = EXCLUDED.pass
	),
	tick AS (
		UPDATE jobvisor.fair_clock f
		SET vtime = CASE WHEN v_weighted
		                 THEN greatest(f.vtime, (SELECT min(p.key) FROM pick p
		                                         WHERE p.id = ANY (ARRAY(SELECT u.id FROM upd u))))
		                 ELSE f.vtime END,
		    next_user = CASE WHEN v_more
		                     THEN coalesce((SELECT w.uid
		                                    FROM unnest(v_users) WITH ORDINALITY AS w(uid, k)
		                                    WHERE w.uid = ANY (ARRAY(SELECT u.user_id FROM upd u))
		                                    ORDER BY w.k DESC
		                                    LIMIT 1), v_uid)
		                     ELSE f.next_user END
		WHERE (v_weighted AND EXISTS (SELECT 1 FROM upd)) OR v_more
	)
	SELECT u.id, u.type, u.user_id, u.payload, u.attempts, u.max_attempts, u.timeout_seconds,
	       NULL::bigint, u.queue
	FROM upd u;
	GET DIAGNOSTICS v_claimed = ROW_COUNT;
	-- (a pass at or below the clock counts as the clock: the row says
	-- nothing; the clock only moves up, so this keeps the table to the
	-- users ahead of it)
	IF v_weighted THEN
		DELETE FROM jobvisor.user_turns tn
		WHERE tn.pass <= (SELECT f.vtime FROM jobvisor.fair_clock f);
	ELSE
		-- (every weight 1 again: what was kept means nothing now)
		DELETE FROM jobvisor.user_turns;
	END IF;
	END IF;

	IF v_claimed < p_slots THEN
		-- When to look again. Pending jobs in the served queues: the next
		-- not yet due; and, where a rate limit holds due jobs back, the
		-- window's next opening (its oldest start leaves it). Each served
		-- queue's and type's first by jobs_pending_due_idx (queue, type,
		-- scheduled_at): a backlog in a queue or of a type this processor
		-- does not serve is never walked. (Every job's queue has its row
		-- in jobvisor.queues.)
		SELECT min(o.due) INTO v_due
		FROM jobvisor.queues q
		CROSS JOIN (SELECT DISTINCT u.type FROM unnest(p_types) AS u(type)) t
		CROSS JOIN LATERAL (
			SELECT j.scheduled_at AS due FROM jobvisor.jobs j
			WHERE j.status = 'pending' AND j.queue = q.name AND j.type = t.type
			ORDER BY j.scheduled_at
			LIMIT 1
		) o
		WHERE p_queues IS NULL OR q.name = ANY (p_queues);
		IF v_due IS NULL THEN
			RETURN QUERY
			SELECT NULL::bigint, NULL::text, NULL::text, NULL::jsonb, NULL::integer,
			       NULL::integer, NULL::integer, NULL::bigint, NULL::text;
			RETURN;
		END IF;
		IF v_due <= v_now THEN
			-- due jobs held back: the next one not yet due, if any
			SELECT min(o.due) INTO v_due
			FROM jobvisor.queues q
			CROSS JOIN (SELECT DISTINCT u.type FROM unnest(p_types) AS u(type)) t
			CROSS JOIN LATERAL (
				SELECT j.scheduled_at AS due FROM jobvisor.jobs j
				WHERE j.status = 'pending' AND j.queue = q.name AND j.type = t.type
				  AND j.scheduled_at > v_now
				ORDER BY j.scheduled_at
				LIMIT 1
			) o
			WHERE p_queues IS NULL OR q.name = ANY (p_queues);
		END IF;
		IF v_rated THEN
			-- (only a window at its limit holds due jobs back: its oldest
			-- start leaving it is its next opening)
			SELECT min(o.first + make_interval(secs => q.rate_period_seconds)) INTO v_open
			FROM jobvisor.queues q
			JOIN jobvisor.queue_windows w ON w.queue = q.name AND w.n >= q.rate_allowed
			CROSS JOIN LATERAL (
				SELECT min(t.started_at) AS first FROM jobvisor.queue_starts t
				WHERE t.queue = w.queue AND t.part = w.part
			) o
			WHERE q.rate_allowed IS NOT NULL AND NOT q.paused
			  AND (p_queues IS NULL OR q.name = ANY (p_queues));
		END IF;
		RETURN QUERY
		SELECT NULL::bigint, NULL::text, NULL::text, NULL::jsonb, NULL::integer,
		       NULL::integer, NULL::integer,
		       CASE WHEN least(v_due, v_open) IS NULL THEN 0
		            ELSE greatest(1, ceil(extract(epoch FROM least(v_due, v_open) - v_now)
		                                  * 1000))::bigint END,
		       NULL::text;
	END IF;
END
$$;

-- (CREATE OR REPLACE keeps no SET clause given by ALTER: 024's again)
ALTER FUNCTION jobvisor.claim(bigint, integer, integer, text[], timestamptz, integer, text[], text[],
                              integer[])
	SET plan_cache_mode = force_generic_plan;
