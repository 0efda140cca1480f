#!/bin/sh
# it_alert_slack.sh -- the slack alert sink through `jobvisor test-alert`
# (the real loader, host, create and send) against tests/servers/httpd.py on
# 127.0.0.1: the Block Kit message (title, fields, escaped and trimmed error,
# dashboard link, mention), a folded alert, Slack's answers (2xx sent, 500
# and 429 retried with Retry-After, 404 failed with Slack's text), a closed
# port, a hanging server bounded by timeout_seconds, config errors named at
# FILE:LINE:COL, and the webhook URL never shown. No database.
. "${top_srcdir:-.}/tests/lib.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 not found (tests/servers/httpd.py)"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

JV_DB_URL=postgresql://unused@127.0.0.1:1/x
jv_plugin slack

HLOG=$JV_TMP/httpd.log
jv_bg python3 "$top_srcdir/tests/servers/httpd.py" --port-file "$JV_TMP/httpd.port" --log "$HLOG"
wait_for "[ -s '$JV_TMP/httpd.port' ]" 10 "httpd.py listening"
PORT=$(cat "$JV_TMP/httpd.port")
BASE=http://127.0.0.1:$PORT
CLOSED=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')

# The secret part of the URL; it must never be printed.
HOOK=T000-B000-hooksecret$$
CONF=$JV_TMP/slack.yaml
jv_write_config "$CONF" "$(cat <<YAML
api:
  dashboard_url: "http://127.0.0.1:8080/"
alerts:
  - { plugin: slack, webhook_url: "$BASE/slack/$HOOK", on: [job_failed], mention: "<!here>", channel: "#ops", username: jobvisor, icon_emoji: ":rotating_light:" }
  - { plugin: slack, webhook_url: "$BASE/status/500?x=$HOOK", on: [job_failed] }
  - { plugin: slack, webhook_url: "$BASE/status/429?retry_after=7&x=$HOOK", on: [job_failed] }
  - { plugin: slack, webhook_url: "$BASE/status/404?body=no_service&x=$HOOK", on: [job_failed] }
  - { plugin: slack, webhook_url: "http://127.0.0.1:$CLOSED/$HOOK", on: [job_failed] }
  - { plugin: slack, webhook_url: "$BASE/hang?x=$HOOK", on: [job_failed], timeout_seconds: 2 }
YAML
)"

run "$JOBVISOR" check-config -c "$CONF"
assert_rc 0 "the test's config passes check-config"

# last_json PY_EXPR: evaluate PY_EXPR on the last logged request (r).
last()
{
	tail -n 1 "$HLOG" | python3 -c "import json, sys; r = json.loads(sys.stdin.read()); m = r['json']; print($1)"
}

# ------------------------------------------------------------- one alert
ERRTXT="boom <script>alert(1)</script> & more"
run "$JOBVISOR" test-alert -c "$CONF" --sink 0 --job-id 77 --type billing --user cust-9 --error "$ERRTXT"
assert_rc 0 "alerts[0] sent"
assert_match '^alerts\[0\] \(slack\): sent: the Slack webhook answered 200' "$OUT" "sent, with the status"
assert_eq "POST" "$(last "r['method']")" "posted"
assert_eq "/slack/$HOOK" "$(last "r['path']")" "to the webhook URL"
assert_match '^application/json' "$(last "r['headers']['content-type']")" "as JSON"
assert_eq "job #77 (billing) failed after 3 attempts" "$(last "m['blocks'][0]['text']['text']")" "header block: the title"
assert_eq "header" "$(last "m['blocks'][0]['type']")" "the first block is a header"
assert_eq "<!here> job #77 (billing) failed after 3 attempts" "$(last "m['text']")" "fallback text: mention and title"
assert_eq "#ops|jobvisor|:rotating_light:" "$(last "m['channel'] + '|' + m['username'] + '|' + m['icon_emoji']")" "channel, username, icon_emoji"
FIELDS=$(last "'\n'.join(f['text'] for f in m['blocks'][1]['fields'])")
assert_match '^\*Event\*$' "$FIELDS" "field: event"
assert_match '^`job_failed`$' "$FIELDS" "event value"
assert_match '^<http://127\.0\.0\.1:8080/#/jobs/77\|#77>$' "$FIELDS" "job id linked to the dashboard"
assert_match '^billing$' "$FIELDS" "type"
assert_match '^cust-9$' "$FIELDS" "user"
assert_match '^3 of 3$' "$FIELDS" "attempt"
assert_match '^\*Processor\*$' "$FIELDS" "processor field"
assert_match "^$JV_TEST_NAME \\(test-alert on " "$FIELDS" "processor value"
assert_no_match 'Count' "$FIELDS" "no count when not folded"
assert_eq "<!here>" "$(last "m['blocks'][1]['text']['text']")" "mention in the section"
ERRBLOCK=$(last "[b for b in m['blocks'] if b['type'] == 'section' and 'text' in b and b['text']['text'].startswith('*Error*')][0]['text']['text']")
assert_eq '*Error*
```boom &lt;script&gt;alert(1)&lt;/script&gt; &amp; more```' "$ERRBLOCK" "error escaped in a code block"
assert_eq "http://127.0.0.1:8080/#/jobs/77" "$(last "[b for b in m['blocks'] if b['type'] == 'actions'][0]['elements'][0]['url']")" "button: open in dashboard"
assert_match '^<!date\^[0-9]+\^' "$(last "[b for b in m['blocks'] if b['type'] == 'context'][0]['elements'][0]['text']")" "context: the time"

# A 2000-character error: trimmed by the core to 500 bytes, escaped, bounded.
LONG=$(python3 -c 'print("<&>" * 700)')
run "$JOBVISOR" test-alert -c "$CONF" --sink 0 --error "$LONG"
assert_rc 0 "long error sent"
ERRLEN=$(last "len([b for b in m['blocks'] if b.get('text', {}).get('text', '').startswith('*Error*')][0]['text']['text'])")
[ "$ERRLEN" -le 2900 ] && [ "$ERRLEN" -gt 500 ] && ok "long error within 2900 chars ($ERRLEN)" || fail "long error block is $ERRLEN chars"
assert_eq "True" "$(last "'&amp;&gt;&lt;&amp;' in str(m['blocks']) and '<&>' not in str(m['blocks'])")" "long error escaped"
assert_match '…```$' "$(last "[b for b in m['blocks'] if b.get('text', {}).get('text', '').startswith('*Error*')][0]['text']['text']")" "long error marked as cut"

# A long title: the header is cut to 150 characters.
run "$JOBVISOR" test-alert -c "$CONF" --sink 0 --type "$(python3 -c 'print("é" * 200)')"
assert_rc 0 "long type sent"
assert_eq "150" "$(last "len(m['blocks'][0]['text']['text'])")" "header cut to 150 characters"
assert_match '…$' "$(last "m['blocks'][0]['text']['text']")" "header marked as cut"

# A folded alert.
run "$JOBVISOR" test-alert -c "$CONF" --sink 0 --count 37
assert_rc 0 "folded alert sent"
FIELDS=$(last "'\n'.join(f['text'] for f in m['blocks'][1]['fields'])")
assert_match '^37$' "$FIELDS" "the count"
assert_match '^#42 … #78$' "$FIELDS" "the range of jobs"
assert_match '^37 alerts from <!date' "$(last "[b for b in m['blocks'] if b['type'] == 'context'][0]['elements'][0]['text']")" "the time range"
assert_eq "http://127.0.0.1:8080/" "$(last "[b for b in m['blocks'] if b['type'] == 'actions'][0]['elements'][0]['url']")" "folded: link to the dashboard"
assert_match '^37 jobs of type test failed' "$(last "m['blocks'][0]['text']['text']")" "folded title"

# Another event: no job fields, no mention.
run "$JOBVISOR" test-alert -c "$CONF" --sink 0 --event processor_started
assert_rc 0 "processor_started sent"
FIELDS=$(last "'\n'.join(f['text'] for f in m['blocks'][1]['fields'])")
assert_no_match 'Job|Attempt|User|Error' "$FIELDS" "no job fields"
assert_eq "False" "$(last "'<!here>' in json.dumps(m)")" "no mention on processor_started"

# ---------------------------------------------------------------- outcomes
ALL=
run "$JOBVISOR" test-alert -c "$CONF" --sink 1
assert_rc 1 "500: not sent"
assert_match '^alerts\[1\] \(slack\): failed \(would be retried\): slack: the Slack webhook answered 500' "$OUT" "500 would be retried"
ALL="$ALL $OUT $ERR"
run "$JOBVISOR" test-alert -c "$CONF" --sink 2
assert_match 'failed \(would be retried\): .*answered 429.*retry in 7 s' "$OUT" "429 retried after Retry-After"
ALL="$ALL $OUT $ERR"
run "$JOBVISOR" test-alert -c "$CONF" --sink 3
assert_match '^alerts\[3\] \(slack\): failed: slack: the Slack webhook answered 404: no_service' "$OUT" "404 fails for good with Slack's text"
ALL="$ALL $OUT $ERR"
run "$JOBVISOR" test-alert -c "$CONF" --sink 4
assert_match 'failed \(would be retried\): slack: could not post to the Slack webhook' "$OUT" "closed port retried"
ALL="$ALL $OUT $ERR"
T0=$(date +%s)
run "$JOBVISOR" test-alert -c "$CONF" --sink 5
T1=$(date +%s)
assert_match 'failed \(would be retried\): slack: the Slack webhook did not answer within [0-9]+ ms' "$OUT" "hanging server: timed out"
[ $((T1 - T0)) -le 5 ] && ok "timed out within bounds ($((T1 - T0)) s)" || fail "took $((T1 - T0)) s"
ALL="$ALL $OUT $ERR"
run "$JOBVISOR" test-alert -c "$CONF"
assert_rc 1 "all sinks at once: exit 1"
ALL="$ALL $OUT $ERR"
assert_no_match "$HOOK" "$ALL" "the webhook URL never shown"

# --------------------------------------------------------- bad configs
# bad NAME 'ENTRY' REGEX: check-config refuses the alert entry.
bad()
{
	jv_write_config "$JV_TMP/$1.yaml" "alerts:
  - $2"
	run "$JOBVISOR" check-config -c "$JV_TMP/$1.yaml"
	assert_rc 1 "config $1 refused"
	assert_match "$3" "$ERR" "config $1: the error names the place and the reason"
	assert_no_match "$HOOK" "$OUT $ERR" "config $1: the URL is not shown"
}
bad missing '{ plugin: slack, on: [job_failed] }' "$JV_TMP/missing\\.yaml:[0-9]+:[0-9]+: alerts\\[0\\].*webhook_url is required"
bad ftp "{ plugin: slack, on: [job_failed], webhook_url: \"ftp://127.0.0.1/$HOOK\" }" "$JV_TMP/ftp\\.yaml:[0-9]+:[0-9]+: alerts\\[0\\]\\.webhook_url: must be an https:// \\(or http://\\) URL"
bad garbage "{ plugin: slack, on: [job_failed], webhook_url: \"not a url $HOOK\" }" 'alerts\[0\]\.webhook_url: is not a valid absolute URL'
bad empty '{ plugin: slack, on: [job_failed], webhook_url: "" }' 'alerts\[0\]\.webhook_url: must not be empty'
bad unknown '{ plugin: slack, on: [job_failed], webhook_url: "https://hooks.slack.com/x", colour: red }' "unknown key 'colour'"

# webhook_url_file works; plain http to another host draws a warning.
printf '%s' "https://hooks.slack.invalid/services/$HOOK" >"$JV_TMP/hook.url"
chmod 0600 "$JV_TMP/hook.url"
jv_write_config "$JV_TMP/file.yaml" "alerts:
  - { plugin: slack, on: [job_failed], webhook_url_file: \"$JV_TMP/hook.url\" }
  - { plugin: slack, on: [job_failed], webhook_url: \"http://hooks.slack.invalid/$HOOK\" }"
run "$JOBVISOR" check-config -c "$JV_TMP/file.yaml"
assert_rc 0 "webhook_url_file accepted"
assert_match 'alerts\[1\].*not an https:// URL' "$ERR$OUT" "plain http warned about"
assert_no_match "$HOOK" "$OUT $ERR" "the URL is not shown in the warning"

jv_done
