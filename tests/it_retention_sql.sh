#!/bin/sh
# it_retention_sql.sh -- jobvisor.purge_history() (sql/012_retention.sql)
# row by row, with p_now and rows placed just inside and just outside each
# horizon (no sleeping): what goes and what stays, batches that resume from
# the round's cursor, a locked row skipped without waiting, and the lease
# that keeps a second processor out of a round (busy, idle, takeover).
. "${top_srcdir:-.}/tests/lib.sh"

jv_db
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

NOW="'2026-03-01 00:00:00+00'"
# purge PROCESSOR P_NOW [BATCH]: one call with retention 30 days, failed 60,
# schedule runs 7, a round at most every minute; "state|jobs|executions|runs|wait_ms"
purge()
{
	jv_psql "SELECT state || '|' || jobs || '|' || executions || '|' || schedule_runs || '|' || wait_ms
		FROM jobvisor.purge_history($1, '30 days', '60 days', '7 days', '1 minute', ${3:-2},
		p_now => $2)"
}
# round PROCESSOR P_NOW: call until the round is done; prints the calls' states
round()
{
	_r_states=
	_r_i=0
	while [ "$_r_i" -lt 100 ]; do
		_r_out=$(purge "$1" "$2") || fail "purge_history failed: $_r_out"
		_r_states="$_r_states ${_r_out%%|*}"
		case $_r_out in more*) ;; *) break ;; esac
		_r_i=$((_r_i + 1))
	done
	echo "$_r_states"
}

# ---------------------------------------------------------------- the rows
# ids grow with created_at, as they do in life. The horizon of p_now is
# 2026-01-30 00:00 for succeeded and cancelled jobs, 2025-12-31 00:00 for
# failed ones, 2026-02-22 00:00 for schedule runs.
jv_psql "INSERT INTO jobvisor.jobs (id, type, status, created_at, finished_at, locked_by, scheduled_at,
		attempts, max_attempts, last_error)
	OVERRIDING SYSTEM VALUE VALUES
	(1, 'noop', 'succeeded', '2025-10-01', '2026-01-29 23:59:59+00', NULL, '2025-10-01', 1, 3, 'out-succeeded'),
	(2, 'noop', 'succeeded', '2025-10-02', '2026-01-30 00:00:01+00', NULL, '2025-10-02', 1, 3, 'in-succeeded'),
	(3, 'noop', 'cancelled', '2025-10-03', '2026-01-29 23:59:59+00', NULL, '2025-10-03', 0, 3, 'out-cancelled'),
	(4, 'noop', 'failed',    '2025-10-04', '2026-01-29 23:59:59+00', NULL, '2025-10-04', 3, 3, 'in-failed-60'),
	(5, 'noop', 'failed',    '2025-10-05', '2025-12-30 23:59:59+00', NULL, '2025-10-05', 3, 3, 'out-failed'),
	(6, 'noop', 'failed',    '2025-10-06', '2025-12-31 00:00:01+00', NULL, '2025-10-06', 3, 3, 'in-failed'),
	(7, 'noop', 'pending',   '2025-01-01', NULL, NULL, '2027-01-01', 1, 3, 'old-pending'),
	(8, 'noop', 'running',   '2025-01-02', NULL, 4242, '2025-01-02', 1, 3, 'old-running'),
	(9, 'noop', 'succeeded', '2025-11-01', '2026-02-28 00:00:00+00', NULL, '2025-11-01', 1, 3, 'late-succeeded'),
	(10, 'noop', 'succeeded', '2025-11-02', '2025-11-02 00:00:01+00', NULL, '2025-11-02', 1, 3, 'out-after-late'),
	(1000, 'noop', 'cancelled', '2026-02-27', '2026-02-27 00:00:01+00', NULL, '2026-02-27', 0, 3, 'new-cancelled')" >/dev/null
jv_psql "SELECT setval(pg_get_serial_sequence('jobvisor.jobs', 'id'), 1000)" >/dev/null
# one or two executions each; the old pending and running jobs' attempts
# are ancient too
jv_psql "INSERT INTO jobvisor.job_executions (job_id, attempt, type, started_at, finished_at, outcome)
	SELECT j.id, a, 'noop', j.created_at, j.created_at + interval '1 second', 'failed'
	FROM jobvisor.jobs j, generate_series(1, 2) a WHERE a <= 1 + j.id % 2" >/dev/null
jv_psql "INSERT INTO jobvisor.schedule_runs (schedule, run_at, created_at) VALUES
	('s', '2026-02-21 23:59:59+00', '2026-02-21 23:59:59+00'),
	('s', '2026-02-22 00:00:01+00', '2026-02-22 00:00:01+00')" >/dev/null
EXECS=$(jv_psql "SELECT count(*) FROM jobvisor.job_executions")

# ---------------------------------------------------------------- the bound
assert_eq 1001 "$(jv_psql "SELECT jobvisor.history_id_bound('2026-03-01')")" \
	"id bound: every job was enqueued before the horizon: max(id) + 1"
assert_eq 11 "$(jv_psql "SELECT jobvisor.history_id_bound('2026-01-01')")" \
	"id bound: just past the last job enqueued before the horizon"
assert_eq 0 "$(jv_psql "SELECT jobvisor.history_id_bound('2024-01-01')")" \
	"id bound: none enqueued before the horizon"

# ---------------------------------------------------------------- a round
STATES=$(round 1 "$NOW")
assert_match "^ more( more)+ done\$" "$STATES" "a round of several batches of 2 rows, then done ($STATES)"
assert_eq "in-succeeded,in-failed-60,in-failed,old-pending,old-running,late-succeeded,new-cancelled" \
	"$(jv_psql "SELECT string_agg(last_error, ',' ORDER BY id) FROM jobvisor.jobs")" \
	"gone: finished before the horizon (1 s out); kept: 1 s in, failed within 60 days, pending and running whatever their age, finished late"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.job_executions e
	WHERE NOT EXISTS (SELECT 1 FROM jobvisor.jobs j WHERE j.id = e.job_id)")" \
	"the executions of the removed jobs are gone"
KEPT_EXECS=$(jv_psql "SELECT count(*) FROM jobvisor.job_executions")
assert_eq "$KEPT_EXECS" "$(jv_psql "SELECT sum(1 + id % 2) FROM jobvisor.jobs")" \
	"the executions of the kept jobs are all there (the ancient ones of pending and running jobs too)"
assert_eq "2026-02-22 00:00:01+00" "$(jv_psql "SELECT string_agg(created_at::text, ',') FROM jobvisor.schedule_runs")" \
	"schedule runs: the one older than 7 days gone, the newer one kept"
assert_eq "1|$((EXECS - KEPT_EXECS))|1|1|4|$((EXECS - KEPT_EXECS))|1" \
	"$(jv_psql "SELECT last_processor || '|' || last_executions || '|' || last_schedule_runs || '|' ||
		schedule_runs_removed || '|' || jobs_removed || '|' || executions_removed || '|' ||
		(holder IS NULL AND last_jobs = 4)::int FROM jobvisor.history_purge")" \
	"the round's and the totals' counts: 4 jobs, their executions, 1 schedule run"

# ---------------------------------------------------------------- the lease
assert_eq "idle|0|0|0|59000" "$(purge 2 "'2026-03-01 00:00:01+00'")" \
	"another processor 1 s later: idle, the next round due in 59 s"
assert_eq "idle|0|0|0|1000" "$(purge 1 "'2026-03-01 00:00:59+00'")" \
	"the same processor: idle too; a round is due once a minute, whoever runs it"
# from here on, fresh rows: six old ones, and a round of processor 2 left half-way
jv_psql "DELETE FROM jobvisor.jobs; DELETE FROM jobvisor.job_executions" >/dev/null
jv_psql "INSERT INTO jobvisor.jobs (type, status, created_at, finished_at, last_error)
	SELECT 'noop', 'succeeded', '2025-12-01', '2026-01-01', 'wave2' FROM generate_series(1, 6)" >/dev/null
assert_eq "more|2|0|0|0" "$(purge 2 "'2026-03-01 00:01:00+00'")" "processor 2 starts a round: 2 removed"
assert_eq "busy|0|0|0|30000" "$(purge 1 "'2026-03-01 00:01:30+00'")" \
	"processor 1 within processor 2's lease: busy, nothing done, the lease ends in 30 s"
assert_eq 4 "$(jv_psql "SELECT count(*) FROM jobvisor.jobs WHERE last_error = 'wave2'")" "busy removed nothing"
assert_eq "more|2|0|0|0" "$(purge 1 "'2026-03-01 00:02:00.001+00'")" \
	"processor 2 silent past its lease: processor 1 takes the round over from its cursor"
assert_eq "busy|0|0|0|59999" "$(purge 2 "'2026-03-01 00:02:00.002+00'")" \
	"processor 2 comes back: busy, the round is processor 1's now"
assert_eq "t" "$(jv_psql "SELECT jobvisor.release_purge(1)")" "processor 1 stops, handing its round over"
assert_eq "f" "$(jv_psql "SELECT jobvisor.release_purge(2)")" "(processor 2 held none)"
assert_eq "more|2|0|0|0" "$(purge 2 "'2026-03-01 00:02:00.003+00'")" \
	"processor 2 goes on with it at once, from its cursor"
assert_eq "busy|0|0|0|59999" "$(purge 1 "'2026-03-01 00:02:00.004+00'")" \
	"processor 1 back: busy, the round is processor 2's"
STATES=$(round 2 "'2026-03-01 00:02:01+00'")
assert_match "done\$" "$STATES" "processor 2 finishes the round"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.jobs WHERE last_error = 'wave2'")" "the round removed all six"
assert_eq "2|10|6" "$(jv_psql "SELECT last_processor || '|' || jobs_removed || '|' || last_jobs FROM jobvisor.history_purge")" \
	"the round counted whole, as its last holder's"

# ---------------------------------------------------------------- a row held elsewhere
jv_psql "INSERT INTO jobvisor.jobs (id, type, status, created_at, finished_at, last_error)
	OVERRIDING SYSTEM VALUE VALUES
	(100, 'noop', 'succeeded', '2025-12-01', '2026-01-01', 'held'),
	(101, 'noop', 'succeeded', '2025-12-01', '2026-01-01', 'free')" >/dev/null
jv_bg psql -X -q -d "$JV_DB_URL" -c "BEGIN; SELECT id FROM jobvisor.jobs WHERE id = 100 FOR UPDATE; SELECT pg_sleep(60); COMMIT"
HOLDER=$BG_PID
holder_backend() { jv_psql "SELECT pid FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND state = 'active' AND datname = current_database() AND pid <> pg_backend_pid()"; }
wait_for "[ -n \"\$(holder_backend)\" ]" 10 "another transaction holds job 100"
BACKEND=$(holder_backend)
STATES=$(round 3 "'2026-03-01 00:10:00+00'")
assert_match "done\$" "$STATES" "a round finishes"
assert_eq "$BACKEND" "$(holder_backend)" "... while job 100 is still held: it did not wait for it"
assert_eq "held" "$(jv_psql "SELECT string_agg(last_error, ',') FROM jobvisor.jobs WHERE id >= 100")" \
	"the held job is skipped, the free one removed"
# (its server process sleeps on after the client is gone: end it first)
jv_psql "SELECT pg_terminate_backend($BACKEND)" >/dev/null
jv_kill_pid "$HOLDER"
wait_for "[ -z \"\$(holder_backend)\" ]" 10 "the other transaction is gone"
STATES=$(round 3 "'2026-03-01 00:11:00+00'")
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.jobs WHERE id >= 100")" "released, it goes in the next round"

# ---------------------------------------------------------------- keep forever
jv_psql "INSERT INTO jobvisor.jobs (type, status, created_at, finished_at, last_error) VALUES
	('noop', 'succeeded', '2000-01-01', '2000-01-01', 'forever'), ('noop', 'failed', '2000-01-01', '2000-01-01', 'forever-failed')" >/dev/null
assert_eq "done|1|0|0|60000" "$(jv_psql "SELECT state || '|' || jobs || '|' || executions || '|' || schedule_runs || '|' || wait_ms
	FROM jobvisor.purge_history(1, NULL, '30 days', NULL, '1 minute', 1000, p_now => '2026-03-01 00:12:00+00')")" \
	"retention NULL (0 days): the walks of what is kept forever are passed; only the failed job goes, in one call"
assert_eq "forever" "$(jv_psql "SELECT string_agg(last_error, ',') FROM jobvisor.jobs WHERE created_at = '2000-01-01'")" \
	"the succeeded one is kept forever"
run jv_psql "SELECT * FROM jobvisor.purge_history(1, NULL, NULL, NULL, '1 minute', 0)"
assert_match "p_batch must be positive" "$ERR" "a batch of 0 is refused, naming the parameter"
jv_done
