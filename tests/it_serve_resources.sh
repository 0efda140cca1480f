#!/bin/sh
# it_serve_resources.sh -- a job that cannot get a worker process because
# serve is short of a local resource (here descriptors: its soft
# RLIMIT_NOFILE is lowered under it with prlimit, so socketpair() fails with
# EMFILE) is not the job's failure: it waits in serve, still claimed, its
# attempt neither counted nor recorded; serve says so once, not at every
# try, claims nothing more meanwhile, keeps trying with back-off, and once
# the limit is back the job runs as the attempt it was claimed for, with
# one history row. Workers are replaced after every job (worker_max_jobs: 1),
# so each job needs a new one.
. "${top_srcdir:-.}/tests/lib.sh"

command -v prlimit >/dev/null 2>&1 || skip_all "prlimit not found"

jv_db
jv_write_config "$JV_CONF" "log: { level: debug }"
jv_conf_set "$JV_CONF" \
	processor.max_concurrent_jobs 1 \
	processor.worker_max_jobs 1 \
	processor.heartbeat_interval_ms 200 \
	processor.poll_interval_ms 200 \
	processor.shutdown_grace_seconds 5
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"
q() { jv_psql "$1"; }
enqueue() { q "INSERT INTO jobvisor.jobs (type, payload, max_attempts) VALUES ('noop', '{}', 1) RETURNING id"; }
status_of() { q "SELECT status FROM jobvisor.jobs WHERE id = $1"; }

jv_bg "$JOBVISOR" serve -c "$JV_CONF"
S=$BG_PID
SERR=$JV_TMP/bg.$BG_N.err
wait_for "grep -q 'started: ' '$SERR'" 10 "serve runs"
A=$(enqueue)
wait_for "[ \"\$(status_of $A)\" = succeeded ]" 10 "a first job runs (its worker is then replaced)"
wait_for "[ \$(grep -c 'worker [0-9]* started' '$SERR') -ge 2 ]" 10 "by a new worker"

# Every descriptor number from the lowest free one up is now refused.
SOFT=$(awk '/^Max open files/ { print $4 }' /proc/"$S"/limits)
LOW=$(ls /proc/"$S"/fd | sort -n | awk '$1 == n { n++ } END { print n }')
prlimit --pid "$S" --nofile="$LOW:" || fail "prlimit --pid $S --nofile=$LOW: failed"
ok "serve's soft descriptor limit lowered from $SOFT to $LOW"

B=$(enqueue)
wait_for "[ \"\$(status_of $B)\" = succeeded ]" 10 "job $B runs on the worker started before"
wait_for "grep -q 'socketpair: Too many open files' '$SERR'" 10 "replacing that worker fails"

C=$(enqueue)
wait_for "[ \"\$(status_of $C)\" = failed ] || grep -q 'job $C waits' '$SERR'" 10 \
	"job $C is either failed or waits for a worker"
assert_eq running "$(status_of "$C")" "job $C is not recorded as failed: it waits, claimed"
assert_match 'worker: cannot start a worker process: socketpair: Too many open files; trying again' \
	"$(cat "$SERR")" "serve says why workers do not start"
assert_match "job $C waits for a worker process \\(none could be started: socketpair: Too many open files\\): not counted as an attempt; claiming stops until it starts" \
	"$(cat "$SERR")" "the log says it waits, and why"
assert_eq "running|1|0" "$(q "SELECT j.status, j.attempts, (SELECT count(*) FROM jobvisor.job_executions e WHERE e.job_id = j.id) FROM jobvisor.jobs j WHERE j.id = $C")" \
	"job $C stays claimed by serve: attempt 1 not yet begun, nothing recorded"
D=$(enqueue)
# Serve keeps trying, with back-off (each try is a debug line).
wait_for "[ \$(grep -c 'cannot start a worker process: socketpair: Too many open files (' '$SERR') -ge 5 ]" 20 \
	"serve tries again and again"
assert_eq "pending|" "$(q "SELECT status, locked_by FROM jobvisor.jobs WHERE id = $D")" \
	"meanwhile it claims nothing more (job $D stays pending, unclaimed)"
assert_eq 1 "$(grep -c 'cannot start a worker process: socketpair: Too many open files;' "$SERR")" \
	"the shortage is a warning once, not per try"
assert_eq 1 "$(grep -c 'waits for a worker process' "$SERR")" "and so is the waiting job"
assert_eq 0 "$(grep -c 'no worker process available' "$SERR")" "no job ends for want of a worker"

prlimit --pid "$S" --nofile="$SOFT:" || fail "prlimit --pid $S --nofile=$SOFT: failed"
ok "the limit is back to $SOFT"
wait_for "[ \"\$(status_of $C)\" = succeeded ] && [ \"\$(status_of $D)\" = succeeded ]" 15 \
	"jobs $C and $D run once workers start again"
assert_eq "1|succeeded|" "$(q "SELECT attempt, outcome, coalesce(error, '') FROM jobvisor.job_executions WHERE job_id = $C")" \
	"job $C has one execution: attempt 1, succeeded"
assert_eq 0 "$(q "SELECT count(*) FROM jobvisor.jobs WHERE status <> 'succeeded'")" "no job failed"
assert_match 'worker: worker processes start again, after [0-9]+ failed tries \(socketpair: Too many open files\)' \
	"$(cat "$SERR")" "the log says when workers start again"
assert_match 'a worker process took the waiting job after [0-9]+ ms; claiming again' "$(cat "$SERR")" \
	"and that the waiting job went"

kill -TERM "$S"
wait_for "! kill -0 $S" 20 "serve stops"
assert_no_match 'AddressSanitizer|LeakSanitizer|runtime error' "$(cat "$SERR")" "no sanitizer report"
jv_done
