#!/bin/sh
# it_serve_pgrestart.sh -- PostgreSQL restarted under load: running jobs keep
# running, the supervisor logs the loss once, reconnects by itself and
# catches up; every job ends succeeded exactly once. Uses a private cluster
# of its own (the shared one must not be restarted under other tests).
unset JV_TEST_DATABASE_URL
. "${top_srcdir:-.}/tests/lib.sh"

jv_db
jv_conf_set "$JV_CONF" \
	processor.max_concurrent_jobs 4 \
	processor.batch_size 4 \
	processor.heartbeat_interval_ms 200 \
	processor.poll_interval_ms 200
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

jv_bg "$JOBVISOR" serve -c "$JV_CONF"
S=$BG_PID
SERR=$JV_TMP/bg.$BG_N.err
jv_psql "INSERT INTO jobvisor.jobs (type, payload) SELECT 'noop', jsonb_build_object('sleep_ms', 50 + g % 100) FROM generate_series(1, 200) g" >/dev/null
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE status = 'succeeded'\")\" -ge 20 ]" 30 \
	"processing under way"

# Restart PostgreSQL (fast shutdown, same data, same port).
jv_pg_kill_postmaster
ok "PostgreSQL stopped"
kill -0 $S || fail "serve died when the database went away"
ok "serve survives the loss"
# While the database is away serve waits, it does not spin: over a 2 s
# window it uses well under a second of CPU (a busy loop would use ~2 s).
cpu() { awk '{print $14 + $15}' /proc/$S/stat; }
c0=$(cpu)
sleep 2
c1=$(cpu)
ticks=$(getconf CLK_TCK)
[ $((c1 - c0)) -lt $((ticks / 2)) ] || fail "serve used $((c1 - c0)) of $ticks ticks/s while the database was down"
ok "no busy loop while the database is down ($((c1 - c0)) ticks in 2 s)"
jv_pg_as_owner "$JV_PG_BIN/pg_ctl" -D "$JV_PG_DIR/data" -l "$JV_PG_DIR/postgres.log" \
	-o "-p $JV_PG_PORT" -w -t 60 start >/dev/null 2>&1 || fail "PostgreSQL did not restart"
JV_PG_PID=$(head -n 1 "$JV_PG_DIR/data/postmaster.pid")
ok "PostgreSQL restarted"

wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE status = 'succeeded'\")\" = 200 ]" 60 \
	"all 200 jobs succeeded after the restart"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM (SELECT job_id FROM jobvisor.job_executions WHERE outcome = 'succeeded' GROUP BY job_id HAVING count(*) > 1) d")" \
	"no job succeeded twice"
assert_eq 1 "$(grep -c 'database connection lost' "$SERR")" "the loss is logged once"
assert_match 'database connection back' "$(cat "$SERR")" "the reconnect is logged"
kill -TERM $S
wait $S
assert_eq 0 $? "exit 0"
jv_done
