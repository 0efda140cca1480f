#!/bin/sh
# it_api_jobs.sh -- the /api/jobs routes over real HTTP against a running
# `jobvisor serve`: enqueue (defaults, every field, uniqueKey, the warning
# for a type this processor does not serve, each 400), the list (filters,
# paging through 120 jobs by keyset, each 400), one job with its
# executions (404, 400), cancel (pending: never runs; running: its worker
# is stopped and the cancellation is the attempt's only execution row;
# finished: 409), retry (a failed job runs again; a pending one: 409), and
# 401 without the token on every route.
. "${top_srcdir:-.}/tests/lib.sh"

command -v curl >/dev/null 2>&1 || skip_all "curl not found"
command -v jq >/dev/null 2>&1 || skip_all "jq not found"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

TOKEN="tok-$$-j0bs"
jv_db
jv_write_config "$JV_CONF" "$(cat <<YAML
api:
  listen: "127.0.0.1:0"
  token: "$TOKEN"
YAML
)"
jv_conf_set "$JV_CONF" \
	processor.heartbeat_interval_ms 200 \
	processor.max_concurrent_jobs 4 \
	processor.batch_size 4 \
	processor.shutdown_grace_seconds 5
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

jv_bg "$JOBVISOR" serve -c "$JV_CONF"
SERR=$JV_TMP/bg.$BG_N.err
jv_api_port "$SERR"
AUTH="Authorization: Bearer $TOKEN"
JV_CALL_AUTH=$AUTH # call (lib.sh) sends the token
# post PATH JSON
post() { call POST "$1" -H 'Content-Type: application/json' --data-binary "$2"; }
# field of $BODY (jq filter, raw)
field() { printf '%s' "$BODY" | jq -r "$1"; }
status_of() { jv_psql "SELECT status FROM jobvisor.jobs WHERE id = $1"; }

# ---------------------------------------------------------------- auth
for route in "POST /api/jobs" "GET /api/jobs" "GET /api/jobs/1" "POST /api/jobs/1/cancel" \
	"POST /api/jobs/1/retry"; do
	set -- $route
	CODE=$(curl -s -X "$1" -o /dev/null -w '%{http_code}' "$B$2")
	assert_eq 401 "$CODE" "$route without a token: 401"
done
CODE=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer wrong' "$B/api/jobs")
assert_eq 401 "$CODE" "a wrong token: 401"

# ---------------------------------------------------------------- enqueue
# Claiming paused while we look at pending jobs.
call POST /api/cron/stop
assert_eq 200 "$CODE" "claiming paused"

post /api/jobs '{"type": "noop"}'
assert_eq 201 "$CODE" "enqueue with only a type: 201"
ID1=$(field .id)
assert_eq "true|null" "$(field '"\(.created)|\(.warning)"')" "created, no warning"
assert_eq "noop|{}||0|3||pending" \
	"$(jv_psql "SELECT type, payload, user_id, priority, max_attempts, timeout_seconds, status FROM jobvisor.jobs WHERE id = $ID1")" \
	"the defaults in the database"

post /api/jobs '{"type": "slow", "payload": {"sleep_ms": 1, "x": [1, "é"]}, "user": "alice",
	"runAt": "2030-01-02T03:04:05Z", "priority": -7, "maxAttempts": 9, "timeoutSeconds": 33,
	"uniqueKey": "k1"}'
assert_eq 201 "$CODE" "enqueue with every field: 201"
ID2=$(field .id)
assert_eq 'slow|{"x": [1, "é"], "sleep_ms": 1}|alice|2030-01-02 03:04:05+00|-7|9|33|k1' \
	"$(jv_psql "SET TIME ZONE 'UTC'; SELECT type, payload, user_id, scheduled_at, priority, max_attempts, timeout_seconds, unique_key FROM jobvisor.jobs WHERE id = $ID2")" \
	"every field in the database"
post /api/jobs '{"type": "slow", "uniqueKey": "k1"}'
assert_eq "200|$ID2|false" "$CODE|$(field .id)|$(field .created)" \
	"the same uniqueKey while pending: 200, the same id, not created"
assert_eq 1 "$(jv_psql "SELECT count(*) FROM jobvisor.jobs WHERE unique_key = 'k1'")" \
	"and nothing inserted"

post /api/jobs '{"type": "nosuch"}'
assert_eq 201 "$CODE" "a type no executor serves is accepted"
assert_eq "no executor for type nosuch in this processor's config" "$(field .warning)" \
	"with a warning"
NOSUCH=$(field .id)

for bad in '{"payload": {}}|type' '{"type": ""}|type' '{"type": 5}|type' \
	'{"type": "noop", "payload": [1]}|payload' '{"type": "noop", "payload": "x"}|payload' \
	'{"type": "noop", "colour": 1}|colour' '{"type": "noop", "runAt": "soon"}|runAt' \
	'{"type": "noop", "runAt": "infinity"}|runAt' '{"type": "noop", "maxAttempts": 0}|maxAttempts' \
	'{"type": "noop", "maxAttempts": "3"}|maxAttempts' '{"type": "noop", "priority": 1.5}|priority' \
	'{"type": "noop", "timeoutSeconds": 0}|timeoutSeconds' '{"type": "noop", "user": 1}|user' \
	'{"type": "noop"|JSON' '[1]|object' '|type'; do
	post /api/jobs "${bad%|*}"
	assert_eq 400 "$CODE" "enqueue ${bad%|*}: 400"
	assert_match "${bad##*|}" "$(field .error)" "naming ${bad##*|}"
done
assert_eq 3 "$(jv_psql 'SELECT count(*) FROM jobvisor.jobs')" "no job from a bad request"

# ---------------------------------------------------------------- list
jv_psql "INSERT INTO jobvisor.jobs (type, user_id, status, locked_by, finished_at)
	SELECT CASE WHEN g % 3 = 0 THEN 'slow' ELSE 'other' END, 'u' || (g % 4),
	CASE WHEN g % 5 = 0 THEN 'failed' ELSE 'succeeded' END, NULL, now()
	FROM generate_series(1, 120) g" >/dev/null
call GET /api/jobs
assert_eq 200 "$CODE" "list: 200"
assert_eq 50 "$(field '.jobs | length')" "50 by default"
TOP=$(jv_psql 'SELECT max(id) FROM jobvisor.jobs')
assert_eq "$TOP" "$(field '.jobs[0].id')" "newest first"
assert_eq "$(field '.jobs[49].id')" "$(field .next)" "next is the last id"
assert_eq number "$(field '.next | type')" "next is a number, as after= takes it (not a string)"
assert_match '^\{"id":[0-9]+,"type":"slow","user":"u0","status":"failed","priority":0,"attempts":0,"maxAttempts":3,"scheduledAt":"20[0-9-]+T[0-9:.]+Z","createdAt":"[^"]+Z","startedAt":null,"finishedAt":"[^"]+Z","lastError":null,"lockedBy":null,"queue":"default","progress":null,"progressNote":null,"progressAt":null,"workflowId":null,"workflowKey":null,"runWhen":"success","blockedBy":null\}$' \
	"$(printf '%s' "$BODY" | jq -c '.jobs[0]')" "a job's fields"

# page through everything by 7: every id exactly once
: >"$JV_TMP/ids"
AFTER=
PAGES=0
while :; do
	call GET "/api/jobs?limit=7${AFTER:+&after=$AFTER}"
	[ "$CODE" = 200 ] || fail "page after ${AFTER:-none}: $CODE $BODY"
	field '.jobs[].id' >>"$JV_TMP/ids"
	AFTER=$(field '.next // empty')
	PAGES=$((PAGES + 1))
	[ -n "$AFTER" ] || break
	[ "$PAGES" -lt 100 ] || fail "paging does not end"
done
assert_eq 123 "$(wc -l <"$JV_TMP/ids" | tr -d ' ')" "paging by 7 gives 123 ids in $PAGES pages"
assert_eq 123 "$(sort -u "$JV_TMP/ids" | wc -l | tr -d ' ')" "each exactly once"
assert_eq "$(jv_psql 'SELECT id FROM jobvisor.jobs ORDER BY id DESC')" "$(cat "$JV_TMP/ids")" \
	"in id order, newest first"

call GET '/api/jobs?status=failed&limit=1000'
assert_eq "24|failed" "$(field '"\(.jobs | length)|\([.jobs[].status] | unique | join(","))"')" \
	"status=failed: the 24 failed ones"
assert_eq null "$(field .next)" "and no next page"
call GET '/api/jobs?type=slow&user=u1&limit=1000'
assert_eq "$(jv_psql "SELECT count(*) FROM jobvisor.jobs WHERE type = 'slow' AND user_id = 'u1'")|slow|u1" \
	"$(field '"\(.jobs | length)|\([.jobs[].type] | unique | join(","))|\([.jobs[].user] | unique | join(","))"')" \
	"type and user together"
call GET '/api/jobs?status=pending&type=noop'
assert_eq "$ID1" "$(field '[.jobs[].id] | join(",")')" "status and type together"
call GET '/api/jobs?user=alice&after=1'
assert_eq "200|0|null" "$CODE|$(field '.jobs | length')|$(field .next)" "after=1: nothing below"

for bad in 'colour=red|colour' 'status=done|status' 'limit=5000|limit' 'limit=0|limit' \
	'after=abc|after' 'limit=-1|limit' 'after=9999999999999999999|after'; do
	call GET "/api/jobs?${bad%|*}"
	assert_eq 400 "$CODE" "list ?${bad%|*}: 400"
	assert_match "${bad##*|}" "$(field .error)" "naming ${bad##*|}"
done

# ---------------------------------------------------------------- get one
call GET "/api/jobs/$ID2"
assert_eq 200 "$CODE" "get one: 200"
assert_eq "slow|alice|k1|33|1|[]|null" \
	"$(field '"\(.type)|\(.user)|\(.uniqueKey)|\(.timeoutSeconds)|\(.payload.sleep_ms)|\(.executions | tojson)|\(.result)"')" \
	"with payload, result and executions"
call GET /api/jobs/999999
assert_eq "404|no job 999999" "$CODE|$(field .error)" "an unknown job: 404"
call GET /api/jobs/9999999999999999999
assert_eq 400 "$CODE" "a job id past INT64_MAX: 400 (not wrapped around)"
call GET /api/jobs/abc
assert_eq 400 "$CODE" "a non-integer id: 400"
call GET /api/jobs/-1
assert_eq 400 "$CODE" "a negative id: 400"

# ---------------------------------------------------------------- cancel
post "/api/jobs/$NOSUCH/cancel" ''
assert_eq "200|cancelled|pending" "$CODE|$(field .status)|$(field .was)" \
	"cancel a pending job: 200, was pending"
assert_eq "cancelled|cancelled through the API|t|0" \
	"$(jv_psql "SELECT status, last_error, finished_at IS NOT NULL, attempts FROM jobvisor.jobs WHERE id = $NOSUCH")" \
	"cancelled in the database"
post "/api/jobs/$NOSUCH/cancel" ''
assert_eq "409|job $NOSUCH is already cancelled" "$CODE|$(field .error)" "cancel it again: 409"
post /api/jobs/999999/cancel ''
assert_eq 404 "$CODE" "cancel an unknown job: 404"
post /api/jobs/x/cancel ''
assert_eq 400 "$CODE" "cancel a non-integer id: 400"

# Resume: the cancelled job never runs; the others do.
post /api/jobs '{"type": "noop", "payload": {"sleep_ms": 30000}}'
LONG=$(field .id)
call POST /api/cron/start
assert_eq 200 "$CODE" "claiming resumed"
wait_for "[ \"\$(status_of $ID1)\" = succeeded ]" 10 "the first job ran"
wait_for "[ \"\$(status_of $LONG)\" = running ]" 10 "the 30 s job runs"
assert_eq "cancelled|0" "$(jv_psql "SELECT status, attempts FROM jobvisor.jobs WHERE id = $NOSUCH")" \
	"the cancelled job never ran"

post "/api/jobs/$LONG/cancel" ''
assert_eq "200|cancelled|running" "$CODE|$(field .status)|$(field .was)" \
	"cancel the running job: 200, was running"
PROC=$(jv_psql "SELECT max(id) FROM jobvisor.processors")
assert_eq "cancelled|cancelled through the API|t" \
	"$(jv_psql "SELECT status, last_error, finished_at IS NOT NULL FROM jobvisor.jobs WHERE id = $LONG")" \
	"the job is cancelled"
assert_eq "1|$PROC|cancelled|f|cancelled through the API|t" \
	"$(jv_psql "SELECT attempt, processor, outcome, stale, error, duration_ms >= 0 FROM jobvisor.job_executions WHERE job_id = $LONG")" \
	"one execution row: the attempt, its processor, outcome cancelled, not stale"
# The run is stopped (the grace is 5 s, noop honours cancellation at once):
# every worker idle again, then a new job runs, and the cancelled attempt
# still has its one row.
wait_for "curl -s -H '$AUTH' $B/api/cron/status | jq -e '.processor.workers.busy == 0 and .processor.runningJobs == 0'" \
	10 "the cancelled run's worker is free again"
post /api/jobs '{"type": "noop"}'
AFTERC=$(field .id)
wait_for "[ \"\$(status_of $AFTERC)\" = succeeded ]" 10 "a following job succeeds"
sleep 0.5
assert_eq "1|cancelled|f" \
	"$(jv_psql "SELECT count(*), min(outcome), bool_or(stale) FROM jobvisor.job_executions WHERE job_id = $LONG")" \
	"the cancelled attempt still has one row, cancelled, not stale"
assert_eq cancelled "$(status_of $LONG)" "and the job stays cancelled"
post "/api/jobs/$ID1/cancel" ''
assert_eq "409|job $ID1 is already succeeded" "$CODE|$(field .error)" "cancel a succeeded job: 409"

call GET "/api/jobs/$ID1"
assert_match '^\{"attempt":1,"processor":[0-9]+,"startedAt":"[^"]+Z","finishedAt":"[^"]+Z","durationMs":[0-9]+,"outcome":"succeeded","error":null,"output":(null|"[^"]*"),"stale":false\}$' \
	"$(printf '%s' "$BODY" | jq -c '.executions[0]')" "get one after it ran: its execution"
assert_eq "succeeded|1|1" "$(field '"\(.status)|\(.attempts)|\(.executions | length)"')" \
	"succeeded after one attempt"

# ---------------------------------------------------------------- retry
post /api/jobs '{"type": "noop", "payload": {"outcome": "permanent", "error": "nope"}}'
FAILED=$(field .id)
wait_for "[ \"\$(status_of $FAILED)\" = failed ]" 10 "a permanent failure fails"
post "/api/jobs/$FAILED/retry" '{"attempts": 2}'
assert_eq "200|pending|3" "$CODE|$(field .status)|$(field .maxAttempts)" \
	"retry a failed job: 200, pending, maxAttempts = attempts + 2"
wait_for "[ \"\$(jv_psql 'SELECT status || attempts FROM jobvisor.jobs WHERE id = $FAILED')\" = failed2 ]" \
	10 "it ran again (and failed again, for good)"
assert_eq "1 failed|2 failed" \
	"$(jv_psql "SELECT string_agg(attempt || ' ' || outcome, '|' ORDER BY attempt) FROM jobvisor.job_executions WHERE job_id = $FAILED")" \
	"two execution rows"
call GET "/api/jobs/$FAILED"
assert_eq "2|nope" "$(field '"\(.executions | length)|\(.lastError)"')" "both in its answer"
post "/api/jobs/$FAILED/retry" ''
assert_eq "200|3" "$CODE|$(field .maxAttempts)" "retry without a body: one more attempt"
wait_for "[ \"\$(jv_psql 'SELECT status || attempts FROM jobvisor.jobs WHERE id = $FAILED')\" = failed3 ]" \
	10 "it ran a third time"
post "/api/jobs/$NOSUCH/retry" ''
assert_eq "200|pending|1" "$CODE|$(field .status)|$(field .maxAttempts)" "retry a cancelled job"
post "/api/jobs/$ID2/retry" ''
assert_eq "409" "$CODE" "retry a pending job: 409"
assert_match "already pending" "$(field .error)" "saying it is pending"
post "/api/jobs/$ID1/retry" ''
assert_eq 409 "$CODE" "retry a succeeded job: 409"
post /api/jobs/999999/retry ''
assert_eq 404 "$CODE" "retry an unknown job: 404"
for bad in '{"attempts": 0}' '{"attempts": 101}' '{"attempts": "2"}' '{"tries": 1}'; do
	post "/api/jobs/$FAILED/retry" "$bad"
	assert_eq 400 "$CODE" "retry $bad: 400"
done

jv_done
