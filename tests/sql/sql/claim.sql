-- claim.sql -- jobvisor.claim() row by row: order, due-ness, types, the
-- batch (p_slots) and its trailer, per_user_limit across processors, the
-- fair rounds across users, and the connection epoch.
-- Time is fixed: every call passes p_now = :'now'; times show relative to it.
\set VERBOSITY terse
\set now '2030-01-01 12:00:00+00'
TRUNCATE jobvisor.jobs, jobvisor.job_executions, jobvisor.processors RESTART IDENTITY;
INSERT INTO jobvisor.processors (name, hostname, pid, version)
SELECT 'p' || g, 'host', 1, 'test' FROM generate_series(1, 3) g;
CREATE TEMP VIEW jobs_v AS
SELECT id, type, coalesce(user_id, '-') AS user_id, status, attempts, locked_by,
       extract(epoch FROM started_at - :'now'::timestamptz) AS started_s
FROM jobvisor.jobs ORDER BY id;
-- claim(processor, slots, per_user, types, p_now): the claimed rows, then
-- (when fewer than slots) the trailer with a NULL id and next_due_ms.
CREATE FUNCTION pg_temp.claim(p int, slots int, per_user int, types text[] DEFAULT '{noop,slow}',
                              epoch int DEFAULT NULL)
RETURNS TABLE (id bigint, type text, user_id text, attempts int, next_due_ms bigint)
LANGUAGE sql AS $$
	SELECT c.id, c.type, c.user_id, c.attempts, c.next_due_ms
	FROM jobvisor.claim(p, slots, per_user, types, '2030-01-01 12:00:00+00', epoch) c
	ORDER BY c.id NULLS LAST
$$;

-- Priority first, then the oldest scheduled_at, then id. Future jobs and
-- jobs of types the processor has no executor for are not taken.
INSERT INTO jobvisor.jobs (type, priority, scheduled_at) VALUES
	('noop', 0, :'now'::timestamptz - interval '3 min'),   -- 1
	('noop', 5, :'now'::timestamptz - interval '1 min'),   -- 2
	('noop', 5, :'now'::timestamptz - interval '2 min'),   -- 3
	('noop', 0, :'now'::timestamptz - interval '3 min'),   -- 4
	('noop', 9, :'now'::timestamptz + interval '1 hour'),  -- 5: not due
	('other', 9, :'now'::timestamptz - interval '1 hour'), -- 6: foreign type
	('slow', -1, :'now'::timestamptz - interval '1 hour'), -- 7
	('noop', 0, :'now'::timestamptz);                      -- 8: due exactly now
SELECT * FROM pg_temp.claim(1, 1, 0);
SELECT * FROM pg_temp.claim(1, 1, 0);
SELECT * FROM pg_temp.claim(1, 2, 0);
-- A batch larger than what is due: all of it, then the trailer: job 5 is
-- due in an hour (3600000 ms). Job 6 (type other) does not count.
SELECT * FROM pg_temp.claim(1, 10, 0);
SELECT * FROM jobs_v;
-- Nothing due: only the trailer.
SELECT * FROM pg_temp.claim(2, 10, 0);
-- A processor with executor "other" takes job 6; its trailer says none
-- pending (NULL).
SELECT * FROM pg_temp.claim(2, 10, 0, '{other}');
-- Zero, negative or NULL slots: nothing at all, not even a trailer.
SELECT count(*) FROM pg_temp.claim(2, 0, 0);
SELECT count(*) FROM pg_temp.claim(2, -1, 0);
SELECT count(*) FROM pg_temp.claim(2, NULL, 0);
-- A batch exactly filled has no trailer.
TRUNCATE jobvisor.jobs RESTART IDENTITY;
INSERT INTO jobvisor.jobs (type, scheduled_at)
SELECT 'noop', :'now'::timestamptz - g * interval '1 s' FROM generate_series(1, 5) g;
SELECT * FROM pg_temp.claim(1, 3, 0);
SELECT * FROM pg_temp.claim(1, 3, 0);
-- The attempt is counted and the processor named; started_at is p_now.
SELECT * FROM jobs_v;

-- Fair rounds: user a has 4 due jobs, b 1, c 2, and there are 2 jobs
-- without a user. Every user's first job comes before anyone's second
-- (by priority first, then rank within the user, then scheduled_at).
TRUNCATE jobvisor.jobs RESTART IDENTITY;
INSERT INTO jobvisor.jobs (type, user_id, scheduled_at) VALUES
	('noop', 'a', :'now'::timestamptz - interval '10 min'),  -- 1
	('noop', 'a', :'now'::timestamptz - interval '9 min'),   -- 2
	('noop', 'a', :'now'::timestamptz - interval '8 min'),   -- 3
	('noop', 'a', :'now'::timestamptz - interval '7 min'),   -- 4
	('noop', 'b', :'now'::timestamptz - interval '1 min'),   -- 5
	('noop', 'c', :'now'::timestamptz - interval '5 min'),   -- 6
	('noop', 'c', :'now'::timestamptz - interval '4 min'),   -- 7
	('noop', NULL, :'now'::timestamptz - interval '3 min'),  -- 8
	('noop', NULL, :'now'::timestamptz - interval '2 min');  -- 9
SELECT * FROM pg_temp.claim(1, 4, 0);
SELECT * FROM pg_temp.claim(1, 3, 0);
-- Priority still beats the rounds: a's high-priority job goes first.
UPDATE jobvisor.jobs SET priority = 10 WHERE id = 4;
SELECT * FROM pg_temp.claim(1, 1, 0);
SELECT * FROM pg_temp.claim(1, 10, 0);

-- per_user_limit counts the user's running jobs on every processor.
TRUNCATE jobvisor.jobs RESTART IDENTITY;
INSERT INTO jobvisor.jobs (type, user_id, scheduled_at)
SELECT 'noop', 'big', :'now'::timestamptz - interval '1 hour' + g * interval '1 s'
FROM generate_series(1, 20) g;
INSERT INTO jobvisor.jobs (type, user_id, scheduled_at) VALUES
	('noop', 'small', :'now'::timestamptz - interval '1 s');
-- Limit 2: two of big's and small's one.
SELECT * FROM pg_temp.claim(1, 10, 2);
-- Another processor: big is at its limit; jobs are due but held back, so
-- the trailer says 0.
SELECT * FROM pg_temp.claim(2, 10, 2);
-- A finished job frees a slot of its user.
UPDATE jobvisor.jobs SET status = 'succeeded', locked_by = NULL, finished_at = :'now'
WHERE id = 1;
SELECT * FROM pg_temp.claim(3, 10, 2);
SELECT locked_by, user_id, count(*) FROM jobvisor.jobs WHERE status = 'running'
GROUP BY 1, 2 ORDER BY 1, 2;
-- per_user 0: no limit, only the slots.
SELECT count(*) FROM pg_temp.claim(3, 5, 0) WHERE id IS NOT NULL;
-- per_user 1 with 7 running already: nothing, trailer 0.
SELECT * FROM pg_temp.claim(3, 5, 1);

-- The connection epoch: a claim sent with an epoch other than the
-- processor's claim_epoch claims nothing and returns nothing.
TRUNCATE jobvisor.jobs RESTART IDENTITY;
INSERT INTO jobvisor.jobs (type, scheduled_at) VALUES ('noop', :'now'::timestamptz - interval '1 s');
UPDATE jobvisor.processors SET claim_epoch = 4 WHERE id = 1;
SELECT count(*) FROM pg_temp.claim(1, 5, 0, epoch => 3);
SELECT count(*) FROM pg_temp.claim(1, 5, 0, epoch => 5);
SELECT * FROM jobs_v;
SELECT * FROM pg_temp.claim(1, 5, 0, epoch => 4);
-- For an unknown processor with an epoch: nothing either.
INSERT INTO jobvisor.jobs (type, scheduled_at) VALUES ('noop', :'now'::timestamptz - interval '1 s');
SELECT count(*) FROM pg_temp.claim(99, 5, 0, epoch => 0);
-- Without an epoch (NULL) the claim does not check it.
SELECT * FROM pg_temp.claim(99, 5, 0);

-- What a claim reads (sql/024_claim_due.sql): the served queue's due jobs,
-- not every pending job. 20 000 jobs due in 'default'; in 'quiet', 50 000
-- scheduled in an hour and 3 due. A claim of 10 slots from 'quiet' takes
-- the 3 and reads about a hundred pages of the jobs table and its indexes
-- (this transaction's statistics; before 024, 820 to 880: the walk passed
-- the 50 000 not yet due, the trailer's search the 20 000 of 'default').
-- Then the same with a concurrency limit on 'quiet' (the claim with
-- budgets), with one job of a user pending (the fair claim), and with
-- nothing due (the trailer alone: the next job in an hour).
TRUNCATE jobvisor.jobs RESTART IDENTITY;
INSERT INTO jobvisor.queues (name) VALUES ('quiet');
INSERT INTO jobvisor.jobs (type, scheduled_at)
SELECT 'noop', :'now'::timestamptz - interval '1 hour' FROM generate_series(1, 20000);
INSERT INTO jobvisor.jobs (type, queue, scheduled_at)
SELECT 'noop', 'quiet', :'now'::timestamptz + interval '1 hour' FROM generate_series(1, 50000);
INSERT INTO jobvisor.jobs (type, queue, scheduled_at)
SELECT 'noop', 'quiet', :'now'::timestamptz - interval '1 min' FROM generate_series(1, 3);
ANALYZE jobvisor.jobs;
CREATE FUNCTION pg_temp.pages() RETURNS bigint LANGUAGE sql AS $$
	SELECT pg_stat_get_xact_blocks_fetched('jobvisor.jobs'::regclass)
	       + sum(pg_stat_get_xact_blocks_fetched(i.indexrelid))::bigint
	FROM pg_index i WHERE i.indrelid = 'jobvisor.jobs'::regclass
$$;
CREATE FUNCTION pg_temp.claim_quiet(slots int) RETURNS TABLE (claimed bigint, next_due_ms bigint)
LANGUAGE sql AS $$
	SELECT count(c.id), max(c.next_due_ms)
	FROM jobvisor.claim(1, slots, 0, '{noop}', '2030-01-01 12:00:00+00', NULL, '{quiet}', NULL, NULL) c
$$;
BEGIN;
SELECT pg_temp.pages() AS before \gset
SELECT * FROM pg_temp.claim_quiet(10);
SELECT pg_temp.pages() - :before < 300 AS "read under 300 pages";
ROLLBACK;
UPDATE jobvisor.queues SET global_concurrency = 5 WHERE name = 'quiet';
BEGIN;
SELECT pg_temp.pages() AS before \gset
SELECT * FROM pg_temp.claim_quiet(10);
SELECT pg_temp.pages() - :before < 300 AS "read under 300 pages";
ROLLBACK;
UPDATE jobvisor.queues SET global_concurrency = NULL WHERE name = 'quiet';
INSERT INTO jobvisor.jobs (type, user_id, scheduled_at) VALUES ('noop', 'u1', :'now'::timestamptz + interval '1 day');
BEGIN;
SELECT pg_temp.pages() AS before \gset
SELECT * FROM pg_temp.claim_quiet(10);
SELECT pg_temp.pages() - :before < 300 AS "read under 300 pages";
ROLLBACK;
UPDATE jobvisor.jobs SET scheduled_at = :'now'::timestamptz + interval '2 hours' WHERE queue = 'quiet' AND scheduled_at < :'now';
BEGIN;
SELECT pg_temp.pages() AS before \gset
SELECT * FROM pg_temp.claim_quiet(10);
SELECT pg_temp.pages() - :before < 300 AS "read under 300 pages";
ROLLBACK;
TRUNCATE jobvisor.jobs RESTART IDENTITY;
DELETE FROM jobvisor.queues WHERE name = 'quiet';

-- Jobs of types the processor does not serve (sql/026_claim_types.sql):
-- 20 000 'email' jobs due in 'default', the oldest, and 3 'noop' due
-- after them. A claim of 10 for '{noop}' takes the 3 and reads about a
-- hundred pages; before 026, 20 000 and more (the walk, the count of due
-- jobs and the trailer passed every 'email' job). The same with a
-- concurrency limit on 'default' (the claim with budgets), with one job
-- of a user pending (the fair claim), and with the 3 not yet due (the
-- trailer alone: the next 'noop' job, in an hour, not an 'email' one).
TRUNCATE jobvisor.jobs RESTART IDENTITY;
INSERT INTO jobvisor.jobs (type, scheduled_at)
SELECT 'email', :'now'::timestamptz - interval '1 hour' FROM generate_series(1, 20000);
INSERT INTO jobvisor.jobs (type, scheduled_at)
SELECT 'noop', :'now'::timestamptz - interval '1 min' FROM generate_series(1, 3);
ANALYZE jobvisor.jobs;
CREATE FUNCTION pg_temp.claim_noop(slots int) RETURNS TABLE (claimed bigint, next_due_ms bigint)
LANGUAGE sql AS $$
	SELECT count(c.id), max(c.next_due_ms)
	FROM jobvisor.claim(1, slots, 0, '{noop}', '2030-01-01 12:00:00+00', NULL, '{default}', NULL, NULL) c
$$;
BEGIN;
SELECT pg_temp.pages() AS before \gset
SELECT * FROM pg_temp.claim_noop(10);
SELECT pg_temp.pages() - :before < 300 AS "read under 300 pages";
ROLLBACK;
UPDATE jobvisor.queues SET global_concurrency = 5 WHERE name = 'default';
BEGIN;
SELECT pg_temp.pages() AS before \gset
SELECT * FROM pg_temp.claim_noop(10);
SELECT pg_temp.pages() - :before < 300 AS "read under 300 pages";
ROLLBACK;
UPDATE jobvisor.queues SET global_concurrency = NULL WHERE name = 'default';
INSERT INTO jobvisor.jobs (type, user_id, scheduled_at) VALUES ('noop', 'u1', :'now'::timestamptz + interval '1 day');
BEGIN;
SELECT pg_temp.pages() AS before \gset
SELECT * FROM pg_temp.claim_noop(10);
SELECT pg_temp.pages() - :before < 300 AS "read under 300 pages";
ROLLBACK;
UPDATE jobvisor.jobs SET scheduled_at = :'now'::timestamptz + interval '1 hour' WHERE type = 'noop' AND user_id IS NULL;
BEGIN;
SELECT pg_temp.pages() AS before \gset
SELECT * FROM pg_temp.claim_noop(10);
SELECT pg_temp.pages() - :before < 300 AS "read under 300 pages";
ROLLBACK;
SELECT jobvisor.oldest_due(:'now') = :'now'::timestamptz - interval '1 hour' AS "oldest due: the 'email' jobs";
-- A user's jobs of other types and queues, read by the fair claim's look
-- at that user: 'u1' with 20 000 'email' jobs due in 'default' and 20 000
-- 'noop' ones in 'elsewhere', the oldest, and 3 'noop' jobs due in
-- 'default'. The claim takes the 3 and reads about two hundred pages (before
-- 026, 40 000 and more; since 027 a hundred of them are the first claim's
-- plans made again after ANALYZE).
TRUNCATE jobvisor.jobs RESTART IDENTITY;
INSERT INTO jobvisor.queues (name) VALUES ('elsewhere');
INSERT INTO jobvisor.jobs (type, user_id, scheduled_at)
SELECT 'email', 'u1', :'now'::timestamptz - interval '1 hour' FROM generate_series(1, 20000);
INSERT INTO jobvisor.jobs (type, queue, user_id, scheduled_at)
SELECT 'noop', 'elsewhere', 'u1', :'now'::timestamptz - interval '1 hour' FROM generate_series(1, 20000);
INSERT INTO jobvisor.jobs (type, user_id, scheduled_at)
SELECT 'noop', 'u1', :'now'::timestamptz - interval '1 min' FROM generate_series(1, 3);
ANALYZE jobvisor.jobs;
BEGIN;
SELECT pg_temp.pages() AS before \gset
SELECT * FROM pg_temp.claim_noop(10);
SELECT pg_temp.pages() - :before < 400 AS "read under 400 pages";
ROLLBACK;
DELETE FROM jobvisor.jobs WHERE queue = 'elsewhere';
DELETE FROM jobvisor.queues WHERE name = 'elsewhere';
-- Jobs of a higher priority scheduled later (sql/026_claim_types.sql):
-- 60 000 'noop' jobs at priority 5 due tomorrow, and 3 at priority 0 due
-- now. Fewer due than slots: the claim reads the 3 in due order, about a
-- hundred pages (before, about 450: the walk in claim order passed the
-- later ones first). The same with a budget and with a user's job
-- pending (the fair claim's stream of jobs without a user).
TRUNCATE jobvisor.jobs RESTART IDENTITY;
INSERT INTO jobvisor.jobs (type, priority, scheduled_at)
SELECT 'noop', 5, :'now'::timestamptz + interval '1 day' FROM generate_series(1, 60000);
INSERT INTO jobvisor.jobs (type, scheduled_at)
SELECT 'noop', :'now'::timestamptz - interval '1 min' FROM generate_series(1, 3);
ANALYZE jobvisor.jobs;
BEGIN;
SELECT pg_temp.pages() AS before \gset
SELECT * FROM pg_temp.claim_noop(10);
SELECT pg_temp.pages() - :before < 300 AS "read under 300 pages";
ROLLBACK;
UPDATE jobvisor.queues SET global_concurrency = 5 WHERE name = 'default';
BEGIN;
SELECT pg_temp.pages() AS before \gset
SELECT * FROM pg_temp.claim_noop(10);
SELECT pg_temp.pages() - :before < 300 AS "read under 300 pages";
ROLLBACK;
UPDATE jobvisor.queues SET global_concurrency = NULL WHERE name = 'default';
INSERT INTO jobvisor.jobs (type, user_id, scheduled_at) VALUES ('noop', 'u1', :'now'::timestamptz + interval '1 day');
BEGIN;
SELECT pg_temp.pages() AS before \gset
SELECT * FROM pg_temp.claim_noop(10);
SELECT pg_temp.pages() - :before < 300 AS "read under 300 pages";
ROLLBACK;
-- As many due as slots or more (a backlog): the best by claim order, read
-- a priority at a time (sql/027_claim_priorities.sql), about a hundred
-- pages; before 027 the walk passed the 60 000 later ones of priority 5
-- first (about 450). With a job of priority 3 due too, the youngest, a
-- claim of 2 takes it and the oldest of priority 0; then a claim of 10
-- the other two.
DELETE FROM jobvisor.jobs WHERE user_id IS NOT NULL;
INSERT INTO jobvisor.jobs (type, priority, scheduled_at) VALUES ('noop', 3, :'now'::timestamptz - interval '1 s');
BEGIN;
SELECT pg_temp.pages() AS before \gset
CREATE TEMP TABLE took AS
SELECT c.id FROM jobvisor.claim(1, 2, 0, '{noop}', :'now', NULL) c WHERE c.id IS NOT NULL;
SELECT pg_temp.pages() - :before < 300 AS "read under 300 pages";
COMMIT;
SELECT string_agg(j.priority || ':' || t.id, ' ' ORDER BY j.priority DESC, t.id) AS claimed
FROM took t JOIN jobvisor.jobs j USING (id);
DROP TABLE took;
SELECT string_agg(j.priority || ':' || c.id, ' ' ORDER BY j.priority DESC, c.id) AS claimed
FROM jobvisor.claim(1, 10, 0, '{noop}', :'now', NULL) c JOIN jobvisor.jobs j USING (id);
-- The same backlog with a budget ('default' at 4 running: the claim with
-- budgets) and with a user's job pending (the fair claim's stream of jobs
-- without a user, and its look at the user): 12 due at priority 0 and 2
-- at priority 3. A claim of 5 takes the 2, then the oldest of priority 0,
-- reading about 220 and 280 pages, planning included (the first claims
-- after ANALYZE make their plans again); before 027, about 590 each.
DELETE FROM jobvisor.jobs WHERE status <> 'pending';
INSERT INTO jobvisor.jobs (type, priority, scheduled_at)
SELECT 'noop', 0, :'now'::timestamptz - g * interval '1 min' FROM generate_series(1, 12) g;
INSERT INTO jobvisor.jobs (type, priority, scheduled_at)
SELECT 'noop', 3, :'now'::timestamptz - g * interval '1 s' FROM generate_series(1, 2) g;
ANALYZE jobvisor.jobs;
UPDATE jobvisor.queues SET global_concurrency = 4 WHERE name = 'default';
BEGIN;
SELECT pg_temp.pages() AS before \gset
CREATE TEMP TABLE took AS
SELECT c.id FROM jobvisor.claim(1, 5, 0, '{noop}', :'now', NULL) c WHERE c.id IS NOT NULL;
SELECT pg_temp.pages() - :before < 400 AS "read under 400 pages";
SELECT string_agg(j.priority || ':' || extract(epoch FROM j.scheduled_at - :'now'::timestamptz), ' '
                  ORDER BY j.priority DESC, j.scheduled_at) AS claimed
FROM took t JOIN jobvisor.jobs j USING (id);
ROLLBACK;
UPDATE jobvisor.queues SET global_concurrency = NULL WHERE name = 'default';
INSERT INTO jobvisor.jobs (type, user_id, scheduled_at) VALUES ('noop', 'u1', :'now'::timestamptz + interval '1 day');
BEGIN;
SELECT pg_temp.pages() AS before \gset
CREATE TEMP TABLE took AS
SELECT c.id FROM jobvisor.claim(1, 5, 0, '{noop}', :'now', NULL) c WHERE c.id IS NOT NULL;
SELECT pg_temp.pages() - :before < 400 AS "read under 400 pages";
SELECT string_agg(j.priority || ':' || extract(epoch FROM j.scheduled_at - :'now'::timestamptz), ' '
                  ORDER BY j.priority DESC, j.scheduled_at) AS claimed
FROM took t JOIN jobvisor.jobs j USING (id);
ROLLBACK;
-- A user's jobs of a higher priority scheduled later, read by the fair
-- claim's look at the user and its walk of the user's jobs: 'u1' with
-- 60 000 at priority 5 due tomorrow and 3 at priority 0 due now. The
-- claim takes the 3 and reads about 360 pages, most of them making its
-- plans (before 027, the 60 000 were passed twice: about 1 050).
TRUNCATE jobvisor.jobs RESTART IDENTITY;
INSERT INTO jobvisor.jobs (type, user_id, priority, scheduled_at)
SELECT 'noop', 'u1', 5, :'now'::timestamptz + interval '1 day' FROM generate_series(1, 60000);
INSERT INTO jobvisor.jobs (type, user_id, scheduled_at)
SELECT 'noop', 'u1', :'now'::timestamptz - g * interval '1 min' FROM generate_series(1, 3) g;
ANALYZE jobvisor.jobs;
BEGIN;
SELECT pg_temp.pages() AS before \gset
SELECT * FROM pg_temp.claim_noop(10);
SELECT pg_temp.pages() - :before < 600 AS "read under 600 pages";
ROLLBACK;
-- More priorities than the walk takes a step each (64): past them it goes
-- on in claim order. Priorities 1 to 70, each with a job due (the higher,
-- the younger) and one due tomorrow. Claims of 50 take priorities 70 to
-- 21, then 20 to 1: the same with a user's job pending (the fair claim),
-- and for a user's own jobs.
TRUNCATE jobvisor.jobs RESTART IDENTITY;
INSERT INTO jobvisor.jobs (type, priority, scheduled_at)
SELECT 'noop', g, :'now'::timestamptz - (71 - g) * interval '1 s' FROM generate_series(1, 70) g;
INSERT INTO jobvisor.jobs (type, priority, scheduled_at)
SELECT 'noop', g, :'now'::timestamptz + interval '1 day' FROM generate_series(1, 70) g;
SELECT count(*), max(j.priority), min(j.priority), bool_and(j.scheduled_at <= :'now') AS all_due
FROM jobvisor.claim(1, 50, 0, '{noop}', :'now', NULL) c JOIN jobvisor.jobs j USING (id);
SELECT count(*), max(j.priority), min(j.priority), bool_and(j.scheduled_at <= :'now') AS all_due
FROM jobvisor.claim(1, 50, 0, '{noop}', :'now', NULL) c JOIN jobvisor.jobs j USING (id);
UPDATE jobvisor.jobs SET status = 'pending', attempts = 0, locked_by = NULL, started_at = NULL
WHERE status = 'running';
INSERT INTO jobvisor.jobs (type, user_id, scheduled_at) VALUES ('noop', 'u1', :'now'::timestamptz + interval '1 day');
SELECT count(*), max(j.priority), min(j.priority), bool_and(j.scheduled_at <= :'now') AS all_due
FROM jobvisor.claim(1, 50, 0, '{noop}', :'now', NULL) c JOIN jobvisor.jobs j USING (id);
UPDATE jobvisor.jobs SET status = 'pending', attempts = 0, locked_by = NULL, started_at = NULL
WHERE status = 'running';
UPDATE jobvisor.jobs SET user_id = 'u2' WHERE user_id IS NULL;
SELECT count(*), max(j.priority), min(j.priority), bool_and(j.scheduled_at <= :'now') AS all_due
FROM jobvisor.claim(1, 50, 0, '{noop}', :'now', NULL) c JOIN jobvisor.jobs j USING (id);
SELECT count(*), max(j.priority), min(j.priority), bool_and(j.scheduled_at <= :'now') AS all_due
FROM jobvisor.claim(1, 50, 0, '{noop}', :'now', NULL) c JOIN jobvisor.jobs j USING (id);
TRUNCATE jobvisor.jobs RESTART IDENTITY;
-- Several types due: the best of all of them in claim order, the one
-- walk per type cut to the slots. 'a' and 'b' interleaved by time, 'c'
-- with a higher priority, 'd' not served.
TRUNCATE jobvisor.jobs RESTART IDENTITY;
INSERT INTO jobvisor.jobs (type, priority, scheduled_at)
SELECT (ARRAY['a', 'b', 'd'])[1 + g % 3], 0, :'now'::timestamptz - g * interval '1 s'
FROM generate_series(1, 12) g;
INSERT INTO jobvisor.jobs (type, priority, scheduled_at) VALUES ('c', 5, :'now');
SELECT string_agg(c.type || c.id, ' ' ORDER BY j.priority DESC, j.scheduled_at, j.id) AS claimed
FROM jobvisor.claim(1, 5, 0, '{a,b,c}', :'now', NULL) c JOIN jobvisor.jobs j USING (id);
-- With a budget on 'default' (the claim with budgets): the next 3.
UPDATE jobvisor.queues SET global_concurrency = 8 WHERE name = 'default';
SELECT string_agg(c.type || c.id, ' ' ORDER BY j.scheduled_at, j.id) AS claimed
FROM jobvisor.claim(1, 5, 0, '{a,b,c}', :'now', NULL) c JOIN jobvisor.jobs j USING (id);
UPDATE jobvisor.queues SET global_concurrency = NULL WHERE name = 'default';
-- And with a user's job due (the fair claim): the user's, then the rest.
INSERT INTO jobvisor.jobs (type, user_id, scheduled_at) VALUES ('b', 'u1', :'now');
SELECT string_agg(coalesce(c.user_id, '-') || c.type || c.id, ' ' ORDER BY c.user_id NULLS LAST, j.scheduled_at, j.id) AS claimed
FROM jobvisor.claim(1, 5, 0, '{a,b,c}', :'now', NULL) c JOIN jobvisor.jobs j USING (id);
SELECT string_agg(type || id, ' ' ORDER BY id) AS left_pending FROM jobvisor.jobs WHERE status = 'pending';
TRUNCATE jobvisor.jobs RESTART IDENTITY;

-- The fair claim's look at users (sql/025_fair_window.sql). 1 000 users
-- with two due jobs each, and 200 more by user_id with one job each, the
-- oldest of all. A claim of 10 takes candidates from 20 users (twice its
-- slots, at least 16) from where the last claim stopped, and reads a few
-- hundred pages. Before 025 every claim looked at the first 1 000 users
-- with pending jobs (7 300 pages here), and the users after them got
-- nothing while those had jobs (their first job at claim 102).
TRUNCATE jobvisor.jobs RESTART IDENTITY;
UPDATE jobvisor.fair_clock SET next_user = NULL;
INSERT INTO jobvisor.jobs (type, user_id, scheduled_at)
SELECT 'noop', 'u' || lpad(g::text, 4, '0'),
       :'now'::timestamptz - (3 - k) * interval '1 hour' - g * interval '1 ms'
FROM generate_series(1, 1000) g, generate_series(1, 2) k;
INSERT INTO jobvisor.jobs (type, user_id, scheduled_at)
SELECT 'noop', 'u' || lpad(g::text, 4, '0'), :'now'::timestamptz - interval '3 hours'
FROM generate_series(1001, 1200) g;
ANALYZE jobvisor.jobs;
BEGIN;
SELECT pg_temp.pages() AS before \gset
SELECT count(*), min(user_id), max(user_id) FROM pg_temp.claim(1, 10, 0);
SELECT pg_temp.pages() - :before < 600 AS "read under 600 pages";
SELECT next_user FROM jobvisor.fair_clock;
ROLLBACK;
-- Claims of 10 until none is left: every claim takes 10, every user comes
-- round, and the users after the first 1 000 in the first round of
-- windows (claim 51: u1001 to u1020).
CREATE TEMP TABLE got (n int, id bigint, user_id text);
DO $$
BEGIN
	FOR i IN 1 .. 300 LOOP
		INSERT INTO got
		SELECT i, c.id, c.user_id
		FROM jobvisor.claim(1, 10, 0, '{noop}', '2030-01-01 12:00:00+00', NULL) c
		WHERE c.id IS NOT NULL;
		EXIT WHEN NOT FOUND;
	END LOOP;
END
$$;
SELECT count(*) AS jobs, count(DISTINCT user_id) AS users, max(n) AS claims,
       (SELECT count(*) FROM (SELECT n FROM got GROUP BY n HAVING count(*) <> 10) s) AS short_claims,
       min(n) FILTER (WHERE user_id > 'u1000') AS first_claim_past_1000
FROM got;
-- Users at their limit do not take the window's places: 100 users with a
-- job running and one pending each (per_user 1), and one more with a job
-- pending and none running. A claim of 1 takes that one's job.
TRUNCATE jobvisor.jobs RESTART IDENTITY;
UPDATE jobvisor.fair_clock SET next_user = NULL;
INSERT INTO jobvisor.jobs (type, user_id, status, attempts, locked_by, started_at, scheduled_at)
SELECT 'noop', 'u' || lpad(g::text, 4, '0'), 'running', 1, 2, :'now', :'now'::timestamptz - interval '1 hour'
FROM generate_series(1, 100) g;
INSERT INTO jobvisor.jobs (type, user_id, scheduled_at)
SELECT 'noop', 'u' || lpad(g::text, 4, '0'), :'now'::timestamptz - interval '1 min'
FROM generate_series(1, 101) g;
SELECT * FROM pg_temp.claim(1, 1, 1);
SELECT next_user FROM jobvisor.fair_clock;
TRUNCATE jobvisor.jobs RESTART IDENTITY;
UPDATE jobvisor.fair_clock SET next_user = NULL;
-- A queue with limits and 5 000 jobs running in it (on this processor):
-- a claim with budgets counts them once for each limit, not three times
-- (sql/025_fair_window.sql: claim_budgets() materializes each queue's
-- budget). This claim reads about 400 pages of the table and its
-- indexes; before 025, 900.
TRUNCATE jobvisor.jobs RESTART IDENTITY;
INSERT INTO jobvisor.queues (name, global_concurrency) VALUES ('busy', 100000);
INSERT INTO jobvisor.jobs (type, queue, status, attempts, locked_by, started_at)
SELECT 'noop', 'busy', 'running', 1, 1, :'now' FROM generate_series(1, 5000);
INSERT INTO jobvisor.jobs (type, queue, scheduled_at)
SELECT 'noop', 'busy', :'now'::timestamptz - interval '1 min' FROM generate_series(1, 20);
ANALYZE jobvisor.jobs;
BEGIN;
SELECT pg_temp.pages() AS before \gset
SELECT count(c.id) AS claimed
FROM jobvisor.claim(1, 10, 0, '{noop}', '2030-01-01 12:00:00+00', NULL, '{busy}', '{busy}', '{100000}') c;
SELECT pg_temp.pages() - :before < 600 AS "read under 600 pages";
ROLLBACK;
TRUNCATE jobvisor.jobs RESTART IDENTITY;
DELETE FROM jobvisor.queues WHERE name = 'busy';
