#!/bin/sh
# it_serve_outcomes.sh -- the failing outcomes of an executor end with the
# right attempts, executions and errors: retryable is retried while attempts
# < max_attempts, then failed; permanent is never retried; a crash (the
# worker aborts) is recorded as crashed, names the signal, and is retried.
# (A hang: it_serve_hang.sh.)
. "${top_srcdir:-.}/tests/serve_common.sh"

R=$(jv_psql "SELECT jobvisor.enqueue('noop', '{\"outcome\": \"retryable\"}', max_attempts => 3)")
P=$(jv_psql "SELECT jobvisor.enqueue('noop', '{\"outcome\": \"permanent\"}', max_attempts => 3)")
C=$(jv_psql "SELECT jobvisor.enqueue('noop', '{\"outcome\": \"crash\"}', max_attempts => 2)")
for j in $R $P $C; do
	check wait_for "[ \"\$(jv_psql \"SELECT status FROM jobvisor.jobs WHERE id = $j\")\" = failed ]" 30 "job $j ended failed"
done
check assert_eq "3|3" "$(jv_psql "SELECT attempts, (SELECT count(*) FROM jobvisor.job_executions WHERE job_id = $R AND outcome = 'failed') FROM jobvisor.jobs WHERE id = $R")" \
	"retryable: 3 attempts, 3 failed executions"
check assert_eq "1|1" "$(jv_psql "SELECT attempts, (SELECT count(*) FROM jobvisor.job_executions WHERE job_id = $P AND outcome = 'failed') FROM jobvisor.jobs WHERE id = $P")" \
	"permanent: 1 attempt, not retried"
check assert_match 'permanent' "$(jv_psql "SELECT last_error FROM jobvisor.jobs WHERE id = $P")" "last_error kept"
check assert_eq "2|2" "$(jv_psql "SELECT attempts, (SELECT count(*) FROM jobvisor.job_executions WHERE job_id = $C AND outcome = 'crashed') FROM jobvisor.jobs WHERE id = $C")" \
	"crash: outcome crashed, retried up to max_attempts"
check assert_match 'signal 6' "$(jv_psql "SELECT last_error FROM jobvisor.jobs WHERE id = $C")" "crash error names the signal"
jv_done
