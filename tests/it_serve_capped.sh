#!/bin/sh
# it_serve_capped.sh -- an executor's max_attempts (capped: 1) caps the
# job's own (5).
. "${top_srcdir:-.}/tests/serve_common.sh"

X=$(jv_psql "SELECT jobvisor.enqueue('capped', '{\"outcome\": \"retryable\"}', max_attempts => 5)")
wait_for "[ \"\$(jv_psql \"SELECT status FROM jobvisor.jobs WHERE id = $X\")\" = failed ]" 10 "capped job ended failed"
assert_eq 1 "$(jv_psql "SELECT attempts FROM jobvisor.jobs WHERE id = $X")" \
	"executor max_attempts caps the job's own"
jv_done
