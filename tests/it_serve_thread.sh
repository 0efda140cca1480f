#!/bin/sh
# it_serve_thread.sh -- an executor with isolation: thread runs in the
# supervisor's threads: its jobs succeed, and a job past its deadline is
# recorded as timed_out (the executor gives up at it).
. "${top_srcdir:-.}/tests/serve_common.sh"

jv_psql "INSERT INTO jobvisor.jobs (type, payload) SELECT 'inproc', jsonb_build_object('sleep_ms', g % 3) FROM generate_series(1, 30) g" >/dev/null
T=$(jv_psql "SELECT jobvisor.enqueue('inproc', '{\"sleep_ms\": 5000}', max_attempts => 1, timeout_seconds => 1)")
check wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE type = 'inproc' AND status = 'succeeded'\")\" = 30 ]" 10 \
	"30 in-process (thread) jobs succeeded"
wait_for "[ \"\$(jv_psql \"SELECT status FROM jobvisor.jobs WHERE id = $T\")\" = failed ]" 10 "the slow thread job ended"
check assert_eq "timed_out" "$(jv_psql "SELECT outcome FROM jobvisor.job_executions WHERE job_id = $T")" \
	"a thread job past its deadline is recorded as timed_out"
jv_done
