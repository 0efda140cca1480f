#!/bin/sh
# it_serve_idle.sh -- idle, serve sleeps: over 2 s with nothing to do
# (heartbeats every 200 ms) it uses a small fraction of a second of CPU; a
# busy loop would use 2 s.
. "${top_srcdir:-.}/tests/serve_common.sh"

# Some work first, so that the pool is up and idle after it.
jv_psql "INSERT INTO jobvisor.jobs (type, payload) SELECT 'noop', '{}' FROM generate_series(1, 8)" >/dev/null
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE status = 'succeeded'\")\" = 8 ]" 20 \
	"8 noop jobs succeeded"
cpu() { awk '{print $14 + $15}' "/proc/$SERVE/stat"; }
c0=$(cpu)
sleep 2
c1=$(cpu)
ticks=$(getconf CLK_TCK)
[ $((c1 - c0)) -lt $((ticks / 5)) ] || fail "idle serve used $((c1 - c0)) ticks in 2 s ($ticks/s)"
ok "idle serve does not spin ($((c1 - c0)) ticks in 2 s)"
jv_done
