#!/bin/sh
# it_api_connections.sh -- clients holding connections to the API can
# neither starve the engine nor keep health from answering. serve runs with
# a descriptor limit of 256 (prlimit), workers replaced after every job:
#  - with a limit of 128 it refuses to start, saying why;
#  - the API's connection cap is derived from that limit, with the reserve
#    for workers, database connections and plugins kept out of it, and both
#    numbers are logged;
#  - while 300 idle clients from five addresses keep reconnecting, jobs that
#    each need a new worker process all succeed (none fails for want of a
#    descriptor: no "Too many open files"), and health answers in seconds;
#  - one address gets at most api.max_connections_per_address (64 by
#    default): the 16 connections past it are closed at once;
#  - a connection whose request headers are not in within
#    api.header_timeout_seconds (10 by default) is closed, though it sends a
#    byte every second (libmicrohttpd's own timeout counts only idle time),
#    and the log says so; health answers meanwhile;
#  - under a soft limit of 1024 (hard 4096, as the systemd unit sets), serve
#    raises its own to fit the API's 1024 connections beside the reserve; a
#    worker forked while they are all open keeps none of their sockets, and
#    goes back to the soft 1024 for the jobs it runs.
# All of 127/8 is loopback: each address is a different client.
. "${top_srcdir:-.}/tests/lib.sh"

command -v curl >/dev/null 2>&1 || skip_all "curl not found"
command -v prlimit >/dev/null 2>&1 || skip_all "prlimit not found"
command -v python3 >/dev/null 2>&1 || skip_all "python3 not found"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
SLOW=$top_srcdir/tests/servers/slowclients.py

TOKEN="tok-$$-conns"
jv_db
jv_write_config "$JV_CONF" "$(cat <<YAML
api:
  listen: "127.0.0.1:0"
  token: "$TOKEN"
YAML
)"
jv_conf_set "$JV_CONF" \
	processor.max_concurrent_jobs 2 \
	processor.worker_max_jobs 1 \
	processor.heartbeat_interval_ms 200 \
	processor.shutdown_grace_seconds 5
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

# Too low a limit for the reserve and 16 connections: serve says so and
# refuses to start, rather than run an API that starves its workers.
run prlimit --nofile=128:128 "$JOBVISOR" serve -c "$JV_CONF"
assert_rc 1 "serve refuses to start with a descriptor limit of 128"
assert_match 'api: the descriptor limit \(RLIMIT_NOFILE\) is 128: [0-9]+ are kept for workers, database connections and plugins, which leaves the API fewer than 16 connections; raise the limit' \
	"$ERR" "saying why and what to do"

jv_bg prlimit --nofile=256:256 "$JOBVISOR" serve -c "$JV_CONF"
S=$BG_PID
SERR=$JV_TMP/bg.$BG_N.err
jv_api_port "$SERR"

# ---------------------------------------------------------------- the cap
LINE=$(grep 'api: at most' "$SERR" | tail -n 1)
assert_match '^.*api: at most [0-9]+ connections, 64 per client address, request headers within 10 s \(descriptor limit 256, [0-9]+ kept for workers, database connections and plugins\)$' \
	"$LINE" "the API logs its connection cap and the reserve"
CAP=$(printf '%s\n' "$LINE" | sed 's/.*at most \([0-9]*\) connections.*/\1/')
RESERVE=$(printf '%s\n' "$LINE" | sed 's/.* \([0-9]*\) kept for.*/\1/')
[ "$CAP" -ge 16 ] && [ $((CAP + RESERVE)) -le 256 ] ||
	fail "the cap ($CAP) and the reserve ($RESERVE) must fit in the limit of 256"
ok "the cap ($CAP) and the reserve ($RESERVE) fit in the limit of 256"

# ---------------------------------------------------------------- a flood
# 300 idle connections from 5 addresses (60 each, under the per-address
# cap), reconnecting as soon as one is closed, for up to 40 s.
FLOOD=
for a in 2 3 4 5 6; do
	jv_bg python3 "$SLOW" --port "$PORT" --source "127.0.0.$a" -n 60 --hold 40 --reconnect
	FLOOD="$FLOOD $JV_TMP/bg.$BG_N.out"
	eval "FLOOD_PID_$a=$BG_PID"
done
wait_for "[ \$(cat $FLOOD | grep -c '^open 60\$') = 5 ]" 20 "300 idle connections are open"

# Each job needs a new worker process (worker_max_jobs: 1): a socketpair
# and a fork, while the clients want every descriptor there is.
jv_psql "INSERT INTO jobvisor.jobs (type, payload, max_attempts) SELECT 'noop', '{\"data\": \"flood\"}', 1 FROM generate_series(1, 6)" >/dev/null
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE payload->>'data' = 'flood' AND status IN ('succeeded', 'failed')\")\" = 6 ]" 30 \
	"the 6 jobs ended meanwhile"
assert_eq "succeeded 6" "$(jv_psql "SELECT status, count(*) FROM jobvisor.jobs WHERE payload->>'data' = 'flood' GROUP BY status" | tr '|' ' ')" \
	"all 6 succeeded, each in a new worker"
assert_eq 6 "$(jv_psql "SELECT count(*) FROM jobvisor.job_executions e JOIN jobvisor.jobs j ON j.id = e.job_id WHERE j.payload->>'data' = 'flood' AND e.outcome = 'succeeded'")" \
	"one succeeded execution each, nothing else"

T0=$(date +%s%N)
CODE=$(curl -s -o /dev/null -w '%{http_code}' --max-time 15 "$B/api/cron/health")
T1=$(date +%s%N)
assert_eq 200 "$CODE" "health answers while the clients hold every connection ($(((T1 - T0) / 1000000)) ms)"
assert_no_match 'Too many open files' "$(cat "$SERR")" "serve never ran out of descriptors"
for a in 2 3 4 5 6; do
	eval "jv_kill_pid \$FLOOD_PID_$a"
done

# ---------------------------------------------------------------- per address, deadline
# 80 idle connections from one address, and 10 that send a header byte
# every second from another.
jv_bg python3 "$SLOW" --port "$PORT" --source 127.0.0.7 -n 80 --hold 30
IDLE=$JV_TMP/bg.$BG_N.out
jv_bg python3 "$SLOW" --port "$PORT" --source 127.0.0.8 -n 10 --trickle 1 --hold 30
TRICKLE=$JV_TMP/bg.$BG_N.out
wait_for "grep -q '^closed 16 ' '$IDLE'" 5 "the 16 connections past the per-address cap of 64 are closed"
assert_match '^closed 16 [01]\.' "$(grep '^closed 16 ' "$IDLE")" "at once (within 2 s)"

T0=$(date +%s%N)
CODE=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$B/api/cron/health")
T1=$(date +%s%N)
assert_eq 200 "$CODE" "health answers at once meanwhile ($(((T1 - T0) / 1000000)) ms)"

wait_for "grep -q '^end ' '$TRICKLE'" 25 "the trickling connections end"
END=$(grep '^end ' "$TRICKLE")
assert_match '^end 10 ' "$END" "the server closed all 10 trickling connections"
SECS=$(printf '%s\n' "$END" | awk '{ print int($3) }')
[ "$SECS" -ge 9 ] && [ "$SECS" -le 15 ] ||
	fail "they were closed after $SECS s, not at the 10 s header deadline"
ok "at the 10 s header deadline ($SECS s), though they sent a byte every second"
wait_for "grep -q '^end ' '$IDLE'" 25 "the idle connections end"
assert_match '^end 80 (9|1[0-5])\.' "$(grep '^end ' "$IDLE")" "the 64 idle ones are closed at the deadline too"
assert_match 'api: closed [0-9]+ connections whose request headers were not in within 10 s' \
	"$(cat "$SERR")" "the log says so"

# ---------------------------------------------------------------- still fine
call GET /api/cron/status -H "Authorization: Bearer $TOKEN"
assert_eq 200 "$CODE" "the API serves requests as before"
kill -TERM "$S"
wait_for "! kill -0 $S" 20 "serve stops"
assert_no_match 'AddressSanitizer|LeakSanitizer|runtime error' "$(cat "$SERR")" "no sanitizer report"

# ---------------------------------------------------------------- raised
# As under the systemd unit (soft 1024, hard 4096), with api.max_connections
# set to 1500: serve raises its soft limit to fit them beside the reserve,
# its API then holds over 1024 clients' sockets, and a worker forked
# meanwhile keeps none of them and gets the soft 1024 back.
CONF2=$JV_TMP/raised.yaml
sed 's/^api:$/api:\n  max_connections: 1500/' "$JV_CONF" >"$CONF2"
jv_bg prlimit --nofile=1024:4096 "$JOBVISOR" serve -c "$CONF2"
S=$BG_PID
SERR=$JV_TMP/bg.$BG_N.err
jv_api_port "$SERR"
assert_match 'descriptor limit raised from 1024 to ([0-9]+) \(([0-9]+) kept for workers' "$(cat "$SERR")" \
	"serve raises its soft limit from 1024"
assert_match 'api: at most 1500 connections, 64 per client address' "$(cat "$SERR")" \
	"to give the API its 1500 connections beside the reserve"
assert_eq "$((RESERVE + 1500))" "$(awk '/^Max open files/ { print $4 }' /proc/"$S"/limits)" \
	"serve's soft limit is now the reserve ($RESERVE) plus 1500"
FLOOD=
for a in $(seq 10 29); do # 20 addresses, 55 each: 1100
	jv_bg python3 "$SLOW" --port "$PORT" --source "127.0.0.$a" -n 55 --hold 40 --reconnect
	FLOOD="$FLOOD $JV_TMP/bg.$BG_N.out"
	eval "FLOOD_PID_$a=$BG_PID"
done
wait_for "[ \$(cat $FLOOD | grep -c '^open 55\$') = 20 ]" 20 "1100 idle connections are open"
wait_for "[ \$(ls /proc/$S/fd | wc -l) -gt 1024 ]" 10 "serve holds over 1024 descriptors"
OLD=$(pgrep -P "$S" | tr '\n' ' ')
J=$(jv_psql "INSERT INTO jobvisor.jobs (type, payload, max_attempts) VALUES ('noop', '{}', 1) RETURNING id")
wait_for "[ \"\$(jv_psql 'SELECT status FROM jobvisor.jobs WHERE id = $J')\" = succeeded ]" 20 \
	"a job runs (its worker is then replaced)"
new_worker() { for w in $(pgrep -P "$S"); do case " $OLD " in *" $w "*) ;; *) echo "$w"; return 0 ;; esac; done; return 1; }
wait_for new_worker 10 "a new worker is forked (workers before: $OLD)"
W=$(new_worker)
NFD=$(ls /proc/"$W"/fd | wc -l)
[ "$NFD" -le 8 ] || fail "worker $W forked while the API held over 1024 sockets keeps $NFD descriptors"
ok "the worker forked meanwhile keeps none of the API's sockets ($NFD descriptors)"
assert_eq 1024 "$(awk '/^Max open files/ { print $4 }' /proc/"$W"/limits)" \
	"and has the soft limit serve found, 1024"
for a in $(seq 10 29); do
	eval "jv_kill_pid \$FLOOD_PID_$a"
done
kill -TERM "$S"
wait_for "! kill -0 $S" 20 "serve stops"
assert_no_match 'AddressSanitizer|LeakSanitizer|runtime error' "$(cat "$SERR")" "no sanitizer report"
jv_done
