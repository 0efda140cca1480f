#!/bin/sh
# it_alert_webhook.sh -- the webhook alert sink through `jobvisor
# test-alert` (the real loader, host, create and send) against
# tests/servers/httpd.py on 127.0.0.1: the JSON body (the alert, id,
# sent_at), the HMAC-SHA256 signature checked with python3 (and none without
# a secret), the delivery/event headers, extra headers, PUT, the outcomes
# (500 and 429 retried with Retry-After, 404 failed, a closed port retried, a
# hanging server bounded by timeout_seconds), config errors named at
# FILE:LINE:COL, and neither the secret nor the URL's path ever shown.
# No database.
. "${top_srcdir:-.}/tests/lib.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 not found (tests/servers/httpd.py)"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

JV_DB_URL=postgresql://unused@127.0.0.1:1/x
jv_plugin webhook

HLOG=$JV_TMP/httpd.log
jv_bg python3 "$top_srcdir/tests/servers/httpd.py" --port-file "$JV_TMP/httpd.port" --log "$HLOG"
wait_for "[ -s '$JV_TMP/httpd.port' ]" 10 "httpd.py listening"
PORT=$(cat "$JV_TMP/httpd.port")
BASE=http://127.0.0.1:$PORT
CLOSED=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')

SECRET="wh-secret-$$-ünï"
TOKEN=pathtoken$$
printf '%s' "$SECRET" >"$JV_TMP/secret"
chmod 0600 "$JV_TMP/secret"
CONF=$JV_TMP/webhook.yaml
jv_write_config "$CONF" "$(cat <<YAML
api:
  dashboard_url: "http://127.0.0.1:8080"
alerts:
  - { plugin: webhook, url: "$BASE/hook/$TOKEN", secret_file: "$JV_TMP/secret", on: [job_failed], headers: { X-Team: ops, Authorization: "Bearer abc" } }
  - { plugin: webhook, url: "$BASE/plain/$TOKEN", on: [job_failed], method: put }
  - { plugin: webhook, url: "$BASE/status/500?t=$TOKEN", secret: "$SECRET", on: [job_failed] }
  - { plugin: webhook, url: "$BASE/status/429?retry_after=3&t=$TOKEN", secret: "$SECRET", on: [job_failed] }
  - { plugin: webhook, url: "$BASE/status/404?body=no+such+hook&t=$TOKEN", secret: "$SECRET", on: [job_failed] }
  - { plugin: webhook, url: "http://127.0.0.1:$CLOSED/$TOKEN", secret: "$SECRET", on: [job_failed] }
  - { plugin: webhook, url: "$BASE/hang?t=$TOKEN", secret: "$SECRET", on: [job_failed], timeout_seconds: 2 }
YAML
)"

run "$JOBVISOR" check-config -c "$CONF"
assert_rc 0 "the test's config passes check-config"
ALL="$OUT $ERR"

# last PY_EXPR: evaluate PY_EXPR on the last logged request (r; m its JSON).
last()
{
	tail -n 1 "$HLOG" | python3 -c "import json, sys, hmac, hashlib; r = json.loads(sys.stdin.read()); m = r['json']; h = r['headers']; print($1)"
}

# ------------------------------------------------------------ signed POST
run "$JOBVISOR" test-alert -c "$CONF" --sink 0 --job-id 77 --type billing --user cust-9 --error "it <broke> & \"quoted\""
assert_rc 0 "alerts[0] sent"
assert_match "^alerts\\[0\\] \\(webhook\\): sent: POST http://127\\.0\\.0\\.1:$PORT -> 200 \\(delivery [0-9a-f]{32}\\)\$" "$OUT" "output: method, origin, status, delivery"
ALL="$ALL $OUT $ERR"
assert_eq "POST /hook/$TOKEN" "$(last "r['method'] + ' ' + r['path']")" "POST to the URL"
assert_eq "application/json" "$(last "h['content-type']")" "Content-Type"
assert_match '^jobvisor-webhook/' "$(last "h['user-agent']")" "User-Agent"
assert_eq "job_failed" "$(last "h['x-jobvisor-event']")" "X-Jobvisor-Event"
assert_eq "True" "$(last "h['x-jobvisor-delivery'] == m['id'] and len(m['id']) == 32")" "X-Jobvisor-Delivery is the body's id"
assert_eq "ops|Bearer abc" "$(last "h['x-team'] + '|' + h['authorization']")" "extra headers"
assert_match '^sha256=[0-9a-f]{64}$' "$(last "h['x-jobvisor-signature-256']")" "signature header"
SIG_OK=$(tail -n 1 "$HLOG" | SECRET="$SECRET" python3 -c '
import hashlib, hmac, json, os, sys
r = json.loads(sys.stdin.read())
want = "sha256=" + hmac.new(os.environb[b"SECRET"], r["body"].encode(), hashlib.sha256).hexdigest()
print(hmac.compare_digest(want, r["headers"]["x-jobvisor-signature-256"]))')
assert_eq "True" "$SIG_OK" "the signature verifies with the secret (python3 hmac)"
if command -v openssl >/dev/null 2>&1; then
	last "r['body']" | head -c -1 >"$JV_TMP/body"
	OSIG=$(openssl dgst -sha256 -hmac "$SECRET" "$JV_TMP/body" | sed 's/.*= //')
	assert_eq "sha256=$OSIG" "$(last "h['x-jobvisor-signature-256']")" "the signature verifies with openssl dgst"
fi
BAD_OK=$(tail -n 1 "$HLOG" | python3 -c '
import hashlib, hmac, json, sys
r = json.loads(sys.stdin.read())
want = "sha256=" + hmac.new(b"wrong", r["body"].encode(), hashlib.sha256).hexdigest()
print(hmac.compare_digest(want, r["headers"]["x-jobvisor-signature-256"]))')
assert_eq "False" "$BAD_OK" "a wrong secret does not verify"
assert_eq "job_failed|job #77 (billing) failed after 3 attempts|1" "$(last "m['event'] + '|' + m['title'] + '|' + str(m['count'])")" "body: event, title, count"
assert_eq "77|billing|cust-9|3|3" "$(last "'|'.join(str(m['job'][k]) for k in ('id', 'type', 'user', 'attempt', 'max_attempts'))")" "body: the job"
assert_eq 'it <broke> & "quoted"' "$(last "m['error']")" "body: the error as is"
assert_eq "http://127.0.0.1:8080/#/jobs/77" "$(last "m['link']")" "body: the dashboard link"
assert_match "^$JV_TEST_NAME \\(test-alert on " "$(last "m['processor']")" "body: the processor"
assert_match '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$' "$(last "m['sent_at']")" "body: sent_at in ISO-8601 UTC"
FIRST_ID=$(last "m['id']")

# Every delivery has its own id.
run "$JOBVISOR" test-alert -c "$CONF" --sink 0 --count 37
assert_rc 0 "folded alert sent"
ALL="$ALL $OUT $ERR"
assert_no_match "$FIRST_ID" "$(last "m['id']")" "a new delivery id"
assert_eq "37|42|78" "$(last "'|'.join(str(m[k]) for k in ('count', 'first_job_id', 'last_job_id'))")" "folded: count, first and last job"

# ----------------------------------------------------- unsigned, with PUT
run "$JOBVISOR" test-alert -c "$CONF" --sink 1 --event processor_down
assert_rc 0 "alerts[1] sent"
ALL="$ALL $OUT $ERR"
assert_eq "PUT /plain/$TOKEN" "$(last "r['method'] + ' ' + r['path']")" "PUT"
assert_eq "False" "$(last "'x-jobvisor-signature-256' in h")" "no signature without a secret"
assert_eq "processor_down|processor_down" "$(last "h['x-jobvisor-event'] + '|' + m['event']")" "event header and body"
assert_eq "True" "$(last "len(h['x-jobvisor-delivery']) == 32")" "delivery header without a secret too"

# ---------------------------------------------------------------- outcomes
run "$JOBVISOR" test-alert -c "$CONF" --sink 2
assert_rc 1 "500: not sent"
assert_match "^alerts\\[2\\] \\(webhook\\): failed \\(would be retried\\): webhook: POST http://127\\.0\\.0\\.1:$PORT -> 500" "$OUT" "500 would be retried"
ALL="$ALL $OUT $ERR"
run "$JOBVISOR" test-alert -c "$CONF" --sink 3
assert_match 'failed \(would be retried\): webhook: POST .* -> 429.*\(retry in 3 s\)' "$OUT" "429 retried after Retry-After"
ALL="$ALL $OUT $ERR"
run "$JOBVISOR" test-alert -c "$CONF" --sink 4
assert_match '^alerts\[4\] \(webhook\): failed: webhook: POST .* -> 404: no such hook$' "$OUT" "404 fails for good, with the answer"
ALL="$ALL $OUT $ERR"
run "$JOBVISOR" test-alert -c "$CONF" --sink 5
assert_match "failed \\(would be retried\\): webhook: POST http://127\\.0\\.0\\.1:$CLOSED: " "$OUT" "closed port retried"
ALL="$ALL $OUT $ERR"
T0=$(date +%s)
run "$JOBVISOR" test-alert -c "$CONF" --sink 6
T1=$(date +%s)
assert_match 'failed \(would be retried\): webhook: POST .*: no answer within [0-9]+ ms' "$OUT" "hanging server: timed out"
[ $((T1 - T0)) -le 5 ] && ok "timed out within bounds ($((T1 - T0)) s)" || fail "took $((T1 - T0)) s"
ALL="$ALL $OUT $ERR"
assert_no_match "$TOKEN" "$ALL" "the URL's path and query never shown"
assert_no_match "wh-secret" "$ALL" "the secret never shown"

# --------------------------------------------------------- bad configs
# bad NAME 'ENTRY' REGEX: check-config refuses the alert entry.
bad()
{
	jv_write_config "$JV_TMP/$1.yaml" "alerts:
  - $2"
	run "$JOBVISOR" check-config -c "$JV_TMP/$1.yaml"
	assert_rc 1 "config $1 refused"
	assert_match "$3" "$ERR" "config $1: the error names the place and the reason"
	assert_no_match "$TOKEN|wh-secret" "$OUT $ERR" "config $1: neither URL nor secret shown"
}
bad missing '{ plugin: webhook, on: [job_failed] }' "$JV_TMP/missing\\.yaml:[0-9]+:[0-9]+: alerts\\[0\\].*url is required"
bad ftp "{ plugin: webhook, on: [job_failed], url: \"ftp://127.0.0.1/$TOKEN\" }" "$JV_TMP/ftp\\.yaml:[0-9]+:[0-9]+: alerts\\[0\\]\\.url: must be an http:// or https:// URL"
bad nohost '{ plugin: webhook, on: [job_failed], url: "http://" }' 'alerts\[0\]\.url: '
bad header_nl "{ plugin: webhook, on: [job_failed], url: \"$BASE/x\", headers: { X-A: \"a\\r\\nInjected: 1\" } }" "$JV_TMP/header_nl\\.yaml:[0-9]+:[0-9]+: alerts\\[0\\]\\.headers: X-A: must not contain CR, LF or NUL"
bad header_name "{ plugin: webhook, on: [job_failed], url: \"$BASE/x\", headers: { \"X A\": v } }" "alerts\\[0\\]\\.headers: 'X A' is not a valid header name"
bad header_own "{ plugin: webhook, on: [job_failed], url: \"$BASE/x\", headers: { X-Jobvisor-Signature-256: v } }" 'alerts\[0\]\.headers: X-Jobvisor-Signature-256: is set by the plugin itself'
bad header_list "{ plugin: webhook, on: [job_failed], url: \"$BASE/x\", headers: [a] }" 'alerts\[0\]\.headers: must be a map'
bad method "{ plugin: webhook, on: [job_failed], url: \"$BASE/x\", method: GET }" "$JV_TMP/method\\.yaml:[0-9]+:[0-9]+: alerts\\[0\\]\\.method: must be POST or PUT"
bad secret_num "{ plugin: webhook, on: [job_failed], url: \"$BASE/x\", secret: [a] }" 'alerts\[0\]\.secret'

# url_file works; plain http to another host draws a warning.
printf '%s' "https://hooks.example.invalid/in/$TOKEN" >"$JV_TMP/hook.url"
chmod 0600 "$JV_TMP/hook.url"
jv_write_config "$JV_TMP/file.yaml" "alerts:
  - { plugin: webhook, on: [job_failed], url_file: \"$JV_TMP/hook.url\" }
  - { plugin: webhook, on: [job_failed], url: \"http://hooks.example.invalid/$TOKEN\" }"
run "$JOBVISOR" check-config -c "$JV_TMP/file.yaml"
assert_rc 0 "url_file accepted"
assert_match 'alerts\[1\].*not https://' "$ERR$OUT" "plain http warned about"
assert_no_match "$TOKEN" "$OUT $ERR" "the URL's path is not shown in the warning"

jv_done
