#!/bin/sh
# f3_conn_limit.sh -- the database's connection limit exhausted. serve
# connects as a role with a CONNECTION LIMIT; other sessions of that role
# ("fillers", psql sleeping in pg_sleep) take every slot.
#   - at start: serve exits non-zero at once, naming the reason (it does
#     not wait for a slot; a service manager restarts it), and registers
#     no processor
#   - while running: its connections are cut (pg_terminate_backend) while
#     the fillers hold every slot: serve stays up, logs the loss and, once,
#     why it cannot reconnect; the API answers 503 with a JSON error, never
#     crashes; jobs enqueued meanwhile wait
#   - fillers gone: serve reconnects by itself and runs the waiting jobs;
#     the API, whose own connection still finds no slot, keeps answering
#     503 until the limit allows it one more, then 200
. "${top_srcdir:-.}/tests/lib.sh"
. "$top_srcdir/tests/faults/common.sh"

T0=$(fx_now_ms)
jv_db
jv_conf_set "$JV_CONF" \
	processor.max_concurrent_jobs 4 \
	processor.batch_size 4 \
	processor.heartbeat_interval_ms 200 \
	processor.poll_interval_ms 200
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

ROLE=jv_lim_$$
jv_psql_admin "CREATE ROLE $ROLE LOGIN CONNECTION LIMIT 2" >/dev/null || fail "create role"
jv_on_exit "jv_psql_admin 'DROP OWNED BY $ROLE CASCADE' >/dev/null 2>&1; jv_psql_admin 'DROP ROLE IF EXISTS $ROLE' >/dev/null 2>&1"
jv_psql "GRANT ALL ON SCHEMA jobvisor TO $ROLE; GRANT ALL ON ALL TABLES IN SCHEMA jobvisor TO $ROLE;
	GRANT ALL ON ALL SEQUENCES IN SCHEMA jobvisor TO $ROLE" >/dev/null
LIM_URL=$(printf '%s\n' "$JV_DB_URL" | sed "s#://[^@]*@#://$ROLE@#")
TOKEN=t0ken
LCONF=$JV_TMP/limited.yaml
sed "s#^  url: .*#  url: \"$LIM_URL\"#" "$JV_CONF" >"$LCONF"
cat >>"$LCONF" <<EOF
api:
  listen: "127.0.0.1:0"
  token: "$TOKEN"
  db_connections: 1
EOF
chmod 0600 "$LCONF"

fillers() { jv_psql_admin "SELECT count(*) FROM pg_stat_activity WHERE usename = '$ROLE' AND application_name = 'filler'"; }
FILLERS=
add_filler()
{
	PGAPPNAME=filler jv_bg psql -X -q -d "$LIM_URL" -c "SELECT pg_sleep(120)"
	FILLERS="$FILLERS $BG_PID"
}
# (ending psql leaves its backend in pg_sleep until it next writes: the
# sessions are ended on the server side)
drop_fillers()
{
	jv_psql_admin "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE usename = '$ROLE' AND application_name = 'filler'" >/dev/null
	for f in $FILLERS; do wait "$f" 2>/dev/null; done
	FILLERS=
}

# ------------------------------------------------------------ at start
add_filler
add_filler
wait_for "[ \"\$(fillers)\" = 2 ]" 10 "2 filler sessions hold the role's 2 slots"
t=$(fx_now_ms)
run timeout 30 "$JOBVISOR" serve -c "$LCONF"
START_MS=$(($(fx_now_ms) - t))
[ "$RC" != 0 ] && [ "$RC" != 124 ] || fail "serve without a free connection: exit $RC (expected a quick failure)"
ok "serve without a free connection exits $RC after $START_MS ms"
assert_match "too many connections for role \"$ROLE\"" "$ERR" "it names the reason"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.processors")" "no processor registered"
drop_fillers
wait_for "[ \"\$(fillers)\" = 0 ]" 10 "fillers gone"

# ------------------------------------------------------------ while running
jv_psql_admin "ALTER ROLE $ROLE CONNECTION LIMIT 4" >/dev/null
jv_bg "$JOBVISOR" serve -c "$LCONF"
S=$BG_PID
SERR=$JV_TMP/bg.$BG_N.err
fx_registered $S
wait_for "grep -q 'api: listening on 127.0.0.1:[0-9]*' '$SERR'" 10 "the API listens"
PORT=$(sed -n 's/.*api: listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$SERR" | head -n 1)
api() { curl -s -o "$JV_TMP/api.body" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT$1"; }
jv_psql "INSERT INTO jobvisor.jobs (type, payload) SELECT 'noop', '{\"sleep_ms\": 20}' FROM generate_series(1, 40)" >/dev/null
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE status = 'succeeded'\")\" = 40 ]" 20 "40 jobs run"
assert_eq 200 "$(api '/api/jobs?limit=1')" "the API answers (serve holds 2 sessions, its scheduler 1, the API 1)"

# Every slot taken: two fillers join, the limit comes down to what they
# hold, then serve's and the API's sessions are cut.
jv_psql_admin "ALTER ROLE $ROLE CONNECTION LIMIT 6" >/dev/null
add_filler
add_filler
wait_for "[ \"\$(fillers)\" = 2 ]" 10 "2 fillers connected"
HELD=2
jv_psql_admin "ALTER ROLE $ROLE CONNECTION LIMIT $HELD" >/dev/null
T_CUT=$(fx_now_ms)
CUT=$(jv_psql_admin "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
	WHERE usename = '$ROLE' AND application_name LIKE 'jobvisor%'")
ok "role limit $HELD, held by $HELD filler(s); $CUT jobvisor sessions cut"
wait_for "grep -q 'database connection lost' '$SERR'" 10 "serve notices the loss"
wait_for "grep -q 'cannot reconnect to the database yet, retrying: .*too many connections for role' '$SERR'" 10 \
	"serve logs why it cannot reconnect"
jv_psql "INSERT INTO jobvisor.jobs (type, payload) SELECT 'noop', '{\"sleep_ms\": 20}' FROM generate_series(1, 20)" >/dev/null
N503=0
for p in '/api/jobs?limit=1' /api/cron/health /api/cron/status '/api/jobs?limit=1'; do
	code=$(api "$p")
	[ "$code" = 503 ] || fail "GET $p while no connection is free: HTTP $code ($(cat "$JV_TMP/api.body"))"
	assert_match '"error"|"problems"' "$(cat "$JV_TMP/api.body")" "GET $p: 503 with a JSON reason"
	N503=$((N503 + 1))
done
sleep 2
kill -0 $S || fail "serve died while the role's connections were exhausted"
assert_eq 20 "$(jv_psql "SELECT count(*) FROM jobvisor.jobs WHERE status = 'pending'")" \
	"jobs enqueued meanwhile wait"
REPEATS=$(grep -c 'cannot reconnect to the database yet' "$SERR")
[ "$REPEATS" -le 2 ] || fail "the reconnect failure was logged $REPEATS times (once per reason expected)"
ok "the reason is logged once, not at every retry ($REPEATS line(s))"

# Connections free up.
jv_psql_admin "ALTER ROLE $ROLE CONNECTION LIMIT 3" >/dev/null
T_FREE=$(fx_now_ms)
drop_fillers
wait_for "grep -q 'database connection back' '$SERR'" 15 "serve reconnects once the fillers are gone"
BACK_MS=$(($(fx_now_ms) - T_FREE))
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE status = 'succeeded'\")\" = 60 ]" 20 \
	"the jobs that waited run"
# (serve's scheduler reconnects on a back-off of its own, up to 30 s)
wait_for "[ \"\$(jv_psql_admin \"SELECT count(*) FROM pg_stat_activity WHERE usename = '$ROLE' AND application_name LIKE 'jobvisor%'\")\" = 3 ]" 35 \
	"serve's engine (2) and scheduler (1) hold the role's 3 slots again"
code=$(api '/api/jobs?limit=1')
assert_eq 503 "$code" "the API still finds no slot (the role's 3 are serve's): 503"
N503=$((N503 + 1))
jv_psql_admin "ALTER ROLE $ROLE CONNECTION LIMIT 4" >/dev/null
assert_eq 200 "$(api '/api/jobs?limit=1')" "one more slot: the API answers 200 again"
assert_eq 200 "$(api /api/cron/health)" "and reports healthy"
kill -TERM $S
wait $S
assert_eq 0 $? "serve exits 0"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.job_executions WHERE outcome <> 'succeeded'")" \
	"no attempt lost or failed"

fx_figure start_exit_ms "$START_MS"
fx_figure cut_sessions "$CUT"
fx_figure api_503s "$N503"
fx_figure reconnect_after_free_ms "$BACK_MS"
fx_figure without_db_ms "$((T_FREE - T_CUT))"
fx_figure reason_lines "$REPEATS"
fx_figure seconds "$(( ($(fx_now_ms) - T0) / 1000 ))"
jv_done
