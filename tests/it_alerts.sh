#!/bin/sh
# it_alerts.sh -- alerts end to end through `jobvisor serve`, with the slack
# sink posting to tests/servers/httpd.py on 127.0.0.1 standing in for Slack:
# processor_started/stopped; a burst of 100 failures folded into a few
# messages whose counts add up to 100; at most one message per second; a
# send that meets a 500 retried until it goes through; stuck jobs reset and a
# silent processor reported once by two live ones; a hanging catcher that
# slows neither claiming nor completion, with the overflow recorded as
# dropped; and every message in jobvisor.alerts.
. "${top_srcdir:-.}/tests/lib.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 not found (tests/servers/httpd.py)"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

jv_db
jv_plugin slack

HLOG=$JV_TMP/httpd.log
CTL=$JV_TMP/httpd.control
jv_bg python3 "$top_srcdir/tests/servers/httpd.py" --port-file "$JV_TMP/httpd.port" --log "$HLOG" \
	--control "$CTL"
wait_for "[ -s '$JV_TMP/httpd.port' ]" 10 "the catcher is listening"
PORT=$(cat "$JV_TMP/httpd.port")
: >"$HLOG"

jv_write_config "$JV_CONF" "$(cat <<YAML
  other: { plugin: noop }
  slowtype: { plugin: noop, timeout_seconds: 1 }
alerts:
  - plugin: slack
    webhook_url: "http://127.0.0.1:$PORT/main"
    on: [job_failed, stuck_jobs_reset, processor_started, processor_stopped]
    type: [noop, other]
    fold_seconds: 3
    min_interval_ms: 1000
    max_attempts: 6
  - plugin: slack
    webhook_url: "http://127.0.0.1:$PORT/timeouts"
    on: [job_timed_out, processor_down]
    fold_seconds: 0
    min_interval_ms: 0
alerting:
  check_interval_seconds: 1
  processor_down_seconds: 5
  queue_size: 10
api:
  listen: "127.0.0.1:0"
  dashboard_url: "http://127.0.0.1:9/dash"
YAML
)"
jv_conf_set "$JV_CONF" \
	processor.heartbeat_interval_ms 300 \
	processor.retry_base_ms 10 \
	processor.retry_max_ms 50 \
	processor.max_concurrent_jobs 8 \
	processor.batch_size 50 \
	processor.stuck_job_timeout_minutes 1
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

# requests to PATH seen by the catcher
hits() { grep -c "\"path\": \"$1\"" "$HLOG" 2>/dev/null || true; }
sent() { jv_psql "SELECT count(*) FROM jobvisor.alerts WHERE status = 'sent' $1"; }

jv_bg "$JOBVISOR" serve -c "$JV_CONF"
S1=$BG_PID
S1ERR=$JV_TMP/bg.$BG_N.err
wait_for "grep -q 'processor it_alerts (id [0-9]*, host .*) started' '$HLOG'" 10 \
	"processor_started reached the catcher"
assert_eq 1 "$(sent "AND event = 'processor_started'")" "and is in jobvisor.alerts as sent"

# ---------------------------------------------------------------- folding
# 100 failures at once: the first goes out alone, the other 99 together
# when the 3 s window closes.
jv_psql "INSERT INTO jobvisor.jobs (type, payload, max_attempts)
	SELECT 'noop', jsonb_build_object('outcome', 'permanent', 'error', 'boom ' || g), 1
	FROM generate_series(1, 100) g" >/dev/null
wait_for "[ \"\$(jv_psql \"SELECT coalesce(sum(count), 0) FROM jobvisor.alerts WHERE event = 'job_failed' AND status = 'sent'\")\" = 100 ] || { jv_psql 'SELECT id, status, count, title FROM jobvisor.alerts' >&2; jv_psql \"SELECT status, count(*) FROM jobvisor.jobs GROUP BY 1\" >&2; false; }" 20 \
	"all 100 failures reported"
N=$(sent "AND event = 'job_failed'")
[ "$N" -ge 1 ] && [ "$N" -le 3 ] || fail "100 failures took $N messages (expected 1 to 3)"
ok "100 failures in $N messages"
assert_match '^99 jobs of type noop failed in the last 3 s$' \
	"$(jv_psql "SELECT title FROM jobvisor.alerts WHERE event = 'job_failed' AND count > 1")" \
	"the fold says how many, of which type, over which window"
BODY=$(jv_psql "SELECT body FROM jobvisor.alerts WHERE event = 'job_failed' AND count > 1")
assert_match 'jobs: 99, first #[0-9]+ at .*, last #[0-9]+ at ' "$BODY" "and names the first and last job"
assert_match '^error: boom [0-9]+$' "$BODY" "and the last error"
grep '"path": "/main"' "$HLOG" | grep -q '99 jobs of type noop failed in the last 3 s' ||
	fail "the catcher did not get the folded message"
ok "the catcher got the folded message"
LINK=$(jv_psql "SELECT body FROM jobvisor.alerts WHERE event = 'job_failed' AND count = 1 LIMIT 1")
assert_match 'link: http://127.0.0.1:9/dash/#/jobs/[0-9]+' "$LINK" "a single failure links to its job"

# ---------------------------------------------------------------- rate limit
# Every message to /main at least min_interval_ms (1 s) after the one before.
GAPS=$(grep '"path": "/main"' "$HLOG" | python3 -c '
import json, sys
t = [json.loads(l)["time"] for l in sys.stdin]
print(min((b - a for a, b in zip(t, t[1:])), default=9))')
python3 -c "import sys; sys.exit(0 if $GAPS >= 0.95 else 1)" ||
	fail "two messages to one sink only $GAPS s apart (min_interval_ms 1000)"
ok "messages to one sink at least 1 s apart (closest: $GAPS s)"

# ---------------------------------------------------------------- retry
# The catcher answers 500 for a while: the message is retried with backoff
# and goes through once it answers 200 again.
echo 500 >"$CTL"
BEFORE=$(hits /main)
jv_psql "SELECT jobvisor.enqueue('other', '{\"outcome\": \"permanent\", \"error\": \"retry me\"}', max_attempts => 1)" >/dev/null
wait_for "[ \$(hits /main) -ge $((BEFORE + 2)) ]" 20 "the catcher saw the send fail twice"
assert_match 'alerts\[0\] \(slack\): sending "job #[0-9]+ \(other\) failed after 1 attempt" failed \(try 1 of 6\)' \
	"$(cat "$S1ERR")" "each failed send is logged"
rm -f "$CTL"
wait_for "[ \"\$(sent \"AND job_type = 'other'\")\" = 1 ]" 20 "and once the catcher recovers it is sent"
ATT=$(jv_psql "SELECT attempts FROM jobvisor.alerts WHERE job_type = 'other' AND status = 'sent'")
[ "$ATT" -ge 3 ] || fail "the retried alert took $ATT attempts (expected at least 3)"
ok "the retried alert is recorded with its $ATT attempts"

# ---------------------------------------------------------------- timeouts
T=$(jv_psql "SELECT jobvisor.enqueue('slowtype', '{\"sleep_ms\": 5000}', max_attempts => 1)")
wait_for "[ \"\$(sent \"AND event = 'job_timed_out' AND job_id = $T\")\" = 1 ]" 20 \
	"a timed-out job is reported to the sink that wants job_timed_out"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.alerts WHERE sink = 'alerts[0]' AND job_id = $T")" \
	"and not to the sink whose type filter leaves it out"

# ---------------------------------------------------------------- stuck, down
# A processor that died long ago holding a running job: its job is rescued
# (stuck_jobs_reset, from whoever rescues it). One silent for 20 s
# (processor_down_seconds: 5) is reported down once, though two processors
# are alive to notice.
jv_bg "$JOBVISOR" serve -c "$JV_CONF"
S2=$BG_PID
GONE=$(jv_psql "INSERT INTO jobvisor.processors (name, hostname, pid, version, heartbeat_at)
	VALUES ('gone', 'nowhere', 1, '0', now() - interval '10 minutes') RETURNING id")
jv_psql "INSERT INTO jobvisor.jobs (type, payload, status, attempts, locked_by, started_at)
	VALUES ('noop', '{}', 'running', 1, $GONE, now() - interval '10 minutes')" >/dev/null
DEAD=$(jv_psql "INSERT INTO jobvisor.processors (name, hostname, pid, version, heartbeat_at)
	VALUES ('ghost', 'nowhere', 2, '0', now() - interval '20 seconds') RETURNING id")
wait_for "[ \"\$(sent \"AND event = 'stuck_jobs_reset'\")\" -ge 1 ]" 20 "stuck_jobs_reset reported"
assert_match '^1 stuck job reset' "$(jv_psql "SELECT title FROM jobvisor.alerts WHERE event = 'stuck_jobs_reset' LIMIT 1")" \
	"with the number reset"
wait_for "[ \"\$(sent \"AND event = 'processor_down' AND title LIKE 'processor ghost %'\")\" = 1 ]" 20 "processor_down reported"
assert_match "^processor ghost \\(id $DEAD, host nowhere\\) is down: no heartbeat for [0-9]+ s" \
	"$(jv_psql "SELECT title FROM jobvisor.alerts WHERE event = 'processor_down' AND title LIKE 'processor ghost %'")" "naming the silent processor"
# three more checks (1 s apart) by each of the two processors
wait_for "[ \$(grep -c 'ghost' '$HLOG') -ge 1 ]" 5 "the catcher got it"
sleep 3 # nothing to await: the absence of a second alert over several checks
assert_eq 1 "$(sent "AND event = 'processor_down' AND title LIKE 'processor ghost %'")" "only once, though two processors check"

# ---------------------------------------------------------------- hang
# The catcher stops answering. Sends time out (10 s each) on the alert
# threads; claiming and completing go on at full speed, and what cannot
# wait in the bounded queue is recorded as dropped.
kill -TERM $S2
wait $S2
# 2000 jobs of which 200 fail (raising alerts), first with the catcher
# answering, then while it hangs.
batch()
{
	jv_psql "INSERT INTO jobvisor.jobs (type, payload, max_attempts)
		SELECT 'other', jsonb_build_object('data', '$1', 'outcome',
			CASE WHEN g % 10 = 0 THEN 'permanent' ELSE 'success' END), 1
		FROM generate_series(1, 2000) g" >/dev/null
}
done_of() { jv_psql "SELECT count(*) FROM jobvisor.jobs WHERE payload->>'data' = '$1' AND status IN ('succeeded', 'failed')"; }
T0=$(date +%s.%N)
batch base
wait_for "[ \$(done_of base) = 2000 ]" 60 "2000 jobs done with the catcher answering"
BASE=$(python3 -c "import time; print(round(2000 / (time.time() - $T0)))")

echo hang >"$CTL"
BEFORE=$(hits /timeouts)
jv_psql "INSERT INTO jobvisor.jobs (type, payload, max_attempts)
	SELECT 'slowtype', '{\"sleep_ms\": 3000}', 1 FROM generate_series(1, 16)" >/dev/null
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE type = 'slowtype' AND status = 'failed'\")\" = 17 ]" 30 \
	"16 more jobs timed out"
wait_for "[ \$(hits /timeouts) -gt $BEFORE ]" 10 "a send to the catcher is hanging"
T0=$(date +%s.%N)
batch hung
wait_for "[ \$(done_of hung) = 2000 ]" 60 "2000 jobs done while the catcher hangs"
HUNG=$(python3 -c "import time; print(round(2000 / (time.time() - $T0)))")
# The figures are printed, not compared: a rate is a timing, which a busy
# machine bends (once 1515 against 398 jobs/s, with a second suite running
# beside). What is asserted is the bound above: 2000 jobs, 200 of them
# failing and each raising an alert, done within 60 s while every send
# hangs for 10 s, which a serve loop waiting on the sink could not do.
echo "# throughput: $BASE jobs/s with the catcher answering, $HUNG jobs/s while it hangs"
ok "claiming goes on while the catcher hangs ($HUNG vs $BASE jobs/s)"
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.alerts WHERE status = 'dropped' AND sink = 'alerts[1]'\")\" -ge 1 ]" 20 \
	"the overflow of the hanging sink's queue is recorded as dropped"

# ---------------------------------------------------------------- stop
# The catcher answers again; once the main sink has worked through what
# piled up (sends in flight time out after 10 s), the way out is clear.
rm -f "$CTL"
F=$(jv_psql "SELECT jobvisor.enqueue('noop', '{\"outcome\": \"permanent\", \"error\": \"last one\"}', max_attempts => 1)")
wait_for "[ \"\$(sent \"AND sink = 'alerts[0]' AND (job_id = $F OR body LIKE '%last #$F %')\")\" -ge 1 ]" 60 \
	"the main sink delivers again after the hang"
kill -TERM $S1
wait $S1
assert_eq 0 $? "serve exits 0"
assert_eq 1 "$(sent "AND event = 'processor_stopped' AND title LIKE '%pid $S1) stopped'")" \
	"processor_stopped sent on the way out"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.alerts WHERE status NOT IN ('sent', 'failed', 'dropped')")" \
	"every history row has a known status"
assert_no_match 'Segmentation|AddressSanitizer|runtime error' "$(cat "$S1ERR")" "no crash or sanitizer report"
assert_match 'alerts: [0-9]+ events raised, [0-9]+ folded into others; [0-9]+ messages sent, [0-9]+ failed, [1-9][0-9]* events dropped' \
	"$(cat "$S1ERR")" "serve's last words count the alerts"

run "$JOBVISOR" status -c "$JV_CONF"
assert_match 'alerts \(last 24 h\): [1-9][0-9]* sent, [0-9]+ failed, [1-9][0-9]* dropped' "$OUT" \
	"status counts the last day's alerts"
assert_match '  [0-9-]+ [0-9:]+  (sent|failed|dropped) +alerts\[[01]\] \(slack\)  ' "$OUT" "and lists the latest"
run "$JOBVISOR" status -c "$JV_CONF" --json
assert_eq 5 "$(printf '%s' "$OUT" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["recent_alerts"]))')" \
	"status --json has the 5 latest alerts"
jv_done
