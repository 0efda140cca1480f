#!/bin/sh
# it_pgbouncer.sh -- jobvisor behind PgBouncer in pool_mode=transaction with
# database.pooler: transaction and no listen_url (wake-up by polling): two
# processors share 2 000 jobs (1 800 noop of 20-60 ms, 200 of the sql
# executor, process and thread instances) of 10 users with per_user_limit
# 2, through a pool of five server connections that ~30 clients share
# (serve, its workers' sql connections, API, scheduler, alerter), while
# `jobvisor migrate` runs 10 times. Checked from the database: every job
# succeeded exactly once (job_executions), no user ever had more than 2
# running, no attempt met another client's prepared statement (42P05,
# 26000); every migrate run ended within a bound and no migration lock is
# left; the API answers through the pool; and afterwards no server
# connection of the pool keeps anything of a jobvisor session: no
# statement_timeout (nor lock_timeout ...), prepared statement, cursor,
# temporary table, advisory lock or LISTEN.
. "${top_srcdir:-.}/tests/lib.sh"

jv_db
jv_plugin sql
jv_pgbouncer_start transaction
POOL=${JV_BOUNCER_POOL_SIZE:-5}
KEY=7669456951150079858 # JV_MIGRATE_LOCK_KEY

# jobvisor goes through PgBouncer; the checks go straight to PostgreSQL.
DIRECT_URL=$JV_DB_URL
JV_DB_URL=$JV_BOUNCER_URL
jv_write_config "$JV_CONF" "$(cat <<EOF
  sql:
    plugin: sql
    timeout_seconds: 30
    statement_timeout_ms: 1500
    queries:
      add: "INSERT INTO public.things (n, who) VALUES (\$1, \$2)"
      limit_now: "SELECT current_setting('statement_timeout') AS st, \$1::int AS n"
  sql_thread:
    plugin: sql
    isolation: thread
    timeout_seconds: 30
    queries:
      add: "INSERT INTO public.things (n, who) VALUES (\$1, \$2)"
api:
  listen: "127.0.0.1:0"
schedules:
  - { name: nightly, cron: "0 3 * * *", type: noop }
alerting:
  check_interval_seconds: 1
EOF
)"
JV_DB_URL=$DIRECT_URL
jv_conf_set "$JV_CONF" \
	database.pooler transaction \
	processor.max_concurrent_jobs 8 \
	processor.batch_size 8 \
	processor.per_user_limit 2 \
	processor.poll_interval_ms 50 \
	processor.heartbeat_interval_ms 500 \
	processor.retry_base_ms 10 \
	processor.retry_max_ms 50

run "$JOBVISOR" check-config -c "$JV_CONF"
assert_rc 0 "the config (pooler: transaction) is valid"
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate through the pooler"
jv_psql "CREATE TABLE public.things (n int PRIMARY KEY, who text)"

S1=
S2=
for i in 1 2; do
	jv_bg "$JOBVISOR" serve -c "$JV_CONF"
	eval "S$i=\$BG_PID"
	eval "E$i=\$JV_TMP/bg.\$BG_N.err"
done
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.processors WHERE state = 'running'\")\" = 2 ]" 20 \
	"2 processors running"

T0=$(date +%s%N)
jv_psql "INSERT INTO jobvisor.jobs (type, user_id, payload)
	SELECT 'noop', 'u' || (g % 10), jsonb_build_object('sleep_ms', 20 + (g * 7) % 41)
	FROM generate_series(1, 1800) g" >/dev/null
jv_psql "INSERT INTO jobvisor.jobs (type, user_id, payload)
	SELECT CASE WHEN g % 2 = 0 THEN 'sql' ELSE 'sql_thread' END, 'u' || (g % 10),
	       jsonb_build_object('query', 'add', 'params', jsonb_build_array(g, 'job ' || g))
	FROM generate_series(1, 180) g" >/dev/null
jv_psql "INSERT INTO jobvisor.jobs (type, user_id, payload)
	SELECT 'sql', 'u' || (g % 10), jsonb_build_object('query', 'limit_now', 'params', jsonb_build_array(g))
	FROM generate_series(1, 20) g" >/dev/null

# migrate, 10 times while serve works: each run ends within 30 s.
n=1
while [ $n -le 10 ]; do
	jv_bg "$JOBVISOR" migrate -c "$JV_CONF"
	_i=0
	while kill -0 "$BG_PID" 2>/dev/null; do
		_i=$((_i + 1))
		[ "$_i" -lt 300 ] ||
			fail "migrate run $n did not end within 30 s: $(cat "$JV_TMP/bg.$BG_N.err")"
		sleep 0.1
	done
	wait "$BG_PID" || fail "migrate run $n failed: $(cat "$JV_TMP/bg.$BG_N.err")"
	grep -q '^schema is up to date' "$JV_TMP/bg.$BG_N.out" || fail "migrate run $n: $(cat "$JV_TMP/bg.$BG_N.out")"
	n=$((n + 1))
done
echo "jobs finished when the 10 migrate runs were over: $(jv_psql "SELECT count(*) FROM jobvisor.jobs WHERE status = 'succeeded'") of 2000"
ok "10 migrate runs while serve works, each ended within 30 s"

wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE status IN ('succeeded', 'failed')\")\" = 2000 ]" 120 \
	"all 2000 jobs finished"
T1=$(date +%s%N)
echo "measured: 2000 jobs in $(( (T1 - T0) / 1000000 )) ms through PgBouncer (transaction, pool $POOL, polling every 50 ms)"

assert_eq "" "$(jv_psql "SELECT DISTINCT left(last_error, 200) FROM jobvisor.jobs WHERE status <> 'succeeded'")" \
	"no job failed"
assert_eq 2000 "$(jv_psql "SELECT count(*) FROM jobvisor.job_executions WHERE outcome = 'succeeded'")" \
	"2000 succeeded executions"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.job_executions WHERE outcome <> 'succeeded'")" \
	"no other outcome"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM (SELECT job_id FROM jobvisor.job_executions GROUP BY job_id HAVING count(*) <> 1) d")" \
	"every job executed exactly once"
assert_eq 2 "$(jv_psql "SELECT count(DISTINCT processor) FROM jobvisor.job_executions")" \
	"both processors took part"
MAXU=$(jv_psql "SELECT coalesce(max(c), 0) FROM (
	SELECT (SELECT count(*) FROM jobvisor.job_executions b
	        WHERE b.user_id = a.user_id AND b.started_at <= a.started_at
	          AND b.finished_at > a.started_at) AS c
	FROM jobvisor.job_executions a) s")
[ "$MAXU" -le 2 ] || fail "a user had $MAXU jobs running at once (limit 2)"
ok "no user ever had more than 2 running (max seen: $MAXU)"
assert_eq 180 "$(jv_psql "SELECT count(*) FROM public.things")" "every sql insert is there once"
assert_eq "1500ms" "$(jv_psql "SELECT DISTINCT result->'rows'->0->>'st' FROM jobvisor.jobs
	WHERE payload->>'query' = 'limit_now'")" "the sql statements ran with their own statement_timeout"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.job_executions WHERE error ~ '42P05|26000|prepared statement'")" \
	"no attempt met a prepared statement of another client (42P05, 26000)"
assert_no_match '42P05|26000|prepared statement' "$(cat "$E1" "$E2")" "the logs name no prepared statement error"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
	AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND classid::bigint = ($KEY >> 32) AND objid::bigint = ($KEY & 4294967295)")" \
	"no migration lock is left on any server connection"

# The pool is really shared: more clients than server connections.
CLIENTS=$(psql -X -q -A -t -d "$JV_BOUNCER_ADMIN_URL" -c "SHOW CLIENTS" | grep -c "|$JV_DB_NAME|")
SERVERS=$(jv_pgbouncer_servers)
echo "while serving: $CLIENTS clients of PgBouncer, $SERVERS server connections"
[ "$SERVERS" -le "$POOL" ] || fail "PgBouncer opened $SERVERS server connections, over its pool of $POOL"
[ "$CLIENTS" -gt "$SERVERS" ] || fail "only $CLIENTS clients for $SERVERS server connections: nothing is shared"
ok "$CLIENTS clients share $SERVERS server connections"

for e in "$E1" "$E2"; do
	jv_api_port "$e"
	call GET /api/cron/health
	assert_eq 200 "$CODE" "the API of $PORT answers health through the pool"
done

jv_kill_pid "$S1"
jv_kill_pid "$S2"

# Each server connection of the pool in turn (round robin), as a client
# that set nothing sees it: its pid, then what a jobvisor session could
# have left on it: statement_timeout, LISTENs, prepared statements, open
# cursors (WITH HOLD), temporary tables, advisory locks, lock_timeout and
# idle_in_transaction_session_timeout.
: >"$JV_TMP/seen"
n=0
while [ $n -lt $((POOL * 3)) ]; do
	psql -X -q -A -t -d "$JV_BOUNCER_URL" -c "SELECT pg_backend_pid() || ' ' ||
		current_setting('statement_timeout') || ' ' ||
		(SELECT count(*) FROM pg_listening_channels()) || ' ' ||
		(SELECT count(*) FROM pg_prepared_statements) || ' ' ||
		(SELECT count(*) FROM pg_cursors) || ' ' ||
		(pg_my_temp_schema() <> 0)::int || ' ' ||
		(SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory') || ' ' ||
		current_setting('lock_timeout') || ' ' ||
		current_setting('idle_in_transaction_session_timeout')" \
		>>"$JV_TMP/seen" || fail "a query through PgBouncer failed"
	n=$((n + 1))
done
echo "server connections seen (pid statement_timeout listens prepared cursors temp advisory lock_timeout idle_in_transaction_session_timeout):"
sort -u "$JV_TMP/seen"
# column N of what was seen, its distinct values on one line
seen() { cut -d' ' -f"$1" "$JV_TMP/seen" | sort -u | tr '\n' ' ' | sed 's/ $//'; }
SERVERS=$(jv_pgbouncer_servers)
assert_eq "$SERVERS" "$(cut -d' ' -f1 "$JV_TMP/seen" | sort -u | wc -l | tr -d ' ')" \
	"the check reached every server connection of the pool ($SERVERS)"
assert_eq "0 0 0" "$(seen 2) $(seen 8) $(seen 9)" \
	"no server connection kept a statement_timeout, lock_timeout or idle_in_transaction_session_timeout"
assert_eq "0 0 0 0" "$(seen 4) $(seen 5) $(seen 6) $(seen 7)" \
	"none kept a prepared statement, a cursor, a temporary table or an advisory lock"
# (serve's part: with pooler: transaction and no listen_url it polls and
# never LISTENs on url)
assert_eq "0" "$(seen 3)" "no server connection was left LISTENing"

jv_done
