#!/bin/sh
# it_alerts_sinks.sh -- the webhook and email alert sinks end to end through
# `jobvisor serve` (real PostgreSQL), with tests/servers/httpd.py catching
# the webhook and tests/servers/smtpd.py taking the mail on 127.0.0.1:
# a failed job POSTed to the webhook with an HMAC-SHA256 signature that
# verifies over the exact body bytes; the email sink's type and user filters
# (alice's mailme failures mailed, bob's and other types' not); a burst of 30
# failures folded into at most 3 mails whose counts add up to 30; a failure
# rate and a queue backlog found by the watcher and reported once, though two
# processors watch (a lasting backlog again only after queue_backlog_seconds);
# a webhook URL that is not http(s) refusing serve at
# FILE:LINE:COL; and an email sink whose server is down that logs each
# failed try, gives up after max_attempts (recorded as failed) and never
# stops serve from processing jobs.
. "${top_srcdir:-.}/tests/lib.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 not found (tests/servers/*.py)"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

jv_db
jv_plugin webhook
jv_plugin email

JV_TEST_HOOK_SECRET="hook-secret-$$-ünï"
SMTP_TEST_PASSWORD="smtp-pw-$$-Secret"
export JV_TEST_HOOK_SECRET SMTP_TEST_PASSWORD

# ---------------------------------------------------------------- servers
HLOG=$JV_TMP/httpd.log
jv_bg python3 "$top_srcdir/tests/servers/httpd.py" --port-file "$JV_TMP/httpd.port" --log "$HLOG"
wait_for "[ -s '$JV_TMP/httpd.port' ]" 10 "the webhook catcher is listening"
HPORT=$(cat "$JV_TMP/httpd.port")
MLOG=$JV_TMP/smtpd.log
jv_bg python3 "$top_srcdir/tests/servers/smtpd.py" --port-file "$JV_TMP/smtpd.port" --log "$MLOG" \
	--user jvtest --password "$SMTP_TEST_PASSWORD"
wait_for "[ -s '$JV_TMP/smtpd.port' ]" 10 "smtpd.py is listening"
SPORT=$(cat "$JV_TMP/smtpd.port")
: >"$HLOG"
: >"$MLOG"

# hq PY_EXPR: PY_EXPR over rs, the requests to /hook so far (r["json"] the
# alert, r["body"] the body as sent, r["headers"] lower-case names).
PYHOOK='import json, sys, hmac, hashlib, os
rs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
rs = [r for r in rs if r["path"] == "/hook"]
ev = lambda e: [r for r in rs if (r["json"] or {}).get("event") == e]
print(eval(sys.argv[2]))'
hq() { python3 -c "$PYHOOK" "$HLOG" "$1"; }
# mq PY_EXPR: PY_EXPR over ms, the mails smtpd.py took so far (m["subject"],
# m["body"] with LF line ends, m["d"] the whole JSON line).
PYMAIL='import json, sys
ms = []
for l in open(sys.argv[1], encoding="utf-8"):
    if l.strip():
        d = json.loads(l)
        h = {k.lower(): v for k, v in d["headers"]}
        ms.append({"subject": h.get("subject", ""), "body": (d["body"] or "").replace("\r\n", "\n"), "d": d})
print(eval(sys.argv[2]))'
mq() { python3 -c "$PYMAIL" "$MLOG" "$1"; }
nmail() { wc -l <"$MLOG" | tr -d ' '; }
rows() { jv_psql "SELECT count(*) FROM jobvisor.alerts WHERE $1"; }

# ------------------------------------------------------- a refused config
# A webhook URL that is not http(s): serve refuses to start, naming the place.
jv_write_config "$JV_TMP/ftp.yaml" "alerts:
  - plugin: webhook
    url: \"ftp://127.0.0.1:$HPORT/hook\"
    on: [job_failed]"
run "$JOBVISOR" serve -c "$JV_TMP/ftp.yaml"
assert_rc 1 "serve refuses a webhook sink with an ftp:// url"
URL_LINE=$(grep -n 'url: "ftp://' "$JV_TMP/ftp.yaml" | cut -d: -f1)
assert_match "error: $JV_TMP/ftp\\.yaml:$URL_LINE:10: alerts\\[0\\]\\.url: must be an http:// or https:// URL\$" \
	"$ERR" "naming FILE:LINE:COL of the url and the reason"

# ---------------------------------------------------------------- config
jv_write_config "$JV_CONF" "$(cat <<YAML
  mailme: { plugin: noop }
  other: { plugin: noop }
  flaky: { plugin: noop }
alerts:
  - plugin: webhook
    url: "http://127.0.0.1:$HPORT/hook"
    secret: "\${JV_TEST_HOOK_SECRET}"
    on: [job_failed, failure_rate, queue_backlog]
    fold_seconds: 0
    min_interval_ms: 0
  - plugin: email
    on: [job_failed, job_timed_out]
    type: [mailme]
    user: [alice]
    smtp_url: "smtp://127.0.0.1:$SPORT"
    from: "Job Visor <jobvisor@example.com>"
    to: [ops@example.com]
    username: jvtest
    password: "\${SMTP_TEST_PASSWORD}"
    fold_seconds: 3
    min_interval_ms: 0
alerting:
  check_interval_seconds: 1
  failure_rate_percent: 50
  failure_rate_window_seconds: 60
  failure_rate_min_attempts: 20
  queue_backlog_seconds: 2
YAML
)"
jv_conf_set "$JV_CONF" \
	processor.heartbeat_interval_ms 300 \
	processor.max_concurrent_jobs 8 \
	processor.batch_size 50
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

jv_bg "$JOBVISOR" serve -c "$JV_CONF"
S1=$BG_PID
S1ERR=$JV_TMP/bg.$BG_N.err
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.processors WHERE pid = $S1 AND state = 'running'\")\" = 1 ]" 15 \
	"serve is running"

# ---------------------------------------------------------------- webhook
J=$(jv_psql "SELECT jobvisor.enqueue('noop', '{\"outcome\": \"permanent\", \"error\": \"disk on fire\"}', max_attempts => 1)")
wait_for "[ \"\$(hq 'len(ev(\"job_failed\"))')\" -ge 1 ]" 15 "the webhook got a POST for the failed job"
assert_eq "POST|application/json|job_failed" \
	"$(hq '"|".join([rs[0]["method"], rs[0]["headers"]["content-type"], rs[0]["headers"]["x-jobvisor-event"]])')" \
	"a JSON POST with X-Jobvisor-Event"
assert_eq "True" "$(hq 'int(rs[0]["headers"]["content-length"]) == len(rs[0]["body"].encode())')" \
	"the logged body is the exact bytes sent (Content-Length matches)"
assert_match '^sha256=[0-9a-f]{64}$' "$(hq 'rs[0]["headers"]["x-jobvisor-signature-256"]')" "signed"
assert_eq "True" "$(hq 'hmac.compare_digest("sha256=" + hmac.new(os.environb[b"JV_TEST_HOOK_SECRET"], rs[0]["body"].encode(), hashlib.sha256).hexdigest(), rs[0]["headers"]["x-jobvisor-signature-256"])')" \
	"the HMAC-SHA256 over the body verifies with the secret"
assert_eq "False" "$(hq 'hmac.compare_digest("sha256=" + hmac.new(b"not the secret", rs[0]["body"].encode(), hashlib.sha256).hexdigest(), rs[0]["headers"]["x-jobvisor-signature-256"])')" \
	"and not with another key"
assert_eq "job_failed|$J|noop|disk on fire|1|job #$J (noop) failed after 1 attempt" \
	"$(hq '(lambda m: "|".join(str(x) for x in [m["event"], m["job"]["id"], m["job"]["type"], m["error"], m["count"], m["title"]]))(rs[0]["json"])')" \
	"the body: event, job id, type, error, count, title"
assert_eq "True" "$(hq 'rs[0]["json"]["id"] == rs[0]["headers"]["x-jobvisor-delivery"] and len(rs[0]["json"]["id"]) == 32')" \
	"with its delivery id"
assert_eq "sent|1|webhook|noop" \
	"$(jv_psql "SELECT status, attempts, plugin, job_type FROM jobvisor.alerts WHERE sink = 'alerts[0]' AND event = 'job_failed' AND job_id = $J")" \
	"jobvisor.alerts: sent at the first attempt"
assert_eq 0 "$(rows "sink = 'alerts[1]'")" "the email sink took no noop failure"
assert_no_match "hook-secret" "$(cat "$S1ERR")" "the secret is not logged"

# ---------------------------------------------------------------- email filters
enq() # TYPE USER ERROR: a job failing at once; prints its id
{
	jv_psql "SELECT jobvisor.enqueue('$1', '{\"outcome\": \"permanent\", \"error\": \"$3\"}', user_id => '$2', max_attempts => 1)"
}
failed() { [ "$(jv_psql "SELECT status FROM jobvisor.jobs WHERE id = $1")" = failed ]; }

A1=$(enq mailme alice "alice broke it")
wait_for "[ \$(nmail) -ge 1 ]" 15 "alice's mailme failure is mailed"
assert_eq "[jobvisor] job #$A1 (mailme) failed after 1 attempt" "$(mq 'ms[0]["subject"]')" "Subject: the title"
BODY=$(mq 'ms[0]["body"]')
for line in "^job: #$A1\$" '^type: mailme$' '^user: alice$' '^error: alice broke it$' '^event: job_failed$'; do
	assert_match "$line" "$BODY" "the mail's body has /$line/"
done
assert_eq "jvtest|jobvisor@example.com|ops@example.com" "$(mq '"|".join([ms[0]["d"]["auth"], ms[0]["d"]["from"], " ".join(ms[0]["d"]["rcpt"])])')" \
	"logged in with the password from \${SMTP_TEST_PASSWORD}; envelope from and to"

B=$(enq mailme bob "bob broke it")
O=$(enq other alice "other broke it")
wait_for "failed $B && failed $O" 15 "bob's mailme job and alice's other job failed"
# A control event after them: once it is mailed, the sink has seen theirs.
A2=$(enq mailme alice "alice again")
wait_for "[ \"\$(rows \"sink = 'alerts[1]' AND status = 'sent' AND job_id = $A2\")\" = 1 ]" 15 \
	"a later alice failure is mailed (folded window: within 3 s)"
assert_eq 2 "$(nmail)" "two mails in all"
assert_eq "0|0" "$(mq 'str(sum(1 for m in ms if "bob" in m["body"])) + "|" + str(sum(1 for m in ms if "(other)" in m["subject"]))')" \
	"none for bob's job nor for the other type"
assert_eq 0 "$(rows "sink = 'alerts[1]' AND job_id IN ($B, $O)")" "and no history row for them on the email sink"
assert_eq 2 "$(rows "sink = 'alerts[0]' AND job_id IN ($B, $O) AND status = 'sent'")" "while the webhook got both"
assert_match "^job: #$A2\$" "$(mq 'ms[1]["body"]')" "the second mail is about the later alice job"

# ---------------------------------------------------------------- folding
LAST=$(jv_psql "SELECT coalesce(max(id), 0) FROM jobvisor.alerts")
M0=$(nmail)
jv_psql "INSERT INTO jobvisor.jobs (type, user_id, payload, max_attempts)
	SELECT 'mailme', 'alice', jsonb_build_object('outcome', 'permanent', 'error', 'burst ' || g), 1
	FROM generate_series(1, 30) g" >/dev/null
wait_for "[ \"\$(jv_psql \"SELECT coalesce(sum(count), 0) FROM jobvisor.alerts WHERE sink = 'alerts[1]' AND status = 'sent' AND id > $LAST\")\" = 30 ] || { jv_psql \"SELECT id, count, title FROM jobvisor.alerts WHERE sink = 'alerts[1]' AND id > $LAST\" >&2; false; }" 20 \
	"the 30 failures of a burst are all reported by the email sink"
N=$(rows "sink = 'alerts[1]' AND id > $LAST")
[ "$N" -ge 1 ] && [ "$N" -le 3 ] || fail "30 failures took $N mails (expected 1 to 3)"
ok "30 failures in $N mails"
wait_for "[ \$(nmail) = $((M0 + N)) ]" 5 "smtpd.py took those $N mails"
FOLD=$(jv_psql "SELECT max(count) FROM jobvisor.alerts WHERE sink = 'alerts[1]' AND id > $LAST")
[ "$FOLD" -ge 2 ] || fail "no mail folded several failures (largest count $FOLD)"
assert_eq 1 "$(mq "sum(1 for m in ms if m['subject'] == '[jobvisor] $FOLD jobs of type mailme failed in the last 3 s')")" \
	"the folded mail's subject: \"$FOLD jobs of type mailme failed in the last 3 s\""
assert_match "^jobs: $FOLD, first #[0-9]+ at .*, last #[0-9]+ at " \
	"$(mq "[m['body'] for m in ms if m['subject'].startswith('[jobvisor] $FOLD jobs')][0]")" \
	"its body names the first and last job"

# ---------------------------------------------------------------- failure rate
# A second processor on the same config: both watch, one reports.
jv_bg "$JOBVISOR" serve -c "$JV_CONF"
S2=$BG_PID
S2ERR=$JV_TMP/bg.$BG_N.err
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.processors WHERE pid = $S2 AND state = 'running'\")\" = 1 ]" 15 \
	"a second serve is running"
jv_psql "INSERT INTO jobvisor.jobs (type, payload, max_attempts)
	SELECT 'flaky', jsonb_build_object('outcome', CASE WHEN g % 5 < 3 THEN 'permanent' ELSE 'success' END,
		'error', 'flaky ' || g), 1
	FROM generate_series(1, 20) g" >/dev/null
flaky_rate() { hq 'len([r for r in ev("failure_rate") if " of flaky attempts failed" in r["json"]["title"]])'; }
wait_for "[ \$(flaky_rate) -ge 1 ]" 15 "the webhook got a failure_rate alert"
assert_match '^60% of flaky attempts failed in the last 60 s \(12 of 20\)$' \
	"$(hq '[r["json"]["title"] for r in ev("failure_rate") if "flaky" in r["json"]["title"]][0]')" \
	"naming the type, the rate and the window"
assert_eq "12|20|60" "$(hq '(lambda m: "%s|%s|%s" % (m["number"], m["total"], m["seconds"]))([r["json"] for r in ev("failure_rate") if "flaky" in r["json"]["title"]][0])')" \
	"number, total, seconds in the JSON"
sleep 3 # nothing to await: no second alert over three more checks of each processor
assert_eq 1 "$(flaky_rate)" "once, though two processors check every second"
assert_eq 1 "$(rows "event = 'failure_rate' AND job_type = 'flaky'")" "one history row"

# ---------------------------------------------------------------- backlog
# A due job of a type no processor serves.
ORPHAN=$(jv_psql "INSERT INTO jobvisor.jobs (type, payload, scheduled_at)
	VALUES ('orphan', '{}', now() - interval '1 minute') RETURNING id")
wait_for "[ \$(hq 'len(ev(\"queue_backlog\"))') -ge 1 ]" 15 "the webhook got a queue_backlog alert"
assert_match '^queue backlog: the oldest due job has waited [0-9]+ s \(1 due jobs pending\)$' \
	"$(hq 'ev("queue_backlog")[0]["json"]["title"]')" "saying how long and how many"
assert_eq True "$(hq '(lambda m: m["seconds"] >= 60 and m["number"] == 1)(ev("queue_backlog")[0]["json"])')" \
	"about the orphan job (waited >= 60 s, 1 due)"
# One alert per backlog, though both processors check every second: none
# again while it lasts (checked over several checks), and again once it
# has cleared and come back.
sleep 3 # nothing to await: no second alert over three more checks of each processor
assert_eq 1 "$(hq 'len(ev("queue_backlog"))')" "once per backlog, though two processors check"
jv_psql "UPDATE jobvisor.jobs SET scheduled_at = now() + interval '1 hour' WHERE id = $ORPHAN" >/dev/null
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.alert_state WHERE key = 'queue_backlog'\")\" = 0 ]" 10 \
	"the backlog's mark goes once it has cleared"
jv_psql "UPDATE jobvisor.jobs SET scheduled_at = now() - interval '1 minute' WHERE id = $ORPHAN" >/dev/null
wait_for "[ \$(hq 'len(ev(\"queue_backlog\"))') -ge 2 ]" 10 "a new backlog is reported again"
assert_eq pending "$(jv_psql "SELECT status FROM jobvisor.jobs WHERE id = $ORPHAN")" "the orphan job is left alone"
jv_psql "DELETE FROM jobvisor.jobs WHERE id = $ORPHAN" >/dev/null

# ---------------------------------------------------------------- stop
kill -TERM $S2
wait $S2
assert_eq 0 $? "the second serve exits 0 on SIGTERM"
kill -TERM $S1
wait $S1
assert_eq 0 $? "serve exits 0 on SIGTERM"
assert_eq 0 "$(rows "status <> 'sent'")" "every alert was sent"
assert_no_match 'Segmentation|AddressSanitizer|runtime error' "$(cat "$S1ERR" "$S2ERR")" "no crash or sanitizer report"

# ---------------------------------------------------------------- a dead SMTP server
# Nothing listens on the email sink's port: each failed try is logged, the
# alert is given up after max_attempts and recorded as failed, and jobs go on.
CLOSED=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
DEAD=$JV_TMP/dead.yaml
jv_write_config "$DEAD" "alerts:
  - plugin: webhook
    url: \"http://127.0.0.1:$HPORT/dead-webhook\"
    on: [processor_started]
  - plugin: email
    on: [job_failed]
    smtp_url: \"smtp://127.0.0.1:$CLOSED\"
    from: jobvisor@example.com
    to: [ops@example.com]
    max_attempts: 2
    min_interval_ms: 0"
jv_bg "$JOBVISOR" serve -c "$DEAD"
S3=$BG_PID
S3ERR=$JV_TMP/bg.$BG_N.err
wait_for "grep -q '/dead-webhook' '$HLOG'" 15 "serve with an unreachable SMTP server starts"
D=$(jv_psql "SELECT jobvisor.enqueue('noop', '{\"outcome\": \"permanent\", \"error\": \"nobody hears\"}', max_attempts => 1)")
wait_for "grep -q 'warning: alerts\\[1\\] (email): sending \"job #$D (noop) failed after 1 attempt\" failed (try 1 of 2)' '$S3ERR'" 15 \
	"the failed send is logged as a warning naming the sink"
G=$(jv_psql "SELECT jobvisor.enqueue('noop', '{}')")
wait_for "[ \"\$(jv_psql \"SELECT status FROM jobvisor.jobs WHERE id = $G\")\" = succeeded ]" 15 \
	"serve keeps processing jobs"
wait_for "[ \"\$(rows \"sink = 'alerts[1]' AND job_id = $D AND status = 'failed'\")\" = 1 ]" 15 \
	"after max_attempts the alert is recorded as failed"
assert_eq "2|email" "$(jv_psql "SELECT attempts, plugin FROM jobvisor.alerts WHERE sink = 'alerts[1]' AND job_id = $D")" \
	"after its 2 attempts"
assert_match "127\\.0\\.0\\.1:$CLOSED" "$(jv_psql "SELECT error FROM jobvisor.alerts WHERE sink = 'alerts[1]' AND job_id = $D")" \
	"with the error, naming the server"
assert_match "alerts\\[1\\] \\(email\\): could not send \"job #$D \\(noop\\) failed after 1 attempt\" \\(gave up after 2 tries\\)" \
	"$(cat "$S3ERR")" "giving up is logged"
kill -TERM $S3
wait $S3
assert_eq 0 $? "serve exits 0 on SIGTERM"
assert_no_match 'Segmentation|AddressSanitizer|runtime error' "$(cat "$S3ERR")" "no crash or sanitizer report"
jv_done
