-- 008_limits.sql -- the documented size and length limits, enforced by the
-- tables: a job's (and a schedule's job template's) type at most 128 bytes,
-- user_id 256, unique_key 512, payload 1 MiB (1048576 bytes) as PostgreSQL
-- writes it (payload::text, which is what the worker protocol carries).
-- The numbers are those of core/limits.h and include/jobvisor/plugin.h
-- (JV_TYPE_MAX, JV_USER_MAX, JV_UNIQUE_KEY_MAX, JV_PAYLOAD_MAX); README
-- "Limits" lists them; tests/it_limits.sh checks this file against them.
--
-- Before: an 8 KB type, user_id or unique_key failed on a btree's row size
-- limit (an ERROR its caller could not act on: the API's 500), and a payload
-- over the worker frame's 64 MiB was taken, then killed every worker it was
-- sent to.
--
-- A trigger, not CHECK constraints, for three reasons:
-- * Cost. PostgreSQL evaluates every CHECK on every new row version, and the
--   claim and the completion update every job's row; measuring a payload
--   means writing it out as text, after fetching it from TOAST when large.
--   This trigger fires on INSERT and on an UPDATE that writes one of these
--   columns (UPDATE OF), never on claim, completion, retry or rescue, and
--   its WHEN clause is evaluated without calling the function, so a row
--   within the limits pays the measurement once, at insert. Measured on
--   PostgreSQL 15 (a tests/pg.sh cluster, 100 000 rows, best of 7 scans):
--   the four length tests cost 0.34 us per row with a 50-byte payload and
--   5.7 us with a 2 kB one (payload::text is nearly all of it; the three
--   text columns 0.04 us) -- as CHECKs, that on each of the two or three
--   row versions a job makes, against some 80 us of database time per job.
-- * The message. A CHECK's violation carries the whole failing row in its
--   DETAIL -- the oversized value and the payload, which may hold secrets --
--   to the client and into the server log. The function names the column,
--   its size and the limit, with SQLSTATE 22001 (string_data_right_
--   truncation, as for a varchar(n)): a data exception, which the API answers
--   400 and `jobvisor enqueue` with exit status 1.
-- * Rows already there. Values up to the btree limit (~2.7 kB) could be
--   inserted before. A CHECK, even NOT VALID, is checked again when the claim
--   or the completion updates such a row, so one old row would fail every
--   claim of a batch it is in; validating it would fail this migration. The
--   trigger leaves existing rows alone: they run and finish as before. (An
--   old payload over the limit cannot reach a worker: the processor fails
--   that job at claim, for good, with an error naming the limit.)
--
-- No table is rewritten or scanned: the migration takes its locks briefly.

CREATE FUNCTION jobvisor.refuse_over_limits() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	v_len bigint;
BEGIN
	-- Called only when the trigger's WHEN clause found a value over its
	-- limit: say which, never what (the value may be a secret).
	v_len := octet_length(NEW.type);
	IF v_len > 128 THEN
		RAISE EXCEPTION 'jobvisor.%: type is too long: % bytes, the limit is 128 bytes',
			TG_TABLE_NAME, v_len USING ERRCODE = 'string_data_right_truncation';
	END IF;
	v_len := octet_length(NEW.user_id);
	IF v_len > 256 THEN
		RAISE EXCEPTION 'jobvisor.%: user_id is too long: % bytes, the limit is 256 bytes',
			TG_TABLE_NAME, v_len USING ERRCODE = 'string_data_right_truncation';
	END IF;
	IF TG_TABLE_NAME = 'jobs' THEN
		v_len := octet_length(NEW.unique_key);
		IF v_len > 512 THEN
			RAISE EXCEPTION 'jobvisor.%: unique_key is too long: % bytes, the limit is 512 bytes',
				TG_TABLE_NAME, v_len USING ERRCODE = 'string_data_right_truncation';
		END IF;
	END IF;
	v_len := octet_length(NEW.payload::text);
	IF v_len > 1048576 THEN
		RAISE EXCEPTION 'jobvisor.%: payload is too large: % bytes as JSON text, the limit is 1048576 bytes',
			TG_TABLE_NAME, v_len USING ERRCODE = 'string_data_right_truncation',
			HINT = 'keep large data elsewhere (a table, an object store) and put its key in the payload';
	END IF;
	RETURN NEW;
END
$$;

CREATE TRIGGER jobs_limits
	BEFORE INSERT OR UPDATE OF type, user_id, unique_key, payload ON jobvisor.jobs
	FOR EACH ROW
	WHEN (octet_length(NEW.type) > 128 OR octet_length(NEW.user_id) > 256
	      OR octet_length(NEW.unique_key) > 512 OR octet_length(NEW.payload::text) > 1048576)
	EXECUTE FUNCTION jobvisor.refuse_over_limits();

-- A schedule's template becomes a job at every run: refused when it is
-- written, not at each run.
CREATE TRIGGER schedules_limits
	BEFORE INSERT OR UPDATE OF type, user_id, payload ON jobvisor.schedules
	FOR EACH ROW
	WHEN (octet_length(NEW.type) > 128 OR octet_length(NEW.user_id) > 256
	      OR octet_length(NEW.payload::text) > 1048576)
	EXECUTE FUNCTION jobvisor.refuse_over_limits();

COMMENT ON FUNCTION jobvisor.refuse_over_limits()
	IS 'refuses a job or schedule over the documented limits: type 128, user_id 256, unique_key 512 bytes, payload 1 MiB as text';
