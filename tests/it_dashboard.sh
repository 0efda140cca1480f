#!/bin/sh
# it_dashboard.sh -- the web dashboard in a real browser: `jobvisor serve`
# with jobs flowing, Debian's chromium (headless, fresh profile) driven by
# tests/dashboard.py through chromedriver. The page must show the counts,
# charts, processors, schedules, alerts and a failed job's error as the
# database has them; retry, cancel (after its confirmation) and pause /
# resume a processor and a queue must change the database; a workflow's page
# draws its steps as a graph coloured by state, each a link to its job, and
# cancels it (asking first); the jobs list searches by type, error text, id,
# status and time, keeps the search in the URL, and retries or cancels the
# rows selected (asking first); running jobs show their progress;
# screenshots go to tests/it_dashboard.out/; no request of the page may
# leave 127.0.0.1.
# Also the dashboard's routes over plain HTTP (files, ETag, 404s) and the
# API routes it added (alerts, processor control, bucket=minute, paging).
. "${top_srcdir:-.}/tests/lib.sh"

unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
for tool in chromium chromedriver python3 curl; do
	command -v $tool >/dev/null 2>&1 || fail "$tool not found (contrib/deps.sh installs it)"
done

TOKEN="dash-$$-Secr3t"
VIEWER_TOKEN="dash-$$-viewer-0123456789"
OUTDIR=$top_builddir/tests/it_dashboard.out
rm -rf "$OUTDIR"
mkdir -p "$OUTDIR"
jv_db
jv_write_config "$JV_CONF" "$(cat <<YAML
api:
  listen: "127.0.0.1:0"
  token: "$TOKEN"
  tokens: [{ name: dash-viewer, token: "$VIEWER_TOKEN", role: viewer }]
schedules:
  - { name: nightly, cron: "0 3 * * *", timezone: "Europe/Berlin", type: noop }
queues:
  mail: { concurrency: 2, global_concurrency: 3, rate_limit: { allowed: 100, period_seconds: 60 } }
YAML
)"
# 10 slots: the flow below (a 15 s job every 2 s) keeps 7 or 8 busy, and
# one more is the workflow's long step; a retried job finds a free one (with
# 4, a backlog grew, and a retry late in the run waited 15 s for a slot).
jv_conf_set "$JV_CONF" \
	processor.heartbeat_interval_ms 200 \
	processor.max_concurrent_jobs 10 \
	processor.batch_size 4 \
	processor.shutdown_grace_seconds 5
# (not the dashboard's old fixed 5: it must send what is configured)
jv_conf_set "$JV_CONF" processor.stuck_job_timeout_minutes 7
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

jv_bg "$JOBVISOR" serve -c "$JV_CONF"
SERR=$JV_TMP/bg.$BG_N.err
SOUT=$JV_TMP/bg.$BG_N.out
jv_api_port "$SERR"
assert_match "listening on 127.0.0.1:$PORT \(token required\)" "$(cat "$SERR")" "the API says a token is required"
AUTH="Authorization: Bearer $TOKEN"


# ------------------------------------------------------------- the files
call GET /
assert_eq 200 "$CODE" "GET / needs no token (the page holds no data)"
assert_match 'Content-Type: text/html; charset=utf-8' "$HDRS" "as HTML"
assert_match "Content-Security-Policy: default-src 'none'; script-src 'self'" "$HDRS" "with a strict CSP"
assert_match 'X-Content-Type-Options: nosniff' "$HDRS" "nosniff"
assert_eq "$(cat "$top_srcdir/web/index.html")" "$BODY" "the embedded index.html, byte for byte"
ETAG=$(sed -n 's/^ETag: \(.*\)\r$/\1/p' "$JV_TMP/hdrs")
assert_match '^"[0-9a-f]{16}"$' "$ETAG" "an ETag"
call GET / -H "If-None-Match: $ETAG"
assert_eq 304 "$CODE" "If-None-Match: 304"
for f in app.js app.css; do
	call GET /ui/$f
	assert_eq 200 "$CODE" "GET /ui/$f"
	assert_eq "$(cat "$top_srcdir/web/$f")" "$BODY" "/ui/$f is the embedded web/$f"
done
assert_match 'Content-Type: text/css' "$HDRS" "CSS as text/css"
call GET /ui/nope.js
assert_eq 404 "$CODE" "an unknown file: 404"
assert_eq '{"error":"no such file: /ui/nope.js"}' "$BODY" "naming it"
call GET /ui/index.html
assert_eq 404 "$CODE" "the page only at /"
call GET /ui/../core/api/server.c --path-as-is
assert_eq 404 "$CODE" "no path escapes the embedded files"
call GET '/?x=1'
assert_eq 400 "$CODE" "unknown query arguments: 400"
call POST /
assert_eq 405 "$CODE" "POST /: 405"

# ------------------------------------------------------------- the data
# Quick successes (some with output), three failures with a known error,
# an alert in the history; then jobs that take a while keep flowing.
ERROR="disk quota exceeded on /srv/dash-$$"
jv_psql "INSERT INTO jobvisor.jobs (type, payload)
	SELECT 'noop', '{}' FROM generate_series(1, 120)" >/dev/null
run "$JOBVISOR" enqueue -c "$JV_CONF" --type noop --payload '{"output": "hello-dash-output", "result": {"n": 7}}'
assert_rc 0 "enqueue a job with output"
OUTJOB=$OUT
for i in 1 2 3; do
	run "$JOBVISOR" enqueue -c "$JV_CONF" --type noop --user "u$i" --max-attempts 1 \
		--payload "{\"outcome\": \"permanent\", \"error\": \"$ERROR\"}"
	assert_rc 0 "enqueue failing job $i"
done
FAILJOB=$OUT
wait_for "[ \$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE status IN ('succeeded', 'failed')\") = 124 ]" 30 \
	"the first 124 jobs finish"
jv_psql "INSERT INTO jobvisor.alerts (first_at, last_at, sent_at, status, sink, plugin, event, count,
	job_id, job_type, title, body) VALUES (now(), now(), now(), 'sent', 'alerts[0]', 'slack',
	'job_failed', 3, $FAILJOB, 'noop', 'noop job failed', '$ERROR')" >/dev/null
# Bounded flow: a 15 s job every 2 s, for at most 3 minutes.
cat >"$JV_TMP/flow.sh" <<FLOW
for i in \$(seq 90); do
	psql -X -q "$JV_DB_URL" -c "INSERT INTO jobvisor.jobs (type, payload) VALUES ('noop', '{\\"sleep_ms\\": 15000}')" || exit 1
	sleep 2
done
FLOW
jv_bg sh "$JV_TMP/flow.sh"
wait_for "[ \$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE status = 'running'\") -ge 1 ]" 20 "jobs are running"

# ------------------------------------------------- the routes it added
call GET '/api/cron/metrics?bucket=minute&startDate=2020-01-01T00:00:00Z&endDate=2020-01-01T01:00:00Z' -H "$AUTH"
assert_eq 200 "$CODE" "bucket=minute"
assert_eq 60 "$(echo "$BODY" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["throughputPerMinute"]))')" \
	"an hour is 60 minute buckets"
call GET '/api/cron/metrics?bucket=minute&startDate=2020-01-01T00:00:00Z&endDate=2020-01-03T00:00:00Z' -H "$AUTH"
assert_eq 400 "$CODE" "minute buckets over two days: 400"
assert_match 'at most 24 hours' "$BODY" "saying why"
call GET '/api/cron/metrics?bucket=week' -H "$AUTH"
assert_eq 400 "$CODE" "an unknown bucket: 400"
call GET '/api/cron/throughput?bucket=minute&startDate=2020-01-01T00:00:00Z&endDate=2020-01-01T00:03:00Z' -H "$AUTH"
assert_eq 200 "$CODE" "GET /api/cron/throughput"
assert_match '"bucket":"minute","points":\[\{"at":"2020-01-01T00:00:00Z","succeeded":0,"failed":0,"total":0\},\{"at":"2020-01-01T00:01:00Z"' \
	"$BODY" "empty minutes are there, zero"
call GET '/api/cron/throughput?bucket=hour' -H "$AUTH"
assert_match '^2[45]$' "$(echo "$BODY" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["points"]))')" \
	"by default the last 24 hours, by hour (25 buckets unless it is exactly on the hour)"
OKN=$(echo "$BODY" | python3 -c 'import json,sys; print(sum(p["succeeded"] for p in json.load(sys.stdin)["points"]))')
assert_eq "$(jv_psql "SELECT count(*) FROM jobvisor.job_executions WHERE outcome = 'succeeded'")" "$OKN" \
	"which count every success of the history"
call GET '/api/cron/throughput?bucket=minute&startDate=2020-01-01T00:00:00Z&endDate=2020-01-03T00:00:00Z' -H "$AUTH"
assert_eq 400 "$CODE" "throughput per minute over two days: 400"
call GET '/api/cron/throughput?what=1' -H "$AUTH"
assert_eq 400 "$CODE" "throughput: unknown arguments: 400"
call GET /api/alerts -H "$AUTH"
assert_eq 200 "$CODE" "GET /api/alerts"
assert_match "\"event\":\"job_failed\",\"count\":3,\"jobId\":$FAILJOB" "$BODY" "lists the alert"
assert_match '"next":null' "$BODY" "on one page"
call GET '/api/alerts?limit=0' -H "$AUTH"
assert_eq 400 "$CODE" "limit=0: 400"
call GET '/api/alerts?status=lost' -H "$AUTH"
assert_eq 400 "$CODE" "an unknown status: 400"
call GET /api/alerts
assert_eq 401 "$CODE" "alerts need the token"
jv_psql "INSERT INTO jobvisor.schedules (name, cron, timezone, type, next_run_at, source)
	SELECT 'zz-' || i, '0 4 * * *', 'UTC', 'noop', now() + interval '1 day', 'api'
	FROM generate_series(1, 3) i" >/dev/null
call GET '/api/schedules?limit=2' -H "$AUTH"
assert_match '"next":"zz-1"' "$BODY" "schedules page by name"
call GET '/api/schedules?limit=2&after=zz-1' -H "$AUTH"
assert_match '"name":"zz-2".*"name":"zz-3".*"next":null' "$BODY" "the next page, the last"
jv_psql "DELETE FROM jobvisor.schedules WHERE name LIKE 'zz-%'" >/dev/null
PROC=$(jv_psql "SELECT id FROM jobvisor.processors WHERE state = 'running'")
call POST /api/processors/999999/pause -H "$AUTH"
assert_eq 404 "$CODE" "pausing an unknown processor: 404"
call POST /api/processors/abc/pause -H "$AUTH"
assert_eq 400 "$CODE" "a bad processor id: 400"
STOPPED=$(jv_psql "INSERT INTO jobvisor.processors (name, hostname, pid, version, state, stopped_at)
	VALUES ('old', 'h', 1, 'x', 'stopped', now()) RETURNING id" | head -n 1)
call POST /api/processors/$STOPPED/pause -H "$AUTH"
assert_eq 409 "$CODE" "pausing a stopped processor: 409"
assert_match 'is stopped' "$BODY" "saying so"

# A user at their limit (a maxRunning of 0, one job waiting), for the
# overview's list.
call PUT /api/users/capped/limits -H "$AUTH" -H 'Content-Type: application/json' --data-binary '{"maxRunning": 0}'
assert_eq 201 "$CODE" "PUT /api/users/capped/limits"
run "$JOBVISOR" enqueue -c "$JV_CONF" --type noop --user capped
assert_rc 0 "enqueue a job of user capped"

# ----------------------------- workflows, search, bulk actions, progress
# A workflow a -> (b, c) -> d, and e after c: a succeeds, b fails for good
# (so d is cancelled, naming it), c runs for minutes (until the page cancels
# the workflow), e waits on c. Priority 10: they run before the flow's
# backlog. Two failed jobs of type slow with an error of their own, for the
# search and the bulk retry. And a workflow of 1 000 steps (fan-out to 988,
# fan-in by tens, one last step) whose first step is due in a day: the page
# must draw it.
WF_ERROR="wf-b-broke-$$"
BULK_ERROR="bulk-retry-me-$$"
cat >"$JV_TMP/wf.json" <<JSON
{"name": "dash-flow", "jobs": [
 {"key": "a", "type": "noop", "priority": 10},
 {"key": "b", "type": "noop", "priority": 10, "dependsOn": ["a"], "maxAttempts": 1,
  "payload": {"outcome": "permanent", "error": "$WF_ERROR"}},
 {"key": "c", "type": "noop", "priority": 10, "dependsOn": ["a"], "payload": {"sleep_ms": 600000}},
 {"key": "d", "type": "noop", "priority": 10, "dependsOn": ["b", "c"]},
 {"key": "e", "type": "noop", "priority": 10, "dependsOn": ["c"]}]}
JSON
call POST /api/workflows -H "$AUTH" -H 'Content-Type: application/json' --data-binary @"$JV_TMP/wf.json"
assert_eq 201 "$CODE" "POST /api/workflows: $BODY"
WF=$(echo "$BODY" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
WF_C=$(echo "$BODY" | python3 -c 'import json,sys; print(json.load(sys.stdin)["jobs"]["c"])')
for i in 1 2; do
	run "$JOBVISOR" enqueue -c "$JV_CONF" --type slow --priority 10 --max-attempts 1 \
		--payload "{\"outcome\": \"permanent\", \"error\": \"$BULK_ERROR\"}"
	assert_rc 0 "enqueue failing job $i of type slow"
done
STEPS="SELECT string_agg(workflow_key || '=' || status, ',' ORDER BY workflow_key) FROM jobvisor.jobs WHERE workflow_id = $WF"
wait_for "[ \"\$(jv_psql \"$STEPS\")\" = 'a=succeeded,b=failed,c=running,d=cancelled,e=waiting' ]" 30 \
	"workflow $WF's steps succeeded, failed, running, cancelled (after b), waiting (on c); last: \$(jv_psql \"$STEPS\")"
wait_for "[ \$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE type = 'slow' AND status = 'failed'\") = 2 ]" 30 \
	"the two slow jobs fail"
# c reports progress as an executor would (the engine writes it so).
assert_eq t "$(jv_psql "SELECT jobvisor.set_progress(id, attempts, 42, 'half way') FROM jobvisor.jobs WHERE id = $WF_C")" \
	"set_progress on the running step c"
python3 - "$JV_TMP/wf1000.json" <<'PY'
import json, sys
jobs = [{"key": "root", "type": "noop", "runAt": "2999-01-01T00:00:00Z"}]
jobs += [{"key": "m%d" % i, "type": "noop", "dependsOn": ["root"]} for i in range(988)]
jobs += [{"key": "j%d" % k, "type": "noop", "dependsOn": ["m%d" % i for i in range(k, 988, 10)]} for k in range(10)]
jobs += [{"key": "end", "type": "noop", "dependsOn": ["j%d" % k for k in range(10)]}]
json.dump({"name": "dash-thousand", "jobs": jobs}, open(sys.argv[1], "w"))
PY
call POST /api/workflows -H "$AUTH" -H 'Content-Type: application/json' --data-binary @"$JV_TMP/wf1000.json"
assert_eq 201 "$CODE" "POST /api/workflows of 1 000 steps"
WF1000=$(echo "$BODY" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')

# ------------------------------------------------------------ the browser
run python3 "$top_srcdir/tests/dashboard.py" --url "$B" --token "$TOKEN" --db "$JV_DB_URL" \
	--out "$OUTDIR" --failed-job "$FAILJOB" --error "$ERROR" --output-job "$OUTJOB" \
	--output hello-dash-output --stuck-minutes 7 --queue mail \
	--queue-limits "2 here, 3 in all, 100 per 1 min" \
	--workflow "$WF" --workflow-1000 "$WF1000" --wf-error "$WF_ERROR" --bulk-error "$BULK_ERROR" \
	--viewer-token "$VIEWER_TOKEN"
echo "$OUT"
[ $RC -eq 0 ] || { echo "$ERR" | tail -n 20; tail -n 20 "$OUTDIR/chromedriver.log"; fail "the browser checks"; }
ok "the browser checks: $(echo "$OUT" | tail -n 1)"
for f in overview.png overview-dark.png overview-phone.png job.png workflow.png workflow-phone.png workflow-1000.png jobs-search.png; do
	[ -s "$OUTDIR/$f" ] || fail "screenshot $f missing"
done
ok "screenshots in $OUTDIR"
assert_no_match "$TOKEN" "$(cat "$SERR" "$SOUT")" "the token is never logged"
jv_done
