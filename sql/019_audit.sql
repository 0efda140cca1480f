-- 019_audit.sql -- the audit trail of the REST API: who changed what.
--
-- Every request that changes something (every method but GET and HEAD)
-- and came with a known token leaves one row: when, the token's name (never
-- the token), method, path, its target (the job, schedule, queue, processor
-- or user it names; the ids of a bulk request), and the status it was
-- answered with -- successes, 4xx (a 403 for a role too low among them)
-- and 5xx alike. A request without a known token (401) leaves none: it has
-- no name to record, and rows anyone could write unauthenticated would let
-- anyone grow this table (docs/design.md "Access").
--
-- The API does not write these rows on the request's own connection or
-- thread: it hands them to a writer of its own (core/api/audit.c), which
-- inserts them in batches, so no request waits on this table.
--
-- Rows are kept like the history (history.retention_days):
-- jobvisor.purge_audit() removes those older than that in bounded batches,
-- called by every processor's retention (core/sched/retention.c).
--
-- Every length has its limit here, as in the API that writes the row (it
-- cuts a longer path or target and marks the cut with "..."): a name as
-- api.tokens allows it (JV_TOKEN_NAME_MAX), a path and a target of at most
-- 1024 bytes.

CREATE TABLE jobvisor.audit_log (
	id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at         timestamptz NOT NULL DEFAULT now(),
	token_name text        NOT NULL
	           CONSTRAINT audit_log_token_name_check
	           CHECK (token_name ~ '^[A-Za-z0-9_.-]{1,64}$'),
	method     text        NOT NULL
	           CONSTRAINT audit_log_method_check CHECK (method ~ '^[A-Z]{1,16}$'),
	path       text        NOT NULL
	           CONSTRAINT audit_log_path_check
	           CHECK (octet_length(path) BETWEEN 1 AND 1024),
	target     text
	           CONSTRAINT audit_log_target_check CHECK (octet_length(target) <= 1024),
	status     integer     NOT NULL
	           CONSTRAINT audit_log_status_check CHECK (status BETWEEN 100 AND 599)
);

COMMENT ON TABLE jobvisor.audit_log IS
	'the REST API''s audit trail: one row per request that changed something (or tried)';

-- GET /api/audit pages newest first by id (the primary key); with from/to
-- by time, with token= by name; retention removes by time.
CREATE INDEX audit_log_at_idx ON jobvisor.audit_log (at);
CREATE INDEX audit_log_token_idx ON jobvisor.audit_log (token_name, id);

-- Remove at most p_batch rows older than p_retention (as of p_now), oldest
-- first; returns how many. Rows another transaction holds are skipped, so
-- processors calling it at once never wait for each other. A NULL
-- p_retention (history.retention_days: 0, keep forever) removes nothing.
CREATE FUNCTION jobvisor.purge_audit(p_retention interval, p_batch integer DEFAULT 1000,
                                     p_now timestamptz DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	v_n bigint;
BEGIN
	IF p_batch IS NULL OR p_batch < 1 THEN
		RAISE EXCEPTION 'jobvisor.purge_audit: p_batch must be positive'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF p_retention IS NULL THEN
		RETURN 0;
	END IF;
	-- A lock another transaction holds on the table must not stall the
	-- caller's thread (the scheduler's): fail this batch, try again later.
	PERFORM set_config('lock_timeout', '5s', true);
	WITH old AS (
		SELECT a.id FROM jobvisor.audit_log a
		WHERE a.at < coalesce(p_now, clock_timestamp()) - p_retention
		ORDER BY a.at LIMIT p_batch
		FOR UPDATE SKIP LOCKED
	), d AS (
		DELETE FROM jobvisor.audit_log a WHERE a.id IN (SELECT old.id FROM old) RETURNING 1
	)
	SELECT count(*) INTO v_n FROM d;
	RETURN v_n;
END
$$;
