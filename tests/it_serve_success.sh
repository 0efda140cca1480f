#!/bin/sh
# it_serve_success.sh -- `jobvisor serve` runs plain inserts, picked up
# through NOTIFY: every job succeeds once, each with one succeeded
# execution naming the processor, and no line per successful job is logged
# at info level.
. "${top_srcdir:-.}/tests/serve_common.sh"

jv_psql "INSERT INTO jobvisor.jobs (type, payload) SELECT 'noop', jsonb_build_object('sleep_ms', g % 5) FROM generate_series(1, 40) g" >/dev/null
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE status = 'succeeded'\")\" = 40 ]" 20 \
	"40 noop jobs succeeded"
check assert_eq 40 "$(jv_psql "SELECT count(*) FROM jobvisor.job_executions WHERE outcome = 'succeeded'")" \
	"one succeeded execution per job"
check assert_eq 0 "$(jv_psql "SELECT count(*) FROM (SELECT job_id FROM jobvisor.job_executions GROUP BY job_id HAVING count(*) > 1) d")" \
	"no job ran twice"
check assert_eq 1 "$(jv_psql "SELECT count(DISTINCT processor) FROM jobvisor.job_executions")" \
	"every execution names the processor"
check assert_no_match 'job [0-9]+ .*succeeded' "$(cat "$SERVE_ERR")" "no line per successful job at info level"
jv_done
