-- test_helpers.sql -- helpers for the tests of an application that enqueues
-- jobvisor jobs: "a job of type X was enqueued with a payload containing Y",
-- and "run nothing, list what this transaction enqueued". For a TEST
-- database only: it is no migration, and `jobvisor migrate` never loads it.
-- Load it after `jobvisor migrate`, as often as you like (it replaces itself):
--
--   psql -v ON_ERROR_STOP=1 -d "$TEST_DATABASE_URL" -f contrib/test_helpers.sql
--
-- (the npm package @jobvisor/client carries a copy as sql/test_helpers.sql).
-- Everything is in the schema jobvisor_test; dropping it removes it all.
-- PostgreSQL 13 or later (pg_current_xact_id_if_assigned, pg_xact_status on xid8).
--
--   SELECT * FROM jobvisor_test.enqueued();    -- the jobs this transaction inserted
--   SELECT jobvisor_test.assert_enqueued('email', '{"to": "a@example.com"}');
--   SELECT jobvisor_test.assert_enqueued('email', '{}', 2);   -- exactly 2 of them
--   SELECT jobvisor_test.assert_not_enqueued('sms');
--   -- the same over every job of the database (the code under test committed):
--   SELECT jobvisor_test.assert_enqueued('email', '{"to": "a@example.com"}', NULL, false);
--
-- "Run nothing": as long as no `jobvisor serve` runs on the test database,
-- enqueued jobs stay pending; these functions only read jobvisor.jobs.
--
-- "This transaction" is exact, savepoints (subtransactions) included: a
-- row is the transaction's own when its inserting transaction (xmin) is
-- still in progress -- another transaction's uncommitted rows are never
-- visible -- and it was created in it (created_at = now(), the start of the
-- transaction, the column's default), so an older job this transaction
-- only updated does not count.

CREATE SCHEMA IF NOT EXISTS jobvisor_test;
COMMENT ON SCHEMA jobvisor_test IS 'jobvisor test helpers (contrib/test_helpers.sql): for test databases only';

-- The full (epoch-qualified) transaction id of a row's xmin when it is at
-- or after p_top, the current transaction's own id (its subtransactions'
-- ids come after it), else NULL: a row this transaction inserted has an
-- xmin in [p_top, p_top + 2^31).
CREATE OR REPLACE FUNCTION jobvisor_test.full_xid(p_xid xid, p_top xid8) RETURNS xid8
LANGUAGE sql IMMUTABLE STRICT AS $$
	SELECT CASE WHEN d.delta < 2147483648 THEN (p_top::text::bigint + d.delta)::text::xid8 END
	FROM (SELECT ((p_xid::text::bigint - (p_top::text::bigint & 4294967295)) + 4294967296) % 4294967296
	             AS delta) d
$$;

CREATE OR REPLACE FUNCTION jobvisor_test.enqueued() RETURNS SETOF jobvisor.jobs
LANGUAGE sql STABLE AS $$
	SELECT j.*
	FROM jobvisor.jobs j
	WHERE pg_current_xact_id_if_assigned() IS NOT NULL
	  AND j.created_at = now()
	  AND pg_xact_status(jobvisor_test.full_xid(j.xmin, pg_current_xact_id_if_assigned())) = 'in progress'
	ORDER BY j.id
$$;
COMMENT ON FUNCTION jobvisor_test.enqueued()
	IS 'the jobs the current transaction (its savepoints included) enqueued, by id';

-- The jobs of type p_type whose payload contains p_payload (jsonb @>):
-- this transaction's, or with p_this_transaction false every job's.
CREATE OR REPLACE FUNCTION jobvisor_test.find(p_type text, p_payload jsonb DEFAULT '{}',
                                              p_this_transaction boolean DEFAULT true)
RETURNS SETOF jobvisor.jobs
LANGUAGE sql STABLE AS $$
	SELECT j.* FROM jobvisor_test.enqueued() j
	WHERE p_this_transaction AND j.type = p_type AND j.payload @> coalesce(p_payload, '{}')
	UNION ALL
	SELECT j.* FROM jobvisor.jobs j
	WHERE NOT p_this_transaction AND j.type = p_type AND j.payload @> coalesce(p_payload, '{}')
	ORDER BY 1
$$;

-- Raises (SQLSTATE P0004, assert_failure) unless a job of p_type with a
-- payload containing p_payload was enqueued -- exactly p_count of them when
-- p_count is given. The message lists what was enqueued instead. Returns
-- the ids found.
CREATE OR REPLACE FUNCTION jobvisor_test.assert_enqueued(p_type text, p_payload jsonb DEFAULT '{}',
                                                         p_count integer DEFAULT NULL,
                                                         p_this_transaction boolean DEFAULT true)
RETURNS bigint[]
LANGUAGE plpgsql STABLE AS $$
DECLARE
	v_ids  bigint[];
	v_seen text;
	v_where text := CASE WHEN p_this_transaction THEN 'in this transaction' ELSE 'in jobvisor.jobs' END;
BEGIN
	SELECT coalesce(array_agg(f.id ORDER BY f.id), '{}') INTO v_ids
	FROM jobvisor_test.find(p_type, p_payload, p_this_transaction) f;
	IF (p_count IS NULL AND cardinality(v_ids) > 0) OR cardinality(v_ids) = p_count THEN
		RETURN v_ids;
	END IF;
	SELECT coalesce(string_agg(format('%s %s', t.type, t.n), ', '), 'none') INTO v_seen
	FROM (SELECT e.type, count(*) AS n FROM jobvisor_test.enqueued() e
	      WHERE p_this_transaction GROUP BY e.type
	      UNION ALL
	      SELECT a.type, count(*) FROM jobvisor.jobs a
	      WHERE NOT p_this_transaction GROUP BY a.type
	      ORDER BY 1) t;
	RAISE EXCEPTION 'expected % job(s) of type % with a payload containing % enqueued %, found %',
		coalesce(p_count::text, 'at least 1'), quote_literal(p_type), coalesce(p_payload, '{}')::text,
		v_where, cardinality(v_ids)
		USING ERRCODE = 'assert_failure',
		      DETAIL = format('enqueued %s, by type: %s', v_where, v_seen);
END
$$;

CREATE OR REPLACE FUNCTION jobvisor_test.assert_not_enqueued(p_type text, p_payload jsonb DEFAULT '{}',
                                                             p_this_transaction boolean DEFAULT true)
RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
	PERFORM jobvisor_test.assert_enqueued(p_type, p_payload, 0, p_this_transaction);
END
$$;
