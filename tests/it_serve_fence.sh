#!/bin/sh
# it_serve_fence.sh -- self-fencing when a thread cannot be stopped. Another
# session holds serve's processor row (SELECT ... FOR UPDATE), so no
# heartbeat can commit, though the connections are fine. Once no heartbeat
# has been confirmed for the horizon (12 s) minus the 7 s margin, serve stops
# its running jobs; a job on a thread (isolation: thread) that ignores the
# stop cannot be killed, so 2 s later serve ends itself (exit 2) rather than
# let it run into the time when another processor may rescue it.
. "${top_srcdir:-.}/tests/lib.sh"

jv_db
jv_write_config "$JV_CONF" "  inproc: { plugin: noop, isolation: thread }"
jv_conf_set "$JV_CONF" \
	processor.stuck_job_timeout_minutes 0.2 \
	processor.heartbeat_interval_ms 1000
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

jv_bg "$JOBVISOR" serve -c "$JV_CONF"
S=$BG_PID
SERR=$JV_TMP/bg.$BG_N.err
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.processors WHERE pid = $S AND state = 'running'\")\" = 1 ]" 10 \
	"serve runs"
P=$(jv_psql "SELECT id FROM jobvisor.processors WHERE pid = $S")
J=$(jv_psql "INSERT INTO jobvisor.jobs (type, payload) VALUES ('inproc', '{\"outcome\": \"hang\"}') RETURNING id")
wait_for "[ \"\$(jv_psql \"SELECT status FROM jobvisor.jobs WHERE id = $J\")\" = running ]" 10 \
	"a thread job that ignores being told to stop runs"

jv_bg psql -X -q -v ON_ERROR_STOP=1 -d "$JV_DB_URL" \
	-c "BEGIN; SELECT 1 FROM jobvisor.processors WHERE id = $P FOR UPDATE; SELECT pg_sleep(600)"
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
	WHERE l.relation = 'jobvisor.processors'::regclass AND l.mode = 'RowShareLock' AND a.query LIKE '%FOR UPDATE%' AND a.datname = current_database()\")\" = 1 ]" 10 \
	"another session holds serve's processor row"
wait_for "! kill -0 $S 2>/dev/null" 30 "serve ends itself"
T_EXIT=$(date +%s%N)
wait $S
assert_eq 2 $? "exit status 2"
assert_match 'self-fencing: no heartbeat confirmed for [0-9]+ ms .*stopping 1 running jobs' "$(cat "$SERR")" \
	"it fenced itself, stopping the job"
assert_match 'self-fencing: 1 jobs running on threads .* did not stop within 2000 ms, and a thread cannot be killed: exiting' \
	"$(cat "$SERR")" "it ended itself because the thread job did not stop"
HB=$(jv_psql "SELECT (extract(epoch FROM heartbeat_at) * 1000000000)::bigint FROM jobvisor.processors WHERE id = $P")
echo "# measured: serve ended $(((T_EXIT - HB) / 1000000)) ms after its last heartbeat_at (horizon 12000 ms: fence at 5000, exit at 7000 from the send)"
assert_eq "running|$P" "$(jv_psql "SELECT status || '|' || locked_by FROM jobvisor.jobs WHERE id = $J")" \
	"the job is left to be rescued"
jv_done
