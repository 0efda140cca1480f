#!/bin/sh
# it_serve_output.sh -- a job's output and result reach the history and the
# job: the result stored on the job, the output bounded by
# history.max_output_bytes (64) with the truncation marked.
. "${top_srcdir:-.}/tests/serve_common.sh"

ID=$(jv_psql "SELECT jobvisor.enqueue('noop', '{\"output\": \"hello from noop, this line is long enough to be cut at sixty-four bytes\", \"result\": {\"k\": 7}}')")
wait_for "[ \"\$(jv_psql \"SELECT status FROM jobvisor.jobs WHERE id = $ID\")\" = succeeded ]" 10 "job with output succeeded"
check assert_eq '{"k": 7}' "$(jv_psql "SELECT result FROM jobvisor.jobs WHERE id = $ID")" "result stored on the job"
check assert_match 'output truncated' "$(jv_psql "SELECT output FROM jobvisor.job_executions WHERE job_id = $ID")" \
	"output bounded by history.max_output_bytes, truncation marked"
jv_done
