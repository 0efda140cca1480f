#!/bin/sh
# it_serve_partition.sh -- a silent partition never runs a job twice at once
# (DESIGN.md, guarantee 1). Processor A reaches PostgreSQL through a TCP
# proxy (tests/servers/tcpproxy.py), processor B directly. A runs a long
# shell job; the proxy then stops forwarding without closing anything, as a
# cut link, a stuck NAT or a paused VM does: TCP stays up, nothing arrives.
# A must stop the job itself (self-fencing) before B may rescue it; B then
# runs it again. From the program's own stamps (each run writes its pid and
# the time every 0.1 s) and from the job's row, the first run has ended
# before the second starts. When the link is back, A records what it
# stopped (a late result: B had rescued the job) and claims again.
#
# The rescue horizon is 15 s (stuck_job_timeout_minutes: 0.25) with 1 s
# heartbeats: A fences 8 s after its last confirmed heartbeat was sent
# (15 s minus the 7 s margin), B rescues at 15 s.
. "${top_srcdir:-.}/tests/lib.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 not found"
jv_db
jv_plugin shell
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

PGPORT=$(printf '%s\n' "$JV_DB_URL" | sed -E 's#^[^/]*//[^@/]*@?[^:/]*:([0-9]+)/.*#\1#')
jv_bg python3 "$top_srcdir/tests/servers/tcpproxy.py" --target "127.0.0.1:$PGPORT" \
	--port-file "$JV_TMP/proxy.port"
PROXY=$BG_PID
PROXY_OUT=$JV_TMP/bg.$BG_N.out
wait_for "[ -s '$JV_TMP/proxy.port' ]" 10 "the proxy listens"
PROXY_URL=$(printf '%s\n' "$JV_DB_URL" | sed "s#127\.0\.0\.1:$PGPORT#127.0.0.1:$(cat "$JV_TMP/proxy.port")#")

# conf FILE NAME URL HEARTBEAT_MS
conf()
{
	jv_write_config "$1" "  long: { plugin: shell, timeout_seconds: 300 }"
	jv_conf_set "$1" \
		database.url "\"$3\"" \
		processor.name "\"$2\"" \
		processor.stuck_job_timeout_minutes 0.25 \
		processor.heartbeat_interval_ms "$4" \
		processor.shutdown_grace_seconds 1 \
		processor.poll_interval_ms 200
}
conf "$JV_TMP/a.yaml" A "$PROXY_URL" 1000
conf "$JV_TMP/b.yaml" B "$JV_DB_URL" 500

jv_bg "$JOBVISOR" serve -c "$JV_TMP/a.yaml"
A=$BG_PID
AERR=$JV_TMP/bg.$BG_N.err
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.processors WHERE pid = $A AND state = 'running'\")\" = 1 ]" 10 \
	"A runs, through the proxy"

STAMPS=$JV_TMP/stamps
J=$(jv_psql "INSERT INTO jobvisor.jobs (type, max_attempts, payload) VALUES ('long', 3,
	jsonb_build_object('command', jsonb_build_array('/bin/sh', '-c',
	'while :; do echo \"\$\$ \$(date +%s%N)\" >> \"\$0\"; sleep 0.1; done', '$STAMPS'))) RETURNING id")
wait_for "[ -s '$STAMPS' ]" 10 "A runs the job"
assert_eq "running|1" "$(jv_psql "SELECT j.status || '|' || j.attempts FROM jobvisor.jobs j JOIN jobvisor.processors p ON p.id = j.locked_by WHERE j.id = $J AND p.pid = $A")" \
	"the job is A's first attempt"

jv_bg "$JOBVISOR" serve -c "$JV_TMP/b.yaml"
B=$BG_PID
BERR=$JV_TMP/bg.$BG_N.err
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.processors WHERE pid = $B AND state = 'running'\")\" = 1 ]" 10 \
	"B runs, directly"

# --- the partition
kill -USR1 $PROXY
wait_for "grep -q '^blackhole' '$PROXY_OUT'" 5 "the proxy blackholes A's connections"
T_CUT=$(date +%s%N)
wait_for "grep -q 'self-fencing: no heartbeat confirmed' '$AERR'" 30 "A fences itself"
T_FENCE=$(date +%s%N)
wait_for "[ \$(cut -d' ' -f1 '$STAMPS' | sort -u | wc -l) -ge 2 ]" 40 "B rescued the job and runs it again"
T_RERUN=$(date +%s%N)

APID=$(head -n 1 "$STAMPS" | cut -d' ' -f1)
A_LAST=$(awk -v p="$APID" '$1 == p { t = $2 } END { print t }' "$STAMPS")
B_FIRST=$(awk -v p="$APID" '$1 != p && f == "" { f = $2 } END { print f }' "$STAMPS")
[ -n "$A_LAST" ] && [ -n "$B_FIRST" ] || fail "no stamps: $(cat "$STAMPS")"
[ "$A_LAST" -lt "$B_FIRST" ] ||
	fail "A's run (pid $APID) still ran at $A_LAST, after B's run started at $B_FIRST"
ok "A's run ended before B's started ($(((B_FIRST - A_LAST) / 1000000)) ms apart)"
[ "$(awk -v p="$APID" -v b="$B_FIRST" '$1 == p && $2 > b' "$STAMPS" | wc -l)" = 0 ] ||
	fail "A's run wrote stamps after B's run started"
ok "no stamp of A's run after B's first"
assert_eq "running|2|$(jv_psql "SELECT id FROM jobvisor.processors WHERE pid = $B")" \
	"$(jv_psql "SELECT status || '|' || attempts || '|' || locked_by FROM jobvisor.jobs WHERE id = $J")" \
	"the job runs as B's, second attempt"
B_START=$(jv_psql "SELECT (extract(epoch FROM started_at) * 1000000000)::bigint FROM jobvisor.jobs WHERE id = $J")
[ "$A_LAST" -lt "$B_START" ] || fail "the database dates the second attempt ($B_START) before A's last stamp ($A_LAST)"
ok "the database dates the second attempt after A's run ended"
assert_match "rescued: processor [0-9]+ stopped heartbeating" \
	"$(jv_psql "SELECT error FROM jobvisor.job_executions WHERE job_id = $J AND attempt = 1 AND outcome = 'rescued'")" \
	"history: the first attempt rescued"
echo "# measured: A fenced $(((T_FENCE - T_CUT) / 1000000)) ms after the cut (its last confirmed heartbeat was sent before it), B ran the job again $(((T_RERUN - T_CUT) / 1000000)) ms after the cut"

# --- the link back: A records what it stopped, and claims again
kill -USR2 $PROXY
wait_for "grep -q 'recorded 1 attempts stopped by self-fencing: 0 as rescued (attempt counted), 1 had been rescued by another processor meanwhile' '$AERR'" 40 \
	"A records the stopped attempt once the database is back"
assert_match 'self-fencing over: a heartbeat is confirmed again' "$(cat "$AERR")" "A lifts its fence"
assert_match "late result, not applied: fenced: stopped by self-fencing" \
	"$(jv_psql "SELECT error FROM jobvisor.job_executions WHERE job_id = $J AND attempt = 1 AND stale")" \
	"history: A's stopped attempt is a late result on the rescued one"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.job_executions a JOIN jobvisor.job_executions b
	ON a.job_id = b.job_id AND a.id < b.id
	WHERE a.started_at < b.finished_at AND b.started_at < a.finished_at")" \
	"no two recorded executions overlap"
assert_match 'database connection back after [0-9]+ ms: 127\.0\.0\.1:' "$(cat "$AERR")" \
	"A says which host it reached"

kill -TERM $A
wait $A
assert_eq 0 $? "A exits 0"
kill -TERM $B
wait $B
assert_eq 0 $? "B exits 0"
jv_done
