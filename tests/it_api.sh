#!/bin/sh
# it_api.sh -- the REST API's server and its /api/cron routes, over real HTTP
# against a running `jobvisor serve`: the token on every route but health
# and the webhook (which checks its own secret), every error status (400 bad
# JSON / unknown key / unknown query argument / out of range, 401, 404, 405
# with Allow, 413 for a 3 MiB body announced (a chunked one is cut), 503 while
# shutting down), pause and resume with running jobs going on, retuning
# within the configured bounds, claim-now, resetting stuck jobs, CORS off
# unless configured, secrets never logged, and 1 000 concurrent requests
# all answered while jobs keep flowing.
. "${top_srcdir:-.}/tests/lib.sh"

command -v curl >/dev/null 2>&1 || skip_all "curl not found"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

TOKEN="tok-$$-Secr3t"
HOOK="hook-$$-Secr3t"
jv_db
jv_write_config "$JV_CONF" "$(cat <<YAML
api:
  listen: "127.0.0.1:0"
  token: "$TOKEN"
  webhook_secret: "$HOOK"
YAML
)"
jv_conf_set "$JV_CONF" \
	processor.heartbeat_interval_ms 200 \
	processor.poll_interval_ms 600000 \
	processor.max_concurrent_jobs 8 \
	processor.batch_size 8 \
	processor.shutdown_grace_seconds 20
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

jv_bg "$JOBVISOR" serve -c "$JV_CONF"
SERVE=$BG_PID
SERR=$JV_TMP/bg.$BG_N.err
jv_api_port "$SERR"
assert_match "listening on 127.0.0.1:$PORT \(token required\)" "$(cat "$SERR")" "the API says a token is required"

AUTH="Authorization: Bearer $TOKEN"
jobs_in() { jv_psql "SELECT count(*) FROM jobvisor.jobs WHERE status = '$1' ${2:-}"; }

# ---------------------------------------------------------------- auth
call GET /api/cron/health
assert_eq 200 "$CODE" "health needs no token"
assert_match '"status":"healthy"' "$BODY" "and says healthy"
assert_match '"database":\{"reachable":true' "$BODY" "with the database reachable"
assert_match '"workers":\{"total":8,"busy":0,"idle":8' "$BODY" "and the worker pool"
for route in "POST /api/cron/start" "POST /api/cron/stop" "GET /api/cron/status" \
	"GET /api/cron/queue" "POST /api/cron/trigger" "POST /api/cron/reset-stuck-jobs" \
	"GET /api/schedules"; do
	set -- $route
	call "$1" "$2"
	assert_eq 401 "$CODE" "$route without a token: 401"
	call "$1" "$2" -H "Authorization: Bearer wrong-$TOKEN"
	assert_eq 401 "$CODE" "$route with a wrong token: 401"
done
assert_match '"error":"wrong token"' "$BODY" "a wrong token is said so, as JSON"
assert_match 'WWW-Authenticate: Bearer realm="jobvisor"' "$HDRS" "with WWW-Authenticate"
call GET /api/cron/status -H "Authorization: Basic $TOKEN"
assert_eq 401 "$CODE" "another scheme: 401"
call GET /api/cron/status -H "$AUTH"
assert_eq 200 "$CODE" "the token opens status"
assert_match "\"processor\":\\{\"id\":[0-9]+,\"name\":\"it_api\"" "$BODY" "which names this processor"
assert_no_match 'Access-Control-Allow-Origin' "$HDRS" "no CORS header unless configured"

# ---------------------------------------------------------------- errors
call GET /api/nope -H "$AUTH"
assert_eq 404 "$CODE" "unknown route: 404"
assert_eq '{"error":"no such route: GET /api/nope"}' "$BODY" "with a JSON error"
call GET /api/cron/stop -H "$AUTH"
assert_eq 405 "$CODE" "wrong method: 405"
assert_match 'Allow: POST' "$HDRS" "with Allow"
call POST /api/cron/start -H "$AUTH" -d '{"batchSize": 3'
assert_eq 400 "$CODE" "malformed JSON: 400"
assert_match '"error":"the body is not valid JSON: ' "$BODY" "saying where"
call POST /api/cron/start -H "$AUTH" -d '{"batchsize": 3}'
assert_eq 400 "$CODE" "unknown key: 400"
assert_match "unknown key 'batchsize' in the body \\(known: batchSize, maxConcurrentJobs\\)" "$BODY" "naming it and the known ones"
call POST /api/cron/start -H "$AUTH" -d '{"batchSize": 2, "batchSize": 3}'
assert_eq 400 "$CODE" "a key given twice: 400"
assert_match 'duplicate object key' "$BODY" "saying so"
call POST /api/cron/start -H "$AUTH" -d '[1, 2]'
assert_eq 400 "$CODE" "a body that is not an object: 400"
call POST /api/cron/start -H "$AUTH" -d '{"batchSize": 9}'
assert_eq 400 "$CODE" "batchSize above the configured 8: 400"
call POST /api/cron/start -H "$AUTH" -d '{"maxConcurrentJobs": "4"}'
assert_eq 400 "$CODE" "a string where an integer belongs: 400"
call GET "/api/cron/queue?verbose=1" -H "$AUTH"
assert_eq 400 "$CODE" "unknown query argument: 400"
assert_match "unknown query parameter 'verbose'" "$BODY" "naming it"
head -c 3145728 /dev/zero | tr '\0' x >"$JV_TMP/big"
call POST /api/cron/stop -H "$AUTH" --data-binary "@$JV_TMP/big"
assert_eq 413 "$CODE" "a 3 MiB body: 413"
assert_match 'larger than api.max_body_bytes \(2097152 bytes\)' "$BODY" "saying the cap (2 MiB by default)"
call POST /api/cron/stop -H "$AUTH" -H 'Transfer-Encoding: chunked' -H 'Expect:' --data-binary "@$JV_TMP/big"
assert_eq 000 "$CODE" "a 3 MiB chunked body (no length up front): the connection is cut"
call GET /api/schedules -H "$AUTH"
assert_eq 200 "$CODE" "schedules: 200 (they exist)"
call POST /api/cron/reset-stuck-jobs -H "$AUTH" -d '{"timeoutMinutes": 0}'
assert_eq 400 "$CODE" "timeoutMinutes 0: 400"
kill -0 $SERVE || fail "serve died on bad input"
ok "serve is alive after all that"

# ---------------------------------------------------------------- webhook
call POST /api/cron/webhook
assert_eq 401 "$CODE" "webhook without X-Webhook-Secret: 401"
call POST /api/cron/webhook -H "X-Webhook-Secret: $HOOK-x"
assert_eq 401 "$CODE" "webhook with a wrong secret: 401"
assert_eq '{"error":"wrong X-Webhook-Secret"}' "$BODY" "said so"
call POST /api/cron/webhook -H "X-Webhook-Secret: $HOOK"
assert_eq 202 "$CODE" "webhook with the secret: 202, a claim now"

# ---------------------------------------------------------------- pause
S=$(jv_psql "SELECT jobvisor.enqueue('noop', '{\"sleep_ms\": 1500}')")
wait_for "[ \"\$(jobs_in running)\" = 1 ]" 10 "a slow job runs"
call POST /api/cron/stop -H "$AUTH"
assert_eq 200 "$CODE" "stop: 200"
assert_match '"state":"paused","runningJobs":1' "$BODY" "paused, with the running job"
wait_for "[ \"\$(jv_psql \"SELECT state FROM jobvisor.processors WHERE pid = $SERVE\")\" = paused ]" 5 \
	"the processor row says paused"
P=$(jv_psql "SELECT jobvisor.enqueue('noop', '{}')")
wait_for "[ \"\$(jv_psql \"SELECT status FROM jobvisor.jobs WHERE id = $S\")\" = succeeded ]" 10 \
	"the running job finished while paused"
assert_eq pending "$(jv_psql "SELECT status FROM jobvisor.jobs WHERE id = $P")" "a new job waits while paused"
call GET /api/cron/health
assert_match '"paused":true' "$BODY" "health shows paused"
call POST /api/cron/start -H "$AUTH" -d '{"batchSize": 2, "maxConcurrentJobs": 3}'
assert_eq 200 "$CODE" "start with a retune: 200"
assert_eq '{"success":true,"state":"running","batchSize":2,"maxConcurrentJobs":3}' "$BODY" "says so"
wait_for "[ \"\$(jv_psql \"SELECT status FROM jobvisor.jobs WHERE id = $P\")\" = succeeded ]" 10 \
	"after start the waiting job runs"
call GET /api/cron/status -H "$AUTH"
assert_match '"batchSize":2,"maxConcurrentJobs":3' "$BODY" "status shows the retune"

# Within the retune: never more than 3 running.
jv_psql "INSERT INTO jobvisor.jobs (type, payload) SELECT 'noop', '{\"sleep_ms\": 200}' FROM generate_series(1, 15)" >/dev/null
MAX=0
i=0
while [ "$(jobs_in succeeded "AND payload->>'sleep_ms' = '200'")" != 15 ] && [ $i -lt 200 ]; do
	n=$(jobs_in running)
	[ "$n" -gt "$MAX" ] && MAX=$n
	i=$((i + 1))
done
assert_eq 15 "$(jobs_in succeeded "AND payload->>'sleep_ms' = '200'")" "15 jobs ran after the retune"
[ "$MAX" -le 3 ] || fail "$MAX jobs ran at once after maxConcurrentJobs 3"
ok "never more than 3 at once (seen: $MAX)"
call POST /api/cron/start -H "$AUTH" -d '{"batchSize": 8, "maxConcurrentJobs": 8}'
assert_eq 200 "$CODE" "back to the configured bounds"

# ---------------------------------------------------------------- trigger
# With the wake-up trigger off and polling every 10 min, a new job waits
# until someone says "claim now".
jv_psql "ALTER TABLE jobvisor.jobs DISABLE TRIGGER USER" >/dev/null
T=$(jv_psql "SELECT jobvisor.enqueue('noop', '{}')")
sleep 1 # nothing to await: the job must stay pending without a wake-up
assert_eq pending "$(jv_psql "SELECT status FROM jobvisor.jobs WHERE id = $T")" "without NOTIFY the job waits"
call POST /api/cron/trigger -H "$AUTH"
assert_eq 202 "$CODE" "trigger: 202"
wait_for "[ \"\$(jv_psql \"SELECT status FROM jobvisor.jobs WHERE id = $T\")\" = succeeded ]" 5 \
	"trigger claims it at once"
jv_psql "ALTER TABLE jobvisor.jobs ENABLE TRIGGER USER" >/dev/null

# ---------------------------------------------------------------- stuck
GONE=$(jv_psql "INSERT INTO jobvisor.processors (name, hostname, pid, version, heartbeat_at)
	VALUES ('gone', 'nowhere', 1, '0', now() - interval '3 minutes') RETURNING id")
X=$(jv_psql "INSERT INTO jobvisor.jobs (type, payload, status, attempts, locked_by, started_at)
	VALUES ('noop', '{}', 'running', 1, $GONE, now() - interval '3 minutes') RETURNING id")
call POST /api/cron/reset-stuck-jobs -H "$AUTH" -d '{"timeoutMinutes": 10}'
assert_eq '{"success":true,"resetCount":0,"timeoutMinutes":10}' "$BODY" "silent for 3 min, limit 10: none reset"
call POST /api/cron/reset-stuck-jobs -H "$AUTH" -d '{"timeoutMinutes": 2}'
assert_eq 200 "$CODE" "reset-stuck-jobs: 200"
assert_eq '{"success":true,"resetCount":1,"timeoutMinutes":2}' "$BODY" "limit 2: the stuck job is reset"
wait_for "[ \"\$(jv_psql \"SELECT status FROM jobvisor.jobs WHERE id = $X\")\" = succeeded ]" 10 \
	"and runs again here"
assert_eq rescued "$(jv_psql "SELECT outcome FROM jobvisor.job_executions WHERE job_id = $X AND attempt = 1")" \
	"its lost attempt is recorded as rescued"

# ---------------------------------------------------------------- queue
jv_psql "INSERT INTO jobvisor.jobs (type, user_id, payload) SELECT 'slow', 'u' || (g % 2), '{\"sleep_ms\": 3000}' FROM generate_series(1, 4) g" >/dev/null
wait_for "[ \"\$(jobs_in running)\" = 4 ]" 10 "4 slow jobs run"
call GET /api/cron/queue -H "$AUTH"
assert_eq 200 "$CODE" "queue: 200"
assert_match '"byType":\{[^}]*"slow":\{"pending":0,"running":4\}' "$BODY" "counts by type"
assert_match '"runningByProcessor":\[\{"processor":[0-9]+,"name":"it_api","running":4\}\]' "$BODY" "by processor"
assert_match '"runningByUser":\[\{"user":"u0","running":2\},\{"user":"u1","running":2\}\]' "$BODY" "by user"

# ---------------------------------------------------------------- burst
# 1 000 requests at once (200 connections at a time, from 8 addresses)
# while 3 000 jobs run.
jv_psql "INSERT INTO jobvisor.jobs (type, payload) SELECT 'noop', '{\"data\": \"burst\"}' FROM generate_series(1, 3000)" >/dev/null
python3 "$top_srcdir/tests/servers/burst.py" --base "$B" --token "$TOKEN" -n 1000 -c 200 --sources 8 \
	GET:/api/cron/health GET:/api/cron/status GET:/api/cron/queue POST:/api/cron/trigger \
	>"$JV_TMP/codes"
assert_eq "200 750
202 250" "$(cat "$JV_TMP/codes")" "1000 requests from 200 clients at once: every one answered, 200 or 202"
wait_for "[ \"\$(jobs_in succeeded \"AND payload->>'data' = 'burst'\")\" = 3000 ]" 60 \
	"and the 3000 jobs all ran meanwhile"

# ---------------------------------------------------------------- draining
L=$(jv_psql "SELECT jobvisor.enqueue('slow', '{\"sleep_ms\": 4000}')")
wait_for "[ \"\$(jv_psql \"SELECT status FROM jobvisor.jobs WHERE id = $L\")\" = running ]" 10 "a long job runs"
kill -TERM $SERVE
wait_for "curl -s -o /dev/null -w '%{http_code}' $B/api/cron/health | grep -q 503" 5 \
	"while draining, health answers 503 for the load balancer"
call GET /api/cron/health
assert_match '"problems":\["shutting down"\]' "$BODY" "saying why"
wait $SERVE
assert_eq 0 $? "serve exits 0"
assert_eq succeeded "$(jv_psql "SELECT status FROM jobvisor.jobs WHERE id = $L")" "the long job finished first"

# ---------------------------------------------------------------- secrets
assert_no_match "$TOKEN" "$(cat "$SERR")" "the token is never logged"
assert_no_match "$HOOK" "$(cat "$SERR")" "nor the webhook secret"

# ---------------------------------------------------------------- CORS, no token
C2=$JV_TMP/cors.yaml
jv_write_config "$C2" "$(cat <<YAML
api:
  listen: "127.0.0.1:0"
  token: "$TOKEN"
  cors_origin: "https://dash.example"
YAML
)"
jv_bg "$JOBVISOR" serve -c "$C2"
S2=$BG_PID
S2ERR=$JV_TMP/bg.$BG_N.err
wait_for "grep -q 'api: listening on' '$S2ERR'" 10 "a second processor with CORS listens"
B=http://127.0.0.1:$(sed -n 's/.*api: listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$S2ERR" | head -n 1)
call OPTIONS /api/cron/status -H 'Origin: https://dash.example' -H 'Access-Control-Request-Method: GET'
assert_eq 204 "$CODE" "a preflight: 204"
assert_match 'Access-Control-Allow-Origin: https://dash.example' "$HDRS" "with the configured origin"
assert_match 'Access-Control-Allow-Headers: Authorization, Content-Type' "$HDRS" "and the headers allowed"
call GET /api/cron/status -H "$AUTH"
assert_match 'Access-Control-Allow-Origin: https://dash.example' "$HDRS" "answers carry it too"
kill -TERM $S2
wait $S2

C3=$JV_TMP/notoken.yaml
jv_write_config "$C3" 'api:
  listen: "0.0.0.0:0"'
run "$JOBVISOR" serve -c "$C3"
assert_rc 1 "no token and not loopback: serve refuses to start"
assert_match "api.listen: 0.0.0.0:0 is not a loopback address, and no api.token is set" "$ERR" \
	"naming the place and the fix"
jv_write_config "$C3" 'api:
  listen: "127.0.0.1:0"'
jv_bg "$JOBVISOR" serve -c "$C3"
S3=$BG_PID
jv_api_port "$JV_TMP/bg.$BG_N.err"
call GET /api/cron/status -H "$AUTH"
assert_eq '401|{"error":"no api.token or api.tokens is configured: this route is disabled"}' "$CODE|$BODY" \
	"no token configured (loopback): the routes that need one answer 401"
assert_match 'WWW-Authenticate: Bearer realm="jobvisor"' "$HDRS" "with WWW-Authenticate, as every 401"
kill -TERM $S3
wait $S3
jv_done
