#!/bin/sh
# it_log_safety.sh -- nothing that reaches a log or a user shows a secret or
# forges a line: malformed database.url values holding a password (libpq
# quotes them, or pieces of them) through check-config, migrate and serve;
# a sql executor whose own database_url is malformed (the job's error, the
# log); over the API, a request path with %0a, %1b and a stray byte, a
# schedule name with a line break (refused: 400 naming the config's rule),
# in the text log and in the JSON log (still one valid object per line).
. "${top_srcdir:-.}/tests/lib.sh"

command -v curl >/dev/null 2>&1 || skip_all "curl not found"
command -v jq >/dev/null 2>&1 || skip_all "jq not found"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

jv_db
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

PW="Pw$$Zq" # the secret to look for; unique in any output
# A line a forger would like to see in the log, as it would start.
FORGED="2026-01-01T00:00:00.000Z error: FORGED"
FORGED_URL=$(printf '%s' "$FORGED" | sed 's/ /%20/g')

# ---------------------------------------------------------------- urls
# Each malformed in a way libpq echoes: the whole URI, the password, or a
# piece of it cut at an unencoded '/' or '@', or a word after a blank.
N=0
for url in "postgresql://app:${PW}%zz@127.0.0.1:1/db" \
	"postgresql://app:${PW}@[::1/db" \
	"postgresql://app:${PW}/more@127.0.0.1:1/db" \
	"postgresql://app:x@${PW}@127.0.0.1:1/db" \
	"host=127.0.0.1 port=1 password=x ${PW}"; do
	N=$((N + 1))
	C=$JV_TMP/bad$N.yaml
	jv_write_config "$C"
	jv_conf_set "$C" database.url "\"$url\""
	grep -qF "$PW" "$C" || fail "url $N: the config holds the url"
	run "$JOBVISOR" check-config -c "$C"
	assert_no_match "$PW" "$OUT$ERR" "url $N: check-config never prints the password"
	run "$JOBVISOR" migrate -c "$C"
	assert_rc 1 "url $N: migrate fails"
	assert_match "could not connect to database: " "$ERR" "url $N: migrate says why"
	assert_no_match "$PW" "$OUT$ERR" "url $N: migrate never prints the password"
	run timeout 60 "$JOBVISOR" serve -c "$C"
	assert_rc 1 "url $N: serve stops"
	assert_no_match "$PW" "$OUT$ERR" "url $N: serve never logs the password"
done
# the ones libpq cannot even read: check-config says so, at the url's place
run "$JOBVISOR" check-config -c "$JV_TMP/bad1.yaml"
assert_rc 1 "check-config refuses a url libpq cannot read"
assert_match "^$JV_TMP/bad1\\.yaml:3:8: database\\.url: not a valid connection string or URI: invalid percent-encoded token: \"\\*\\*\\*\"\$" \
	"$ERR" "at FILE:LINE:COL, with libpq's reason and the password masked"
run "$JOBVISOR" check-config -c "$JV_TMP/bad5.yaml"
assert_match 'missing "=" after "\*\*\*" in connection info string' "$ERR" \
	"a key=value string cut at a blank: the word libpq names is masked"

# ---------------------------------------------------------------- serve
jv_plugin sql
TOKEN="tok-$$-Secr3t"
LOGC=$JV_TMP/log.yaml
jv_write_config "$LOGC" "$(cat <<YAML
  sqlbad:
    plugin: sql
    database_url: "postgresql://app:${PW}%zz@127.0.0.1:1/db"
    queries: { one: "SELECT 1" }
api:
  listen: "127.0.0.1:0"
  token: "$TOKEN"
log: { level: debug }
YAML
)"
jv_bg "$JOBVISOR" serve -c "$LOGC"
SPID=$BG_PID
SERR=$JV_TMP/bg.$BG_N.err
jv_api_port "$SERR"
JV_CALL_AUTH="Authorization: Bearer $TOKEN"
send() { call "$1" "$2" -H 'Content-Type: application/json' --data-binary "$3"; }

# a sql job whose executor cannot read its url: the job's error masks it
ID=$(jv_psql "INSERT INTO jobvisor.jobs (type, payload, max_attempts) VALUES ('sqlbad', '{\"query\": \"one\"}', 1) RETURNING id")
wait_for "[ \"\$(jv_psql \"SELECT status FROM jobvisor.jobs WHERE id = $ID\")\" = failed ]" 20 \
	"the sql job with a malformed database_url fails"
assert_match 'sql: cannot connect to the database: invalid percent-encoded token: "\*\*\*"' \
	"$(jv_psql "SELECT last_error FROM jobvisor.jobs WHERE id = $ID")" \
	"its error says why, with the password masked"
assert_no_match "$PW" "$(jv_psql "SELECT last_error || ' ' || (SELECT string_agg(coalesce(error, '') || coalesce(output, ''), ' ') FROM jobvisor.job_executions WHERE job_id = $ID) FROM jobvisor.jobs WHERE id = $ID")" \
	"neither the job nor its execution holds the password"

# a path that tries to start a line of its own, clear the screen and
# break UTF-8
call GET "/api/x%0a${FORGED_URL}%20path%1b%5b2J%ff"
assert_eq 404 "$CODE" "an unknown path with %0a: 404"
wait_for "grep -qF 'api: GET /api/x\\n$FORGED path\\x1b[2J\\xff -> 404' '$SERR'" 10 \
	"the path is logged escaped, on its line"

# a schedule name with a line break: refused as the config refuses it
send POST /api/schedules "{\"name\": \"evil\\n$FORGED schedule\", \"cron\": \"* * * * * *\", \"type\": \"noop\"}"
assert_eq 400 "$CODE" "a schedule name with a line break: 400"
assert_eq "name must be 1 to 100 of A-Z, a-z, 0-9, '_', '.', '-'" "$(printf '%s' "$BODY" | jq -r .error)" \
	"the 400 names the rule of the config"
send POST /api/schedules '{"name": "with space", "cron": "* * * * * *", "type": "noop"}'
assert_eq 400 "$CODE" "a schedule name with a blank: 400"
send POST /api/schedules "{\"name\": \"$(printf '%0101d' 0)\", \"cron\": \"* * * * * *\", \"type\": \"noop\"}"
assert_eq 400 "$CODE" "a schedule name of 101 characters: 400"
send POST /api/schedules '{"name": "Fine_one.v2-x", "cron": "* * * * * *", "type": "noop"}'
assert_eq 201 "$CODE" "a name the config allows: 201"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.schedules WHERE name LIKE 'evil%'")" \
	"the refused schedule is not stored"
# by the time the good one has fired, a stored bad one would have too
wait_for "grep -qF 'scheduler: schedule Fine_one.v2-x: 1 job enqueued' '$SERR'" 15 \
	"the good schedule fires"

assert_eq 0 "$(grep -c "^$FORGED" "$SERR")" "no forged line in serve's log"
assert_eq 0 "$(grep -c "$(printf '\033')" "$SERR")" "no escape character in serve's log"
assert_eq 0 "$(grep -c "$(printf '\r')" "$SERR")" "no carriage return in serve's log"
assert_eq 0 "$(grep -c -- "$PW" "$SERR")" "no password in serve's log"
jv_kill_pid "$SPID"

# ---------------------------------------------------------------- JSON log
JSONC=$JV_TMP/json.yaml
jv_write_config "$JSONC" "$(cat <<YAML
api:
  listen: "127.0.0.1:0"
  token: "$TOKEN"
log: { level: debug, format: json }
YAML
)"
jv_bg "$JOBVISOR" serve -c "$JSONC"
JPID=$BG_PID
JERR=$JV_TMP/bg.$BG_N.err
wait_for "grep -q 'api: listening on 127.0.0.1:[0-9]* (' '$JERR'" 10 "the API listens (JSON log)"
PORT=$(jq -r 'select(.msg | startswith("api: listening on 127.0.0.1:")) | .msg' "$JERR" |
	sed -n 's/^api: listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' | tail -n 1)
B=http://127.0.0.1:$PORT
call GET "/api/y%0a${FORGED_URL}%20json%1b%5b2J%ff"
assert_eq 404 "$CODE" "JSON log: the unknown path is answered 404"
wait_for "jq -e -s 'map(select(.msg == \"api: GET /api/y\\\\n$FORGED json\\\\x1b[2J\\\\xff -> 404\")) | length == 1' '$JERR'" 10 \
	"JSON log: the path is in msg, escaped as in the text log"
jv_kill_pid "$JPID" # the log is complete
L=$(wc -l <"$JERR")
assert_eq "$L" "$(jq -c 'select(type == "object" and has("msg") and has("level") and has("ts"))' "$JERR" | wc -l)" \
	"JSON log: each of its $L lines is one valid JSON object with ts, level and msg"

jv_done
