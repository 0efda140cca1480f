-- enqueue.sql -- jobvisor.enqueue(): defaults for NULL arguments, and
-- unique jobs: the key held by a job in unique_states (default pending and
-- running), the refused sets, and the partial unique index behind it.
\set VERBOSITY terse
\set now '2030-01-01 12:00:00+00'
TRUNCATE jobvisor.jobs, jobvisor.job_executions, jobvisor.processors RESTART IDENTITY;
INSERT INTO jobvisor.processors (name, hostname, pid, version) VALUES ('p1', 'host', 1, 'test');
CREATE TEMP VIEW jobs_v AS
SELECT id, type, payload, user_id, status, priority, max_attempts, timeout_seconds, unique_key,
       scheduled_at = :'now'::timestamptz AS at_now
FROM jobvisor.jobs ORDER BY id;
-- Every argument given; then every one NULL but the type (the defaults).
SELECT jobvisor.enqueue('noop', '{"a": 1}', 'u1', :'now', 5, 7, 30, NULL);
SELECT jobvisor.enqueue('noop', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
SELECT jobvisor.enqueue('noop', priority => -2, scheduled_at => :'now');
SELECT * FROM jobs_v;

-- Default set {pending,running}: the key's pending or running job is
-- returned, nothing inserted; once it has finished, the key is free.
TRUNCATE jobvisor.jobs RESTART IDENTITY;
SELECT jobvisor.enqueue('noop', unique_key => 'k', scheduled_at => :'now'::timestamptz - interval '1 s');
SELECT jobvisor.enqueue('noop', unique_key => 'k');
SELECT id FROM jobvisor.claim(1, 1, 0, '{noop}', :'now') WHERE id IS NOT NULL;
SELECT jobvisor.enqueue('other', unique_key => 'k');
SELECT id, status FROM jobvisor.complete(1, '[{"id": 1, "attempt": 1, "outcome": "succeeded"}]',
                                         1000, 3600000, :'now');
SELECT jobvisor.enqueue('noop', unique_key => 'k');
-- {pending,running,succeeded}: the succeeded job 1 holds it (the pending
-- one first while there is one: 2).
SELECT jobvisor.enqueue('noop', unique_key => 'k', unique_states => '{pending,running,succeeded}');
UPDATE jobvisor.jobs SET status = 'cancelled', finished_at = :'now' WHERE id = 2;
SELECT jobvisor.enqueue('noop', unique_key => 'k', unique_states => '{pending,running,succeeded}');
-- Once ever: the newest job of the key holds it (k: 2, cancelled; k2: 3,
-- failed); so does a set that names failed.
SELECT jobvisor.enqueue('noop', unique_key => 'k2');
UPDATE jobvisor.jobs SET status = 'failed', finished_at = :'now' WHERE unique_key = 'k2';
SELECT jobvisor.enqueue('noop', unique_key => 'k',
                        unique_states => '{pending,running,succeeded,failed,cancelled}');
SELECT jobvisor.enqueue('noop', unique_key => 'k2',
                        unique_states => '{pending,running,succeeded,failed,cancelled}');
SELECT jobvisor.enqueue('noop', unique_key => 'k2', unique_states => '{running,pending,failed}');
SELECT id, status, unique_key FROM jobs_v;
-- Sets without pending and running, or with unknown states: refused.
SELECT jobvisor.enqueue('noop', unique_key => 'k3', unique_states => '{pending}');
\echo :SQLSTATE
SELECT jobvisor.enqueue('noop', unique_key => 'k3', unique_states => '{pending,running,done}');
\echo :SQLSTATE
SELECT jobvisor.enqueue('noop', unique_key => 'k3', unique_states => '{pending,running,NULL}');
SELECT jobvisor.enqueue('noop', unique_key => 'k3', unique_states => NULL);
-- A plain INSERT of a second pending job of a key: the index refuses it.
INSERT INTO jobvisor.jobs (type, unique_key) VALUES ('noop', 'k3');
\echo :SQLSTATE
-- Without a key nothing is unique.
SELECT count(DISTINCT jobvisor.enqueue('noop')) FROM generate_series(1, 3);
-- enqueue() plans its statements once per session (sql/023): generic
-- plans while it runs, and the caller's own setting stays as it was.
SELECT proconfig FROM pg_proc
WHERE oid = 'jobvisor.enqueue(text, jsonb, text, timestamptz, integer, integer, integer, text,
             text[], text, bigint[], text)'::regprocedure;
SHOW plan_cache_mode;
SELECT count(DISTINCT jobvisor.enqueue('noop', depends_on => ARRAY[(SELECT min(id) FROM jobvisor.jobs)]))
FROM generate_series(1, 7);
SHOW plan_cache_mode;
