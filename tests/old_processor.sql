-- old_processor.sql -- a processor of the previous release (schema 13),
-- driven through SQL, for the upgrade test (tests/it_upgrade.sh) and
-- contrib/bench-upgrade.sh: a binary of that release cannot be run here, and
-- the current one refuses schema 13, so this session sends what the engine
-- of that release sends (core/engine/store.c), in the same order, one
-- transaction per call:
--
--   INSERT INTO jobvisor.processors (name, hostname, pid, version,
--       rescue_after) ... RETURNING id                     (registration)
--   jobvisor.claim(id, slots, 0, '{noop,slow}', NULL, 0)   (epoch 0: never
--                                                          reconnected)
--   jobvisor.complete(id, '[{"id":..,"attempt":..,"outcome":"succeeded",
--       "retryable":false,"retry_ms":-1,"duration_ms":0}]', 1000, 3600000)
--   jobvisor.heartbeat(id, 'running', <horizon>)           (every 200 ms)
--
-- and at the end marks its row stopped, as serve does. Each claim is logged
-- in jv_load.claims, in the claim's own transaction: when it was sent, when
-- it returned (the database's clock) and how many jobs it got.
--
--   psql -v setup=true -f tests/old_processor.sql       the tables (once)
--   psql -v setup=false -v name=NAME -v rounds=R -v seconds=S \
--        -f tests/old_processor.sql                      one processor
--
-- A processor claims up to 20 jobs, completes them as succeeded, and loops;
-- after an empty claim it waits 10 ms (its poll interval). It stops after R
-- rounds, after S seconds, or as soon as jv_load.control.stop is true,
-- always between rounds, so it leaves no job running. Run it with
-- ON_ERROR_STOP: any error ends it with a non-zero exit status.

\set ON_ERROR_STOP 1
\if :setup
CREATE SCHEMA jv_load;
CREATE TABLE jv_load.claims (
	processor bigint      NOT NULL,
	sent      timestamptz NOT NULL,
	returned  timestamptz NOT NULL,
	n         integer     NOT NULL
);
CREATE INDEX ON jv_load.claims (returned);
CREATE TABLE jv_load.control (stop boolean NOT NULL);
INSERT INTO jv_load.control VALUES (false);
\else
SET application_name = 'jobvisor 13 (old_processor.sql)';
SELECT set_config('jv_load.name', :'name', false),
       set_config('jv_load.rounds', :'rounds', false),
       set_config('jv_load.seconds', :'seconds', false) \g /dev/null

DO $$
DECLARE
	v_rounds integer := current_setting('jv_load.rounds')::integer;
	v_until timestamptz := clock_timestamp()
	                       + make_interval(secs => current_setting('jv_load.seconds')::float8);
	v_horizon interval := interval '5 minutes';
	v_id bigint;
	v_ids bigint[];
	v_attempts integer[];
	v_sent timestamptz;
	v_beat timestamptz := clock_timestamp();
	v_round integer := 0;
BEGIN
	INSERT INTO jobvisor.processors (name, hostname, pid, version, rescue_after)
	VALUES (current_setting('jv_load.name'), 'old-release', pg_backend_pid(), '13 (SQL)',
	        v_horizon)
	RETURNING id INTO v_id;
	COMMIT;
	WHILE v_round < v_rounds AND clock_timestamp() < v_until
	      AND NOT (SELECT c.stop FROM jv_load.control c) LOOP
		v_round := v_round + 1;
		v_sent := clock_timestamp();
		SELECT array_agg(c.id), array_agg(c.attempts) INTO v_ids, v_attempts
		FROM jobvisor.claim(v_id, 20, 0, '{noop,slow}'::text[], NULL, 0) c
		WHERE c.id IS NOT NULL;
		INSERT INTO jv_load.claims (processor, sent, returned, n)
		VALUES (v_id, v_sent, clock_timestamp(), coalesce(cardinality(v_ids), 0));
		COMMIT;
		IF v_ids IS NOT NULL THEN
			PERFORM count(*)
			FROM jobvisor.complete(v_id,
			        (SELECT jsonb_agg(jsonb_build_object(
			                 'id', u.id, 'attempt', u.attempt, 'outcome', 'succeeded',
			                 'retryable', false, 'retry_ms', -1, 'duration_ms', 0))
			         FROM unnest(v_ids, v_attempts) AS u(id, attempt)),
			        1000, 3600000);
			COMMIT;
		ELSE
			PERFORM pg_sleep(0.01);
		END IF;
		IF clock_timestamp() > v_beat + interval '200 ms' THEN
			v_beat := clock_timestamp();
			PERFORM jobvisor.heartbeat(v_id, 'running', v_horizon);
			COMMIT;
		END IF;
	END LOOP;
	UPDATE jobvisor.processors
	SET state = 'stopped', stopped_at = now(), heartbeat_at = now()
	WHERE id = v_id;
	COMMIT;
END
$$;
\endif
