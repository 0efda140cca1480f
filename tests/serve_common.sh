#!/bin/sh
# serve_common.sh -- sourced by the it_serve_*.sh tests of one behaviour of
# a plain `jobvisor serve` (it_serve_success.sh, it_serve_outcomes.sh, ...),
# after lib.sh: a fresh database, migrated, and one serve on it, registered
# as running. Its config: short timeouts and fast retries so that each test
# runs in seconds (heartbeat 200 ms, timeout 2 s, retries 10..50 ms, 4
# workers), history.max_output_bytes 64, and two executors besides noop and
# slow: capped (noop, max_attempts 1) and inproc (noop, isolation: thread).
# Sets $SERVE (its PID) and $SERVE_ERR (its stderr).
. "${top_srcdir:-.}/tests/lib.sh"

jv_db
jv_write_config "$JV_CONF" "history: { max_output_bytes: 64 }"
jv_conf_set "$JV_CONF" \
	processor.heartbeat_interval_ms 200 \
	processor.timeout_seconds 2 \
	processor.retry_base_ms 10 \
	processor.retry_max_ms 50 \
	processor.max_concurrent_jobs 4 \
	processor.batch_size 8 \
	executors.capped '{ plugin: noop, max_attempts: 1 }' \
	executors.inproc '{ plugin: noop, isolation: thread }'
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

jv_bg "$JOBVISOR" serve -c "$JV_CONF"
SERVE=$BG_PID
# shellcheck disable=SC2034 # used by the tests that source this file
SERVE_ERR=$JV_TMP/bg.$BG_N.err
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.processors WHERE pid = $SERVE AND state = 'running'\")\" = 1 ]" 10 \
	"processor registered as running"
