#!/bin/sh
# f2_pg_down.sh -- PostgreSQL stopped for 30 s under load, then started
# again. Two processors run shell jobs (0.2-2 s each) that record their own
# start and end. Checks: both supervisors survive the outage; programs
# running when the database went away run to their end; no program starts
# while it is away (claiming stops); both reconnect by themselves; every
# job then succeeds with its program run exactly once (no loss, no double
# run); nothing is rescued (30 s is inside the stuck horizon). Prints the
# gap and the recovery time (restart to the first program started, and
# what each supervisor logged). Uses a private cluster of its own (the
# shared one must not be stopped under other tests).
unset JV_TEST_DATABASE_URL
. "${top_srcdir:-.}/tests/lib.sh"
. "$top_srcdir/tests/faults/common.sh"

GAP=${JV_FAULT_PG_GAP:-30}
T0=$(fx_now_ms)
jv_db
jv_plugin shell
jv_write_config "$JV_CONF" "$(cat <<'YAML'
  sh: { plugin: shell, allow_shell: true, timeout_seconds: 60, pass_env: [FAULT_LOG, FAULT_TAG] }
YAML
)"
jv_conf_set "$JV_CONF" \
	processor.max_concurrent_jobs 6 \
	processor.batch_size 6 \
	processor.heartbeat_interval_ms 200 \
	processor.poll_interval_ms 200 \
	processor.shutdown_grace_seconds 10
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

FAULT_LOG=$JV_TMP/exec.log
: >"$FAULT_LOG"
export FAULT_LOG
jv_bg "$JOBVISOR" serve -c "$JV_CONF"
A=$BG_PID
AERR=$JV_TMP/bg.$BG_N.err
jv_bg "$JOBVISOR" serve -c "$JV_CONF"
B=$BG_PID
BERR=$JV_TMP/bg.$BG_N.err
fx_registered $A
fx_registered $B
N=240
jv_psql "INSERT INTO jobvisor.jobs (type, payload)
	SELECT 'sh', jsonb_build_object('shell', format(
	  'echo \"S j%s \$(date +%%s%%N)\" >>\"\$FAULT_LOG\"; sleep %s; echo \"E j%s \$(date +%%s%%N)\" >>\"\$FAULT_LOG\"',
	  g, 0.2 + (g * 37 % 19) / 10.0, g))
	FROM generate_series(1, $N) g" >/dev/null
wait_for "[ \$(grep -c '^E' '$FAULT_LOG') -ge 20 ]" 30 "jobs flowing"

# Stop: fast shutdown, as an administrator would.
RUNNING=$(jv_psql "SELECT count(*) FROM jobvisor.jobs WHERE status = 'running'")
T_STOP=$(date +%s%N)
jv_pg_as_owner "$JV_PG_BIN/pg_ctl" -D "$JV_PG_DIR/data" -m fast -w stop >/dev/null 2>&1 ||
	fail "pg_ctl stop failed"
T_DOWN=$(date +%s%N)
ok "PostgreSQL stopped (-m fast, $(( (T_DOWN - T_STOP) / 1000000 )) ms) with $RUNNING jobs running"
# Held jobs finish meanwhile; then nothing may start until it is back.
sleep "$GAP"
kill -0 $A && kill -0 $B || fail "a supervisor died while the database was away"
ok "both supervisors survived ${GAP} s without the database"
ENDED_DURING=$(awk -v a="$T_STOP" '$1 == "E" && $3 > a' "$FAULT_LOG" | wc -l)
[ "$ENDED_DURING" -ge 1 ] || fail "no program ended during the outage: running jobs were stopped?"
ok "$ENDED_DURING programs ran to their end while the database was away"
STARTED_LATE=$(awk -v a="$((T_STOP + 2000000000))" '$1 == "S" && $3 > a' "$FAULT_LOG" | wc -l)
assert_eq 0 "$STARTED_LATE" "no program started later than 2 s into the outage (claiming stopped)"

T_START=$(date +%s%N)
jv_pg_as_owner "$JV_PG_BIN/pg_ctl" -D "$JV_PG_DIR/data" -l "$JV_PG_DIR/postgres.log" \
	-o "-p $JV_PG_PORT" -w -t 60 start >/dev/null 2>&1 || fail "PostgreSQL did not start again"
JV_PG_PID=$(head -n 1 "$JV_PG_DIR/data/postmaster.pid")
T_UP=$(date +%s%N)
GAP_MS=$(( (T_UP - T_DOWN) / 1000000 ))
ok "PostgreSQL back after a gap of $GAP_MS ms"
wait_for "grep -q 'database connection back' '$AERR' && grep -q 'database connection back' '$BERR'" 30 \
	"both supervisors reconnected by themselves"
wait_for "awk -v a=$T_UP '\$1 == \"S\" && \$3 > a' '$FAULT_LOG' | grep -q ." 30 "programs start again"
FIRST=$(awk -v a="$T_UP" '$1 == "S" && $3 > a {print $3}' "$FAULT_LOG" | sort -n | head -n 1)
RECOVERY_MS=$(( (FIRST - T_UP) / 1000000 ))
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE status = 'succeeded'\")\" = $N ]" 90 \
	"all $N jobs succeeded"
kill -TERM $A $B
wait $A || fail "serve A did not exit 0"
wait $B || fail "serve B did not exit 0"
ok "both stop cleanly"

assert_eq "$N" "$(awk '$1 == "S"' "$FAULT_LOG" | sort -u -k2,2 | wc -l)" "every job's program ran"
DUPS=$(awk '$1 == "S" {n[$2]++} END {d = 0; for (k in n) if (n[k] > 1) d++; print d}' "$FAULT_LOG")
assert_eq 0 "$DUPS" "no job's program ran twice"
assert_eq "$N" "$(awk '$1 == "E"' "$FAULT_LOG" | wc -l)" "every program ran to its end, once"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.job_executions a JOIN jobvisor.job_executions b
	ON a.job_id = b.job_id AND a.id < b.id
	WHERE a.started_at < b.finished_at AND b.started_at < a.finished_at")" \
	"the database shows no overlapping attempts"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.job_executions WHERE outcome = 'rescued' AND error NOT LIKE 'released:%'")" \
	"nothing rescued: the outage was inside the stuck horizon"
assert_eq 1 "$(grep -c 'database connection lost' "$AERR")" "A logged the loss once"
assert_eq 1 "$(grep -c 'database connection lost' "$BERR")" "B logged the loss once"
BACK_A=$(sed -n 's/.*database connection back after \([0-9]*\) ms.*/\1/p' "$AERR" | head -n 1)
BACK_B=$(sed -n 's/.*database connection back after \([0-9]*\) ms.*/\1/p' "$BERR" | head -n 1)

fx_figure jobs "$N"
fx_figure running_at_stop "$RUNNING"
fx_figure ended_during_outage "$ENDED_DURING"
fx_figure gap_ms "$GAP_MS"
fx_figure reconnect_logged_ms "$BACK_A/$BACK_B"
fx_figure first_program_after_restart_ms "$RECOVERY_MS"
fx_figure released_claims "$(jv_psql "SELECT count(*) FROM jobvisor.job_executions WHERE error LIKE 'released:%'")"
fx_figure duplicates "$DUPS"
fx_figure seconds "$(( ($(fx_now_ms) - T0) / 1000 ))"
jv_done
