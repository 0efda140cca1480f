#!/bin/sh
# it_migrate.sh -- `jobvisor migrate` and the schema it creates, against a
# real PostgreSQL: from empty, again (no-op), concurrently, a failing
# migration rolled back, a database newer than the binary; the defaults,
# constraints, indexes, NOTIFY triggers and jobvisor.enqueue().
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

# The newest version, and how many there are (numbers may have gaps).
N_SQL=$(ls "$top_srcdir"/sql/[0-9][0-9][0-9]_*.sql | wc -l)
LATEST=$(ls "$top_srcdir"/sql/[0-9][0-9][0-9]_*.sql | sed 's|.*/0*\([0-9]*\)_[^/]*$|\1|' | sort -n | tail -n 1)

# ---------------------------------------------------------------- from empty
jv_db
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate on an empty database"
assert_match '^applied 001_init$' "$OUT" "migrate names what it applied"
assert_match "^schema is at version $LATEST\$" "$OUT" "migrate says the new version"
assert_eq "$N_SQL" "$(jv_psql 'SELECT count(*) FROM jobvisor.schema_migrations')" \
	"every migration recorded once"
assert_eq "1|001_init" "$(jv_psql 'SELECT version, name FROM jobvisor.schema_migrations ORDER BY 1 LIMIT 1')" \
	"version row has version and name"

run "$JOBVISOR" migrate
assert_rc 0 "migrate again (config from \$JOBVISOR_CONFIG)"
assert_eq "schema is up to date (version $LATEST)" "$OUT" "second migrate is a no-op"
assert_eq "$N_SQL" "$(jv_psql 'SELECT count(*) FROM jobvisor.schema_migrations')" \
	"still one row per migration"

# ---------------------------------------------------------------- objects
assert_eq "alert_state,alerts,audit_log,fair_clock,history_purge,job_dependencies,job_executions,jobs,processors,queue_starts,queue_windows,queues,schedule_runs,schedules,schema_migrations,user_limits,user_turns,workflows" \
	"$(jv_psql "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'jobvisor'")" \
	"the tables exist"
for idx in jobs_claim_queue_idx jobs_claim_user_idx jobs_pending_due_idx jobs_running_locked_by_idx \
	jobs_running_user_idx jobs_unique_key_idx jobs_done_type_idx jobs_done_user_idx jobs_unsuccessful_idx job_executions_job_idx \
	job_executions_started_idx processors_heartbeat_idx schedules_next_run_idx; do
	assert_eq 1 "$(jv_psql "SELECT count(*) FROM pg_indexes WHERE schemaname = 'jobvisor' AND indexname = '$idx'")" \
		"index $idx exists"
done
assert_match "WHERE \(\(status = 'pending'::text\) AND \(user_id IS NULL\)\)" \
	"$(jv_psql "SELECT indexdef FROM pg_indexes WHERE indexname = 'jobs_claim_queue_idx'")" \
	"the claim index is partial on pending jobs without a user"
assert_match "\(queue, type, priority DESC, scheduled_at, id\)" \
	"$(jv_psql "SELECT indexdef FROM pg_indexes WHERE indexname = 'jobs_claim_queue_idx'")" \
	"the claim index has the type after the queue (026)"
assert_match "\(queue, type, scheduled_at\) WHERE \(status = 'pending'::text\)" \
	"$(jv_psql "SELECT indexdef FROM pg_indexes WHERE indexname = 'jobs_pending_due_idx'")" \
	"the due index has the type after the queue (026)"
assert_match "\(user_id, queue, type, priority DESC, scheduled_at, id\)" \
	"$(jv_psql "SELECT indexdef FROM pg_indexes WHERE indexname = 'jobs_claim_user_idx'")" \
	"the fair claim's index has the queue and type after the user (026)"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM pg_indexes WHERE schemaname = 'jobvisor' AND indexname LIKE '%\\_026\\_idx'")" \
	"026's indexes under their temporary names are gone"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM pg_indexes WHERE schemaname = 'jobvisor' AND indexname = 'jobs_claim_idx'")" \
	"jobs_claim_idx is gone (016: jobs_claim_queue_idx, by queue, replaces it)"
assert_match "UNIQUE .* WHERE \(\(unique_key IS NOT NULL\) AND" \
	"$(jv_psql "SELECT indexdef FROM pg_indexes WHERE indexname = 'jobs_unique_key_idx'")" \
	"unique_key index is unique and partial"
assert_eq "fillfactor=80 autovacuum_vacuum_scale_factor=0.01" \
	"$(jv_psql "SELECT string_agg(o, ' ') FROM pg_class, unnest(reloptions) o WHERE oid = 'jobvisor.jobs'::regclass AND o ~ '^(fillfactor|autovacuum_vacuum_scale_factor)='")" \
	"jobs has a fillfactor for updates and is vacuumed by the number of jobs, not its size"
assert_eq "jobs_notify_insert|1|jobs_notify_pending|0" \
	"$(jv_psql "SELECT string_agg(tgname || '|' || (tgtype & 1 = 0)::int, '|' ORDER BY tgname) FROM pg_trigger
		WHERE tgrelid = 'jobvisor.jobs'::regclass AND NOT tgisinternal AND tgname LIKE 'jobs_notify_%'")" \
	"insert trigger is per statement, pending trigger per row"
assert_eq 1 "$(jv_psql "SELECT count(*) FROM pg_proc WHERE oid = 'jobvisor.enqueue(text, jsonb, text, timestamptz, integer, integer, integer, text, text[], text, bigint[], text)'::regprocedure")" \
	"jobvisor.enqueue has the documented signature"

# ---------------------------------------------------------------- plain INSERT
id=$(jv_psql "INSERT INTO jobvisor.jobs (type, payload) VALUES ('noop', '{}') RETURNING id")
assert_match '^[0-9]+$' "$id" "a plain INSERT enqueues"
assert_eq "noop|{}|pending|0|0|3|||||t|t" \
	"$(jv_psql "SELECT type, payload, status, priority, attempts, max_attempts, timeout_seconds, unique_key,
		locked_by, user_id, abs(extract(epoch FROM now() - scheduled_at)) < 60, created_at = scheduled_at
		FROM jobvisor.jobs WHERE id = $id")" \
	"the plain INSERT got the defaults"
id2=$(jv_psql "INSERT INTO jobvisor.jobs (type) VALUES ('noop') RETURNING id")
assert_eq "{}" "$(jv_psql "SELECT payload FROM jobvisor.jobs WHERE id = $id2")" "payload defaults to {}"

# ---------------------------------------------------------------- constraints
expect_sql_error()
{
	if jv_psql "$1" >"$JV_TMP/sql.out" 2>&1; then
		fail "$3: accepted: $1"
	fi
	assert_match "$2" "$(cat "$JV_TMP/sql.out")" "$3"
}
expect_sql_error "INSERT INTO jobvisor.jobs (type, status) VALUES ('noop', 'bogus')" jobs_status_check \
	"status must be a known state"
expect_sql_error "INSERT INTO jobvisor.jobs (type, max_attempts) VALUES ('noop', 0)" jobs_max_attempts_check \
	"max_attempts >= 1"
expect_sql_error "INSERT INTO jobvisor.jobs (type, payload) VALUES ('noop', '[1]')" jobs_payload_check \
	"payload must be an object"
expect_sql_error "INSERT INTO jobvisor.jobs (type, timeout_seconds) VALUES ('noop', 0)" jobs_timeout_check \
	"timeout_seconds > 0"
expect_sql_error "INSERT INTO jobvisor.jobs (type) VALUES ('')" jobs_type_check "type not empty"
expect_sql_error "UPDATE jobvisor.jobs SET status = 'running' WHERE id = $id" jobs_running_locked_check \
	"a running job must have locked_by"
expect_sql_error "INSERT INTO jobvisor.jobs (id, type) VALUES (999999, 'noop')" "GENERATED ALWAYS" \
	"ids come from the identity"
expect_sql_error "INSERT INTO jobvisor.job_executions (job_id, attempt, type, finished_at, outcome) VALUES ($id, 1, 'noop', now(), 'exploded')" \
	job_executions_outcome_check "execution outcome must be known"
expect_sql_error "INSERT INTO jobvisor.job_executions (job_id, attempt, type, outcome) VALUES ($id, 1, 'noop', 'succeeded')" \
	job_executions_finished_check "a finished execution has finished_at"
expect_sql_error "INSERT INTO jobvisor.processors (name, hostname, pid, version, state) VALUES ('p', 'h', 1, 'v', 'dancing')" \
	processors_state_check "processor state must be known"
expect_sql_error "INSERT INTO jobvisor.schedules (name, cron, type, catch_up) VALUES ('s', '* * * * *', 'noop', 'some')" \
	schedules_catch_up_check "schedule catch_up must be known"
pid=$(jv_psql "INSERT INTO jobvisor.processors (name, hostname, pid, version) VALUES ('p', 'h', 42, '0.1.0') RETURNING id")
assert_eq "running|t|" "$(jv_psql "SELECT state, heartbeat_at = started_at, stopped_at FROM jobvisor.processors WHERE id = $pid")" \
	"processor defaults"
jv_psql "INSERT INTO jobvisor.job_executions (job_id, attempt, processor, type, finished_at, duration_ms, outcome)
	VALUES ($id, 1, $pid, 'noop', now(), 3, 'succeeded')" >/dev/null || fail "insert an execution row"
ok "an execution row with the documented columns"
jv_psql "INSERT INTO jobvisor.schedules (name, cron, type) VALUES ('nightly', '0 3 * * *', 'noop')" >/dev/null ||
	fail "insert a schedule"
assert_eq "UTC|{}|t|latest|api" "$(jv_psql "SELECT timezone, payload, enabled, catch_up, source FROM jobvisor.schedules")" \
	"schedule defaults"

# ---------------------------------------------------------------- NOTIFY
# notifications SQLFILE: how many jobvisor_jobs notifications a listening
# session receives while another session runs SQLFILE.
notifications()
{
	psql -X -d "$JV_DB_URL" <<EOF 2>&1 | grep -c 'Asynchronous notification "jobvisor_jobs"'
LISTEN jobvisor_jobs;
\! psql -X -q -v ON_ERROR_STOP=1 -d "$JV_DB_URL" -f "$1" >/dev/null
SELECT pg_sleep(0.3);
SELECT 1;
EOF
}
echo "INSERT INTO jobvisor.jobs (type, payload) VALUES ('noop', '{}');" >"$JV_TMP/n1.sql"
assert_eq 1 "$(notifications "$JV_TMP/n1.sql")" "a plain INSERT sends NOTIFY jobvisor_jobs"
echo "INSERT INTO jobvisor.jobs (type) SELECT 'noop' FROM generate_series(1, 1000);" >"$JV_TMP/n2.sql"
assert_eq 1 "$(notifications "$JV_TMP/n2.sql")" "a 1000-row INSERT sends one notification"
echo "SELECT jobvisor.enqueue('noop');" >"$JV_TMP/n3.sql"
assert_eq 1 "$(notifications "$JV_TMP/n3.sql")" "jobvisor.enqueue() notifies"
# A claim-like update sends nothing; putting a running job back to pending does.
jv_psql "UPDATE jobvisor.jobs SET status = 'succeeded', finished_at = now() WHERE status = 'pending'" >/dev/null
jv_psql "INSERT INTO jobvisor.jobs (type) VALUES ('noop')" >/dev/null
echo "UPDATE jobvisor.jobs SET status = 'running', locked_by = $pid, attempts = attempts + 1 WHERE status = 'pending';" >"$JV_TMP/n4.sql"
assert_eq 0 "$(notifications "$JV_TMP/n4.sql")" "claiming sends no notification"
echo "UPDATE jobvisor.jobs SET status = 'pending', locked_by = NULL WHERE status = 'running';" >"$JV_TMP/n5.sql"
assert_eq 1 "$(notifications "$JV_TMP/n5.sql")" "a job back to pending (rescue, retry) notifies"

# ---------------------------------------------------------------- the claim index
jv_psql "INSERT INTO jobvisor.jobs (type, status, finished_at) SELECT 'noop', 'succeeded', now() FROM generate_series(1, 20000);
	INSERT INTO jobvisor.jobs (type, priority) SELECT 'noop', g % 5 FROM generate_series(1, 2000) g;
	ANALYZE jobvisor.jobs" >/dev/null
plan=$(jv_psql "EXPLAIN SELECT id FROM jobvisor.jobs WHERE status = 'pending' AND user_id IS NULL AND scheduled_at <= now()
	AND queue = 'default' AND type = 'noop' ORDER BY priority DESC, scheduled_at, id LIMIT 20 FOR UPDATE SKIP LOCKED")
assert_match "Index Scan using jobs_claim_queue_idx" "$plan" "the claim query walks jobs_claim_queue_idx (no sort)"
assert_no_match "Sort" "$plan" "the claim query needs no sort"

# ---------------------------------------------------------------- enqueue()
e1=$(jv_psql "SELECT jobvisor.enqueue('noop', '{\"a\":1}', 'alice', now() + interval '1 hour', 5, 7, 30)")
assert_eq 'noop|{"a": 1}|alice|t|5|7|30|pending' \
	"$(jv_psql "SELECT type, payload, user_id, scheduled_at > now(), priority, max_attempts, timeout_seconds, status FROM jobvisor.jobs WHERE id = $e1")" \
	"enqueue() stores every argument"
e2=$(jv_psql "SELECT jobvisor.enqueue('noop', NULL, NULL, NULL, NULL, NULL, NULL, NULL)")
assert_eq "{}|0|3|t" "$(jv_psql "SELECT payload, priority, max_attempts, scheduled_at <= now() FROM jobvisor.jobs WHERE id = $e2")" \
	"NULL arguments take the defaults"
u1=$(jv_psql "SELECT jobvisor.enqueue('noop', unique_key => 'report-1')")
u2=$(jv_psql "SELECT jobvisor.enqueue('noop', '{\"x\":2}', unique_key => 'report-1')")
assert_eq "$u1" "$u2" "same unique_key while pending: the same id"
jv_psql "UPDATE jobvisor.jobs SET status = 'running', locked_by = $pid WHERE id = $u1" >/dev/null
u3=$(jv_psql "SELECT jobvisor.enqueue('noop', unique_key => 'report-1')")
assert_eq "$u1" "$u3" "same unique_key while running: the same id"
jv_psql "UPDATE jobvisor.jobs SET status = 'succeeded', finished_at = now() WHERE id = $u1" >/dev/null
u4=$(jv_psql "SELECT jobvisor.enqueue('noop', unique_key => 'report-1')")
[ "$u4" != "$u1" ] || fail "a finished job frees its unique_key"
ok "a finished job frees its unique_key"
expect_sql_error "INSERT INTO jobvisor.jobs (type, unique_key) VALUES ('noop', 'report-1')" jobs_unique_key_idx \
	"a plain INSERT of a held unique_key is refused"
# Eight sessions racing for one key all get the one job.
i=0
while [ $i -lt 8 ]; do
	psql -X -q -A -t -d "$JV_DB_URL" -c "SELECT jobvisor.enqueue('noop', unique_key => 'race')" >"$JV_TMP/race.$i" 2>&1 &
	i=$((i + 1))
done
wait
assert_eq 1 "$(cat "$JV_TMP"/race.* | sort -u | wc -l | tr -d ' ')" "concurrent enqueue() with one unique_key: one id"
assert_eq 1 "$(jv_psql "SELECT count(*) FROM jobvisor.jobs WHERE unique_key = 'race'")" \
	"concurrent enqueue() with one unique_key: one row"

# ---------------------------------------------------------------- newer database
jv_psql "INSERT INTO jobvisor.schema_migrations (version, name) VALUES (999, '999_from_the_future')" >/dev/null
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 1 "a database newer than the binary: refused"
assert_match "version 999 \(999_from_the_future\), newer than this jobvisor knows \($LATEST\)" "$ERR" \
	"the refusal names both versions"
run "$JOBVISOR" status -c "$JV_CONF"
assert_rc 1 "status refuses a newer schema too"
assert_match "newer than this jobvisor knows" "$ERR" "status says why"

# ---------------------------------------------------------------- concurrently
# Four runs on an empty database, in five rounds: the parts before a
# migration's transaction (index builds) are where runs once raced.
round=0
while [ $round -lt 5 ]; do
	jv_db concurrent
	n=0
	pids=
	while [ $n -lt 4 ]; do
		jv_bg "$JOBVISOR" migrate -c "$JV_CONF"
		pids="$pids $BG_PID:$BG_N"
		n=$((n + 1))
	done
	applied=0
	for p in $pids; do
		wait "${p%%:*}"
		rc=$?
		[ "$rc" = 0 ] || fail "round $round: concurrent migrate exited $rc: $(cat "$JV_TMP/bg.${p#*:}.err")"
		grep -q '^applied 001_init$' "$JV_TMP/bg.${p#*:}.out" && applied=$((applied + 1))
	done
	[ "$applied" = 1 ] || fail "round $round: $applied runs applied 001_init"
	[ "$(jv_psql 'SELECT count(*), count(DISTINCT version) FROM jobvisor.schema_migrations')" = "$N_SQL|$N_SQL" ] ||
		fail "round $round: versions recorded: $(jv_psql 'SELECT string_agg(version::text, \',\') FROM jobvisor.schema_migrations')"
	bad=$(jv_psql "SELECT string_agg(c.relname, ', ') FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		WHERE c.relnamespace = 'jobvisor'::regnamespace AND NOT i.indisvalid")
	[ -z "$bad" ] || fail "round $round: invalid indexes left: $bad"
	round=$((round + 1))
done
ok "four concurrent migrate runs all succeed (five rounds)"
ok "exactly one of them applied 001_init"
ok "each version recorded once, no invalid index left"
# A migrate that lost the race runs a migration's part before its
# transaction after the winner has applied it (the part's statements are
# idempotent): 017's again, on the migrated database.
awk '/^-- @transaction$/ { exit } { print }' "$top_srcdir/sql/017_workflows.sql" >"$JV_TMP/outside.sql"
run psql -X -q -v ON_ERROR_STOP=1 -d "$JV_DB_URL" -f "$JV_TMP/outside.sql"
[ "$RC" = 0 ] || fail "017's part before its transaction failed after the migration: $ERR"
ok "017's part before its transaction runs again after the migration"

# ---------------------------------------------------------------- a failed build
# An index build that failed before (here, a unique one on duplicates) left
# an invalid index with the name of one a migration builds: migrate drops
# it and builds the real one.
jv_db invalid
run "$JOBVISOR" migrate -c "$JV_CONF" --to 16
assert_rc 0 "migrate --to 16"
jv_psql "SELECT jobvisor.enqueue('noop'); SELECT jobvisor.enqueue('noop')" >/dev/null
run psql -X -q -d "$JV_DB_URL" -c "CREATE UNIQUE INDEX CONCURRENTLY jobs_workflow_idx ON jobvisor.jobs ((1))"
assert_eq "f" "$(jv_psql "SELECT indisvalid FROM pg_index WHERE indexrelid = 'jobvisor.jobs_workflow_idx'::regclass")" \
	"a failed build left an invalid index"
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate over the invalid index"
assert_match "dropping the invalid index jobs_workflow_idx a failed build left" "$ERR" "says it drops it"
assert_eq "t|CREATE INDEX jobs_workflow_idx ON jobvisor.jobs USING btree (workflow_id, status) WHERE (workflow_id IS NOT NULL)" \
	"$(jv_psql "SELECT i.indisvalid, pg_get_indexdef(i.indexrelid) FROM pg_index i
		WHERE i.indexrelid = 'jobvisor.jobs_workflow_idx'::regclass")" "the migration's index replaced it, valid"

# ---------------------------------------------------------------- failure rolls back
jv_db broken
jv_psql "CREATE SCHEMA jobvisor; CREATE TABLE jobvisor.jobs (x integer)" >/dev/null
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 1 "a failing migration: exit 1"
assert_match 'migration 001_init failed: relation "jobs" already exists' "$ERR" \
	"the error names the migration and carries the PostgreSQL message"
assert_eq 0 "$(jv_psql 'SELECT count(*) FROM jobvisor.schema_migrations')" "a failed migration is not recorded"
assert_eq "" "$(jv_psql "SELECT to_regclass('jobvisor.processors')")" "a failed migration is rolled back entirely"
assert_eq "0" "$(jv_psql "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
	AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")" "the migration lock is released"
jv_psql "DROP TABLE jobvisor.jobs" >/dev/null
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "after fixing the database, migrate succeeds"

# ---------------------------------------------------------------- unreachable
saved_url=$JV_DB_URL
JV_DB_URL="postgresql://postgres@127.0.0.1:1/nowhere?connect_timeout=3"
jv_write_config "$JV_TMP/nodb.yaml"
JV_DB_URL=$saved_url
run "$JOBVISOR" migrate -c "$JV_TMP/nodb.yaml"
assert_rc 1 "migrate with the database unreachable: exit 1"
assert_match '^jobvisor migrate: could not connect to database: .*127\.0\.0\.1.*(refused|failed)' "$ERR" \
	"unreachable database: a clear message"

jv_done
