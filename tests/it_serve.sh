#!/bin/sh
# it_serve.sh -- one `jobvisor serve` against a real PostgreSQL: the
# processor row and heartbeat, every noop outcome (success, retryable,
# permanent, crash, hang) ending with the right outcomes, attempts and final
# states, hung workers gone after their timeout, output and result kept, and
# SIGTERM ending it cleanly.
. "${top_srcdir:-.}/tests/lib.sh"

jv_db
jv_write_config "$JV_CONF" "$(cat <<'YAML'
history: { max_output_bytes: 64 }
YAML
)"
# Short timeouts and fast retries, so the test runs in seconds.
jv_conf_set "$JV_CONF" \
	processor.heartbeat_interval_ms 200 \
	processor.timeout_seconds 2 \
	processor.retry_base_ms 10 \
	processor.retry_max_ms 50 \
	processor.max_concurrent_jobs 4 \
	processor.batch_size 8
# An executor that caps attempts below the job's own.
sed -i 's/^executors:$/executors:\n  capped: { plugin: noop, max_attempts: 1 }\n  inproc: { plugin: noop, isolation: thread }/' "$JV_CONF"
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

jv_bg "$JOBVISOR" serve -c "$JV_CONF"
SERVE=$BG_PID
SERVE_ERR=$JV_TMP/bg.$BG_N.err
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.processors WHERE pid = $SERVE AND state = 'running'\")\" = 1 ]" 10 \
	"processor registered as running"

# Successes: plain inserts, picked up through NOTIFY.
jv_psql "INSERT INTO jobvisor.jobs (type, payload) SELECT 'noop', jsonb_build_object('sleep_ms', g % 5) FROM generate_series(1, 40) g" >/dev/null
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE status = 'succeeded'\")\" = 40 ]" 20 \
	"40 noop jobs succeeded"
assert_eq 40 "$(jv_psql "SELECT count(*) FROM jobvisor.job_executions WHERE outcome = 'succeeded'")" \
	"one succeeded execution per job"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM (SELECT job_id FROM jobvisor.job_executions GROUP BY job_id HAVING count(*) > 1) d")" \
	"no job ran twice"
assert_eq 1 "$(jv_psql "SELECT count(DISTINCT processor) FROM jobvisor.job_executions")" \
	"every execution names the processor"

# Output and result reach the history and the job.
ID=$(jv_psql "SELECT jobvisor.enqueue('noop', '{\"output\": \"hello from noop, this line is long enough to be cut at sixty-four bytes\", \"result\": {\"k\": 7}}')")
wait_for "[ \"\$(jv_psql \"SELECT status FROM jobvisor.jobs WHERE id = $ID\")\" = succeeded ]" 10 "job with output succeeded"
assert_eq '{"k": 7}' "$(jv_psql "SELECT result FROM jobvisor.jobs WHERE id = $ID")" "result stored on the job"
assert_match 'output truncated' "$(jv_psql "SELECT output FROM jobvisor.job_executions WHERE job_id = $ID")" \
	"output bounded by history.max_output_bytes, truncation marked"

# Retryable: retried while attempts < max_attempts, then failed.
R=$(jv_psql "SELECT jobvisor.enqueue('noop', '{\"outcome\": \"retryable\"}', max_attempts => 3)")
# Permanent: never retried.
P=$(jv_psql "SELECT jobvisor.enqueue('noop', '{\"outcome\": \"permanent\"}', max_attempts => 3)")
# Crash: the worker aborts; outcome crashed; retried.
C=$(jv_psql "SELECT jobvisor.enqueue('noop', '{\"outcome\": \"crash\"}', max_attempts => 2)")
# Hang: ignores cancellation; killed at its own timeout (1 s).
H=$(jv_psql "SELECT jobvisor.enqueue('noop', '{\"outcome\": \"hang\"}', max_attempts => 1, timeout_seconds => 1)")
for j in $R $P $C $H; do
	wait_for "[ \"\$(jv_psql \"SELECT status FROM jobvisor.jobs WHERE id = $j\")\" = failed ]" 30 "job $j ended failed"
done
assert_eq "3|3" "$(jv_psql "SELECT attempts, (SELECT count(*) FROM jobvisor.job_executions WHERE job_id = $R AND outcome = 'failed') FROM jobvisor.jobs WHERE id = $R")" \
	"retryable: 3 attempts, 3 failed executions"
assert_eq "1|1" "$(jv_psql "SELECT attempts, (SELECT count(*) FROM jobvisor.job_executions WHERE job_id = $P AND outcome = 'failed') FROM jobvisor.jobs WHERE id = $P")" \
	"permanent: 1 attempt, not retried"
assert_eq "2|2" "$(jv_psql "SELECT attempts, (SELECT count(*) FROM jobvisor.job_executions WHERE job_id = $C AND outcome = 'crashed') FROM jobvisor.jobs WHERE id = $C")" \
	"crash: outcome crashed, retried up to max_attempts"
assert_match 'signal 6' "$(jv_psql "SELECT last_error FROM jobvisor.jobs WHERE id = $C")" "crash error names the signal"
assert_eq "1|1" "$(jv_psql "SELECT attempts, (SELECT count(*) FROM jobvisor.job_executions WHERE job_id = $H AND outcome = 'timed_out') FROM jobvisor.jobs WHERE id = $H")" \
	"hang: outcome timed_out after its own timeout"
assert_match 'permanent' "$(jv_psql "SELECT last_error FROM jobvisor.jobs WHERE id = $P")" "last_error kept"

# The hung worker is gone: the supervisor has exactly max_concurrent_jobs
# children again, none of them the killed one.
HUNG=$(grep -o 'timed out after [0-9]* ms; killing worker [0-9]*' "$SERVE_ERR" | head -n 1 | sed 's/.* //')
[ -n "$HUNG" ] || fail "no timeout line in the log"
wait_for "! kill -0 $HUNG 2>/dev/null" 5 "hung worker $HUNG is gone"
wait_for "[ \$(pgrep -P $SERVE | wc -l) = 4 ]" 5 "the pool is back to 4 workers"

# isolation: thread runs in the supervisor's threads: successes, and a job
# past its deadline recorded as timed_out (the executor gives up at it).
jv_psql "INSERT INTO jobvisor.jobs (type, payload) SELECT 'inproc', jsonb_build_object('sleep_ms', g % 3) FROM generate_series(1, 30) g" >/dev/null
T=$(jv_psql "SELECT jobvisor.enqueue('inproc', '{\"sleep_ms\": 5000}', max_attempts => 1, timeout_seconds => 1)")
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE type = 'inproc' AND status = 'succeeded'\")\" = 30 ]" 10 \
	"30 in-process (thread) jobs succeeded"
wait_for "[ \"\$(jv_psql \"SELECT status FROM jobvisor.jobs WHERE id = $T\")\" = failed ]" 10 "the slow thread job ended"
assert_eq "timed_out" "$(jv_psql "SELECT outcome FROM jobvisor.job_executions WHERE job_id = $T")" \
	"a thread job past its deadline is recorded as timed_out"

# In a worker process, an executor that stops when told at its deadline
# (cancelled() turns true) is a timeout too, with its own words, and its
# worker is not killed.
S=$(jv_psql "SELECT jobvisor.enqueue('noop', '{\"sleep_ms\": 5000}', max_attempts => 1, timeout_seconds => 1)")
wait_for "[ \"\$(jv_psql \"SELECT status FROM jobvisor.jobs WHERE id = $S\")\" = failed ]" 10 "the slow process job ended"
assert_match "^timed_out\|timed out after [0-9]+ ms; the executor stopped: (deadline reached|cancelled)" \
	"$(jv_psql "SELECT outcome || '|' || error FROM jobvisor.job_executions WHERE job_id = $S")" \
	"a process job that stopped at its deadline is recorded as timed_out, with its own error"
assert_no_match "job $S attempt 1 timed out after [0-9]+ ms; killing worker" "$(cat "$SERVE_ERR")" \
	"and its worker was not killed"

# The executor's max_attempts (1) caps the job's own (5).
X=$(jv_psql "SELECT jobvisor.enqueue('capped', '{\"outcome\": \"retryable\"}', max_attempts => 5)")
wait_for "[ \"\$(jv_psql \"SELECT status FROM jobvisor.jobs WHERE id = $X\")\" = failed ]" 10 "capped job ended failed"
assert_eq 1 "$(jv_psql "SELECT attempts FROM jobvisor.jobs WHERE id = $X")" \
	"executor max_attempts caps the job's own"

# Retry backoff is in the future, by the database clock.
B=$(jv_psql "SELECT jobvisor.enqueue('noop', '{\"outcome\": \"retryable\", \"retry_in_ms\": 60000}', max_attempts => 2)")
wait_for "[ \"\$(jv_psql \"SELECT attempts FROM jobvisor.jobs WHERE id = $B AND status = 'pending'\")\" = 1 ]" 10 "retryable job back to pending"
assert_eq t "$(jv_psql "SELECT scheduled_at > now() + interval '50 seconds' FROM jobvisor.jobs WHERE id = $B")" \
	"retry_in from the executor honoured"

# Heartbeat moves.
HB1=$(jv_psql "SELECT heartbeat_at FROM jobvisor.processors WHERE pid = $SERVE")
wait_for "[ \"\$(jv_psql \"SELECT heartbeat_at > '$HB1' FROM jobvisor.processors WHERE pid = $SERVE\")\" = t ]" 5 "heartbeat advances"

# Idle, it sleeps: over 2 s with nothing to do (heartbeats every 200 ms)
# it uses a small fraction of a second of CPU; a busy loop would use 2 s.
jv_psql "DELETE FROM jobvisor.jobs WHERE status = 'pending'" >/dev/null
cpu() { awk '{print $14 + $15}' /proc/$SERVE/stat; }
c0=$(cpu)
sleep 2
c1=$(cpu)
ticks=$(getconf CLK_TCK)
[ $((c1 - c0)) -lt $((ticks / 5)) ] || fail "idle serve used $((c1 - c0)) ticks in 2 s ($ticks/s)"
ok "idle serve does not spin ($((c1 - c0)) ticks in 2 s)"

# SIGTERM: exit 0, processor stopped, children gone.
CHILDREN=$(pgrep -P $SERVE | tr '\n' ' ')
kill -TERM $SERVE
wait $SERVE
assert_eq 0 $? "serve exits 0 on SIGTERM"
assert_eq stopped "$(jv_psql "SELECT state FROM jobvisor.processors WHERE pid = $SERVE")" "processor marked stopped"
for c in $CHILDREN; do
	kill -0 $c 2>/dev/null && fail "worker $c still running after exit"
done
ok "no worker outlives the supervisor"
assert_match 'stopped: [0-9]+ jobs claimed' "$(cat "$SERVE_ERR")" "stop line logged"
assert_no_match 'job [0-9]+ .*succeeded' "$(cat "$SERVE_ERR")" "no line per successful job at info level"
jv_done
