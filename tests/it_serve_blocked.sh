#!/bin/sh
# it_serve_blocked.sh -- the serve loop never waits on the database. A
# session holds LOCK TABLE jobvisor.jobs while serve's connections are
# terminated: serve reconnects at once, and the reconnect's release of
# unheld claims (release_unheld(), which updates jobs) waits for the lock.
# Meanwhile a job that ignores being told to stop (noop "hang") is killed
# at its 4 s timeout plus the 2 s grace, a shell job stops at its own, the
# heartbeat goes on (on the other connection, its rescue skipped while the
# lock is held), and SIGTERM is handled at once. Once the lock goes,
# everything is recorded and serve exits 0.
. "${top_srcdir:-.}/tests/lib.sh"

jv_db
jv_plugin shell
jv_write_config "$JV_CONF" "  long: { plugin: shell }"
jv_conf_set "$JV_CONF" \
	processor.heartbeat_interval_ms 500 \
	processor.poll_interval_ms 200
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

jv_bg "$JOBVISOR" serve -c "$JV_CONF"
S=$BG_PID
SERR=$JV_TMP/bg.$BG_N.err
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.processors WHERE pid = $S AND state = 'running'\")\" = 1 ]" 10 \
	"serve runs"
STAMPS=$JV_TMP/stamps
J=$(jv_psql "INSERT INTO jobvisor.jobs (type, timeout_seconds, max_attempts, payload) VALUES ('long', 5, 1,
	jsonb_build_object('command', jsonb_build_array('/bin/sh', '-c',
	'trap ''echo stopped \$(date +%s%N) >> \"\$0\"; exit 143'' TERM; echo start \$(date +%s%N) >> \"\$0\"; sleep 60 & wait',
	'$STAMPS'))) RETURNING id")
wait_for "grep -q '^start' '$STAMPS'" 10 "the job (timeout 5 s) runs"
H=$(jv_psql "INSERT INTO jobvisor.jobs (type, timeout_seconds, max_attempts, payload)
	VALUES ('noop', 4, 1, '{\"outcome\": \"hang\"}') RETURNING id")
wait_for "[ \"\$(jv_psql \"SELECT status FROM jobvisor.jobs WHERE id = $H\")\" = running ]" 10 \
	"a job that ignores being told to stop (timeout 4 s) runs"

# The lock, held until the end of the test (its session is ended then).
jv_bg env PGAPPNAME=jv_locker psql -X -q -v ON_ERROR_STOP=1 -d "$JV_DB_URL" \
	-c "BEGIN; LOCK TABLE jobvisor.jobs IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(600)"
locked() { jv_psql "SELECT count(*) FROM pg_locks WHERE database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND relation = 'jobvisor.jobs'::regclass AND mode = 'AccessExclusiveLock' AND granted"; }
wait_for "[ \"\$(locked)\" = 1 ]" 10 "another session holds LOCK TABLE jobvisor.jobs"
N=$(jv_psql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
	WHERE datname = current_database() AND application_name = 'jobvisor serve'")
[ "$N" -ge 2 ] || fail "terminated $N of serve's connections, not its two"
ok "serve's connections terminated"
wait_for "grep -q 'database connection back after' '$SERR'" 10 "serve reconnects"
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
	AND application_name = 'jobvisor serve' AND wait_event_type = 'Lock' AND query LIKE '%release_unheld%'\")\" = 1 ]" 10 \
	"its release of unheld claims waits for the lock"
grep -q '^stopped' "$STAMPS" && echo "# (the job had reached its timeout before the reconnect blocked)"

# While it waits: the jobs' timeouts, the heartbeat, a signal.
wait_for "grep -q 'job $H attempt 1 timed out after' '$SERR'" 20 "the hanging job is killed at its timeout"
echo "# measured: $(grep -o "job $H attempt 1 timed out after [0-9]* ms" "$SERR") (4000 ms + 2000 ms grace)"
wait_for "grep -q '^stopped' '$STAMPS'" 20 "the shell job is stopped at its timeout"
T0=$(sed -n 's/^start //p' "$STAMPS")
T1=$(sed -n 's/^stopped //p' "$STAMPS")
echo "# measured: the job ran $(((T1 - T0) / 1000000)) ms (timeout 5000 ms)"
HB=$(jv_psql "SELECT heartbeat_at FROM jobvisor.processors WHERE pid = $S")
wait_for "[ \"\$(jv_psql \"SELECT heartbeat_at > '$HB' FROM jobvisor.processors WHERE pid = $S\")\" = t ]" 10 \
	"the heartbeat goes on"
kill -TERM $S
wait_for "grep -q 'SIGTERM: stopping' '$SERR'" 10 "SIGTERM is handled at once"
assert_eq 1 "$(locked)" "all of that while the lock was still held"
kill -0 $S 2>/dev/null || fail "serve exited before it could record the job"
ok "serve waits to record what finished"

# The lock goes: the release, the job's attempt and the stop are recorded.
assert_eq 1 "$(jv_psql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'jv_locker' AND datname = current_database()")" \
	"the lock's session ended"
wait $S
assert_eq 0 $? "serve exits 0"
assert_eq "$J:timed_out $H:timed_out" "$(jv_psql "SELECT string_agg(job_id || ':' || outcome, ' ' ORDER BY job_id) FROM jobvisor.job_executions")" \
	"each job's one attempt is recorded as timed out"
assert_eq "failed|stopped" "$(jv_psql "SELECT j.status || '|' || p.state FROM jobvisor.jobs j, jobvisor.processors p WHERE j.id = $J AND p.pid = $S")" \
	"the job failed for good (max_attempts 1), the processor is stopped"
jv_done
