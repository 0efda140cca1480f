#!/bin/sh
# it_serve_heartbeat.sh -- the heartbeat of a running serve moves.
. "${top_srcdir:-.}/tests/serve_common.sh"

HB1=$(jv_psql "SELECT heartbeat_at FROM jobvisor.processors WHERE pid = $SERVE")
wait_for "[ \"\$(jv_psql \"SELECT heartbeat_at > '$HB1' FROM jobvisor.processors WHERE pid = $SERVE\")\" = t ]" 5 "heartbeat advances"
jv_done
