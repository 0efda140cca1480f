#!/bin/sh
# it_api_workflows.sh -- issue 19 over real HTTP against a running `jobvisor
# serve` with the shell and noop executors: a bulk POST /api/jobs of 10 000
# jobs (a body past the default 2 MiB) inserted in order; a workflow with a
# cycle, an unknown key, a duplicate key, a bulk request of 10 001 jobs or
# with one bad element each a 400 naming the problem, nothing inserted;
# dependsOn through the API (the dependent waits, then runs after); a
# workflow whose step b fails for good (shell, maxAttempts 1): d is
# cancelled naming b, e (runWhen always) runs, GET /api/workflows shows it;
# retrying d itself while b is failed is refused (409 naming b); POST
# /api/jobs/{b}/retry puts d back to waiting, and d then runs; a waiting
# job cancelled and retried while its dependency runs waits again; bulk
# cancel and retry; cancelling a workflow; the search filters (id, queue,
# q with its cap, from/to, workflow, status=waiting); bad input for every
# new field; 401 without the token on every new route.
. "${top_srcdir:-.}/tests/lib.sh"

command -v curl >/dev/null 2>&1 || skip_all "curl not found"
command -v jq >/dev/null 2>&1 || skip_all "jq not found"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

TOKEN="tok-$$-wf"
jv_db
jv_plugin shell
jv_write_config "$JV_CONF" "$(cat <<YAML
  sh: { plugin: shell, allowed_commands: ["/bin/*", "/usr/bin/*"] }
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
JV_CALL_AUTH="Authorization: Bearer $TOKEN"
# post PATH JSON / postf PATH FILE
post() { call POST "$1" -H 'Content-Type: application/json' --data-binary "$2"; }
postf() { call POST "$1" -H 'Content-Type: application/json' --data-binary "@$2"; }
field() { printf '%s' "$BODY" | jq -r "$1"; }
err() { printf '%s' "$BODY" | jq -r .error; }
status_of() { jv_psql "SELECT status FROM jobvisor.jobs WHERE id = $1"; }
count() { jv_psql "SELECT (SELECT count(*) FROM jobvisor.jobs) || ' ' || (SELECT count(*) FROM jobvisor.workflows)"; }
# refused WHAT REGEX: the last answer is a 400 whose error matches REGEX,
# and nothing was inserted since $N0 was taken
refused()
{
	assert_eq 400 "$CODE" "$1: 400 ($BODY)"
	assert_match "$2" "$(err)" "$1: naming the problem"
	assert_eq "$N0" "$(count)" "$1: nothing inserted"
}
START=$(jv_psql "SELECT to_char((now() - interval '1 second') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")

# ---------------------------------------------------------------- auth
for route in "POST /api/workflows" "GET /api/workflows" "GET /api/workflows/1" \
	"POST /api/workflows/1/cancel" "POST /api/jobs/cancel" "POST /api/jobs/retry"; do
	set -- $route
	CODE=$(curl -s -X "$1" -o /dev/null -w '%{http_code}' "$B$2")
	assert_eq 401 "$CODE" "$route without a token: 401"
done

# ---------------------------------------------------------------- a failure to search for later
post /api/jobs '{"type": "noop", "payload": {"outcome": "permanent", "error": "Needle-in-the-haystack"}, "maxAttempts": 1}'
NEEDLE=$(field .id)
wait_for "[ \"\$(status_of $NEEDLE)\" = failed ]" 20 "a permanent failure fails"

# Claiming paused while we look at waiting and pending jobs.
call POST /api/cron/stop
assert_eq 200 "$CODE" "claiming paused"

# ---------------------------------------------------------------- bulk
# 10 000 jobs, 250 bytes each: past the 2 MiB of api.max_body_bytes, within
# the 16 MiB of a bulk request. Not due for a long time.
PAD=$(head -c 200 /dev/zero | tr '\0' p)
awk -v pad="$PAD" 'BEGIN { printf "["; for (i = 0; i < 10000; i++)
	printf "%s{\"type\": \"noop\", \"payload\": {\"n\": %d, \"pad\": \"%s\"}, \"runAt\": \"2099-01-01T00:00:00Z\"}",
		i ? "," : "", i, pad; printf "]" }' >"$JV_TMP/bulk.json"
assert_match '^2[0-9]{6}$' "$(wc -c <"$JV_TMP/bulk.json")" "the bulk body is over 2 MB"
N0=$(count)
postf /api/jobs "$JV_TMP/bulk.json"
assert_eq 201 "$CODE" "a bulk request of 10 000 jobs: 201"
assert_eq 10000 "$(field '.ids | length')" "10 000 ids"
FIRST=$(field '.ids[0]')
assert_eq "10000|true|true" \
	"$(jv_psql "SELECT count(*) || '|' || bool_and((payload->>'n')::int = id - $FIRST) || '|' || bool_and(status = 'pending') FROM jobvisor.jobs WHERE id >= $FIRST AND id < $FIRST + 10000")" \
	"every one inserted, in the order of the array"
assert_eq "$(jv_psql "SELECT md5(string_agg(id::text, ' ' ORDER BY id)) FROM jobvisor.jobs WHERE id >= $FIRST AND id < $FIRST + 10000")" \
	"$(printf '%s' "$BODY" | jq -r '.ids | map(tostring) | join(" ")' | tr -d '\n' | md5sum | cut -d' ' -f1)" \
	"the ids answered are those rows, in order"

# The defaults of a bulk job are those of one enqueued alone, whichever
# way the bulk goes (one INSERT; enqueue() per job when one has dependsOn
# or uniqueKey).
ROW="type, payload, user_id, priority, max_attempts, timeout_seconds, queue, run_when, status, scheduled_at <= now()"
post /api/jobs '{"type": "noop"}'
ONE=$(jv_psql "SELECT $ROW FROM jobvisor.jobs WHERE id = $(field .id)")
post /api/jobs '[{"type": "noop"}, {"type": "noop", "payload": null, "user": null}, {"type": "noop", "userId": "uid"}]'
assert_eq "201|$ONE|$ONE|uid" "$CODE|$(jv_psql "SELECT $ROW FROM jobvisor.jobs WHERE id = $(field '.ids[0]')")|$(jv_psql "SELECT $ROW FROM jobvisor.jobs WHERE id = $(field '.ids[1]')")|$(jv_psql "SELECT user_id FROM jobvisor.jobs WHERE id = $(field '.ids[2]')")" \
	"a plain bulk request: the defaults of one job (userId, as in a workflow step, is user)"
post /api/jobs "[{\"type\": \"noop\"}, {\"type\": \"noop\", \"uniqueKey\": \"bulk-u\"}, {\"type\": \"noop\", \"dependsOn\": [$FIRST]}]"
assert_eq "201|3" "$CODE|$(field '.ids | length')" "a bulk request with uniqueKey and dependsOn: 201"
assert_eq "$ONE|bulk-u|waiting|$FIRST" \
	"$(jv_psql "SELECT $ROW FROM jobvisor.jobs WHERE id = $(field '.ids[0]')")|$(jv_psql "SELECT unique_key FROM jobvisor.jobs WHERE id = $(field '.ids[1]')")|$(jv_psql "SELECT status FROM jobvisor.jobs WHERE id = $(field '.ids[2]')")|$(jv_psql "SELECT string_agg(depends_on::text, ',') FROM jobvisor.job_dependencies WHERE job_id = $(field '.ids[2]')")" \
	"through enqueue(): the same defaults, the key, the dependency"
assert_eq t "$(jv_psql "SELECT $(field '.ids[0]') < $(field '.ids[1]') AND $(field '.ids[1]') < $(field '.ids[2]')")" "ids in order"
BULKDEP=$(field '.ids[2]')

N0=$(count)
awk 'BEGIN { printf "["; for (i = 0; i < 10001; i++) printf "%s{\"type\": \"noop\"}", i ? "," : ""; printf "]" }' \
	>"$JV_TMP/bulk1.json"
postf /api/jobs "$JV_TMP/bulk1.json"
refused "10 001 jobs in one request" '1 to 10000 jobs; this one has 10001'
post /api/jobs '[]'
refused "an empty array" '1 to 10000 jobs'
post /api/jobs '[{"type": "noop"}, {"type": "noop"}, {"payload": {}}]'
refused "an element without type" '^\[2\]\.type: required'
post /api/jobs '[{"type": "noop"}, 7]'
refused "an element that is not an object" '^\[1\]: a job must be a JSON object'
post /api/jobs '[{"type": "noop", "colour": "red"}]'
refused "an unknown key in an element" '^\[0\]\."colour": unknown field'
post /api/jobs '[{"type": "noop"}, {"type": "noop", "priority": "high"}]'
refused "a wrong type in an element" '^\[1\]\.priority: must be an integer'
post /api/jobs '[{"type": "noop"}, {"type": "noop", "dependsOn": [999999999]}]'
refused "an unknown dependency in an element (found by the database)" '^\[1\]: .*unknown dependency 999999999'
post /api/jobs '[{"type": "noop"}, {"type": "noop", "queue": "nosuchqueue"}]'
refused "an unknown queue in an element (the table's trigger)" '^\[1\]: .*nosuchqueue'
post /api/jobs '[{"type": "noop"}, {"type": "noop", "runAt": "yesterday-ish"}]'
refused "a bad runAt in an element" '^\[1\]: .*yesterday-ish'
post /api/jobs '[{"type": "noop", "runAt": "infinity"}]'
refused "an infinite runAt in an element" '^\[0\]\.runAt: must be a finite time'
post /api/jobs '[{"type": "noop", "user": "a", "userId": "b"}]'
refused "user and userId in an element" '^\[0\]\.userId: give user or userId, not both'

# ---------------------------------------------------------------- dependsOn, runWhen
post /api/jobs '{"type": "noop"}'
P=$(field .id)
post /api/jobs "{\"type\": \"noop\", \"dependsOn\": [$P]}"
assert_eq 201 "$CODE" "a job depending on a pending one: 201"
Q=$(field .id)
call GET "/api/jobs/$Q"
assert_eq "waiting|[$P]|success|null|null|null" \
	"$(field '"\(.status)|\(.dependsOn | tostring)|\(.runWhen)|\(.blockedBy)|\(.workflowId)|\(.progress)"')" \
	"GET: waiting, its dependency, runWhen, the new fields"
call GET "/api/jobs?status=waiting"
assert_eq 200 "$CODE" "status=waiting: 200"
assert_match "(^| )$Q( |\$)" "$(field '[.jobs[].id] | map(tostring) | join(" ")')" "status=waiting lists it"
call GET "/api/jobs?id=$P"
assert_eq "$P|[]" "$(field '"\([.jobs[].id] | map(tostring) | join(" "))|\(.jobs[0].dependsOn // [] | tostring)"')" \
	"id=: that job only"
post /api/jobs "{\"type\": \"noop\", \"dependsOn\": [$P], \"runWhen\": \"always\"}"
assert_eq "201|always" "$CODE|$(jv_psql "SELECT run_when FROM jobvisor.jobs WHERE id = $(field .id)")" \
	"runWhen always: stored"
ALWAYS=$(field .id)

N0=$(count)
for bad in '"dependsOn": 5|dependsOn must be an array of 1 to 100 job ids' \
	'"dependsOn": []|dependsOn must be an array of 1 to 100 job ids' \
	'"dependsOn": ["1"]|dependsOn\[0\] must be a job id' \
	'"dependsOn": [0]|dependsOn\[0\] must be a job id' \
	"\"dependsOn\": [$P, $P]|dependsOn\\[1\\]: job $P is listed twice" \
	"\"dependsOn\": [$(seq -s, 1 101)]|dependsOn must be an array of 1 to 100" \
	"\"dependsOn\": [$P], \"uniqueKey\": \"u\"|dependsOn cannot be used together with uniqueKey" \
	'"dependsOn": [999999998]|unknown dependency 999999998' \
	'"runWhen": "sometimes"|runWhen must be "success" or "always"' \
	'"runWhen": 1|runWhen must be "success" or "always"'; do
	post /api/jobs "{\"type\": \"noop\", ${bad%%|*}}"
	refused "${bad%%|*}" "${bad#*|}"
done

# ---------------------------------------------------------------- workflows: refused
N0=$(count)
post /api/workflows '{"name": "loop", "jobs": [{"key": "a", "type": "noop", "dependsOn": ["b"]},
	{"key": "b", "type": "noop", "dependsOn": ["a"]}]}'
refused "a workflow with a cycle" 'cycle'
post /api/workflows '{"name": "typo", "jobs": [{"key": "a", "type": "noop"},
	{"key": "b", "type": "noop", "dependsOn": ["x"]}]}'
refused "a workflow with an unknown key" 'unknown key "x"'
post /api/workflows '{"name": "twice", "jobs": [{"key": "a", "type": "noop"}, {"key": "a", "type": "noop"}]}'
refused "a workflow with a duplicate key" 'duplicate key "a"'
post /api/workflows '[{"key": "a", "type": "noop"}]'
refused "a workflow that is not an object" 'must be a JSON object'
post /api/workflows ''
refused "a workflow without a body" 'must be a JSON object'

# ---------------------------------------------------------------- workflows: b fails for good
# a -> (b, c) -> d; e after b with runWhen always. b runs a shell command
# that fails until $FLAG exists, with one attempt.
FLAG=$JV_TMP/b-may-succeed
N0=$(count)
post /api/workflows "{\"name\": \"diamond\", \"jobs\": [
	{\"key\": \"a\", \"type\": \"noop\"},
	{\"key\": \"b\", \"type\": \"sh\", \"maxAttempts\": 1, \"dependsOn\": [\"a\"],
	 \"payload\": {\"command\": [\"/bin/sh\", \"-c\", \"test -e '$FLAG' || { echo no flag >&2; exit 3; }\"]}},
	{\"key\": \"c\", \"type\": \"noop\", \"dependsOn\": [\"a\"]},
	{\"key\": \"d\", \"type\": \"noop\", \"dependsOn\": [\"b\", \"c\"]},
	{\"key\": \"e\", \"type\": \"noop\", \"dependsOn\": [\"b\"], \"runWhen\": \"always\"}]}"
assert_eq 201 "$CODE" "a workflow: 201 ($BODY)"
W=$(field .id)
WA=$(field .jobs.a) WB=$(field .jobs.b) WC=$(field .jobs.c) WD=$(field .jobs.d) WE=$(field .jobs.e)
assert_eq "diamond|5" "$(field '"\(.name)|\(.jobs | length)"')" "its name and five steps"
call GET "/api/workflows/$W"
assert_eq 200 "$CODE" "GET the workflow: 200"
assert_eq "running|a:[]|b:[a]|c:[a]|d:[b,c]|e:[b]|pending waiting waiting waiting waiting" \
	"$(field '"\(.status)|\([.steps[] | "\(.key):\(.dependsOn | join(",") | "[\(.)]")"] | join("|"))|\([.steps[].status] | join(" "))"')" \
	"its steps, each with the keys it depends on, a pending and the rest waiting"
call GET "/api/jobs?workflow=$W"
assert_eq "$WE $WD $WC $WB $WA" "$(field '[.jobs[].id] | map(tostring) | join(" ")')" \
	"workflow=: its steps, newest first"
assert_eq "$W|d" "$(field '"\(.jobs[1].workflowId)|\(.jobs[1].workflowKey)"')" "with workflowId and workflowKey"
call GET "/api/workflows?status=running"
assert_match "(^| )$W( |\$)" "$(field '[.workflows[].id] | map(tostring) | join(" ")')" "status=running lists it"
assert_eq "1|4" "$(field ".workflows[] | select(.id == $W) | \"\\(.counts.pending)|\\(.counts.waiting)\"")" \
	"with its counts by status"

call POST /api/cron/start
assert_eq 200 "$CODE" "claiming resumed"
wait_for "[ \"\$(status_of $WE)\" = succeeded ]" 30 "e (runWhen always) runs after b failed"
assert_eq "failed|cancelled|$WB|succeeded" \
	"$(jv_psql "SELECT (SELECT status FROM jobvisor.jobs WHERE id = $WB) || '|' || status || '|' || blocked_by || '|' || (SELECT status FROM jobvisor.jobs WHERE id = $WC) FROM jobvisor.jobs WHERE id = $WD")" \
	"b failed for good, d cancelled, blocked by b; c succeeded"
call GET "/api/jobs/$WD"
assert_match "dependency .*$WB.* failed" "$(field .lastError)" "d's lastError names b"
assert_eq "$WB" "$(field .blockedBy)" "d's blockedBy is b"
call GET "/api/workflows/$W"
assert_eq "failed|succeeded failed succeeded cancelled succeeded" \
	"$(field '"\(.status)|\([.steps[].status] | join(" "))"')" "the workflow failed; each step's state"
call GET "/api/workflows?status=failed"
assert_match "(^| )$W( |\$)" "$(field '[.workflows[].id] | map(tostring) | join(" ")')" "status=failed lists it"
call GET "/api/jobs?workflow=$W&status=cancelled"
assert_eq "$WD" "$(field '[.jobs[].id] | map(tostring) | join(" ")')" "workflow= and status= together"

# retry d itself while b is still failed: refused, naming b; d stays
# cancelled. The bulk form leaves it unchanged.
post "/api/jobs/$WD/retry" ''
assert_eq 409 "$CODE" "retry d while b is failed: 409 ($BODY)"
assert_match "job $WD stays cancelled: dependency .*$WB.* failed; retry that one first" "$(err)" \
	"naming b"
post /api/jobs/retry "{\"ids\": [$WD]}"
assert_eq "200|[]|[$WD]" "$CODE|$(field '.changed | tostring')|$(field '.unchanged | tostring')" \
	"bulk retry of d: unchanged"
assert_eq "cancelled|$WB|3" "$(jv_psql "SELECT status || '|' || blocked_by || '|' || max_attempts FROM jobvisor.jobs WHERE id = $WD")" \
	"d as it was (cancelled, blocked by b, its attempts)"

# retry b: d waits for it again (claiming paused, to see it), then runs.
call POST /api/cron/stop
: >"$FLAG"
post "/api/jobs/$WB/retry" ''
assert_eq "200|pending" "$CODE|$(field .status)" "retry b: 200"
assert_eq "waiting||" "$(jv_psql "SELECT status || '|' || coalesce(blocked_by::text, '') || '|' || coalesce(finished_at::text, '') FROM jobvisor.jobs WHERE id = $WD")" \
	"d waits again (not blocked, not finished)"
call POST /api/cron/start
wait_for "[ \"\$(status_of $WD)\" = succeeded ]" 30 "d runs after b succeeded"
assert_eq t "$(jv_psql "SELECT (SELECT min(started_at) FROM jobvisor.job_executions WHERE job_id = $WD) >= (SELECT max(finished_at) FROM jobvisor.job_executions WHERE job_id = $WB AND outcome = 'succeeded')")" \
	"d started after b's successful attempt finished"
call GET "/api/workflows/$W"
assert_eq succeeded "$(field .status)" "the workflow succeeded"
wait_for "[ \"\$(status_of $Q)\" = succeeded ]" 30 "the job depending on P ran too"
assert_eq t "$(jv_psql "SELECT (SELECT min(started_at) FROM jobvisor.job_executions WHERE job_id = $Q) >= (SELECT max(finished_at) FROM jobvisor.job_executions WHERE job_id = $P)")" \
	"after P finished"

# ---------------------------------------------------------------- workflow cancel
call POST /api/cron/stop
post /api/workflows '{"name": "to-cancel", "jobs": [{"key": "x", "type": "noop"}, {"key": "y", "type": "noop", "dependsOn": ["x"]}]}'
W2=$(field .id)
post "/api/workflows/$W2/cancel" ''
assert_eq "200|$W2|2" "$CODE|$(field .id)|$(field .cancelled)" "cancel a workflow: both steps"
call GET "/api/workflows/$W2"
assert_eq "cancelled|cancelled cancelled" "$(field '"\(.status)|\([.steps[].status] | join(" "))"')" \
	"its steps are cancelled"
post "/api/workflows/$W2/cancel" ''
assert_eq "200|0" "$CODE|$(field .cancelled)" "again: nothing left to cancel"
post /api/workflows/999999999/cancel ''
assert_eq 404 "$CODE" "an unknown workflow: 404"
call GET /api/workflows/999999999
assert_eq 404 "$CODE" "GET an unknown workflow: 404"

# ---------------------------------------------------------------- bulk cancel, retry
post /api/jobs '[{"type": "noop"}, {"type": "noop"}, {"type": "noop"}]'
J1=$(field '.ids[0]') J2=$(field '.ids[1]') J3=$(field '.ids[2]')
post /api/jobs/cancel "{\"ids\": [$J2, $J1, 999999999, $J1]}"
assert_eq "200|[$J1,$J2]|[999999999]" "$CODE|$(field '.changed | tostring')|$(field '.unchanged | tostring')" \
	"bulk cancel: the pending ones changed, an unknown one not"
assert_eq "cancelled cancelled pending" "$(status_of $J1) $(status_of $J2) $(status_of $J3)" "in the table"
post /api/jobs/cancel "{\"ids\": [$J1]}"
assert_eq "200|[]|[$J1]" "$CODE|$(field '.changed | tostring')|$(field '.unchanged | tostring')" \
	"cancelled already: unchanged"
post /api/jobs/retry "{\"ids\": [$J1, $J3], \"attempts\": 2}"
assert_eq "200|[$J1]|[$J3]" "$CODE|$(field '.changed | tostring')|$(field '.unchanged | tostring')" \
	"bulk retry: the cancelled one changed, the pending one not"
assert_eq "pending|5" "$(jv_psql "SELECT status || '|' || max_attempts - attempts + 3 FROM jobvisor.jobs WHERE id = $J1")" \
	"pending again, with 2 more attempts"
for bad in '{}|ids must be an array of 1 to 1000' '{"ids": []}|ids must be an array of 1 to 1000' \
	'{"ids": "1"}|ids must be an array' '{"ids": [1, "2"]}|ids\[1\] must be a job id' \
	'{"ids": [-1]}|ids\[0\] must be a job id' "{\"ids\": [$(seq -s, 1 1001)]}|ids must be an array of 1 to 1000" \
	'{"ids": [1], "why": 1}|unknown key .why.'; do
	post /api/jobs/cancel "${bad%%|*}"
	assert_eq 400 "$CODE" "bulk cancel ${bad%%|*}: 400"
	assert_match "${bad#*|}" "$(err)" "naming the problem"
	post /api/jobs/retry "${bad%%|*}"
	assert_eq 400 "$CODE" "bulk retry ${bad%%|*}: 400"
done
post /api/jobs/retry '{"ids": [1], "attempts": 0}'
assert_eq 400 "$CODE" "bulk retry with attempts 0: 400"

# ---------------------------------------------------------------- search
call GET "/api/jobs?q=needle-IN-THE&limit=5"
assert_eq "200|[]|true" "$CODE|$(field '.jobs | tostring')|$(field .capped)" \
	"q: the newest 10 000 jobs (the bulk ones) do not have it: none, capped"
NEXT=$(field .next)
assert_match '^[0-9]+$' "$NEXT" "and next continues below them"
call GET "/api/jobs?q=needle-IN-THE&limit=5&after=$NEXT"
assert_eq "$NEEDLE|false" "$(field '"\([.jobs[].id] | map(tostring) | join(" "))|\(.capped)"')" \
	"the next page: the job whose error has it (case-insensitive)"
call GET "/api/jobs?q=needle-IN-THE&status=failed"
assert_eq "$NEEDLE|false" "$(field '"\([.jobs[].id] | map(tostring) | join(" "))|\(.capped)"')" \
	"q with status=failed: found at once"
call GET "/api/jobs?q=needle&status=failed&queue=default&type=noop"
assert_eq "$NEEDLE" "$(field '[.jobs[].id] | map(tostring) | join(" ")')" "q with queue and type"
call GET "/api/jobs?q=no-such-text-anywhere&status=failed"
assert_eq "[]|false|null" "$(field '"\(.jobs | tostring)|\(.capped)|\(.next)"')" "q matching nothing"
call GET "/api/jobs?from=2098-01-01T00:00:00Z"
assert_eq "[]" "$(field '.jobs | tostring')" "from in the future: nothing"
call GET "/api/jobs?to=$START"
assert_eq "[]" "$(field '.jobs | tostring')" "to before the first job: nothing"
call GET "/api/jobs?from=$START&type=noop&status=failed"
assert_eq "$NEEDLE" "$(field '[.jobs[].id] | map(tostring) | join(" ")')" "from with type and status"
call GET "/api/jobs?from=$START&limit=3"
assert_eq "$(jv_psql "SELECT string_agg(id::text, ' ' ORDER BY id DESC) FROM (SELECT id FROM jobvisor.jobs ORDER BY id DESC LIMIT 3) n")" \
	"$(field '[.jobs[].id] | map(tostring) | join(" ")')" "from alone: the newest"
call GET "/api/jobs?id=$NEEDLE&status=succeeded"
assert_eq "[]" "$(field '.jobs | tostring')" "id= whose status does not match: nothing"
call GET "/api/jobs?id=$WB&queue=default"
assert_eq "$WB" "$(field '[.jobs[].id] | map(tostring) | join(" ")')" "id= with queue"
for bad in 'status=paused|status must be one of .*waiting' 'id=x|id' 'id=-1|id' 'workflow=1.5|workflow' \
	'q=|q must not be empty' "q=$(head -c 201 /dev/zero | tr '\0' q)|q is too long" \
	'from=notatime|notatime' 'to=2026-13-45|2026-13-45' 'from=infinity|finite' \
	'queue=default|queue lists pending or running jobs only' 'colour=red|colour'; do
	call GET "/api/jobs?${bad%%|*}"
	assert_eq 400 "$CODE" "GET /api/jobs?${bad%%|*}: 400"
	assert_match "${bad#*|}" "$(err)" "naming the problem"
done
for bad in 'status=waiting|status must be one of running' 'limit=0|limit' 'limit=1001|limit' \
	'after=x|after' 'colour=red|colour'; do
	call GET "/api/workflows?${bad%%|*}"
	assert_eq 400 "$CODE" "GET /api/workflows?${bad%%|*}: 400"
	assert_match "${bad#*|}" "$(err)" "naming the problem"
done
call GET /api/workflows/abc
assert_eq 400 "$CODE" "a workflow id that is not a number: 400"
call GET "/api/workflows?limit=1"
assert_eq "1|$W2|$W2" "$(field '"\(.workflows | length)|\(.workflows[0].id)|\(.next)"')" "paging workflows"
call GET "/api/workflows?limit=1&after=$W2"
assert_eq "$W|null" "$(field '"\(.workflows[0].id)|\(.next)"')" "the last page"

# ---------------------------------------------------------------- counts
call GET /api/cron/status
assert_match '^[0-9]+$' "$(field .jobs.waiting)" "/api/cron/status counts waiting jobs"
call GET /metrics
assert_match 'jobvisor_jobs\{status="waiting"\} [0-9]+' "$BODY" "/metrics has the waiting gauge"

# ---------------------------------------------------------------- retry waits
# A waiting job cancelled through the API and retried while its dependency
# is still live waits for it again, and runs only after it.
call POST /api/cron/stop
post /api/workflows '{"name": "retry-waits", "jobs": [{"key": "x", "type": "noop"}, {"key": "y", "type": "noop", "dependsOn": ["x"]}]}'
assert_eq 201 "$CODE" "a workflow x -> y ($BODY)"
WX=$(field .jobs.x) WY=$(field .jobs.y)
post "/api/jobs/$WY/cancel" ''
assert_eq "200|cancelled" "$CODE|$(status_of $WY)" "y cancelled while it waits"
post "/api/jobs/$WY/retry" '{"attempts": 2}'
assert_eq "200|waiting|2" "$CODE|$(field .status)|$(field .maxAttempts)" "retry y: 200, waiting ($BODY)"
assert_eq "waiting|1|false" "$(jv_psql "SELECT j.status || '|' || j.waiting_on || '|' || d.resolved FROM jobvisor.jobs j JOIN jobvisor.job_dependencies d ON d.job_id = j.id WHERE j.id = $WY")" \
	"in the table: waiting on one edge, x, not resolved"
call POST /api/cron/start
wait_for "[ \"\$(status_of $WY)\" = succeeded ]" 30 "y runs after x"
assert_eq t "$(jv_psql "SELECT (SELECT min(started_at) FROM jobvisor.job_executions WHERE job_id = $WY) >= (SELECT max(finished_at) FROM jobvisor.job_executions WHERE job_id = $WX)")" \
	"y started after x finished"
# once x succeeded, a cancelled y retried is pending at once
call POST /api/cron/stop
post "/api/workflows" '{"name": "retry-done", "jobs": [{"key": "x", "type": "noop"}, {"key": "y", "type": "noop", "dependsOn": ["x"]}]}'
WX=$(field .jobs.x) WY=$(field .jobs.y)
post "/api/jobs/$WY/cancel" ''
call POST /api/cron/start
wait_for "[ \"\$(status_of $WX)\" = succeeded ]" 30 "x runs"
post "/api/jobs/$WY/retry" ''
assert_eq "200|pending" "$CODE|$(field .status)" "retry y after x succeeded: pending"
wait_for "[ \"\$(status_of $WY)\" = succeeded ]" 30 "and y runs"


jv_done
