#!/usr/bin/env bash
# bench-peers.sh -- jobvisor beside graphile-worker (batched) on one server.
#
#   ./contrib/bench-peers.sh [--jobs N] [--rounds R] [--slots "10 50"]
#                            [--peers DIR] [--cache DIR]
#                            [--bench-args "ARGS"] [-- BENCH.SH ARGS...]
#
# Defaults: 50 000 jobs, 2 rounds, 10 and 50 slots. A bash script.
#
# Copies the peer benchmarks (shared/bench/peers beside the repository, or
# --peers DIR; they are read-only there) to a cache folder (--cache DIR,
# default ${XDG_CACHE_HOME:-~/.cache}/jobvisor/bench-peers), runs `npm ci`
# there when its package-lock.json is new, and starts their PostgreSQL 15
# with their pg-up.sh (127.0.0.1:55432, durable settings in bench.conf)
# unless one runs there already; only a server it started is stopped at the
# end (pg-down.sh). Then, for each number of slots C and round, in turns
# (the first program alternates between rounds), each after a CHECKPOINT:
#
#   ./contrib/bench.sh --db postgresql://postgres@127.0.0.1:55432/postgres
#       --jobs N --concurrency C --batch 100 --prefetch 200 --skip-latency [ARGS]
#   node bench-graphile-worker.js --variant=batched --n=N --c=C
#
# graphile-worker's WAL is measured as bench.sh measures its own:
# pg_current_wal_lsn() before and after the whole run, enqueue included,
# and its full-page images from pg_stat_wal. The CPU of each run is
# measured alike for both: the whole server's (every PostgreSQL process,
# background ones included, from /proc: the postmaster's children, ended
# and live), enqueue included, and the client's (jobvisor's supervisor and
# worker processes, as bench.sh reports them; graphile-worker's node
# process). ARGS (--bench-args, word-split,
# and whatever follows --) go to bench.sh after the flags above, so they can
# change them. Prints, in markdown, per number of slots: each round's jobs/s
# of both, the ratio of the medians (jobvisor / graphile-worker), the
# median WAL bytes and full-page images per job of both; then the median
# CPU per job of both, server and client, in microseconds; then the
# server's settings from bench.conf. Each run's own line goes to stderr.
#
# The machine is noisy: compare the ratio, not the absolute numbers.
# What it starts it stops: its runs by PID, the server (if it started it)
# with pg-down.sh, which stops the postmaster named in postmaster.pid.
set -euo pipefail

jobs=50000
rounds=2
slots="10 50"
peers=
cache=${XDG_CACHE_HOME:-$HOME/.cache}/jobvisor/bench-peers
extra=()
while [ $# -gt 0 ]; do
	case $1 in
	--jobs) jobs=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--slots) slots=$2; shift 2 ;;
	--peers) peers=$2; shift 2 ;;
	--cache) cache=$2; shift 2 ;;
	--bench-args) read -r -a more <<<"$2"; extra+=("${more[@]}"); shift 2 ;;
	--) shift; extra+=("$@"); break ;;
	-h | --help) awk 'NR == 1 { next } /^#/ { print; next } { exit }' "$0"; exit 0 ;;
	*) echo "bench-peers.sh: unknown option $1 (see --help)" >&2; exit 1 ;;
	esac
done
isnum() { case $1 in '' | *[!0-9]*) return 1 ;; *) [ "$1" -gt 0 ] ;; esac; }
isnum "$jobs" || { echo "bench-peers.sh: --jobs takes a positive number" >&2; exit 1; }
isnum "$rounds" || { echo "bench-peers.sh: --rounds takes a positive number" >&2; exit 1; }
for c in $slots; do
	isnum "$c" || { echo "bench-peers.sh: --slots takes positive numbers, e.g. \"10 50\"" >&2; exit 1; }
done
[ -n "${slots// /}" ] || { echo "bench-peers.sh: --slots is empty" >&2; exit 1; }

top=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "$peers" ]; then
	for d in "$top/../shared/bench/peers" "$top/../../shared/bench/peers"; do
		[ -f "$d/bench-graphile-worker.js" ] && { peers=$d; break; }
	done
	[ -n "$peers" ] || { echo "bench-peers.sh: no shared/bench/peers beside the repository; name it with --peers DIR" >&2; exit 1; }
fi
if [ ! -f "$peers/bench-graphile-worker.js" ] || [ ! -f "$peers/pg-up.sh" ]; then
	echo "bench-peers.sh: $peers has no bench-graphile-worker.js and pg-up.sh" >&2
	exit 1
fi
for t in node npm psql timeout; do
	command -v "$t" >/dev/null || { echo "bench-peers.sh: $t not found" >&2; exit 1; }
done
case $cache in "$top" | "$top"/*) echo "bench-peers.sh: --cache must be outside the repository" >&2; exit 1 ;; esac

# The peers' folder, copied (its files are read-only there); node_modules
# is installed once per package-lock.json.
mkdir -p "$cache"
for f in "$peers"/* "$peers"/.gitignore; do
	[ -f "$f" ] || continue
	rm -f "$cache/${f##*/}"
	cp "$f" "$cache/"
	chmod u+w "$cache/${f##*/}"
done
if ! cmp -s "$cache/package-lock.json" "$cache/node_modules/.jv-package-lock.json" 2>/dev/null; then
	echo "bench-peers.sh: npm ci in $cache" >&2
	if ! (cd "$cache" && npm ci --no-audit --no-fund >"$cache/npm.log" 2>&1); then
		tail -n 20 "$cache/npm.log" >&2
		exit 1
	fi
	cp "$cache/package-lock.json" "$cache/node_modules/.jv-package-lock.json"
fi

export PGHOST=127.0.0.1 PGPORT=55432 PGUSER=postgres
db=postgresql://postgres@127.0.0.1:55432/postgres
psqlq() { psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }

started=0
child=
out=$(mktemp -d /tmp/jv-bench-peers.XXXXXX)
cleanup()
{
	if [ -n "$child" ]; then
		kill -TERM "$child" 2>/dev/null || true
		wait "$child" 2>/dev/null || true
		child=
	fi
	if [ "$started" = 1 ]; then
		started=0
		"$cache/pg-down.sh" >&2 || true
	fi
	rm -rf "$out"
}
trap cleanup EXIT
trap 'cleanup; trap - EXIT; exit 130' INT
trap 'cleanup; trap - EXIT; exit 143' TERM

if pg_isready -h 127.0.0.1 -p 55432 -q 2>/dev/null; then
	echo "bench-peers.sh: a server runs on 127.0.0.1:55432 already: using it, and leaving it running" >&2
else
	started=1
	"$cache/pg-up.sh" >&2
fi

# run OUT TIMEOUT CMD...: CMD in the background (so that a signal reaches
# it through cleanup), its stdout into OUT, its stderr onto ours.
run()
{
	local out=$1 to=$2 rc=0
	shift 2
	timeout "$to" "$@" >"$out" &
	child=$!
	wait "$child" || rc=$?
	child=
	return $rc
}
field() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p; s/^$1=\([^[:space:]]*\).*/\1/p" "$2" | head -n 1; }
lsn() { psqlq "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"; }
# The server's CPU so far in clock ticks: the postmaster's own, its ended
# children's (which it waited for) and its live children's.
pg_ticks()
{
	local pm p t=0
	pm=$(psqlq "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'")
	pm=$(awk '$1 == "PPid:" {print $2}' "/proc/$pm/status")
	# (fields after the command's closing parenthesis: utime is the 12th,
	# cutime and cstime the 14th and 15th)
	t=$(sed 's/.*) //' "/proc/$pm/stat" | awk '{print $12 + $13 + $14 + $15}')
	for p in $(pgrep -P "$pm"); do
		t=$((t + $(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}' || echo 0)))
	done
	echo "$t"
}
# This shell's ended children's CPU so far in clock ticks (a run's, once
# waited for: timeout's and the program's under it).
child_ticks() { sed 's/.*) //' "/proc/$$/stat" | awk '{print $14 + $15}'; }
hz=$(getconf CLK_TCK)
# us_per_job TICKS0 TICKS1: the CPU between two pg_ticks per job, in us
us_per_job() { awk -v a="$1" -v b="$2" -v hz="$hz" -v n="$jobs" 'BEGIN {printf "%.0f", (b - a) / hz * 1e6 / n}'; }
fpi() { psqlq "SELECT wal_fpi FROM pg_stat_wal"; }
list() { echo "$1" | xargs | sed 's/ /, /g'; }
median() { tr ' ' '\n' | grep -E '^[0-9.]+$' | sort -g | awk '{v[NR] = $1} END {if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

one_jobvisor()
{
	local c=$1 t0 t1
	psqlq CHECKPOINT >/dev/null
	t0=$(pg_ticks)
	if run "$out/jv" 900 "$top/contrib/bench.sh" --db "$db" --jobs "$jobs" --concurrency "$c" \
		--batch 100 --prefetch 200 --skip-latency "${extra[@]}"; then
		t1=$(pg_ticks)
		grep '^jobs_per_s=' "$out/jv" | tail -n 1 | sed 's/^/jobvisor: /' >&2
		jv_pgus="$jv_pgus $(us_per_job "$t0" "$t1")"
		jv_cus="$jv_cus $(awk -v a="$(field cpu_s_supervisor "$out/jv")" \
			-v b="$(field cpu_s_workers "$out/jv")" -v n="$jobs" \
			'BEGIN {printf "%.0f", (a + b) * 1e6 / n}')"
		jv_jps="$jv_jps $(field jobs_per_s "$out/jv")"
		jv_wal="$jv_wal $(field wal_bytes_per_job "$out/jv")"
		jv_fpi="$jv_fpi $(field wal_fpi_per_job "$out/jv")"
	else
		echo "bench-peers.sh: bench.sh failed (exit $?)" >&2
		jv_jps="$jv_jps failed"
	fi
}

one_graphile()
{
	local c=$1 l0 l1 f0 f1 t0 t1 n0 n1
	psqlq CHECKPOINT >/dev/null
	l0=$(lsn)
	f0=$(fpi)
	t0=$(pg_ticks)
	n0=$(child_ticks)
	if run "$out/gw" 900 node "$cache/bench-graphile-worker.js" --variant=batched --n="$jobs" --c="$c"; then
		n1=$(child_ticks)
		l1=$(lsn)
		# pg_stat_wal is flushed by a backend as it ends: wait for its clients to go
		for _ in $(seq 1 100); do
			[ "$(psqlq "SELECT count(*) FROM pg_stat_activity WHERE datname = 'anchors'
				AND backend_type = 'client backend'")" = 0 ] && break
			sleep 0.1
		done
		f1=$(fpi)
		t1=$(pg_ticks)
		sed 's/^/graphile-worker: /' "$out/gw" >&2
		gw_pgus="$gw_pgus $(us_per_job "$t0" "$t1")"
		gw_cus="$gw_cus $(us_per_job "$n0" "$n1")"
		gw_jps="$gw_jps $(field jobs_per_s "$out/gw")"
		gw_wal="$gw_wal $(awk -v a="$l0" -v b="$l1" -v n="$jobs" 'BEGIN {printf "%.0f", (b - a) / n}')"
		gw_fpi="$gw_fpi $(awk -v a="$f0" -v b="$f1" -v n="$jobs" 'BEGIN {printf "%.3f", (b - a) / n}')"
	else
		echo "bench-peers.sh: bench-graphile-worker.js failed (exit $?)" >&2
		gw_jps="$gw_jps failed"
	fi
}

table="| slots | jobvisor jobs/s | graphile-worker jobs/s | ratio of medians | WAL B/job jobvisor | WAL B/job graphile-worker | FPI/job jobvisor | FPI/job graphile-worker |
|---|---|---|---|---|---|---|---|"
cpu="| slots | PostgreSQL µs/job, jobvisor | PostgreSQL µs/job, graphile-worker | client µs/job, jobvisor | client µs/job, graphile-worker |
|---|---|---|---|---|"
for c in $slots; do
	jv_jps='' jv_wal='' jv_fpi='' gw_jps='' gw_wal='' gw_fpi='' jv_pgus='' jv_cus='' gw_pgus='' gw_cus=''
	for r in $(seq 1 "$rounds"); do
		echo "bench-peers.sh: $c slots, round $r of $rounds" >&2
		if [ $((r % 2)) = 1 ]; then
			one_jobvisor "$c"
			one_graphile "$c"
		else
			one_graphile "$c"
			one_jobvisor "$c"
		fi
	done
	mj=$(echo "$jv_jps" | median)
	mg=$(echo "$gw_jps" | median)
	ratio=$(awk -v a="$mj" -v b="$mg" 'BEGIN {if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "n/a"}')
	table="$table
| $c | $(list "$jv_jps") | $(list "$gw_jps") | $ratio | $(echo "$jv_wal" | median) | $(echo "$gw_wal" | median) | $(echo "$jv_fpi" | median) | $(echo "$gw_fpi" | median) |"
	cpu="$cpu
| $c | $(echo "$jv_pgus" | median) | $(echo "$gw_pgus" | median) | $(echo "$jv_cus" | median) | $(echo "$gw_cus" | median) |"
done

echo "jobvisor: \`./contrib/bench.sh --db $db --jobs $jobs --concurrency C --batch 100 --prefetch 200 --skip-latency${extra[*]:+ ${extra[*]}}\`"
echo "graphile-worker $(cd "$cache" && node -p "require('graphile-worker/package.json').version"): \`node bench-graphile-worker.js --variant=batched --n=$jobs --c=C\`"
echo "$(psqlq 'SELECT version()' | cut -d, -f1), $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC'); WAL and FPI (full-page images): median per job of the whole run, enqueue included"
echo
echo "$table"
echo
echo "CPU per job, medians, enqueue included: the whole server (every PostgreSQL process), and the client (jobvisor's supervisor and worker processes; graphile-worker's node process)"
echo
echo "$cpu"
echo
echo "| PostgreSQL setting (bench.conf) | value |"
echo "|---|---|"
psqlq "SELECT '| ' || name || ' | ' || current_setting(name) || ' |' FROM pg_settings
	WHERE sourcefile LIKE '%/bench.conf' ORDER BY name"
