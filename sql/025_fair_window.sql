-- 025_fair_window.sql -- the fair claim looks at a window of users, in
-- turn, instead of the first 1 000.
--
-- claim()'s fair path (some user has a pending job) took, every claim,
-- the first 1 000 users with pending jobs by user_id: each one's room
-- under their limit and next jobs, then the best of all of them. Measured
-- on a quiet machine, 1 000 users with 200 due jobs each: 18 ms a claim of
-- 10, under the advisory lock every processor's claim waits for, so the
-- whole cluster made at most ~55 claims a second. And with 3 000 users,
-- 300 claims of 10 (each finished before the next) served the first 1 000
-- users only: the other 2 000 waited until those had run out of jobs.
--
-- Now a claim takes candidates from a window of users with room and a due
-- job -- twice its slots, at least 16, at most 1 000 -- looked at in
-- user_id order from where the last claim stopped, round past the last to
-- the first (fair_clock.next_user). Within the window the ranking is as
-- before: priority, then turns (weights), then the oldest.
--
-- And whether any user's job is pending -- the question that picks the
-- fair path -- was an EXISTS that the planner made a scan of the table
-- wherever most jobs have a user: it passed every finished job before the
-- first pending one, at every claim. It is now the first user in
-- jobs_claim_user_idx's order, read there.
--
-- And claim_budgets() counted a limited queue's running jobs three times
-- for each limit (its subquery was pulled up into claim()'s statement and
-- the count copied to each use): a claim of 10 with 20 000 jobs running
-- in the queue took 32 ms, now 6. Its budgets are a materialized CTE.
--
-- Applied while processors run: the new column is one ALTER of a one-row
-- table, and claim() keeps its signature.

ALTER TABLE jobvisor.fair_clock ADD COLUMN next_user text;
COMMENT ON COLUMN jobvisor.fair_clock.next_user
	IS 'the user after whom the next fair claim begins its look at users (NULL: the first)';

-- Each served queue's budget, computed once. As a subquery, it was pulled
-- up into claim()'s statement and its expression copied to each place
-- that used it (the budget itself, the test for a budget left, whether
-- it can cut candidates): every running job of a queue with a limit was
-- counted six times a claim (each count three times). A materialized CTE
-- is not pulled up.
CREATE OR REPLACE FUNCTION jobvisor.claim_budgets(p_processor bigint, p_slots integer, p_queues text[],
                                       p_limit_queues text[], p_limits integer[],
                                       p_at timestamptz)
RETURNS TABLE (name text, budget integer, rate_allowed integer, rate_period_seconds integer,
               rate_partition text)
LANGUAGE sql STABLE AS $$
	WITH b AS MATERIALIZED (
		SELECT q.name, q.rate_allowed, q.rate_period_seconds,
		       CASE WHEN q.rate_allowed IS NULL THEN 'none' ELSE q.rate_partition END
		           AS rate_partition,
		       least(p_slots,
		             CASE WHEN l.n IS NOT NULL
		                  THEN l.n - (SELECT count(*)::integer FROM jobvisor.jobs r
		                              WHERE r.status = 'running' AND r.locked_by = p_processor
		                                AND r.queue = q.name) END,
		             CASE WHEN q.global_concurrency IS NOT NULL
		                  THEN q.global_concurrency
		                       - (SELECT count(*)::integer FROM jobvisor.jobs r
		                          WHERE r.status = 'running' AND r.queue = q.name) END,
		             CASE WHEN q.rate_allowed IS NOT NULL AND q.rate_partition = 'none'
		                  THEN q.rate_allowed
		                       - coalesce((SELECT w.n FROM jobvisor.queue_windows w
		                                   WHERE w.queue = q.name AND w.part = ''), 0) END)
		           AS budget
		FROM jobvisor.queues q
		LEFT JOIN unnest(p_limit_queues, p_limits) AS l(name, n) ON l.name = q.name
		WHERE NOT q.paused AND (p_queues IS NULL OR q.name = ANY (p_queues))
	)
	SELECT b.name, b.budget, b.rate_allowed, b.rate_period_seconds, b.rate_partition
	FROM b
	WHERE b.budget > 0
$$;

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
	v_due_n integer;   -- due jobs in the one queue of the fast path, up to p_slots
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

	IF v_bq IS NULL THEN
		v_claimed := 0; -- every queue served is paused or at a limit
	-- The fast path: no user's job is pending and no rate limit is split by
	-- user or type, so there is nobody to be fair between and each queue's
	-- budget is one number. One walk of each served queue's jobs in claim
	-- order (jobs_claim_queue_idx), locking as it goes (SKIP LOCKED), the
	-- best p_slots of them over all queues, updated by ctid.
	ELSIF NOT v_cut AND NOT v_rated AND cardinality(v_bq) = 1
	      AND v_first IS NULL THEN
		-- The fast path of one queue and no limit (every processor's case
		-- without queues:): the walk as it was before queues. (Not with a
		-- rate limit, even one with room for every slot: its starts must be
		-- recorded. 016 took this path then, and such a limit never held.)
		-- The walk stops at the last due job: without a bound it would
		-- pass every job of the queue scheduled later (delayed ones,
		-- retries waiting out their backoff) whenever fewer than p_slots
		-- are due, under the lock every claim waits for. How many are due,
		-- up to p_slots, from jobs_pending_due_idx (queue, scheduled_at).
		SELECT count(*)::integer INTO v_due_n
		-- (In due order: the index's own, so that no estimate of how many
		-- are due can make a scan of the table look cheaper.)
		FROM (SELECT 1 FROM jobvisor.jobs j
		      WHERE j.status = 'pending' AND j.queue = v_bq[1] AND j.scheduled_at <= v_now
		      ORDER BY j.scheduled_at
		      LIMIT p_slots) d;
		RETURN QUERY
		WITH locked AS (
			SELECT j.ctid FROM jobvisor.jobs j
			WHERE j.status = 'pending' AND j.user_id IS NULL AND j.queue = v_bq[1]
			  AND j.scheduled_at <= v_now AND j.type = ANY (p_types)
			ORDER BY j.priority DESC, j.scheduled_at, j.id
			LIMIT v_due_n
			FOR UPDATE OF j SKIP LOCKED
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
		locked AS (
			SELECT c.ctid FROM bud
			CROSS JOIN LATERAL (
				SELECT j.ctid, j.priority, j.scheduled_at, j.id FROM jobvisor.jobs j
				WHERE j.status = 'pending' AND j.user_id IS NULL AND j.queue = bud.name
				  AND j.scheduled_at <= v_now AND j.type = ANY (p_types)
				ORDER BY j.priority DESC, j.scheduled_at, j.id
				-- (up to the queue's due jobs, as in the fast path)
				LIMIT (SELECT count(*) FROM (
				         SELECT 1 FROM jobvisor.jobs d
				         WHERE d.status = 'pending' AND d.queue = bud.name
				           AND d.scheduled_at <= v_now
				         ORDER BY d.scheduled_at
				         LIMIT bud.budget) d)
				FOR UPDATE OF j SKIP LOCKED
			) c
			ORDER BY c.priority DESC, c.scheduled_at, c.id
			LIMIT p_slots
		),
		upd AS (
			UPDATE jobvisor.jobs j
			SET status = 'running', locked_by = p_processor, attempts = j.attempts + 1,
			    started_at = (SELECT clk.t FROM clk), updated_at = v_now
			WHERE j.ctid = ANY (ARRAY(SELECT l.ctid FROM locked l))
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
		-- (one statement a user: the room, a due job, the next user)
		SELECT r.n, r.n > 0 AND EXISTS (
		           SELECT 1 FROM jobvisor.jobs j
		           WHERE j.status = 'pending' AND j.user_id = v_uid AND j.scheduled_at <= v_now
		             AND j.type = ANY (p_types) AND j.queue = ANY (v_bq)),
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
			SELECT j.id, j.queue, j.user_id, j.type, j.priority, j.scheduled_at,
			       row_number() OVER (ORDER BY j.priority DESC, j.scheduled_at, j.id) AS rk
			FROM jobvisor.jobs j
			WHERE j.status = 'pending' AND j.user_id = a.uid AND j.scheduled_at <= v_now
			  AND j.type = ANY (p_types) AND j.queue = ANY (ARRAY(SELECT b.name FROM bud b))
			ORDER BY j.priority DESC, j.scheduled_at, j.id
			LIMIT least(a.n, p_slots)
		) c
		WHERE a.n > 0
		UNION ALL
		SELECT c.id, c.queue, NULL, c.type, c.priority, c.scheduled_at,
		       (SELECT clk.vtime FROM clk)
		       + (row_number() OVER (ORDER BY c.priority DESC, c.scheduled_at, c.id) - 1)
		FROM bud
		CROSS JOIN LATERAL (
			SELECT j.id, j.queue, j.type, j.priority, j.scheduled_at
			FROM jobvisor.jobs j
			WHERE j.status = 'pending' AND j.user_id IS NULL AND j.queue = bud.name
			  AND j.scheduled_at <= v_now AND j.type = ANY (p_types)
			ORDER BY j.priority DESC, j.scheduled_at, j.id
			-- (up to the queue's due jobs, as in the fast path)
			LIMIT (SELECT count(*) FROM (
			         SELECT 1 FROM jobvisor.jobs d
			         WHERE d.status = 'pending' AND d.queue = bud.name
			           AND d.scheduled_at <= v_now
			         ORDER BY d.scheduled_at
			         LIMIT least(bud.budget, p_slots)) d)
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
		-- queue's first by jobs_pending_due_idx (queue, scheduled_at): a
		-- backlog in a queue this processor does not serve is never
		-- walked. (Every job's queue has its row in jobvisor.queues.)
		SELECT min(o.due) INTO v_due
		FROM jobvisor.queues q
		CROSS JOIN LATERAL (
			SELECT j.scheduled_at AS due FROM jobvisor.jobs j
			WHERE j.status = 'pending' AND j.queue = q.name AND j.type = ANY (p_types)
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
			CROSS JOIN LATERAL (
				SELECT j.scheduled_at AS due FROM jobvisor.jobs j
				WHERE j.status = 'pending' AND j.queue = q.name AND j.scheduled_at > v_now
				  AND j.type = ANY (p_types)
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
