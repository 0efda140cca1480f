#!/bin/sh
# it_serve_silent_host.sh -- a multi-host url whose first host goes silent.
# serve reaches PostgreSQL through the first host of
# postgresql://...@PROXY,DIRECT/db?connect_timeout=2, a TCP proxy
# (tests/servers/tcpproxy.py) that then stops forwarding without closing
# anything. serve notices (the heartbeat's answer is overdue), reconnects;
# its attempt on the silent host gives up after connect_timeout, and the
# next one starts at the next host, which answers: serve says so and runs
# jobs again. (libpq alone would try the silent host first at every
# attempt; waiting for an answer, it would never have noticed at all.)
. "${top_srcdir:-.}/tests/lib.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 not found"
jv_db
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

PGPORT=$(printf '%s\n' "$JV_DB_URL" | sed -E 's#^[^/]*//[^@/]*@?[^:/]*:([0-9]+)/.*#\1#')
jv_bg python3 "$top_srcdir/tests/servers/tcpproxy.py" --target "127.0.0.1:$PGPORT" \
	--port-file "$JV_TMP/proxy.port"
PROXY=$BG_PID
PROXY_OUT=$JV_TMP/bg.$BG_N.out
wait_for "[ -s '$JV_TMP/proxy.port' ]" 10 "the proxy listens"
URL="postgresql://postgres@127.0.0.1:$(cat "$JV_TMP/proxy.port"),127.0.0.1:$PGPORT/$JV_DB_NAME?connect_timeout=2"
jv_conf_set "$JV_CONF" \
	database.url "\"$URL\"" \
	processor.heartbeat_interval_ms 1000 \
	processor.poll_interval_ms 200

jv_bg "$JOBVISOR" serve -c "$JV_CONF"
S=$BG_PID
SERR=$JV_TMP/bg.$BG_N.err
wait_for "grep -q 'database: 127\.0\.0\.1:$(cat "$JV_TMP/proxy.port"), pooler none' '$SERR'" 10 \
	"serve runs on the first host (the proxy)"
J=$(jv_psql "INSERT INTO jobvisor.jobs (type) VALUES ('noop') RETURNING id")
wait_for "[ \"\$(jv_psql \"SELECT status FROM jobvisor.jobs WHERE id = $J\")\" = succeeded ]" 10 "a job runs"

kill -USR1 $PROXY
wait_for "grep -q '^blackhole' '$PROXY_OUT'" 5 "the first host goes silent"
T=$(date +%s%N)
wait_for "grep -Eq 'database connection lost \((claim|completion): no answer to the heartbeat' '$SERR'" 15 \
	"serve notices: the heartbeat's answer is overdue"
wait_for "grep -q 'database connection back after [0-9]* ms: 127\.0\.0\.1:$PGPORT' '$SERR'" 20 \
	"serve reconnects to the next host"
echo "# measured: back on the next host $((($(date +%s%N) - T) / 1000000)) ms after the first went silent"
assert_match "no answer from 127\.0\.0\.1:$(cat "$JV_TMP/proxy.port") within 2000 ms" "$(cat "$SERR")" \
	"the attempt on the silent host gave up after connect_timeout"
J=$(jv_psql "INSERT INTO jobvisor.jobs (type) VALUES ('noop') RETURNING id")
wait_for "[ \"\$(jv_psql \"SELECT status FROM jobvisor.jobs WHERE id = $J\")\" = succeeded ]" 10 "jobs run again"
# The link back before stopping: the scheduler's own connection still hangs
# on the silent host (it has no deadline of its own), and serve waits for
# that thread at exit.
kill -USR2 $PROXY
kill -TERM $S
wait $S
assert_eq 0 $? "exit 0"
jv_done
