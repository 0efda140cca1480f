#!/bin/sh
# it_workflow.sh -- workflows (sql/017_workflows.sql) run by 3 processors,
# checked from the history the database wrote (job_executions: started_at
# is the claim's, finished_at the completion's):
#  1. a fan-out/fan-in workflow of 1 000 steps (a -> m1..m998 -> z),
#     inserted by jobvisor.enqueue_workflow(): every step runs exactly once,
#     each after all its dependencies finished, the fan-in step last;
#  2. at the same time, a chain of 200 steps (each after the one before):
#     the resolution runs step by step without recursion, in order;
#  3. a step failing for good: its dependents are cancelled naming it, its
#     run_when always step runs, the rest of the workflow is untouched;
#  4. enqueue() and a completion of the dependency, interleaved both ways:
#     neither misses the other.
# The time from a dependency's finish to its dependent's start (no polling:
# the dependent is pending in the completion's transaction, whose NOTIFY
# wakes the processors) is printed, not asserted.
. "${top_srcdir:-.}/tests/lib.sh"

jv_db
jv_conf_set "$JV_CONF" \
	processor.max_concurrent_jobs 8 \
	processor.batch_size 8 \
	processor.heartbeat_interval_ms 500 \
	processor.retry_base_ms 10 \
	processor.retry_max_ms 50
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

P=""
ERRS=""
for _i in 1 2 3; do
	jv_bg "$JOBVISOR" serve -c "$JV_CONF"
	P="$P $BG_PID"
	ERRS="$ERRS $JV_TMP/bg.$BG_N.err"
done
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.processors WHERE state = 'running'\")\" = 3 ]" 20 \
	"3 processors running"

# ----------------------------------------------- 1 and 2: fan-out, chain
FAN=$(jv_psql "SELECT jobvisor.enqueue_workflow(jsonb_build_object('name', 'fan', 'jobs',
	jsonb_build_array(jsonb_build_object('key', 'a', 'type', 'noop', 'payload', '{\"sleep_ms\": 20}'::jsonb))
	|| (SELECT jsonb_agg(jsonb_build_object('key', 'm' || g, 'type', 'noop', 'dependsOn', '[\"a\"]'::jsonb,
	                                        'payload', jsonb_build_object('sleep_ms', 1 + g % 5)) ORDER BY g)
	    FROM generate_series(1, 998) g)
	|| jsonb_build_array(jsonb_build_object('key', 'z', 'type', 'noop',
	       'dependsOn', (SELECT jsonb_agg('m' || g ORDER BY g) FROM generate_series(1, 998) g)))),
	'it_workflow') ->> 'id'")
[ -n "$FAN" ] || fail "enqueue_workflow gave no id"
ok "the fan-out/fan-in workflow of 1000 steps is workflow $FAN"
CHAIN=$(jv_psql "SELECT jobvisor.enqueue_workflow(jsonb_build_object('name', 'chain', 'jobs',
	(SELECT jsonb_agg(jsonb_build_object('key', 's' || g, 'type', 'noop',
	                  'dependsOn', CASE WHEN g > 1 THEN jsonb_build_array('s' || (g - 1)) ELSE '[]' END)
	                  ORDER BY g)
	 FROM generate_series(1, 200) g))) ->> 'id'")
[ -n "$CHAIN" ] || fail "enqueue_workflow gave no id for the chain"
ok "the chain of 200 steps is workflow $CHAIN"

wait_for "[ \"\$(jv_psql \"SELECT jobvisor.workflow_status($FAN) || jobvisor.workflow_status($CHAIN)\")\" = succeededsucceeded ]" 180 \
	"both workflows succeeded"

assert_eq "1200|1200|0|0" "$(jv_psql "SELECT (SELECT count(*) FROM jobvisor.jobs WHERE status = 'succeeded') || '|' ||
	(SELECT count(DISTINCT job_id) FROM jobvisor.job_executions WHERE outcome = 'succeeded' AND NOT stale) || '|' ||
	(SELECT count(*) FROM (SELECT job_id FROM jobvisor.job_executions GROUP BY job_id HAVING count(*) <> 1) d) || '|' ||
	(SELECT count(*) FROM jobvisor.jobs j WHERE NOT EXISTS (
		SELECT 1 FROM jobvisor.job_executions e WHERE e.job_id = j.id))")" \
	"every step of both workflows ran exactly once, successfully"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.job_dependencies d
	JOIN jobvisor.job_executions e ON e.job_id = d.job_id
	JOIN jobvisor.job_executions f ON f.job_id = d.depends_on
	WHERE e.started_at < f.finished_at")" \
	"each step's execution started after every one of its dependencies' executions finished"
assert_eq "998|1|200" "$(jv_psql "SELECT (SELECT count(*) FROM jobvisor.job_dependencies d
	                  JOIN jobvisor.jobs j ON j.id = d.job_id
	                  WHERE j.workflow_id = $FAN AND j.workflow_key = 'z') || '|' ||
	(SELECT count(*) FROM jobvisor.jobs WHERE workflow_id = $FAN AND workflow_key = 'a' AND has_dependents) || '|' ||
	(SELECT count(*) FROM jobvisor.jobs WHERE workflow_id = $CHAIN)")" \
	"the shapes were as enqueued (z after 998 steps, a before them, 200 in the chain)"
assert_eq "t" "$(jv_psql "SELECT min(ez.started_at) >= max(e.finished_at)
	FROM jobvisor.jobs z JOIN jobvisor.job_executions ez ON ez.job_id = z.id,
	     jobvisor.jobs j JOIN jobvisor.job_executions e ON e.job_id = j.id
	WHERE z.workflow_id = $FAN AND z.workflow_key = 'z' AND j.workflow_id = $FAN AND j.id <> z.id")" \
	"the fan-in step z started after every other step of its workflow finished"
assert_eq "t" "$(jv_psql "SELECT bool_and(e2.started_at >= e1.finished_at)
	FROM jobvisor.jobs j1 JOIN jobvisor.job_executions e1 ON e1.job_id = j1.id
	JOIN jobvisor.jobs j2 ON j2.workflow_id = j1.workflow_id
	     AND j2.workflow_key = 's' || (substr(j1.workflow_key, 2)::integer + 1)
	JOIN jobvisor.job_executions e2 ON e2.job_id = j2.id
	WHERE j1.workflow_id = $CHAIN")" \
	"the chain ran in order, each step after the one before"
NPROC=$(jv_psql "SELECT count(DISTINCT e.processor) FROM jobvisor.job_executions e
	JOIN jobvisor.jobs j ON j.id = e.job_id WHERE j.workflow_id = $FAN")
[ "$NPROC" -ge 2 ] || fail "only $NPROC processor ran the fan-out's steps"
ok "$NPROC processors ran the fan-out's steps"
echo "# from a dependency's finish to its dependent's start, in the chain (ms):" \
	"$(jv_psql "SELECT 'median ' || round((percentile_cont(0.5) WITHIN GROUP (ORDER BY g))::numeric, 1)
	             || ', max ' || round(max(g)::numeric, 1)
	FROM (SELECT extract(epoch FROM e2.started_at - e1.finished_at) * 1000 AS g
	      FROM jobvisor.job_dependencies d
	      JOIN jobvisor.jobs j ON j.id = d.job_id
	      JOIN jobvisor.job_executions e1 ON e1.job_id = d.depends_on
	      JOIN jobvisor.job_executions e2 ON e2.job_id = d.job_id
	      WHERE j.workflow_id = $CHAIN) x")"
echo "# the fan-out: $(jv_psql "SELECT round((extract(epoch FROM max(e.finished_at) - min(e.started_at)) * 1000)::numeric)
	FROM jobvisor.job_executions e JOIN jobvisor.jobs j ON j.id = e.job_id
	WHERE j.workflow_id = $FAN") ms from a's start to z's finish"

# --------------------------------------------------- 3. a failed step
FAIL=$(jv_psql "SELECT jobvisor.enqueue_workflow('{\"name\": \"fails\", \"jobs\": [
	{\"key\": \"a\", \"type\": \"noop\"},
	{\"key\": \"b\", \"type\": \"noop\", \"dependsOn\": [\"a\"],
	 \"payload\": {\"outcome\": \"permanent\", \"error\": \"b broke\"}},
	{\"key\": \"c\", \"type\": \"noop\", \"dependsOn\": [\"a\"]},
	{\"key\": \"d\", \"type\": \"noop\", \"dependsOn\": [\"b\", \"c\"]},
	{\"key\": \"e\", \"type\": \"noop\", \"dependsOn\": [\"b\"], \"runWhen\": \"always\"}]}') ->> 'id'")
wait_for "[ \"\$(jv_psql \"SELECT jobvisor.workflow_status($FAIL)\")\" = failed ]" 60 \
	"the workflow with a failing step finished as failed"
assert_eq "a succeeded|b failed|c succeeded|d cancelled dependency b ($(jv_psql "SELECT id FROM jobvisor.jobs WHERE workflow_id = $FAIL AND workflow_key = 'b'")) failed|e succeeded" \
	"$(jv_psql "SELECT string_agg(workflow_key || ' ' || status || coalesce(' ' || CASE WHEN status = 'cancelled' THEN last_error END, ''), '|' ORDER BY workflow_key)
	FROM jobvisor.jobs WHERE workflow_id = $FAIL")" \
	"b failed for good: d cancelled naming b, e (always) ran, a and c ran"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.job_executions e JOIN jobvisor.jobs j ON j.id = e.job_id
	WHERE j.workflow_id = $FAIL AND j.workflow_key = 'd'")" "d never ran"

# ------------------------------ 4. enqueue and completion, interleaved
# enqueue() locks its dependencies: a completion that comes while the
# enqueue's transaction is open waits for it and then sees the new edge;
# an enqueue that comes while a completion's transaction is open waits for
# it and then sees the dependency finished. Each transaction is held open
# on an advisory lock that session H holds until it is terminated; the
# jobs are of a type no processor serves.
# waiting NAME: the session NAME waits for a lock
waiting()
{
	wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM pg_stat_activity
		WHERE application_name = '$1' AND wait_event_type = 'Lock'\")\" = 1 ]" 20 "$2"
}
# session NAME SQL: run SQL in the background as application NAME
session()
{
	jv_bg env PGAPPNAME="$1" psql -X -q -v ON_ERROR_STOP=1 -d "$JV_DB_URL" -c "$2"
}
hold()
{
	session jvrace_h "SELECT pg_advisory_lock(4242), pg_sleep(120)"
	wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE a.application_name = 'jvrace_h' AND l.locktype = 'advisory' AND l.granted\")\" = 1 ]" 20 \
		"session H holds the gate"
}
release()
{
	jv_psql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'jvrace_h'" >/dev/null
}

X1=$(jv_psql "INSERT INTO jobvisor.jobs (type) VALUES ('held') RETURNING id")
# (a first dependent, so that the enqueue below has no has_dependents to set)
jv_psql "SELECT jobvisor.enqueue('held', depends_on => ARRAY[$X1])" >/dev/null
hold
session jvrace_a "BEGIN; SELECT jobvisor.enqueue('held', depends_on => ARRAY[$X1]);
	SELECT pg_advisory_xact_lock_shared(4242); COMMIT"
A=$BG_PID
waiting jvrace_a "the enqueue after $X1 is held open"
session jvrace_c "UPDATE jobvisor.jobs SET status = 'succeeded', finished_at = now() WHERE id = $X1"
C=$BG_PID
waiting jvrace_c "the completion of $X1 waits for the enqueue"
release
wait "$A" || fail "the enqueue failed: $(cat "$JV_TMP/bg.$((BG_N - 1)).err")"
wait "$C" || fail "the completion failed: $(cat "$JV_TMP/bg.$BG_N.err")"
assert_eq "2/2" "$(jv_psql "SELECT count(*) FILTER (WHERE j.status = 'pending' AND j.waiting_on = 0 AND d.resolved)
	|| '/' || count(*)
	FROM jobvisor.job_dependencies d JOIN jobvisor.jobs j ON j.id = d.job_id WHERE d.depends_on = $X1")" \
	"a completion waiting for an enqueue after it: the new job is pending when it commits"

X2=$(jv_psql "INSERT INTO jobvisor.jobs (type) VALUES ('held') RETURNING id")
hold
session jvrace_c "BEGIN; UPDATE jobvisor.jobs SET status = 'failed', finished_at = now() WHERE id = $X2;
	SELECT pg_advisory_xact_lock_shared(4242); COMMIT"
C=$BG_PID
waiting jvrace_c "the completion of $X2 is held open"
session jvrace_a "SELECT jobvisor.enqueue('held', depends_on => ARRAY[$X2])"
A=$BG_PID
waiting jvrace_a "the enqueue after $X2 waits for its completion"
release
wait "$C" || fail "the completion failed: $(cat "$JV_TMP/bg.$((BG_N - 1)).err")"
wait "$A" || fail "the enqueue failed: $(cat "$JV_TMP/bg.$BG_N.err")"
assert_eq "cancelled|$X2|dependency $X2 failed" "$(jv_psql "SELECT j.status || '|' || j.blocked_by || '|' || j.last_error
	FROM jobvisor.job_dependencies d JOIN jobvisor.jobs j ON j.id = d.job_id WHERE d.depends_on = $X2")" \
	"an enqueue waiting for a completion: the new job sees the dependency failed and is cancelled naming it"

for _p in $P; do
	kill -TERM "$_p"
done
for _p in $P; do
	wait "$_p" || fail "processor $_p did not exit 0"
done
ok "the 3 processors stopped"
# (completions that resolve dependents lock them in id order)
# shellcheck disable=SC2086 # a list of files
assert_no_match "deadlock" "$(cat $ERRS)" "no processor met a deadlock"
jv_done
