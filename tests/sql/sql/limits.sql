-- limits.sql -- the tables' own rules: the size and length limits of 008
-- (trigger, SQLSTATE 22001, the message names the column and the limit,
-- never the value), the CHECK constraints of 001 and 009 (23514), and the
-- triggers that fire or not on claim and completion.
-- VERBOSITY terse: the messages without the DETAIL of a CHECK, which
-- shows the whole row (with its timestamps).
\set VERBOSITY terse
\set now '2030-01-01 12:00:00+00'
TRUNCATE jobvisor.jobs, jobvisor.job_executions, jobvisor.processors, jobvisor.schedules
	RESTART IDENTITY;
INSERT INTO jobvisor.processors (name, hostname, pid, version) VALUES ('p1', 'host', 1, 'test');

-- At the limits: accepted. Bytes, not characters: 'é' is 2 bytes.
INSERT INTO jobvisor.jobs (type, user_id, unique_key, payload)
VALUES (repeat('t', 128), repeat('é', 128), repeat('k', 512),
        jsonb_build_object('d', repeat('x', 1048576 - 9)));
SELECT octet_length(type) AS type, octet_length(user_id) AS user_id,
       octet_length(unique_key) AS unique_key, octet_length(payload::text) AS payload
FROM jobvisor.jobs;
-- One byte over each: refused, the column and the size named.
INSERT INTO jobvisor.jobs (type) VALUES (repeat('t', 129));
\echo :SQLSTATE
INSERT INTO jobvisor.jobs (type, user_id) VALUES ('noop', repeat('é', 128) || 'u');
\echo :SQLSTATE
INSERT INTO jobvisor.jobs (type, unique_key) VALUES ('noop', repeat('k', 513));
\echo :SQLSTATE
INSERT INTO jobvisor.jobs (type, payload) VALUES ('noop', jsonb_build_object('d', repeat('x', 1048576 - 8)));
\echo :SQLSTATE
-- Through enqueue() alike.
SELECT jobvisor.enqueue(repeat('t', 200));
\echo :SQLSTATE
-- An UPDATE that writes one of the columns is checked too; one that does
-- not (the claim, the completion) is not, so a row from before 008 that
-- is over a limit still runs and finishes.
UPDATE jobvisor.jobs SET user_id = repeat('u', 257) WHERE id = 1;
\echo :SQLSTATE
ALTER TABLE jobvisor.jobs DISABLE TRIGGER jobs_limits;
INSERT INTO jobvisor.jobs (type, user_id, scheduled_at)
VALUES ('noop', repeat('u', 300), :'now'::timestamptz - interval '1 min');
ALTER TABLE jobvisor.jobs ENABLE TRIGGER jobs_limits;
SELECT id, octet_length(user_id) FROM jobvisor.claim(1, 5, 0, '{noop}', :'now') WHERE id IS NOT NULL;
SELECT c.applied, c.status
FROM jobvisor.jobs j,
     jobvisor.complete(1, jsonb_build_array(jsonb_build_object('id', j.id, 'attempt', 1, 'outcome', 'succeeded')),
                       1000, 3600000, :'now') c
WHERE octet_length(j.user_id) = 300;
-- Schedules: the job template's type, user_id and payload.
INSERT INTO jobvisor.schedules (name, cron, type) VALUES ('s', '* * * * *', repeat('t', 129));
\echo :SQLSTATE
INSERT INTO jobvisor.schedules (name, cron, type, user_id) VALUES ('s', '* * * * *', 'noop', repeat('u', 257));
\echo :SQLSTATE
INSERT INTO jobvisor.schedules (name, cron, type, payload)
VALUES ('s', '* * * * *', 'noop', jsonb_build_object('d', repeat('x', 1048576)));
\echo :SQLSTATE
INSERT INTO jobvisor.schedules (name, cron, type, user_id) VALUES ('s', '* * * * *', 'noop', repeat('u', 256));
UPDATE jobvisor.schedules SET type = repeat('t', 129);
\echo :SQLSTATE

-- CHECK constraints of jobs.
TRUNCATE jobvisor.jobs RESTART IDENTITY;
INSERT INTO jobvisor.jobs (type) VALUES ('');
INSERT INTO jobvisor.jobs (type, payload) VALUES ('noop', '[1, 2]');
INSERT INTO jobvisor.jobs (type, payload) VALUES ('noop', '"text"');
INSERT INTO jobvisor.jobs (type, status) VALUES ('noop', 'sleeping');
INSERT INTO jobvisor.jobs (type, attempts) VALUES ('noop', -1);
INSERT INTO jobvisor.jobs (type, max_attempts) VALUES ('noop', 0);
INSERT INTO jobvisor.jobs (type, timeout_seconds) VALUES ('noop', 0);
INSERT INTO jobvisor.jobs (type, status) VALUES ('noop', 'running');
\echo :SQLSTATE
SELECT jobvisor.enqueue(NULL);
\echo :SQLSTATE
-- 009: a pending job has an attempt left, a running one is within its
-- limit; finished jobs may have spent them all.
INSERT INTO jobvisor.jobs (type, attempts, max_attempts) VALUES ('noop', 3, 3);
\echo :SQLSTATE
INSERT INTO jobvisor.jobs (type, status, locked_by, attempts, max_attempts) VALUES ('noop', 'running', 1, 4, 3);
INSERT INTO jobvisor.jobs (type, status, locked_by, attempts, max_attempts) VALUES ('noop', 'running', 1, 3, 3);
INSERT INTO jobvisor.jobs (type, status, attempts, max_attempts) VALUES ('noop', 'failed', 3, 3);
INSERT INTO jobvisor.jobs (type, attempts, max_attempts) VALUES ('noop', 2, 3);
UPDATE jobvisor.jobs SET max_attempts = 2 WHERE status = 'pending';
SELECT id, status, attempts, max_attempts FROM jobvisor.jobs ORDER BY id;
-- The running job on its last attempt, released: pending with one left.
SELECT c.applied, c.status
FROM jobvisor.jobs j,
     jobvisor.complete(1, jsonb_build_array(jsonb_build_object('id', j.id, 'attempt', 3, 'outcome', 'released')),
                       1000, 3600000, :'now') c
WHERE j.status = 'running';
SELECT id, status, attempts, max_attempts FROM jobvisor.jobs ORDER BY id;

-- CHECK constraints of job_executions, processors and schedules.
INSERT INTO jobvisor.job_executions (job_id, attempt, type) VALUES (1, 0, 'noop');
INSERT INTO jobvisor.job_executions (job_id, attempt, type, duration_ms) VALUES (1, 1, 'noop', -1);
INSERT INTO jobvisor.job_executions (job_id, attempt, type, outcome, finished_at)
VALUES (1, 1, 'noop', 'lost', now());
INSERT INTO jobvisor.job_executions (job_id, attempt, type, outcome) VALUES (1, 1, 'noop', 'failed');
INSERT INTO jobvisor.job_executions (job_id, attempt, type, finished_at) VALUES (1, 1, 'noop', now());
INSERT INTO jobvisor.processors (name, hostname, pid, version, state) VALUES ('p', 'h', 1, 't', 'dead');
INSERT INTO jobvisor.processors (name, hostname, pid, version, state) VALUES ('p', 'h', 1, 't', 'stopped');
INSERT INTO jobvisor.processors (name, hostname, pid, version, stopped_at) VALUES ('p', 'h', 1, 't', now());
INSERT INTO jobvisor.schedules (name, cron, type) VALUES ('', '* * * * *', 'noop');
INSERT INTO jobvisor.schedules (name, cron, type) VALUES ('x', '* * * * *', '');
INSERT INTO jobvisor.schedules (name, cron, type, catch_up) VALUES ('x', '* * * * *', 'noop', 'some');
INSERT INTO jobvisor.schedules (name, cron, type, jitter_seconds) VALUES ('x', '* * * * *', 'noop', -1);
INSERT INTO jobvisor.schedules (name, cron, type, max_attempts) VALUES ('x', '* * * * *', 'noop', 0);
INSERT INTO jobvisor.schedules (name, cron, type, timeout_seconds) VALUES ('x', '* * * * *', 'noop', 0);
INSERT INTO jobvisor.schedules (name, cron, type, payload) VALUES ('x', '* * * * *', 'noop', '[]');
INSERT INTO jobvisor.schedules (name, cron, type, source) VALUES ('x', '* * * * *', 'noop', 'file');

-- Triggers: jobs_notify_insert fires once per INSERT statement, however
-- many rows; jobs_notify_pending when a job becomes pending again and is
-- due (now()); neither on a claim or a completion. Counted by standing in
-- for notify_jobs() (the triggers call it by its OID) inside a transaction
-- that is rolled back.
BEGIN;
CREATE TEMP TABLE fired (n serial, tg text, op text);
CREATE OR REPLACE FUNCTION jobvisor.notify_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO fired (tg, op) VALUES (TG_NAME, TG_OP);
	RETURN NULL;
END
$$;
TRUNCATE jobvisor.jobs RESTART IDENTITY;
INSERT INTO jobvisor.jobs (type, scheduled_at)
SELECT 'noop', now() - interval '1 min' FROM generate_series(1, 3);
INSERT INTO jobvisor.jobs (type, scheduled_at) VALUES ('noop', now() + interval '1 hour');
SELECT count(*) FROM jobvisor.claim(1, 3, 0, '{noop}', now()) WHERE id IS NOT NULL;
SELECT count(*)
FROM jobvisor.complete(1, '[{"id": 1, "attempt": 1, "outcome": "succeeded"},
                            {"id": 2, "attempt": 1, "outcome": "failed", "retryable": true, "retry_ms": 60000}]',
                       1000, 3600000, now());
-- (job 2 is pending again, but not due: no trigger; a retry from the API
-- makes job 1 pending and due: the trigger)
UPDATE jobvisor.jobs SET status = 'pending', max_attempts = attempts + 1, scheduled_at = now(),
       finished_at = NULL WHERE id = 1;
-- (a rescue dated a minute ago makes job 3 due at once: the trigger)
UPDATE jobvisor.processors SET heartbeat_at = now() - interval '1 hour' WHERE id = 1;
SELECT id, status FROM jobvisor.rescue_stuck(interval '1 s', now() - interval '1 min');
SELECT * FROM fired ORDER BY n;
ROLLBACK;
