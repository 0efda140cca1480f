-- 007_unique.sql -- unique jobs with a configurable set of states:
-- jobvisor.enqueue(..., unique_key, unique_states).
--
-- unique_states (default {pending,running}) says which jobs hold a key: when
-- a job with the key is in one of those states, enqueue returns its id and
-- inserts nothing. {pending,running,succeeded} is "at most once until it
-- fails"; {pending,running,succeeded,failed,cancelled} is "once, ever".
--
-- Why an advisory lock and not only the unique index. 001's partial unique
-- index (jobs_unique_key_idx, status IN ('pending', 'running')) can only
-- enforce the default set: an index predicate is fixed at CREATE INDEX, and
-- "no succeeded job with this key" is not a property of the new row at all.
-- So enqueue serialises on the key itself: pg_advisory_xact_lock on a 64-bit
-- hash of 'jobvisor.unique:' || key, then looks for a job in the asked
-- states, then inserts. Two enqueues of one key run one after the other;
-- the second one's lookup (a new snapshot per statement under READ
-- COMMITTED) sees the first one's committed job, because a transaction
-- releases its locks only after its commit is visible. Enqueues of
-- different keys do not wait on each other (a hash collision only makes two
-- keys share a lock, never a job). The lock is held to the end of the
-- caller's transaction: an enqueue inside a long transaction makes other
-- enqueues of the same key wait that long.
--
-- The index stays, as the safety net of the default set: a plain INSERT by
-- an application (no lock) still cannot make a second pending or running
-- job for a key, and enqueue inserts with ON CONFLICT DO NOTHING, so such
-- an INSERT racing it gives it that job's id instead of an error. Because
-- the index always forbids two pending/running jobs of one key, every set
-- must contain pending and running: a set without them (e.g. {pending},
-- "a second one may queue while the first runs") cannot be honoured, and is
-- refused (22023) rather than silently widened.
--
-- Isolation: race-free under READ COMMITTED (the default; the CLI and the
-- API use it) and SERIALIZABLE (the lookup's predicate lock makes a racing
-- pair fail with 40001, to retry). Under REPEATABLE READ the transaction's
-- snapshot predates the lock, so only the index's default set is safe.
--
-- The lookup of a finished job needs an index over every keyed job, not
-- only the pending/running ones: jobs_unique_key_all_idx (jobs without a
-- key are not in it and pay nothing).
--
-- The new parameter is last, so every existing call, positional or named
-- (unique_key => ...), means what it meant.

CREATE INDEX jobs_unique_key_all_idx ON jobvisor.jobs (unique_key)
	WHERE unique_key IS NOT NULL;

DROP FUNCTION jobvisor.enqueue(text, jsonb, text, timestamptz, integer, integer, integer, text);

CREATE FUNCTION jobvisor.enqueue(
	type            text,
	payload         jsonb       DEFAULT '{}',
	user_id         text        DEFAULT NULL,
	scheduled_at    timestamptz DEFAULT now(),
	priority        integer     DEFAULT 0,
	max_attempts    integer     DEFAULT 3,
	timeout_seconds integer     DEFAULT NULL,
	unique_key      text        DEFAULT NULL,
	unique_states   text[]      DEFAULT '{pending,running}'
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
			 timeout_seconds, unique_key)
		VALUES
			(enqueue.type,
			 coalesce(enqueue.payload, '{}'),
			 enqueue.user_id,
			 coalesce(enqueue.scheduled_at, now()),
			 coalesce(enqueue.priority, 0),
			 coalesce(enqueue.max_attempts, 3),
			 enqueue.timeout_seconds,
			 enqueue.unique_key)
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

COMMENT ON FUNCTION jobvisor.enqueue(text, jsonb, text, timestamptz, integer, integer, integer, text, text[])
	IS 'enqueue a job; with unique_key returns the job holding the key in one of unique_states';
