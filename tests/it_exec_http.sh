#!/bin/sh
# it_exec_http.sh -- the http executor through a real `jobvisor serve`
# against tests/servers/httpd.py on 127.0.0.1: success with a JSON body,
# default and payload headers (an ${ENV} token expanded), 4xx permanent,
# 5xx retried until it succeeds, 429 honouring Retry-After, a slow answer
# timing out, an oversize body truncated, a host outside allowed_hosts
# refused without a request, a closed port retried, redirects followed with
# every hop checked, bad payloads failing for good while the supervisor goes
# on, and the same on supervisor threads (isolation: thread).
. "${top_srcdir:-.}/tests/lib.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 not found (tests/servers/httpd.py)"

# Talk to 127.0.0.1 directly, whatever proxy the environment names.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

jv_db
jv_plugin http

HLOG=$JV_TMP/httpd.log
jv_bg python3 "$top_srcdir/tests/servers/httpd.py" --port-file "$JV_TMP/httpd.port" --log "$HLOG"
wait_for "[ -s '$JV_TMP/httpd.port' ]" 10 "httpd.py listening"
PORT=$(cat "$JV_TMP/httpd.port")
BASE=http://127.0.0.1:$PORT
# A port nothing listens on: bound by the kernel, then closed.
CLOSED=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')

JV_HTTP_TEST_TOKEN=tok-$$-secret
export JV_HTTP_TEST_TOKEN
jv_write_config "$JV_CONF" "$(cat <<YAML
  http:
    plugin: http
    base_url: "$BASE/"
    timeout_seconds: 2
    allowed_hosts: ["127.0.0.1"]
    headers: { Authorization: "Bearer \${JV_HTTP_TEST_TOKEN}", X-Default: "from-config" }
    max_response_bytes: 1000
  http_thread:
    plugin: http
    isolation: thread
    base_url: "$BASE"
    timeout_seconds: 2
    follow_redirects: true
    allowed_hosts: ["127.0.0.1", "*.example.invalid"]
YAML
)"
jv_conf_set "$JV_CONF" \
	processor.heartbeat_interval_ms 200 \
	processor.retry_base_ms 10 \
	processor.retry_max_ms 50 \
	processor.max_concurrent_jobs 6

# ----------------------------------------------------- config validation
# bad_config NAME 'KEYS' REGEX: check-config refuses an http instance with KEYS.
bad_config()
{
	jv_write_config "$JV_TMP/$1.yaml" "  bad: { plugin: http, $2 }"
	run "$JOBVISOR" check-config -c "$JV_TMP/$1.yaml"
	assert_rc 1 "config $1 refused"
	assert_match "$3" "$ERR" "config $1: the error names the place and the reason"
}
bad_config base_ftp 'base_url: "ftp://127.0.0.1/"' '[0-9]+:[0-9]+: executors\.bad\.base_url: must be an http:// or https:// URL'
bad_config base_query 'base_url: "http://127.0.0.1/?a=1"' 'executors\.bad\.base_url: must not have a \?query'
bad_config base_host 'base_url: "http://10.0.0.1/", allowed_hosts: [127.0.0.1]' "executors\\.bad\\.base_url: host '10\\.0\\.0\\.1' is not in allowed_hosts"
bad_config header_list 'headers: [a]' 'executors\.bad\.headers: must be a map'
bad_config header_num 'headers: { X-N: 5 }' 'executors\.bad\.headers: X-N: must be a string'
bad_config header_name 'headers: { "X N": "v" }' "executors\\.bad\\.headers: 'X N' is not a valid header name"
bad_config max_body 'max_response_bytes: -1' 'executors\.bad\.max_response_bytes: must be between 0 and'
bad_config pattern 'allowed_hosts: ["a.*.com"]' "executors\\.bad\\.allowed_hosts: 'a\\.\\*\\.com': a '\\*' is only allowed"
bad_config verify 'verify_tls: maybe' 'executors\.bad\.verify_tls'
bad_config unknown 'url: "http://127.0.0.1/"' ":[0-9]+:[0-9]+: unknown key 'url' in executors\\.bad"
run "$JOBVISOR" check-config -c "$JV_CONF"
assert_rc 0 "the test's own config passes check-config"

run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

jv_bg "$JOBVISOR" serve -c "$JV_CONF"
SERVE=$BG_PID
SERVE_ERR=$JV_TMP/bg.$BG_N.err
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.processors WHERE pid = $SERVE AND state = 'running'\")\" = 1 ]" 10 \
	"processor registered as running"

# enqueue TYPE PAYLOAD [MAX_ATTEMPTS [TIMEOUT_S]] -> job id
enqueue()
{
	jv_psql "SELECT jobvisor.enqueue('$1', '$2', max_attempts => ${3:-3}, timeout_seconds => ${4:-NULL})"
}
# wait_final ID STATUS
wait_final()
{
	_wf_n=0
	while [ "$(jv_psql "SELECT status FROM jobvisor.jobs WHERE id = $1")" != "$2" ]; do
		_wf_n=$((_wf_n + 1))
		[ "$_wf_n" -lt $((${3:-20} * 10)) ] ||
			fail "job $1 not $2 after ${3:-20} s: $(jv_psql "SELECT status, attempts, last_error FROM jobvisor.jobs WHERE id = $1") (executions: $(jv_psql "SELECT string_agg(outcome || ' ' || coalesce(error, '') || ' ' || coalesce(output, ''), '; ') FROM jobvisor.job_executions WHERE job_id = $1"))"
		sleep 0.1
	done
	ok "job $1 $2"
}
job() { jv_psql "SELECT $2 FROM jobvisor.jobs WHERE id = $1"; }
outcomes() { jv_psql "SELECT string_agg(outcome, ',' ORDER BY attempt) FROM jobvisor.job_executions WHERE job_id = $1"; }
# Requests in the server's log whose path contains $1, as "METHOD PATH" lines.
requests()
{
	python3 - "$HLOG" "$1" <<'PY'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    if sys.argv[2] in r["path"]:
        print(r["method"], r["path"])
PY
}
# The JSON log entry of the last request whose path contains $1; $2 is a
# Python expression on it (r).
request_field()
{
	python3 - "$HLOG" "$1" "$2" <<'PY'
import json, sys
last = None
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    if sys.argv[2] in r["path"]:
        last = r
print(eval(sys.argv[3], {"r": last}))
PY
}

# ---------------------------------------------------------------- success
S=$(enqueue http '{"path": "/echo?case=ok", "json": {"hello": "world", "n": 1}, "headers": {"X-Payload": "p1", "x-default": "from-payload"}}')
# A bad payload right behind it: the supervisor must go on regardless.
B1=$(enqueue http '{}')
B2=$(enqueue http '{"url": "ftp://127.0.0.1/x"}')
B3=$(enqueue http '{"path": "/echo", "method": 5}')
B4=$(enqueue http '{"path": "/echo", "json": {}, "body": "x"}')
B5=$(enqueue http '{"path": "/echo", "headers": [1]}')
B6=$(enqueue http '{"url": 5}')
B7=$(enqueue http '{"path": "/echo", "method": "BREW"}')
B8=$(enqueue http '{"path": "http://127.0.0.1/echo"}')
B9=$(enqueue http '{"path": "/echo", "headers": {"X-Evil": "a\r\nInjected: 1"}}')
B10=$(enqueue http '{"path": "/echo", "nonsense": 1}')
wait_final "$S" succeeded
R=$(job "$S" result)
assert_eq 200 "$(jv_psql "SELECT result->'status' FROM jobvisor.jobs WHERE id = $S")" "success: result.status 200"
assert_eq '"world"' "$(jv_psql "SELECT result->'body'->'json'->'hello' FROM jobvisor.jobs WHERE id = $S")" \
	"success: a JSON response body is stored parsed"
assert_eq 'false|"application/json"' \
	"$(jv_psql "SELECT result->'body_truncated', result->'headers'->'content-type' FROM jobvisor.jobs WHERE id = $S")" \
	"success: body_truncated false, content-type kept"
assert_match '"duration_ms": [0-9]+' "$R" "success: duration_ms in the result"
assert_eq "POST /echo?case=ok" "$(requests case=ok)" "success: one POST reached the server (method POST by default with json)"
assert_eq "{'hello': 'world', 'n': 1}" "$(request_field case=ok 'r["json"]')" "success: the JSON body arrived"
assert_eq "application/json" "$(request_field case=ok 'r["headers"].get("content-type")')" "success: Content-Type application/json"
assert_eq "Bearer $JV_HTTP_TEST_TOKEN" "$(request_field case=ok 'r["headers"].get("authorization")')" \
	"success: the config header arrived with \${JV_HTTP_TEST_TOKEN} expanded"
assert_eq "from-payload|p1" "$(request_field case=ok 'r["headers"].get("x-default") + "|" + r["headers"].get("x-payload")')" \
	"success: payload headers added and overriding config ones (any case)"
assert_match "^POST $BASE/echo\\?case=ok -> 200 \\([0-9]+ bytes, [0-9]+ ms\\)" \
	"$(jv_psql "SELECT output FROM jobvisor.job_executions WHERE job_id = $S")" "success: one summary output line"

# ----------------------------------------------------------- bad payloads
# (A payload that is not a JSON object never gets this far: the jobs table
# refuses it, jobs_payload_check.)
run jv_psql "SELECT jobvisor.enqueue('http', '5')"
assert_match 'jobs_payload_check' "$ERR" "a JSON number as payload is refused by the database"
check_bad()
{
	wait_final "$1" failed
	assert_eq "1|failed" "$(jv_psql "SELECT attempts, (SELECT outcomes FROM (SELECT string_agg(outcome, ',') outcomes FROM jobvisor.job_executions WHERE job_id = $1) o) FROM jobvisor.jobs WHERE id = $1")" \
		"bad payload $1: failed for good after one attempt"
	assert_match "$2" "$(job "$1" last_error)" "bad payload $1: last_error says why"
}
check_bad "$B1" '^http: payload needs url \(an absolute URL\) or path'
check_bad "$B2" '^http: payload.url must be an http:// or https:// URL'
check_bad "$B3" '^http: payload.method must be a string$'
check_bad "$B4" '^http: payload.json and payload.body exclude each other$'
check_bad "$B5" '^http: payload.headers must be an object'
check_bad "$B6" '^http: payload.url must be a string$'
check_bad "$B7" "^http: unknown payload.method 'BREW'"
check_bad "$B8" '^http: payload.path must be a path relative to base_url, not a URL'
check_bad "$B9" '^http: payload.headers.X-Evil must not contain CR, LF or NUL$'
check_bad "$B10" "^http: unknown payload key 'nonsense'"
assert_eq 1 "$(wc -l <"$HLOG" | tr -d ' ')" "bad payloads: no request reached the server (just the one good job's)"

# ------------------------------------------------------- 4xx is permanent
N=$(enqueue http '{"path": "/status/404?body=no%20such%20thing"}')
wait_final "$N" failed
assert_eq "1|failed" "$(jv_psql "SELECT attempts, '$(outcomes "$N")' FROM jobvisor.jobs WHERE id = $N")" "404: one attempt, failed for good"
assert_eq "http: GET $BASE/status/404?body=no%20such%20thing -> 404 Not Found: no such thing" "$(job "$N" last_error)" \
	"404: last_error names method, URL, status, reason and the body's start"
assert_eq 404 "$(jv_psql "SELECT result->'status' FROM jobvisor.jobs WHERE id = $N")" "404: the response is in the result"

# --------------------------------------------- 5xx is retried, then 200
F=$(enqueue http "{\"path\": \"/flaky/f$$/2\"}" 3)
wait_final "$F" succeeded
assert_eq "3|failed,failed,succeeded" "$(jv_psql "SELECT attempts, '$(outcomes "$F")' FROM jobvisor.jobs WHERE id = $F")" \
	"500 twice: retried, third attempt succeeded"
assert_match "^http: GET $BASE/flaky/f$$/2 -> 500 Internal Server Error: flaky: request 1 of 2 fails$" \
	"$(jv_psql "SELECT error FROM jobvisor.job_executions WHERE job_id = $F AND attempt = 1")" "500: the execution's error"
assert_eq 3 "$(requests "/flaky/f$$/" | wc -l)" "500: three requests reached the server"

# --------------------------------------------- 429 honours Retry-After
T=$(enqueue http '{"path": "/status/429?retry_after=2"}' 2)
wait_final "$T" failed
assert_eq "2|failed,failed" "$(jv_psql "SELECT attempts, '$(outcomes "$T")' FROM jobvisor.jobs WHERE id = $T")" "429: retried up to max_attempts"
assert_eq t "$(jv_psql "SELECT b.started_at - a.finished_at >= interval '1.9 seconds' FROM jobvisor.job_executions a, jobvisor.job_executions b WHERE a.job_id = $T AND b.job_id = $T AND a.attempt = 1 AND b.attempt = 2")" \
	"429: the second attempt waited for Retry-After: 2 (retry_max_ms is 50)"
assert_match '^http: GET .* -> 429 Too Many Requests' "$(job "$T" last_error)" "429: last_error"
assert_eq '"2"' "$(jv_psql "SELECT result->'headers'->'retry-after' FROM jobvisor.jobs WHERE id = $T")" "429: Retry-After in the result headers"

# ------------------------------------------------- a slow answer times out
W=$(enqueue http '{"path": "/slow/5000"}' 1 20)
wait_final "$W" failed
assert_eq "1|failed" "$(jv_psql "SELECT attempts, '$(outcomes "$W")' FROM jobvisor.jobs WHERE id = $W")" \
	"slow: the request timed out (timeout_seconds 2, job deadline 20 s), one retryable failure"
assert_match "^http: GET $BASE/slow/5000: timed out after [0-9]+ ms \\(limit 2000 ms\\)$" "$(job "$W" last_error)" \
	"slow: last_error says timed out"
assert_eq t "$(jv_psql "SELECT duration_ms BETWEEN 1900 AND 4000 FROM jobvisor.job_executions WHERE job_id = $W")" \
	"slow: it gave up after about 2 s"

# ------------------------------------------- an oversize body is truncated
O=$(enqueue http '{"path": "/big/50000"}')
wait_final "$O" succeeded
assert_eq "true|1000|200" "$(jv_psql "SELECT result->'body_truncated', length(result->>'body'), result->'status' FROM jobvisor.jobs WHERE id = $O")" \
	"big: body cut at max_response_bytes (1000), marked truncated"
assert_match "-> 200 \\(1000 bytes, truncated" "$(jv_psql "SELECT output FROM jobvisor.job_executions WHERE job_id = $O")" \
	"big: the output line says truncated"

# --------------------------------------------- a host outside allowed_hosts
D=$(enqueue http "{\"url\": \"http://localhost:$PORT/echo?case=disallowed\"}")
wait_final "$D" failed
assert_eq 1 "$(job "$D" attempts)" "disallowed host: one attempt, failed for good"
assert_eq "http: host 'localhost' is not in allowed_hosts" "$(job "$D" last_error)" "disallowed host: last_error"
assert_eq "" "$(requests case=disallowed)" "disallowed host: no request reached the server"

# ---------------------------------------- connection refused is retryable
C=$(enqueue http "{\"url\": \"http://127.0.0.1:$CLOSED/x\"}" 2)
wait_final "$C" failed
assert_eq "2|failed,failed" "$(jv_psql "SELECT attempts, '$(outcomes "$C")' FROM jobvisor.jobs WHERE id = $C")" "closed port: retried"
assert_match "^http: GET http://127.0.0.1:$CLOSED/x: Couldn't connect to server" "$(job "$C" last_error)" "closed port: last_error"

# --------------------------------------------- the token is never logged
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.job_executions WHERE error LIKE '%$JV_HTTP_TEST_TOKEN%' OR output LIKE '%$JV_HTTP_TEST_TOKEN%'")" \
	"the token appears in no error and no output"
assert_no_match "$JV_HTTP_TEST_TOKEN" "$(cat "$SERVE_ERR")" "the token appears nowhere in the supervisor's log"

# --------------------------------- isolation: thread, redirects, more
TS=$(enqueue http_thread '{"method": "put", "path": "echo?case=thread", "body": "plain text", "headers": {"Content-Type": "text/plain"}}')
TF=$(enqueue http_thread "{\"path\": \"/flaky/t$$/1\", \"expect_status\": [200, 201]}" 2)
TR=$(enqueue http_thread "{\"path\": \"/redirect/302?to=$BASE/echo%3Fcase=redirected\", \"method\": \"POST\", \"json\": {\"a\": 1}}")
TX=$(enqueue http_thread "{\"path\": \"/redirect/307?to=http://localhost:$PORT/echo%3Fcase=redirect-refused\"}")
TE=$(enqueue http_thread '{"path": "/status/201", "expect_status": 204}')
TB=$(enqueue http_thread '{"json": 1}')
# A server that never answers, on a thread (nothing can kill it): the job's
# own deadline (1 s) is shorter than timeout_seconds (2 s) and bounds it.
TH=$(enqueue http_thread '{"path": "/hang"}' 1 1)
for j in $TS $TF $TR; do wait_final "$j" succeeded; done
for j in $TX $TE $TB $TH; do wait_final "$j" failed; done
assert_match '^(failed|timed_out)\|t$' "$(jv_psql "SELECT outcome, duration_ms < 1900 FROM jobvisor.job_executions WHERE job_id = $TH")" \
	"thread: a hanging server is given up at the job's deadline (1 s), not timeout_seconds"
assert_match "http: GET $BASE/hang: timed out after" "$(job "$TH" last_error)" "thread: hang: last_error says timed out"
assert_eq "PUT /echo?case=thread" "$(requests case=thread)" "thread: PUT with a relative path sent"
assert_eq "plain text|text/plain|None" "$(request_field case=thread 'r["body"] + "|" + r["headers"]["content-type"] + "|" + str(r["headers"].get("authorization"))')" \
	"thread: body and payload Content-Type sent, no config headers on this instance"
assert_eq "2|failed,succeeded" "$(jv_psql "SELECT attempts, '$(outcomes "$TF")' FROM jobvisor.jobs WHERE id = $TF")" "thread: 500 retried, then 200"
assert_eq "GET /echo?case=redirected" "$(requests /echo?case=redirected)" "thread: a 302 after POST followed as GET"
assert_match "-> 302 \\(redirect\\)" "$(jv_psql "SELECT output FROM jobvisor.job_executions WHERE job_id = $TR")" "thread: the redirect hop in the output"
assert_eq "http: host 'localhost' is not in allowed_hosts (redirected there)" "$(job "$TX" last_error)" \
	"thread: a redirect to a host outside allowed_hosts refused"
assert_eq "" "$(requests /echo?case=redirect-refused)" "thread: the refused hop was never requested"
assert_match "^http: GET $BASE/status/201 -> 201 Created" "$(job "$TE" last_error)" "thread: expect_status 204 makes 201 a failure"
assert_match "^http: payload needs url" "$(job "$TB" last_error)" "thread: bad payload refused"

# ------------------------------------------------------ still going
G=$(enqueue http '{"path": "/status/200"}')
wait_final "$G" succeeded
ok "after all that the supervisor still runs jobs"
kill -0 "$SERVE" || fail "serve died"
assert_no_match 'crashed|signal' "$(jv_psql "SELECT string_agg(DISTINCT outcome, ',') FROM jobvisor.job_executions")" "no execution crashed"

kill -TERM "$SERVE"
wait "$SERVE"
assert_eq 0 $? "serve exits 0 on SIGTERM"
jv_done
