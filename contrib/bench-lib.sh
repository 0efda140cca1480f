# bench-lib.sh -- what contrib/bench*.sh share, sourced after they set $top
# (the repository) and cd there: the optimised build they measure, and the
# peers' durable PostgreSQL settings (shared/bench/peers/pg-up.sh).

# bench_build NAME [DIR]: set $build to DIR (which must hold a jobvisor),
# else to build/bench, configured and rebuilt when a source is newer.
bench_build()
{
	build=$top/build/bench
	if [ -n "${2:-}" ]; then
		build=$(cd "$2" && pwd)
		[ -x "$build/jobvisor" ] || { echo "$1: no jobvisor in $build" >&2; exit 1; }
	elif [ ! -x "$build/jobvisor" ] || [ -n "$(find core plugins sql -newer "$build/jobvisor" -type f 2>/dev/null | head -n 1)" ]; then
		[ -f configure ] || autoreconf -fi >/dev/null 2>&1
		mkdir -p "$build"
		(cd "$build" && "$top/configure" CFLAGS="-O2 -g" >/dev/null && make -j"$(nproc)" >/dev/null)
	fi
}

# For JV_PG_CONF_EXTRA (tests/pg.sh): durability on, as the peers run.
BENCH_PG_SETTINGS="
fsync = on
synchronous_commit = on
full_page_writes = on
shared_buffers = 256MB
effective_cache_size = 2GB
work_mem = 8MB
maintenance_work_mem = 256MB
wal_buffers = 16MB
max_wal_size = 4GB
min_wal_size = 512MB
checkpoint_timeout = 15min
checkpoint_completion_target = 0.9
random_page_cost = 1.1
jit = off"
