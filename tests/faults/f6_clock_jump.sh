#!/bin/sh
# f6_clock_jump.sh -- the supervisor host's wall clock jumps (+1 h, then
# back -1 h) under a running `jobvisor serve`, through libfaketime
# (FAKETIME_TIMESTAMP_FILE re-read at every call; CLOCK_MONOTONIC left
# alone, as a real clock step leaves it). Processor A runs under the jumping
# clock, processor B (same database, other job types) under the real one.
#
# From the code: deadlines are CLOCK_MONOTONIC (core/plugin/host.c, core/engine/worker.c),
# heartbeats and rescue use the database's clock (jobvisor.heartbeat()
# sets heartbeat_at = now(); rescue_stuck() compares with
# clock_timestamp()). So the checks, after each jump:
#   - A's jobs running across the jump finish normally: none timed out
#     (a 3 s job under a 5 s limit), and a job that must time out (2 s
#     limit) does so after ~2 s, neither at once nor never
#   - neither processor is rescued or rescues the other; A's heartbeat
#     keeps advancing on the database's clock
#   - A's API answers healthy right after the jump, and its
#     heartbeatAgeSeconds and uptimeSeconds do not jump (they were measured
#     on the wall clock: a +1 h step made health answer 503 "no heartbeat
#     for 3600 s" until the next heartbeat, and uptime went negative after
#     a step back)
. "${top_srcdir:-.}/tests/lib.sh"
. "$top_srcdir/tests/faults/common.sh"

T0=$(fx_now_ms)
FT_LIB=
for f in /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 /usr/lib/*/faketime/libfaketimeMT.so.1 \
	/usr/lib/faketime/libfaketimeMT.so.1 /usr/local/lib/faketime/libfaketimeMT.so.1; do
	[ -f "$f" ] && FT_LIB=$f && break
done
[ -n "$FT_LIB" ] || fail "libfaketime not found (Debian package faketime, installed by contrib/deps.sh)"

jv_db
jv_write_config "$JV_CONF" "$(cat <<'YAML'
  jumpy: { plugin: noop, timeout_seconds: 5 }
YAML
)"
jv_conf_set "$JV_CONF" \
	processor.max_concurrent_jobs 6 \
	processor.batch_size 6 \
	processor.heartbeat_interval_ms 2000 \
	processor.poll_interval_ms 200 \
	processor.retry_base_ms 10 \
	processor.retry_max_ms 20 \
	processor.stuck_job_timeout_minutes 1
TOKEN=t0ken
printf 'api:\n  listen: "127.0.0.1:0"\n  token: "%s"\n' "$TOKEN" >>"$JV_CONF"
BCONF=$JV_TMP/b.yaml
jv_write_config "$BCONF"
jv_conf_set "$BCONF" \
	processor.heartbeat_interval_ms 200 \
	processor.poll_interval_ms 200 \
	processor.stuck_job_timeout_minutes 1
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

CLOCK=$JV_TMP/clock
echo "+0" >"$CLOCK"
# (an ASan build wants its runtime first among the libraries; libfaketime
# preloaded comes before it, which is harmless here)
jv_bg env LD_PRELOAD="$FT_LIB" FAKETIME_TIMESTAMP_FILE="$CLOCK" FAKETIME_NO_CACHE=1 \
	FAKETIME_DONT_FAKE_MONOTONIC=1 ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
	"$JOBVISOR" serve -c "$JV_CONF"
A=$BG_PID
AERR=$JV_TMP/bg.$BG_N.err
jv_bg "$JOBVISOR" serve -c "$BCONF"
B=$BG_PID
fx_registered $A
fx_registered $B
AID=$(fx_id_of_pid $A)
wait_for "grep -q 'api: listening on 127.0.0.1:[0-9]*' '$AERR'" 10 "A's API listens"
PORT=$(sed -n 's/.*api: listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$AERR" | head -n 1)
api() { curl -s -o "$JV_TMP/api.body" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT$1"; }

# jump OFFSET LABEL: start A's and B's long jobs and a job that must time
# out, jump A's clock once they run, then check.
ROUND=0
jump()
{
	ROUND=$((ROUND + 1))
	# (all nine in one transaction: on a loaded machine three psql calls
	# took 2.3 s, most of the time the first ones run)
	TO=$(psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$JV_DB_URL" <<EOF
BEGIN;
INSERT INTO jobvisor.jobs (type, payload, timeout_seconds, max_attempts)
	VALUES ('jumpy', jsonb_build_object('sleep_ms', 20000, 'data', $ROUND), 2, 1) RETURNING id;
INSERT INTO jobvisor.jobs (type, payload)
	SELECT 'jumpy', jsonb_build_object('sleep_ms', 3000, 'data', $ROUND) FROM generate_series(1, 4);
INSERT INTO jobvisor.jobs (type, payload)
	SELECT 'noop', jsonb_build_object('sleep_ms', 3000, 'data', $ROUND) FROM generate_series(1, 4);
COMMIT;
EOF
)
	case $TO in '' | *[!0-9]*) fail "round $ROUND: enqueueing the nine jobs: $TO" ;; esac
	# (started, not running at once: the 2 s job may end before a slow
	# poll here sees the other eight)
	wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE started_at IS NOT NULL AND payload->>'data' = '$ROUND'\")\" = 9 ]" 10 \
		"round $ROUND: 9 jobs started on A and B"
	HB0=$(jv_psql "SELECT heartbeat_at FROM jobvisor.processors WHERE id = $AID")
	echo "$1" >"$CLOCK"
	# At once, before A's next heartbeat (every 2 s): a heartbeat age
	# measured on the wall clock would read about 3600 s here, and health
	# would say 503 for up to an interval.
	code=$(api /api/cron/health)
	HB_AGE=$(sed -n 's/.*"heartbeatAgeSeconds": *\([-0-9.]*\).*/\1/p' "$JV_TMP/api.body")
	assert_eq 200 "$code" "round $ROUND: right after the jump A's health is 200 ($(cat "$JV_TMP/api.body"))"
	awk -v a="$HB_AGE" 'BEGIN {exit !(a >= 0 && a < 6)}' || fail "round $ROUND: heartbeatAgeSeconds $HB_AGE after the jump"
	ok "round $ROUND: heartbeatAgeSeconds $HB_AGE (not moved by the jump)"
	eval "HB_AGE_$ROUND=$HB_AGE"
	ok "round $ROUND: A's wall clock jumped $1 s (A now reads $(env LD_PRELOAD="$FT_LIB" FAKETIME_TIMESTAMP_FILE="$CLOCK" FAKETIME_NO_CACHE=1 date -u +%H:%M:%S), the database $(jv_psql "SELECT to_char(now() AT TIME ZONE 'UTC', 'HH24:MI:SS')"))"
	wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE status IN ('succeeded', 'failed') AND payload->>'data' = '$ROUND'\")\" = 9 ]" 15 \
		"round $ROUND: all 9 finished"
	assert_eq "8|0" "$(jv_psql "SELECT count(*) FILTER (WHERE outcome = 'succeeded'), count(*) FILTER (WHERE outcome NOT IN ('succeeded', 'timed_out'))
		FROM jobvisor.job_executions e JOIN jobvisor.jobs j ON j.id = e.job_id WHERE j.payload->>'data' = '$ROUND'")" \
		"round $ROUND: the 8 long jobs (3 s under a 5 s limit) succeeded, nothing rescued or crashed"
	set -- $(jv_psql "SELECT outcome, duration_ms FROM jobvisor.job_executions WHERE job_id = $TO" | tr '|' ' ')
	[ "${1:-}" = timed_out ] && [ "$2" -ge 1900 ] && [ "$2" -le 4500 ] ||
		fail "round $ROUND: the 2 s job ended ${1:-?} after ${2:-?} ms"
	ok "round $ROUND: the job with a 2 s limit timed out after $2 ms"
	eval "TIMEOUT_MS_$ROUND=$2"
	wait_for "[ \"\$(jv_psql \"SELECT heartbeat_at > '$HB0' FROM jobvisor.processors WHERE id = $AID\")\" = t ]" 5 \
		"round $ROUND: A's heartbeat advances on the database's clock"
	assert_eq "running running" "$(jv_psql "SELECT string_agg(state, ' ') FROM jobvisor.processors WHERE pid IN ($A, $B)")" \
		"round $ROUND: both processors still running"
	assert_eq 200 "$(api /api/cron/health)" "round $ROUND: A's health is 200"
	api /api/cron/status >/dev/null
	UP=$(sed -n 's/.*"uptimeSeconds": *\([-0-9]*\).*/\1/p' "$JV_TMP/api.body")
	[ -n "$UP" ] && [ "$UP" -ge 0 ] && [ "$UP" -le 120 ] || fail "round $ROUND: uptimeSeconds $UP after the jump"
	ok "round $ROUND: uptimeSeconds $UP (not moved by the jump)"
	eval "UPTIME_$ROUND=$UP"
}
jump +3600
jump -3600
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.job_executions WHERE outcome = 'rescued'")" \
	"no attempt was rescued over both jumps"
assert_no_match 'rescued [0-9]+ stuck' "$(cat "$AERR" "$JV_TMP/bg.$BG_N.err")" "neither processor logged a rescue"
kill -TERM $A $B
wait $A || fail "A did not exit 0"
wait $B || fail "B did not exit 0"
ok "both stop cleanly"

fx_figure jumps "+3600s,-3600s"
fx_figure timeout_2s_job_ms "$TIMEOUT_MS_1/$TIMEOUT_MS_2"
fx_figure timed_out_long_jobs 0
fx_figure rescued 0
fx_figure api_uptime_s_after_jumps "${UPTIME_1:-?}/${UPTIME_2:-?}"
fx_figure api_heartbeat_age_s "${HB_AGE_1:-?}/${HB_AGE_2:-?}"
fx_figure seconds "$(( ($(fx_now_ms) - T0) / 1000 ))"
jv_done
