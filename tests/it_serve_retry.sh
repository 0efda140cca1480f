#!/bin/sh
# it_serve_retry.sh -- the retry delay an executor asks for (retry_in_ms)
# is honoured: the job is back to pending, scheduled in the future by the
# database clock.
. "${top_srcdir:-.}/tests/serve_common.sh"

B=$(jv_psql "SELECT jobvisor.enqueue('noop', '{\"outcome\": \"retryable\", \"retry_in_ms\": 60000}', max_attempts => 2)")
wait_for "[ \"\$(jv_psql \"SELECT attempts FROM jobvisor.jobs WHERE id = $B AND status = 'pending'\")\" = 1 ]" 10 "retryable job back to pending"
assert_eq t "$(jv_psql "SELECT scheduled_at > now() + interval '50 seconds' FROM jobvisor.jobs WHERE id = $B")" \
	"retry_in from the executor honoured"
jv_done
