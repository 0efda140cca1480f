#!/bin/sh
# f4_plugins.sh -- misbehaving plugins (the test plugin tests/faults/faulty.c)
# against a real serve:
#   a. segfault in execute, process isolation: each attempt ends `crashed`,
#      the job fails after its attempts, the worker is replaced, other jobs
#      run on, the supervisor lives
#   b. segfault in execute, thread isolation: documented as for trusted
#      plugins only -- the supervisor dies with it (SIGSEGV); a restarted
#      one rescues the job (nothing lost; attempts spent: failed)
#   c. a leak of 8 MiB per job: with worker_max_jobs 5 the worker is
#      replaced every 5 jobs and its RSS stays bounded; without, it grows
#      with every job (there is no memory limit key: recycling is the bound)
#   d. fd games: a plugin closes fds 0-2, or points 1-2 at /dev/full; the
#      same worker then runs plugin and shell jobs normally (shell output
#      still captured), the supervisor's own log goes on
#   e. a plugin that double-forks a setsid daemon, and a shell job that
#      leaves a setsid child: in process isolation the worker (a child
#      subreaper) kills and reaps them when the job ends, logs it and says
#      so in the job's output; in thread isolation the daemon escapes and
#      outlives the supervisor (documented); the test then kills it
. "${top_srcdir:-.}/tests/lib.sh"
. "$top_srcdir/tests/faults/common.sh"

T0=$(fx_now_ms)
jv_db
jv_plugin shell
fx_faulty_plugin
jv_write_config "$JV_CONF" "$(cat <<'YAML'
  faulty: { plugin: faulty }
  faulty_t: { plugin: faulty, isolation: thread }
  sh: { plugin: shell, allow_shell: true }
YAML
)"
jv_conf_set "$JV_CONF" \
	processor.max_concurrent_jobs 2 \
	processor.batch_size 2 \
	processor.heartbeat_interval_ms 200 \
	processor.poll_interval_ms 200 \
	processor.retry_base_ms 10 \
	processor.retry_max_ms 20 \
	processor.shutdown_grace_seconds 5
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"
q() { jv_psql "$1"; }
status_of() { q "SELECT status FROM jobvisor.jobs WHERE id = $1"; }
enqueue() { q "INSERT INTO jobvisor.jobs (type, payload, max_attempts) VALUES ('$1', '$2', ${3:-3}) RETURNING id"; }

# ------------------------------------------------------------ a. segfault, process
jv_bg "$JOBVISOR" serve -c "$JV_CONF"
S=$BG_PID
SERR=$JV_TMP/bg.$BG_N.err
fx_registered $S
W0=$(pgrep -P $S | sort | tr '\n' ' ')
SEGV=$(enqueue faulty '{"do": "segv"}' 2)
q "INSERT INTO jobvisor.jobs (type, payload) SELECT 'noop', '{\"sleep_ms\": 20}' FROM generate_series(1, 30)" >/dev/null
wait_for "[ \"\$(status_of $SEGV)\" = failed ]" 20 "the segfaulting job fails after its 2 attempts"
wait_for "[ \"\$(q \"SELECT count(*) FROM jobvisor.jobs WHERE type = 'noop' AND status = 'succeeded'\")\" = 30 ]" 20 \
	"the 30 other jobs all succeed"
assert_eq "crashed crashed" "$(q "SELECT string_agg(outcome, ' ' ORDER BY attempt) FROM jobvisor.job_executions WHERE job_id = $SEGV")" \
	"both attempts recorded as crashed"
ERRMSG=$(q "SELECT error FROM jobvisor.job_executions WHERE job_id = $SEGV AND attempt = 1")
if [ "$FX_ASAN" = 1 ]; then
	assert_match 'exit|code 1' "$ERRMSG" "the error says how the worker ended ($ERRMSG; ASan turns SIGSEGV into exit 1)"
else
	assert_match 'SIGSEGV|signal 11|[Ss]egmentation' "$ERRMSG" "the error names the signal ($ERRMSG)"
fi
wait_for "[ \$(pgrep -P $S | wc -l) = 2 ]" 10 "the pool is back to 2 workers"
W1=$(pgrep -P $S | sort | tr '\n' ' ')
REPLACED=$(for w in $W1; do echo " $W0 " | grep -q " $w " || echo "$w"; done | wc -l)
[ "$REPLACED" -ge 1 ] || fail "no worker was replaced ($W0 -> $W1)"
ok "the crashed workers were replaced (workers $W0-> $W1)"
kill -0 $S || fail "the supervisor died"
kill -TERM $S
wait $S
assert_eq 0 $? "the supervisor stops cleanly (exit 0)"

# ------------------------------------------------------------ b. segfault, thread
jv_bg "$JOBVISOR" serve -c "$JV_CONF"
S=$BG_PID
fx_registered $S
SID=$(fx_id_of_pid $S)
TSEGV=$(enqueue faulty_t '{"do": "segv"}' 1)
wait_for "! kill -0 $S 2>/dev/null || grep -q '^State:.*Z' /proc/$S/status" 20 "a segfault in a thread-isolated plugin takes the supervisor down"
wait $S
TRC=$?
if [ "$FX_ASAN" = 1 ]; then
	[ "$TRC" != 0 ] || fail "serve exited 0 after a segfault in a thread"
	ok "serve died with the segfault (exit $TRC: ASan's report)"
else
	assert_eq 139 "$TRC" "serve died of SIGSEGV (exit status 128+11)"
fi
jv_bg "$JOBVISOR" serve -c "$JV_CONF"
S=$BG_PID
SERR=$JV_TMP/bg.$BG_N.err
fx_registered $S
q "UPDATE jobvisor.processors SET heartbeat_at = now() - interval '6 minutes' WHERE id = $SID" >/dev/null
wait_for "[ \"\$(status_of $TSEGV)\" = failed ]" 10 "the job of the dead supervisor is rescued; its only attempt spent: failed"
assert_eq rescued "$(q "SELECT outcome FROM jobvisor.job_executions WHERE job_id = $TSEGV")" "its attempt recorded as rescued"
kill -TERM $S
wait $S

# ------------------------------------------------------------ c. leak
leak_run() # N WORKER_MAX_JOBS -> sets RSS_MIN RSS_MAX PIDS
{
	jv_conf_set "$JV_CONF" \
		processor.worker_max_jobs "$2" \
		processor.max_concurrent_jobs 1 \
		processor.batch_size 1
	q "DELETE FROM jobvisor.jobs; DELETE FROM jobvisor.job_executions" >/dev/null
	jv_bg "$JOBVISOR" serve -c "$JV_CONF"
	S=$BG_PID
	fx_registered $S >/dev/null
	q "INSERT INTO jobvisor.jobs (type, payload) SELECT 'faulty', '{\"do\": \"leak\", \"mb\": 8}' FROM generate_series(1, $1)" >/dev/null
	wait_for "[ \"\$(q \"SELECT count(*) FROM jobvisor.jobs WHERE status = 'succeeded'\")\" = $1 ]" 60 \
		"$1 leaking jobs succeed (worker_max_jobs $2)"
	kill -TERM $S
	wait $S
	set -- $(q "SELECT min(r), max(r), count(DISTINCT p) FROM (SELECT substring(output from 'pid=([0-9]+)') AS p,
		substring(output from 'rss_kb=([0-9]+)')::bigint AS r FROM jobvisor.job_executions) s" | tr '|' ' ')
	RSS_MIN=$1
	RSS_MAX=$2
	PIDS=$3
}
leak_run 30 5
[ "$PIDS" -ge 6 ] || fail "30 jobs with worker_max_jobs 5 ran in $PIDS workers (6 expected)"
ok "30 leaking jobs ran in $PIDS successive workers"
# A worker holds at most 5 leaks: its RSS grows by at most 4 x 8 MiB over
# its first job's (plus a quarter for an allocator's overhead -- ASan's
# shadow memory -- and 8 MiB of slack).
BOUND=$((RSS_MIN + 4 * 8192 * 5 / 4 + 8192))
[ "$RSS_MAX" -le "$BOUND" ] || fail "worker RSS reached $RSS_MAX kB, above $BOUND kB"
ok "worker RSS stayed within $RSS_MIN..$RSS_MAX kB (bound $BOUND kB)"
RSS_RECYCLED=$RSS_MAX
LEAK_WORKERS=$PIDS
leak_run 12 0
assert_eq 1 "$PIDS" "without worker_max_jobs, one worker ran all 12"
[ $((RSS_MAX - RSS_MIN)) -ge $((10 * 8192)) ] || fail "RSS grew only $RSS_MIN -> $RSS_MAX kB over 12 leaks"
ok "without recycling the worker's RSS grows with every leak ($RSS_MIN -> $RSS_MAX kB)"
RSS_UNBOUNDED=$RSS_MAX

# ------------------------------------------------------------ d. fd games
jv_conf_set "$JV_CONF" processor.worker_max_jobs 0
jv_bg "$JOBVISOR" serve -c "$JV_CONF"
S=$BG_PID
SERR=$JV_TMP/bg.$BG_N.err
fx_registered $S
one() # TYPE PAYLOAD -> waits for it, prints status|output
{
	_id=$(enqueue "$1" "$2" 1)
	wait_for "[ \"\$(q \"SELECT status IN ('succeeded', 'failed') FROM jobvisor.jobs WHERE id = $_id\")\" = t ]" 10 \
		"job $_id ($1 $2) finished" >/dev/null
	q "SELECT outcome || '|' || coalesce(replace(output, E'\n', ' '), '') FROM jobvisor.job_executions WHERE job_id = $_id"
}
P1=$(one faulty '{"do": "pid"}' | sed -n 's/^succeeded|pid=\([0-9]*\).*/\1/p')
[ -n "$P1" ] || fail "the first job did not report its worker"
assert_match '^succeeded' "$(one faulty '{"do": "closefds"}')" "a job closing fds 0, 1, 2 succeeds"
assert_eq "succeeded|pid=$P1" "$(one faulty '{"do": "write"}')" "the same worker then writes to the closed fds and succeeds"
assert_match '^succeeded\|out err ?$' "$(one sh '{"shell": "echo out; echo err >&2"}')" \
	"a shell job in that worker still has its output captured"
assert_match '^succeeded' "$(one faulty '{"do": "fullfds"}')" "a job pointing fds 1, 2 at /dev/full succeeds"
assert_eq "succeeded|pid=$P1" "$(one faulty '{"do": "write"}')" "the same worker writes into the full fds and succeeds"
assert_match '^succeeded\|out err ?$' "$(one sh '{"shell": "echo out; echo err >&2"}')" \
	"a shell job still has its output captured"
assert_eq "succeeded|pid=$P1" "$(one faulty '{"do": "pid"}')" "all of it in one worker, never replaced"

# ------------------------------------------------------------ e. daemon
# Process isolation: the worker is a child subreaper; the daemon, re-parented
# to it, is killed and reaped before the job's result is even sent.
DFILE=$JV_TMP/daemon.pid
R=$(one faulty "{\"do\": \"daemon\", \"file\": \"$DFILE\"}")
[ -s "$DFILE" ] || fail "the daemon never wrote its pid file (job: $R)"
DPID=$(cat "$DFILE")
jv_on_exit "kill -KILL $DPID 2>/dev/null"
assert_match "^succeeded\|jobvisor: killed 1 process the job left behind: $DPID \(" "$R" \
	"a job that leaves a daemon succeeds, and its output names the daemon killed"
kill -0 "$DPID" 2>/dev/null && fail "the daemon (pid $DPID) outlived its job in process isolation"
ok "the daemon (pid $DPID) is gone once the job is done"
assert_match "job [0-9]+ left processes behind; worker $P1 killed them: $DPID " "$(cat "$SERR")" \
	"the supervisor logged it (the worker's own stderr is /dev/full by now)"
assert_eq "succeeded|pid=$P1" "$(one faulty '{"do": "pid"}')" "the same worker runs the next job"

# The pid a shell job printed ("succeeded|PID ..."), in $LPID, killed at exit
# whatever happens.
leftover_pid()
{
	LPID=$(printf '%s' "$1" | sed -n 's/^succeeded|\([0-9]*\) .*/\1/p')
	[ -n "$LPID" ] || fail "the shell job did not print its child's pid: $1"
	jv_on_exit "kill -KILL $LPID 2>/dev/null"
}

# A shell job whose background child leaves the program's process group.
R=$(one sh '{"shell": "setsid sleep 300 & echo $!"}')
leftover_pid "$R"
SPID=$LPID
# (Its name may still be sh's: the sweep can come before its exec.)
assert_match "killed 1 process the job left behind: $SPID \(" "$R" \
	"a shell job's background child that left the program's group is killed too"
kill -0 "$SPID" 2>/dev/null && fail "the setsid sleep (pid $SPID) outlived its job"
ok "the setsid sleep (pid $SPID) is gone once the job is done"
# A leftover that names itself with an escape sequence cannot paint the log.
# The sleep starts a session of its own, so killing the renamed leader's
# group cannot take it along (nor can the leader reap it first): it is
# re-parented to the worker and found by the sweep's second round. The job
# prints the leader's pid once the leader has renamed itself and its child
# is the sleep (exec'ed, not a copy of the leader still).
R=$(one sh '{"shell": "setsid sh -c \"printf bad\\\\\\\\033line > /proc/self/comm; setsid sleep 300 & wait\" & p=$!; until grep -q bad /proc/$p/comm 2>/dev/null && c=$(cat /proc/$p/task/$p/children 2>/dev/null) && [ -n \"$c\" ] && grep -qx sleep /proc/${c%% *}/comm 2>/dev/null; do sleep 0.01; done; echo $p"}')
leftover_pid "$R"
EPID=$LPID
assert_match "left behind: $EPID \(bad\?line\), [0-9]+ \(sleep\)" "$R" \
	"the name of a leftover is cleaned of control characters (and its own child killed after it)"
grep -q "$(printf '\033')" "$SERR" && fail "an escape character reached the supervisor's log"
ok "no escape character in the supervisor's log"
LEFT=$(grep -c 'left processes behind' "$SERR")

# Thread isolation: the daemon's parent was the supervisor itself, which is
# no subreaper: out of reach, as for any process-group-based supervisor.
TFILE=$JV_TMP/daemon_t.pid
assert_match '^succeeded' "$(one faulty_t "{\"do\": \"daemon\", \"file\": \"$TFILE\"}")" \
	"a thread-isolated job that leaves a daemon succeeds"
TPID=$(cat "$TFILE")
jv_on_exit "kill -KILL $TPID 2>/dev/null"
kill -0 "$TPID" || fail "the thread-isolated job's daemon is gone already"
DPGID=$(ps -o pgid= -p "$TPID" | tr -d ' ')
DSID=$(ps -o sid= -p "$TPID" | tr -d ' ')
SSID=$(ps -o sid= -p "$S" | tr -d ' ')
[ "$DPGID" != "$S" ] && [ "$DSID" != "$SSID" ] || fail "daemon pgid $DPGID sid $DSID, supervisor $S sid $SSID"
ok "the daemon (pid $TPID) runs in a session of its own ($DSID)"
kill -TERM $S
wait $S
assert_eq 0 $? "the supervisor stops cleanly"
kill -0 "$TPID" || fail "the daemon was stopped with the supervisor (the docs say it is out of reach)"
ok "as documented, a thread-isolated job's daemon outlives the job and the supervisor"
assert_match 'processor [0-9]+ stopped' "$(cat "$SERR")" "the supervisor's own log went on to the end"
kill -KILL "$TPID"

fx_figure segv_process_outcomes "crashed,crashed"
fx_figure workers_replaced "$REPLACED"
fx_figure segv_thread_exit "$TRC"
fx_figure leak_workers_30_jobs "$LEAK_WORKERS"
fx_figure rss_max_kb_recycled "$RSS_RECYCLED"
fx_figure rss_max_kb_unrecycled_12 "$RSS_UNBOUNDED"
fx_figure leftovers_killed_process "$LEFT"
fx_figure daemon_survives_thread 1
fx_figure seconds "$(( ($(fx_now_ms) - T0) / 1000 ))"
jv_done
