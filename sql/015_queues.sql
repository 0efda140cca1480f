-- 015_queues.sql -- flow control (DESIGN.md "Flow control"): named queues
-- with a cluster-wide pause switch, a concurrency across all processors and
-- a rate limit; per-user limits and weights; the state the fair claim keeps
-- between claims. 016_flow_claim.sql builds the claim on them.
--
-- Applied to a populated database while processors run: the one change to
-- jobs is a column with a constant default, which PostgreSQL records in the
-- catalog without rewriting the table (a brief lock, bounded by migrate's
-- lock_timeout and retried); everything else is new and small.

------------------------------------------------------------------- queues
-- One row per queue a processor's config names (synchronised at every start
-- and reload, jobvisor.sync_queues()) plus 'default', which always exists.
-- The limits here hold across all processors, so there is one copy of them:
-- the config of the processor that started last. A queue's per-processor
-- `concurrency` is each processor's own and stays in its config.
-- `paused` is the cluster's switch: the API, the CLI and SQL
-- (jobvisor.pause_queue()) set and clear it; a config that says
-- `paused: true` sets it when a processor starts, and never clears it.
CREATE TABLE jobvisor.queues (
	name                text PRIMARY KEY
	                    CONSTRAINT queues_name_check CHECK (name ~ '^[a-z0-9_.-]{1,64}$'),
	global_concurrency  integer CHECK (global_concurrency BETWEEN 1 AND 1000000),
	rate_allowed        integer CHECK (rate_allowed BETWEEN 1 AND 1000000),
	rate_period_seconds integer CHECK (rate_period_seconds BETWEEN 1 AND 86400),
	rate_partition      text NOT NULL DEFAULT 'none'
	                    CHECK (rate_partition IN ('none', 'user_id', 'type')),
	paused              boolean NOT NULL DEFAULT false,
	paused_at           timestamptz,
	paused_by           text,
	updated_at          timestamptz NOT NULL DEFAULT now(),
	CHECK ((rate_allowed IS NULL) = (rate_period_seconds IS NULL))
);

INSERT INTO jobvisor.queues (name) VALUES ('default');

COMMENT ON TABLE jobvisor.queues
	IS 'queues: cluster-wide limits and the pause switch; rows from the processors'' config';

-- A queue goes only when nothing names it: 'default' never; another not
-- while a live job or a schedule is in it (the scheduler would fail on
-- that schedule at every tick, and a job would wait in a queue no claim
-- can see). Deleting one is an operator's act; nothing in jobvisor does.
CREATE FUNCTION jobvisor.refuse_queue_in_use() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF OLD.name = 'default' THEN
		RAISE EXCEPTION 'jobvisor.queues: the queue ''default'' cannot be deleted'
			USING ERRCODE = 'integrity_constraint_violation';
	END IF;
	IF EXISTS (SELECT 1 FROM jobvisor.jobs j
	           WHERE j.queue = OLD.name AND (j.status = 'pending' OR j.status = 'running'))
	   OR EXISTS (SELECT 1 FROM jobvisor.schedules s WHERE s.queue = OLD.name) THEN
		RAISE EXCEPTION 'jobvisor.queues: queue % still has pending or running jobs, or schedules',
			quote_literal(OLD.name)
			USING ERRCODE = 'integrity_constraint_violation',
			      HINT = 'pause it, let its jobs finish or cancel them, move its schedules, then delete it';
	END IF;
	RETURN OLD;
END
$$;

-- Every job is in a queue. A constant default: no table rewrite.
ALTER TABLE jobvisor.jobs ADD COLUMN queue text NOT NULL DEFAULT 'default';

-- A job names a known queue. A trigger, as for the limits of 008 (and for
-- the same reasons: cost and the message): it runs only for a job outside
-- 'default', and only on insert or a change of the queue, never on claim or
-- completion. A foreign key would lock the queue's row at every insert.
CREATE FUNCTION jobvisor.refuse_unknown_queue() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM jobvisor.queues q WHERE q.name = NEW.queue) THEN
		RAISE EXCEPTION 'jobvisor.%: unknown queue %', TG_TABLE_NAME,
			quote_literal(left(NEW.queue, 64)) || CASE WHEN octet_length(NEW.queue) > 64
			                                            THEN ' (cut)' ELSE '' END
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'a queue is known once a processor''s config names it under queues: (''default'' always is)';
	END IF;
	RETURN NEW;
END
$$;

CREATE TRIGGER jobs_queue_known
	BEFORE INSERT OR UPDATE OF queue ON jobvisor.jobs
	FOR EACH ROW
	WHEN (NEW.queue <> 'default')
	EXECUTE FUNCTION jobvisor.refuse_unknown_queue();

-- A schedule's template names its queue too, checked when written.
ALTER TABLE jobvisor.schedules ADD COLUMN queue text NOT NULL DEFAULT 'default';

CREATE TRIGGER queues_in_use
	BEFORE DELETE ON jobvisor.queues
	FOR EACH ROW EXECUTE FUNCTION jobvisor.refuse_queue_in_use();

CREATE TRIGGER schedules_queue_known
	BEFORE INSERT OR UPDATE OF queue ON jobvisor.schedules
	FOR EACH ROW
	WHEN (NEW.queue <> 'default')
	EXECUTE FUNCTION jobvisor.refuse_unknown_queue();

-- Starts in a rate-limited queue: one row per claim and partition, with
-- the number of jobs that claim started there, written by the claim with
-- the jobs' own started_at (so the history's job_executions.started_at
-- shows the same instants), summed by the next claims over the window;
-- older than every queue's period, a row is deleted by the claim. A row
-- per claim, not per job: at thousands of starts a second a claim sums a
-- few hundred rows, not thousands (measured: bench.sh --flow). Bounded:
-- the claims of one period, per partition that started a job.
CREATE TABLE jobvisor.queue_starts (
	queue      text NOT NULL,
	part       text NOT NULL, -- '' (none), the user_id ('' for none), or the type
	started_at timestamptz NOT NULL,
	n          integer NOT NULL CHECK (n > 0)
);
CREATE INDEX queue_starts_part_idx ON jobvisor.queue_starts (queue, part, started_at);
CREATE INDEX queue_starts_started_idx ON jobvisor.queue_starts (started_at);

------------------------------------------------------------- user limits
-- Per-user overrides: a row's max_running replaces processor.per_user_limit
-- for the user (NULL: no limit; 0: none of the user's jobs start); weight
-- gives the user that many turns in each round of the fair claim.
CREATE TABLE jobvisor.user_limits (
	user_id     text PRIMARY KEY CHECK (octet_length(user_id) BETWEEN 1 AND 256),
	max_running integer CHECK (max_running BETWEEN 0 AND 100000),
	weight      integer NOT NULL DEFAULT 1 CHECK (weight BETWEEN 1 AND 1000),
	updated_at  timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE jobvisor.user_limits
	IS 'per-user max_running (replacing per_user_limit) and weight in the fair claim';

-- The fair claim's memory between claims (stride scheduling): each user's
-- pass, advanced by 1/weight for every job of theirs started, and the
-- clock, the lowest pass among the jobs of the last claim. The claim takes
-- users in order of pass; a user's pass below the clock counts as the
-- clock (a user back after a pause gets no burst), so such a row means
-- nothing and is deleted.
CREATE TABLE jobvisor.user_turns (
	user_id text PRIMARY KEY,
	pass    double precision NOT NULL
);
CREATE INDEX user_turns_pass_idx ON jobvisor.user_turns (pass);

CREATE TABLE jobvisor.fair_clock (
	one   boolean PRIMARY KEY DEFAULT true CHECK (one),
	vtime double precision NOT NULL DEFAULT 0
);
INSERT INTO jobvisor.fair_clock DEFAULT VALUES;

------------------------------------------------------------------ enqueue
-- enqueue() of 007 with the queue last (named notation: queue => 'mail').
DROP FUNCTION jobvisor.enqueue(text, jsonb, text, timestamptz, integer, integer, integer, text, text[]);

CREATE FUNCTION jobvisor.enqueue(
	type            text,
	payload         jsonb       DEFAULT '{}',
	user_id         text        DEFAULT NULL,
	scheduled_at    timestamptz DEFAULT now(),
	priority        integer     DEFAULT 0,
	max_attempts    integer     DEFAULT 3,
	timeout_seconds integer     DEFAULT NULL,
	unique_key      text        DEFAULT NULL,
	unique_states   text[]      DEFAULT '{pending,running}',
	queue           text        DEFAULT 'default'
) RETURNS bigint
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
	v_states text[] := coalesce(enqueue.unique_states, '{pending,running}');
	v_bad    text;
	v_id     bigint;
BEGIN
	IF enqueue.type IS NULL THEN
		RAISE EXCEPTION 'jobvisor.enqueue: type must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT s INTO v_bad
	FROM unnest(v_states) AS s
	WHERE s IS NULL OR s NOT IN ('pending', 'running', 'succeeded', 'failed', 'cancelled')
	LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'jobvisor.enqueue: invalid unique_states element %',
			coalesce(quote_literal(v_bad), 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'the states are pending, running, succeeded, failed, cancelled';
	END IF;
	IF NOT v_states @> '{pending,running}' THEN
		RAISE EXCEPTION 'jobvisor.enqueue: unique_states must include pending and running, got %',
			v_states::text
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'jobs_unique_key_idx allows one pending or running job per unique_key';
	END IF;

	IF enqueue.unique_key IS NOT NULL THEN
		PERFORM pg_advisory_xact_lock(hashtextextended('jobvisor.unique:' || enqueue.unique_key, 0));
	END IF;
	LOOP
		IF enqueue.unique_key IS NOT NULL THEN
			-- The pending or running holder first (at most one), else the newest.
			SELECT j.id INTO v_id
			FROM jobvisor.jobs j
			WHERE j.unique_key = enqueue.unique_key AND j.status = ANY (v_states)
			ORDER BY j.status IN ('pending', 'running') DESC, j.id DESC
			LIMIT 1;
			IF v_id IS NOT NULL THEN
				RETURN v_id;
			END IF;
		END IF;
		INSERT INTO jobvisor.jobs AS j
			(type, payload, user_id, scheduled_at, priority, max_attempts,
			 timeout_seconds, unique_key, queue)
		VALUES
			(enqueue.type,
			 coalesce(enqueue.payload, '{}'),
			 enqueue.user_id,
			 coalesce(enqueue.scheduled_at, now()),
			 coalesce(enqueue.priority, 0),
			 coalesce(enqueue.max_attempts, 3),
			 enqueue.timeout_seconds,
			 enqueue.unique_key,
			 coalesce(enqueue.queue, 'default'))
		ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND status IN ('pending', 'running')
		DO NOTHING
		RETURNING j.id INTO v_id;
		IF v_id IS NOT NULL THEN
			RETURN v_id;
		END IF;
		-- Only a plain INSERT of the key (no lock) that committed after our
		-- lookup gets here: look again, it is pending or running.
	END LOOP;
END
$$;

COMMENT ON FUNCTION jobvisor.enqueue(text, jsonb, text, timestamptz, integer, integer, integer, text, text[], text)
	IS 'enqueue a job (in queue, default ''default''); with unique_key returns the job holding the key in one of unique_states';

----------------------------------------------------------- queue control
-- The processors' config: a JSON object {name: {global_concurrency,
-- rate_limit: {allowed, period_seconds, partition_by}, paused}}. Limits are
-- set as given (absent: none); paused: true pauses, false leaves the switch
-- as it is. Queues the object does not name are left alone.
CREATE FUNCTION jobvisor.sync_queues(p_queues jsonb, p_by text DEFAULT 'config')
RETURNS void
LANGUAGE sql AS $$
	INSERT INTO jobvisor.queues AS q (name, global_concurrency, rate_allowed, rate_period_seconds,
	                                  rate_partition, paused, paused_at, paused_by)
	SELECT e.key, (e.value ->> 'global_concurrency')::integer,
	       (e.value #>> '{rate_limit,allowed}')::integer,
	       (e.value #>> '{rate_limit,period_seconds}')::integer,
	       coalesce(e.value #>> '{rate_limit,partition_by}', 'none'),
	       coalesce((e.value ->> 'paused')::boolean, false),
	       CASE WHEN (e.value ->> 'paused')::boolean THEN now() END,
	       CASE WHEN (e.value ->> 'paused')::boolean THEN p_by END
	FROM jsonb_each(p_queues) e
	ON CONFLICT (name) DO UPDATE
	SET global_concurrency = EXCLUDED.global_concurrency,
	    rate_allowed = EXCLUDED.rate_allowed,
	    rate_period_seconds = EXCLUDED.rate_period_seconds,
	    rate_partition = EXCLUDED.rate_partition,
	    paused = q.paused OR EXCLUDED.paused,
	    paused_at = CASE WHEN q.paused THEN q.paused_at ELSE EXCLUDED.paused_at END,
	    paused_by = CASE WHEN q.paused THEN q.paused_by ELSE EXCLUDED.paused_by END,
	    updated_at = now()
	WHERE (q.global_concurrency, q.rate_allowed, q.rate_period_seconds, q.rate_partition, q.paused)
	      IS DISTINCT FROM (EXCLUDED.global_concurrency, EXCLUDED.rate_allowed,
	                        EXCLUDED.rate_period_seconds, EXCLUDED.rate_partition,
	                        q.paused OR EXCLUDED.paused)
$$;

-- Pause or resume a queue for every processor: true when the queue exists.
-- A paused queue's running jobs finish; no claim starts another of its jobs.
-- Resuming wakes the processors (NOTIFY), which claim at once.
CREATE FUNCTION jobvisor.pause_queue(p_name text, p_paused boolean DEFAULT true,
                                     p_by text DEFAULT 'sql')
RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE jobvisor.queues q
	SET paused = p_paused,
	    paused_at = CASE WHEN p_paused THEN coalesce(CASE WHEN q.paused THEN q.paused_at END, now()) END,
	    paused_by = CASE WHEN p_paused THEN coalesce(CASE WHEN q.paused THEN q.paused_by END, p_by) END,
	    updated_at = now()
	WHERE q.name = p_name;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	IF NOT p_paused THEN
		PERFORM pg_notify('jobvisor_jobs', '');
	END IF;
	RETURN true;
END
$$;

-- Each queue as the claim sees it now: jobs pending (due or not) and
-- running, the limits, the starts in the rate window, and what holds its
-- due jobs back: 'paused', 'global_concurrency', 'rate_limit' (every
-- partition with due jobs at its limit when partitioned), or NULL.
-- Partitions at their limit are counted in rate_partitions_full.
CREATE FUNCTION jobvisor.queue_stats(p_now timestamptz DEFAULT NULL)
RETURNS TABLE (name text, pending bigint, due bigint, running bigint, global_concurrency integer,
               rate_allowed integer, rate_period_seconds integer, rate_partition text,
               window_starts bigint, rate_partitions_full bigint, paused boolean,
               paused_at timestamptz, paused_by text, held_by text,
               oldest_due_age_seconds double precision)
LANGUAGE sql STABLE AS $$
	WITH t AS (SELECT coalesce(p_now, clock_timestamp()) AS now),
	live AS (
		SELECT j.queue, count(*) FILTER (WHERE j.status = 'pending') AS pending,
		       count(*) FILTER (WHERE j.status = 'pending' AND j.scheduled_at <= t.now) AS due,
		       count(*) FILTER (WHERE j.status = 'running') AS running,
		       min(j.scheduled_at) FILTER (WHERE j.status = 'pending' AND j.scheduled_at <= t.now)
		           AS oldest_due
		FROM jobvisor.jobs j, t
		WHERE j.status = 'pending' OR j.status = 'running'
		GROUP BY j.queue
	),
	win AS (
		SELECT s.queue, s.part, sum(s.n) AS n
		FROM jobvisor.queue_starts s
		JOIN jobvisor.queues q ON q.name = s.queue, t
		WHERE q.rate_allowed IS NOT NULL
		  AND s.started_at > t.now - make_interval(secs => q.rate_period_seconds)
		GROUP BY s.queue, s.part
	),
	full_parts AS (
		SELECT w.queue, count(*) AS n
		FROM win w JOIN jobvisor.queues q ON q.name = w.queue
		WHERE w.n >= q.rate_allowed
		GROUP BY w.queue
	)
	SELECT q.name, coalesce(l.pending, 0), coalesce(l.due, 0), coalesce(l.running, 0),
	       q.global_concurrency, q.rate_allowed, q.rate_period_seconds, q.rate_partition,
	       coalesce((SELECT sum(w.n) FROM win w WHERE w.queue = q.name), 0)::bigint,
	       coalesce(f.n, 0), q.paused, q.paused_at, q.paused_by,
	       CASE WHEN coalesce(l.due, 0) = 0 THEN NULL
	            WHEN q.paused THEN 'paused'
	            WHEN l.running >= q.global_concurrency THEN 'global_concurrency'
	            WHEN q.rate_allowed IS NOT NULL AND q.rate_partition = 'none'
	                 AND coalesce(f.n, 0) > 0 THEN 'rate_limit'
	       END,
	       extract(epoch FROM t.now - l.oldest_due)::double precision
	FROM jobvisor.queues q
	CROSS JOIN t
	LEFT JOIN live l ON l.queue = q.name
	LEFT JOIN full_parts f ON f.queue = q.name
	ORDER BY q.name
$$;

-- The users with a job running, their limit and whether they are at it
-- (the dashboard's "users at their limit"), and those with a user_limits
-- row. p_per_user: the processor's per_user_limit (0: none).
CREATE FUNCTION jobvisor.user_stats(p_per_user integer)
RETURNS TABLE (user_id text, running bigint, pending bigint, max_running integer, weight integer,
               at_limit boolean, overridden boolean)
LANGUAGE sql STABLE AS $$
	WITH live AS (
		SELECT j.user_id, count(*) FILTER (WHERE j.status = 'running') AS running,
		       count(*) FILTER (WHERE j.status = 'pending') AS pending
		FROM jobvisor.jobs j
		WHERE (j.status = 'pending' OR j.status = 'running') AND j.user_id IS NOT NULL
		GROUP BY j.user_id
	),
	u AS (
		SELECT coalesce(l.user_id, ul.user_id) AS user_id, coalesce(l.running, 0) AS running,
		       coalesce(l.pending, 0) AS pending,
		       CASE WHEN ul.user_id IS NOT NULL THEN ul.max_running
		            ELSE nullif(p_per_user, 0) END AS max_running,
		       coalesce(ul.weight, 1) AS weight, ul.user_id IS NOT NULL AS overridden
		FROM live l FULL JOIN jobvisor.user_limits ul ON ul.user_id = l.user_id
	)
	SELECT u.user_id, u.running, u.pending, u.max_running, u.weight,
	       u.max_running IS NOT NULL AND u.running >= u.max_running, u.overridden
	FROM u
	ORDER BY u.user_id
$$;
