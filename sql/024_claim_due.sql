-- 024_claim_due.sql -- the claim reads only the served queues' due jobs.
--
-- Two walks in claim() grew with jobs it had no business reading, and both
-- ran under the lock every processor's claim waits for:
--
-- * When to look again (the claim's last row, when it filled fewer than
--   its slots) was the first pending job by jobs_pending_due_idx
--   (scheduled_at), of the served queues and types. A processor serving a
--   quiet queue walked past every job of another queue's backlog: with ten
--   million jobs pending in 'default', a claim of an empty queue took seven
--   seconds, and every other processor's claim waited for it.
-- * The walk in claim order (jobs_claim_queue_idx: queue, priority,
--   scheduled_at) filters out the jobs not yet due. Whenever fewer jobs
--   were due than the claim had slots -- the usual case of a processor
--   that keeps up -- it passed every job of the queue scheduled later
--   (delayed jobs, retries waiting out their backoff): 100 000 delayed jobs
--   made each claim read 100 000 index entries.
--
-- jobs_pending_due_idx becomes (queue, scheduled_at), the same size and
-- the same cost to keep: each served queue's next job is its first entry,
-- and how many jobs are due in a queue (up to the slots) bounds the walk,
-- which then stops at the last of them. The oldest due job of all queues
-- (alerts, /metrics) is each queue's first entry: jobvisor.oldest_due().
--
-- And claim() is planned once per session (its SET clause, at the end).
--
-- Applied to a populated database while processors run: the new index is
-- built concurrently under a temporary name before the transaction, which
-- drops the old one and renames it. Processors of version 23 call claim()
-- with the same signature and get the new one; their alert and /metrics
-- queries for the oldest due job read the whole index until they are
-- upgraded (a query a minute and one per scrape, not the claim).

CREATE INDEX CONCURRENTLY IF NOT EXISTS jobs_pending_due_024_idx
	ON jobvisor.jobs (queue, scheduled_at)
	WHERE status = 'pending';

-- @transaction

DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
	           WHERE i.indrelid = 'jobvisor.jobs'::regclass AND NOT i.indisvalid
	             AND c.relname = 'jobs_pending_due_024_idx') THEN
		RAISE EXCEPTION 'index jobs_pending_due_024_idx is still being built'
			USING ERRCODE = 'lock_not_available';
	END IF;
END
$$;

SELECT pg_advisory_xact_lock(8231457790154011); -- (no claim while the index is swapped)
DROP INDEX jobvisor.jobs_pending_due_idx;
ALTER INDEX jobvisor.jobs_pending_due_024_idx RENAME TO jobs_pending_due_idx;

-- The oldest due pending job's due time, of every queue (NULL: none due).
CREATE FUNCTION jobvisor.oldest_due(p_now timestamptz DEFAULT now())
RETURNS timestamptz
LANGUAGE sql STABLE AS $$
	SELECT min(o.due)
	FROM jobvisor.queues q
	CROSS JOIN LATERAL (
		SELECT j.scheduled_at AS due FROM jobvisor.jobs j
		WHERE j.status = 'pending' AND j.queue = q.name AND j.scheduled_at <= p_now
		ORDER BY j.scheduled_at
		LIMIT 1
	) o
$$;

COMMENT ON FUNCTION jobvisor.oldest_due(timestamptz)
	IS 'the due time of the oldest due pending job, each queue''s first by jobs_pending_due_idx';

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

	IF v_bq IS NULL THEN
		v_claimed := 0; -- every queue served is paused or at a limit
	-- The fast path: no user's job is pending and no rate limit is split by
	-- user or type, so there is nobody to be fair between and each queue's
	-- budget is one number. One walk of each served queue's jobs in claim
	-- order (jobs_claim_queue_idx), locking as it goes (SKIP LOCKED), the
	-- best p_slots of them over all queues, updated by ctid.
	ELSIF NOT v_cut AND NOT v_rated AND cardinality(v_bq) = 1
	      AND NOT EXISTS (SELECT 1 FROM jobvisor.jobs j
	                      WHERE j.status = 'pending' AND j.user_id IS NOT NULL) THEN
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
	ELSIF NOT v_split AND NOT EXISTS (SELECT 1 FROM jobvisor.jobs j
	                                  WHERE j.status = 'pending' AND j.user_id IS NOT NULL) THEN
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
	-- The fair path. Users with pending jobs (a loose scan of
	-- jobs_claim_user_idx), each with the room under their limit (their
	-- user_limits row's max_running, NULL there meaning none; without a
	-- row, p_per_user, 0 meaning none) and their next jobs in
	-- claim order in the served queues; the jobs of no user as one more
	-- stream. Each candidate's key is its user's pass (user_turns, at least
	-- the clock) plus its rank over the user's weight, so a user of weight
	-- N has N turns per round, and rounds carry over from claim to claim.
	-- Then each queue's budget and each rate partition's room cut the
	-- candidates, best first, and the best p_slots are locked and started.
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
		       greatest(coalesce(tn.pass, 0), (SELECT clk.vtime FROM clk)) AS pass,
		       CASE WHEN CASE WHEN l.user_id IS NOT NULL THEN l.max_running
		                      ELSE nullif(p_per_user, 0) END IS NOT NULL
		            THEN CASE WHEN l.user_id IS NOT NULL THEN l.max_running ELSE p_per_user END
		                 - (SELECT count(*)::integer FROM jobvisor.jobs r
		                    WHERE r.status = 'running' AND r.user_id = u.uid)
		            ELSE p_slots END AS n
		FROM (SELECT uid FROM users WHERE uid IS NOT NULL LIMIT 1000) u
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
		SET vtime = greatest(f.vtime, (SELECT min(p.key) FROM pick p
		                               WHERE p.id = ANY (ARRAY(SELECT u.id FROM upd u))))
		WHERE v_weighted AND EXISTS (SELECT 1 FROM upd)
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

-- claim()'s statements planned once per session, as 023 does for
-- enqueue(): PL/pgSQL kept finding each call's own plan cheaper than the
-- generic one and re-planned every statement at every call. Every
-- generic plan was checked on a table of ten million pending jobs (the
-- fast path, the claim with budgets, the fair claim, the trailer): the
-- same index scans in claim order. Measured beside schema 23 (bench.sh,
-- 100 000 jobs, batch 250, prefetch 500, two rounds): PostgreSQL's CPU
-- 4.26-4.53 s against 4.57-4.62 s, 16 295-16 504 jobs/s against
-- 15 523-15 788.
ALTER FUNCTION jobvisor.claim(bigint, integer, integer, text[], timestamptz, integer, text[], text[],
                              integer[])
	SET plan_cache_mode = force_generic_plan;
