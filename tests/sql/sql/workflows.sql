-- workflows.sql -- dependencies and workflows (sql/017_workflows.sql):
-- enqueue() with depends_on and run_when, enqueue_workflow() and its
-- validation, resolution through the real claim() and complete() (a job
-- turns pending in the transaction that finishes its last dependency; a
-- failure cancels the dependents naming it, run_when always runs anyway),
-- a retry un-cancelling, cancel_workflow(), workflow_status(),
-- dependency_results(), set_progress() and its fence, job_counts(), a
-- chain of 1 000 steps, and retention of edges and empty workflows.
\set VERBOSITY terse
\set now '2030-01-01 12:00:00+00'
TRUNCATE jobvisor.jobs, jobvisor.job_executions, jobvisor.processors, jobvisor.job_dependencies,
         jobvisor.workflows RESTART IDENTITY;
INSERT INTO jobvisor.processors (name, hostname, pid, version) VALUES ('p1', 'host', 1, 'test');
CREATE TEMP VIEW jobs_v AS
SELECT id, workflow_key AS key, status, run_when, waiting_on AS w, blocked_by AS blk, attempts AS att,
       last_error, result
FROM jobvisor.jobs ORDER BY id;
CREATE FUNCTION pg_temp.claim(slots int DEFAULT 100)
RETURNS SETOF bigint LANGUAGE sql AS $$
	SELECT c.id FROM jobvisor.claim(1, slots, 0, '{noop}', '2030-01-01 12:00:00+00') c
	WHERE c.id IS NOT NULL ORDER BY 1
$$;
CREATE FUNCTION pg_temp.done(p_id bigint, p_outcome text, p_result jsonb DEFAULT NULL,
                             p_retryable boolean DEFAULT false)
RETURNS text LANGUAGE sql AS $$
	SELECT c.status FROM jobvisor.complete(1, jsonb_build_array(jsonb_build_object(
		'id', p_id, 'attempt', (SELECT attempts FROM jobvisor.jobs WHERE id = p_id),
		'outcome', p_outcome, 'retryable', p_retryable, 'error', 'boom', 'result', p_result)),
		1000, 3600000, '2030-01-01 12:00:10+00') c
$$;
-- The API's retry (POST /api/jobs/{id}/retry).
CREATE FUNCTION pg_temp.retry(p_id bigint) RETURNS text LANGUAGE sql AS $$
	UPDATE jobvisor.jobs SET status = 'pending', scheduled_at = '2030-01-01 12:00:00+00',
	       finished_at = NULL, locked_by = NULL, max_attempts = attempts + 1
	WHERE id = p_id AND status IN ('failed', 'cancelled') RETURNING status
$$;
-- The API's cancel of a pending job.
CREATE FUNCTION pg_temp.cancel(p_id bigint) RETURNS text LANGUAGE sql AS $$
	UPDATE jobvisor.jobs SET status = 'cancelled', finished_at = now(), locked_by = NULL,
	       last_error = 'cancelled through the API'
	WHERE id = p_id AND status IN ('pending', 'waiting', 'running') RETURNING status
$$;

-------------------------------------------------------- validation
-- Each a 22023 naming the problem; nothing inserted.
SELECT jobvisor.enqueue_workflow('{"name": "w", "jobs": [
	{"key": "a", "type": "noop", "dependsOn": ["c"]},
	{"key": "b", "type": "noop", "dependsOn": ["a"]},
	{"key": "c", "type": "noop", "dependsOn": ["b"]}]}');
\echo :SQLSTATE
SELECT jobvisor.enqueue_workflow('{"name": "w", "jobs": [{"key": "a", "type": "noop", "dependsOn": ["a"]}]}');
SELECT jobvisor.enqueue_workflow('{"name": "w", "jobs": [
	{"key": "a", "type": "noop"}, {"key": "b", "type": "noop", "dependsOn": ["a", "x"]}]}');
\echo :SQLSTATE
SELECT jobvisor.enqueue_workflow('{"name": "w", "jobs": [
	{"key": "a", "type": "noop"}, {"key": "b", "type": "noop"}, {"key": "a", "type": "noop"}]}');
\echo :SQLSTATE
SELECT jobvisor.enqueue_workflow(jsonb_build_object('name', 'w', 'jobs',
	(SELECT jsonb_agg(jsonb_build_object('key', 's' || g, 'type', 'noop'))
	 FROM generate_series(1, 10001) g)));
\echo :SQLSTATE
-- A cycle of 30 steps is named by its first 20.
SELECT jobvisor.enqueue_workflow(jsonb_build_object('name', 'w', 'jobs',
	(SELECT jsonb_agg(jsonb_build_object('key', 's' || g, 'type', 'noop',
	                                     'dependsOn', jsonb_build_array('s' || (g % 30 + 1))))
	 FROM generate_series(1, 30) g)));
SELECT jobvisor.enqueue_workflow('{"jobs": [{"key": "a", "type": "noop"}]}');
SELECT jobvisor.enqueue_workflow('{"name": "", "jobs": [{"key": "a", "type": "noop"}]}');
SELECT jobvisor.enqueue_workflow('{"name": "w", "jobs": []}');
SELECT jobvisor.enqueue_workflow('{"name": "w", "jobs": [{"key": "a b", "type": "noop"}]}');
SELECT jobvisor.enqueue_workflow('{"name": "w", "jobs": [{"key": "a", "type": ""}]}');
SELECT jobvisor.enqueue_workflow('{"name": "w", "jobs": [{"key": "a", "type": "noop", "runWhen": "never"}]}');
SELECT jobvisor.enqueue_workflow('{"name": "w", "jobs": [{"key": "a", "type": "noop", "uniqueKey": "k"}]}');
SELECT jobvisor.enqueue_workflow('{"name": "w", "jobs": [{"key": "a", "type": "noop", "maxAttempts": 0}]}');
SELECT jobvisor.enqueue_workflow('{"name": "w", "jobs": [{"key": "a", "type": "noop", "priority": 1.5}]}');
SELECT jobvisor.enqueue_workflow('{"name": "w", "jobs": [{"key": "a", "type": "noop", "runAt": "soon"}]}');
SELECT jobvisor.enqueue_workflow('{"name": "w", "jobs": [{"key": "a", "type": "noop", "queue": "nope"}]}');
SELECT jobvisor.enqueue_workflow('{"name": "w", "jobs": [{"key": "a", "type": "noop", "dependsOn": "b"}]}');
SELECT jobvisor.enqueue_workflow('[]');
SELECT count(*) AS jobs, (SELECT count(*) FROM jobvisor.workflows) AS workflows FROM jobvisor.jobs;

-- enqueue(): an unknown dependency, a unique key, too many, a bad run_when.
SELECT jobvisor.enqueue('noop', depends_on => ARRAY[42]);
\echo :SQLSTATE
SELECT jobvisor.enqueue('noop');
SELECT jobvisor.enqueue('noop', depends_on => ARRAY[1, 43]);
SELECT jobvisor.enqueue('noop', unique_key => 'k', depends_on => ARRAY[1]);
\echo :SQLSTATE
SELECT jobvisor.enqueue('noop', depends_on => array_fill(1::bigint, ARRAY[101]));
SELECT jobvisor.enqueue('noop', depends_on => (SELECT array_agg(g) FROM generate_series(1, 101) g));
SELECT jobvisor.enqueue('noop', depends_on => ARRAY[1], run_when => 'sometimes');
SELECT jobvisor.enqueue('noop', depends_on => ARRAY[1, NULL]);
-- An empty array is no dependency; the 10 arguments of 015 still work.
SELECT jobvisor.enqueue('noop', depends_on => '{}');
SELECT jobvisor.enqueue('noop', '{}', NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'default');
SELECT * FROM jobs_v;
-- Every field of a step, JSON integers written as 1e1 and 2.0 among them.
SELECT jobvisor.enqueue_workflow('{"name": "numbers", "jobs": [{"key": "n", "type": "noop",
	"priority": 1e1, "maxAttempts": 2.0, "timeoutSeconds": 30, "userId": "u1", "queue": "default",
	"payload": {"x": 1}, "runAt": "2030-01-01T12:00:00Z", "runWhen": "always", "dependsOn": []}]}');
SELECT id, priority, max_attempts, timeout_seconds, user_id, queue, payload, workflow_key, run_when,
       scheduled_at = :'now'::timestamptz AS at_now, status
FROM jobvisor.jobs WHERE workflow_id IS NOT NULL;

-------------------------------------------------------- resolution
-- A -> (B, C) -> D, and E (always) after B.
TRUNCATE jobvisor.jobs, jobvisor.job_executions, jobvisor.job_dependencies, jobvisor.workflows
	RESTART IDENTITY;
SELECT jobvisor.enqueue_workflow('{"name": "diamond", "jobs": [
	{"key": "a", "type": "noop", "runAt": "2030-01-01T11:00:00Z"},
	{"key": "b", "type": "noop", "dependsOn": ["a"], "maxAttempts": 1, "runAt": "2030-01-01T11:00:00Z"},
	{"key": "c", "type": "noop", "dependsOn": ["a"], "runAt": "2030-01-01T11:00:00Z"},
	{"key": "d", "type": "noop", "dependsOn": ["b", "c"], "runAt": "2030-01-01T11:00:00Z"},
	{"key": "e", "type": "noop", "dependsOn": ["b"], "runWhen": "always", "runAt": "2030-01-01T11:00:00Z"}
	]}', 'tester');
SELECT id, name, created_by FROM jobvisor.workflows;
SELECT * FROM jobs_v;
SELECT job_id, depends_on, resolved FROM jobvisor.job_dependencies ORDER BY 1, 2;
SELECT jobvisor.workflow_status(1), jobvisor.workflow_status(2);
SELECT * FROM jobvisor.job_counts();
-- Only A is claimable: waiting jobs are not claimed.
SELECT pg_temp.claim();
SELECT pg_temp.claim();
-- A succeeds: B and C pending in the same transaction.
SELECT pg_temp.done(1, 'succeeded', '{"n": 1}');
SELECT * FROM jobs_v;
SELECT pg_temp.claim();
-- C succeeds: D waits for B only. B fails for good: D cancelled naming it,
-- E (always) pending.
SELECT pg_temp.done(3, 'succeeded', '{"n": 3}');
SELECT pg_temp.done(2, 'failed');
SELECT * FROM jobs_v;
SELECT job_id, depends_on, resolved FROM jobvisor.job_dependencies ORDER BY 1, 2;
SELECT jobvisor.workflow_status(1);
SELECT jobvisor.dependency_results(4), jobvisor.dependency_results(5),
       jobvisor.dependency_results(1);
-- Retry B: D waiting again (for B), E stays pending (it counted B once).
SELECT pg_temp.retry(2);
SELECT * FROM jobs_v;
SELECT job_id, depends_on, resolved FROM jobvisor.job_dependencies ORDER BY 1, 2;
-- B succeeds this time: D runs.
SELECT pg_temp.claim();
SELECT pg_temp.done(2, 'succeeded', '{"n": 2}');
SELECT pg_temp.claim();
SELECT pg_temp.done(4, 'succeeded');
SELECT pg_temp.done(5, 'succeeded');
SELECT * FROM jobs_v;
SELECT jobvisor.workflow_status(1);
SELECT jobvisor.dependency_results(4);

-- A retryable failure of a dependency is no finish: its dependents wait.
TRUNCATE jobvisor.jobs, jobvisor.job_executions, jobvisor.job_dependencies, jobvisor.workflows
	RESTART IDENTITY;
SELECT jobvisor.enqueue('noop', scheduled_at => :'now', max_attempts => 2);
SELECT jobvisor.enqueue('noop', scheduled_at => :'now', depends_on => ARRAY[1]);
SELECT pg_temp.claim();
SELECT pg_temp.done(1, 'failed', p_retryable => true);
SELECT * FROM jobs_v;

-- Dependencies that have finished already count at once: succeeded ones
-- resolve, a failed one cancels (unless always).
UPDATE jobvisor.jobs SET status = 'succeeded', finished_at = now() WHERE id = 1;
SELECT jobvisor.enqueue('noop', scheduled_at => :'now', depends_on => ARRAY[1]);
SELECT jobvisor.enqueue('noop', scheduled_at => :'now');
UPDATE jobvisor.jobs SET status = 'failed', finished_at = now() WHERE id = 4;
SELECT jobvisor.enqueue('noop', scheduled_at => :'now', depends_on => ARRAY[1, 4]);
SELECT jobvisor.enqueue('noop', scheduled_at => :'now', depends_on => ARRAY[4, 1],
                        run_when => 'always');
SELECT jobvisor.enqueue('noop', scheduled_at => :'now', depends_on => ARRAY[2, 4],
                        run_when => 'always');
SELECT * FROM jobs_v;

-------------------------------------------------- cancellation, cascade
-- Cancelling a job cancels what waits for it, down the graph, naming the
-- dependency; an always step after it runs.
TRUNCATE jobvisor.jobs, jobvisor.job_executions, jobvisor.job_dependencies, jobvisor.workflows
	RESTART IDENTITY;
SELECT jobvisor.enqueue_workflow('{"name": "cascade", "jobs": [
	{"key": "a", "type": "noop", "runAt": "2030-01-01T11:00:00Z"},
	{"key": "b", "type": "noop", "dependsOn": ["a"], "runAt": "2030-01-01T11:00:00Z"},
	{"key": "c", "type": "noop", "dependsOn": ["b"], "runAt": "2030-01-01T11:00:00Z"},
	{"key": "fin", "type": "noop", "dependsOn": ["c"], "runWhen": "always",
	 "runAt": "2030-01-01T11:00:00Z"}]}') -> 'jobs';
SELECT pg_temp.cancel(1);
SELECT * FROM jobs_v;
SELECT jobvisor.workflow_status(1);
-- Retrying A un-cancels B and C (waiting again); fin has run its course.
SELECT pg_temp.retry(1);
SELECT * FROM jobs_v;
SELECT jobvisor.workflow_status(1);

-- A plain enqueue() after a workflow step: keyed by id in its results.
SELECT jobvisor.enqueue('noop', depends_on => ARRAY[4, 2]);
UPDATE jobvisor.jobs SET result = '{"r": 4}' WHERE id = 4;
SELECT jobvisor.dependency_results(5);

--------------------------------------------------- cancel_workflow
-- Pending, waiting and running steps cancelled (the running one with its
-- execution row, and a NOTIFY on jobvisor_cancel as the API's cancel
-- sends); finished ones left alone.
TRUNCATE jobvisor.jobs, jobvisor.job_executions, jobvisor.job_dependencies, jobvisor.workflows
	RESTART IDENTITY;
SELECT jobvisor.enqueue_workflow('{"name": "c", "jobs": [
	{"key": "a", "type": "noop", "runAt": "2030-01-01T11:00:00Z"},
	{"key": "b", "type": "noop", "runAt": "2030-01-01T11:00:00Z"},
	{"key": "c", "type": "noop", "runAt": "2030-01-01T11:00:00Z"},
	{"key": "d", "type": "noop", "dependsOn": ["a", "b"], "runAt": "2030-01-01T11:00:00Z"}]}') -> 'id';
SELECT pg_temp.claim(2);
SELECT pg_temp.done(1, 'succeeded');
SELECT jobvisor.cancel_workflow(1, 'stopped by the test');
SELECT * FROM jobs_v;
SELECT job_id, attempt, outcome, error FROM jobvisor.job_executions ORDER BY id;
SELECT jobvisor.cancel_workflow(1), jobvisor.cancel_workflow(99);
SELECT jobvisor.workflow_status(1);
UN
---------------------------------------------------------- progress
TRUNCATE jobvisor.jobs, jobvisor.job_executions, jobvisor.job_dependencies, jobvisor.workflows
	RESTART IDENTITY;
SELECT jobvisor.enqueue('noop', scheduled_at => :'now'), jobvisor.enqueue('noop', scheduled_at => :'now');
SELECT pg_temp.claim();
-- The running attempt writes; another attempt or a finished job does not.
SELECT jobvisor.set_progress(1, 1, 40, 'reading');
SELECT jobvisor.set_progress(1, 2, 90, 'late');
SELECT jobvisor.set_progress(3, 1, 90, 'no such job');
SELECT jobvisor.set_progress(1, 1, 101, NULL);
SELECT jobvisor.set_progress(1, 1, -1, NULL);
SELECT jobvisor.set_progress(1, 1, 50, repeat('x', 201));
SELECT id, progress, progress_note, progress_at IS NOT NULL AS at FROM jobvisor.jobs ORDER BY id;
-- The batch: fenced per element, values clamped and cut.
SELECT jobvisor.set_progress(jsonb_build_array(
	jsonb_build_object('id', 1, 'attempt', 1, 'percent', 150, 'note', repeat('y', 300)),
	jsonb_build_object('id', 2, 'attempt', 1, 'percent', 5, 'note', 'two'),
	jsonb_build_object('id', 2, 'attempt', 7, 'percent', 6, 'note', 'stale')));
SELECT id, progress, length(progress_note) AS note_len, progress_note < 'z' AS y FROM jobvisor.jobs
ORDER BY id;
SELECT pg_temp.done(2, 'succeeded');
SELECT jobvisor.set_progress('[{"id": 2, "attempt": 1, "percent": 7}]');
SELECT id, status, progress FROM jobvisor.jobs WHERE id = 2;

------------------------------------------------------ a long chain
-- 1 000 steps, each after the one before: a cancellation runs down the
-- whole chain and a retry back up it, without recursion (1 000 nested
-- triggers would pass max_stack_depth, 2 MB by default).
TRUNCATE jobvisor.jobs, jobvisor.job_executions, jobvisor.job_dependencies, jobvisor.workflows
	RESTART IDENTITY;
SELECT jobvisor.enqueue_workflow(jsonb_build_object('name', 'chain', 'jobs',
	(SELECT jsonb_agg(jsonb_build_object('key', 's' || g, 'type', 'noop',
	                                     'dependsOn', CASE WHEN g > 1 THEN jsonb_build_array('s' || (g - 1))
	                                                  ELSE '[]' END) ORDER BY g)
	 FROM generate_series(1, 1000) g))) -> 'id';
SELECT pg_temp.cancel(1);
SELECT status, count(*), min(blocked_by), max(blocked_by) FROM jobvisor.jobs GROUP BY 1 ORDER BY 1;
SELECT last_error FROM jobvisor.jobs WHERE workflow_key = 's1000';
SELECT pg_temp.retry(1);
SELECT status, count(*), sum(waiting_on) FROM jobvisor.jobs GROUP BY 1 ORDER BY 1;

-------------------------------------------------- retry_jobs (021)
-- A retried job is counted from its own edges: refused while one it needs
-- to succeed failed, waiting while one is live, pending when none is; a job
-- that runs always is not refused. Ids not failed or cancelled get no row.
TRUNCATE jobvisor.jobs, jobvisor.job_executions, jobvisor.job_dependencies, jobvisor.workflows
	RESTART IDENTITY;
SELECT jobvisor.enqueue_workflow('{"name": "r", "jobs": [
	{"key": "a", "type": "noop", "maxAttempts": 1},
	{"key": "b", "type": "noop", "dependsOn": ["a"]},
	{"key": "c", "type": "noop", "dependsOn": ["a"], "runWhen": "always"},
	{"key": "d", "type": "noop"},
	{"key": "e", "type": "noop", "dependsOn": ["d"]}]}') -> 'id';
SELECT pg_temp.claim();
SELECT pg_temp.done(1, 'failed');
SELECT pg_temp.cancel(5);
SELECT * FROM jobs_v;
-- b refused (a failed), e waits for d (pending), d and c not retried
-- (not failed or cancelled), 99 unknown
SELECT * FROM jobvisor.retry_jobs(ARRAY[2, 3, 4, 5, 99], 2) ORDER BY id;
SELECT * FROM jobs_v;
SELECT job_id, depends_on, resolved FROM jobvisor.job_dependencies ORDER BY 1, 2;
-- a retried: b (cancelled by it) waits for it again; then b retried is no
-- longer failed or cancelled: no row
SELECT * FROM jobvisor.retry_jobs(ARRAY[1], 1);
SELECT * FROM jobvisor.retry_jobs(ARRAY[2], 1);
SELECT * FROM jobs_v;
-- d succeeds: e is due; cancelled and retried now, e is pending at once
SELECT pg_temp.claim();
SELECT pg_temp.done(4, 'succeeded');
SELECT pg_temp.cancel(5);
SELECT * FROM jobvisor.retry_jobs(ARRAY[5], 1);
SELECT id, status, w, blk FROM jobs_v WHERE id = 5;
SELECT * FROM jobvisor.retry_jobs(ARRAY[5], 0);

--------------------------------------------------------- retention
-- A purged job takes its edges along; a workflow whose steps are all gone
-- goes too; a finished job a live one waits on is kept.
TRUNCATE jobvisor.jobs, jobvisor.job_executions, jobvisor.job_dependencies, jobvisor.workflows
	RESTART IDENTITY;
UPDATE jobvisor.history_purge SET holder = NULL, last_started_at = NULL;
SELECT jobvisor.enqueue_workflow('{"name": "old", "jobs": [
	{"key": "a", "type": "noop"}, {"key": "b", "type": "noop", "dependsOn": ["a"]}]}') -> 'id';
SELECT jobvisor.enqueue_workflow('{"name": "half", "jobs": [
	{"key": "a", "type": "noop"}, {"key": "b", "type": "noop", "dependsOn": ["a"]}]}') -> 'id';
UPDATE jobvisor.jobs SET status = 'succeeded', finished_at = '2029-01-01', created_at = '2029-01-01'
WHERE id IN (1, 2, 3);
SELECT * FROM jobs_v;
SELECT state, jobs FROM jobvisor.purge_history(1, '30 days', '30 days', NULL, '1 minute', 100,
                                               '1 minute', :'now');
SELECT id, workflow_id, status FROM jobvisor.jobs ORDER BY id;
SELECT job_id, depends_on FROM jobvisor.job_dependencies ORDER BY 1, 2;
SELECT id, name FROM jobvisor.workflows ORDER BY id;
