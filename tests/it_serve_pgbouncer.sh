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

# PgBouncer in transaction mode (tests/lib.sh).
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
