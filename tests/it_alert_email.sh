#!/bin/sh
# it_alert_email.sh -- the email alert sink through `jobvisor test-alert`
# (the real loader, host, create and send) against tests/servers/smtpd.py
# on 127.0.0.1: config errors at check-config with FILE:LINE:COL; a message
# with the right envelope, headers (Date, Message-ID, From, To, Cc, an RFC
# 2047 subject) and body, CRLF throughout, dot-stuffed; AUTH LOGIN and
# PLAIN with the password from the environment; a wrong password failing
# for good with 535 and never shown; a rejected recipient failing for good
# with 550; a 451 retried; a closed port retried; a silent server timing
# out within timeout_seconds; STARTTLS required but not offered; an
# over-long line sent quoted-printable. No database is needed.
. "${top_srcdir:-.}/tests/lib.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 not found (tests/servers/smtpd.py)"

unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

# test-alert never touches the database.
JV_DB_URL=postgresql://unused@127.0.0.1:1/x
export JV_DB_URL
jv_plugin email

SMTPD=$top_srcdir/tests/servers/smtpd.py
SMTP_TEST_PASSWORD=pw-$$-Secret
export SMTP_TEST_PASSWORD

# smtpd NAME ARGS...: start smtpd.py; its port in $PORT, its log $JV_TMP/NAME.log
smtpd()
{
	_name=$1
	shift
	jv_bg python3 "$SMTPD" --port-file "$JV_TMP/$_name.port" --log "$JV_TMP/$_name.log" "$@"
	wait_for "[ -s '$JV_TMP/$_name.port' ]" 10 "smtpd.py $_name listening"
	PORT=$(cat "$JV_TMP/$_name.port")
}

smtpd main --user jvtest --password "$SMTP_TEST_PASSWORD" --reject-rcpt nobody@example.net
MAIN=$PORT
MLOG=$JV_TMP/main.log
smtpd temp --user jvtest --password "$SMTP_TEST_PASSWORD" --mechanisms PLAIN --tempfail 1
TEMP=$PORT
TLOG=$JV_TMP/temp.log
smtpd hang --hang
HANG=$PORT
CLOSED=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')

# conf FILE 'KEYS': a config whose only alert sink is an email one with KEYS
# (a YAML flow-map fragment), and the dashboard at https://jobs.example.com.
conf()
{
	jv_write_config "$1" "api:
  dashboard_url: \"https://jobs.example.com/\"
alerts:
  - { plugin: email, on: [job_failed], $2 }"
}
AUTH='username: jvtest, password: "${SMTP_TEST_PASSWORD}"'
GOOD="smtp_url: \"smtp://127.0.0.1:$MAIN\", from: \"Job Visor <jobvisor@example.com>\", to: [ops@example.com, \"Ann, Ops <ann@example.org>\"], cc: [dev@example.com], $AUTH"

# field LOG N EXPR: EXPR (python) about message N (0-based, -1 the last) of
# LOG: d is the JSON line, h its decoded headers, rh the raw ones (lower-case
# names).
PYFIELD='import json, sys, email.utils, time, re
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
d = json.loads(lines[int(sys.argv[2])])
h = {k.lower(): v for k, v in d["headers"]}
rh = {k.lower(): v for k, v in d["raw_headers"]}
print(eval(sys.argv[3]))'
field()
{
	python3 -c "$PYFIELD" "$@" 2>&1
}
nmsg()
{
	wc -l <"$1" | tr -d ' '
}

# ----------------------------------------------------- config validation
# bad_config NAME 'KEYS' REGEX: check-config refuses an email sink with KEYS.
bad_config()
{
	conf "$JV_TMP/$1.yaml" "$2"
	run "$JOBVISOR" check-config -c "$JV_TMP/$1.yaml"
	assert_rc 1 "config $1 refused"
	assert_match "$3" "$ERR" "config $1: the error names the place and the reason"
}
TO='from: j@example.com, to: ops@example.com'
bad_config no_url "$TO" '[0-9]+:[0-9]+: alerts\[0\]: smtp_url is required'
bad_config http_url "smtp_url: \"http://127.0.0.1/\", $TO" \
	'[0-9]+:[0-9]+: alerts\[0\]\.smtp_url: must be an smtp:// or smtps:// URL'
bad_config url_creds "smtp_url: \"smtp://u:p@127.0.0.1/\", $TO" \
	'alerts\[0\]\.smtp_url: must not hold a user name or password'
bad_config empty_to 'smtp_url: "smtp://127.0.0.1", from: j@example.com, to: []' \
	'[0-9]+:[0-9]+: alerts\[0\]\.to: must name at least one address'
bad_config no_to 'smtp_url: "smtp://127.0.0.1", from: j@example.com' \
	'[0-9]+:[0-9]+: alerts\[0\]: to is required'
bad_config newline_to 'smtp_url: "smtp://127.0.0.1", from: j@example.com, to: ["ops@example.com\nBcc: x@evil.example"]' \
	'[0-9]+:[0-9]+: alerts\[0\]\.to: .*must not contain a line break'
bad_config no_at_from 'smtp_url: "smtp://127.0.0.1", from: jobvisor, to: ops@example.com' \
	"[0-9]+:[0-9]+: alerts\\[0\\]\\.from: 'jobvisor' is not an address"
bad_config angle_cc "smtp_url: \"smtp://127.0.0.1\", $TO, cc: [\"a<b@example.com\"]" \
	'[0-9]+:[0-9]+: alerts\[0\]\.cc: .*must be addr@domain or Name <addr@domain>'
bad_config starttls "smtp_url: \"smtp://127.0.0.1\", $TO, starttls: maybe" \
	'alerts\[0\]\.starttls: must be auto, always or never'
bad_config user_only "smtp_url: \"smtp://127.0.0.1\", $TO, username: u" \
	'alerts\[0\]\.username: username and password go together'
bad_config unknown "smtp_url: \"smtp://127.0.0.1\", $TO, bcc: x@example.com" \
	"[0-9]+:[0-9]+: unknown key 'bcc' in alerts\\[0\\]"

conf "$JV_TMP/clear.yaml" "smtp_url: \"smtp://127.0.0.1\", $TO, $AUTH, starttls: never"
run "$JOBVISOR" check-config -c "$JV_TMP/clear.yaml"
assert_rc 0 "plain smtp:// with a password and starttls: never is allowed"
assert_match 'password goes over the network in clear' "$ERR" "... with a warning"
assert_no_match "$SMTP_TEST_PASSWORD" "$OUT$ERR" "... that does not show the password"

C=$JV_TMP/good.yaml
conf "$C" "$GOOD"
run "$JOBVISOR" check-config -c "$C"
assert_rc 0 "the test's own config passes check-config"

# ---------------------------------------------------------------- a message
run "$JOBVISOR" test-alert -c "$C" --type 'tâche' --user u-17 \
	--error "$(printf 'boom: disk full\n.hidden line after a dot')"
assert_rc 0 "test-alert sends through the email sink"
assert_match "^alerts\\[0\\] \\(email\\): sent: sent to 3 recipients via smtp://127\\.0\\.0\\.1:$MAIN" \
	"$OUT" "it says how many recipients and which server"
assert_eq 1 "$(nmsg "$MLOG")" "the server got one message"
assert_eq jobvisor@example.com "$(field "$MLOG" 0 'd["from"]')" "envelope sender: the from address"
assert_eq "ops@example.com ann@example.org dev@example.com" "$(field "$MLOG" 0 '" ".join(d["rcpt"])')" \
	"envelope recipients: to and cc"
assert_eq jvtest "$(field "$MLOG" 0 'd["auth"]')" "logged in (AUTH LOGIN) with the password from \${SMTP_TEST_PASSWORD}"
assert_eq True "$(field "$MLOG" 0 'abs(email.utils.parsedate_to_datetime(h["date"]).timestamp() - time.time()) < 120')" \
	"Date parses and is recent"
assert_match '^[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} \+0000$' \
	"$(field "$MLOG" 0 'h["date"]')" "Date is RFC 5322 in UTC"
MID1=$(field "$MLOG" 0 'h["message-id"]')
assert_match '^<jobvisor\.[0-9]{13}\.[0-9a-f]+@example\.com>$' "$MID1" "Message-ID format"
assert_eq 'Job Visor <jobvisor@example.com>' "$(field "$MLOG" 0 'h["from"]')" "From"
assert_eq 'ops@example.com, "Ann, Ops" <ann@example.org>' "$(field "$MLOG" 0 'h["to"]')" \
	"To: both, the display name with a comma quoted"
assert_eq 'dev@example.com' "$(field "$MLOG" 0 'h["cc"]')" "Cc"
assert_eq '[jobvisor] job #42 (tâche) failed after 3 attempts' "$(field "$MLOG" 0 'h["subject"]')" \
	"Subject: prefix and title, decoded back"
assert_match '^=\?UTF-8\?B\?' "$(field "$MLOG" 0 'rh["subject"]')" "a non-ASCII subject is RFC 2047 encoded"
assert_eq True "$(field "$MLOG" 0 'all(ord(c) < 128 for c in d["data"].split("\r\n\r\n")[0])')" \
	"the headers are ASCII"
assert_eq 'text/plain; charset="utf-8"|1.0|auto-generated|job_failed' \
	"$(field "$MLOG" 0 '"|".join([h["content-type"], h["mime-version"], h["auto-submitted"], h["x-jobvisor-event"]])')" \
	"Content-Type, MIME-Version, Auto-Submitted, X-Jobvisor-Event"
assert_eq False "$(field "$MLOG" 0 'd["bare_lf"] or "\n" in d["data"].replace("\r\n", "")')" \
	"CRLF line endings, no bare LF"
BODY=$(field "$MLOG" 0 'd["body"].replace("\r\n", "\n")')
for line in '^job #42 \(tâche\) failed after 3 attempts$' '^event: job_failed$' '^job: #42$' \
	'^type: tâche$' '^user: u-17$' '^attempt: 3 of 3$' '^error: boom: disk full$' \
	'^\.hidden line after a dot$' '^processor: ' '^link: https://jobs\.example\.com/#/jobs/42$'; do
	assert_match "$line" "$BODY" "body has /$line/"
done
assert_eq 1 "$(printf '%s\n' "$BODY" | grep -c 'https://jobs.example.com/#/jobs/42')" "the link appears once"
assert_eq True "$(field "$MLOG" 0 '"\r\n.hidden line" in d["data"]')" "a leading dot survives (curl stuffs, the server unstuffs)"

run "$JOBVISOR" test-alert -c "$C" --job-id 7
assert_rc 0 "a second alert is sent"
MID2=$(field "$MLOG" 1 'h["message-id"]')
assert_match '^<jobvisor\.[0-9]+\.[0-9a-f]+@example\.com>$' "$MID2" "second Message-ID format"
[ "$MID1" != "$MID2" ] && ok "Message-IDs differ ($MID1, $MID2)" || fail "Message-ID repeated: $MID1"
assert_eq '[jobvisor] job #7 (test) failed after 3 attempts' "$(field "$MLOG" 1 'rh["subject"]')" \
	"an ASCII subject is sent as is"

# A type far too long for one line: folded/encoded headers and a
# quoted-printable body keep every line within 998 bytes.
LONG=$(python3 -c 'print("t" * 1200)')
run "$JOBVISOR" test-alert -c "$C" --type "$LONG"
assert_rc 0 "an alert with a 1200-byte type is sent"
assert_eq True "$(field "$MLOG" 2 'd["max_line"] <= 998')" "no line longer than 998 bytes"
assert_eq quoted-printable "$(field "$MLOG" 2 'h["content-transfer-encoding"]')" "the body went quoted-printable"
assert_eq True "$(field "$MLOG" 2 '("type: " + "t" * 1200) in d["body"].splitlines() and ("(" + "t" * 1200 + ")") in h["subject"]')" \
	"the long type survives in body and subject"

# ---------------------------------------------------------------- failures
SMTP_TEST_PASSWORD=wrong-$$-Secret run "$JOBVISOR" test-alert -c "$C"
assert_rc 1 "a wrong password fails"
assert_match '^alerts\[0\] \(email\): failed: .*535' "$OUT" "for good (not retried), naming 535"
assert_no_match "wrong-$$-Secret|$SMTP_TEST_PASSWORD" "$OUT$ERR" "the password is not shown"

conf "$JV_TMP/reject.yaml" "smtp_url: \"smtp://127.0.0.1:$MAIN\", from: jobvisor@example.com, to: ops@example.com, cc: [nobody@example.net], $AUTH"
run "$JOBVISOR" test-alert -c "$JV_TMP/reject.yaml"
assert_rc 1 "a rejected recipient fails"
assert_match '^alerts\[0\] \(email\): failed: .*550.*nobody@example\.net' "$OUT" "for good, naming 550 and the address"
assert_eq 3 "$(nmsg "$MLOG")" "nothing was delivered then"

conf "$JV_TMP/temp.yaml" "smtp_url: \"smtp://127.0.0.1:$TEMP\", from: jobvisor@example.com, to: ops@example.com, $AUTH"
run "$JOBVISOR" test-alert -c "$JV_TMP/temp.yaml"
assert_rc 1 "a 451 on DATA fails"
assert_match '^alerts\[0\] \(email\): failed \(would be retried\): .*451' "$OUT" "as retryable, naming 451"
run "$JOBVISOR" test-alert -c "$JV_TMP/temp.yaml"
assert_rc 0 "the next try is delivered"
assert_eq "1 jvtest" "$(nmsg "$TLOG") $(field "$TLOG" 0 'd["auth"]')" "once, logged in with AUTH PLAIN"

conf "$JV_TMP/closed.yaml" "smtp_url: \"smtp://127.0.0.1:$CLOSED\", $TO"
run "$JOBVISOR" test-alert -c "$JV_TMP/closed.yaml"
assert_rc 1 "a closed port fails"
assert_match '^alerts\[0\] \(email\): failed \(would be retried\): .*127\.0\.0\.1' "$OUT" "as retryable"

conf "$JV_TMP/hang.yaml" "smtp_url: \"smtp://127.0.0.1:$HANG\", $TO, timeout_seconds: 2"
T0=$(date +%s)
run "$JOBVISOR" test-alert -c "$JV_TMP/hang.yaml"
T1=$(date +%s)
assert_rc 1 "a server that never answers fails"
assert_match '^alerts\[0\] \(email\): failed \(would be retried\): .*timed out' "$OUT" "as a retryable timeout"
[ $((T1 - T0)) -le 6 ] && ok "within timeout_seconds ($((T1 - T0)) s)" || fail "took $((T1 - T0)) s"

conf "$JV_TMP/tls.yaml" "smtp_url: \"smtp://127.0.0.1:$MAIN\", $TO, $AUTH, starttls: always"
run "$JOBVISOR" test-alert -c "$JV_TMP/tls.yaml"
assert_rc 1 "starttls: always against a server without STARTTLS fails"
assert_match '^alerts\[0\] \(email\): failed: ' "$OUT" "for good"
assert_eq 3 "$(nmsg "$MLOG")" "and sent nothing"

jv_done
