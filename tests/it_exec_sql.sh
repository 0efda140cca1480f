#!/bin/sh
# it_exec_sql.sh -- the sql executor through `jobvisor serve` against a real
# PostgreSQL: named queries with parameters (with isolation process and
# thread), typed rows in the result, max_rows truncation, a second database
# by its own database_url, unknown queries, wrong parameter counts, SQL
# errors that are permanent (SQLSTATE 23505; 25001 for VACUUM, which cannot
# run in the transaction each query runs in), a lock wait cancelled at the
# job's deadline and retried, and bad payloads failing for good while the
# supervisor goes on.
. "${top_srcdir:-.}/tests/lib.sh"

jv_db
MAIN_URL=$JV_DB_URL
MAIN_CONF=$JV_CONF
jv_db other
OTHER_URL=$JV_DB_URL
JV_DB_URL=$MAIN_URL
JV_CONF=$MAIN_CONF
JOBVISOR_CONFIG=$JV_CONF
export JV_DB_URL JOBVISOR_CONFIG
jv_plugin sql

other_psql()
{
	psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$OTHER_URL" -c "$1"
}

# The same queries for the process and the thread instance.
queries()
{
	cat <<EOF
    queries:
      add_thing: "INSERT INTO public.things (id, name, data) VALUES (\$1, \$2, \$3)"
      list_things: >-
        SELECT id, name, data, id % 2 = 0 AS even, NULL::text AS nothing,
        id * 1.5::float8 AS f, 12345678901234567890.5::numeric AS big
        FROM public.things WHERE id >= \$1 AND id < \$1 + 10 ORDER BY id
      rename: "UPDATE public.things SET name = \$2 WHERE id >= \$1 AND id < \$1 + 10"
EOF
}
jv_write_config "$JV_CONF" "$(cat <<EOF
  sql:
    plugin: sql
$(queries)
  sql_thread:
    plugin: sql
    isolation: thread
$(queries)
  sql_other:
    plugin: sql
    database_url: "$OTHER_URL"
    max_rows: 2
    queries:
      add_note: "INSERT INTO public.notes (n) VALUES (\$1)"
      notes: "SELECT n FROM public.notes ORDER BY n"
      vacuum_notes: "VACUUM public.notes"
EOF
)"
jv_conf_set "$JV_CONF" \
	processor.heartbeat_interval_ms 200 \
	processor.timeout_seconds 10 \
	processor.retry_base_ms 10 \
	processor.retry_max_ms 50 \
	processor.max_concurrent_jobs 4

run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"
jv_psql "CREATE TABLE public.things (id int PRIMARY KEY, name text, data jsonb)"
other_psql "CREATE TABLE public.notes (n int)"

run "$JOBVISOR" check-config -c "$JV_CONF"
assert_rc 0 "the config with three sql instances is accepted"

# Config errors, each named with its place.
bad_config()
{
	jv_write_config "$JV_TMP/bad.yaml" "  bad: $1"
	run "$JOBVISOR" check-config -c "$JV_TMP/bad.yaml"
	assert_rc 1 "refused: $1"
	assert_match "bad.yaml:[0-9]+:[0-9]+: .*$2" "$ERR" "the error says: $2"
}
bad_config '{ plugin: sql }' 'executors.bad: queries: required'
bad_config '{ plugin: sql, queries: [a, b] }' 'queries: must be a map of query name -> SQL text'
bad_config '{ plugin: sql, queries: {} }' 'queries: must name at least one query'
bad_config '{ plugin: sql, queries: { Bad-Name: "SELECT 1" } }' "query name 'Bad-Name' must be 1 to 56 of a-z, 0-9, '_'"
bad_config '{ plugin: sql, queries: { a: 1 } }' "query 'a' must be a non-empty string of SQL"
bad_config '{ plugin: sql, queries: { a: "SELECT 1" }, max_rows: -1 }' 'max_rows: must be between 0 and 1000000'
bad_config '{ plugin: sql, queries: { a: "SELECT 1" }, max_result_bytes: 10 }' 'max_result_bytes: must be between 1024'
bad_config '{ plugin: sql, queries: { a: "SELECT 1" }, statement_timeout_ms: soon }' 'statement_timeout_ms'
bad_config '{ plugin: sql, queries: { a: "SELECT 1" }, database_url: "" }' 'database_url: must not be empty'
bad_config '{ plugin: sql, queries: { a: "SELECT 1" }, sql: "SELECT 2" }' "unknown key 'sql' in executors.bad"

jv_bg "$JOBVISOR" serve -c "$JV_CONF"
SERVE=$BG_PID
SERVE_ERR=$JV_TMP/bg.$BG_N.err
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.processors WHERE pid = $SERVE AND state = 'running'\")\" = 1 ]" 10 \
	"processor registered as running"

# enqueue TYPE PAYLOAD [EXTRA_ARGS]: prints the job id
enqueue()
{
	jv_psql "SELECT jobvisor.enqueue('$1', '$2'${3:-})"
}
# wait_end ID STATUS: the job reached STATUS (succeeded or failed)
wait_end()
{
	wait_for "[ \"\$(jv_psql \"SELECT status FROM jobvisor.jobs WHERE id = $1\")\" = $2 ]" 20 \
		"job $1 ${3:-} $2"
}
job()
{
	jv_psql "SELECT $2 FROM jobvisor.jobs WHERE id = $1"
}

for TYPE in sql sql_thread; do
	# ids B+1..B+3; f = id * 1.5
	if [ $TYPE = sql ]; then
		B=0 F1=1.5 F2=3 F3=4.5
	else
		B=10 F1=16.5 F2=18 F3=19.5
	fi
	# Inserts with parameters of every kind.
	A1=$(enqueue $TYPE "{\"query\": \"add_thing\", \"params\": [$((B + 1)), \"one\", {\"k\": [1, 2]}]}")
	A2=$(enqueue $TYPE "{\"query\": \"add_thing\", \"params\": [\"$((B + 2))\", \"two\", null]}")
	A3=$(enqueue $TYPE "{\"query\": \"add_thing\", \"params\": [$((B + 3)), null, true]}")
	for j in $A1 $A2 $A3; do
		wait_end $j succeeded "($TYPE insert)"
	done
	assert_eq '{"k": [1, 2]}|one' "$(jv_psql "SELECT data, name FROM public.things WHERE id = $((B + 1))")" \
		"$TYPE: the row is there, an object parameter as its JSON"
	assert_eq "t|t" "$(jv_psql "SELECT name IS NULL, data = 'true' FROM public.things WHERE id = $((B + 3))")" \
		"$TYPE: null is SQL NULL, true is true"
	assert_eq t "$(job $A1 "result = '{\"command\": \"INSERT 0 1\", \"rows_affected\": 1, \"columns\": [], \"rows\": [], \"row_count\": 0, \"truncated\": false}'")" \
		"$TYPE: insert result: command, rows_affected 1"
	assert_match "^query 'add_thing': INSERT 0 1 \([0-9]+ ms\)" \
		"$(jv_psql "SELECT output FROM jobvisor.job_executions WHERE job_id = $A1")" \
		"$TYPE: one summary line of output"

	# A select with typed values.
	S=$(enqueue $TYPE "{\"query\": \"list_things\", \"params\": [$B]}")
	wait_end $S succeeded "($TYPE select)"
	assert_eq t "$(jv_psql "SELECT result = '{\"command\": \"SELECT 3\", \"rows_affected\": 3,
		\"columns\": [\"id\", \"name\", \"data\", \"even\", \"nothing\", \"f\", \"big\"],
		\"rows\": [
		  {\"id\": $((B + 1)), \"name\": \"one\", \"data\": {\"k\": [1, 2]}, \"even\": false, \"nothing\": null, \"f\": $F1, \"big\": \"12345678901234567890.5\"},
		  {\"id\": $((B + 2)), \"name\": \"two\", \"data\": null, \"even\": true, \"nothing\": null, \"f\": $F2, \"big\": \"12345678901234567890.5\"},
		  {\"id\": $((B + 3)), \"name\": null, \"data\": true, \"even\": false, \"nothing\": null, \"f\": $F3, \"big\": \"12345678901234567890.5\"}],
		\"row_count\": 3, \"truncated\": false}' FROM jobvisor.jobs WHERE id = $S")" \
		"$TYPE: rows typed: int, text, jsonb, bool, null, float; a huge numeric stays a string"

	# An update: rows_affected counts.
	U=$(enqueue $TYPE "{\"query\": \"rename\", \"params\": [$B, \"x\"]}")
	wait_end $U succeeded "($TYPE update)"
	assert_eq "UPDATE 3|3" "$(job $U "result->>'command', result->>'rows_affected'")" \
		"$TYPE: update: rows_affected 3"

	# Permanent failures: a unique violation, an unknown query, a wrong
	# parameter count.
	D=$(enqueue $TYPE "{\"query\": \"add_thing\", \"params\": [$((B + 1)), \"dup\", null]}" ", max_attempts => 3")
	N=$(enqueue $TYPE '{"query": "drop_everything"}' ", max_attempts => 3")
	W=$(enqueue $TYPE '{"query": "add_thing", "params": [99]}' ", max_attempts => 3")
	for j in $D $N $W; do
		wait_end $j failed "($TYPE permanent)"
		assert_eq 1 "$(job $j attempts)" "$TYPE: job $j not retried"
	done
	assert_eq "sql: query 'add_thing' failed: duplicate key value violates unique constraint \"things_pkey\" (SQLSTATE 23505)" \
		"$(job $D last_error)" "$TYPE: unique violation: permanent, with its SQLSTATE"
	assert_eq "sql: unknown query 'drop_everything' (known: add_thing, list_things, rename)" \
		"$(job $N last_error)" "$TYPE: unknown query refused, the known ones listed"
	assert_eq "sql: query 'add_thing' takes 3 parameters, got 1" "$(job $W last_error)" \
		"$TYPE: wrong parameter count refused"
	assert_eq 0 "$(jv_psql "SELECT count(*) FROM public.things WHERE id = 99 OR name = 'dup'")" \
		"$TYPE: nothing written by the failed jobs"
done

# The other database, with max_rows 2.
for n in 1 2 3; do
	O=$(enqueue sql_other "{\"query\": \"add_note\", \"params\": [$n]}")
	wait_end $O succeeded "(other database insert)"
done
assert_eq 3 "$(other_psql "SELECT count(*) FROM public.notes")" "the notes are in the other database"
assert_eq "" "$(jv_psql "SELECT to_regclass('public.notes')")" "and not in jobvisor's"
O=$(enqueue sql_other '{"query": "notes"}')
wait_end $O succeeded "(other database select)"
assert_eq '[{"n": 1}, {"n": 2}]|3|true|SELECT 3' \
	"$(job $O "result->'rows', result->'row_count', result->'truncated', result->>'command'")" \
	"max_rows 2: two rows kept of 3, truncated"
# Each query runs in a transaction of its own (with its SET LOCAL time
# limit): one that refuses a transaction block fails for good, saying so.
O=$(enqueue sql_other '{"query": "vacuum_notes"}' ", max_attempts => 3")
wait_end $O failed "(VACUUM)"
assert_eq 1 "$(job $O attempts)" "VACUUM: not retried"
assert_match "^sql: query 'vacuum_notes' failed: VACUUM cannot .* \(SQLSTATE 25001\)$" "$(job $O last_error)" \
	"VACUUM: refused inside the query's transaction, with its SQLSTATE"

# Bad payloads: each fails for good, with a clear error. (A payload that
# is not a JSON object cannot reach an executor: jobvisor.jobs refuses it.)
P1=$(enqueue sql '{}')
P2=$(enqueue sql '{"query": 42}')
P3=$(enqueue sql '{"query": "list_things", "params": "0"}')
P4=$(enqueue sql '{"query": "list_things", "params": [0], "sql": "DROP TABLE public.things"}')
P5=$(enqueue sql '{"query": "list_things", "params": ["zero"]}')
for j in $P1 $P2 $P3 $P4 $P5; do
	wait_end $j failed "(bad payload)"
	assert_eq 1 "$(job $j attempts)" "bad payload $j not retried"
done
assert_match "^sql: payload.query is required" "$(job $P1 last_error)" "missing query"
assert_match "^sql: payload.query must be a string" "$(job $P2 last_error)" "query not a string"
assert_eq "sql: payload.params must be an array" "$(job $P3 last_error)" "params not an array"
assert_eq "sql: unknown payload key 'sql' (known: query, params)" "$(job $P4 last_error)" "unknown key"
assert_match "^sql: query 'list_things' failed: invalid input syntax for type integer: \"zero\" \(SQLSTATE 22P02\)$" \
	"$(job $P5 last_error)" "a parameter the server refuses: permanent, with its SQLSTATE"
G=$(enqueue sql '{"query": "list_things", "params": [0]}')
wait_end $G succeeded "(after the bad payloads)"

# A lock wait beyond the job's timeout: cancelled at the deadline on the
# server, retried, then failed; the row never written.
PGAPPNAME=jv_locker jv_bg psql -X -q -d "$JV_DB_URL" \
	-c "BEGIN; LOCK TABLE public.things IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60)"
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM pg_locks WHERE database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND relation = 'public.things'::regclass AND mode = 'AccessExclusiveLock' AND granted\")\" = 1 ]" 10 \
	"a session holds the lock"
L=$(enqueue sql '{"query": "add_thing", "params": [100, "late", null]}' ", max_attempts => 2, timeout_seconds => 1")
LT=$(enqueue sql_thread '{"query": "add_thing", "params": [110, "late", null]}' ", max_attempts => 2, timeout_seconds => 1")
for j in $L $LT; do
	wait_end $j failed "(lock wait)"
	assert_eq 2 "$(job $j attempts)" "lock wait: job $j retried once, then failed"
	# (In a worker process the supervisor's stop signal may come a few ms
	# before the worker's own clock reaches the deadline: the executor then
	# says "cancelled", and the attempt is still recorded as timed out.)
	assert_match "^timed out.*sql: query 'add_thing' cancelled (at the deadline )?after [0-9]+ ms" \
		"$(job $j last_error)" "lock wait: the error says it timed out and the query was cancelled"
	assert_eq 2 "$(jv_psql "SELECT count(*) FROM jobvisor.job_executions WHERE job_id = $j AND outcome = 'timed_out' AND error LIKE '%query ''add_thing'' cancelled %' AND duration_ms < 5000")" \
		"lock wait: both executions of job $j stopped at the deadline"
	jv_psql "SELECT attempt, outcome, duration_ms, error FROM jobvisor.job_executions WHERE job_id = $j ORDER BY attempt" |
		sed 's/^/# /'
done
assert_eq 0 "$(jv_psql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'jobvisor-sql' AND datname = current_database() AND wait_event_type = 'Lock'")" \
	"lock wait: no query left waiting on the server"
jv_psql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'jv_locker' AND datname = current_database()" >/dev/null
assert_eq 0 "$(jv_psql "SELECT count(*) FROM public.things WHERE id IN (100, 110)")" "lock wait: nothing written"
G=$(enqueue sql '{"query": "add_thing", "params": [100, "in time", null]}')
wait_end $G succeeded "(after the lock is gone)"

# Connections closed by the server meanwhile are noticed before use: the
# next job opens a new one and succeeds at its first attempt.
jv_psql "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name = 'jobvisor-sql' AND datname = current_database()" >/dev/null
assert_eq 0 "$(jv_psql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'jobvisor-sql' AND datname = current_database()")" \
	"the sql executors' connections were terminated"
for TYPE in sql sql_thread; do
	J=$(enqueue $TYPE '{"query": "list_things", "params": [0]}')
	wait_end $J succeeded "($TYPE after its connection was terminated)"
	assert_eq 1 "$(job $J attempts)" "$TYPE: a fresh connection at the first attempt"
done

# The supervisor went on all along, and never logged a database URL.
assert_eq 1 "$(jv_psql "SELECT count(*) FROM jobvisor.processors WHERE pid = $SERVE AND state = 'running'")" \
	"the supervisor is still running"
assert_no_match "$OTHER_URL" "$(cat "$SERVE_ERR")" "the database URL is not logged"
kill -TERM $SERVE
wait $SERVE
assert_eq 0 $? "serve exits 0 on SIGTERM"
jv_done
