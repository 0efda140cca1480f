#!/bin/sh
# it_serve_hang.sh -- a job that ignores cancellation is killed at its own
# timeout (1 s): outcome timed_out, its worker gone, and the supervisor back
# to max_concurrent_jobs (4) workers.
. "${top_srcdir:-.}/tests/serve_common.sh"

H=$(jv_psql "SELECT jobvisor.enqueue('noop', '{\"outcome\": \"hang\"}', max_attempts => 1, timeout_seconds => 1)")
wait_for "[ \"\$(jv_psql \"SELECT status FROM jobvisor.jobs WHERE id = $H\")\" = failed ]" 30 "job $H ended failed"
check assert_eq "1|1" "$(jv_psql "SELECT attempts, (SELECT count(*) FROM jobvisor.job_executions WHERE job_id = $H AND outcome = 'timed_out') FROM jobvisor.jobs WHERE id = $H")" \
	"hang: outcome timed_out after its own timeout"

# The hung worker is gone: the supervisor has exactly max_concurrent_jobs
# children again, none of them the killed one.
HUNG=$(grep -o 'timed out after [0-9]* ms; killing worker [0-9]*' "$SERVE_ERR" | head -n 1 | sed 's/.* //')
[ -n "$HUNG" ] || fail "no timeout line in the log"
check wait_for "! kill -0 $HUNG 2>/dev/null" 5 "hung worker $HUNG is gone"
check wait_for "[ \$(pgrep -P $SERVE | wc -l) = 4 ]" 5 "the pool is back to 4 workers"
jv_done
