#!/bin/sh
# bench.sh -- throughput and pickup latency of `jobvisor serve` with noop jobs.
#
#   ./contrib/bench.sh [--jobs N] [--concurrency C] [--users U] [--processors P]
#                      [--batch B] [--prefetch F] [--isolation process|thread] [--db URL]
#                      [--latency-jobs M] [--skip-latency] [--purge-rows R]
#                      [--type noop|sql] [--pgbouncer session|transaction]
#                      [--pool-size S] [--listen-direct] [--poll-ms MS] [--build DIR]
#                      [--stats] [--progress S] [--background-rate R] [--flow]
#                      [--weight W] [--per-user-limit N] [--enqueue-file]
#                      [--api-enqueue] [--api-search R]
#
# Defaults: 100 000 jobs, max_concurrent_jobs 200 per processor, batch_size
# half of it, worker processes (the product's default isolation).
#
# Builds an optimised jobvisor (build/bench), starts a private PostgreSQL with
# the same durable settings as the peer benchmarks in shared/bench/peers
# (fsync, synchronous_commit and full_page_writes on; or uses --db URL, e.g.
# the peers' cluster, to compare on one server), migrates a fresh database,
# enqueues N noop jobs in one INSERT, runs P processors until every job is
# recorded, and prints one line:
#
#   jobs_per_s=X p50_ms=.. p95_ms=.. p99_ms=.. cpu_s_supervisor=.. rss_kb_supervisor=.. ...
#
# (p50/p95/p99: claim to recorded completion, from the history rows; CPU and
# peak RSS of the first processor's supervisor process; fds at start/end).
# The line goes on with what the run cost PostgreSQL:
#
#   cpu_s_postgres         CPU of the backends of jobvisor's connections, read
#                          before serve stops (n/a when /proc does not show them)
#   wal_bytes_per_job      pg_current_wal_lsn() before the enqueue and after the
#                          run, as the peers' figures (the whole cluster's WAL)
#   wal_bytes_per_job_run  the same from just before serve starts (after the
#                          CHECKPOINT that follows the enqueue)
#   wal_fpi_per_job, wal_records_per_job
#                          pg_stat_wal, enqueue included
#   xacts_per_job          commits + rollbacks in the bench database while serve
#                          ran (pg_stat_database, read once every other client
#                          has gone and so flushed its counts; autovacuum's
#                          count), less bench.sh's own: it counts its queries
#                          and subtracts what one costs, measured at start
#                          (normally 2: the connection's and the query's)
#   blks_dirtied_per_job   shared_blks_dirtied of jobvisor's statements while
#                          serve ran (pg_stat_statements; bench.sh's cluster
#                          preloads it with track = top and a --db server may;
#                          else n/a)
#
# --stats also prints on stderr the run's ten statements with the most
# total_exec_time: calls, total and mean ms, rows, shared_blks_dirtied and
# wal_bytes per call.
#
# --progress S prints on stderr, every S seconds of a throughput run, the
# attempts recorded so far and their rate over the last S seconds, the size
# of jobs and job_executions with their indexes, and jobs' dead and live
# rows and autovacuum runs (for long runs: --jobs 10000000 --progress 60):
#
#   progress s=.. done=.. jobs_per_s=.. jobs_mb=.. history_mb=.. jobs_dead=.. ...
#
# Then the pickup-latency run: one idle processor (batch 20, 10 slots), M
# jobs (default 500) inserted one at a time at ~100/s; enqueue-to-claim
# percentiles from the history (created_at to started_at, both by the
# database clock):
#
#   pickup_p50_ms=.. pickup_p95_ms=.. pickup_p99_ms=..
#   probe_insert_p50_ms=.. probe_insert_p99_ms=..
#
# (probe_insert: each probe's INSERT and its commit as psql timed the
# round trip. created_at is the transaction's start and no processor sees
# the job before it commits, so pickup includes this much of the
# enqueuer's own time; under load it is most of pickup's tail.) Then the
# processor's own part, from the probe's commit (its commit timestamp) to
# its claim:
#
#   pickup_from_commit_p50_ms=.. pickup_from_commit_p95_ms=..
#   pickup_from_commit_p99_ms=.. claim_queries_per_job=..
#
# (on bench.sh's own server, which runs with track_commit_timestamp on;
# with --db, "-" unless that server does). claim_queries_per_job: the
# claim() calls of that run per job claimed (where the server has
# pg_stat_statements).
#
# --flow: the jobs go to a queue `bench` with every limit of flow control
# configured but none binding (per-processor concurrency twice the slots
# and the prefetch, which count as running; global_concurrency 1 000 000; a
# rate limit of 1 000 000 starts a second) and the processor serving that
# queue only: its cost against a run without
# (DESIGN.md "Flow control"; with --users, each user also has a
# jobvisor.user_limits row with the per_user_limit as its max_running, so
# nothing changes, and weight 1, or the weight of --weight W: above 1, the
# fair claim keeps turns between claims).
#
# --enqueue-file: the N jobs are enqueued by `jobvisor enqueue --file`, one
# line each (with their user and queue as above), instead of one INSERT; it
# is timed, from the start of the command to its exit, and printed first:
#
#   enqueue_file_jobs=N enqueue_file_s=.. enqueue_file_jobs_per_s=..
#
# --api-enqueue: only the enqueue, through the REST API: --jobs N noop jobs
# (default 100 000) in bulk POST /api/jobs requests of 10 000 each (the
# most one takes), sent one after the other to one `jobvisor serve` whose
# claiming is paused; prints
#
#   api_enqueue_jobs=N api_enqueue_requests=R api_enqueue_s=.. api_enqueue_jobs_per_s=X
#
# (X: jobs committed per second of the requests, bodies built beforehand).
#
# --api-search R: the cost of GET /api/jobs's search at R jobs (say
# 1000000): R finished jobs planted over 30 days (5 % failed, with an
# error text), a workflow of 1 000 steps among them, then each search
# asked 5 times of one `jobvisor serve` (claiming paused); prints one line
# per search on stderr with its median time, then
#
#   api_search_rows=R q_ms=.. q_failed_ms=.. q_day_ms=.. range_ms=.. workflow_ms=.. ...
#
# --per-user-limit N: processor.per_user_limit for the throughput runs
# (default: none, or with --users the slots shared out among the users).
#
# --background-rate R: the same M probe jobs, on a processor with the
# throughput settings (--concurrency, --batch, --prefetch) while one psql
# session inserts R noop jobs a second beside them (a chunk every ~10 ms, a
# transaction each, from 1 s before the probes until they have all been
# claimed; at most 100 rounds a second for 3 s per 100 probes + 30 s). Only
# the probes are measured; the line adds
#
#   background_rate=R background_enqueued_per_s=.. background_done_per_s=X
#   background_backlog=.. probe_recorded_p50_ms=.. probe_recorded_p99_ms=..
#
# (X: background jobs finished while the enqueuer ran, per second of it;
# below R the processor fell behind, and backlog is what was left. A job
# claimed ahead (--prefetch) may wait in the supervisor after its claim:
# probe_recorded is insert to recorded completion, which includes that.)
#
# --purge-rows R: claiming while history retention purges. R finished jobs
# (one execution each) are planted 40 days old, then up to three pairs of
# throughput runs are made on them: with history.retention_days 0 (nothing
# removed), then with 30 and history.check_interval_seconds 1 (the purge
# starts at once and runs beside the claims); the purge then finishes
# alone. Prints each pair on stderr, then
#
#   purge_rows=R jobs_per_s_without=A,B,C jobs_per_s_with=X,Y,Z
#   median_ratio=.. purged_during_runs=.. purge_rows_per_s_during_runs=..
#   purge_rows_per_s_alone=..
#
# The latency run is skipped.
#
# --type sql runs the jobs through the sql executor instead (one
# `SELECT $1::int` each, on jobvisor's own database, same isolation; one
# connection per worker process: keep --concurrency well below the
# cluster's max_connections of 200).
# --pgbouncer MODE puts a private PgBouncer (pool_mode MODE, default_pool_size
# S, default 20) between every jobvisor connection and PostgreSQL; with
# transaction the config says `pooler: transaction`, and --listen-direct adds
# `listen_url` straight to PostgreSQL. --poll-ms sets processor.poll_interval_ms
# (default 1000). --build DIR takes jobvisor and its plugins from an existing
# build folder (e.g. of another commit, to compare) instead of build/bench.
# With --db, its database (jv_bench_PID) is dropped at the end.
# contrib/bench-peers.sh runs it beside graphile-worker on the peers' server.
#
# Everything it starts it stops, by PID.
set -eu

jobs=100000
conc=200
users=0
procs=1
batch=
isolation=process
prefetch=0
db_url=
lat_jobs=500
skip_latency=0
jtype=noop
bouncer=
pool_size=20
listen_direct=0
poll_ms=1000
use_build=
purge_rows=0
bg_rate=0
stats=0
progress=0
flow=0
weight=1
per_user=0
api_enqueue=0
api_search=0
enqueue_file=0
while [ $# -gt 0 ]; do
	case $1 in
	--jobs) jobs=$2; shift 2 ;;
	--concurrency) conc=$2; shift 2 ;;
	--users) users=$2; shift 2 ;;
	--processors) procs=$2; shift 2 ;;
	--batch) batch=$2; shift 2 ;;
	--isolation) isolation=$2; shift 2 ;;
	--prefetch) prefetch=$2; shift 2 ;;
	--db) db_url=$2; shift 2 ;;
	--latency-jobs) lat_jobs=$2; shift 2 ;;
	--skip-latency) skip_latency=1; shift ;;
	--purge-rows) purge_rows=$2; shift 2 ;;
	--type) jtype=$2; shift 2 ;;
	--pgbouncer) bouncer=$2; shift 2 ;;
	--pool-size) pool_size=$2; shift 2 ;;
	--listen-direct) listen_direct=1; shift ;;
	--poll-ms) poll_ms=$2; shift 2 ;;
	--build) use_build=$2; shift 2 ;;
	--background-rate) bg_rate=$2; shift 2 ;;
	--stats) stats=1; shift ;;
	--flow) flow=1; shift ;;
	--weight) weight=$2; shift 2 ;;
	--per-user-limit) per_user=$2; shift 2 ;;
	--api-enqueue) api_enqueue=1; shift ;;
	--api-search) api_search=$2; shift 2 ;;
	--enqueue-file) enqueue_file=1; shift ;;
	--progress) progress=$2; shift 2 ;;
	-h | --help) awk 'NR == 1 { next } /^#/ { print; next } { exit }' "$0"; exit 0 ;;
	*) echo "bench.sh: unknown option $1 (see --help)" >&2; exit 1 ;;
	esac
done
case $isolation in process | thread) ;; *) echo "bench.sh: --isolation process|thread" >&2; exit 1 ;; esac
case $jtype in noop | sql) ;; *) echo "bench.sh: --type noop|sql" >&2; exit 1 ;; esac
case $bouncer in '' | session | transaction) ;; *) echo "bench.sh: --pgbouncer session|transaction" >&2; exit 1 ;; esac
[ "$listen_direct" = 0 ] || [ "$bouncer" = transaction ] ||
	{ echo "bench.sh: --listen-direct goes with --pgbouncer transaction" >&2; exit 1; }
case $bg_rate in '' | *[!0-9]*) echo "bench.sh: --background-rate takes a whole number of jobs per second" >&2; exit 1 ;; esac
case $progress in '' | *[!0-9]*) echo "bench.sh: --progress takes a whole number of seconds" >&2; exit 1 ;; esac
[ "$bg_rate" -le 100000 ] || { echo "bench.sh: --background-rate at most 100000" >&2; exit 1; }
# Half the slots per claim by default: one batch is recorded while the next runs.
[ -n "$batch" ] || batch=$(( conc / 2 > 0 ? (conc / 2 > 1000 ? 1000 : conc / 2) : 1 ))

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh contrib/deps.sh
. "$top/contrib/bench-lib.sh"
bench_build bench.sh "$use_build"

work=$(mktemp -d /tmp/jv-bench.XXXXXX)
PIDS=""
stop_serve()
{
	for p in $PIDS; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in $PIDS; do
		wait "$p" 2>/dev/null || true
	done
	PIDS=""
}
db_made=0
drop_db()
{
	[ "$db_made" = 1 ] || return 0
	psql -X -q -d "$admin" -c "DROP DATABASE IF EXISTS $dbname WITH (FORCE)" >/dev/null
}
BGQ=
stop_bg()
{
	[ -n "$BGQ" ] || return 0
	# the enqueuer's loop reads this flag; the client's end alone would not stop its backend
	q "UPDATE public.jv_bench_ctl SET stop = true" >/dev/null 2>&1 || true
	_i=0
	while kill -0 "$BGQ" 2>/dev/null && [ $_i -lt 100 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	kill -TERM "$BGQ" 2>/dev/null || true
	wait "$BGQ" 2>/dev/null || true
	BGQ=
}
BPID=
stop_bouncer()
{
	[ -z "$BPID" ] || kill -INT "$BPID" 2>/dev/null || true
	[ -z "$BPID" ] || wait "$BPID" 2>/dev/null || true
	BPID=
}
# pg.sh's exit handlers run in reverse order: serve stops before PgBouncer,
# PgBouncer before PostgreSQL.
. "$top/tests/pg.sh"
jv_on_exit "rm -rf '$work'"

if [ -z "$db_url" ]; then
	JV_PG_CONF_EXTRA="$BENCH_PG_SETTINGS
# bench.sh: per-statement figures (blks_dirtied_per_job, --stats); costs
# a few microseconds a statement, and a run makes few (batches)
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = top
# bench.sh: pickup from the probe's commit (one SLRU entry per transaction)
track_commit_timestamp = on"
	export JV_PG_CONF_EXTRA
	jv_pg_start >/dev/null
	jv_on_exit stop_bouncer
	jv_on_exit stop_serve
	admin=$JV_TEST_DATABASE_URL
else
	# (a server we did not start: our database goes when we do)
	jv_on_exit drop_db
	jv_on_exit stop_bouncer
	jv_on_exit stop_serve
	admin=$db_url
fi
dbname=jv_bench_$$
psql -X -q -d "$admin" -c "CREATE DATABASE $dbname" >/dev/null
db_made=1
url=$(printf '%s\n' "$admin" | sed -E 's#^(postgres(ql)?://[^/?]*)(/[^?]*)?#\1/'"$dbname"'#')
# Every query of bench.sh's own goes through q: marked, so that
# pg_stat_statements' figures leave it out, and counted (one byte in
# $work/probes each), so that xacts_per_job can subtract its transactions.
: >"$work/probes"
q()
{
	printf . >>"$work/probes"
	psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$url" -c "/* jv-bench */ $1"
}
nprobes() { wc -c <"$work/probes" | tr -d ' '; }

# settle: wait (at most 10 s) until no other client is connected to the
# bench database, so that every backend that ran there has exited and
# flushed its statistics, then read them in the same query (the reading
# backend's own transactions are in the next reading). Sets s_xact
# (commits + rollbacks of the database), s_rec, s_fpi (pg_stat_wal, the
# whole cluster), s_lsn (pg_current_wal_lsn() in bytes). PgBouncer's idle
# server connections are closed first: they would flush only when idle 10 s.
settle()
{
	[ -z "$bouncer" ] || q "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()
		  AND backend_type = 'client backend'" >/dev/null
	_t=0
	while :; do
		set -- $(q "SELECT (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
				AND pid <> pg_backend_pid() AND backend_type = 'client backend'),
			(SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()),
			w.wal_records, w.wal_fpi, pg_current_wal_lsn() - '0/0'::pg_lsn
			FROM pg_stat_wal w" | tr '|' ' ')
		[ "$1" != 0 ] || break
		_t=$((_t + 1))
		if [ $_t -ge 200 ]; then
			echo "bench.sh: $1 other connections to $dbname stay; their statistics may be missing" >&2
			break
		fi
		sleep 0.05
	done
	s_xact=$2 s_rec=$3 s_fpi=$4 s_lsn=$5
}

# pg_stat_statements, where the server has it loaded (bench.sh's own
# cluster does, --db servers may): only this database's rows are reset.
pgss=0
if [ "$(q "SELECT current_setting('shared_preload_libraries') ~ 'pg_stat_statements'")" = t ] &&
	q "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null 2>&1; then
	pgss=1
fi
[ "$pgss" = 1 ] || [ "$stats" = 0 ] ||
	echo "bench.sh: --stats: the server has no pg_stat_statements loaded; no statement figures" >&2
pgss_where="dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
	AND query NOT LIKE '/* jv-bench */%'"

# What one of bench.sh's queries costs in transactions (normally 2: the
# connection's start and the query), measured here once.
settle
xa=$s_xact ca=$(nprobes)
q "SELECT 1" >/dev/null
q "SELECT 1" >/dev/null
settle
xact_per_probe=$(awk -v a="$xa" -v b="$s_xact" -v n="$(( $(nprobes) - ca ))" 'BEGIN {printf "%.2f", (b - a) / n}')

# jobvisor's own url: PostgreSQL itself, or a private PgBouncer in front of
# it (run unprivileged when we are root, as PgBouncer refuses root).
jv_url=$url
if [ -n "$bouncer" ]; then
	set -- $(q "SELECT host(inet_server_addr()) || ' ' || inet_server_port() || ' ' || current_user")
	[ $# = 3 ] || { echo "bench.sh: --pgbouncer needs PostgreSQL over TCP" >&2; exit 1; }
	pgb=$(command -v pgbouncer 2>/dev/null || echo /usr/sbin/pgbouncer)
	mkdir -m 0755 "$work/pgbouncer"
	printf '"%s" ""\n' "$3" >"$work/pgbouncer/users.txt"
	bport=$(( 20000 + ($$ * 13 + 7000) % 30000 ))
	owner=$(id -un)
	if [ "$(id -u)" = 0 ]; then
		owner=${JV_PG_USER:-nobody}
		chmod 0711 "$work"
		chown "$owner" "$work/pgbouncer"
	fi
	tries=0
	while :; do
		tries=$((tries + 1))
		cat >"$work/pgbouncer/pgbouncer.ini" <<EOF
[databases]
$dbname = host=$1 port=$2 dbname=$dbname
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bport
unix_socket_dir =
auth_type = trust
auth_file = $work/pgbouncer/users.txt
pool_mode = $bouncer
default_pool_size = $pool_size
max_client_conn = 2000
ignore_startup_parameters = extra_float_digits
logfile = $work/pgbouncer/pgbouncer.log
EOF
		if [ "$(id -u)" = 0 ]; then
			setpriv --reuid="$owner" --regid="$(id -g "$owner")" --clear-groups -- \
				"$pgb" -q "$work/pgbouncer/pgbouncer.ini" 2>>"$work/pgbouncer/stderr" &
		else
			"$pgb" -q "$work/pgbouncer/pgbouncer.ini" 2>>"$work/pgbouncer/stderr" &
		fi
		BPID=$!
		jv_url="postgresql://$3@127.0.0.1:$bport/$dbname"
		i=0
		while kill -0 "$BPID" 2>/dev/null && [ $i -lt 100 ] &&
			! psql -X -q -d "$jv_url" -c 'SELECT 1' >/dev/null 2>&1; do
			sleep 0.1
			i=$((i + 1))
		done
		if kill -0 "$BPID" 2>/dev/null && [ $i -lt 100 ]; then
			break
		fi
		stop_bouncer
		if [ $tries -lt 20 ] && grep -qi 'address already in use' "$work/pgbouncer/pgbouncer.log" 2>/dev/null; then
			bport=$(( 20000 + (bport - 20000 + 997) % 30000 ))
			continue
		fi
		echo "bench.sh: PgBouncer did not start:" >&2
		tail -n 5 "$work/pgbouncer/pgbouncer.log" "$work/pgbouncer/stderr" >&2
		exit 1
	done
fi

mkdir -m 0755 "$work/plugins"
cp "$build/plugins/executors/noop/.libs/noop.so" "$build/plugins/executors/sql/.libs/sql.so" "$work/plugins/"
chmod 0644 "$work/plugins/noop.so" "$work/plugins/sql.so"
dbextra=
[ "$bouncer" != transaction ] || dbextra="
  pooler: transaction"
[ "$listen_direct" = 0 ] || dbextra="$dbextra
  listen_url: \"$url\""
cat >"$work/bench.yaml" <<EOF
database:
  url: "$jv_url"$dbextra
processor:
  poll_interval_ms: $poll_ms
  batch_size: $batch
  max_concurrent_jobs: $conc
  prefetch: $prefetch
  per_user_limit: $per_user
  heartbeat_interval_ms: 30000
plugins: { dir: "$work/plugins" }
executors:
  noop: { plugin: noop, isolation: $isolation }
  sql: { plugin: sql, isolation: $isolation, queries: { one: "SELECT \$1::int AS n" } }
log: { level: warning }
EOF
# With --users, a per-user limit that lets every slot be used: the slots
# shared out among the users (unless --per-user-limit says otherwise).
if [ "$users" -gt 0 ] && [ "$per_user" = 0 ]; then
	per_user=$(( (conc * procs + users - 1) / users ))
	sed -i "s/per_user_limit: 0\$/per_user_limit: $per_user/" "$work/bench.yaml"
fi
qcol= qval= # (the queue column: none before migration 015, as with --build of an older tree)
if [ "$flow" = 1 ]; then
	qcol=", queue" qval=", 'bench'"
	sed -i "s/^  per_user_limit: \([0-9]*\)\$/  per_user_limit: \1\n  queues: [bench]/" "$work/bench.yaml"
	cat >>"$work/bench.yaml" <<EOF
queues:
  bench:
    concurrency: $(((conc + prefetch) * 2))
    global_concurrency: 1000000
    rate_limit: { allowed: 1000000, period_seconds: 1 }
EOF
fi
# serve refuses root without a say: as root (CI), allow it for this run.
[ "$(id -u)" != 0 ] || echo "allow_root: true" >>"$work/bench.yaml"
chmod 0600 "$work/bench.yaml"
"$build/jobvisor" migrate -c "$work/bench.yaml" >/dev/null
if [ "$flow" = 1 ]; then
	# (serve stores the queue at start; the enqueue below comes first)
	psql -X -q -d "$jv_url" -c "SELECT jobvisor.sync_queues('{\"bench\": {}}')" >/dev/null
	[ "$users" = 0 ] || psql -X -q -d "$jv_url" -c "INSERT INTO jobvisor.user_limits (user_id, max_running, weight)
		SELECT 'user' || g, nullif($per_user, 0), $weight FROM generate_series(0, $users - 1) g" >/dev/null
fi

now_ns() { date +%s%N; }

# api_start: a `jobvisor serve` with the API on a free port ($port, token
# $token), claiming paused.
api_start()
{
	token=bench-$$
	printf 'api: { listen: "127.0.0.1:0", token: "%s" }\n' "$token" >>"$work/bench.yaml"
	sed -i 's/^log: { level: warning }$/log: { level: info }/' "$work/bench.yaml" # (the port)
	"$build/jobvisor" serve -c "$work/bench.yaml" 2>>"$work/serve.err" &
	PIDS="$PIDS $!"
	k=0
	until port=$(sed -n 's/.*api: listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$work/serve.err" | tail -n 1) &&
		[ -n "$port" ]; do
		k=$((k + 1))
		[ $k -lt 300 ] || { echo "bench.sh: the API did not start (see $work/serve.err)" >&2; exit 1; }
		sleep 0.1
	done
	curl -s -o /dev/null -X POST -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/cron/stop"
}

if [ "$api_search" -gt 0 ]; then
	q "INSERT INTO jobvisor.workflows (name) VALUES ('bench')" >/dev/null
	q "INSERT INTO jobvisor.jobs (type, user_id, status, attempts, started_at, finished_at,
		created_at, last_error, workflow_id, workflow_key)
	SELECT CASE WHEN g % 100 = 0 THEN 'rare' ELSE 'noop' END, 'user' || g % 50,
	       CASE WHEN g % 20 = 0 THEN 'failed' ELSE 'succeeded' END, 1, t, t, t,
	       CASE WHEN g % 20 = 0 THEN 'connection refused by host-' || g % 997 END,
	       CASE WHEN g % ($api_search / 1000) = 0 THEN 1 END,
	       CASE WHEN g % ($api_search / 1000) = 0 THEN 'k' || g END
	FROM generate_series(1, $api_search) g,
	     LATERAL (SELECT now() - interval '30 days' + g * (interval '30 days' / $api_search) AS t) x" >/dev/null
	q "VACUUM ANALYZE jobvisor.jobs" >/dev/null
	api_start
	day=$(q "SELECT to_char((now() - interval '3 days') AT TIME ZONE 'UTC', 'YYYY-MM-DD')")
	line="api_search_rows=$api_search"
	for s in "q=host-996" "q=host-996&status=failed" "q=host-996&from=${day}T00:00:00Z&to=${day}T23:59:59Z" \
		"q=no-such-text" "from=${day}T00:00:00Z&to=${day}T01:00:00Z" "from=${day}T00:00:00Z&type=rare" \
		"workflow=1" "status=failed" "type=rare" "id=$((api_search / 2))"; do
		: >"$work/times"
		for k in 1 2 3 4 5; do
			curl -s -o "$work/search.out" -w '%{time_total}\n' -H "Authorization: Bearer $token" \
				"http://127.0.0.1:$port/api/jobs?$s&limit=50" >>"$work/times"
		done
		ms=$(sort -n "$work/times" | sed -n 3p | awk '{ printf "%.1f", $1 * 1000 }')
		echo "GET /api/jobs?$s: median ${ms} ms, $(jq -r '"\(.jobs | length) jobs, capped \(.capped)"' "$work/search.out")" >&2
		name=$(printf '%s' "$s" | sed 's/=.*//; s/&.*//')
		case $s in
		q=host-996) name=q ;; *status=failed) name=${name}_failed ;; q=host-996\&from*) name=q_day ;;
		q=no-such-text) name=q_none ;; from=*to=*) name=range_hour ;; from=*type*) name=from_type ;;
		esac
		line="$line ${name}_ms=$ms"
	done
	echo "$line"
	exit 0
fi

if [ "$api_enqueue" = 1 ]; then
	# The bodies first, then the requests alone are timed.
	nreq=$(( (jobs + 9999) / 10000 ))
	i=0
	while [ $i -lt $nreq ]; do
		n=$(( jobs - i * 10000 < 10000 ? jobs - i * 10000 : 10000 ))
		awk -v n="$n" 'BEGIN { printf "["; for (k = 0; k < n; k++)
			printf "%s{\"type\": \"noop\", \"payload\": {}}", k ? "," : ""; printf "]" }' \
			>"$work/bulk.$i.json"
		i=$((i + 1))
	done
	api_start
	t0=$(now_ns)
	i=0
	while [ $i -lt $nreq ]; do
		code=$(curl -s -o "$work/bulk.out" -w '%{http_code}' -X POST -H "Authorization: Bearer $token" \
			-H 'Content-Type: application/json' --data-binary "@$work/bulk.$i.json" \
			"http://127.0.0.1:$port/api/jobs")
		[ "$code" = 201 ] || { echo "bench.sh: bulk request $i: $code $(head -c 300 "$work/bulk.out")" >&2; exit 1; }
		i=$((i + 1))
	done
	t1=$(now_ns)
	[ "$(q "SELECT count(*) FROM jobvisor.jobs")" = "$jobs" ] || { echo "bench.sh: not every job is in the table" >&2; exit 1; }
	awk -v n="$jobs" -v r="$nreq" -v ns=$((t1 - t0)) 'BEGIN {
		printf "api_enqueue_jobs=%d api_enqueue_requests=%d api_enqueue_s=%.2f api_enqueue_jobs_per_s=%.0f\n",
			n, r, ns / 1e9, n / (ns / 1e9) }'
	exit 0
fi

payload='{}'
[ "$jtype" = noop ] || payload='{"query": "one", "params": [1]}'

# One throughput run: N jobs enqueued, P processors until all are recorded;
# prints the result line and sets $jps.
throughput_run()
{
	settle
	w_lsn0=$s_lsn w_rec0=$s_rec w_fpi0=$s_fpi
	if [ "$enqueue_file" = 1 ]; then
		awk -v n="$jobs" -v t="$jtype" -v p="$payload" -v u="$users" -v fl="$flow" 'BEGIN {
			for (g = 1; g <= n; g++)
				printf "{\"type\": \"%s\", \"payload\": %s%s%s}\n", t, p,
					(u > 0 ? ", \"user\": \"user" (g % u) "\"" : ""), (fl == 1 ? ", \"queue\": \"bench\"" : "")
		}' >"$work/jobs.ndjson"
		e0=$(now_ns)
		"$build/jobvisor" enqueue -c "$work/bench.yaml" --file "$work/jobs.ndjson" >/dev/null
		e1=$(now_ns)
		awk -v n="$jobs" -v a="$e0" -v b="$e1" 'BEGIN {printf "enqueue_file_jobs=%d enqueue_file_s=%.3f enqueue_file_jobs_per_s=%.0f\n",
			n, (b - a) / 1e9, n / ((b - a) / 1e9)}'
	elif [ "$users" -gt 0 ]; then
		q "INSERT INTO jobvisor.jobs (type, payload, user_id$qcol) SELECT '$jtype', '$payload', 'user' || (g % $users)$qval FROM generate_series(1, $jobs) g"
	else
		q "INSERT INTO jobvisor.jobs (type, payload$qcol) SELECT '$jtype', '$payload'$qval FROM generate_series(1, $jobs)"
	fi
	q "ANALYZE jobvisor.jobs" >/dev/null
	q "CHECKPOINT" >/dev/null 2>&1 || true
	[ "$pgss" = 0 ] || q "SELECT pg_stat_statements_reset(0, oid, 0) FROM pg_database
		WHERE datname = current_database()" >/dev/null
	settle
	r_lsn0=$s_lsn x0=$s_xact c0=$(nprobes)

	t0=$(now_ns)
	i=0
	while [ $i -lt "$procs" ]; do
		"$build/jobvisor" serve -c "$work/bench.yaml" 2>>"$work/serve.err" &
		PIDS="$PIDS $!"
		i=$((i + 1))
	done
	first=${PIDS# }
	first=${first%% *}
	sleep 0.2
	fd0=$(ls /proc/"$first"/fd 2>/dev/null | wc -l)
	# Wait for the last job in one psql session that looks every 10 ms, a
	# short transaction each (a long-running waiting statement would hold
	# back PostgreSQL's xmin horizon, so no dead row could be pruned and the
	# claims would slow down for it); a psql started per look would cost
	# the machine more than the check. Its transactions are counted
	# (waited) and left out of xacts_per_job. With --progress, a session
	# per S seconds and a line between them.
	waited=0
	h0=$(q "SELECT coalesce(max(id), 0) FROM jobvisor.job_executions")
	pt=$t0 ph=$h0
	step=$progress
	[ "$step" -gt 0 ] || step=86400
	while :; do
		set -- $(q "DO \$\$
			DECLARE n integer := 0; t timestamptz := clock_timestamp();
			BEGIN
				WHILE (EXISTS (SELECT 1 FROM jobvisor.jobs WHERE status = 'pending')
				       OR EXISTS (SELECT 1 FROM jobvisor.jobs WHERE status = 'running'))
				      AND clock_timestamp() < t + make_interval(secs => $step) LOOP
					n := n + 1;
					PERFORM pg_sleep(0.01);
					COMMIT;
				END LOOP;
				RAISE NOTICE 'looks %', n;
			END \$\$" 2>&1 | sed -n 's/.*looks \([0-9]*\).*/\1/p')
		waited=$((waited + ${1:-0}))
		[ "$(q "SELECT EXISTS (SELECT 1 FROM jobvisor.jobs WHERE status = 'pending')
			OR EXISTS (SELECT 1 FROM jobvisor.jobs WHERE status = 'running')")" = t ] || break
		[ "$progress" -gt 0 ] || continue
		now=$(now_ns)
		# (history ids are handed out in order: max(id) counts the
		# attempts recorded, one index probe, at any table size)
		set -- $(q "SELECT coalesce(max(id), 0) FROM jobvisor.job_executions")
		h=$1
		set -- $(q "SELECT pg_total_relation_size('jobvisor.jobs') || ' ' ||
			pg_total_relation_size('jobvisor.job_executions') || ' ' || n_dead_tup || ' ' ||
			n_live_tup || ' ' || autovacuum_count FROM pg_stat_user_tables
			WHERE relid = 'jobvisor.jobs'::regclass")
		echo "progress s=$(( (now - t0) / 1000000000 )) done=$((h - h0)) jobs_per_s=$(( (h - ph) * 1000000000 / (now - pt) )) jobs_mb=$(( $1 / 1048576 )) history_mb=$(( $2 / 1048576 )) jobs_dead=$3 jobs_live=$4 jobs_autovacuums=$5" >&2
		pt=$now ph=$h
	done
	t1=$(now_ns)
	fd1=$(ls /proc/"$first"/fd 2>/dev/null | wc -l)
	tick=$(getconf CLK_TCK)
	cpu=$(awk -v t="$tick" '{printf "%.2f", ($14 + $15) / t}' /proc/"$first"/stat)
	wcpu=0
	for c in $(pgrep -P "$first" || true); do
		wcpu=$(awk -v t="$tick" -v a="$wcpu" '{printf "%.2f", a + ($14 + $15) / t}' /proc/"$c"/stat 2>/dev/null || echo "$wcpu")
	done
	rss=$(awk '/VmHWM/ {print $2}' /proc/"$first"/status)
	# CPU of the PostgreSQL backends serving the run (jobvisor's
	# connections, still open), when this machine's /proc shows them.
	pgcpu=n/a
	bpids=$(q "SELECT string_agg(pid::text, ' ') FROM pg_stat_activity WHERE datname = current_database()
		AND backend_type = 'client backend' AND pid <> pg_backend_pid()")
	if [ -n "$bpids" ]; then
		pgcpu=$(for p in $bpids; do cat /proc/"$p"/stat 2>/dev/null || echo x; done |
			awk -v t="$tick" -v want="$(echo $bpids | wc -w)" '$2 == "(postgres)" {s += $14 + $15; n++}
				END {if (n == want) printf "%.2f", s / t; else print "n/a"}')
	fi
	stop_serve
	settle
	walstat=$(awk -v n="$jobs" -v l0="$w_lsn0" -v r0="$r_lsn0" -v l1="$s_lsn" \
		-v c0="$w_rec0" -v c1="$s_rec" -v f0="$w_fpi0" -v f1="$s_fpi" \
		-v x0="$x0" -v x1="$s_xact" -v p="$(( $(nprobes) - c0 ))" -v pp="$xact_per_probe" -v w="$waited" \
		'BEGIN {printf "wal_bytes_per_job=%.0f wal_bytes_per_job_run=%.0f wal_fpi_per_job=%.3f wal_records_per_job=%.2f xacts_per_job=%.3f",
			(l1 - l0) / n, (l1 - r0) / n, (f1 - f0) / n, (c1 - c0) / n, (x1 - x0 - p * pp - w) / n}')
	dirtied=n/a
	[ "$pgss" = 0 ] || dirtied=$(q "SELECT round(coalesce(sum(shared_blks_dirtied), 0)::numeric / $jobs, 3)
		FROM pg_stat_statements WHERE $pgss_where")

	done_n=$(q "SELECT count(*) FROM jobvisor.jobs WHERE status = 'succeeded' AND started_at >= to_timestamp($t0 / 1e9)")
	pct=$(q "SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2) || ' ' ||
		round(percentile_cont(0.95) WITHIN GROUP (ORDER BY ms)::numeric, 2) || ' ' ||
		round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 2)
		FROM (SELECT extract(epoch FROM finished_at - started_at) * 1000 AS ms FROM jobvisor.job_executions
		      WHERE started_at >= to_timestamp($t0 / 1e9)) s")
	set -- $pct
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) / 1e9}')
	jps=$(awk -v n="$jobs" -v s="$secs" 'BEGIN {printf "%.0f", n / s}')
	[ "$done_n" = "$jobs" ] || echo "bench.sh: only $done_n of $jobs jobs succeeded" >&2
	echo "jobs_per_s=$jps p50_ms=$1 p95_ms=$2 p99_ms=$3 cpu_s_supervisor=$cpu rss_kb_supervisor=$rss cpu_s_workers=$wcpu fds_start=$fd0 fds_end=$fd1 jobs=$jobs seconds=$secs concurrency=$conc processors=$procs users=$users batch=$batch prefetch=$prefetch isolation=$isolation type=$jtype pgbouncer=${bouncer:-none} listen_direct=$listen_direct poll_ms=$poll_ms history_rows=$(q 'SELECT count(*) FROM jobvisor.job_executions') cpu_s_postgres=$pgcpu $walstat blks_dirtied_per_job=$dirtied"
	[ "$stats" = 0 ] || [ "$pgss" = 0 ] || top_statements
}

# --stats: the run's ten most expensive statements (pg_stat_statements).
top_statements()
{
	echo "bench.sh: top statements of the run by total_exec_time:" >&2
	psql -X -q -P pager=off -d "$url" -c "/* jv-bench */ SELECT calls,
		round(total_exec_time::numeric, 1) AS total_ms,
		round((total_exec_time / calls)::numeric, 3) AS mean_ms, rows,
		round(shared_blks_dirtied::numeric / calls, 2) AS dirtied_per_call,
		round(wal_bytes / calls, 0) AS wal_bytes_per_call,
		left(regexp_replace(query, '\s+', ' ', 'g'), 90) AS query
		FROM pg_stat_statements WHERE $pgss_where AND calls > 0
		ORDER BY total_exec_time DESC LIMIT 10" >&2
}

if [ "$purge_rows" -gt 0 ]; then
	# R old finished jobs with one execution each, in the order (and with
	# the ids) they would have had.
	q "WITH j AS (INSERT INTO jobvisor.jobs (type, payload, status, attempts, created_at,
			scheduled_at, started_at, finished_at, updated_at, result)
		SELECT 'noop', ('{\"n\": ' || g || '}')::jsonb, 'succeeded', 1, t, t, t, t + interval '10 ms',
			t + interval '10 ms', '{\"ok\": true}'
		FROM (SELECT g, now() - interval '41 days' + g * interval '1 day' / $purge_rows AS t
		      FROM generate_series(1, $purge_rows) g) s
		RETURNING id, type, started_at, finished_at)
		INSERT INTO jobvisor.job_executions (job_id, attempt, processor, type, started_at,
			finished_at, duration_ms, outcome, output)
		SELECT id, 1, 1, type, started_at, finished_at, 10, 'succeeded', 'done' FROM j" >/dev/null
	q "VACUUM ANALYZE jobvisor.jobs" >/dev/null
	q "VACUUM ANALYZE jobvisor.job_executions" >/dev/null
	echo "history: { retention_days: 0 }" >>"$work/bench.yaml"
	# Pairs of runs, without then with retention, so that a machine whose
	# load changes between runs shows as a spread, not as the purge's cost.
	without=
	with=
	purged=0
	purge_secs=0
	for pair in 1 2 3; do
		sed -i 's/^history: .*/history: { retention_days: 0 }/' "$work/bench.yaml"
		throughput_run
		without="$without $jps"
		sed -i 's/^history: .*/history: { retention_days: 30, check_interval_seconds: 1 }/' "$work/bench.yaml"
		p0=$(q "SELECT jobs_removed FROM jobvisor.history_purge")
		throughput_run
		with="$with $jps"
		p1=$(q "SELECT jobs_removed FROM jobvisor.history_purge")
		echo "pair $pair: without $(echo "$without" | awk '{print $NF}') with $jps jobs/s; $((p1 - p0)) old jobs purged meanwhile" >&2
		purged=$((purged + p1 - p0))
		purge_secs=$(awk -v a="$purge_secs" -v b="$secs" 'BEGIN {printf "%.3f", a + b}')
		[ "$p1" -lt "$purge_rows" ] || break
	done
	# the rest of the purge, alone
	left=$(( purge_rows - $(q "SELECT jobs_removed FROM jobvisor.history_purge") ))
	ta=$(now_ns)
	"$build/jobvisor" serve -c "$work/bench.yaml" 2>>"$work/serve.err" &
	PIDS=$!
	while [ "$(q "SELECT jobs_removed FROM jobvisor.history_purge")" -lt "$purge_rows" ]; do
		sleep 0.5
	done
	alone_s=$(awk -v a="$ta" -v b="$(now_ns)" 'BEGIN {printf "%.1f", (b - a) / 1e9}')
	stop_serve
	median() { echo "$1" | tr ' ' '\n' | grep . | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
	mw=$(median "$without")
	mp=$(median "$with")
	echo "purge_rows=$purge_rows jobs_per_s_without=$(echo $without | tr ' ' ',') jobs_per_s_with=$(echo $with | tr ' ' ',') median_ratio=$(awk -v a="$mp" -v b="$mw" 'BEGIN {printf "%.3f", a / b}') purged_during_runs=$purged purge_rows_per_s_during_runs=$(awk -v n="$purged" -v s="$purge_secs" 'BEGIN {printf "%.0f", n / s}') purge_rows_per_s_alone=$(awk -v n="$left" -v s="$alone_s" 'BEGIN {printf "%.0f", n / s}')"
	grep -i 'retention' "$work/serve.err" | tail -n 3 >&2 || true
	exit 0
fi
throughput_run

[ "$skip_latency" = 1 ] && exit 0

# Pickup latency: jobs inserted one at a time at ~100/s, on an idle
# processor, or (--background-rate R) on one running the throughput settings
# while a background enqueuer inserts R jobs a second beside them. Only the
# probe jobs ({"data": "probe"}) are measured.
q "TRUNCATE jobvisor.jobs, jobvisor.job_executions" >/dev/null
[ "$bg_rate" -gt 0 ] ||
	sed -i "s/batch_size: $batch/batch_size: 20/; s/max_concurrent_jobs: $conc/max_concurrent_jobs: 10/" "$work/bench.yaml"
"$build/jobvisor" serve -c "$work/bench.yaml" 2>>"$work/serve.err" &
PIDS=$!
sleep 1
q "INSERT INTO jobvisor.jobs (type, payload) VALUES ('noop', '{\"data\": \"warmup\"}')" >/dev/null
sleep 1
q "TRUNCATE jobvisor.job_executions" >/dev/null
[ "$pgss" = 0 ] || q "SELECT pg_stat_statements_reset(0, oid, 0) FROM pg_database
	WHERE datname = current_database()" >/dev/null
if [ "$bg_rate" -gt 0 ]; then
	# One session, one short transaction per chunk: as many jobs as the
	# clock says are due (at most 100 ms' worth), COMMIT, 10 ms' rest; it
	# stops when jv_bench_ctl says so, after bg_cap seconds, or after
	# 100 * bg_cap rounds, whichever comes first.
	bg_cap=$(( lat_jobs / 100 * 3 + 30 ))
	q "CREATE TABLE public.jv_bench_ctl (stop boolean NOT NULL); INSERT INTO public.jv_bench_ctl VALUES (false)" >/dev/null
	cat >"$work/background.sql" <<EOF
DO \$\$
DECLARE
	t0 timestamptz := clock_timestamp();
	n bigint := 0;
	k bigint;
BEGIN
	FOR i IN 1 .. 100 * $bg_cap LOOP
		EXIT WHEN clock_timestamp() > t0 + interval '$bg_cap s' OR (SELECT stop FROM public.jv_bench_ctl);
		k := least(floor(extract(epoch FROM clock_timestamp() - t0) * $bg_rate)::bigint - n,
			greatest($bg_rate / 10, 1));
		IF k > 0 THEN
			INSERT INTO jobvisor.jobs (type, payload)
			SELECT 'noop', '{"data": "bg"}' FROM generate_series(1, k);
			n := n + k;
		END IF;
		COMMIT;
		PERFORM pg_sleep(0.01);
	END LOOP;
	RAISE NOTICE 'background: % jobs in % s', n, round(extract(epoch FROM clock_timestamp() - t0)::numeric, 2);
END
\$\$;
EOF
	jv_on_exit stop_bg
	PGAPPNAME=jv-bench-bg psql -X -q -d "$url" -f "$work/background.sql" >"$work/background.log" 2>&1 &
	BGQ=$!
	sleep 1
fi
i=0
while [ $i -lt "$lat_jobs" ]; do
	echo "INSERT INTO jobvisor.jobs (type, payload) VALUES ('noop', '{\"data\": \"probe\"}') RETURNING id, pg_current_xact_id();"
	echo "SELECT pg_sleep(0.01);"
	i=$((i + 1))
done >"$work/latency.sql"
# (psql times each statement: a probe's INSERT with its commit, the part
# of pickup that is the enqueuer's own transaction -- created_at is its
# start, and no processor can see the job before its commit)
{ printf '%s\n' '\timing on'; cat "$work/latency.sql"; } >"$work/latency-timed.sql"
# (each probe's id and transaction id, for its commit timestamp)
psql -X -q -A -t -F ' ' -d "$url" -f "$work/latency-timed.sql" >"$work/latency.out"
awk 'NF == 2 && $1 ~ /^[0-9]+$/ && $2 ~ /^[0-9]+$/ { print $1 "\t" $2 }' "$work/latency.out" >"$work/probe-xids"
ins=$(awk '/^Time: / { if (++n % 2 == 1) print $2 }' "$work/latency.out" | sort -n | awk '
	{ v[NR] = $1 }
	END {
		if (NR == 0) { print "- -"; exit }
		i50 = int(NR * 0.50 + 0.999999); i99 = int(NR * 0.99 + 0.999999)
		printf "%.2f %.2f", v[i50], v[i99]
	}')
set -- $ins
insline=" probe_insert_p50_ms=$1 probe_insert_p99_ms=$2"
# (the enqueueing is over by now: a slow poll, so as not to disturb the
# measurement with psql start-ups; at most 2 minutes)
i=0
while [ "$(q "SELECT count(*) FROM jobvisor.job_executions e JOIN jobvisor.jobs j ON j.id = e.job_id
	WHERE j.payload->>'data' = 'probe'")" -lt "$lat_jobs" ]; do
	i=$((i + 1))
	if [ $i -ge 240 ]; then
		echo "bench.sh: not every probe job started within 2 minutes; the figures are of those that did" >&2
		break
	fi
	sleep 0.5
done
bgline=
if [ "$bg_rate" -gt 0 ]; then
	stop_bg
	set -- $(q "WITH w AS (SELECT min(created_at) AS a, max(created_at) AS b FROM jobvisor.jobs WHERE payload->>'data' = 'bg')
		SELECT count(*), count(*) FILTER (WHERE j.status = 'succeeded' AND j.finished_at <= w.b),
		       extract(epoch FROM w.b - w.a)
		FROM jobvisor.jobs j, w WHERE j.payload->>'data' = 'bg' GROUP BY w.a, w.b" | tr '|' ' ')
	[ $# = 3 ] || set -- 0 0 0
	bgline=$(awk -v n="$1" -v d="$2" -v s="$3" -v r="$bg_rate" 'BEGIN {
		printf "background_rate=%d background_enqueued_per_s=%.0f background_done_per_s=%.0f background_backlog=%d background_s=%.1f",
			r, (s > 0 ? n / s : 0), (s > 0 ? d / s : 0), n - d, s}')
	# enqueue to recorded completion: with prefetch a probe may wait in the
	# supervisor after its claim (started_at), which pickup does not show
	set -- $(q "SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2) || ' ' ||
		round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 2)
		FROM (SELECT extract(epoch FROM finished_at - created_at) * 1000 AS ms
		      FROM jobvisor.jobs WHERE payload->>'data' = 'probe' AND finished_at IS NOT NULL) s")
	bgline=" $bgline probe_recorded_p50_ms=${1:-} probe_recorded_p99_ms=${2:-} concurrency=$conc batch=$batch prefetch=$prefetch"
	sed 's/^psql:[^ ]* *NOTICE: */bench.sh: /' "$work/background.log" >&2
fi
lat=$(q "SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2) || ' ' ||
	round(percentile_cont(0.95) WITHIN GROUP (ORDER BY ms)::numeric, 2) || ' ' ||
	round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 2)
	FROM (SELECT extract(epoch FROM e.started_at - j.created_at) * 1000 AS ms
	      FROM jobvisor.job_executions e JOIN jobvisor.jobs j ON j.id = e.job_id
	      WHERE j.payload->>'data' = 'probe') s")
set -- $lat
# pickup from the probe's commit: the processor's own part (commit
# timestamps are kept only with track_commit_timestamp on)
cmline=" pickup_from_commit_p50_ms=- pickup_from_commit_p95_ms=- pickup_from_commit_p99_ms=-"
if [ "$(q "SHOW track_commit_timestamp")" = on ]; then
	q "CREATE TABLE public.jv_bench_probe (job_id bigint PRIMARY KEY, xid xid8 NOT NULL)" >/dev/null
	psql -X -q -v ON_ERROR_STOP=1 -d "$url" -c "\\copy public.jv_bench_probe FROM '$work/probe-xids'" >/dev/null
	cm=$(q "SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2) || ' ' ||
		round(percentile_cont(0.95) WITHIN GROUP (ORDER BY ms)::numeric, 2) || ' ' ||
		round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 2)
		FROM (SELECT extract(epoch FROM e.started_at - pg_xact_commit_timestamp(
		                       (p.xid::text::bigint % 4294967296)::text::xid)) * 1000 AS ms
		      FROM public.jv_bench_probe p JOIN jobvisor.job_executions e ON e.job_id = p.job_id) s")
	cmline=$(printf ' pickup_from_commit_p50_ms=%s pickup_from_commit_p95_ms=%s pickup_from_commit_p99_ms=%s' $cm)
fi
# claim() calls per job claimed in this run (pg_stat_statements)
cqline=
[ "$pgss" = 0 ] || cqline=$(q "SELECT ' claim_queries_per_job=' || round(
		(SELECT coalesce(sum(calls), 0) FROM pg_stat_statements
		 WHERE $pgss_where AND query LIKE '%FROM jobvisor.claim(%')
		/ greatest((SELECT count(*) FROM jobvisor.jobs WHERE started_at IS NOT NULL), 1), 2)")
echo "pickup_p50_ms=$1 pickup_p95_ms=$2 pickup_p99_ms=$3$insline$cmline$cqline$bgline jobs=$lat_jobs rate_per_s=100 pgbouncer=${bouncer:-none} listen_direct=$listen_direct poll_ms=$poll_ms"
