#!/bin/sh
# it_api_queues.sh -- flow control over real HTTP against a running
# `jobvisor serve` (DESIGN.md "Flow control"): GET /api/queues as the
# config and the table have the queues; pause and resume through the API
# (the table's switch: pending jobs of a paused queue wait, and run once it
# is resumed; 404, 400); a queue held at its global_concurrency says so;
# POST /api/jobs with a queue (known, unknown: the table's message,
# invalid) and GET /api/jobs?queue=; the user limits (GET, PUT, DELETE, the
# list, every 400 and 404; a maxRunning of 0 holds the user's job until
# the row goes); byQueue of /api/cron/queue, pausedQueues of
# /api/cron/status; the /metrics lines; the insight of a queue at its
# global_concurrency from the history; 401 without the token everywhere.
. "${top_srcdir:-.}/tests/lib.sh"

command -v curl >/dev/null 2>&1 || skip_all "curl not found"
command -v jq >/dev/null 2>&1 || skip_all "jq not found"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

TOKEN="tok-$$-qu3ues"
jv_db
jv_write_config "$JV_CONF" "$(cat <<YAML
api:
  listen: "127.0.0.1:0"
  token: "$TOKEN"
queues:
  mail: { concurrency: 5, global_concurrency: 3, rate_limit: { allowed: 50, period_seconds: 3600, partition_by: user_id } }
  bulk: { global_concurrency: 7 }
YAML
)"
jv_conf_set "$JV_CONF" \
	processor.heartbeat_interval_ms 200 \
	processor.max_concurrent_jobs 6 \
	processor.batch_size 6 \
	processor.shutdown_grace_seconds 5
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"
jv_bg "$JOBVISOR" serve -c "$JV_CONF"
SERR=$JV_TMP/bg.$BG_N.err
jv_api_port "$SERR"
wait_for "[ \"\$(jv_psql \"SELECT string_agg(name || ':' || global_concurrency, ' ' ORDER BY name) FROM jobvisor.queues WHERE global_concurrency IS NOT NULL\")\" = 'bulk:7 mail:3' ]" 10 \
	"serve stored the config's queues"
AUTH="Authorization: Bearer $TOKEN"
JV_CALL_AUTH=$AUTH # call (lib.sh) sends the token
post() { call POST "$1" -H 'Content-Type: application/json' --data-binary "$2"; }
put() { call PUT "$1" -H 'Content-Type: application/json' --data-binary "$2"; }
field() { printf '%s' "$BODY" | jq -r "$1"; }
queue_of() { printf '%s' "$BODY" | jq -c ".queues[] | select(.name == \"$1\")"; }

# ---------------------------------------------------------------- auth
for route in "GET /api/queues" "POST /api/queues/mail/pause" "POST /api/queues/mail/resume" \
	"GET /api/users" "GET /api/users/alice/limits" "PUT /api/users/alice/limits" \
	"DELETE /api/users/alice/limits"; do
	set -- $route
	CODE=$(curl -s -X "$1" -o /dev/null -w '%{http_code}' "$B$2")
	assert_eq 401 "$CODE" "$route without a token: 401"
done
assert_eq f "$(jv_psql "SELECT paused FROM jobvisor.queues WHERE name = 'mail'")" \
	"a refused pause changed nothing"

# ------------------------------------------------------------ GET /api/queues
call GET /api/queues
assert_eq 200 "$CODE" "GET /api/queues"
assert_eq "bulk default mail" "$(field '[.queues[].name] | join(" ")')" "every queue of the table, by name"
assert_eq '{"name":"mail","pending":0,"due":0,"running":0,"paused":false,"pausedAt":null,"pausedBy":null,"concurrency":5,"served":true,"globalConcurrency":3,"rateLimit":{"allowed":50,"periodSeconds":3600,"partitionBy":"user_id"},"windowStarts":0,"ratePartitionsFull":0,"heldBy":null,"oldestDueAgeSeconds":null}' \
	"$(queue_of mail)" "mail: its limits from the table, its concurrency from this processor's config"
assert_eq 'null|null|null|true' "$(printf '%s' "$(queue_of default)" | jq -r '"\(.concurrency)|\(.globalConcurrency)|\(.rateLimit)|\(.served)"')" \
	"default: no limits"
call GET '/api/queues?x=1'
assert_eq 400 "$CODE" "GET /api/queues with an unknown argument: 400"

# ------------------------------------------------------- POST /api/jobs queue
post /api/jobs '{"type": "noop", "queue": "mail", "payload": {"sleep_ms": 1}}'
assert_eq 201 "$CODE" "enqueue into mail: 201"
MAILJOB=$(field .id)
assert_eq mail "$(jv_psql "SELECT queue FROM jobvisor.jobs WHERE id = $MAILJOB")" "the job is in mail"
call GET /api/jobs/$MAILJOB
assert_eq mail "$(field .queue)" "the job's JSON names its queue"
post /api/jobs '{"type": "noop"}'
assert_eq 201 "$CODE" "enqueue without a queue"
call GET "/api/jobs/$(field .id)"
assert_eq default "$(field .queue)" "in default"
post /api/jobs '{"type": "noop", "queue": "nosuch"}'
assert_eq 400 "$CODE" "an unknown queue: 400"
assert_match "^jobvisor.jobs: unknown queue 'nosuch' \(HINT: a queue is known once" "$(field .error)" \
	"with the table's message naming it"
post /api/jobs '{"type": "noop", "queue": "Mail Queue"}'
assert_eq "400|queue must be 1 to 64 characters of a-z, 0-9, '_', '.' and '-', got 'Mail Queue'" \
	"$CODE|$(field .error)" "an invalid queue name: 400 naming the field"
post /api/jobs "{\"type\": \"noop\", \"queue\": \"$(printf 'q%.0s' $(seq 65))\"}"
assert_eq 400 "$CODE" "a queue name of 65 bytes: 400"
post /api/jobs "{\"type\": \"noop\", \"queue\": \"$(printf 'q%.0s' $(seq 64))\"}"
assert_match "^400 jobvisor.jobs: unknown queue 'qqqq" "$CODE $(field .error)" "of 64 bytes: valid (unknown here)"
post /api/jobs '{"type": "noop", "queue": 5}'
assert_eq "400|queue must be a non-empty string" "$CODE|$(field .error)" "a queue that is no string: 400"
post /api/jobs '{"type": "noop", "queue": ""}'
assert_eq 400 "$CODE" "an empty queue: 400"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.jobs WHERE queue <> 'default' AND queue <> 'mail'")" \
	"none of those was enqueued"
wait_for "[ \$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE status = 'succeeded'\") = 2 ]" 20 \
	"both jobs ran"

# -------------------------------------------------------- pause and resume
call POST /api/queues/mail/pause
assert_eq '200|{"name":"mail","paused":true}' "$CODE|$BODY" "pause mail: 200"
assert_eq "t|api" "$(jv_psql "SELECT paused, paused_by FROM jobvisor.queues WHERE name = 'mail'")" \
	"paused in the table, by the API"
call POST /api/queues/mail/pause
assert_eq 200 "$CODE" "pausing again: 200 (no change)"
IDS=""
for i in 1 2; do
	post /api/jobs '{"type": "noop", "queue": "mail"}'
	IDS="$IDS${IDS:+,}$(field .id)"
done
post /api/jobs '{"type": "noop"}'
OTHER=$(field .id)
wait_for "[ \"\$(jv_psql \"SELECT status FROM jobvisor.jobs WHERE id = $OTHER\")\" = succeeded ]" 20 \
	"a job of default runs meanwhile"
assert_eq "pending pending" "$(jv_psql "SELECT string_agg(status, ' ') FROM jobvisor.jobs WHERE id IN ($IDS)")" \
	"the paused queue's jobs wait (the processor claimed after them)"
call GET /api/queues
assert_eq 'true|api|2|2|paused' "$(queue_of mail | jq -r '"\(.paused)|\(.pausedBy)|\(.pending)|\(.due)|\(.heldBy)"')" \
	"GET /api/queues: paused, by the API, two due jobs held by the pause"
assert_match '^[0-9]{4}-[0-9]{2}-[0-9]{2}T' "$(queue_of mail | jq -r .pausedAt)" "with the time it was paused"
call GET /api/cron/status
assert_eq '["mail"]' "$(printf '%s' "$BODY" | jq -c .pausedQueues)" "/api/cron/status lists the paused queue"
call GET /api/cron/queue
assert_eq '{"pending":2,"running":0,"paused":true}' "$(printf '%s' "$BODY" | jq -c .byQueue.mail)" \
	"/api/cron/queue: byQueue"
call GET /metrics
assert_match 'jobvisor_queue_paused\{queue="mail"\} 1' "$BODY" "/metrics: the queue paused"
assert_match 'jobvisor_queue_held\{queue="mail",by="paused"\} 1' "$BODY" "/metrics: held by the pause"
call POST /api/queues/mail/resume
assert_eq '200|{"name":"mail","paused":false}' "$CODE|$BODY" "resume mail: 200"
wait_for "[ \"\$(jv_psql \"SELECT string_agg(status, ' ') FROM jobvisor.jobs WHERE id IN ($IDS)\")\" = 'succeeded succeeded' ]" 20 \
	"the resumed queue's jobs run"
assert_eq "f||" "$(jv_psql "SELECT paused, paused_at, paused_by FROM jobvisor.queues WHERE name = 'mail'")" \
	"resumed in the table"
call POST /api/queues/nosuch/pause
assert_eq '404|{"error":"no queue '\''nosuch'\''"}' "$CODE|$BODY" "pausing an unknown queue: 404"
call POST /api/queues/nosuch/resume
assert_eq 404 "$CODE" "resuming one: 404"
call POST /api/queues/Mail/pause
assert_eq "400|the queue name must be 1 to 64 characters of a-z, 0-9, '_', '.' and '-', got 'Mail'" \
	"$CODE|$(field .error)" "an invalid queue name: 400"
post /api/queues/mail/pause '{"now": true}'
assert_eq 400 "$CODE" "a body key: 400"
call GET /api/queues/mail/pause
assert_eq 405 "$CODE" "GET on pause: 405"
assert_eq f "$(jv_psql "SELECT paused FROM jobvisor.queues WHERE name = 'mail'")" "still running"

# ------------------------------------------- only a job scheduled later pending
# It waits for nothing: no oldest due age anywhere (null, not minus an hour).
post /api/jobs "{\"type\": \"noop\", \"queue\": \"bulk\", \"runAt\": \"$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)\"}"
LATER=$(field .id)
call GET /api/cron/status
check assert_eq 'null' "$(field .oldestDuePendingAgeSeconds)" \
	"GET /api/cron/status: oldestDuePendingAgeSeconds null with only a later job pending"
call GET /api/cron/queue
check assert_eq '0|1|null' "$(field '"\(.pending.due)|\(.pending.scheduled)|\(.pending.oldestDueAgeSeconds)"')" \
	"GET /api/cron/queue: none due, one scheduled, oldestDueAgeSeconds null"
call GET /api/queues
check assert_eq '1|0|null' "$(queue_of bulk | jq -r '"\(.pending)|\(.due)|\(.oldestDueAgeSeconds)"')" \
	"GET /api/queues: bulk has it pending, none due, oldestDueAgeSeconds null"
call POST "/api/jobs/$LATER/cancel"
assert_eq 200 "$CODE" "the later job cancelled"

# ------------------------------------------------ held by global_concurrency
post /api/jobs '{"type": "noop", "queue": "mail", "payload": {"sleep_ms": 30000}}'
LONG=$(field .id)
for i in 2 3 4 5; do post /api/jobs '{"type": "noop", "queue": "mail", "payload": {"sleep_ms": 30000}}'; done
wait_for "[ \$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE queue = 'mail' AND status = 'running'\") = 3 ]" 20 \
	"three mail jobs run (its global_concurrency)"
call GET /api/queues
assert_eq '3|2|global_concurrency' "$(queue_of mail | jq -r '"\(.running)|\(.due)|\(.heldBy)"')" \
	"GET /api/queues: mail held by its global_concurrency, two due"
assert_match '^[0-9.]+$' "$(queue_of mail | jq -r .oldestDueAgeSeconds)" "its oldest due job's age"
assert_eq 6 "$(queue_of mail | jq -r .windowStarts)" "six starts of mail in its rate window (an hour)"
call GET /metrics
printf '%s\n' "$BODY" >"$JV_TMP/metrics.prom"
for line in 'jobvisor_queue_jobs{queue="mail",status="pending"} 2' \
	'jobvisor_queue_jobs{queue="mail",status="running"} 3' \
	'jobvisor_queue_global_concurrency{queue="mail"} 3' \
	'jobvisor_queue_global_concurrency{queue="bulk"} 7' \
	'jobvisor_queue_held{queue="mail",by="global_concurrency"} 1' \
	'jobvisor_queue_held{queue="mail",by="paused"} 0' \
	'jobvisor_queue_paused{queue="mail"} 0' \
	'jobvisor_queue_rate_window_starts{queue="mail"} 6' \
	'jobvisor_queue_jobs{queue="default",status="running"} 0' \
	'# TYPE jobvisor_queue_jobs gauge' '# TYPE jobvisor_users_at_limit gauge'; do
	grep -qxF "$line" "$JV_TMP/metrics.prom" || fail "/metrics lacks: $line"
done
ok "/metrics: the queues' gauges"
assert_no_match 'jobvisor_queue_global_concurrency\{queue="default"\}' "$BODY" \
	"no global_concurrency line for a queue without one"
if command -v python3 >/dev/null 2>&1; then
	run python3 "$top_srcdir/tests/servers/promcheck.py" "$JV_TMP/metrics.prom"
	assert_rc 0 "the exposition passes promcheck"
fi
if command -v promtool >/dev/null 2>&1; then
	run promtool check metrics <"$JV_TMP/metrics.prom"
	assert_rc 0 "promtool check metrics"
fi
# (what remains of those jobs is cancelled: the processor stops them)
jv_psql "SELECT id FROM jobvisor.jobs WHERE queue = 'mail' AND status IN ('pending', 'running')" |
	while read -r id; do call POST /api/jobs/$id/cancel; done

# ------------------------------------------------------ GET /api/jobs?queue=
post /api/jobs '{"type": "noop", "queue": "bulk", "runAt": "2099-01-01T00:00:00Z"}'
B1=$(field .id)
post /api/jobs '{"type": "noop", "queue": "bulk", "runAt": "2099-01-01T00:00:00Z"}'
B2=$(field .id)
call GET '/api/jobs?status=pending&queue=bulk'
assert_eq "200|$B2 $B1|bulk bulk" "$CODE|$(field '[.jobs[].id] | map(tostring) | join(" ")')|$(field '[.jobs[].queue] | join(" ")')" \
	"?status=pending&queue=bulk: its pending jobs, newest first"
call GET '/api/jobs?status=pending&queue=bulk&limit=1'
assert_eq "$B2|$B2" "$(field '.jobs[0].id')|$(field .next)" "paged"
call GET '/api/jobs?status=running&queue=bulk'
assert_eq '200|0' "$CODE|$(field '.jobs | length')" "?status=running&queue=bulk: none"
call GET '/api/jobs?queue=bulk'
assert_eq "400|queue lists pending or running jobs only: add status=pending or status=running (or search by id, workflow or q)" \
	"$CODE|$(field .error)" "?queue= without a live status: 400"
call GET '/api/jobs?status=failed&queue=bulk'
assert_eq 400 "$CODE" "?queue= with a finished status: 400"
call GET '/api/jobs?status=pending&queue=B%20ulk'
assert_eq 400 "$CODE" "?queue= invalid: 400"
assert_match "^queue must be 1 to 64" "$(field .error)" "naming it"

# -------------------------------------------------------------- user limits
call GET /api/users/alice/limits
assert_eq '200|{"userId":"alice","maxRunning":null,"weight":1,"running":0,"pending":0,"atLimit":false,"overridden":false}' \
	"$CODE|$BODY" "a user without a row: the defaults (per_user_limit 0: none)"
put /api/users/alice/limits '{"maxRunning": 0, "weight": 3}'
assert_eq 201 "$CODE" "PUT a new row: 201"
assert_eq 'alice|0|3' "$(field '"\(.userId)|\(.maxRunning)|\(.weight)"')" "answers the row"
assert_match '^[0-9]{4}-' "$(field .updatedAt)" "with its time"
assert_eq "0|3" "$(jv_psql "SELECT max_running, weight FROM jobvisor.user_limits WHERE user_id = 'alice'")" \
	"the row in the table"
post /api/jobs '{"type": "noop", "user": "alice"}'
AJOB=$(field .id)
post /api/jobs '{"type": "noop", "user": "bob"}'
BJOB=$(field .id)
wait_for "[ \"\$(jv_psql \"SELECT status FROM jobvisor.jobs WHERE id = $BJOB\")\" = succeeded ]" 20 \
	"bob's job runs"
assert_eq pending "$(jv_psql "SELECT status FROM jobvisor.jobs WHERE id = $AJOB")" \
	"alice's waits (maxRunning 0)"
call GET /api/users/alice/limits
assert_eq '{"userId":"alice","maxRunning":0,"weight":3,"running":0,"pending":1,"atLimit":true,"overridden":true}' \
	"$BODY" "GET: at her limit, overridden"
call GET '/api/users?atLimit=true'
assert_eq '200|{"users":[{"userId":"alice","maxRunning":0,"weight":3,"running":0,"pending":1,"atLimit":true,"overridden":true}],"next":null}' \
	"$CODE|$BODY" "GET /api/users?atLimit=true: alice"
call GET /metrics
assert_match 'jobvisor_users_at_limit 1' "$BODY" "/metrics: one user at the limit"
put /api/users/carol/limits '{"maxRunning": null, "weight": 2}'
assert_eq '201|carol|null|2' "$CODE|$(field '"\(.userId)|\(.maxRunning)|\(.weight)"')" \
	"PUT maxRunning null: no limit"
put /api/users/alice/limits '{"maxRunning": 5}'
assert_eq '200|5|1' "$CODE|$(field '"\(.maxRunning)|\(.weight)"')" "PUT again: 200, the row replaced (weight 1)"
put /api/users/alice/limits '{"maxRunning": 0, "weight": 3}'
call GET '/api/users?limit=1'
assert_eq 'alice|alice' "$(field '.users[0].userId')|$(field .next)" "GET /api/users pages by id"
call GET '/api/users?limit=1&after=alice'
assert_eq 'carol' "$(field '[.users[].userId] | join(" ")')" "the next page"
call GET '/api/users?atLimit=false&limit=1000'
assert_eq 'carol' "$(field '[.users[].userId] | join(" ")')" "atLimit=false (bob has nothing live and no row)"
call DELETE /api/users/alice/limits
assert_eq '200|alice|0|3' "$CODE|$(field '"\(.userId)|\(.maxRunning)|\(.weight)"')" "DELETE: 200 with the row"
wait_for "[ \"\$(jv_psql \"SELECT status FROM jobvisor.jobs WHERE id = $AJOB\")\" = succeeded ]" 20 \
	"alice's job runs once her row is gone"
call DELETE /api/users/alice/limits
assert_eq "404|no limits for user 'alice'" "$CODE|$(field .error)" "DELETE again: 404"
call GET /api/users/a%20b/limits
assert_eq '200|a b' "$CODE|$(field .userId)" "a percent-encoded user id is decoded"
put /api/users/%C3%A9mile/limits '{"maxRunning": 2, "weight": 4}'
assert_eq "201|émile" "$CODE|$(field .userId)" "UTF-8 ids"
assert_eq 4 "$(jv_psql "SELECT weight FROM jobvisor.user_limits WHERE user_id = 'émile'")" "as stored"
LONGID=$(printf 'u%.0s' $(seq 257))
call GET "/api/users/$LONGID/limits"
assert_eq "400|the user id is too long: 257 bytes, the limit is 256 bytes" "$CODE|$(field .error)" \
	"a user id of 257 bytes: 400"
put "/api/users/$(printf 'u%.0s' $(seq 256))/limits" '{"maxRunning": 1}'
assert_eq 201 "$CODE" "of 256 bytes: fine"
for bad in '{"weight": 0}|weight must be an integer from 1 to 1000' \
	'{"weight": 1001}|weight must be an integer from 1 to 1000' \
	'{"weight": null}|weight must be an integer from 1 to 1000' \
	'{"maxRunning": -1}|maxRunning must be an integer from 0 to 100000, or null for no limit' \
	'{"maxRunning": 100001}|maxRunning must be an integer from 0 to 100000, or null for no limit' \
	'{"maxRunning": "3"}|maxRunning must be an integer from 0 to 100000, or null for no limit' \
	'{"max": 1}|unknown key '\''max'\'' in the body (known: maxRunning, weight)' \
	'[1]|the body must be a JSON object' \
	'|the body must be a JSON object: {"maxRunning": N or null, "weight": N}' \
	'{"weight": 2}|maxRunning is required: an integer from 0 to 100000, or null for no limit (the row replaces processor.per_user_limit for the user)'; do
	put /api/users/dave/limits "${bad%%|*}"
	assert_eq "400|${bad#*|}" "$CODE|$(field .error)" "PUT ${bad%%|*}: 400"
done
put /api/users/dave/limits '{"maxRunning": 100000, "weight": 1000}'
assert_eq 201 "$CODE" "the largest values are fine"
put /api/users/dave/limits '{"maxRunning": null}'
assert_eq '200|null' "$CODE|$(field .maxRunning)" "maxRunning null"
assert_eq "1" "$(jv_psql "SELECT count(*) FROM jobvisor.user_limits WHERE user_id = 'dave' AND max_running IS NULL")" \
	"stored as NULL"
call GET '/api/users?atLimit=maybe'
assert_eq "400|atLimit must be true or false, got 'maybe'" "$CODE|$(field .error)" "atLimit=maybe: 400"
call GET '/api/users?limit=1001'
assert_eq 400 "$CODE" "limit=1001: 400"
call GET '/api/users?limit=0'
assert_eq 400 "$CODE" "limit=0: 400"
call GET '/api/users?who=1'
assert_eq 400 "$CODE" "an unknown argument: 400"
call POST /api/users/dave/limits
assert_eq 405 "$CODE" "POST on limits: 405"

# ------------------------------------------------------------------ insights
# In a past hour, three attempts of mail (global_concurrency 3) overlap
# for 48 minutes: the queue is at its limit 80 % of the window; bulk (7)
# never is.
jv_psql "WITH j AS (INSERT INTO jobvisor.jobs (type, queue, status, attempts, started_at, finished_at)
	SELECT 'noop', q, 'succeeded', 1, now(), now()
	FROM (VALUES ('mail'), ('mail'), ('mail'), ('bulk')) v(q) RETURNING id, queue)
	INSERT INTO jobvisor.job_executions (job_id, attempt, type, started_at, finished_at, duration_ms, outcome)
	SELECT j.id, 1, 'noop', '2020-01-01T00:00:00Z', '2020-01-01T00:48:00Z', 2880000, 'succeeded' FROM j" >/dev/null
call GET '/api/cron/insights?startDate=2020-01-01T00:00:00Z&endDate=2020-01-01T01:00:00Z'
assert_eq 200 "$CODE" "GET /api/cron/insights"
INS=$(printf '%s' "$BODY" | jq -c '[.insights[] | select(.kind == "queue_at_global_concurrency")]')
assert_eq '1|warning|Queue mail is at its global concurrency 80% of the time' \
	"$(printf '%s' "$INS" | jq -r '"\(length)|\(.[0].severity)|\(.[0].title)"')" \
	"one insight: mail is at its global concurrency 80 % of the window (bulk never)"
assert_eq '3 jobs of queue mail ran at once across all processors (its global_concurrency) for 2880 s of the 3600 s of the window; its due jobs waited meanwhile|if what queue mail protects can take more, raise queues.mail.global_concurrency; if not, the limit is doing its job' \
	"$(printf '%s' "$INS" | jq -r '"\(.[0].detail)|\(.[0].recommendation)"')" "saying how long, and what to do"
assert_eq true "$(printf '%s' "$INS" | jq -r '.[0].data | .queue == "mail" and .globalConcurrency == 3
	and .atLimitSeconds == 2880 and .windowSeconds == 3600 and .share == 0.8 and .peakRunning == 3')" \
	"its data"
call GET '/api/cron/insights?startDate=2020-01-01T02:00:00Z&endDate=2020-01-01T03:00:00Z'
assert_eq '[]' "$(printf '%s' "$BODY" | jq -c '[.insights[] | select(.kind == "queue_at_global_concurrency")]')" \
	"none in an hour without those attempts"

assert_no_match "$TOKEN" "$(cat "$SERR")" "the token is never logged"
jv_done
