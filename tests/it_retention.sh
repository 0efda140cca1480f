#!/bin/sh
# it_retention.sh -- history retention in `jobvisor serve`, two processors:
# finished jobs older than history.retention_days go with their executions
# (failed ones after history.failed_retention_days), newer ones stay,
# pending and running jobs stay whatever their age, schedule_runs are
# pruned as before; each round is one processor's, never two at once (from
# the rounds each logs, by the database clock, and from the counters);
# `jobvisor status` and /metrics show the oldest rows and what was removed.
# The row-level rules are checked with p_now in it_retention_sql.sh.
. "${top_srcdir:-.}/tests/lib.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 not found (tests/servers/promcheck.py)"
command -v curl >/dev/null 2>&1 || skip_all "curl not found"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

jv_db
jv_write_config "$JV_CONF" "$(cat <<'YAML'
api:
  listen: "127.0.0.1:0"
  token: "retention-test-token"
history:
  retention_days: 30
  failed_retention_days: 60
  check_interval_seconds: 1
YAML
)"
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

# plant N STATUS AGE TAG: N jobs finished (or, pending and running, created)
# AGE ago, one execution each, in the order they would have been enqueued
plant()
{
	case $2 in
	pending) _p_extra="NULL, NULL, now() + interval '1 day'" ;;
	running) _p_extra="NULL, 424242, now() - $3" ;;
	*) _p_extra="now() - $3, NULL, now() - $3" ;;
	esac
	jv_psql "WITH j AS (INSERT INTO jobvisor.jobs (type, status, created_at, finished_at, locked_by,
			scheduled_at, attempts, max_attempts, last_error)
		SELECT 'noop', '$2', now() - $3 - interval '1 minute', $_p_extra, 1, 3, '$4'
		FROM generate_series(1, $1) RETURNING id, created_at)
		INSERT INTO jobvisor.job_executions (job_id, attempt, type, started_at, finished_at, outcome)
		SELECT id, 1, 'noop', created_at, created_at + interval '1 second', 'failed' FROM j" >/dev/null
}
# the running job's processor: alive, so nobody rescues the job
jv_psql "INSERT INTO jobvisor.processors (id, name, hostname, pid, version, heartbeat_at)
	OVERRIDING SYSTEM VALUE VALUES (424242, 'elsewhere', 'h', 1, 't', now() + interval '1 day')" >/dev/null
plant 1 pending "interval '400 days'" old-pending
plant 1 running "interval '400 days'" old-running
plant 5 failed "interval '61 days'" out-failed
plant 5 failed "interval '31 days'" in-failed
plant 2500 succeeded "interval '31 days'" out-succeeded
plant 5 cancelled "interval '31 days'" out-cancelled
plant 1500 succeeded "interval '29 days'" wave2
plant 10 succeeded "interval '20 days'" in-succeeded
jv_psql "INSERT INTO jobvisor.schedule_runs (schedule, run_at, created_at) VALUES
	('gone', now() - interval '31 days', now() - interval '31 days'),
	('wave2', now() - interval '29 days', now() - interval '29 days'),
	('kept', now() - interval '20 days', now() - interval '20 days')" >/dev/null
OUT_JOBS=2510
TOTAL=$(jv_psql "SELECT count(*) FROM jobvisor.jobs")

T0=$(date +%s)
T0_NS=$(date +%s%N)
jv_bg "$JOBVISOR" serve -c "$JV_CONF"
A_ERR=$JV_TMP/bg.$BG_N.err
jv_bg "$JOBVISOR" serve -c "$JV_CONF"
B_ERR=$JV_TMP/bg.$BG_N.err
left() { jv_psql "SELECT count(*) FROM jobvisor.jobs WHERE last_error LIKE 'out-%'"; }
wait_for "[ \"\$(left)\" = 0 ]" 30 "the old finished jobs are removed"
ok "(measured: gone $(( ($(date +%s%N) - T0_NS) / 1000000 )) ms after the processors were started; check interval 1 s)"

kept() { jv_psql "SELECT string_agg(last_error || '|' || n, ' ' ORDER BY last_error)
	FROM (SELECT last_error, count(*) n FROM jobvisor.jobs GROUP BY 1) s"; }
assert_eq "in-failed|5 in-succeeded|10 old-pending|1 old-running|1 wave2|1500" "$(kept)" \
	"kept: finished within 30 days, failed within 60, pending and running of any age"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.job_executions e
	WHERE NOT EXISTS (SELECT 1 FROM jobvisor.jobs j WHERE j.id = e.job_id)")" \
	"the executions of the removed jobs are gone"
assert_eq 1517 "$(jv_psql "SELECT count(*) FROM jobvisor.job_executions")" \
	"the executions of the kept jobs stay, the 400-day-old ones of pending and running jobs too"
runs() { jv_psql "SELECT string_agg(schedule, ',' ORDER BY schedule) FROM jobvisor.schedule_runs"; }
wait_for "[ \"\$(runs)\" = kept,wave2 ]" 30 "schedule_runs older than the retention are pruned, as before"

# Two days pass (every time moves back two days, as it would): the 1 500
# jobs of 29 days cross the horizon while both processors run.
jv_psql "UPDATE jobvisor.jobs SET created_at = created_at - interval '2 days',
		finished_at = finished_at - interval '2 days';
	UPDATE jobvisor.job_executions SET started_at = started_at - interval '2 days',
		finished_at = finished_at - interval '2 days';
	UPDATE jobvisor.schedule_runs SET created_at = created_at - interval '2 days'" >/dev/null
OUT_JOBS=$((OUT_JOBS + 1500))
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE last_error = 'wave2'\")\" = 0 ]" 30 \
	"the second wave is removed"
assert_eq "in-failed|5 in-succeeded|10 old-pending|1 old-running|1" "$(kept)" "the rest is kept"
wait_for "[ \"\$(runs)\" = kept ]" 30 "the schedule run of 31 days is pruned"
assert_eq "$OUT_JOBS|$OUT_JOBS|2" \
	"$(jv_psql "SELECT jobs_removed || '|' || executions_removed || '|' || schedule_runs_removed FROM jobvisor.history_purge")" \
	"the database's totals: every old job and execution, the old schedule runs"

# rounds ERRFILE NAME: each round that processor logged, "start end jobs NAME"
rounds()
{
	sed -n 's/.*retention: removed \([0-9]*\) jobs\{0,1\}, .* (round \([0-9.]*\) to \([0-9.]*\) by the database clock).*/\2 \3 \1/p' "$1" |
		sed "s/\$/ $2/"
}
logged() { { rounds "$A_ERR" A; rounds "$B_ERR" B; } | awk '{ s += $3 } END { print s + 0 }'; }

# A batch that fails leaves the round with its processor, which goes on
# with it, and the round's line still counts the batches before: 1 500
# jobs finished 29 days ago cross the horizon while an execution of the
# last is locked for 20 s (the purge waits 5 s for a lock): the first
# batch removes 1 000, the second fails until the lock is gone. (The
# purge bounds its walk by id from created_at, jobs being created in id
# order: the jobs kept of 20 days go first, or the wave's older ones
# would come after them.)
jv_psql "DELETE FROM jobvisor.jobs WHERE last_error = 'in-succeeded'" >/dev/null
plant 1500 succeeded "interval '29 days'" wave3
LAST=$(jv_psql "SELECT max(id) FROM jobvisor.jobs WHERE last_error = 'wave3'")
jv_bg psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$JV_DB_URL" -c "BEGIN;
	SELECT 1 FROM jobvisor.job_executions WHERE job_id = $LAST FOR UPDATE;
	SELECT pg_sleep(20); COMMIT;"
HOLDER=$BG_PID
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'\")\" = 1 ]" 10 \
	"an execution of the third wave's last job is locked"
jv_psql "UPDATE jobvisor.jobs SET created_at = created_at - interval '2 days',
		finished_at = finished_at - interval '2 days'
	WHERE last_error = 'wave3'" >/dev/null
OUT_JOBS=$((OUT_JOBS + 1500))
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE last_error = 'wave3'\")\" = 0 ]" 40 \
	"the third wave is removed once the lock is gone"
wait "$HOLDER"
assert_match "retention: .*lock timeout" "$(cat "$A_ERR" "$B_ERR")" \
	"a batch of the third wave failed on the locked row"
wait_for "[ \"\$(logged)\" = $OUT_JOBS ]" 30 \
	"the rounds' lines count every job removed, the batches before the failed one too"

# ---------------------------------------------------------------- one at a time
# Each round that removed something is logged by its processor with its
# start and end by the database clock; rounds of different processors never
# overlap, and together they removed each old job once.
{ rounds "$A_ERR" A; rounds "$B_ERR" B; } | sort -n >"$JV_TMP/rounds"
N=$(wc -l <"$JV_TMP/rounds")
[ "$N" -ge 2 ] || fail "expected at least two rounds that removed rows, found $N: $(cat "$A_ERR" "$B_ERR" | grep retention)"
ok "$N rounds removed rows: $(awk '{print $4 ":" $3}' "$JV_TMP/rounds" | tr '\n' ' ')"
OVERLAP=$(awk '$1 < end { print "round of " $4 " from " $1 " overlaps one ending " end } $2 > end { end = $2 }' "$JV_TMP/rounds")
assert_eq "" "$OVERLAP" "no two rounds ran at once"
LOGGED=$(awk '{ s += $3 } END { print s }' "$JV_TMP/rounds")
if [ "$LOGGED" = "$OUT_JOBS" ]; then
	ok "together the logged rounds removed each old job once"
else
	fail "together the logged rounds removed each old job once: expected '$OUT_JOBS', got '$LOGGED';" \
		"the processors said: $(grep -h 'retention' "$A_ERR" "$B_ERR" | tr '\n' '|')"
fi

# ---------------------------------------------------------------- what it shows
run "$JOBVISOR" status -c "$JV_CONF"
assert_rc 0 "jobvisor status"
assert_match "^history: finished jobs kept 30 days \(failed ones 60 days\), checked every 1 s$" "$OUT" \
	"status says the retention"
assert_match "^  oldest finished job: finished 33d00h ago; oldest execution: started 402d00h ago$" "$OUT" \
	"status shows the oldest finished job (a failed one) and the oldest execution (the pending job's)"
assert_match "^  removed in all: $OUT_JOBS jobs, $OUT_JOBS executions, 2 schedule runs$" "$OUT" \
	"status shows the rows removed"
assert_match "^  last purge: .* ago by processor [0-9]+, in .*: removed [0-9]+ jobs, [0-9]+ executions, [0-9]+ schedule runs$" "$OUT" \
	"status shows the last purge"
run "$JOBVISOR" status -c "$JV_CONF" --json
assert_rc 0 "jobvisor status --json"
assert_eq "$OUT_JOBS $OUT_JOBS 2 30 60 True" "$(printf '%s' "$OUT" | python3 -c '
import json, sys
h = json.load(sys.stdin)["history"]
print(h["removed"]["jobs"], h["removed"]["executions"], h["removed"]["schedule_runs"],
      h["retention_days"], h["failed_retention_days"],
      33 * 86400 <= h["oldest_finished_job_age_s"] < 34 * 86400)')" \
	"status --json: the totals, the retention, the oldest finished job's age"

SUM=0
for E in "$A_ERR" "$B_ERR"; do
	jv_api_port "$E"
	curl -s --max-time 20 "$B/metrics" >"$JV_TMP/m.prom"
	run python3 "$top_srcdir/tests/servers/promcheck.py" "$JV_TMP/m.prom"
	assert_rc 0 "the exposition passes promcheck"
	val() { awk -v k="$1" 'substr($0, 1, length(k) + 1) == k " " { print substr($0, length(k) + 2); exit }' "$JV_TMP/m.prom"; }
	J=$(val 'jobvisor_history_removed_total{table="jobs"}')
	assert_match '^[0-9]+$' "$J" "jobvisor_history_removed_total{table=\"jobs\"} is there ($J)"
	SUM=$((SUM + J))
	AGE=$(val jobvisor_history_oldest_finished_job_age_seconds)
	assert_eq 1 "$(awk -v a="$AGE" 'BEGIN { print (a >= 33 * 86400 && a < 34 * 86400) }')" \
		"jobvisor_history_oldest_finished_job_age_seconds: the failed jobs' 33 days ($AGE)"
	assert_eq 1 "$(awk -v a="$(val jobvisor_history_oldest_execution_age_seconds)" 'BEGIN { print (a >= 402 * 86400) }')" \
		"jobvisor_history_oldest_execution_age_seconds: the pending job's 400-day-old attempt"
	assert_eq 1 "$(awk -v a="$(val jobvisor_history_last_purge_timestamp_seconds)" -v t="$T0" 'BEGIN { print (a >= t - 5) }')" \
		"jobvisor_history_last_purge_timestamp_seconds: a round since the start"
done
assert_eq "$OUT_JOBS" "$SUM" "the two processors' jobvisor_history_removed_total add up to the jobs removed"
jv_done
