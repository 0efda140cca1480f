#!/bin/sh
# it_serve_limits.sh -- 3 processors share 600 noop jobs (sleep 5-50 ms) of 10
# users with per_user_limit 2: every job succeeds exactly once, no job ever
# overlaps itself, and no user ever has more than 2 running -- checked from
# the job_executions intervals, which are the database's own view of
# "running" (claim to completion, clock_timestamp()).
. "${top_srcdir:-.}/tests/lib.sh"

jv_db
jv_conf_set "$JV_CONF" \
	processor.per_user_limit 2 \
	processor.max_concurrent_jobs 8 \
	processor.batch_size 8 \
	processor.heartbeat_interval_ms 500
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

P=""
for i in 1 2 3; do
	jv_bg "$JOBVISOR" serve -c "$JV_CONF"
	P="$P $BG_PID"
done
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.processors WHERE state = 'running'\")\" = 3 ]" 10 \
	"3 processors running"

# One user gets 300 jobs up front (fairness: due a second before the
# others), the others 300 between them. One transaction: inserted in two,
# on a loaded machine the second came after u0's 20th job had started.
jv_psql "INSERT INTO jobvisor.jobs (type, user_id, payload, scheduled_at)
	SELECT 'noop', 'u0', jsonb_build_object('sleep_ms', 5 + (g * 7) % 46), now() - interval '1 second'
	FROM generate_series(1, 300) g;
	INSERT INTO jobvisor.jobs (type, user_id, payload)
	SELECT 'noop', 'u' || (1 + g % 9), jsonb_build_object('sleep_ms', 5 + (g * 13) % 46) FROM generate_series(1, 300) g" >/dev/null
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE status = 'succeeded'\")\" = 600 ]" 120 \
	"all 600 jobs succeeded"

assert_eq 600 "$(jv_psql "SELECT count(*) FROM jobvisor.job_executions WHERE outcome = 'succeeded'")" \
	"600 succeeded executions"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.job_executions WHERE outcome <> 'succeeded'")" \
	"no other outcome"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM (SELECT job_id FROM jobvisor.job_executions GROUP BY job_id HAVING count(*) <> 1) d")" \
	"every job executed exactly once"
assert_eq 3 "$(jv_psql "SELECT count(DISTINCT processor) FROM jobvisor.job_executions")" \
	"all 3 processors took part"

# Max concurrency per user, from the intervals: at each start, how many of
# that user's executions were running (started before, finished after).
MAXU=$(jv_psql "SELECT coalesce(max(c), 0) FROM (
	SELECT (SELECT count(*) FROM jobvisor.job_executions b
	        WHERE b.user_id = a.user_id AND b.started_at <= a.started_at
	          AND b.finished_at > a.started_at) AS c
	FROM jobvisor.job_executions a) s")
[ "$MAXU" -le 2 ] || fail "a user had $MAXU jobs running at once (limit 2)"
ok "no user ever had more than 2 running (max seen: $MAXU)"
[ "$MAXU" -ge 2 ] || fail "the limit was never reached: the test shows nothing"
ok "the limit was reached, so it was exercised"

# Fairness: u0's 300 jobs, inserted first, did not hold the others back: the
# first job of every other user started before u0's 20th.
LATE=$(jv_psql "SELECT count(*) FROM (SELECT user_id, min(started_at) AS first FROM jobvisor.job_executions
	WHERE user_id <> 'u0' GROUP BY user_id) f
	WHERE f.first > (SELECT started_at FROM jobvisor.job_executions WHERE user_id = 'u0'
	                 ORDER BY started_at OFFSET 19 LIMIT 1)")
assert_eq 0 "$LATE" "every other user started before u0's 20th job (fair claiming)"

for p in $P; do
	kill -TERM $p
done
for p in $P; do
	wait $p || fail "processor $p did not exit 0"
done
ok "all processors stopped cleanly"
assert_eq 3 "$(jv_psql "SELECT count(*) FROM jobvisor.processors WHERE state = 'stopped'")" "all marked stopped"
jv_done
