#!/bin/sh
# it_serve_stop.sh -- SIGTERM ends `jobvisor serve` cleanly: exit 0, the
# processor marked stopped, no worker left, and a stop line logged.
. "${top_srcdir:-.}/tests/serve_common.sh"

jv_psql "INSERT INTO jobvisor.jobs (type, payload) SELECT 'noop', '{}' FROM generate_series(1, 8)" >/dev/null
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE status = 'succeeded'\")\" = 8 ]" 20 \
	"8 noop jobs succeeded"
CHILDREN=$(pgrep -P "$SERVE" | tr '\n' ' ')
[ -n "$CHILDREN" ] || fail "serve has no workers before SIGTERM"
kill -TERM "$SERVE"
wait "$SERVE"
check assert_eq 0 $? "serve exits 0 on SIGTERM"
check assert_eq stopped "$(jv_psql "SELECT state FROM jobvisor.processors WHERE pid = $SERVE")" "processor marked stopped"
ALIVE=
for c in $CHILDREN; do
	kill -0 "$c" 2>/dev/null && ALIVE="$ALIVE $c"
done
check assert_eq "" "$ALIVE" "no worker outlives the supervisor (workers still running after exit)"
check assert_match 'stopped: [0-9]+ jobs claimed' "$(cat "$SERVE_ERR")" "stop line logged"
jv_done
