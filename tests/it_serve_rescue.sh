#!/bin/sh
# it_serve_rescue.sh -- stuck-job rescue. The horizon arithmetic is checked
# with rows placed just inside and just outside it (by the database clock, no
# sleeping); then a processor is killed with SIGKILL in the middle of a
# batch, and another rescues its jobs: all finish, none ran twice at once.
. "${top_srcdir:-.}/tests/lib.sh"

jv_db
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

# --- the horizon, with p_now: 5 minutes
jv_psql "INSERT INTO jobvisor.processors (id, name, hostname, pid, version, heartbeat_at)
	OVERRIDING SYSTEM VALUE VALUES
	(9001, 'inside', 'h', 1, 't', '2026-01-01 00:00:00+00'),
	(9002, 'outside', 'h', 2, 't', '2026-01-01 00:00:00+00')" >/dev/null
jv_psql "INSERT INTO jobvisor.jobs (type, status, locked_by, attempts, max_attempts, started_at)
	VALUES ('noop', 'running', 9001, 1, 3, '2026-01-01 00:00:00+00'),
	       ('noop', 'running', 9002, 1, 3, '2026-01-01 00:00:00+00'),
	       ('noop', 'running', 9002, 3, 3, '2026-01-01 00:00:00+00')" >/dev/null
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.rescue_stuck('5 minutes', '2026-01-01 00:04:59+00')")" \
	"heartbeat 4m59s old: nothing rescued"
jv_psql "UPDATE jobvisor.processors SET heartbeat_at = '2026-01-01 00:04:00+00' WHERE id = 9001" >/dev/null
assert_eq 2 "$(jv_psql "SELECT count(*) FROM jobvisor.rescue_stuck('5 minutes', '2026-01-01 00:05:01+00')")" \
	"heartbeat 5m01s old: its 2 jobs rescued, the fresher processor's kept"
assert_eq "pending|failed" "$(jv_psql "SELECT string_agg(status, '|' ORDER BY attempts) FROM jobvisor.jobs WHERE locked_by IS NULL AND id IN (2, 3)")" \
	"rescued with attempts left: pending; attempts spent: failed"
assert_eq 2 "$(jv_psql "SELECT count(*) FROM jobvisor.job_executions WHERE outcome = 'rescued'")" \
	"each rescued attempt has its history row"
assert_eq "running|stopped" "$(jv_psql "SELECT string_agg(state, '|' ORDER BY id) FROM jobvisor.processors")" \
	"the silent processor is marked stopped"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.rescue_stuck('5 minutes', '2026-01-01 00:05:01+00')")" \
	"rescuing again is harmless"
# --- a claim whose answer was lost: jobs running under a live processor
# that it does not hold go back to pending, attempt not counted.
jv_psql "INSERT INTO jobvisor.jobs (id, type, status, locked_by, attempts, started_at)
	OVERRIDING SYSTEM VALUE VALUES
	(50, 'noop', 'running', 9101, 1, now()), (51, 'noop', 'running', 9101, 2, now()),
	(52, 'noop', 'running', 9102, 1, now())" >/dev/null
assert_eq 51 "$(jv_psql "SELECT id FROM jobvisor.release_unheld(9101, '{50}')")" \
	"only the job the processor does not hold is released"
assert_eq "running|9101|1 pending||1 running|9102|1" \
	"$(jv_psql "SELECT string_agg(status || '|' || coalesce(locked_by::text, '') || '|' || attempts, ' ' ORDER BY id) FROM jobvisor.jobs WHERE id >= 50")" \
	"held and other processors' jobs untouched; the released one pending, attempt not counted"
assert_match "answer was lost" "$(jv_psql "SELECT error FROM jobvisor.job_executions WHERE job_id = 51")" \
	"the released attempt has its history row"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.release_unheld(9101, '{50}')")" "releasing again is harmless"
jv_psql "DELETE FROM jobvisor.jobs; DELETE FROM jobvisor.job_executions; DELETE FROM jobvisor.processors" >/dev/null

# --- a processor killed in the middle of a batch
jv_conf_set "$JV_CONF" \
	processor.max_concurrent_jobs 6 \
	processor.batch_size 6 \
	processor.heartbeat_interval_ms 200
jv_bg "$JOBVISOR" serve -c "$JV_CONF"
A=$BG_PID
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.processors WHERE pid = $A AND state = 'running'\")\" = 1 ]" 10 "processor A running"
AID=$(jv_psql "SELECT id FROM jobvisor.processors WHERE pid = $A")
# The first six (A's first batch, in claim order) run 5 s, so that A is
# killed while it runs them however slow the machine is; the rest 300 ms.
# (With 300 ms for all, a loaded machine let A finish its batch before
# the kill, between one batch's completion and the next claim.)
jv_psql "INSERT INTO jobvisor.jobs (type, payload)
	SELECT 'noop', jsonb_build_object('sleep_ms', CASE WHEN g <= 6 THEN 5000 ELSE 300 END)
	FROM generate_series(1, 30) g ORDER BY g" >/dev/null
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE status = 'running'\")\" = 6 ]" 10 "A runs a full batch"
kill -KILL $A
wait $A 2>/dev/null
ok "A killed with SIGKILL mid-batch"
STUCK=$(jv_psql "SELECT count(*) FROM jobvisor.jobs WHERE status = 'running' AND locked_by = $AID")
[ "$STUCK" -ge 1 ] || fail "A left no running jobs behind; the test shows nothing"
ok "A left $STUCK jobs running"

jv_bg "$JOBVISOR" serve -c "$JV_CONF"
B=$BG_PID
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.processors WHERE pid = $B AND state = 'running'\")\" = 1 ]" 10 "processor B running"
# A's heartbeat is placed past the horizon instead of waiting 5 minutes;
# B's own periodic rescue does the rest.
jv_psql "UPDATE jobvisor.processors SET heartbeat_at = now() - interval '6 minutes' WHERE id = $AID" >/dev/null
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE status = 'succeeded'\")\" = 30 ]" 60 \
	"all 30 jobs finished"
assert_eq "$STUCK" "$(jv_psql "SELECT count(*) FROM jobvisor.job_executions WHERE outcome = 'rescued' AND processor = $AID")" \
	"each of A's stuck attempts closed as rescued"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.job_executions a JOIN jobvisor.job_executions b
	ON a.job_id = b.job_id AND a.id < b.id
	WHERE a.started_at < b.finished_at AND b.started_at < a.finished_at")" \
	"no job ever had two executions overlapping"
assert_match 'rescued [0-9]+ stuck jobs' "$(cat "$JV_TMP/bg.$BG_N.err")" "B logged the rescue"

# A late result of one of A's rescued attempts (as if A had come back) is
# fenced off: the job keeps B's outcome, the rescued row is marked stale.
RJ=$(jv_psql "SELECT job_id FROM jobvisor.job_executions WHERE outcome = 'rescued' AND processor = $AID LIMIT 1")
assert_eq "$RJ|1|f|" "$(jv_psql "SELECT id, attempt, applied, coalesce(status, '') FROM jobvisor.complete($AID,
	'[{\"id\": $RJ, \"attempt\": 1, \"outcome\": \"failed\", \"error\": \"late\"}]')")" 	"a late completion from the rescued attempt is not applied"
assert_eq "succeeded|2" "$(jv_psql "SELECT status, attempts FROM jobvisor.jobs WHERE id = $RJ")" 	"the job keeps the newer attempt's outcome"
assert_match "late result, not applied: failed: late" 	"$(jv_psql "SELECT error FROM jobvisor.job_executions WHERE job_id = $RJ AND attempt = 1 AND stale")" 	"the rescued attempt's history row says so"
assert_eq 2 "$(jv_psql "SELECT count(*) FROM jobvisor.job_executions WHERE job_id = $RJ")" 	"still one history row per attempt"
kill -TERM $B
wait $B
assert_eq 0 $? "B exits 0"
jv_done
