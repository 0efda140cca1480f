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
#     run_when always step runs, the rest of the workflow is untouched.
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
