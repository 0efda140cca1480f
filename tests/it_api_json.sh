#!/bin/sh
# it_api_json.sh -- numbers and nesting that PostgreSQL's jsonb holds reach
# the executor and the API unchanged in meaning, through a running
# `jobvisor serve`: {"x": 1e20} (stored as 100000000000000000000) enqueued
# through the API runs and its GET shows it; an sql job returning
# 1e20::float8 succeeds and its GET shows the value; a payload nested
# beyond the documented 512 levels, or holding a number beyond a double,
# inserted by SQL fails for good at claim naming the cause (one execution
# row, no executor called) and its GET answers 200 with the text beside a
# null; the limit holds at 512 levels exactly, for the API (400) and the
# CLI (exit 1) too; a schedule's payload and a result PostgreSQL holds
# likewise never make a GET answer 500.
. "${top_srcdir:-.}/tests/lib.sh"

command -v curl >/dev/null 2>&1 || skip_all "curl not found"
command -v jq >/dev/null 2>&1 || skip_all "jq not found"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

TOKEN="tok-$$-js0n"
jv_db
jv_plugin sql
jv_write_config "$JV_CONF" "$(cat <<YAML
  sql:
    plugin: sql
    isolation: thread
    queries:
      big: "SELECT 1e20::float8 AS f, -1.5e300::float8 AS g"
api:
  listen: "127.0.0.1:0"
  token: "$TOKEN"
YAML
)"
jv_conf_set "$JV_CONF" \
	processor.heartbeat_interval_ms 200 \
	processor.max_concurrent_jobs 4
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

jv_bg "$JOBVISOR" serve -c "$JV_CONF"
SERR=$JV_TMP/bg.$BG_N.err
jv_api_port "$SERR"
JV_CALL_AUTH="Authorization: Bearer $TOKEN"
post() { call POST "$1" -H 'Content-Type: application/json' --data-binary "$2"; }
field() { printf '%s' "$BODY" | jq -r "$1"; }
status_of() { jv_psql "SELECT status FROM jobvisor.jobs WHERE id = $1"; }
# nested N X: X inside N arrays
nested() { awk -v n="$1" -v x="$2" 'BEGIN { for (i = 0; i < n; i++) printf "["; printf "%s", x; for (i = 0; i < n; i++) printf "]" }'; }
# ended ID: wait until the job ended; outcome ID: its status|attempts
ended()
{
	wait_for "jv_psql \"SELECT 1 FROM jobvisor.jobs WHERE id = $1 AND status IN ('succeeded', 'failed', 'cancelled')\" | grep -q 1" \
		20 "job $1 ended"
}
outcome() { jv_psql "SELECT status || '|' || attempts FROM jobvisor.jobs WHERE id = $1"; }
# insert_noop PAYLOAD_SQL: a noop job by plain SQL; prints its id
insert_noop() { jv_psql "INSERT INTO jobvisor.jobs (type, payload) VALUES ('noop', ($1)::jsonb) RETURNING id"; }

# ------------------------------------------- 1e20 through the API, to the executor
post /api/jobs '{"type": "noop", "payload": {"data": {"x": 1e20, "n": -1e20, "s": "100000000000000000000"}, "result": {"x": 1e20}}}'
assert_eq 201 "$CODE" "enqueue {x: 1e20}: 201"
ID=$(field .id)
assert_eq '{"data": {"n": -100000000000000000000, "s": "100000000000000000000", "x": 100000000000000000000}, "result": {"x": 100000000000000000000}}' \
	"$(jv_psql "SELECT payload FROM jobvisor.jobs WHERE id = $ID")" "jsonb holds it as digits"
ended "$ID"
assert_eq "succeeded|1" "$(outcome "$ID")" "the executor read the payload: succeeded"
call GET "/api/jobs/$ID"
assert_eq 200 "$CODE" "its GET: 200"
assert_eq "true|true|true|100000000000000000000|true|null" \
	"$(field '"\(.payload.data.x == 1e20)|\(.payload.data.n == -1e20)|\(.result.x == 1e20)|\(.payload.data.s)|\(.result.x | type == "number")|\(.payloadOmitted)"')" \
	"payload and result (echoed by the executor) show 1e20 as numbers, the string untouched"
call GET "/api/jobs?type=noop"
assert_eq 200 "$CODE" "the list: 200"

# ------------------------------------------- the CLI takes what PostgreSQL takes
run "$JOBVISOR" enqueue -c "$JV_CONF" --type noop --payload '{"data": 100000000000000000000}'
assert_rc 0 "the CLI enqueues an integer beyond int64"
CID=$OUT
assert_eq '{"data": 100000000000000000000}' \
	"$(jv_psql "SELECT payload FROM jobvisor.jobs WHERE id = $CID")" "stored as given"
ended "$CID"
assert_eq "succeeded|1" "$(outcome "$CID")" "and it runs"

# ------------------------------------------- an sql job returning 1e20::float8
post /api/jobs '{"type": "sql", "payload": {"query": "big"}}'
assert_eq 201 "$CODE" "enqueue the sql job"
SID=$(field .id)
ended "$SID"
assert_eq "succeeded|1" "$(outcome "$SID")" "the sql job succeeded"
call GET "/api/jobs/$SID"
assert_eq 200 "$CODE" "its GET: 200"
assert_eq "true|true" "$(field '"\(.result.rows[0].f == 1e20)|\(.result.rows[0].g == -1.5e300)"')" \
	"the result shows 1e20 and -1.5e300"

# ------------------------------------------- nesting beyond the limit, by SQL
DEEP_SQL="'{\"data\": ' || repeat('[', 3000) || repeat(']', 3000) || '}'"
DID=$(insert_noop "$DEEP_SQL")
ended "$DID"
assert_eq "failed|1" "$(outcome "$DID")" "a payload 3001 levels deep fails for good, first attempt"
assert_eq "payload nested 3001 levels deep: at most 512 levels of arrays and objects reach an executor" \
	"$(jv_psql "SELECT last_error FROM jobvisor.jobs WHERE id = $DID")" "last_error names the limit"
assert_eq "1|failed|payload nested 3001 levels deep: at most 512 levels of arrays and objects reach an executor" \
	"$(jv_psql "SELECT count(*), min(outcome), min(error) FROM jobvisor.job_executions WHERE job_id = $DID")" \
	"one execution row, with the same error (not the executor's)"
wait_for "grep -q 'job $DID: payload nested 3001 levels deep' '$SERR'" 5 "the log says so"
call GET "/api/jobs/$DID"
assert_eq 200 "$CODE" "its GET: 200"
assert_eq "null|nested 3001 levels deep: at most 2047 can be read|failed" \
	"$(field '"\(.payload)|\(.payloadOmitted)|\(.status)"')" "payload null, payloadOmitted says why"
assert_eq "$(jv_psql "SELECT payload::text FROM jobvisor.jobs WHERE id = $DID")" \
	"$(field .payloadText)" "payloadText holds the payload as PostgreSQL prints it"

# exactly at the limit it runs; one more level fails
AT=$(insert_noop "'{\"data\": $(nested 511 1)}'")
OVER=$(insert_noop "'{\"data\": $(nested 512 1)}'")
ended "$AT"
assert_eq "succeeded|1" "$(outcome "$AT")" "512 levels: runs"
ended "$OVER"
assert_eq "failed|1" "$(outcome "$OVER")" "513 levels: fails"
assert_match "nested 513 levels deep: at most 512" \
	"$(jv_psql "SELECT last_error FROM jobvisor.jobs WHERE id = $OVER")" "naming the limit"
call GET "/api/jobs/$OVER"
assert_eq 200 "$CODE" "its GET: 200 (shown in full)"

# the API and the CLI refuse what would fail at claim
post /api/jobs "{\"type\": \"noop\", \"payload\": {\"data\": $(nested 512 1)}}"
assert_eq 400 "$CODE" "the API refuses a payload 513 levels deep: 400"
assert_eq "payload is nested 513 levels deep: at most 512 levels of arrays and objects" \
	"$(field .error)" "naming the limit"
post /api/jobs "{\"type\": \"noop\", \"payload\": {\"data\": $(nested 511 1)}}"
assert_eq 201 "$CODE" "and takes one 512 levels deep"
run "$JOBVISOR" enqueue -c "$JV_CONF" --type noop --payload "{\"data\": $(nested 600 1)}"
assert_rc 1 "the CLI refuses a payload 601 levels deep"
assert_match "invalid --payload: nested 601 levels deep: at most 512" "$ERR" "naming the limit"

# ------------------------------------------- a number beyond a double, by SQL
HID=$(insert_noop "'{\"data\": [1, 1e400]}'")
ended "$HID"
assert_eq "failed|1" "$(outcome "$HID")" "a payload with 1e400 fails for good"
assert_match "^payload holds a number beyond the range of a double \(at byte [0-9]+\): no executor can read it$" \
	"$(jv_psql "SELECT last_error FROM jobvisor.jobs WHERE id = $HID")" "naming why"
call GET "/api/jobs/$HID"
assert_eq 200 "$CODE" "its GET: 200"
assert_match "^null\|holds a number beyond the range of a double" \
	"$(field '"\(.payload)|\(.payloadOmitted)"')" "payload null, payloadOmitted says why"

# ------------------------------------------- a result PostgreSQL holds
jv_psql "UPDATE jobvisor.jobs SET result = ($DEEP_SQL)::jsonb WHERE id = $SID" >/dev/null
call GET "/api/jobs/$SID"
assert_eq 200 "$CODE" "a result 3001 levels deep: GET 200"
assert_eq "null|nested 3001 levels deep: at most 2047 can be read|big" \
	"$(field '"\(.result)|\(.resultOmitted)|\(.payload.query)"')" "result null, resultOmitted says why, payload shown"

# ------------------------------------------- schedules
post /api/schedules '{"name": "big", "cron": "0 3 1 1 *", "type": "noop", "enabled": false, "payload": {"data": {"x": 1e20}}}'
assert_eq 201 "$CODE" "a schedule with 1e20 in its payload: 201"
call GET /api/schedules
assert_eq 200 "$CODE" "the schedules: 200"
assert_eq true "$(field '.schedules[] | select(.name == "big") | .payload.data.x == 1e20')" "showing 1e20"
post /api/schedules "{\"name\": \"deep\", \"cron\": \"0 3 1 1 *\", \"type\": \"noop\", \"payload\": {\"data\": $(nested 512 1)}}"
assert_eq 400 "$CODE" "a schedule's payload 513 levels deep: 400"
assert_match "payload is nested 513 levels deep: at most 512" "$(field .error)" "naming the limit"
jv_psql "UPDATE jobvisor.schedules SET payload = ($DEEP_SQL)::jsonb WHERE name = 'big'" >/dev/null
call GET /api/schedules
assert_eq 200 "$CODE" "a schedule's payload 3001 levels deep, by SQL: 200"
assert_eq "null|nested 3001 levels deep: at most 2047 can be read" \
	"$(field '.schedules[] | select(.name == "big") | "\(.payload)|\(.payloadOmitted)"')" "payload null, payloadOmitted says why"

assert_no_match " error: |crash|Sanitizer" "$(grep -v 'payload' "$SERR")" "the supervisor logged no error"
jv_done
