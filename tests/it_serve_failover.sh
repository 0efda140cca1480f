#!/bin/sh
# it_serve_failover.sh -- a failover under load. A primary with a
# synchronous standby (both private clusters of this test: pg.sh's, and a
# copy of it made with pg_basebackup -R), serve on the multi-host url
# postgresql://...@primary,standby/db?target_session_attrs=read-write. Mid-run
# the primary is stopped with -m immediate and the standby promoted: serve
# finds the new primary by itself, says which host it reached, and every
# job runs exactly once (each run appends its id to a file), none twice at
# once; processing resumes soon after the promotion (measured and printed:
# the reconnect back-off is at most 1 s).
unset JV_TEST_DATABASE_URL
JV_PG_CONF_EXTRA="synchronous_commit = on
wal_level = replica
max_wal_senders = 4
hot_standby = on"
. "${top_srcdir:-.}/tests/lib.sh"

jv_db
jv_plugin shell
[ -x "$JV_PG_BIN/pg_basebackup" ] || skip_all "no pg_basebackup in $JV_PG_BIN"
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

# --- the standby
SB=$JV_PG_DIR/standby
jv_pg_as_owner "$JV_PG_BIN/pg_basebackup" -D "$SB" -R -X stream -c fast \
	-d "host=127.0.0.1 port=$JV_PG_PORT user=postgres" >"$JV_TMP/basebackup.log" 2>&1 ||
	fail "pg_basebackup: $(cat "$JV_TMP/basebackup.log")"
printf "primary_conninfo = 'host=127.0.0.1 port=%s user=postgres application_name=standby1'\n" \
	"$JV_PG_PORT" | jv_pg_as_owner tee -a "$SB/postgresql.auto.conf" >/dev/null
sb_stop()
{
	[ -f "$SB/postmaster.pid" ] || return 0
	_p=$(head -n 1 "$SB/postmaster.pid")
	case $_p in '' | *[!0-9]*) return 0 ;; esac
	kill -INT "$_p" 2>/dev/null
	_i=0
	while kill -0 "$_p" 2>/dev/null && [ "$_i" -lt 300 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	kill -KILL "$_p" 2>/dev/null
	return 0
}
jv_on_exit sb_stop
P2=$JV_PG_PORT
_tries=0
while :; do
	_tries=$((_tries + 1))
	P2=$((P2 + 1))
	jv_pg_as_owner "$JV_PG_BIN/pg_ctl" -D "$SB" -l "$SB.log" -o "-p $P2" -w -t 60 start \
		>/dev/null 2>&1 && break
	[ "$_tries" -lt 20 ] || fail "the standby did not start: $(tail -n 5 "$SB.log")"
done
ok "the standby runs on port $P2"
jv_psql_admin "ALTER SYSTEM SET synchronous_standby_names = 'standby1'" >/dev/null
jv_psql_admin "SELECT pg_reload_conf()" >/dev/null
wait_for "[ \"\$(jv_psql_admin \"SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby1'\")\" = sync ]" 30 \
	"the standby is synchronous"

# --- serve on both hosts
URL="postgresql://postgres@127.0.0.1:$JV_PG_PORT,127.0.0.1:$P2/$JV_DB_NAME?target_session_attrs=read-write"
jv_write_config "$JV_CONF" "  mark: { plugin: shell }"
jv_conf_set "$JV_CONF" \
	database.url "\"$URL\"" \
	processor.max_concurrent_jobs 8 \
	processor.batch_size 8 \
	processor.heartbeat_interval_ms 500 \
	processor.poll_interval_ms 200
N=400
RUNS=$JV_TMP/runs
jv_psql "INSERT INTO jobvisor.jobs (type, payload) SELECT 'mark', jsonb_build_object('command',
	jsonb_build_array('/bin/sh', '-c', 'echo \"\$0 \$(date +%s%N)\" >> $RUNS; sleep 0.05', g::text))
	FROM generate_series(1, $N) g" >/dev/null
jv_bg "$JOBVISOR" serve -c "$JV_CONF"
S=$BG_PID
SERR=$JV_TMP/bg.$BG_N.err
wait_for "[ -f '$RUNS' ] && [ \$(wc -l < '$RUNS') -ge 100 ]" 60 "processing under way"

# --- the failover
jv_pg_as_owner "$JV_PG_BIN/pg_ctl" -D "$JV_PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 ||
	fail "the primary did not stop"
JV_PG_PID=
T_STOP=$(date +%s%N)
ok "the primary is gone ($(wc -l <"$RUNS") runs so far)"
# An outage of 3 s before the promotion, as a failover manager takes (serve's
# reconnect back-off grows meanwhile: what it costs after the promotion is
# what is measured below).
wait_for "grep -q 'cannot reconnect to the database yet' '$SERR'" 10 "serve tries to reconnect"
sleep 3
jv_pg_as_owner "$JV_PG_BIN/pg_ctl" -D "$SB" -w -t 60 promote >/dev/null 2>&1 ||
	fail "the standby was not promoted: $(tail -n 5 "$SB.log")"
T_PROMOTE=$(date +%s%N)
ok "the standby is promoted"
JV_DB_URL="postgresql://postgres@127.0.0.1:$P2/$JV_DB_NAME"

wait_for "awk -v t=$T_PROMOTE '\$2 > t { f = 1 } END { exit !f }' '$RUNS'" 15 \
	"jobs start again after the promotion"
T_FIRST=$(awk -v t="$T_PROMOTE" '$2 > t && (f == "" || $2 < f) { f = $2 } END { print f }' "$RUNS")
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE status = 'succeeded'\")\" = $N ]" 60 \
	"all $N jobs succeeded"
assert_eq "$N $N" "$(wc -l <"$RUNS") $(cut -d' ' -f1 "$RUNS" | sort -u | wc -l)" \
	"each job ran exactly once (its program's own record)"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM (SELECT job_id FROM jobvisor.job_executions
	WHERE outcome = 'succeeded' GROUP BY job_id HAVING count(*) > 1) d")" "history: none succeeded twice"
assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.job_executions a JOIN jobvisor.job_executions b
	ON a.job_id = b.job_id AND a.id < b.id
	WHERE a.started_at < b.finished_at AND b.started_at < a.finished_at")" \
	"history: no two executions of a job overlap"
assert_match "database connection back after [0-9]+ ms: 127\.0\.0\.1:$P2" "$(cat "$SERR")" \
	"serve says it reached the new primary"
echo "# measured: promoted $(((T_PROMOTE - T_STOP) / 1000000)) ms after the primary stopped; the first job started $(((T_FIRST - T_PROMOTE) / 1000000)) ms after the promotion; $(grep -o 'database connection back after [0-9]* ms' "$SERR" | tail -n 1) (from the loss)"
kill -TERM $S
wait $S
assert_eq 0 $? "exit 0"
jv_done
