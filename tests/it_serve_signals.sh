#!/bin/sh
# it_serve_signals.sh -- SIGTERM with jobs running (they finish within the
# grace period; nothing lost), SIGTERM past the grace period (the rest are
# released: back to pending, attempt not counted), SIGHUP reload (a valid
# config applies without dropping running jobs, an invalid one is refused
# with its error and the old one stays; a thread-isolated job running across
# a reload neither holds the reload nor the heartbeats, finishes on the old
# configuration and is recorded once).
. "${top_srcdir:-.}/tests/lib.sh"

jv_db
jv_conf_set "$JV_CONF" \
	processor.max_concurrent_jobs 4 \
	processor.batch_size 4 \
	processor.shutdown_grace_seconds 20 \
	processor.heartbeat_interval_ms 200
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

running() { jv_psql "SELECT count(*) FROM jobvisor.jobs WHERE status = 'running'"; }

# --- graceful: running jobs finish
jv_bg "$JOBVISOR" serve -c "$JV_CONF"
S=$BG_PID
jv_psql "INSERT INTO jobvisor.jobs (type, payload) SELECT 'noop', '{\"sleep_ms\": 1500}' FROM generate_series(1, 4)" >/dev/null
wait_for "[ \"\$(running)\" = 4 ]" 10 "4 jobs running"
kill -TERM $S
wait $S
assert_eq 0 $? "exit 0 after SIGTERM"
assert_eq 4 "$(jv_psql "SELECT count(*) FROM jobvisor.jobs WHERE status = 'succeeded'")" \
	"the 4 running jobs finished within the grace period"
assert_eq stopped "$(jv_psql "SELECT state FROM jobvisor.processors WHERE pid = $S")" "processor stopped"

# --- grace period over: released, attempt not counted
jv_conf_set "$JV_CONF" processor.shutdown_grace_seconds 1
jv_bg "$JOBVISOR" serve -c "$JV_CONF"
S=$BG_PID
jv_psql "INSERT INTO jobvisor.jobs (type, payload) SELECT 'noop', '{\"sleep_ms\": 30000}' FROM generate_series(1, 4)" >/dev/null
wait_for "[ \"\$(running)\" = 4 ]" 10 "4 long jobs running"
kill -TERM $S
wait $S
assert_eq 0 $? "exit 0 after SIGTERM past the grace period"
assert_eq "4|0" "$(jv_psql "SELECT count(*), max(attempts) FROM jobvisor.jobs WHERE status = 'pending' AND payload->>'sleep_ms' = '30000'")" \
	"the 4 killed jobs are pending again, attempt not counted"
assert_eq 4 "$(jv_psql "SELECT count(*) FROM jobvisor.job_executions WHERE outcome = 'released' AND error LIKE 'released at shutdown%'")" \
	"each released attempt left its history row"
assert_match 'grace period over: stopping 4 running jobs' "$(cat "$JV_TMP/bg.$BG_N.err")" "release logged"
jv_psql "DELETE FROM jobvisor.jobs WHERE status = 'pending'" >/dev/null

# --- SIGHUP
jv_conf_set "$JV_CONF" processor.shutdown_grace_seconds 20
jv_bg "$JOBVISOR" serve -c "$JV_CONF"
S=$BG_PID
SERR=$JV_TMP/bg.$BG_N.err
jv_psql "INSERT INTO jobvisor.jobs (type, payload) SELECT 'noop', '{\"sleep_ms\": 1500}' FROM generate_series(1, 2)" >/dev/null
wait_for "[ \"\$(running)\" = 2 ]" 10 "2 jobs running before reload"
cp "$JV_CONF" "$JV_TMP/good.yaml"
printf 'processor:\n  batch_size: [oops\n' >>"$JV_CONF"
kill -HUP $S
wait_for "grep -q 'reload refused' '$SERR'" 10 "an invalid config is refused"
assert_match "$(basename "$JV_CONF"):[0-9]+:[0-9]+: " "$(cat "$SERR")" "the refusal names FILE:LINE:COL"
kill -0 $S || fail "serve died on a bad reload"
ok "still running on the old config"
cp "$JV_TMP/good.yaml" "$JV_CONF"
jv_conf_set "$JV_CONF" processor.max_concurrent_jobs 3
kill -HUP $S
wait_for "grep -q 'reloaded: .* max_concurrent_jobs 3' '$SERR'" 10 "a valid config is applied"
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE status = 'succeeded' AND payload->>'sleep_ms' = '1500'\")\" = 6 ]" 10 \
	"jobs running across the reload finished"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.job_executions WHERE outcome NOT IN ('succeeded', 'released')")" \
	"no attempt was lost or failed by the reload"
jv_psql "INSERT INTO jobvisor.jobs (type, payload) SELECT 'noop', '{\"sleep_ms\": 10}' FROM generate_series(1, 20)" >/dev/null
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE status = 'succeeded' AND payload->>'sleep_ms' = '10'\")\" = 20 ]" 20 \
	"jobs run after the reload"
wait_for "[ \$(pgrep -P $S | wc -l) = 3 ]" 5 "the pool follows max_concurrent_jobs 3"
kill -TERM $S
wait $S
assert_eq 0 $? "exit 0"

# --- SIGHUP with a thread-isolated job running
TCONF=$JV_TMP/thread.yaml
jv_write_config "$TCONF" "  noop_t: { plugin: noop, isolation: thread, timeout_seconds: 60 }"
jv_conf_set "$TCONF" \
	processor.max_concurrent_jobs 4 \
	processor.batch_size 4 \
	processor.shutdown_grace_seconds 20 \
	processor.heartbeat_interval_ms 200
jv_bg "$JOBVISOR" serve -c "$TCONF"
S=$BG_PID
SERR=$JV_TMP/bg.$BG_N.err
status_of() { jv_psql "SELECT status FROM jobvisor.jobs WHERE id = $1"; }
TJ=$(jv_psql "INSERT INTO jobvisor.jobs (type, payload) VALUES ('noop_t', '{\"sleep_ms\": 6000}') RETURNING id")
wait_for "[ \"\$(status_of $TJ)\" = running ]" 10 "a 6 s thread job runs"
jv_conf_set "$TCONF" processor.max_concurrent_jobs 3
kill -HUP $S
wait_for "grep -q 'reloaded: .* max_concurrent_jobs 3' '$SERR'" 5 "the reload is done"
assert_eq running "$(status_of $TJ)" "the reload did not wait for the thread job, still running"
assert_match '1 thread jobs finish under the previous configuration' "$(cat "$SERR")" "the reload says so"
H1=$(jv_psql "SELECT heartbeat_at FROM jobvisor.processors WHERE pid = $S AND state = 'running'")
[ -n "$H1" ] || fail "no running processor row for serve $S"
wait_for "[ \"\$(jv_psql \"SELECT heartbeat_at > '$H1'::timestamptz FROM jobvisor.processors WHERE pid = $S\")\" = t ]" 5 \
	"heartbeats go on after the reload"
assert_eq running "$(status_of $TJ)" "while the thread job of the old configuration runs"
NJ=$(jv_psql "INSERT INTO jobvisor.jobs (type, payload) VALUES ('noop_t', '{\"sleep_ms\": 10}') RETURNING id")
wait_for "[ \"\$(status_of $NJ)\" = succeeded ]" 10 "a thread job claimed after the reload runs on the new threads"
assert_eq running "$(status_of $TJ)" "meanwhile the old one still runs"
wait_for "[ \"\$(status_of $TJ)\" = succeeded ]" 20 "the old thread job finishes and is recorded"
assert_eq "1|succeeded" "$(jv_psql "SELECT count(*), max(outcome) FROM jobvisor.job_executions WHERE job_id = $TJ")" \
	"with one execution"
wait_for "grep -q 'thread jobs of the previous configuration have ended' '$SERR'" 5 \
	"the old configuration is freed after its last thread job"
kill -TERM $S
wait $S
assert_eq 0 $? "exit 0"
jv_done
