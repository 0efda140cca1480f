-- 001_init.sql -- the jobvisor schema: jobs, their executions, processors and
-- schedules; the enqueue function; the NOTIFY that wakes processors.
--
-- Applied by `jobvisor migrate` inside one transaction, after it has created
-- the schema `jobvisor` and the table jobvisor.schema_migrations itself (it
-- needs them before any migration runs). No BEGIN/COMMIT in migration files.
-- Every name is schema-qualified: nothing depends on search_path.
--
-- Conventions: ids are `bigint generated always as identity` (a plain
-- INSERT needs no id); times are timestamptz from the database clock; enums
-- are text with CHECK constraints (readable, and easy to extend in a later
-- migration by replacing the constraint).

CREATE SCHEMA IF NOT EXISTS jobvisor;

------------------------------------------------------------------ processors
-- One row per supervisor start: a restarted supervisor gets a new id, so it
-- never mistakes the jobs of its previous run (still locked_by the old id)
-- for its own; those are rescued like any dead processor's.
CREATE TABLE jobvisor.processors (
	id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name           text        NOT NULL,           -- processor.name from config
	hostname       text        NOT NULL,
	pid            integer     NOT NULL,
	version        text        NOT NULL,           -- jobvisor version
	state          text        NOT NULL DEFAULT 'running'
	               CONSTRAINT processors_state_check
	               CHECK (state IN ('running', 'paused', 'stopping', 'stopped')),
	started_at     timestamptz NOT NULL DEFAULT now(),
	heartbeat_at   timestamptz NOT NULL DEFAULT now(),
	stopped_at     timestamptz,                    -- set with state 'stopped'
	CONSTRAINT processors_stopped_check CHECK ((state = 'stopped') = (stopped_at IS NOT NULL))
);

-- Rescue: "processors whose heartbeat is older than the horizon", and status.
CREATE INDEX processors_heartbeat_idx ON jobvisor.processors (heartbeat_at);

------------------------------------------------------------------------ jobs
CREATE TABLE jobvisor.jobs (
	id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	type            text        NOT NULL           -- the executor (config executors: key)
	                CONSTRAINT jobs_type_check CHECK (type <> ''),
	user_id         text,                          -- per_user_limit applies when set
	payload         jsonb       NOT NULL DEFAULT '{}'
	                CONSTRAINT jobs_payload_check CHECK (jsonb_typeof(payload) = 'object'),
	status          text        NOT NULL DEFAULT 'pending'
	                CONSTRAINT jobs_status_check
	                CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'cancelled')),
	scheduled_at    timestamptz NOT NULL DEFAULT now(), -- due from; retries move it forward
	priority        integer     NOT NULL DEFAULT 0, -- higher runs first
	attempts        integer     NOT NULL DEFAULT 0  -- attempts started (claims) so far
	                CONSTRAINT jobs_attempts_check CHECK (attempts >= 0),
	max_attempts    integer     NOT NULL DEFAULT 3
	                CONSTRAINT jobs_max_attempts_check CHECK (max_attempts >= 1),
	timeout_seconds integer                        -- NULL: the executor's, else the processor's
	                CONSTRAINT jobs_timeout_check CHECK (timeout_seconds > 0),
	unique_key      text,                          -- at most one pending/running job per key
	locked_by       bigint,                        -- processors.id while running (see below)
	started_at      timestamptz,                   -- start of the current/last attempt
	last_error      text,
	result          jsonb,                         -- the executor's JSON result
	created_at      timestamptz NOT NULL DEFAULT now(),
	updated_at      timestamptz NOT NULL DEFAULT now(), -- set by whoever changes the row
	finished_at     timestamptz,                   -- set with succeeded/failed/cancelled
	-- A running job always has an owner: rescue and fencing depend on it.
	CONSTRAINT jobs_running_locked_check CHECK (status <> 'running' OR locked_by IS NOT NULL)
)
-- Room on each page for the new row versions of claim and completion
-- updates. Those change `status`, which the partial indexes below depend
-- on, so they are not HOT updates; but a new version that lands on the same
-- page keeps the table compact and the heap access local. Updates that
-- leave status alone (updated_at, last_error, result) can be HOT.
WITH (fillfactor = 80);

-- locked_by deliberately has no foreign key to processors: the claim sets it
-- on every claimed row, and a per-row RI check (plus the row lock it takes on
-- the processor, which heartbeats) would cost throughput for no safety the
-- engine needs. Rescue treats a locked_by with no live processor as dead.

-- The claim of jobs without a user: pending jobs, highest priority first,
-- then oldest scheduled_at, id as the tie-breaker. Scanned in this order
-- with FOR UPDATE SKIP LOCKED; due-ness (scheduled_at <= now()) is a filter
-- on it. Jobs with a user are in jobs_claim_user_idx instead, so neither
-- scan ever walks past the other's rows (100 000 pending jobs of one user
-- cost the user-less claim nothing).
CREATE INDEX jobs_claim_idx ON jobvisor.jobs (priority DESC, scheduled_at, id)
	WHERE status = 'pending' AND user_id IS NULL;

-- Fair claiming per user: the next jobs of each user in claim order, so a
-- user with 100 000 pending jobs can be skipped in one step (loose index scan
-- over user_id, then a LATERAL per user) instead of row by row.
CREATE INDEX jobs_claim_user_idx ON jobvisor.jobs (user_id, priority DESC, scheduled_at, id)
	WHERE status = 'pending' AND user_id IS NOT NULL;

-- When is the next pending job due (the processor's wake-up timer for
-- delayed jobs and retries), and the oldest due pending job (status, alerts).
CREATE INDEX jobs_pending_due_idx ON jobvisor.jobs (scheduled_at)
	WHERE status = 'pending';

-- Running jobs by processor: max_concurrent_jobs, rescue of a dead
-- processor's jobs, release on shutdown.
CREATE INDEX jobs_running_locked_by_idx ON jobvisor.jobs (locked_by)
	WHERE status = 'running';

-- Running jobs by user: per_user_limit across all processors.
CREATE INDEX jobs_running_user_idx ON jobvisor.jobs (user_id)
	WHERE status = 'running' AND user_id IS NOT NULL;

-- Unique jobs: at most one pending or running job per unique_key. A finished
-- job frees its key. jobvisor.enqueue() uses it with ON CONFLICT; a plain
-- INSERT of a duplicate fails with unique_violation.
CREATE UNIQUE INDEX jobs_unique_key_idx ON jobvisor.jobs (unique_key)
	WHERE unique_key IS NOT NULL AND status IN ('pending', 'running');

-- History retention: finished jobs older than history.retention_days. BRIN,
-- not a btree: finished_at follows the table's physical order closely (rows
-- are appended and finish in roughly that order), so a few hundred bytes of
-- block ranges answer "older than" scans, and a completion does not pay a
-- btree insertion for it (measured: ~5% of a job's database time).
CREATE INDEX jobs_finished_idx ON jobvisor.jobs USING brin (finished_at);

------------------------------------------------------------- job_executions
-- One row per attempt (guarantee 4). Written by the engine in the same
-- transaction that updates the job; a rescued attempt gets its row from the
-- rescue. `outcome` and `finished_at` are NULL only while an attempt whose
-- row was written at its start is still running.
CREATE TABLE jobvisor.job_executions (
	id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	job_id       bigint      NOT NULL,               -- jobs.id (no foreign key: see below)
	attempt      integer     NOT NULL                -- jobs.attempts of this attempt
	             CONSTRAINT job_executions_attempt_check CHECK (attempt >= 1),
	processor    bigint,                             -- processors.id that ran it
	type         text        NOT NULL,               -- copied from the job, so analytics
	user_id      text,                               --   by type/user need no join
	started_at   timestamptz NOT NULL DEFAULT now(),
	finished_at  timestamptz,
	duration_ms  bigint                              -- measured by the supervisor
	             CONSTRAINT job_executions_duration_check CHECK (duration_ms >= 0),
	outcome      text
	             CONSTRAINT job_executions_outcome_check
	             CHECK (outcome IN ('succeeded', 'failed', 'timed_out', 'crashed', 'rescued', 'cancelled')),
	-- The result came back after the job had moved on (rescued, cancelled):
	-- it was recorded here but not applied to the job (fencing, guarantee 3).
	stale        boolean     NOT NULL DEFAULT false,
	error        text,
	output       text,                               -- bounded by history.max_output_bytes
	result       jsonb,
	CONSTRAINT job_executions_finished_check CHECK ((outcome IS NULL) = (finished_at IS NULL))
);

-- No foreign keys here either: measured on PostgreSQL 15, the RI check
-- doubled the cost of inserting history rows (about 4 us more per row, ~10%
-- of the whole per-job budget at 30 000 jobs/s on 2 cores). The engine writes
-- a row only for a job it holds; retention deletes old executions by
-- started_at and finished jobs by finished_at.

-- A job's attempts (GET /api/jobs/{id}, fencing checks). Not unique: an
-- attempt released at shutdown is not counted, so its number is reused.
CREATE INDEX job_executions_job_idx ON jobvisor.job_executions (job_id, attempt);

-- Analytics over a time window (/api/cron/metrics, insights) and retention.
-- BRIN for the same reason: history rows are appended in time order, and
-- window scans over block ranges stay cheap at 10 million rows.
CREATE INDEX job_executions_started_idx ON jobvisor.job_executions USING brin (started_at);

------------------------------------------------------------------ schedules
-- Recurring jobs, from the config file (source 'config', synchronised at
-- start and reload) or from the API (source 'api'). The columns from `type`
-- to `timeout_seconds` are the template of the jobs they enqueue.
CREATE TABLE jobvisor.schedules (
	name            text        PRIMARY KEY
	                CONSTRAINT schedules_name_check CHECK (name <> ''),
	cron            text        NOT NULL,
	timezone        text        NOT NULL DEFAULT 'UTC',
	type            text        NOT NULL
	                CONSTRAINT schedules_type_check CHECK (type <> ''),
	payload         jsonb       NOT NULL DEFAULT '{}'
	                CONSTRAINT schedules_payload_check CHECK (jsonb_typeof(payload) = 'object'),
	user_id         text,
	priority        integer     NOT NULL DEFAULT 0,
	max_attempts    integer     NOT NULL DEFAULT 3
	                CONSTRAINT schedules_max_attempts_check CHECK (max_attempts >= 1),
	timeout_seconds integer
	                CONSTRAINT schedules_timeout_check CHECK (timeout_seconds > 0),
	-- After downtime: run nothing missed, the latest missed run, or all of them.
	catch_up        text        NOT NULL DEFAULT 'latest'
	                CONSTRAINT schedules_catch_up_check CHECK (catch_up IN ('none', 'latest', 'all')),
	jitter_seconds  integer     NOT NULL DEFAULT 0
	                CONSTRAINT schedules_jitter_check CHECK (jitter_seconds >= 0),
	enabled         boolean     NOT NULL DEFAULT true,
	next_run_at     timestamptz,
	last_run_at     timestamptz,
	last_job_id     bigint,                          -- the job the last run enqueued
	source          text        NOT NULL DEFAULT 'api'
	                CONSTRAINT schedules_source_check CHECK (source IN ('config', 'api')),
	created_at      timestamptz NOT NULL DEFAULT now(),
	updated_at      timestamptz NOT NULL DEFAULT now()
);

-- The scheduler's "which schedules are due".
CREATE INDEX schedules_next_run_idx ON jobvisor.schedules (next_run_at) WHERE enabled;

---------------------------------------------------------------------- NOTIFY
-- Processors LISTEN on jobvisor_jobs and claim when woken (polling is only
-- the fallback). The payload is empty: a notification means "look", the
-- claim query decides what is due.
--
-- On INSERT the trigger is per statement, so a 10 000-row INSERT (or COPY)
-- sends one notification, not 10 000; PostgreSQL also folds identical
-- notifications of one transaction into one. It fires even for future
-- scheduled_at: the woken processor then learns the next due time.
CREATE FUNCTION jobvisor.notify_jobs() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('jobvisor_jobs', '');
	RETURN NULL;
END
$$;

CREATE TRIGGER jobs_notify_insert
	AFTER INSERT ON jobvisor.jobs
	FOR EACH STATEMENT EXECUTE FUNCTION jobvisor.notify_jobs();

-- A job that becomes pending again and is due (a retry from the API, a
-- rescue, a release at shutdown) wakes processors too. Per row, but the
-- WHEN clause is evaluated without calling the function, so the claim and
-- completion updates (which never match it) pay next to nothing.
CREATE TRIGGER jobs_notify_pending
	AFTER UPDATE OF status ON jobvisor.jobs
	FOR EACH ROW
	WHEN (NEW.status = 'pending' AND OLD.status <> 'pending' AND NEW.scheduled_at <= now())
	EXECUTE FUNCTION jobvisor.notify_jobs();

--------------------------------------------------------------------- enqueue
-- jobvisor.enqueue(type, payload, user_id, scheduled_at, priority,
--                  max_attempts, timeout_seconds, unique_key) -> job id
--
-- A NULL argument means its default, so callers (the CLI, the API) can pass
-- every parameter and leave out what the user did not give. Named notation
-- works: SELECT jobvisor.enqueue('report', unique_key => 'daily').
--
-- With a unique_key: when a pending or running job holds the key, its id is
-- returned and nothing is inserted. Race-free: the partial unique index
-- decides (ON CONFLICT DO NOTHING waits for a concurrent inserter of the same
-- key to commit or roll back); when the job that held the key finishes
-- between our insert and our select, we loop and insert again.
CREATE FUNCTION jobvisor.enqueue(
	type            text,
	payload         jsonb       DEFAULT '{}',
	user_id         text        DEFAULT NULL,
	scheduled_at    timestamptz DEFAULT now(),
	priority        integer     DEFAULT 0,
	max_attempts    integer     DEFAULT 3,
	timeout_seconds integer     DEFAULT NULL,
	unique_key      text        DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
	v_id bigint;
BEGIN
	IF enqueue.type IS NULL THEN
		RAISE EXCEPTION 'jobvisor.enqueue: type must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	LOOP
		INSERT INTO jobvisor.jobs AS j
			(type, payload, user_id, scheduled_at, priority, max_attempts,
			 timeout_seconds, unique_key)
		VALUES
			(enqueue.type,
			 coalesce(enqueue.payload, '{}'),
			 enqueue.user_id,
			 coalesce(enqueue.scheduled_at, now()),
			 coalesce(enqueue.priority, 0),
			 coalesce(enqueue.max_attempts, 3),
			 enqueue.timeout_seconds,
			 enqueue.unique_key)
		ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND status IN ('pending', 'running')
		DO NOTHING
		RETURNING j.id INTO v_id;
		IF v_id IS NOT NULL THEN
			RETURN v_id;
		END IF;
		-- Only a unique_key conflict gets here.
		SELECT j.id INTO v_id
		FROM jobvisor.jobs j
		WHERE j.unique_key = enqueue.unique_key AND j.status IN ('pending', 'running');
		IF v_id IS NOT NULL THEN
			RETURN v_id;
		END IF;
	END LOOP;
END
$$;

COMMENT ON SCHEMA jobvisor IS 'jobvisor job supervisor (managed by jobvisor migrate)';
COMMENT ON TABLE jobvisor.jobs IS 'jobs; a plain INSERT (type, payload) enqueues one';
COMMENT ON TABLE jobvisor.job_executions IS 'one row per attempt of a job';
COMMENT ON TABLE jobvisor.processors IS 'one row per jobvisor serve start';
COMMENT ON TABLE jobvisor.schedules IS 'recurring jobs (cron), from config or API';
COMMENT ON FUNCTION jobvisor.enqueue(text, jsonb, text, timestamptz, integer, integer, integer, text)
	IS 'enqueue a job; with unique_key returns the pending/running job holding the key';
