#!/bin/sh
# it_serve_pgbouncer.sh -- serve behind PgBouncer in transaction mode
# (server connections shared, transactions spread over them round robin).
#   1. database.pooler: transaction with database.listen_url direct: new
#      jobs are picked up by NOTIFY (poll_interval_ms 30000, yet they start
#      within seconds); a cancel and a pause sent through processor A's API
#      reach processor B, which runs the job.
#   2. pooler: transaction without listen_url: B says once at start that it
#      polls; cancel and pause still reach it within poll_interval_ms.
#   3. pooler: none behind the pooler: the start-up self-check finds that a
#      NOTIFY does not reach the LISTEN, and warns naming PgBouncer.
. "${top_srcdir:-.}/tests/lib.sh"

jv_db
jv_plugin shell
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

# PgBouncer, from tests/lib.sh when it has it; else a minimal one here.
if ! command -v jv_pgbouncer_start >/dev/null 2>&1; then
	jv_pgbouncer_start()
	{
		_bin=$(command -v pgbouncer 2>/dev/null || echo /usr/sbin/pgbouncer)
		if [ ! -x "$_bin" ]; then
			[ "${JV_REQUIRE_PG:-0}" = 1 ] && fail "pgbouncer not found, and JV_REQUIRE_PG=1"
			skip_all "pgbouncer not found"
		fi
		set -- $(jv_psql "SELECT host(inet_server_addr()) || ' ' || inet_server_port() || ' ' || current_user") "$1"
		_owner=$(id -un)
		_dir=$JV_TMP/pgbouncer
		mkdir "$_dir"
		if [ "$(id -u)" = 0 ]; then
			_owner=${JV_PG_USER:-nobody}
			chmod 0711 "$JV_TMP"
			chown "$_owner" "$_dir"
		fi
		printf '"%s" ""\n' "$3" >"$_dir/users.txt"
		JV_BOUNCER_LOG=$_dir/pgbouncer.log
		_port=$((20000 + ($$ * 11 + 5000) % 30000))
		_try=0
		while :; do
			_try=$((_try + 1))
			cat >"$_dir/pgbouncer.ini" <<EOF
[databases]
$JV_DB_NAME = host=$1 port=$2 dbname=$JV_DB_NAME
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $_port
unix_socket_dir =
auth_type = trust
auth_file = $_dir/users.txt
pool_mode = $4
default_pool_size = 5
max_client_conn = 500
server_round_robin = 1
logfile = $JV_BOUNCER_LOG
EOF
			chmod 0644 "$_dir/pgbouncer.ini" "$_dir/users.txt"
			if [ "$(id -u)" = 0 ]; then
				jv_bg setpriv --reuid="$_owner" --regid="$(id -g "$_owner")" --clear-groups -- \
					"$_bin" "$_dir/pgbouncer.ini"
			else
				jv_bg "$_bin" "$_dir/pgbouncer.ini"
			fi
			JV_BOUNCER_PID=$BG_PID
			JV_BOUNCER_URL="postgresql://$3@127.0.0.1:$_port/$JV_DB_NAME"
			_i=0
			while kill -0 "$JV_BOUNCER_PID" 2>/dev/null && [ "$_i" -lt 100 ] &&
				! psql -X -q -A -t -d "$JV_BOUNCER_URL" -c 'SELECT 1' >/dev/null 2>&1; do
				sleep 0.1
				_i=$((_i + 1))
			done
			if kill -0 "$JV_BOUNCER_PID" 2>/dev/null && [ "$_i" -lt 100 ]; then
				ok "PgBouncer ($4) listens on 127.0.0.1:$_port"
				return 0
			fi
			jv_kill_pid "$JV_BOUNCER_PID"
			[ "$_try" -lt 20 ] || fail "PgBouncer did not start: $(tail -n 5 "$JV_BOUNCER_LOG" 2>/dev/null)"
			_port=$((20000 + (_port - 20000 + 997) % 30000))
		done
	}
fi
jv_pgbouncer_start transaction

TOKEN=t0ken
JV_CALL_AUTH="Authorization: Bearer $TOKEN"
# conf FILE NAME DATABASE_YAML POLL_MS EXECUTORS_YAML TAIL_YAML
conf()
{
	cat >"$1" <<EOF
database:
$3
processor:
  name: "$2"
  heartbeat_interval_ms: 500
  poll_interval_ms: $4
  shutdown_grace_seconds: 1
plugins: { dir: "$JV_PLUGIN_DIR" }
executors:
  noop: { plugin: noop }
$5
$6
allow_root: true
EOF
	chmod 0600 "$1"
}
DB_TX_LISTEN="  url: \"$JV_BOUNCER_URL\"
  pooler: transaction
  listen_url: \"$JV_DB_URL\""
DB_TX="  url: \"$JV_BOUNCER_URL\"
  pooler: transaction"
LONG="  long: { plugin: shell }"
API="api: { listen: \"127.0.0.1:0\", token: \"$TOKEN\" }"

pid_of() { jv_psql "SELECT id FROM jobvisor.processors WHERE pid = $1 AND state <> 'stopped'"; }
STAMPS=$JV_TMP/stamps
long_job()
{
	jv_psql "INSERT INTO jobvisor.jobs (type, payload) VALUES ('long',
		jsonb_build_object('command', jsonb_build_array('/bin/sh', '-c',
		'trap ''echo \"\$1 stopped\" >> \"\$0\"; exit 143'' TERM; echo \"\$1 started\" >> \"\$0\"; sleep 60 & wait',
		'$STAMPS', '$1'))) RETURNING id"
}
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

# --- 1. transaction pooler, LISTEN on listen_url
conf "$JV_TMP/a.yaml" A "$DB_TX_LISTEN" 30000 "" "$API"
conf "$JV_TMP/b.yaml" B "$DB_TX_LISTEN" 30000 "$LONG" ""
jv_bg "$JOBVISOR" serve -c "$JV_TMP/a.yaml"
PA=$BG_PID
AERR=$JV_TMP/bg.$BG_N.err
jv_api_port "$AERR"
jv_bg "$JOBVISOR" serve -c "$JV_TMP/b.yaml"
PB=$BG_PID
BERR=$JV_TMP/bg.$BG_N.err
wait_for "[ -n \"\$(pid_of $PA)\" ] && [ -n \"\$(pid_of $PB)\" ]" 10 "A and B run through PgBouncer"
assert_match 'database: 127\.0\.0\.1:[0-9]+; LISTEN on 127\.0\.0\.1:[0-9]+, pooler transaction' "$(cat "$BERR")" \
	"B says where it connects and LISTENs"

for i in 1 2 3 4 5; do
	Q=$(jv_psql "INSERT INTO jobvisor.jobs (type) VALUES ('noop') RETURNING id")
	wait_for "[ \"\$(jv_psql \"SELECT status FROM jobvisor.jobs WHERE id = $Q\")\" = succeeded ]" 10 \
		"job $i of 5 picked up by NOTIFY (poll_interval_ms 30000)"
done
echo "# measured: pickup (insert to start) by NOTIFY through listen_url, ms: $(jv_psql "SELECT string_agg(round(extract(epoch FROM e.started_at - j.created_at) * 1000)::text, ' ' ORDER BY j.id) FROM jobvisor.jobs j JOIN jobvisor.job_executions e ON e.job_id = j.id WHERE j.type = 'noop'")"

L=$(long_job one)
wait_for "grep -q '^one started' '$STAMPS'" 10 "B runs a long job"
T=$(date +%s%N)
call POST "/api/jobs/$L/cancel"
assert_eq 200 "$CODE" "cancelled through A's API"
wait_for "grep -q '^one stopped' '$STAMPS'" 10 "the cancel reaches B, which stops the run"
echo "# measured: cancel through A's API to B's run stopped: $(ms_since "$T") ms"

BID=$(pid_of $PB)
T=$(date +%s%N)
call POST "/api/processors/$BID/pause"
assert_eq 202 "$CODE" "pause B through A's API"
wait_for "grep -q 'api: claiming paused' '$BERR'" 10 "the pause reaches B"
echo "# measured: pause through A's API to B paused: $(ms_since "$T") ms"
call POST "/api/processors/$BID/resume"
wait_for "grep -q 'api: claiming resumed' '$BERR'" 10 "the resume reaches B"
assert_no_match 'did not reach its LISTEN' "$(cat "$AERR" "$BERR")" "the NOTIFY self-check passes on listen_url"
kill -TERM $PB
wait $PB
assert_eq 0 $? "B exits 0"

# --- 2. transaction pooler, no listen_url: polling
conf "$JV_TMP/b2.yaml" B2 "$DB_TX" 1000 "$LONG" ""
jv_bg "$JOBVISOR" serve -c "$JV_TMP/b2.yaml"
PB=$BG_PID
BERR=$JV_TMP/bg.$BG_N.err
wait_for "[ -n \"\$(pid_of $PB)\" ]" 10 "B runs again, without listen_url"
wait_for "grep -q 'new jobs are found by polling every 1000 ms' '$BERR'" 10 \
	"B says at start that it polls"
L=$(long_job two)
wait_for "grep -q '^two started' '$STAMPS'" 10 "B picks a long job up by polling"
T=$(date +%s%N)
call POST "/api/jobs/$L/cancel"
assert_eq 200 "$CODE" "cancelled through A's API"
wait_for "grep -q '^two stopped' '$STAMPS'" 10 "the cancel reaches B by polling"
echo "# measured: cancel to run stopped, by polling (poll_interval_ms 1000): $(ms_since "$T") ms"
BID=$(pid_of $PB)
T=$(date +%s%N)
call POST "/api/processors/$BID/pause"
assert_eq 202 "$CODE" "pause B through A's API"
wait_for "grep -q 'api: claiming paused' '$BERR'" 10 "the pause reaches B by polling"
echo "# measured: pause to B paused, by polling (poll_interval_ms 1000): $(ms_since "$T") ms"
call POST "/api/processors/$BID/resume"
wait_for "grep -q 'api: claiming resumed' '$BERR'" 10 "the resume reaches B by polling"
assert_eq "cancelled|cancelled" "$(jv_psql "SELECT string_agg(status, '|') FROM jobvisor.jobs WHERE type = 'long'")" \
	"both long jobs cancelled"
assert_eq 1 "$(grep -c 'new jobs are found by polling' "$BERR")" "said once, not again"
kill -TERM $PB
wait $PB
assert_eq 0 $? "B exits 0"

kill -TERM $PA
wait $PA
assert_eq 0 $? "A exits 0"

# --- 3. pooler: none, behind the pooler all the same
conf "$JV_TMP/c.yaml" C "  url: \"$JV_BOUNCER_URL\"" 1000 "" ""
jv_bg "$JOBVISOR" serve -c "$JV_TMP/c.yaml"
PC=$BG_PID
CERR=$JV_TMP/bg.$BG_N.err
wait_for "grep -q 'did not reach its LISTEN' '$CERR'" 15 "the start-up self-check finds NOTIFY lost"
assert_match 'set database.pooler: transaction, and database.listen_url' "$(cat "$CERR")" "it says what to set"
assert_match 'PgBouncer' "$(grep 'did not reach its LISTEN' "$CERR")" "it names the likely pooler"
Q=$(jv_psql "INSERT INTO jobvisor.jobs (type) VALUES ('noop') RETURNING id")
wait_for "[ \"\$(jv_psql \"SELECT status FROM jobvisor.jobs WHERE id = $Q\")\" = succeeded ]" 10 \
	"C still runs jobs (by polling)"
kill -TERM $PC
wait $PC
assert_eq 0 $? "C exits 0"
jv_done
