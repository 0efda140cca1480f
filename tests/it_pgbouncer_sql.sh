#!/bin/sh
# it_pgbouncer_sql.sh -- the sql executor through a transaction pooler
# leaves nothing on its server connections: PgBouncer in
# pool_mode=transaction with five server connections taken in turn
# (server_round_robin), 200 jobs of a process and a thread instance:
# every job succeeds (named prepared statements met "already exists"
# (42P05) and "does not exist" (26000) on other server connections), the
# statement's own limit is in force while it runs (SET LOCAL), and no server
# connection keeps a statement_timeout afterwards (a session SET leaked it
# to every other client of the pool).
. "${top_srcdir:-.}/tests/lib.sh"

jv_db
jv_plugin sql
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate (straight to PostgreSQL)"
jv_psql "CREATE TABLE public.things (n int PRIMARY KEY, who text)"
jv_pgbouncer_start transaction
POOL=${JV_BOUNCER_POOL_SIZE:-5}

# serve and its sql executor go through PgBouncer, with database.pooler
# left at none: the executor keeps no session state whatever it says. The
# checks go straight to PostgreSQL.
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
EOF
)"
JV_DB_URL=$DIRECT_URL
jv_conf_set "$JV_CONF" \
	processor.max_concurrent_jobs 6 \
	processor.batch_size 6 \
	processor.poll_interval_ms 50 \
	processor.heartbeat_interval_ms 500 \
	processor.retry_base_ms 10 \
	processor.retry_max_ms 50

jv_bg "$JOBVISOR" serve -c "$JV_CONF"
SERVE=$BG_PID
SERVE_ERR=$JV_TMP/bg.$BG_N.err
jv_psql "INSERT INTO jobvisor.jobs (type, payload)
	SELECT CASE WHEN g % 2 = 0 THEN 'sql' ELSE 'sql_thread' END,
	       jsonb_build_object('query', 'add', 'params', jsonb_build_array(g, 'job ' || g))
	FROM generate_series(1, 180) g" >/dev/null
jv_psql "INSERT INTO jobvisor.jobs (type, payload)
	SELECT 'sql', jsonb_build_object('query', 'limit_now', 'params', jsonb_build_array(g))
	FROM generate_series(1, 20) g" >/dev/null
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE status IN ('succeeded', 'failed')\")\" = 200 ]" 60 \
	"the 200 sql jobs finished"
jv_kill_pid "$SERVE"

# Each server connection of the pool, in turn (round robin), as a client
# that set nothing sees it: pid and statement_timeout.
: >"$JV_TMP/seen"
n=0
while [ $n -lt $((POOL * 3)) ]; do
	psql -X -q -A -t -d "$JV_BOUNCER_URL" \
		-c "SELECT pg_backend_pid() || ' ' || current_setting('statement_timeout')" >>"$JV_TMP/seen" ||
		fail "a query through PgBouncer failed"
	n=$((n + 1))
done
echo "server connections seen (pid statement_timeout):"
sort -u "$JV_TMP/seen"
SERVERS=$(jv_pgbouncer_servers)
assert_eq "$SERVERS" "$(cut -d' ' -f1 "$JV_TMP/seen" | sort -u | wc -l | tr -d ' ')" \
	"the check reached every server connection of the pool ($SERVERS)"
assert_eq "0" "$(cut -d' ' -f2 "$JV_TMP/seen" | sort -u | tr '\n' ' ' | sed 's/ $//')" \
	"no server connection kept a statement_timeout from the sql jobs"

# What the jobs and their attempts say.
assert_eq "" "$(jv_psql "SELECT DISTINCT left(last_error, 200) FROM jobvisor.jobs WHERE status <> 'succeeded'")" \
	"no sql job failed"
assert_eq 200 "$(jv_psql "SELECT count(*) FROM jobvisor.jobs WHERE status = 'succeeded'")" "all 200 succeeded"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.job_executions WHERE error ~ '42P05|26000|prepared statement'")" \
	"no attempt met a prepared statement of another client (42P05, 26000)"
assert_eq 180 "$(jv_psql "SELECT count(*) FROM public.things")" "every insert is there once"
assert_eq "1500ms" "$(jv_psql "SELECT DISTINCT result->'rows'->0->>'st' FROM jobvisor.jobs
	WHERE payload->>'query' = 'limit_now'")" \
	"while the statement ran, its statement_timeout was in force (statement_timeout_ms)"
assert_no_match '42P05|26000|prepared statement' "$(cat "$SERVE_ERR")" "the log names no prepared statement error"

jv_done
