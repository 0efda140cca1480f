-- 017_workflows.sql -- dependencies between jobs, workflows (a named DAG of
-- jobs inserted at once), progress (DESIGN.md "Dependencies, workflows,
-- bulk, progress"; docs/workflows.md).
--
-- A job enqueued with dependencies is `waiting` while any of them is
-- unfinished; `waiting_on` counts its unresolved edges in
-- jobvisor.job_dependencies. The claim only ever looks at `pending` jobs
-- (its indexes are partial on status = 'pending'), so waiting jobs cost it
-- nothing. When a job finishes, a trigger resolves its dependents in the
-- same transaction: each dependent whose last edge it was turns `pending`
-- (and the notify trigger of 001 wakes the processors), a `run_when =
-- 'success'` dependent of a job that failed or was cancelled is cancelled
-- naming it (`blocked_by`, `last_error`), and so on down the graph.
--
-- What jobs without dependencies pay: nothing in claim() or complete(),
-- which are unchanged. The resolution trigger's WHEN clause reads one
-- column of the updated row (has_dependents, set on a job when a first
-- dependent is enqueued) and calls nothing for other jobs. The new columns
-- have constant defaults or are NULL: no table rewrite.
--
-- Applied to a populated database while processors run. Before the line
-- `-- @transaction` (run by `jobvisor migrate` statement by statement,
-- outside a transaction, again harmlessly on a retry): the new columns and
-- their constraints, added NOT VALID (a catalog change under a lock bounded
-- to 500 ms and retried), then validated, which scans the table without
-- blocking writes; the new status constraint the same way, under a
-- temporary name, renamed in the transaction once the old one is dropped;
-- the new indexes, built concurrently. Processors of version 16 go on
-- working meanwhile: they write none of the new columns, and every
-- function they call keeps its signature and answers.
--
-- (In the block below, a statement's `;` begins the next line: the part
-- outside the transaction is split into statements at lines that end with
-- `;`.)
DO $$
BEGIN
	PERFORM set_config('lock_timeout', '500ms', true)
	; ALTER TABLE jobvisor.jobs
		ADD COLUMN IF NOT EXISTS workflow_id bigint,
		ADD COLUMN IF NOT EXISTS workflow_key text,
		ADD COLUMN IF NOT EXISTS run_when text NOT NULL DEFAULT 'success',
		ADD COLUMN IF NOT EXISTS waiting_on integer NOT NULL DEFAULT 0,
		ADD COLUMN IF NOT EXISTS blocked_by bigint,
		ADD COLUMN IF NOT EXISTS has_dependents boolean NOT NULL DEFAULT false,
		ADD COLUMN IF NOT EXISTS progress smallint,
		ADD COLUMN IF NOT EXISTS progress_note text,
		ADD COLUMN IF NOT EXISTS progress_at timestamptz
	; BEGIN
		ALTER TABLE jobvisor.jobs
			ADD CONSTRAINT jobs_status_check_017
			CHECK (status IN ('pending', 'waiting', 'running', 'succeeded', 'failed',
			                  'cancelled')) NOT VALID,
			ADD CONSTRAINT jobs_run_when_check
			CHECK (run_when IN ('success', 'always')) NOT VALID,
			ADD CONSTRAINT jobs_waiting_on_check
			CHECK (waiting_on BETWEEN 0 AND 10000) NOT VALID,
			ADD CONSTRAINT jobs_progress_check
			CHECK (progress BETWEEN 0 AND 100) NOT VALID,
			ADD CONSTRAINT jobs_progress_note_check
			CHECK (char_length(progress_note) <= 200) NOT VALID,
			ADD CONSTRAINT jobs_workflow_key_check
			CHECK (workflow_key ~ '^[A-Za-z0-9_.-]{1,64}$') NOT VALID
	; EXCEPTION WHEN duplicate_object THEN
		NULL -- (added by a run before this one, or by a concurrent one)
	; END
	; END
$$;
ALTER TABLE jobvisor.jobs VALIDATE CONSTRAINT jobs_status_check_017;
ALTER TABLE jobvisor.jobs VALIDATE CONSTRAINT jobs_run_when_check;
ALTER TABLE jobvisor.jobs VALIDATE CONSTRAINT jobs_waiting_on_check;
ALTER TABLE jobvisor.jobs VALIDATE CONSTRAINT jobs_progress_check;
ALTER TABLE jobvisor.jobs VALIDATE CONSTRAINT jobs_progress_note_check;
ALTER TABLE jobvisor.jobs VALIDATE CONSTRAINT jobs_workflow_key_check;

-- A workflow's steps, and their states (workflow_status(), the API's
-- counts per workflow: an index-only scan). Only jobs of a workflow have
-- entries.
CREATE INDEX CONCURRENTLY IF NOT EXISTS jobs_workflow_idx
	ON jobvisor.jobs (workflow_id, status)
	WHERE workflow_id IS NOT NULL;

-- Waiting jobs: how many (job_counts()), and listing them newest first.
-- A job has an entry only while it waits.
CREATE INDEX CONCURRENTLY IF NOT EXISTS jobs_waiting_idx
	ON jobvisor.jobs (id)
	WHERE status = 'waiting';

-- @transaction

DO $$
DECLARE
	v_name text;
BEGIN
	SELECT string_agg(c.relname, ', ') INTO v_name
	FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
	WHERE i.indrelid = 'jobvisor.jobs'::regclass AND NOT i.indisvalid
	  AND c.relname IN ('jobs_workflow_idx', 'jobs_waiting_idx');
	IF v_name IS NOT NULL THEN
		RAISE EXCEPTION 'index % is still being built', v_name
			USING ERRCODE = 'lock_not_available';
	END IF;
END
$$;

-- The status constraint with `waiting` replaces the old one (both are
-- catalog changes; the new one was validated above).
ALTER TABLE jobvisor.jobs DROP CONSTRAINT jobs_status_check;
ALTER TABLE jobvisor.jobs RENAME CONSTRAINT jobs_status_check_017 TO jobs_status_check;

COMMENT ON COLUMN jobvisor.jobs.workflow_id IS 'the workflow (jobvisor.workflows) of this step, NULL for other jobs';
COMMENT ON COLUMN jobvisor.jobs.workflow_key IS 'the step''s key inside its workflow';
COMMENT ON COLUMN jobvisor.jobs.run_when IS 'success: runs once every dependency succeeded; always: once every dependency finished';
COMMENT ON COLUMN jobvisor.jobs.waiting_on IS 'dependencies not finished yet (while waiting)';
COMMENT ON COLUMN jobvisor.jobs.blocked_by IS 'the dependency whose failure or cancellation cancelled this job';
COMMENT ON COLUMN jobvisor.jobs.has_dependents IS 'some job was enqueued depending on this one (the resolution trigger''s guard)';
COMMENT ON COLUMN jobvisor.jobs.progress IS 'percent done (0..100) the running attempt reported, NULL when none';
COMMENT ON COLUMN jobvisor.jobs.progress_note IS 'the running attempt''s note with its progress (at most 200 characters)';

---------------------------------------------------------- dependencies
-- One row per edge: job_id waits for depends_on. `resolved`: the
-- dependency has finished as far as job_id's count is concerned (while
-- job_id waits, waiting_on is the number of its edges not resolved). No
-- foreign keys, as for job_executions: retention deletes the edges of the
-- jobs it removes.
CREATE TABLE jobvisor.job_dependencies (
	job_id     bigint  NOT NULL,
	depends_on bigint  NOT NULL,
	resolved   boolean NOT NULL DEFAULT false,
	PRIMARY KEY (job_id, depends_on),
	CONSTRAINT job_dependencies_self_check CHECK (job_id <> depends_on)
);

-- A job's dependents (resolution, retention).
CREATE INDEX job_dependencies_depends_on_idx ON jobvisor.job_dependencies (depends_on, job_id);

COMMENT ON TABLE jobvisor.job_dependencies IS 'job_id runs after depends_on (one row per edge)';

------------------------------------------------------------- workflows
CREATE TABLE jobvisor.workflows (
	id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name       text        NOT NULL
	           CONSTRAINT workflows_name_check CHECK (char_length(name) BETWEEN 1 AND 200),
	created_at timestamptz NOT NULL DEFAULT now(),
	created_by text
);

COMMENT ON TABLE jobvisor.workflows IS 'named DAGs of jobs (jobs.workflow_id), inserted by enqueue_workflow()';

-- `dependency b (123) failed` / `dependency 123 was cancelled`: the
-- last_error of a job cancelled because of its dependency.
CREATE FUNCTION jobvisor.dependency_error(p_id bigint, p_key text, p_status text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT 'dependency ' || coalesce(p_key || ' (' || p_id || ')', p_id::text)
	       || CASE p_status WHEN 'failed' THEN ' failed' ELSE ' was cancelled' END
$$;

------------------------------------------------------------ resolution
-- Resolve the dependents of the jobs in the worklist, and of those it
-- changes, iteratively (a chain of 1 000 jobs is a loop of 1 000 turns,
-- not 1 000 nested triggers). For a job that finished (succeeded, failed,
-- cancelled): each of its edges not yet resolved is resolved; a waiting
-- dependent counts it off (turning pending at zero) if it succeeded or the
-- dependent runs always, and is cancelled naming it otherwise. For a job
-- that is live again (a retry: failed or cancelled back to pending): the
-- waiting dependents that had counted it as finished wait for it again,
-- and the dependents it had cancelled (blocked_by) are counted again from
-- their edges: waiting (or pending) again, or cancelled naming another
-- dependency that failed meanwhile.
--
-- Rows are locked in id order within each step (the dependents, then, for
-- a recount, their dependencies FOR SHARE, so that the statuses read are
-- the committed ones: a dependency finishing meanwhile either sees the
-- edge as this step leaves it, or is seen finished by it).
CREATE FUNCTION jobvisor.resolve_dependents(p_jobs bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	v_work bigint[] := p_jobs;
	v_i integer := 1;
	v_x bigint;
	v_status text;
	v_key text;
	v_ids bigint[];
	v_more bigint[];
BEGIN
	WHILE v_i <= coalesce(cardinality(v_work), 0) LOOP
		v_x := v_work[v_i];
		v_i := v_i + 1;
		SELECT j.status, j.workflow_key INTO v_status, v_key
		FROM jobvisor.jobs j WHERE j.id = v_x;
		IF NOT FOUND THEN
			CONTINUE;
		END IF;
		IF v_status IN ('succeeded', 'failed', 'cancelled') THEN
			-- Its dependents still waiting, locked in order.
			SELECT array_agg(l.id) INTO v_ids FROM (
				SELECT j.id FROM jobvisor.jobs j
				WHERE j.id = ANY (ARRAY(SELECT d.job_id FROM jobvisor.job_dependencies d
				                        WHERE d.depends_on = v_x AND NOT d.resolved))
				  AND j.status = 'waiting'
				ORDER BY j.id
				FOR NO KEY UPDATE) l;
			UPDATE jobvisor.job_dependencies d SET resolved = true
			WHERE d.depends_on = v_x AND NOT d.resolved;
			IF v_ids IS NULL THEN
				CONTINUE;
			END IF;
			UPDATE jobvisor.jobs j
			SET waiting_on = j.waiting_on - 1,
			    status = CASE WHEN j.waiting_on <= 1 THEN 'pending' ELSE 'waiting' END,
			    updated_at = now()
			WHERE j.id = ANY (v_ids) AND j.status = 'waiting'
			  AND (v_status = 'succeeded' OR j.run_when = 'always');
			IF v_status <> 'succeeded' THEN
				WITH c AS (
					UPDATE jobvisor.jobs j
					SET status = 'cancelled', waiting_on = j.waiting_on - 1, blocked_by = v_x,
					    last_error = jobvisor.dependency_error(v_x, v_key, v_status),
					    finished_at = now(), updated_at = now()
					WHERE j.id = ANY (v_ids) AND j.status = 'waiting' AND j.run_when = 'success'
					RETURNING j.id, j.has_dependents
				)
				SELECT array_agg(c.id ORDER BY c.id) INTO v_more FROM c WHERE c.has_dependents;
				v_work := v_work || v_more;
			END IF;
		ELSE
			-- Live again. Waiting dependents that counted it: wait for it.
			SELECT array_agg(l.id) INTO v_ids FROM (
				SELECT j.id FROM jobvisor.jobs j
				WHERE j.id = ANY (ARRAY(SELECT d.job_id FROM jobvisor.job_dependencies d
				                        WHERE d.depends_on = v_x AND d.resolved))
				  AND j.status = 'waiting'
				ORDER BY j.id
				FOR NO KEY UPDATE) l;
			IF v_ids IS NOT NULL THEN
				WITH e AS (
					UPDATE jobvisor.job_dependencies d SET resolved = false
					WHERE d.depends_on = v_x AND d.resolved AND d.job_id = ANY (v_ids)
					RETURNING d.job_id
				)
				UPDATE jobvisor.jobs j SET waiting_on = j.waiting_on + 1, updated_at = now()
				FROM e WHERE j.id = e.job_id;
			END IF;
			-- The dependents it cancelled: counted again.
			SELECT array_agg(l.id) INTO v_ids FROM (
				SELECT j.id FROM jobvisor.jobs j
				WHERE j.id = ANY (ARRAY(SELECT d.job_id FROM jobvisor.job_dependencies d
				                        WHERE d.depends_on = v_x))
				  AND j.status = 'cancelled' AND j.blocked_by = v_x
				ORDER BY j.id
				FOR NO KEY UPDATE) l;
			IF v_ids IS NULL THEN
				CONTINUE;
			END IF;
			PERFORM 1 FROM jobvisor.jobs k
			WHERE k.id = ANY (ARRAY(SELECT d.depends_on FROM jobvisor.job_dependencies d
			                        WHERE d.job_id = ANY (v_ids)))
			ORDER BY k.id
			FOR SHARE;
			-- (each dependency's status by primary key, whatever the
			-- planner thinks of the tables' sizes)
			UPDATE jobvisor.job_dependencies d
			SET resolved = NOT d.resolved
			WHERE d.job_id = ANY (v_ids)
			  AND d.resolved <> coalesce((SELECT k.status IN ('succeeded', 'failed', 'cancelled')
			                              FROM jobvisor.jobs k WHERE k.id = d.depends_on), true);
			WITH e AS (
				SELECT d.job_id, d.depends_on AS id,
				       (SELECT k.status FROM jobvisor.jobs k WHERE k.id = d.depends_on) AS status
				FROM jobvisor.job_dependencies d
				WHERE d.job_id = ANY (v_ids)
			),
			c AS (
				SELECT e.job_id,
				       count(*) FILTER (WHERE e.status IN ('pending', 'waiting', 'running')) AS live,
				       min(e.id) FILTER (WHERE e.status IN ('failed', 'cancelled')) AS bad
				FROM e
				GROUP BY e.job_id
			),
			u AS (
				UPDATE jobvisor.jobs j
				SET status = CASE WHEN j.run_when = 'success' AND c.bad IS NOT NULL THEN 'cancelled'
				                  WHEN c.live > 0 THEN 'waiting' ELSE 'pending' END,
				    waiting_on = c.live,
				    blocked_by = CASE WHEN j.run_when = 'success' THEN c.bad END,
				    last_error = CASE WHEN j.run_when = 'success' AND c.bad IS NOT NULL
				                      THEN (SELECT jobvisor.dependency_error(k.id, k.workflow_key,
				                                                             k.status)
				                            FROM jobvisor.jobs k WHERE k.id = c.bad) END,
				    finished_at = CASE WHEN j.run_when = 'success' AND c.bad IS NOT NULL
				                       THEN j.finished_at END,
				    updated_at = now()
				FROM c
				WHERE j.id = ANY (v_ids) AND j.id = c.job_id
				RETURNING j.id, j.status, j.has_dependents
			)
			SELECT array_agg(u.id ORDER BY u.id) INTO v_more
			FROM u WHERE u.status <> 'cancelled' AND u.has_dependents;
			v_work := v_work || v_more;
		END IF;
	END LOOP;
END
$$;

-- The trigger: one job with dependents finished, or is live again. The
-- cascade's own updates fire it too (for dependents that have dependents);
-- those calls return at once, the cascade takes them into its worklist.
CREATE FUNCTION jobvisor.resolve_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF current_setting('jobvisor.resolving', true) = 'on' THEN
		RETURN NULL;
	END IF;
	PERFORM set_config('jobvisor.resolving', 'on', true);
	PERFORM jobvisor.resolve_dependents(ARRAY[NEW.id]);
	PERFORM set_config('jobvisor.resolving', 'off', true);
	RETURN NULL;
END
$$;

-- (The WHEN clause is evaluated without calling the function: a job
-- nothing depends on pays one column test.)
CREATE TRIGGER jobs_resolve
	AFTER UPDATE OF status ON jobvisor.jobs
	FOR EACH ROW
	WHEN (OLD.has_dependents
	      AND (OLD.status IN ('succeeded', 'failed', 'cancelled'))
	          <> (NEW.status IN ('succeeded', 'failed', 'cancelled')))
	EXECUTE FUNCTION jobvisor.resolve_trigger();

--------------------------------------------------------------- enqueue
-- enqueue() of 015 with depends_on and run_when last (named notation:
-- depends_on => ARRAY[12, 13], run_when => 'always'). Without depends_on it
-- is 015's. With it: at most 100 distinct ids of existing jobs, and no
-- unique_key (a waiting job holding a key would keep it for as long as its
-- dependencies take). The dependencies are locked first (in id order), so
-- that none finishes unseen: either this sees it finished (a success counts
-- at once; a failure or cancellation cancels the new job, unless it runs
-- always), or its completion, waiting for the lock, sees the new edge.
DROP FUNCTION jobvisor.enqueue(text, jsonb, text, timestamptz, integer, integer, integer, text, text[], text);

CREATE FUNCTION jobvisor.enqueue(
	type            text,
	payload         jsonb       DEFAULT '{}',
	user_id         text        DEFAULT NULL,
	scheduled_at    timestamptz DEFAULT now(),
	priority        integer     DEFAULT 0,
	max_attempts    integer     DEFAULT 3,
	timeout_seconds integer     DEFAULT NULL,
	unique_key      text        DEFAULT NULL,
	unique_states   text[]      DEFAULT '{pending,running}',
	queue           text        DEFAULT 'default',
	depends_on      bigint[]    DEFAULT NULL,
	run_when        text        DEFAULT 'success'
) RETURNS bigint
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
	v_states  text[] := coalesce(enqueue.unique_states, '{pending,running}');
	v_when    text := coalesce(enqueue.run_when, 'success');
	v_bad     text;
	v_id      bigint;
	v_deps    bigint[];
	v_found   bigint[];
	v_live    integer;
	v_block   bigint;
	v_status  text;
	v_error   text;
BEGIN
	IF enqueue.type IS NULL THEN
		RAISE EXCEPTION 'jobvisor.enqueue: type must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF v_when NOT IN ('success', 'always') THEN
		RAISE EXCEPTION 'run_when must be success or always, got %', quote_literal(left(v_when, 40))
			USING ERRCODE = 'invalid_parameter_value';
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

	IF cardinality(enqueue.depends_on) > 0 THEN
		IF enqueue.unique_key IS NOT NULL THEN
			RAISE EXCEPTION 'unique_key cannot be combined with depends_on'
				USING ERRCODE = 'invalid_parameter_value',
				      HINT = 'a job that waits for others has no unique key';
		END IF;
		IF array_position(enqueue.depends_on, NULL) IS NOT NULL THEN
			RAISE EXCEPTION 'depends_on must not contain NULL'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		v_deps := ARRAY(SELECT DISTINCT d FROM unnest(enqueue.depends_on) d ORDER BY d);
		IF cardinality(v_deps) > 100 THEN
			RAISE EXCEPTION 'at most 100 dependencies per job, got %', cardinality(v_deps)
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		SELECT array_agg(l.id), count(*) FILTER (WHERE l.status IN ('pending', 'waiting', 'running')),
		       min(l.id) FILTER (WHERE l.status IN ('failed', 'cancelled'))
		INTO v_found, v_live, v_block
		FROM (SELECT j.id, j.status FROM jobvisor.jobs j
		      WHERE j.id = ANY (v_deps) ORDER BY j.id FOR NO KEY UPDATE) l;
		IF coalesce(cardinality(v_found), 0) < cardinality(v_deps) THEN
			SELECT min(d) INTO v_id FROM unnest(v_deps) d
			WHERE v_found IS NULL OR NOT (d = ANY (v_found));
			RAISE EXCEPTION 'unknown dependency %', v_id
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		UPDATE jobvisor.jobs j SET has_dependents = true
		WHERE j.id = ANY (v_deps) AND NOT j.has_dependents;
		IF v_when = 'success' AND v_block IS NOT NULL THEN
			v_status := 'cancelled';
			SELECT jobvisor.dependency_error(j.id, j.workflow_key, j.status) INTO v_error
			FROM jobvisor.jobs j WHERE j.id = v_block;
		ELSE
			v_block := NULL;
			v_status := CASE WHEN v_live > 0 THEN 'waiting' ELSE 'pending' END;
		END IF;
		INSERT INTO jobvisor.jobs AS j
			(type, payload, user_id, scheduled_at, priority, max_attempts,
			 timeout_seconds, queue, status, run_when, waiting_on, blocked_by, last_error,
			 finished_at)
		VALUES
			(enqueue.type,
			 coalesce(enqueue.payload, '{}'),
			 enqueue.user_id,
			 coalesce(enqueue.scheduled_at, now()),
			 coalesce(enqueue.priority, 0),
			 coalesce(enqueue.max_attempts, 3),
			 enqueue.timeout_seconds,
			 coalesce(enqueue.queue, 'default'),
			 v_status, v_when,
			 CASE WHEN v_status = 'waiting' THEN v_live ELSE 0 END,
			 v_block, v_error,
			 CASE WHEN v_status = 'cancelled' THEN now() END)
		RETURNING j.id INTO v_id;
		INSERT INTO jobvisor.job_dependencies (job_id, depends_on, resolved)
		SELECT v_id, k.id, k.status IN ('succeeded', 'failed', 'cancelled')
		FROM jobvisor.jobs k WHERE k.id = ANY (v_deps);
		RETURN v_id;
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
			 timeout_seconds, unique_key, queue, run_when)
		VALUES
			(enqueue.type,
			 coalesce(enqueue.payload, '{}'),
			 enqueue.user_id,
			 coalesce(enqueue.scheduled_at, now()),
			 coalesce(enqueue.priority, 0),
			 coalesce(enqueue.max_attempts, 3),
			 enqueue.timeout_seconds,
			 enqueue.unique_key,
			 coalesce(enqueue.queue, 'default'),
			 v_when)
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

COMMENT ON FUNCTION jobvisor.enqueue(text, jsonb, text, timestamptz, integer, integer, integer, text, text[], text, bigint[], text)
	IS 'enqueue a job (in queue, default ''default''), after depends_on (run_when success|always); with unique_key returns the job holding the key in one of unique_states';

------------------------------------------------------ enqueue_workflow
-- A workflow from its JSON (the body of POST /api/workflows):
--   {"name": N, "jobs": [{"key": K, "type": T, "payload": {..}, "userId": U,
--    "priority": P, "maxAttempts": M, "timeoutSeconds": S, "queue": Q,
--    "runAt": ISO8601, "dependsOn": [keys], "runWhen": "success"|"always"}, ..]}
-- All steps in one transaction, or none: every problem is SQLSTATE 22023
-- with a message naming the place (`jobs[3].dependsOn: unknown key "x"`,
-- `jobs[4].key: duplicate key "a"`, `cycle: a -> b -> a`). Returns
-- {"id": W, "name": N, "jobs": {"a": 101, ..}}. Limits: 1..10000 steps,
-- key 1..64 characters of [A-Za-z0-9_.-], name 1..200 characters; the
-- fields' limits are the API's (maxAttempts 1..1000, timeoutSeconds
-- 1..604800) and the table's (type 128 bytes, user 256 bytes). A step may
-- depend on any number of the other steps: the limit of 100 dependencies
-- is enqueue()'s, which locks each dependency it is given by id; here the
-- dependencies are rows of this insert, and a fan-in after all the steps
-- of a fan-out (a batch's on-finish step) is a workflow's common shape.
CREATE FUNCTION jobvisor.workflow_error(p_msg text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION '%', p_msg USING ERRCODE = 'invalid_parameter_value';
END
$$;

-- For an array of step positions (1..p_n, each the source of one edge in
-- an edge list sorted by it), where each step's edges start: element s is
-- 1 + the number of edges of the steps before s, for s in 1..p_n + 1.
CREATE FUNCTION jobvisor.csr_offsets(p_steps integer[], p_n integer) RETURNS integer[]
LANGUAGE sql IMMUTABLE AS $$
	SELECT array_agg(o.v ORDER BY o.s)
	FROM (SELECT c.s, (1 + coalesce(sum(c.n) OVER (ORDER BY c.s ROWS BETWEEN UNBOUNDED PRECEDING
	                                                                 AND 1 PRECEDING), 0))::integer AS v
	      FROM (SELECT g.s, count(e.s) AS n
	            FROM generate_series(1, p_n + 1) g(s)
	            LEFT JOIN unnest(p_steps) AS e(s) ON e.s = g.s
	            GROUP BY g.s) c) o
$$;

-- (jit off: the planner's guesses about the arrays' sizes made it compile
-- the insert's expressions, for seconds, to insert a few thousand rows)
CREATE FUNCTION jobvisor.enqueue_workflow(p_workflow jsonb, p_by text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql SET jit = off AS $$
DECLARE
	v_name   text;
	v_n      integer;
	v_el     jsonb;
	v_at     text;
	v_f      text;
	v_v      jsonb;
	v_i      integer;
	v_k      integer;
	-- the steps, by position (1-based)
	v_key    text[] := '{}';
	v_type   text[] := '{}';
	v_pay    jsonb[] := '{}';
	v_user   text[] := '{}';
	v_prio   integer[] := '{}';
	v_maxa   integer[] := '{}';
	v_tmo    integer[] := '{}';
	v_queue  text[] := '{}';
	v_run    timestamptz[] := '{}';
	v_when   text[] := '{}';
	-- the edges: step e_from waits for the step keyed e_to
	e_from   integer[];
	e_to     text[];
	-- cycle detection (Kahn): dependents of each step, in CSR form
	v_to     integer[];
	v_adj    integer[];
	v_off    integer[];
	v_indeg  integer[];
	v_queue2 integer[];
	v_head   integer;
	v_done   integer;
	v_pos    integer[];
	v_path   integer[];
	v_next   integer;
	v_wf     bigint;
	v_ids    jsonb;
BEGIN
	IF jsonb_typeof(p_workflow) IS DISTINCT FROM 'object' THEN
		PERFORM jobvisor.workflow_error('the workflow must be a JSON object');
	END IF;
	FOR v_f IN SELECT k FROM jsonb_object_keys(p_workflow) k ORDER BY k LOOP
		IF v_f NOT IN ('name', 'jobs') THEN
			PERFORM jobvisor.workflow_error(format('unknown field %s', to_json(left(v_f, 64))));
		END IF;
	END LOOP;
	IF jsonb_typeof(p_workflow -> 'name') IS DISTINCT FROM 'string'
	   OR char_length(p_workflow ->> 'name') NOT BETWEEN 1 AND 200 THEN
		PERFORM jobvisor.workflow_error('name: required, a string of 1 to 200 characters');
	END IF;
	v_name := p_workflow ->> 'name';
	IF jsonb_typeof(p_workflow -> 'jobs') IS DISTINCT FROM 'array'
	   OR jsonb_array_length(p_workflow -> 'jobs') = 0 THEN
		PERFORM jobvisor.workflow_error('jobs: required, an array of 1 to 10000 steps');
	END IF;
	v_n := jsonb_array_length(p_workflow -> 'jobs');
	IF v_n > 10000 THEN
		PERFORM jobvisor.workflow_error(format('jobs: at most 10000 steps, got %s', v_n));
	END IF;

	v_i := 0;
	FOR v_el IN SELECT e FROM jsonb_array_elements(p_workflow -> 'jobs') e LOOP
		v_at := format('jobs[%s]', v_i);
		v_i := v_i + 1;
		IF jsonb_typeof(v_el) <> 'object' THEN
			PERFORM jobvisor.workflow_error(v_at || ': expected an object');
		END IF;
		FOR v_f IN SELECT k FROM jsonb_object_keys(v_el) k ORDER BY k LOOP
			IF v_f NOT IN ('key', 'type', 'payload', 'userId', 'user', 'priority', 'maxAttempts',
			               'timeoutSeconds', 'queue', 'runAt', 'dependsOn', 'runWhen') THEN
				PERFORM jobvisor.workflow_error(format('%s: unknown field %s', v_at,
				                                       to_json(left(v_f, 64))));
			END IF;
		END LOOP;
		IF jsonb_typeof(v_el -> 'key') IS DISTINCT FROM 'string'
		   OR (v_el ->> 'key') !~ '^[A-Za-z0-9_.-]{1,64}$' THEN
			PERFORM jobvisor.workflow_error(v_at || '.key: required, 1 to 64 characters of A-Z a-z 0-9 _ . -');
		END IF;
		v_key := v_key || (v_el ->> 'key');
		IF jsonb_typeof(v_el -> 'type') IS DISTINCT FROM 'string' OR (v_el ->> 'type') = '' THEN
			PERFORM jobvisor.workflow_error(v_at || '.type: required, a non-empty string');
		END IF;
		IF octet_length(v_el ->> 'type') > 128 THEN
			PERFORM jobvisor.workflow_error(v_at || '.type: at most 128 bytes');
		END IF;
		v_type := v_type || (v_el ->> 'type');
		v_v := v_el -> 'payload';
		IF v_v IS NOT NULL AND jsonb_typeof(v_v) NOT IN ('object', 'null') THEN
			PERFORM jobvisor.workflow_error(v_at || '.payload: must be an object');
		END IF;
		v_pay := v_pay || coalesce(nullif(v_v, 'null'), '{}');
		v_v := coalesce(v_el -> 'userId', v_el -> 'user');
		IF v_v IS NOT NULL AND jsonb_typeof(v_v) NOT IN ('string', 'null') THEN
			PERFORM jobvisor.workflow_error(v_at || '.userId: must be a string');
		END IF;
		IF octet_length(v_v #>> '{}') > 256 THEN
			PERFORM jobvisor.workflow_error(v_at || '.userId: at most 256 bytes');
		END IF;
		v_user := v_user || (v_v #>> '{}');
		-- integers: a JSON number without a fraction, within the bounds
		FOR v_f, v_k IN SELECT * FROM (VALUES ('priority', 0), ('maxAttempts', 1),
		                                      ('timeoutSeconds', 2)) AS t(f, k) LOOP
			v_v := v_el -> v_f;
			IF v_v IS NOT NULL AND v_v <> 'null'
			   AND (jsonb_typeof(v_v) <> 'number' OR (v_v::text)::numeric <> trunc((v_v::text)::numeric)
			        OR (v_v::text)::numeric NOT BETWEEN CASE v_k WHEN 0 THEN -2147483648 ELSE 1 END
			                                        AND CASE v_k WHEN 0 THEN 2147483647
			                                                     WHEN 1 THEN 1000 ELSE 604800 END) THEN
				PERFORM jobvisor.workflow_error(format('%s.%s: must be an integer from %s to %s',
					v_at, v_f, CASE v_k WHEN 0 THEN -2147483648 ELSE 1 END,
					CASE v_k WHEN 0 THEN 2147483647 WHEN 1 THEN 1000 ELSE 604800 END));
			END IF;
		END LOOP;
		v_prio := v_prio || coalesce((v_el ->> 'priority')::integer, 0);
		v_maxa := v_maxa || coalesce((v_el ->> 'maxAttempts')::integer, 3);
		v_tmo := v_tmo || (v_el ->> 'timeoutSeconds')::integer;
		v_v := v_el -> 'queue';
		IF v_v IS NOT NULL AND v_v <> 'null' THEN
			IF jsonb_typeof(v_v) <> 'string' THEN
				PERFORM jobvisor.workflow_error(v_at || '.queue: must be a string');
			END IF;
			IF NOT EXISTS (SELECT 1 FROM jobvisor.queues q WHERE q.name = v_v #>> '{}') THEN
				PERFORM jobvisor.workflow_error(format('%s.queue: unknown queue %s', v_at,
				                                       to_json(left(v_v #>> '{}', 64))));
			END IF;
		END IF;
		v_queue := v_queue || coalesce(v_v #>> '{}', 'default');
		v_v := v_el -> 'runAt';
		IF v_v IS NOT NULL AND v_v <> 'null' THEN
			BEGIN
				IF jsonb_typeof(v_v) <> 'string' OR (v_v #>> '{}') !~ '^\d{4}-\d{2}-\d{2}' THEN
					RAISE invalid_datetime_format;
				END IF;
				v_run := v_run || (v_v #>> '{}')::timestamptz;
			EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow
			               OR invalid_text_representation THEN
				PERFORM jobvisor.workflow_error(v_at || '.runAt: must be an ISO 8601 time');
			END;
		ELSE
			v_run := v_run || now();
		END IF;
		v_v := v_el -> 'runWhen';
		IF v_v IS NOT NULL AND v_v <> 'null' AND v_v NOT IN ('"success"', '"always"') THEN
			PERFORM jobvisor.workflow_error(v_at || '.runWhen: must be "success" or "always"');
		END IF;
		v_when := v_when || coalesce(v_v #>> '{}', 'success');
		v_v := v_el -> 'dependsOn';
		IF v_v IS NOT NULL AND v_v <> 'null' THEN
			IF jsonb_typeof(v_v) <> 'array'
			   OR EXISTS (SELECT 1 FROM jsonb_array_elements(v_v) d
			              WHERE jsonb_typeof(d) <> 'string') THEN
				PERFORM jobvisor.workflow_error(v_at || '.dependsOn: must be an array of step keys');
			END IF;
		END IF;
	END LOOP;
	-- (the edges in one statement: appending to arrays step by step
	-- would copy them at every step)
	SELECT coalesce(array_agg(e.n ORDER BY e.n, e.k), '{}'), coalesce(array_agg(e.k ORDER BY e.n, e.k), '{}')
	INTO e_from, e_to
	FROM (SELECT DISTINCT s.n::integer AS n, d.k
	      FROM jsonb_array_elements(p_workflow -> 'jobs') WITH ORDINALITY AS s(el, n)
	      CROSS JOIN LATERAL jsonb_array_elements_text(s.el -> 'dependsOn') AS d(k)
	      WHERE jsonb_typeof(s.el -> 'dependsOn') = 'array') e;

	-- Keys: unique; every dependency names one.
	SELECT format('jobs[%s].key: duplicate key %s', d.n - 1, to_json(d.k)) INTO v_at
	FROM (SELECT k, n, row_number() OVER (PARTITION BY k ORDER BY n) AS r
	      FROM unnest(v_key) WITH ORDINALITY AS u(k, n)) d
	WHERE d.r = 2 ORDER BY d.n LIMIT 1;
	IF v_at IS NOT NULL THEN
		PERFORM jobvisor.workflow_error(v_at);
	END IF;
	SELECT array_agg(k.n ORDER BY e.i), min(format('jobs[%s].dependsOn: unknown key %s',
	                                               e.f - 1, to_json(left(e.t, 64))))
	           FILTER (WHERE k.n IS NULL)
	INTO v_to, v_at
	FROM unnest(e_from, e_to) WITH ORDINALITY AS e(f, t, i)
	LEFT JOIN unnest(v_key) WITH ORDINALITY AS k(k, n) ON k.k = e.t;
	IF v_at IS NOT NULL THEN
		-- (the first in step order)
		SELECT format('jobs[%s].dependsOn: unknown key %s', e.f - 1, to_json(left(e.t, 64)))
		INTO v_at
		FROM unnest(e_from, e_to) WITH ORDINALITY AS e(f, t, i)
		WHERE NOT (e.t = ANY (v_key)) ORDER BY e.i LIMIT 1;
		PERFORM jobvisor.workflow_error(v_at);
	END IF;

	-- No cycle: Kahn's algorithm over the steps' positions. v_adj holds
	-- each step's dependents, from v_off[s] to v_off[s + 1] - 1.
	IF cardinality(e_from) > 0 THEN
		SELECT array_agg(e.f ORDER BY e.t, e.f) INTO v_adj
		FROM unnest(e_from, v_to) AS e(f, t);
		v_off := jobvisor.csr_offsets(v_to, v_n);
		SELECT array_agg(coalesce(c.n, 0)::integer ORDER BY g.s) INTO v_indeg
		FROM generate_series(1, v_n) g(s)
		LEFT JOIN (SELECT f, count(*) AS n FROM unnest(e_from) f GROUP BY f) c ON c.f = g.s;
		SELECT array_agg(g.s ORDER BY g.s) INTO v_queue2
		FROM generate_series(1, v_n) g(s) WHERE v_indeg[g.s] = 0;
		v_queue2 := coalesce(v_queue2, '{}');
		v_head := 1;
		v_done := 0;
		WHILE v_head <= cardinality(v_queue2) LOOP
			v_i := v_queue2[v_head];
			v_head := v_head + 1;
			v_done := v_done + 1;
			FOR v_k IN v_off[v_i] .. v_off[v_i + 1] - 1 LOOP
				v_indeg[v_adj[v_k]] := v_indeg[v_adj[v_k]] - 1;
				IF v_indeg[v_adj[v_k]] = 0 THEN
					v_queue2 := v_queue2 || v_adj[v_k];
				END IF;
			END LOOP;
		END LOOP;
		IF v_done < v_n THEN
			-- Every step left waits for another step left: follow them
			-- from the first until one comes round again.
			SELECT array_agg(e.t ORDER BY e.f, e.t) INTO v_adj
			FROM unnest(e_from, v_to) AS e(f, t);
			v_off := jobvisor.csr_offsets(e_from, v_n);
			v_pos := array_fill(0, ARRAY[v_n]);
			v_path := '{}';
			SELECT min(g.s) INTO v_i FROM generate_series(1, v_n) g(s) WHERE v_indeg[g.s] > 0;
			WHILE v_pos[v_i] = 0 LOOP
				v_path := v_path || v_i;
				v_pos[v_i] := cardinality(v_path);
				-- (v_adj now holds each step's dependencies)
				v_next := NULL;
				FOR v_k IN v_off[v_i] .. v_off[v_i + 1] - 1 LOOP
					IF v_indeg[v_adj[v_k]] > 0 THEN
						v_next := v_adj[v_k];
						EXIT;
					END IF;
				END LOOP;
				v_i := v_next;
			END LOOP;
			v_path := v_path[v_pos[v_i]:] || v_i;
			SELECT 'cycle: ' || string_agg(v_key[p.s], ' -> ' ORDER BY p.n)
			       || CASE WHEN cardinality(v_path) > 21 THEN ' -> ... ('
			                    || (cardinality(v_path) - 1) || ' steps)' ELSE '' END
			INTO v_at
			FROM unnest(v_path) WITH ORDINALITY AS p(s, n)
			WHERE p.n <= 20 OR (cardinality(v_path) <= 21 AND p.n = cardinality(v_path));
			PERFORM jobvisor.workflow_error(v_at);
		END IF;
	END IF;

	INSERT INTO jobvisor.workflows (name, created_by) VALUES (v_name, p_by)
	RETURNING id INTO v_wf;
	WITH deps AS (
		SELECT e.f, count(*)::integer AS n FROM unnest(e_from) AS e(f) GROUP BY e.f
	),
	ins AS (
		INSERT INTO jobvisor.jobs (type, payload, user_id, scheduled_at, priority, max_attempts,
		                           timeout_seconds, queue, status, run_when, waiting_on,
		                           has_dependents, workflow_id, workflow_key)
		SELECT s.type, s.pay, s.usr, s.run, s.prio, s.maxa, s.tmo, s.queue,
		       CASE WHEN d.n > 0 THEN 'waiting' ELSE 'pending' END, s.rw, coalesce(d.n, 0),
		       h.t IS NOT NULL, v_wf, s.key
		FROM unnest(v_key, v_type, v_pay, v_user, v_prio, v_maxa, v_tmo, v_queue, v_run, v_when)
		     WITH ORDINALITY AS s(key, type, pay, usr, prio, maxa, tmo, queue, run, rw, n)
		LEFT JOIN deps d ON d.f = s.n
		LEFT JOIN (SELECT DISTINCT t FROM unnest(v_to) AS t) h ON h.t = s.n
		ORDER BY s.n
		RETURNING id, workflow_key
	),
	pos AS (
		SELECT i.id, k.n FROM ins i
		JOIN unnest(v_key) WITH ORDINALITY AS k(key, n) ON k.key = i.workflow_key
	),
	edges AS (
		INSERT INTO jobvisor.job_dependencies (job_id, depends_on)
		SELECT a.id, b.id
		FROM unnest(e_from, v_to) AS e(f, t)
		JOIN pos a ON a.n = e.f
		JOIN pos b ON b.n = e.t
	)
	SELECT jsonb_object_agg(i.workflow_key, i.id) INTO v_ids FROM ins i;
	RETURN jsonb_build_object('id', v_wf, 'name', v_name, 'jobs', v_ids);
END
$$;

COMMENT ON FUNCTION jobvisor.enqueue_workflow(jsonb, text)
	IS 'insert a workflow (a DAG of jobs by key) in one transaction; returns {"id", "name", "jobs": {key: id}}';

---------------------------------------------------------- workflow state
-- running while a step is pending, waiting or running; else failed when
-- one failed, cancelled when one was cancelled, else succeeded. NULL when
-- there is no such workflow.
CREATE FUNCTION jobvisor.workflow_status(p_id bigint) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM jobvisor.workflows w WHERE w.id = p_id) THEN NULL
	            WHEN bool_or(j.status IN ('pending', 'waiting', 'running')) THEN 'running'
	            WHEN bool_or(j.status = 'failed') THEN 'failed'
	            WHEN bool_or(j.status = 'cancelled') THEN 'cancelled'
	            ELSE 'succeeded' END
	FROM jobvisor.jobs j
	WHERE j.workflow_id = p_id
$$;

-- Cancel a workflow's unfinished steps: pending and waiting ones, and
-- running ones the way POST /api/jobs/{id}/cancel does (their attempt's
-- job_executions row with outcome cancelled, and a NOTIFY on
-- jobvisor_cancel that stops the run). Returns how many; NULL when there
-- is no such workflow. Their dependents outside the workflow are resolved
-- as for any cancellation.
CREATE FUNCTION jobvisor.cancel_workflow(p_id bigint, p_reason text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	v_reason text := coalesce(p_reason, 'workflow cancelled');
	v_n integer;
	v_told bigint;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM jobvisor.workflows w WHERE w.id = p_id) THEN
		RETURN NULL;
	END IF;
	WITH old AS (
		SELECT j.id, j.status, j.locked_by, j.started_at, j.attempts, j.type, j.user_id
		FROM jobvisor.jobs j
		WHERE j.workflow_id = p_id AND j.status IN ('pending', 'waiting', 'running')
		ORDER BY j.id
		FOR UPDATE
	),
	upd AS (
		UPDATE jobvisor.jobs j
		SET status = 'cancelled', finished_at = now(), updated_at = now(),
		    last_error = v_reason, locked_by = NULL
		FROM old o
		WHERE j.id = o.id AND j.status IN ('pending', 'waiting', 'running')
		RETURNING o.*
	),
	ins AS (
		INSERT INTO jobvisor.job_executions (job_id, attempt, processor, type, user_id,
		                                     started_at, finished_at, duration_ms, outcome, error)
		SELECT u.id, greatest(u.attempts, 1), u.locked_by, u.type, u.user_id,
		       coalesce(u.started_at, now()), now(),
		       greatest(0, (extract(epoch FROM now() - coalesce(u.started_at, now())) * 1000)::bigint),
		       'cancelled', v_reason
		FROM upd u WHERE u.status = 'running'
		RETURNING job_id
	)
	SELECT count(*), (SELECT count(pg_notify('jobvisor_cancel', i.job_id::text)) FROM ins i)
	INTO v_n, v_told
	FROM upd;
	RETURN v_n;
END
$$;

-- The results of a job's dependencies, for its executor: {"<key>": result}
-- with the workflow key of a dependency in the job's own workflow, else
-- its id; result NULL when it gave none (or is gone). {} when none.
CREATE FUNCTION jobvisor.dependency_results(p_job bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT coalesce(jsonb_object_agg(
	           CASE WHEN k.workflow_id = j.workflow_id THEN k.workflow_key
	                ELSE d.depends_on::text END, k.result), '{}')
	FROM jobvisor.job_dependencies d
	LEFT JOIN jobvisor.jobs j ON j.id = d.job_id
	LEFT JOIN jobvisor.jobs k ON k.id = d.depends_on
	WHERE d.job_id = p_job
$$;

--------------------------------------------------------------- progress
-- Progress of a running attempt: written only while p_attempt is the
-- job's running attempt (fenced like complete()); false otherwise.
-- p_percent 0..100, p_note at most 200 characters (JV_PROGRESS_NOTE_MAX),
-- else SQLSTATE 22023. How often is the caller's business (the engine:
-- at most once a second per job); the write touches no indexed column.
CREATE FUNCTION jobvisor.set_progress(p_job bigint, p_attempt integer, p_percent integer,
                                      p_note text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
	IF p_percent IS NULL OR p_percent NOT BETWEEN 0 AND 100 THEN
		RAISE EXCEPTION 'progress must be from 0 to 100, got %', coalesce(p_percent::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF char_length(p_note) > 200 THEN
		RAISE EXCEPTION 'progress note too long: % characters, the limit is 200', char_length(p_note)
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	UPDATE jobvisor.jobs j
	SET progress = p_percent, progress_note = p_note, progress_at = clock_timestamp()
	WHERE j.id = p_job AND j.attempts = p_attempt AND j.status = 'running';
	RETURN FOUND;
END
$$;

-- The engine's batch: [{"id": .., "attempt": .., "percent": .., "note": ..}];
-- fenced per element as above. Never fails on a value: percent is clamped
-- to 0..100, the note cut to 200 characters. Returns how many were written.
CREATE FUNCTION jobvisor.set_progress(p jsonb) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	v_n integer;
BEGIN
	WITH input AS (
		SELECT * FROM jsonb_to_recordset(p) AS t(id bigint, attempt integer, percent integer,
		                                         note text)
	)
	UPDATE jobvisor.jobs j
	SET progress = least(greatest(coalesce(i.percent, 0), 0), 100),
	    progress_note = left(i.note, 200), progress_at = clock_timestamp()
	FROM input i
	WHERE j.id = ANY (ARRAY(SELECT i2.id FROM input i2))
	  AND j.id = i.id AND j.attempts = i.attempt AND j.status || '' = 'running';
	GET DIAGNOSTICS v_n = ROW_COUNT;
	RETURN v_n;
END
$$;

------------------------------------------------------------ job counts
-- job_counts() of 014 with waiting (jobs_waiting_idx).
CREATE OR REPLACE FUNCTION jobvisor.job_counts()
RETURNS TABLE (status text, n bigint)
LANGUAGE sql STABLE AS $$
	WITH c AS MATERIALIZED (
		SELECT (SELECT count(*) FROM jobvisor.jobs j WHERE j.status = 'pending') AS pending,
		       (SELECT count(*) FROM jobvisor.jobs j WHERE j.status = 'waiting') AS waiting,
		       (SELECT count(*) FROM jobvisor.jobs j WHERE j.status = 'running') AS running,
		       (SELECT count(*) FROM jobvisor.jobs j WHERE j.status = 'failed') AS failed,
		       (SELECT count(*) FROM jobvisor.jobs j WHERE j.status = 'cancelled') AS cancelled,
		       (SELECT count(*) FROM jobvisor.jobs j) AS total
	)
	SELECT s.status, s.n
	FROM c, LATERAL (VALUES ('pending', c.pending), ('waiting', c.waiting),
	                        ('running', c.running),
	                        ('succeeded', greatest(c.total - c.pending - c.waiting - c.running
	                                               - c.failed - c.cancelled, 0)),
	                        ('failed', c.failed), ('cancelled', c.cancelled)) AS s(status, n)
$$;

-- A queue with waiting jobs is in use too (they will be pending in it).
CREATE OR REPLACE FUNCTION jobvisor.refuse_queue_in_use() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF OLD.name = 'default' THEN
		RAISE EXCEPTION 'jobvisor.queues: the queue ''default'' cannot be deleted'
			USING ERRCODE = 'integrity_constraint_violation';
	END IF;
	IF EXISTS (SELECT 1 FROM jobvisor.jobs j
	           WHERE j.queue = OLD.name
	             AND (j.status = 'pending' OR j.status = 'running' OR j.status = 'waiting'))
	   OR EXISTS (SELECT 1 FROM jobvisor.schedules s WHERE s.queue = OLD.name) THEN
		RAISE EXCEPTION 'jobvisor.queues: queue % still has pending or running jobs (or waiting ones), or schedules',
			quote_literal(OLD.name)
			USING ERRCODE = 'integrity_constraint_violation',
			      HINT = 'pause it, let its jobs finish or cancel them, move its schedules, then delete it';
	END IF;
	RETURN OLD;
END
$$;

-------------------------------------------------------------- retention
-- purge_history() of 012 (same signature and answers) that also deletes
-- the dependency edges of the jobs it removes and the workflows left
-- without a step, and keeps a finished job while a job that depends on it
-- is still pending, waiting or running (it reads the results of its
-- dependencies when it runs).
CREATE OR REPLACE FUNCTION jobvisor.purge_history(p_processor bigint, p_retention interval,
                                       p_failed_retention interval, p_runs_retention interval,
                                       p_interval interval, p_batch integer DEFAULT 1000,
                                       p_lease interval DEFAULT '1 minute',
                                       p_now timestamptz DEFAULT NULL)
RETURNS TABLE (state text, jobs bigint, executions bigint, schedule_runs bigint,
               wait_ms bigint, round_started_at timestamptz)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
	v_now timestamptz := coalesce(p_now, clock_timestamp());
	r jobvisor.history_purge%ROWTYPE;
	v_keep interval;
	v_horizon timestamptz;
	v_scanned bigint := 0;
	v_last bigint;
	v_jobs bigint := 0;
	v_execs bigint := 0;
	v_runs bigint := 0;
	v_wfs bigint[];
BEGIN
	IF p_batch IS NULL OR p_batch < 1 OR p_interval IS NULL OR p_lease IS NULL THEN
		RAISE EXCEPTION 'jobvisor.purge_history: p_batch must be positive, p_interval and p_lease given'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- A row lock that another transaction holds on an old row must not
	-- stall the caller's thread: fail this batch, and try again later.
	PERFORM set_config('lock_timeout', '5s', true);
	INSERT INTO jobvisor.history_purge DEFAULT VALUES ON CONFLICT DO NOTHING;
	-- Locked until this batch commits: two batches never run at once.
	SELECT * INTO r FROM jobvisor.history_purge FOR UPDATE SKIP LOCKED;
	IF NOT FOUND THEN
		RETURN QUERY SELECT 'busy', 0::bigint, 0::bigint, 0::bigint,
			(extract(epoch FROM p_lease) * 1000)::bigint, NULL::timestamptz;
		RETURN;
	END IF;
	IF r.holder IS NOT NULL AND r.holder <> p_processor AND r.lease_until > v_now THEN
		RETURN QUERY SELECT 'busy', 0::bigint, 0::bigint, 0::bigint,
			ceil(extract(epoch FROM r.lease_until - v_now) * 1000)::bigint, NULL::timestamptz;
		RETURN;
	END IF;
	IF r.holder IS NULL THEN
		IF r.last_started_at > v_now - p_interval THEN
			RETURN QUERY SELECT 'idle', 0::bigint, 0::bigint, 0::bigint,
				ceil(extract(epoch FROM r.last_started_at + p_interval - v_now) * 1000)::bigint,
				NULL::timestamptz;
			RETURN;
		END IF;
		r.round_started_at := v_now;
		r.walk := jobvisor.purge_next_walk(NULL, p_retention, p_failed_retention,
		                                   p_runs_retention);
		r.walk_after := 0;
		r.walk_bound := NULL;
		r.round_jobs := 0;
		r.round_executions := 0;
		r.round_schedule_runs := 0;
	END IF;
	-- (a lapsed lease of another processor: its round goes on from its cursor)
	r.holder := p_processor;
	r.lease_until := v_now + p_lease;

	-- (a walk of a round taken over whose rows this caller keeps is over)
	v_keep := CASE r.walk WHEN 'failed' THEN p_failed_retention
	                      WHEN 'schedule_runs' THEN p_runs_retention
	                      ELSE p_retention END;
	v_horizon := v_now - v_keep;
	IF v_keep IS NULL THEN
		v_scanned := 0;
	ELSIF r.walk = 'schedule_runs' THEN
		WITH d AS (
			DELETE FROM jobvisor.schedule_runs s
			WHERE s.ctid = ANY (ARRAY(SELECT s2.ctid FROM jobvisor.schedule_runs s2
			                          WHERE s2.created_at < v_horizon LIMIT p_batch))
			  AND s.created_at < v_horizon
			RETURNING 1
		)
		SELECT count(*) INTO v_runs FROM d;
		v_scanned := v_runs;
	ELSE
		IF r.walk_bound IS NULL THEN
			r.walk_bound := jobvisor.history_id_bound(v_horizon);
		END IF;
		-- The walk's status is a literal in the statement, so each walk
		-- gets the plan for its own share of the table.
		EXECUTE format($q$
			WITH scan AS MATERIALIZED (
				SELECT j.id, coalesce(j.finished_at, j.updated_at) < $1 AS old
				FROM jobvisor.jobs j
				WHERE j.status = %1$L AND j.id > $2 AND j.id < $3
				ORDER BY j.id LIMIT $4
			),
			-- (rows someone else holds are skipped: the next round
			-- takes them)
			-- (a job a live one still depends on is kept: its dependent
			-- is yet to read its result)
			gone AS (
				SELECT j.id FROM jobvisor.jobs j
				WHERE j.id = ANY (ARRAY(SELECT s.id FROM scan s WHERE s.old))
				  AND j.status = %1$L AND coalesce(j.finished_at, j.updated_at) < $1
				  AND (NOT j.has_dependents
				       OR NOT EXISTS (SELECT 1 FROM jobvisor.job_dependencies d
				                      JOIN jobvisor.jobs k ON k.id = d.job_id
				                      WHERE d.depends_on = j.id
				                        AND k.status IN ('pending', 'waiting', 'running')))
				FOR UPDATE OF j SKIP LOCKED
			),
			del AS (
				DELETE FROM jobvisor.jobs j
				WHERE j.id = ANY (ARRAY(SELECT g.id FROM gone g))
				RETURNING j.id, j.workflow_id
			),
			ex AS (
				DELETE FROM jobvisor.job_executions e
				WHERE e.job_id = ANY (ARRAY(SELECT d.id FROM del d))
				RETURNING 1
			),
			-- the edges of the jobs removed, either end
			edges AS (
				DELETE FROM jobvisor.job_dependencies e
				WHERE e.job_id = ANY (ARRAY(SELECT d.id FROM del d))
				   OR e.depends_on = ANY (ARRAY(SELECT d.id FROM del d))
			)
			SELECT (SELECT count(*) FROM scan), (SELECT max(s.id) FROM scan s),
			       (SELECT count(*) FROM del), (SELECT count(*) FROM ex),
			       (SELECT array_agg(DISTINCT d.workflow_id) FROM del d
			        WHERE d.workflow_id IS NOT NULL)
			$q$, r.walk)
		INTO v_scanned, v_last, v_jobs, v_execs, v_wfs
		USING v_horizon, r.walk_after, r.walk_bound, p_batch;
		-- The workflows this emptied. (A statement of its own: the one
		-- above does not see its own deletions.)
		IF v_wfs IS NOT NULL THEN
			DELETE FROM jobvisor.workflows w
			WHERE w.id = ANY (v_wfs)
			  AND NOT EXISTS (SELECT 1 FROM jobvisor.jobs j WHERE j.workflow_id = w.id);
		END IF;
	END IF;

	r.round_jobs := r.round_jobs + v_jobs;
	r.round_executions := r.round_executions + v_execs;
	r.round_schedule_runs := r.round_schedule_runs + v_runs;
	IF v_keep IS NOT NULL AND v_scanned >= p_batch THEN
		-- (schedule_runs: deleted rows are gone, so no cursor is needed)
		r.walk_after := coalesce(v_last, r.walk_after);
		state := 'more';
	ELSE
		r.walk := jobvisor.purge_next_walk(r.walk, p_retention, p_failed_retention,
		                                   p_runs_retention);
		r.walk_after := 0;
		r.walk_bound := NULL;
		state := CASE WHEN r.walk IS NULL THEN 'done' ELSE 'more' END;
	END IF;
	round_started_at := r.round_started_at;
	IF state = 'done' THEN
		r.last_processor := p_processor;
		r.last_started_at := r.round_started_at;
		r.last_finished_at := v_now;
		r.last_jobs := r.round_jobs;
		r.last_executions := r.round_executions;
		r.last_schedule_runs := r.round_schedule_runs;
		r.holder := NULL;
		r.lease_until := NULL;
		r.round_started_at := NULL;
		r.walk := NULL;
		r.round_jobs := 0;
		r.round_executions := 0;
		r.round_schedule_runs := 0;
		wait_ms := ceil(extract(epoch FROM p_interval) * 1000)::bigint;
	ELSE
		wait_ms := 0;
	END IF;
	UPDATE jobvisor.history_purge h
	SET holder = r.holder, lease_until = r.lease_until, round_started_at = r.round_started_at,
	    walk = r.walk, walk_after = r.walk_after, walk_bound = r.walk_bound,
	    round_jobs = r.round_jobs, round_executions = r.round_executions,
	    round_schedule_runs = r.round_schedule_runs,
	    last_processor = r.last_processor, last_started_at = r.last_started_at,
	    last_finished_at = r.last_finished_at, last_jobs = r.last_jobs,
	    last_executions = r.last_executions, last_schedule_runs = r.last_schedule_runs,
	    jobs_removed = h.jobs_removed + v_jobs,
	    executions_removed = h.executions_removed + v_execs,
	    schedule_runs_removed = h.schedule_runs_removed + v_runs;
	jobs := v_jobs;
	executions := v_execs;
	schedule_runs := v_runs;
	RETURN NEXT;
END
$$;

