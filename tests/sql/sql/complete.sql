-- complete.sql -- jobvisor.complete(): what each outcome makes of the job
-- and of its history row; retries and their backoff; attempts counting up
-- to max_attempts; fencing of late results (wrong attempt, wrong
-- processor, rescued or cancelled meanwhile) and replays.
-- Time is fixed: claims at :'now', completions at :'now' + 10 s; times show
-- as seconds relative to :'now'.
\set VERBOSITY terse
\set now '2030-01-01 12:00:00+00'
TRUNCATE jobvisor.jobs, jobvisor.job_executions, jobvisor.processors RESTART IDENTITY;
INSERT INTO jobvisor.processors (name, hostname, pid, version)
SELECT 'p' || g, 'host', 1, 'test' FROM generate_series(1, 2) g;
CREATE TEMP VIEW jobs_v AS
SELECT id, status, attempts AS att, max_attempts AS max, locked_by AS lk,
       extract(epoch FROM scheduled_at - :'now'::timestamptz) AS due_s,
       extract(epoch FROM finished_at - :'now'::timestamptz) AS fin_s,
       last_error, result
FROM jobvisor.jobs ORDER BY id;
CREATE TEMP VIEW hist_v AS
SELECT job_id AS job, attempt AS att, processor AS proc, type, outcome, stale,
       extract(epoch FROM started_at - :'now'::timestamptz) AS start_s,
       extract(epoch FROM finished_at - :'now'::timestamptz) AS fin_s,
       duration_ms AS ms, error, output, result
FROM jobvisor.job_executions ORDER BY job_id, attempt, id;
CREATE FUNCTION pg_temp.claim(p int, slots int, at timestamptz DEFAULT '2030-01-01 12:00:00+00')
RETURNS SETOF bigint LANGUAGE sql AS $$
	SELECT c.id FROM jobvisor.claim(p, slots, 0, '{noop}', at) c WHERE c.id IS NOT NULL ORDER BY 1
$$;
-- complete(processor, done) at :'now' + 10 s, base 1 s, cap 1 h.
CREATE FUNCTION pg_temp.done(p int, done jsonb,
                             at timestamptz DEFAULT '2030-01-01 12:00:10+00')
RETURNS TABLE (id bigint, attempt int, applied boolean, status text)
LANGUAGE sql AS $$
	SELECT c.* FROM jobvisor.complete(p, done, 1000, 3600000, at) c ORDER BY c.id, c.attempt
$$;

-- The outcomes. Jobs 1-10, each claimed once by processor 1.
INSERT INTO jobvisor.jobs (type, scheduled_at, max_attempts)
SELECT 'noop', :'now'::timestamptz - interval '1 min', 3 FROM generate_series(1, 10);
UPDATE jobvisor.jobs SET max_attempts = 1 WHERE id IN (6, 9);
SELECT count(*) FROM pg_temp.claim(1, 10);
SELECT * FROM pg_temp.done(1, '[
  {"id": 1, "attempt": 1, "outcome": "succeeded", "duration_ms": 1500, "output": "hello",
   "result": {"rows": 3}},
  {"id": 2, "attempt": 1, "outcome": "failed", "retryable": true, "retry_ms": 30000,
   "duration_ms": 20, "error": "exit status 1"},
  {"id": 3, "attempt": 1, "outcome": "failed", "retryable": false, "error": "bad payload"},
  {"id": 4, "attempt": 1, "outcome": "timed_out", "retryable": true, "retry_ms": 0,
   "error": "timed out after 5 s"},
  {"id": 5, "attempt": 1, "outcome": "timed_out", "retryable": false, "error": "timed out"},
  {"id": 6, "attempt": 1, "outcome": "crashed", "retryable": true, "retry_ms": 0,
   "error": "worker died"},
  {"id": 7, "attempt": 1, "outcome": "cancelled", "error": "cancelled by the API"},
  {"id": 8, "attempt": 1, "outcome": "fenced", "retryable": true, "retry_ms": 0,
   "error": "fenced: heartbeat unconfirmed"},
  {"id": 9, "attempt": 1, "outcome": "fenced", "retryable": true, "retry_ms": 0,
   "error": "fenced: heartbeat unconfirmed"},
  {"id": 10, "attempt": 1, "outcome": "released", "duration_ms": -5}
]');
-- succeeded: finished, result kept. failed + retryable: pending again at
-- p_now + retry_ms, not finished. failed, not retryable: failed for good.
-- timed_out and crashed: like failed, their own history outcome; job 6 had
-- no attempt left (max_attempts 1), so it failed although retryable.
-- cancelled: finished as cancelled. fenced: back to pending at once, the
-- attempt counted (job 9: none left, failed). released: pending at
-- p_now, the attempt given back (attempts 0), last_error untouched.
SELECT * FROM jobs_v;
-- One history row per attempt; fenced is 'rescued' there (counted), released
-- is 'released' (020_released_outcome.sql).
-- A negative duration is recorded as 0.
SELECT * FROM hist_v;

-- An unknown outcome counts as a failure.
TRUNCATE jobvisor.jobs, jobvisor.job_executions RESTART IDENTITY;
INSERT INTO jobvisor.jobs (type, scheduled_at) VALUES ('noop', :'now'::timestamptz - interval '1 min');
SELECT * FROM pg_temp.claim(1, 1);
SELECT * FROM pg_temp.done(1, '[{"id": 1, "attempt": 1, "outcome": "bogus", "error": "?"}]');
SELECT id, status, att, last_error FROM jobs_v;
SELECT job, att, outcome, error FROM hist_v;

-- Backoff when no retry_ms is given (absent, NULL or negative): base *
-- 2^(attempt-1), capped, with "equal jitter": between half of that and all
-- of it. complete() with base 1000 ms: attempt 1 waits 0.5-1 s, attempt 2
-- 1-2 s, attempt 3 2-4 s; with a cap of 3 s attempt 3 waits 1.5-3 s.
TRUNCATE jobvisor.jobs, jobvisor.job_executions RESTART IDENTITY;
INSERT INTO jobvisor.jobs (type, scheduled_at, max_attempts, attempts)
SELECT 'noop', :'now'::timestamptz - interval '1 min', 9, a
FROM (VALUES (0), (0), (0), (1), (2), (2)) v(a);
SELECT count(*) FROM pg_temp.claim(1, 10);
SELECT * FROM pg_temp.done(1, '[
  {"id": 1, "attempt": 1, "outcome": "failed", "retryable": true},
  {"id": 2, "attempt": 1, "outcome": "failed", "retryable": true, "retry_ms": null},
  {"id": 3, "attempt": 1, "outcome": "failed", "retryable": true, "retry_ms": -1},
  {"id": 4, "attempt": 2, "outcome": "failed", "retryable": true},
  {"id": 5, "attempt": 3, "outcome": "failed", "retryable": true}
]');
SELECT * FROM jobvisor.complete(1, '[{"id": 6, "attempt": 3, "outcome": "failed", "retryable": true}]',
                                1000, 3000, '2030-01-01 12:00:10+00');
SELECT id, att, cap_s, due_s - 10 BETWEEN least(cap_s, 2 ^ (att - 1)) / 2
                            AND least(cap_s, 2 ^ (att - 1)) AS within_backoff
FROM (SELECT *, CASE id WHEN 6 THEN 3 ELSE 3600 END AS cap_s FROM jobs_v) j;
-- backoff_ms() itself, over many draws: never outside [d/2, d]; attempt 0
-- and below count as 1; the exponent stops growing at 40 and the cap holds.
SELECT a, b, m, min(backoff) >= least(m, b * 2 ^ (greatest(a, 1) - 1)) / 2 AS lower_ok,
       max(backoff) <= least(m, b * 2 ^ (greatest(a, 1) - 1)) AS upper_ok
FROM (VALUES (1, 1000, 3600000), (0, 1000, 3600000), (-3, 1000, 3600000),
             (4, 1000, 3600000), (60, 1000, 3600000), (10, 1000, 5000)) v(a, b, m),
     LATERAL (SELECT jobvisor.backoff_ms(a, b, m) AS backoff FROM generate_series(1, 200)) s
GROUP BY a, b, m ORDER BY a, m;

-- Attempts counting: each claim counts one; a retryable failure returns
-- the job to pending only while attempts < max_attempts.
TRUNCATE jobvisor.jobs, jobvisor.job_executions RESTART IDENTITY;
INSERT INTO jobvisor.jobs (type, scheduled_at, max_attempts)
VALUES ('noop', :'now'::timestamptz - interval '1 min', 3);
SELECT * FROM pg_temp.claim(1, 1);
SELECT * FROM pg_temp.done(1, '[{"id": 1, "attempt": 1, "outcome": "failed", "retryable": true, "retry_ms": 60000, "error": "e1"}]');
-- Not due yet at :'now' + 10 s; due at + 70 s.
SELECT * FROM pg_temp.claim(1, 1, '2030-01-01 12:00:10+00');
SELECT * FROM pg_temp.claim(1, 1, '2030-01-01 12:01:10+00');
SELECT * FROM pg_temp.done(1, '[{"id": 1, "attempt": 2, "outcome": "failed", "retryable": true, "retry_ms": 0, "error": "e2"}]',
                           '2030-01-01 12:01:20+00');
SELECT * FROM pg_temp.claim(1, 1, '2030-01-01 12:01:20+00');
SELECT * FROM pg_temp.done(1, '[{"id": 1, "attempt": 3, "outcome": "failed", "retryable": true, "retry_ms": 0, "error": "e3"}]',
                           '2030-01-01 12:01:30+00');
SELECT * FROM jobs_v;
SELECT job, att, outcome, start_s, fin_s, error FROM hist_v;
-- Spent: no more claims.
SELECT count(*) FROM pg_temp.claim(1, 1, '2030-01-01 13:00:00+00');

-- Fencing: a result applies only to the running attempt on its processor.
TRUNCATE jobvisor.jobs, jobvisor.job_executions RESTART IDENTITY;
INSERT INTO jobvisor.jobs (type, scheduled_at)
SELECT 'noop', :'now'::timestamptz - interval '1 min' FROM generate_series(1, 5);
SELECT count(*) FROM pg_temp.claim(1, 5);
-- Job 1: the wrong attempt. Job 2: another processor's result. Both are
-- late: not applied, a stale history row written; the jobs run on. Job 3
-- is applied in the same batch.
SELECT * FROM pg_temp.done(1, '[
  {"id": 1, "attempt": 7, "outcome": "succeeded", "duration_ms": 2000},
  {"id": 3, "attempt": 1, "outcome": "succeeded"}
]');
SELECT * FROM pg_temp.done(2, '[{"id": 2, "attempt": 1, "outcome": "failed", "error": "boom"}]');
SELECT id, status, att, lk FROM jobs_v WHERE id <= 3;
SELECT * FROM hist_v;
-- A replay of job 3's completion (its answer was lost): applied, nothing
-- written again, the job's status now.
SELECT * FROM pg_temp.done(1, '[{"id": 3, "attempt": 1, "outcome": "succeeded"}]');
SELECT count(*) FROM jobvisor.job_executions WHERE job_id = 3;
-- Job 4 cancelled by the API while it ran (no history row yet): the late
-- result gets a stale row of its own and the job stays cancelled.
UPDATE jobvisor.jobs SET status = 'cancelled', locked_by = NULL, finished_at = :'now'
WHERE id = 4;
SELECT * FROM pg_temp.done(1, '[{"id": 4, "attempt": 1, "outcome": "succeeded", "output": "late"}]');
SELECT id, status, att, lk FROM jobs_v WHERE id = 4;
SELECT job, att, proc, type, outcome, stale, error, output FROM hist_v WHERE job = 4;
-- Job 5's row is gone (deleted): a stale row with type '?'.
DELETE FROM jobvisor.jobs WHERE id = 5;
SELECT * FROM pg_temp.done(1, '[{"id": 5, "attempt": 1, "outcome": "failed", "duration_ms": 3000, "error": "x"}]');
SELECT * FROM hist_v WHERE job = 5;

-- Fenced, then rescued: processor 1 fenced itself, but processor 2's
-- rescue came first (its history row names processor 1, outcome
-- 'rescued'). The fenced result is late, not a replay of the rescue: the
-- rescue's row is marked stale with it. A succeeded result after a rescue
-- likewise.
TRUNCATE jobvisor.jobs, jobvisor.job_executions RESTART IDENTITY;
INSERT INTO jobvisor.jobs (type, scheduled_at)
SELECT 'noop', :'now'::timestamptz - interval '1 min' FROM generate_series(1, 2);
SELECT count(*) FROM pg_temp.claim(1, 2);
UPDATE jobvisor.processors SET heartbeat_at = :'now'::timestamptz - interval '1 hour', rescue_after = NULL
WHERE id = 1;
SELECT * FROM jobvisor.rescue_stuck(interval '5 min', '2030-01-01 12:00:05+00') ORDER BY id;
SELECT * FROM pg_temp.done(1, '[
  {"id": 1, "attempt": 1, "outcome": "fenced", "retryable": true, "retry_ms": 0,
   "error": "heartbeat unconfirmed for 4 min"},
  {"id": 2, "attempt": 1, "outcome": "succeeded", "output": "done"}
]');
SELECT id, status, att, lk, due_s, last_error FROM jobs_v;
SELECT job, att, proc, outcome, stale, error, output FROM hist_v;
-- A second late result for the same attempt is added to the same row.
SELECT * FROM pg_temp.done(1, '[{"id": 2, "attempt": 1, "outcome": "failed", "error": "again"}]');
SELECT job, att, outcome, stale, error FROM hist_v WHERE job = 2;
