#!/bin/sh
# it_serve_claims.sh -- what makes a processor claim. A job that finishes
# while nothing else is pending gives no reason: ten jobs enqueued one at a
# time cost one claim() each (their NOTIFY wakes the processor), not two.
# But a completion that gives up a slot a held-back job waits for, or that
# sends its job back to pending, claims at once: with the poll interval at
# a minute, nothing else would in the time these steps allow.
. "${top_srcdir:-.}/tests/lib.sh"

jv_db
jv_conf_set "$JV_CONF" \
	processor.poll_interval_ms 60000 \
	processor.per_user_limit 1 \
	processor.max_concurrent_jobs 4 \
	processor.batch_size 4 \
	processor.retry_base_ms 10 \
	processor.retry_max_ms 50
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"
# claim()'s calls, counted by PostgreSQL (the serve's sessions take the
# setting when they connect)
jv_psql "DO \$\$ BEGIN EXECUTE format('ALTER DATABASE %I SET track_functions = ''pl''', current_database()); END \$\$" ||
	fail "could not set track_functions"

start_serve()
{
	jv_bg "$JOBVISOR" serve -c "$JV_CONF"
	SERVE=$BG_PID
	wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.processors WHERE pid = $SERVE AND state = 'running'\")\" = 1 ]" 10 \
		"processor registered as running"
}

# -- a completion with nothing pending: no claim
start_serve
i=1
while [ $i -le 10 ]; do
	jv_psql "INSERT INTO jobvisor.jobs (type, payload) VALUES ('noop', '{}')" >/dev/null
	wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE status = 'succeeded'\")\" = $i ]" 10 \
		"job $i of 10 succeeded"
	i=$((i + 1))
done
ok "10 jobs enqueued one at a time succeeded"
jv_kill_pid "$SERVE"
# (a session's counts reach the shared statistics when it ends)
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()\")\" = 0 ]" 10 \
	"the serve's sessions ended"
calls=$(jv_psql "SELECT coalesce(sum(calls), 0) FROM pg_stat_user_functions WHERE schemaname = 'jobvisor' AND funcname = 'claim'")
# one at the start, one per NOTIFY; before, one more after each completion (21)
if [ "$calls" -lt 10 ] || [ "$calls" -gt 13 ]; then
	fail "10 jobs one at a time: expected 10 to 13 calls of claim(), got $calls"
fi
ok "10 jobs one at a time: $calls calls of claim()"

# -- a completion that frees a held-back job's slot: a claim at once, also
# when a job due later is pending (the last claim said "next due in an
# hour", not "nothing pending")
jv_psql "INSERT INTO jobvisor.jobs (type, payload, scheduled_at) VALUES ('noop', '{}', now() + interval '1 hour')" >/dev/null
start_serve
jv_psql "INSERT INTO jobvisor.jobs (type, user_id, payload)
	SELECT 'noop', 'u1', '{\"sleep_ms\": 300, \"data\": \"held\"}' FROM generate_series(1, 2)" >/dev/null
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE payload->>'data' = 'held' AND status = 'succeeded'\")\" = 2 ]" 10 \
	"the job held back by per_user_limit 1 ran after the first, without a poll"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.job_executions a JOIN jobvisor.job_executions b
	ON a.user_id = 'u1' AND b.user_id = 'u1' AND a.job_id < b.job_id
	 AND a.started_at < b.finished_at AND b.started_at < a.finished_at")" \
	"the two jobs of u1 never overlapped"

# -- a completion that sends its job back to pending, nothing else
# pending: the next claim learns when it is due
jv_psql "DELETE FROM jobvisor.jobs WHERE status = 'pending'" >/dev/null
R=$(jv_psql "SELECT jobvisor.enqueue('noop', '{\"outcome\": \"retryable\", \"retry_in_ms\": 200}', max_attempts => 2)")
wait_for "[ \"\$(jv_psql \"SELECT status || ' ' || attempts FROM jobvisor.jobs WHERE id = $R\")\" = 'failed 2' ]" 10 \
	"a job back to pending after its first attempt ran its second, without a poll"
assert_eq 2 "$(jv_psql "SELECT count(*) FROM jobvisor.job_executions WHERE job_id = $R")" \
	"two attempts recorded"
jv_done
