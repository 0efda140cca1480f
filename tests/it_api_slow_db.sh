#!/bin/sh
# it_api_slow_db.sh -- the API while the database struggles, and safe
# rescue horizons. Two `jobvisor serve` on one database:
#  A: api.lock_timeout_ms 10000 (< api.statement_timeout_ms), 4 HTTP threads
#     and 4 database connections (the defaults), heartbeat 10 s;
#  B: api.statement_timeout_ms 1500 (< its lock timeout), heartbeat 90 s.
#  - reset-stuck-jobs refuses a horizon under the shortest safe one (2
#    heartbeats + 2 s kill grace + 5 s slack, in whole minutes: 1 on A, 4 on
#    B) with 400 naming it, and takes one at it; status says the configured
#    stuck_job_timeout_minutes (what the dashboard sends) and that minimum;
#  - while psql holds jobvisor.jobs locked and six GET /api/jobs wait for
#    it (more than A has database connections), health and /metrics answer
#    at once (from the engine's snapshot; /metrics without the database's
#    gauges), and every slow request gets 503 naming api.lock_timeout_ms
#    (or, queued too long behind them, saying the connections are busy);
#    on B the wait is cut by api.statement_timeout_ms, and said so;
#  - after pg_terminate_backend of the API's connections, the next requests
#    succeed (a broken connection is dropped and another opened).
. "${top_srcdir:-.}/tests/lib.sh"

command -v curl >/dev/null 2>&1 || skip_all "curl not found"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

TOKEN="tok-$$-slowdb"
AUTH="Authorization: Bearer $TOKEN"
jv_db
jv_write_config "$JV_CONF" "$(cat <<YAML
api:
  listen: "127.0.0.1:0"
  token: "$TOKEN"
  statement_timeout_ms: 30000
  lock_timeout_ms: 10000
YAML
)"
# (health wants a heartbeat within 3 intervals, 30 s: longer than the lock)
jv_conf_set "$JV_CONF" processor.heartbeat_interval_ms 10000
BCONF=$JV_TMP/b.yaml
jv_write_config "$BCONF" "$(cat <<YAML
api:
  listen: "127.0.0.1:0"
  token: "$TOKEN"
  statement_timeout_ms: 1500
  lock_timeout_ms: 60000
YAML
)"
jv_conf_set "$BCONF" \
	processor.heartbeat_interval_ms 90000 \
	processor.name it_api_slow_db_b
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

# A config whose horizon is too short for its heartbeat is refused.
sed 's/stuck_job_timeout_minutes: 5/stuck_job_timeout_minutes: 3/' "$BCONF" >"$JV_TMP/short.yaml"
chmod 0600 "$JV_TMP/short.yaml"
run "$JOBVISOR" check-config -c "$JV_TMP/short.yaml"
assert_rc 1 "check-config refuses stuck_job_timeout_minutes 3 with a 90 s heartbeat"
assert_match "short.yaml:[0-9]+:[0-9]+: processor.stuck_job_timeout_minutes \\(3 min\\) must be at least two heartbeat intervals \\(2 x 90000 ms\\) plus 7000 ms .*\\(3.11667 min here\\)" \
	"$ERR" "naming the place and the minimum"

jv_bg "$JOBVISOR" serve -c "$JV_CONF"
AERR=$JV_TMP/bg.$BG_N.err
jv_api_port "$AERR"
A=$B
jv_bg "$JOBVISOR" serve -c "$BCONF"
BERR=$JV_TMP/bg.$BG_N.err
jv_api_port "$BERR"
BB=$B
B=$A

# ---------------------------------------------------------------- rescue
B=$BB
call GET /api/cron/status -H "$AUTH"
assert_eq 200 "$CODE" "B: status"
assert_match '"heartbeatIntervalMs":90000' "$BODY" "B: status says the heartbeat interval"
assert_match '"stuckJobTimeoutMinutes":5' "$BODY" "B: and the configured horizon the dashboard sends"
assert_match '"minStuckJobTimeoutMinutes":3.12' "$BODY" "B: and the shortest safe one (187 s, to a hundredth of a minute above)"
call POST /api/cron/reset-stuck-jobs -H "$AUTH" -d '{"timeoutMinutes": 3}'
assert_eq 400 "$CODE" "B: reset-stuck-jobs with 3 min under a 90 s heartbeat: 400"
assert_match '"error":"timeoutMinutes must be at least 3.12: ' "$BODY" "naming the minimum"
assert_match '2 x processor.heartbeat_interval_ms 90000 \+ 7000 ms margin' \
	"$BODY" "and how it is made"
call POST /api/cron/reset-stuck-jobs -H "$AUTH" -d '{"timeoutMinutes": 3.12}'
assert_eq 200 "$CODE" "B: 3.12 min, the minimum: accepted"
assert_match '"timeoutMinutes":3.12[,}]' "$BODY" "and used (a real printed as short as it reads back)"
call POST /api/cron/reset-stuck-jobs -H "$AUTH"
assert_eq 200 "$CODE" "B: no timeoutMinutes: the configured one"
assert_match '"timeoutMinutes":5' "$BODY" "5 min"
B=$A
call GET /api/cron/status -H "$AUTH"
assert_match '"stuckJobTimeoutMinutes":5,"minStuckJobTimeoutMinutes":0.45' "$BODY" \
	"A: 10 s heartbeats: 27 s, so 0.45 min is the minimum"
call POST /api/cron/reset-stuck-jobs -H "$AUTH" -d '{"timeoutMinutes": 1}'
assert_eq 200 "$CODE" "A: 1 min accepted"

# ---------------------------------------------------------------- a lock
api_waiting()
{
	jv_psql "SELECT count(*) FROM pg_stat_activity
		WHERE application_name = 'jobvisor-api' AND wait_event_type = 'Lock'
		AND datname = current_database()"
}
PGAPPNAME=jv-locker jv_bg psql -X -q -v ON_ERROR_STOP=1 -d "$JV_DB_URL" -c "BEGIN" \
	-c "LOCK TABLE jobvisor.jobs IN ACCESS EXCLUSIVE MODE" -c "SELECT pg_sleep(120)"
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
	WHERE a.application_name = 'jv-locker' AND a.datname = current_database() AND l.granted AND l.mode = 'AccessExclusiveLock'
	AND l.relation = 'jobvisor.jobs'::regclass\")\" = 1 ]" 10 "psql holds jobvisor.jobs locked"
SLOW_N=6
i=0
while [ $i -lt $SLOW_N ]; do
	i=$((i + 1))
	jv_bg curl -s --max-time 60 -o "$JV_TMP/slow.$i" -w '%{http_code} %{time_total}\n' \
		-H "$AUTH" "$A/api/jobs?limit=5"
	eval "SLOW_PID_$i=\$BG_PID SLOW_OUT_$i=\$JV_TMP/bg.\$BG_N.out"
done
# Each waits api.lock_timeout_ms, 10 s: long enough for the four waits to
# overlap however late a busy machine starts the six requests.
wait_for "[ \"\$(api_waiting)\" -ge 4 ]" 20 "four of A's database connections wait for the lock"

run curl -s --max-time 5 -o "$JV_TMP/health" -w '%{http_code} %{time_total}' "$A/api/cron/health"
assert_rc 0 "health answers while every database connection waits (curl --max-time 5)"
echo "# health during the lock: $OUT (status, seconds)"
assert_match '"status":"(healthy|unhealthy)"' "$(cat "$JV_TMP/health")" "with the health answer"
assert_match '"database":\{"reachable":true' "$(cat "$JV_TMP/health")" "the engine's connection is up"
run curl -s --max-time 5 -o "$JV_TMP/metrics" -w '%{http_code} %{time_total}' "$A/metrics"
assert_rc 0 "/metrics answers too (curl --max-time 5)"
echo "# /metrics during the lock: $OUT (status, seconds)"
assert_match '^200 ' "$OUT" "with 200"
assert_match '^jobvisor_up 1$' "$(cat "$JV_TMP/metrics")" "jobvisor_up 1"
assert_match '^jobvisor_database_up 0$' "$(cat "$JV_TMP/metrics")" "and the database's gauges left out"
run curl -s --max-time 5 -o /dev/null -w '%{http_code}' -X POST -H "$AUTH" "$A/api/cron/trigger"
assert_eq 202 "$OUT" "claim-now (no database) answers too"

# On B the lock wait is cut by the statement timeout.
B=$BB
call GET '/api/jobs?limit=5' -H "$AUTH" --max-time 30
assert_eq 503 "$CODE" "B: a GET waiting for the lock: 503"
assert_eq '{"error":"the database is busy: the query did not finish within api.statement_timeout_ms (1500 ms); try again"}' \
	"$BODY" "naming api.statement_timeout_ms"
assert_match 'Retry-After: 1' "$HDRS" "with Retry-After"
B=$A

# Every slow GET answered 503 with a clear error, well before the lock ends.
i=0
LOCKED=0
while [ $i -lt $SLOW_N ]; do
	i=$((i + 1))
	eval "pid=\$SLOW_PID_$i out=\$SLOW_OUT_$i"
	wait_for "! kill -0 $pid 2>/dev/null" 30 "slow GET $i ended"
	echo "# slow GET $i: $(cat "$out") (status, seconds)"
	assert_match '^503 ' "$(cat "$out")" "slow GET $i: 503"
	body=$(cat "$JV_TMP/slow.$i")
	case $body in
	'{"error":"the database is busy: a lock was not granted within api.lock_timeout_ms (10000 ms); try again"}')
		LOCKED=$((LOCKED + 1)) ;;
	'{"error":"busy: every database connection of the API (api.db_connections, 4) stayed taken for 5 s; try again"}') ;;
	*) fail "slow GET $i: unexpected answer $body" ;;
	esac
	ok "slow GET $i: a clear error"
done
[ "$LOCKED" -ge 4 ] || fail "only $LOCKED slow GETs named api.lock_timeout_ms"
ok "$LOCKED of $SLOW_N named api.lock_timeout_ms"
assert_eq 1 "$(jv_psql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'jv-locker' AND datname = current_database()")" \
	"the lock was held all along"
jv_psql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'jv-locker' AND datname = current_database()" >/dev/null
call GET '/api/jobs?limit=5' -H "$AUTH"
assert_eq 200 "$CODE" "the lock gone, GET /api/jobs: 200"

# ---------------------------------------------------------- terminated
# Every connection of both APIs ended by the server: the next requests
# succeed, each worker opening a new one.
call GET '/api/jobs?limit=5' -H "$AUTH"
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM pg_stat_activity WHERE application_name = 'jobvisor-api' AND datname = current_database()\")\" -ge 1 ]" \
	10 "the API holds database connections"
N=$(jv_psql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
	WHERE application_name = 'jobvisor-api' AND datname = current_database()")
echo "# terminated $N connections of the APIs"
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM pg_stat_activity WHERE application_name = 'jobvisor-api' AND datname = current_database()\")\" = 0 ]" \
	10 "they are gone"
i=0
while [ $i -lt 8 ]; do
	i=$((i + 1))
	call GET '/api/jobs?limit=5' -H "$AUTH"
	assert_eq 200 "$CODE" "after pg_terminate_backend, GET /api/jobs $i: 200"
done
call POST /api/jobs -H "$AUTH" -d '{"type": "noop"}'
assert_eq 201 "$CODE" "POST /api/jobs: 201"
call GET /api/cron/health
assert_eq 200 "$CODE" "health: 200"
assert_match '"latencyMs":[0-9.]+' "$BODY" "with the API's latest database round trip"
B=$BB
call GET /api/cron/status -H "$AUTH"
assert_eq 200 "$CODE" "B: status: 200"
assert_match 'api: a database connection failed \(.*\): opening another' "$(cat "$AERR")" \
	"A's log says a connection failed and another was opened"

jv_done
