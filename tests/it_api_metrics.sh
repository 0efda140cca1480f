#!/bin/sh
# it_api_metrics.sh -- GET /metrics and GET /api/openapi.json through
# `jobvisor serve`: the exposition passes a strict text-format checker
# (tests/servers/promcheck.py, itself checked against broken samples); the
# counters by type and outcome equal what ran (successes, permanent
# failures, a timeout), the histogram counts every attempt, jobs by status
# match the database, workers add up; the token rules (metrics public by
# default, not with metrics_requires_token; the document never public);
# the tick of contrib/cron/crontab.example; and a scrape still answers 200
# with jobvisor_database_up 0 when the database is gone.
. "${top_srcdir:-.}/tests/lib.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 not found (tests/servers/promcheck.py)"
command -v curl >/dev/null 2>&1 || skip_all "curl not found"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

PROMCHECK=$top_srcdir/tests/servers/promcheck.py
TOKEN=metrics-test-token

# ------------------------------------------------------- the checker itself
GOOD=$JV_TMP/good.prom
cat >"$GOOD" <<'EOF'
# HELP a_total A counter.
# TYPE a_total counter
a_total{type="x\"y\\z\nw"} 3
a_total{type="b"} 0
# HELP h Durations.
# TYPE h histogram
h_bucket{le="0.5"} 1
h_bucket{le="1"} 2
h_bucket{le="+Inf"} 2
h_sum 1.25
h_count 2
# HELP g A gauge.
# TYPE g gauge
g NaN
g{x="1"} -Inf
g{x="2"} 1e3 1700000000000
EOF
run python3 "$PROMCHECK" "$GOOD"
assert_rc 0 "promcheck accepts a valid exposition"

# bad LABEL TEXT: TEXT (one line per \n) must be refused
bad()
{
	printf "$2" >"$JV_TMP/bad.prom"
	run python3 "$PROMCHECK" "$JV_TMP/bad.prom"
	[ "$RC" = 1 ] || fail "promcheck accepted $1 (exit $RC)"
	assert_match '^promcheck: [0-9]+|^promcheck: end' "$ERR" "promcheck refuses $1, naming the line"
}
bad "a sample without TYPE" '# HELP x X.\nx 1\n'
bad "a sample without HELP" '# TYPE x gauge\nx 1\n'
bad "two TYPE lines" '# HELP x X.\n# TYPE x gauge\n# TYPE x gauge\nx 1\n'
bad "TYPE after the samples" '# HELP x X.\nx 1\n# TYPE x gauge\n'
bad "a bad metric name" '# HELP x X.\n# TYPE x gauge\n1x 1\n'
bad "a bad label escape" '# HELP x X.\n# TYPE x gauge\nx{a="\\q"} 1\n'
bad "an unterminated label" '# HELP x X.\n# TYPE x gauge\nx{a="b} 1\n'
bad "a value that is not a float" '# HELP x X.\n# TYPE x gauge\nx one\n'
bad "a duplicate series" '# HELP x X.\n# TYPE x gauge\nx{a="1"} 1\nx{a="1"} 2\n'
bad "a counter without _total" '# HELP x X.\n# TYPE x counter\nx 1\n'
bad "buckets not ending at +Inf" '# HELP h H.\n# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n'
bad "decreasing buckets" '# HELP h H.\n# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="2"} 1\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 2\n'
bad "le not increasing" '# HELP h H.\n# TYPE h histogram\nh_bucket{le="2"} 1\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n'
bad "+Inf bucket != count" '# HELP h H.\n# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n'
bad "a histogram without _sum" '# HELP h H.\n# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_count 2\n'
bad "a family split in two" '# HELP x X.\n# TYPE x gauge\nx{a="1"} 1\n# HELP y Y.\n# TYPE y gauge\ny 1\nx{a="2"} 1\n'
bad "no final newline" '# HELP x X.\n# TYPE x gauge\nx 1'

# ---------------------------------------------------------------- serve
jv_db
api_config()
{
	jv_write_config "$JV_CONF" "$(cat <<YAML
  quick: { plugin: noop, timeout_seconds: 1 }
api:
  listen: "127.0.0.1:0"
  token: "$TOKEN"
$1
YAML
)"
	jv_conf_set "$JV_CONF" \
		processor.heartbeat_interval_ms 300 \
		processor.retry_base_ms 10 \
		processor.retry_max_ms 50
}
api_config ""
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

# start serve; sets URL
start_serve()
{
	jv_bg "$JOBVISOR" serve -c "$JV_CONF"
	SERVE=$BG_PID
	SERR=$JV_TMP/bg.$BG_N.err
	wait_for "grep -q 'api: listening on 127.0.0.1:[0-9]' '$SERR'" 15 "the API listens"
	PORT=$(sed -n 's/.*api: listening on 127.0.0.1:\([0-9][0-9]*\) .*/\1/p' "$SERR" | head -n 1)
	URL=http://127.0.0.1:$PORT
}
start_serve

# curl ARGS...: the HTTP status in $CODE, the body in $BODY
http()
{
	CODE=$(curl -s -o "$JV_TMP/body" -w '%{http_code}' --max-time 20 "$@")
	BODY=$(cat "$JV_TMP/body" 2>/dev/null)
}

jv_psql "INSERT INTO jobvisor.jobs (type, payload, max_attempts) VALUES
	('noop', '{}', 1), ('noop', '{}', 1), ('noop', '{\"sleep_ms\": 20}', 1),
	('noop', '{\"outcome\": \"permanent\", \"error\": \"no\"}', 1),
	('noop', '{\"outcome\": \"permanent\", \"error\": \"no\"}', 1),
	('quick', '{\"sleep_ms\": 5000}', 1)" >/dev/null
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE status IN ('succeeded', 'failed')\")\" = 6 ]" 30 \
	"the six jobs ran"
assert_eq "3 2 1" "$(jv_psql "SELECT count(*) FILTER (WHERE status = 'succeeded') || ' ' ||
	count(*) FILTER (WHERE status = 'failed' AND type = 'noop') || ' ' ||
	count(*) FILTER (WHERE type = 'quick' AND status = 'failed') FROM jobvisor.jobs")" \
	"3 successes, 2 permanent failures, 1 timeout"
# one more, pending far in the future, so a status has a count the others lack
jv_psql "INSERT INTO jobvisor.jobs (type, scheduled_at) VALUES ('noop', now() + interval '1 day')" \
	>/dev/null

# ---------------------------------------------------------------- /metrics
M=$JV_TMP/metrics.prom
http -D "$JV_TMP/headers" "$URL/metrics"
assert_eq 200 "$CODE" "/metrics without a token: 200 by default"
printf '%s\n' "$BODY" >"$M"
assert_match '^[Cc]ontent-[Tt]ype: text/plain; version=0.0.4; charset=utf-8' \
	"$(tr -d '\r' <"$JV_TMP/headers")" "the text format's content type"
run python3 "$PROMCHECK" "$M"
assert_rc 0 "the exposition passes promcheck"

# the value of the series exactly as written (name{labels})
val() { awk -v k="$1" 'substr($0, 1, length(k) + 1) == k " " { print substr($0, length(k) + 2); exit }' "$M"; }

assert_eq 1 "$(val 'jobvisor_up')" "jobvisor_up 1"
assert_eq 1 "$(val 'jobvisor_database_up')" "jobvisor_database_up 1"
assert_match '^jobvisor_build_info\{version="[^"]+"\} 1$' "$(cat "$M")" "build info names the version"
assert_eq 5 "$(val 'jobvisor_jobs_claimed_total{type="noop"}')" "claimed: 5 noop"
assert_eq 1 "$(val 'jobvisor_jobs_claimed_total{type="quick"}')" "claimed: 1 quick"
assert_eq 3 "$(val 'jobvisor_attempts_total{type="noop",outcome="succeeded"}')" "attempts: 3 noop succeeded"
assert_eq 2 "$(val 'jobvisor_attempts_total{type="noop",outcome="failed"}')" "attempts: 2 noop failed"
assert_eq 1 "$(val 'jobvisor_attempts_total{type="quick",outcome="timed_out"}')" "attempts: 1 quick timed out"
assert_eq 5 "$(val 'jobvisor_attempt_duration_seconds_count{type="noop"}')" "histogram count = noop attempts"
assert_eq 1 "$(val 'jobvisor_attempt_duration_seconds_count{type="quick"}')" "histogram count = quick attempts"
assert_eq 0 "$(val 'jobvisor_attempt_duration_seconds_bucket{type="quick",le="0.5"}')" \
	"the timeout took more than 0.5 s"
assert_eq 6 "$(val 'jobvisor_process_jobs_claimed_total')" "process total of claims"
for st in pending running succeeded failed cancelled; do
	assert_eq "$(jv_psql "SELECT count(*) FROM jobvisor.jobs WHERE status = '$st'")" \
		"$(val "jobvisor_jobs{status=\"$st\"}")" "jobvisor_jobs{status=\"$st\"} matches the database"
done
assert_eq 0 "$(val 'jobvisor_oldest_due_pending_age_seconds')" "no due pending job: age 0"
assert_eq 1 "$(val 'jobvisor_processors{state="running"}')" "one running processor"
assert_eq 0 "$(val 'jobvisor_running_jobs')" "nothing runs now"
assert_eq 0 "$(val 'jobvisor_prefetched_jobs')" "nothing claimed ahead (prefetch is off)"
http -H "Authorization: Bearer $TOKEN" "$URL/api/cron/status"
assert_eq 200 "$CODE" "status, for the worker count"
TOTAL=$(printf '%s' "$BODY" | python3 -c 'import json,sys; print(json.load(sys.stdin)["processor"]["workers"]["total"])')
BUSY=$(val 'jobvisor_workers{state="busy"}')
IDLE=$(val 'jobvisor_workers{state="idle"}')
assert_eq "$TOTAL" "$((BUSY + IDLE))" "workers busy + idle = total ($TOTAL)"
HB=$(val 'jobvisor_last_heartbeat_timestamp_seconds')
NOW=$(date +%s)
python3 -c "import sys; sys.exit(0 if abs($NOW - $HB) < 30 else 1)" ||
	fail "last heartbeat $HB is not near now ($NOW)"
ok "the last heartbeat is recent"
assert_eq 0 "$(val 'jobvisor_paused')" "not paused"
http -X POST -H "Authorization: Bearer $TOKEN" "$URL/api/cron/stop"
assert_eq 200 "$CODE" "pause"
wait_for "curl -s '$URL/metrics' | grep -qx 'jobvisor_paused 1'" 10 "jobvisor_paused 1 after stop"
http "$URL/metrics?x=1"
assert_eq 400 "$CODE" "an unknown query argument: 400"
http -X POST "$URL/metrics"
assert_eq 405 "$CODE" "POST /metrics: 405"

# ---------------------------------------------------------------- OpenAPI
http "$URL/api/openapi.json"
assert_eq 401 "$CODE" "/api/openapi.json without a token: 401"
http -H "Authorization: Bearer $TOKEN" "$URL/api/openapi.json"
assert_eq 200 "$CODE" \
	"/api/openapi.json with the token: 200"
printf '%s' "$BODY" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["openapi"].startswith("3.0"), d["openapi"]
assert "/metrics" in d["paths"] and "get" in d["paths"]["/metrics"]
assert "/api/openapi.json" in d["paths"]
' || fail "the document is not OpenAPI JSON with paths"
ok "the document is JSON with openapi and paths"

# ------------------------------------------------- metrics_requires_token
jv_kill_pid "$SERVE"
api_config "  metrics_requires_token: true
  webhook_secret: \"hook-secret\""
start_serve
http "$URL/metrics"
assert_eq 401 "$CODE" "/metrics without a token, metrics_requires_token: 401"
http -H "Authorization: Bearer nope" "$URL/metrics"
assert_eq 401 "$CODE" "a wrong token: 401"
http -H "Authorization: Bearer $TOKEN" "$URL/metrics"
assert_eq 200 "$CODE" "with the token: 200"
printf '%s\n' "$BODY" >"$M"
run python3 "$PROMCHECK" "$M"
assert_rc 0 "a fresh process's exposition passes promcheck too"

# ------------------------------------------- contrib/cron/crontab.example
# The example's command line, pointed at this server and a header file here.
TICK=$(sed -n 's/^\* \* \* \* \* root //p' "$top_srcdir/contrib/cron/crontab.example" |
	sed -e "s#/etc/jobvisor/webhook.header#$JV_TMP/webhook.header#" -e "s#127.0.0.1:8080#127.0.0.1:$PORT#")
assert_match '^curl --fail .*--max-time' "$TICK" "the crontab example runs curl --fail --max-time"
printf 'X-Webhook-Secret: %s\n' hook-secret >"$JV_TMP/webhook.header"
run sh -c "$TICK"
assert_rc 0 "the crontab example's tick is accepted"
printf 'X-Webhook-Secret: %s\n' wrong >"$JV_TMP/webhook.header"
run sh -c "$TICK"
[ "$RC" != 0 ] || fail "a tick with a wrong secret succeeded"
ok "a tick with a wrong secret fails (curl --fail)"

# ---------------------------------------------------------- database gone
# No new connection to the database, and every one of its backends ended:
# once the engine notices, a scrape answers 200 without the database.
jv_psql_admin "ALTER DATABASE \"$JV_DB_NAME\" ALLOW_CONNECTIONS false" >/dev/null
jv_on_exit "jv_psql_admin 'ALTER DATABASE \"$JV_DB_NAME\" ALLOW_CONNECTIONS true' >/dev/null 2>&1"
jv_psql_admin "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
	WHERE datname = '$JV_DB_NAME' AND pid <> pg_backend_pid()" >/dev/null
wait_for "curl -s --max-time 20 -H 'Authorization: Bearer $TOKEN' '$URL/metrics' >'$M' && grep -qx 'jobvisor_database_up 0' '$M'" \
	30 "a scrape answers without the database"
http -H "Authorization: Bearer $TOKEN" "$URL/metrics"
assert_eq 200 "$CODE" "200 while the database is gone"
printf '%s\n' "$BODY" >"$M"
run python3 "$PROMCHECK" "$M"
assert_rc 0 "that exposition passes promcheck"
assert_no_match '^jobvisor_jobs\{' "$(cat "$M")" "the database's gauges are left out"
assert_match '^jobvisor_up 1$' "$(cat "$M")" "jobvisor_up is still 1"
jv_psql_admin "ALTER DATABASE \"$JV_DB_NAME\" ALLOW_CONNECTIONS true" >/dev/null
wait_for "curl -s --max-time 20 -H 'Authorization: Bearer $TOKEN' '$URL/metrics' | grep -qx 'jobvisor_database_up 1'" \
	30 "the database is back in the scrape"

jv_done
