#!/bin/sh
# it_api_analytics.sh -- GET /api/cron/metrics and /api/cron/insights over
# real HTTP against `jobvisor serve`, on a known history inserted with SQL:
# counts by outcome, success rate, percentiles (checked against PostgreSQL's
# own percentile_cont), by type and by user, throughput per hour, error
# patterns, the filters and the window's bounds, the 400s and the 401; and
# the insights: a failing type, slow and timing-out types, rescued attempts,
# jobs stuck now, a user at per_user_limit, and the healthy message.
. "${top_srcdir:-.}/tests/lib.sh"

command -v curl >/dev/null 2>&1 || skip_all "curl not found"
command -v jq >/dev/null 2>&1 || skip_all "jq not found"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

jv_db
TOKEN=analytics-token-0123456789
jv_write_config "$JV_CONF" "$(cat <<YAML
  sh: { plugin: noop, timeout_seconds: 2 }
api:
  listen: "127.0.0.1:0"
  token: "$TOKEN"
YAML
)"
# One heartbeat (and so one rescue) at start, then none for an hour: the
# stuck job planted below stays stuck while we look at it.
jv_conf_set "$JV_CONF" \
	processor.heartbeat_interval_ms 3600000 \
	processor.per_user_limit 1 \
	processor.stuck_job_timeout_minutes 125
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

jv_bg "$JOBVISOR" serve -c "$JV_CONF"
SERR=$JV_TMP/bg.$BG_N.err
jv_api_port "$SERR"
assert_match "listening on 127.0.0.1:$PORT \(token required\)" "$(cat "$SERR")" "the API says a token is required"

# get PATH [curl args...]: $CODE, $BODY
get()
{
	_p=$1
	shift
	CODE=$(curl -s -o "$JV_TMP/body" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$@" "$B$_p")
	BODY=$(cat "$JV_TMP/body")
}
# j FILTER: jq -c over $BODY
j() { printf '%s\n' "$BODY" | jq -c "$1"; }
# num X: X as jq prints it (990.0 -> 990)
num() { printf '%s\n' "$1" | jq -c .; }

# ---------------------------------------------------------------- history
# T0 is the start of the hour three hours ago; 200 attempts g = 1..200 at
# T0 + 50 g seconds (hours: g 1-71, 72-143, 144-200), duration 10 g ms,
# users u1..u3 by g % 3. Type a (g <= 120): succeeded, but every 20th timed
# out. Type b: every other one failed with "HTTP 50x from upstream 'hostN'".
# Type c: 3 crashes whose messages differ only in numbers and ids.
T0=$(jv_psql "SELECT date_trunc('hour', now()) - interval '3 hours'")
jv_psql "INSERT INTO jobvisor.job_executions
	(job_id, attempt, type, user_id, started_at, finished_at, duration_ms, outcome, error)
SELECT g, 1, CASE WHEN g <= 120 THEN 'a' ELSE 'b' END, 'u' || (g % 3 + 1),
	'$T0'::timestamptz + g * interval '50 s', '$T0'::timestamptz + g * interval '50 s' + g * interval '10 ms',
	g * 10,
	CASE WHEN g <= 120 AND g % 20 = 0 THEN 'timed_out' WHEN g <= 120 THEN 'succeeded'
	     WHEN g % 2 = 0 THEN 'failed' ELSE 'succeeded' END,
	CASE WHEN g <= 120 AND g % 20 = 0 THEN 'killed after ' || g || ' s'
	     WHEN g > 120 AND g % 2 = 0 THEN format('HTTP %s from upstream ''host%s''', 500 + g % 3, g) END
FROM generate_series(1, 200) g" >/dev/null
jv_psql "INSERT INTO jobvisor.job_executions
	(job_id, attempt, type, user_id, started_at, finished_at, duration_ms, outcome, error)
VALUES (1001, 1, 'c', 'u4', '$T0'::timestamptz + interval '30 min', '$T0'::timestamptz + interval '31 min', 5, 'crashed',
	'timeout after 1234 ms on job 5f3a9c01-7d2e-4b8a-9f00-1234567890ab'),
       (1002, 1, 'c', 'u4', '$T0'::timestamptz + interval '31 min', '$T0'::timestamptz + interval '32 min', 5, 'crashed',
	'timeout after 99 ms on job 0x1f2e'),
       (1003, 1, 'c', 'u4', '$T0'::timestamptz + interval '32 min', '$T0'::timestamptz + interval '33 min', 5, 'crashed',
	'timeout after 5.5 ms on job ab12cd34ef')" >/dev/null
# Outside the default window, three days ago: 2 rescued attempts of
# processor 77 and 10 attempts of type sh close to its 2 s timeout.
T3=$(jv_psql "SELECT now() - interval '3 days'")
jv_psql "INSERT INTO jobvisor.job_executions
	(job_id, attempt, processor, type, user_id, started_at, finished_at, duration_ms, outcome, error)
SELECT 2000 + g, 1, 77, 'a', 'u1', '$T3'::timestamptz + g * interval '1 s',
	'$T3'::timestamptz + g * interval '1 s' + interval '1 min', 60000, 'rescued',
	'rescued: processor 77 stopped heartbeating'
FROM generate_series(1, 2) g
UNION ALL
SELECT 3000 + g, 1, 1, 'sh', NULL, '$T3'::timestamptz + g * interval '1 s',
	'$T3'::timestamptz + g * interval '1 s' + interval '2 s', 1900 + g, 'succeeded', NULL
FROM generate_series(1, 10) g" >/dev/null
WIN="SELECT * FROM jobvisor.job_executions WHERE started_at > now() - interval '24 hours'"

# ---------------------------------------------------------------- auth
CODE=$(curl -s -o /dev/null -w '%{http_code}' "$B/api/cron/metrics")
assert_eq 401 "$CODE" "metrics without a token: 401"
CODE=$(curl -s -o /dev/null -w '%{http_code}' "$B/api/cron/insights")
assert_eq 401 "$CODE" "insights without a token: 401"

# ---------------------------------------------------------------- metrics
get /api/cron/metrics
assert_eq 200 "$CODE" "metrics: 200"
assert_eq false "$(j .sampled)" "a small history is not sampled"
assert_eq 203 "$(j .overall.total)" "203 attempts in the last 24 h (not the 12 of three days ago)"
assert_eq '{"cancelled":0,"crashed":3,"failed":40,"rescued":0,"succeeded":154,"timed_out":6}' \
	"$(j .overall.byOutcome | jq -cS .)" "counts by outcome"
assert_eq "$(jv_psql "SELECT round(154::numeric / 203, 4)")" "$(j .overall.successRate)" "success rate"
for p in 50 95 99; do
	WANT=$(jv_psql "SELECT round(percentile_cont(0.$p) WITHIN GROUP (ORDER BY duration_ms)::numeric, 1) FROM ($WIN) x")
	assert_eq "$(num "$WANT")" "$(j ".overall.durationMs.p$p")" "p$p as percentile_cont computes it"
done
assert_eq 2000 "$(j .overall.durationMs.max)" "max duration"
assert_eq "$(num "$(jv_psql "SELECT round(avg(duration_ms), 1) FROM ($WIN) x")")" "$(j .overall.durationMs.avg)" "average duration"
assert_eq '["a",120,114]' "$(j '.byType[0] | [.type, .total, .byOutcome.succeeded]')" "by type: a first, 120 attempts, 114 succeeded"
assert_eq '["b",80,40,0.5]' "$(j '.byType[1] | [.type, .total, .byOutcome.failed, .successRate]')" "b: 80 attempts, 40 failed, success rate 0.5"
WANT=$(jv_psql "SELECT round(percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms)::numeric, 1) FROM ($WIN) x WHERE type = 'b'")
assert_eq "$(num "$WANT")" "$(j '.byType[1].durationMs.p95')" "b's own p95"
assert_eq '["c",3,3]' "$(j '.byType[2] | [.type, .total, .byOutcome.crashed]')" "c: 3 crashes"
assert_eq '[["u2",67],["u3",67],["u1",66],["u4",3]]' "$(j '[.byUser[] | [.user, .total]]')" "by user, most attempts first"
assert_eq 25 "$(j '.throughputPerHour | length')" "24 h of throughput: 25 hours begun, empty ones too"
TP='[.throughputPerHour[] | select(.total > 0)]'
assert_eq 3 "$(j "$TP | length")" "three hours with attempts"
assert_eq '[74,72,57]' "$(j "$TP | map(.total)")" "attempts per hour"
assert_eq "$(jv_psql "SELECT to_char(date_trunc('hour', '$T0'::timestamptz AT TIME ZONE 'UTC'), 'YYYY-MM-DD\"T\"HH24:00:00\"Z\"')")" \
	"$(j "$TP | .[0].hour" | tr -d '"')" "hours are UTC and start at T0"
assert_eq '[[68,6],[58,14],[28,29]]' "$(j "$TP | map([.succeeded, .failed])")" \
	"succeeded and failed (failed, timed out, crashed) per hour"
assert_eq '["HTTP <n> from upstream '"'"'<s>'"'"'",40,["b"]]' "$(j '.topErrors[0] | [.pattern, .count, .types]')" \
	"the 40 upstream errors are one pattern"
assert_eq '["killed after <n> s",6]' "$(j '.topErrors[1] | [.pattern, .count]')" "the 6 timeouts another"
assert_eq '["timeout after <n> ms on job <id>",3,["c"]]' "$(j '.topErrors[2] | [.pattern, .count, .types]')" \
	"3 messages differing in numbers, a UUID and hex ids are one pattern"
assert_eq '"timeout after 5.5 ms on job ab12cd34ef"' "$(j '.topErrors[2].example')" "with the latest as example"
assert_eq 3 "$(j '.topErrors | length')" "and nothing else"

# filters
get "/api/cron/metrics?type=b"
assert_eq '[80,["b"],["HTTP <n> from upstream '"'"'<s>'"'"'"]]' "$(j '[.overall.total, [.byType[].type], [.topErrors[].pattern]]')" "type=b narrows everything"
get "/api/cron/metrics?outcome=failed"
assert_eq '[40,40,0]' "$(j '[.overall.total, .overall.byOutcome.failed, .overall.byOutcome.succeeded]')" "outcome=failed"
get "/api/cron/metrics?user=u1"
assert_eq '[66,["u1"]]' "$(j '[.overall.total, [.byUser[].user]]')" "user=u1"
get "/api/cron/metrics?user=u1&type=a&outcome=succeeded"
assert_eq "$(jv_psql "SELECT count(*) FROM ($WIN) x WHERE user_id = 'u1' AND type = 'a' AND outcome = 'succeeded'")" \
	"$(j .overall.total)" "filters combine"

# the window: [start, end), the second hour only
S=$(jv_psql "SELECT to_char(('$T0'::timestamptz + interval '1 hour') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")
E=$(jv_psql "SELECT to_char(('$T0'::timestamptz + interval '2 hours') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")
get "/api/cron/metrics?startDate=$S&endDate=$E"
assert_eq 200 "$CODE" "a window of one hour"
assert_eq '[72,1,72]' "$(j '[.overall.total, (.throughputPerHour | length), .throughputPerHour[0].total]')" \
	"holds the 72 attempts from its start (included) to its end (excluded)"
assert_match '^"[0-9-]{10}T[0-9:]{8}\.000Z"$' "$(j .window.start)" "the window is answered in UTC"
get "/api/cron/metrics?startDate=$(jv_psql "SELECT to_char(now() - interval '4 days', 'YYYY-MM-DD')")"
assert_eq 215 "$(j .overall.total)" "a date as startDate, up to now: all 215"
get "/api/cron/metrics?startDate=2000-01-01&endDate=2000-01-02"
assert_eq '[0,null,null,24,0]' "$(j '[.overall.total, .overall.successRate, .overall.durationMs.p50, (.throughputPerHour | length), (.byType | length)]')" \
	"an empty window: zeros, nulls, 24 empty hours"

# 400s
for q in "startDate=yesterday-ish" "endDate=2024-13-45" "startDate=2024-01-02&endDate=2024-01-01" \
	"startDate=2024-01-01T10:00:00Z&endDate=2024-01-01T10:00:00Z" "startDate=2024-01-01&endDate=2024-04-10" \
	"outcome=exploded" "outcome=" "startDate=" "colour=blue"; do
	get "/api/cron/metrics?$q"
	assert_eq 400 "$CODE" "metrics?$q: 400 ($(j .error))"
done
get "/api/cron/metrics?startDate=2024-01-01&endDate=2024-03-31"
assert_eq 200 "$CODE" "a 90-day window is fine"
get "/api/cron/insights?type=a"
assert_eq 400 "$CODE" "insights takes no type"

# ---------------------------------------------------------------- insights
get "/api/cron/insights?startDate=2000-01-01&endDate=2000-01-02"
assert_eq 200 "$CODE" "insights: 200"
assert_eq '[["healthy","info","Nothing stands out"]]' "$(j '[.insights[] | [.kind, .severity, .title]]')" \
	"an empty window: only the healthy message"

get /api/cron/insights
F=$(j '[.insights[] | select(.kind == "most_failing_types")]')
assert_eq '[["critical","Type b fails 50% of attempts"]]' "$(printf '%s' "$F" | jq -c '[.[] | [.severity, .title]]')" \
	"b fails half its attempts: a critical most_failing_types"
assert_match "40 of 80 attempts of type b failed.*most common error: HTTP <n> from upstream '<s>'" \
	"$(printf '%s' "$F" | jq -r '.[0].detail')" "naming the counts and the most common error"
assert_match 'retry_base_ms' "$(printf '%s' "$F" | jq -r '.[0].recommendation')" "with a recommendation"
assert_eq '{"attempts":80,"failureRate":0.5,"failures":40,"topError":"HTTP <n> from upstream '"'"'<s>'"'"'","type":"b"}' \
	"$(printf '%s' "$F" | jq -cS '.[0].data')" "and its data"
assert_eq '["warning","6 attempts of type a timed out"]' \
	"$(j '[.insights[] | select(.kind == "timeouts") | .severity, .title]')" "a's 5% timeouts: a warning"
assert_eq '[]' "$(j '[.insights[] | select(.kind == "healthy" or .kind == "stuck_jobs")]')" "nothing healthy, nothing rescued"
assert_eq critical "$(j '.insights[0].severity' | tr -d '"')" "critical insights come first"

get "/api/cron/insights?startDate=$(jv_psql "SELECT to_char((now() - interval '3 days 1 hour') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")&endDate=$(jv_psql "SELECT to_char((now() - interval '2 days') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")"
assert_eq 200 "$CODE" "insights three days ago"
assert_eq '["warning","2 attempts were rescued from silent processors",2,[77]]' \
	"$(j '[.insights[] | select(.kind == "stuck_jobs") | .severity, .title, .data.rescued, .data.processors]')" \
	"rescued attempts: a stuck_jobs insight naming processor 77"
S=$(j '[.insights[] | select(.kind == "slowest_types")][0]')
assert_eq '["critical","p95 of sh is 95% of its timeout",2]' "$(printf '%s' "$S" | jq -c '[.severity, .title, .data.timeoutSeconds]')" \
	"sh runs at 95% of its 2 s timeout: slowest_types"
assert_match 'raise timeout_seconds of sh or split the work' "$(printf '%s' "$S" | jq -r .recommendation)" "recommending a longer timeout or smaller jobs"

# now: a job running on a processor silent for 3 hours (stuck_job_timeout_minutes 125: two hourly heartbeats and the fencing margin),
# and user u9 at per_user_limit 1 with 3 due jobs waiting for 5 min
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.processors WHERE name = 'it_api_analytics'\")\" = 1 ]" 10 "serve registered"
sleep 1
jv_psql "INSERT INTO jobvisor.processors (name, hostname, pid, version, heartbeat_at)
	VALUES ('dead', 'h', 1, 'x', now() - interval '3 hours'), ('live', 'h', 2, 'x', now())" >/dev/null
DEAD=$(jv_psql "SELECT id FROM jobvisor.processors WHERE name = 'dead'")
LIVE=$(jv_psql "SELECT id FROM jobvisor.processors WHERE name = 'live'")
jv_psql "INSERT INTO jobvisor.jobs (type, user_id, status, locked_by, started_at, attempts)
	VALUES ('ext', NULL, 'running', $DEAD, now() - interval '4 hours', 1),
	       ('ext', 'u9', 'running', $LIVE, now(), 1);
	INSERT INTO jobvisor.jobs (type, user_id, scheduled_at)
	SELECT 'ext', 'u9', now() - interval '5 min' FROM generate_series(1, 3);
	INSERT INTO jobvisor.jobs (type, user_id, scheduled_at) VALUES ('ext', 'u8', now() - interval '5 min')" >/dev/null
get "/api/cron/insights?startDate=2000-01-01&endDate=2000-01-02"
assert_eq "[\"critical\",\"1 jobs are running on silent processors\",[$DEAD]]" \
	"$(j '[.insights[] | select(.kind == "stuck_jobs_now") | .severity, .title, .data.processors]')" \
	"a job on a silent processor: stuck_jobs_now, whatever the window"
assert_eq '["User u9 is at its per_user_limit with 3 due jobs waiting",[["u9",1,3]]]' \
	"$(j '[.insights[] | select(.kind == "users_at_limit") | .title, [.data.users[] | [.user, .running, .dueWaiting]]]')" \
	"u9 at its limit with 3 due jobs waiting: users_at_limit (u8, not running, is not)"
assert_eq '[]' "$(j '[.insights[] | select(.kind == "healthy")]')" "and then nothing is healthy"

jv_done
