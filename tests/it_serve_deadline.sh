#!/bin/sh
# it_serve_deadline.sh -- in a worker process, an executor that stops when
# told at its deadline (cancelled() turns true) is a timeout too, with its
# own words, and its worker is not killed.
. "${top_srcdir:-.}/tests/serve_common.sh"

S=$(jv_psql "SELECT jobvisor.enqueue('noop', '{\"sleep_ms\": 5000}', max_attempts => 1, timeout_seconds => 1)")
wait_for "[ \"\$(jv_psql \"SELECT status FROM jobvisor.jobs WHERE id = $S\")\" = failed ]" 10 "the slow process job ended"
check assert_match "^timed_out\|timed out after [0-9]+ ms; the executor stopped: (deadline reached|cancelled)" \
	"$(jv_psql "SELECT outcome || '|' || error FROM jobvisor.job_executions WHERE job_id = $S")" \
	"a process job that stopped at its deadline is recorded as timed_out, with its own error"
check assert_no_match "job $S attempt 1 timed out after [0-9]+ ms; killing worker" "$(cat "$SERVE_ERR")" \
	"and its worker was not killed"
jv_done
