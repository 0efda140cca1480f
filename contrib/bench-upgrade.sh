#!/bin/sh
# bench-upgrade.sh -- an upgrade in place on a populated database, under
# load: how long `jobvisor migrate` takes from the previous release's schema
# to the newest, and how long claiming stops meanwhile.
#
#   ./contrib/bench-upgrade.sh [--jobs N] [--processors P] [--rate R]
#                              [--window S] [--build DIR]
#
# Defaults: 1 000 000 finished jobs (issue 17 asks for 10 000 000), 3
# processors, 2 000 new jobs a second, 5 s of load before and after.
#
# Starts a private PostgreSQL (tests/pg.sh) with bench.sh's durable settings,
# makes the previous release's schema (`jobvisor migrate --to 13`), fills it
# in SQL with N finished jobs of the last 30 days and one execution each
# (4 types, a third with a user, 2% failed, 1% cancelled), vacuums and
# analyses it, then starts the load: P processors of the previous release,
# driven through SQL as tests/it_upgrade.sh drives them
# (tests/old_processor.sql: claim up to 20, complete them, heartbeat), and a
# session enqueuing R noop jobs a second in batches every 50 ms. After S
# seconds it runs `jobvisor migrate` (to the newest schema), lets the load
# run S seconds more on the new schema, stops it, checks that every job the
# processors claimed has exactly one succeeded execution, and prints:
#
#   upgrade_jobs=N migrate_s=.. longest_claim_gap_ms=.. claims_during_migrate=..
#   longest_claim_ms=.. jobs_claimed_during_migrate=.. gap_before_ms=..
#
# longest_claim_gap_ms: the longest time between consecutive claims (of any
# processor) from the last claim before migrate to the first after it;
# longest_claim_ms: the longest single claim call in that window;
# gap_before_ms: the longest gap in the S seconds before migrate, for
# comparison (what the machine's noise alone gives). On stderr: migrate's
# phases as sampled every 20 ms (pg_stat_activity), in order, each with the
# claims that returned in it, how many processors waited at once on a table
# lock (not the claims' own advisory lock) and on I/O, and what migrate
# waited on.
#
# --build DIR takes jobvisor from an existing build folder instead of
# build/bench (configured -O2 and built when missing or stale).
# Everything it starts it stops, by PID.
set -eu

jobs=1000000
procs=3
rate=2000
window=5
use_build=
while [ $# -gt 0 ]; do
	case $1 in
	--jobs) jobs=$2; shift 2 ;;
	--processors) procs=$2; shift 2 ;;
	--rate) rate=$2; shift 2 ;;
	--window) window=$2; shift 2 ;;
	--build) use_build=$2; shift 2 ;;
	-h | --help) sed -n '2,39p' "$0"; exit 0 ;;
	*) echo "bench-upgrade.sh: unknown option $1 (see --help)" >&2; exit 1 ;;
	esac
done
for v in "$jobs" "$procs" "$rate" "$window"; do
	case $v in '' | *[!0-9]*) echo "bench-upgrade.sh: options take whole numbers" >&2; exit 1 ;; esac
done
if [ "$jobs" -lt 1 ] || [ "$procs" -lt 1 ] || [ "$rate" -lt 20 ]; then
	echo "bench-upgrade.sh: --jobs and --processors at least 1, --rate at least 20" >&2
	exit 1
fi

# The previous release's schema, which tests/old_processor.sql speaks.
prev=13

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. "$top/contrib/bench-lib.sh"
bench_build bench-upgrade.sh "$use_build"
jobvisor=$build/jobvisor
driver=$top/tests/old_processor.sql

work=$(mktemp -d /tmp/jv-bench-upgrade.XXXXXX)
PIDS=""
stop_load()
{
	for p in $PIDS; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in $PIDS; do
		wait "$p" 2>/dev/null || true
	done
	PIDS=""
}
. "$top/tests/pg.sh"
jv_on_exit "rm -rf '$work'"

JV_PG_CONF_EXTRA=$BENCH_PG_SETTINGS
export JV_PG_CONF_EXTRA
jv_pg_start >/dev/null
# (registered after the cluster's handler: runs before it)
jv_on_exit stop_load
admin=$JV_TEST_DATABASE_URL
dbname=jv_bench_upgrade_$$
psql -X -q -d "$admin" -c "CREATE DATABASE $dbname" >/dev/null
url=$(printf '%s\n' "$admin" | sed -E 's#^(postgres(ql)?://[^/?]*)(/[^?]*)?#\1/'"$dbname"'#')
q() { psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$url" -c "$1"; }
now_s() { date +%s.%N; }
secs() { echo "$1 $2" | awk '{ printf "%.1f", $2 - $1 }'; }
say() { echo "bench-upgrade: $*" >&2; }

cat >"$work/upgrade.yaml" <<EOF
database:
  url: "$url"
EOF
chmod 0600 "$work/upgrade.yaml"

"$jobvisor" migrate -c "$work/upgrade.yaml" --to "$prev" >/dev/null
say "schema $prev; writing $jobs finished jobs and their history"
t=$(now_s)
# In chunks of a million: one transaction each.
done_n=0
while [ "$done_n" -lt "$jobs" ]; do
	n=$(( jobs - done_n < 1000000 ? jobs - done_n : 1000000 ))
	q "INSERT INTO jobvisor.jobs (type, user_id, status, attempts, created_at, scheduled_at,
			started_at, updated_at, finished_at, last_error)
		SELECT (ARRAY['noop', 'report', 'mail', 'sync'])[1 + g % 4],
		       CASE WHEN g % 3 = 0 THEN 'user' || g % 1000 END,
		       CASE WHEN g % 50 = 0 THEN 'failed' WHEN g % 97 = 0 THEN 'cancelled'
		            ELSE 'succeeded' END,
		       1, ts, ts, ts, ts + interval '2 s', ts + interval '2 s',
		       CASE WHEN g % 50 = 0 THEN 'exit status 1' END
		FROM generate_series($done_n + 1, $done_n + $n) g,
		     LATERAL (SELECT now() - interval '30 days' + g * (interval '29 days' / $jobs)) AS x(ts)" >/dev/null
	done_n=$((done_n + n))
done
q "INSERT INTO jobvisor.job_executions (job_id, attempt, type, user_id, started_at, finished_at,
		duration_ms, outcome, error)
	SELECT id, 1, type, user_id, started_at, finished_at, 2000, status, last_error
	FROM jobvisor.jobs ORDER BY id" >/dev/null
say "written in $(secs "$t" "$(now_s)") s; vacuum and analyse"
t=$(now_s)
q "VACUUM (ANALYZE) jobvisor.jobs" >/dev/null
q "VACUUM (ANALYZE) jobvisor.job_executions" >/dev/null
say "vacuumed in $(secs "$t" "$(now_s)") s; $(q "SELECT pg_size_pretty(pg_total_relation_size('jobvisor.jobs'))
	|| ' jobs, ' || pg_size_pretty(pg_total_relation_size('jobvisor.job_executions')) || ' history'")"
h=$(q "SELECT max(id) FROM jobvisor.jobs")

# The load: P processors of the previous release, and a feeder.
psql -X -q -v setup=true -d "$url" -f "$driver" >/dev/null
# (each bounded: a million rounds or an hour)
i=0
while [ "$i" -lt "$procs" ]; do
	i=$((i + 1))
	psql -X -q -v setup=false -v name="old-$i" -v rounds=1000000 -v seconds=3600 \
		-d "$url" -f "$driver" >"$work/old-$i.out" 2>&1 &
	PIDS="$PIDS $!"
done
psql -X -q -v ON_ERROR_STOP=1 -d "$url" >"$work/feeder.out" 2>&1 <<EOF &
SET application_name = 'bench-upgrade feeder';
DO \$\$
DECLARE
	v_until timestamptz := clock_timestamp() + interval '1 hour';
BEGIN
	WHILE clock_timestamp() < v_until AND NOT (SELECT c.stop FROM jv_load.control c) LOOP
		INSERT INTO jobvisor.jobs (type) SELECT 'noop' FROM generate_series(1, $rate / 20);
		COMMIT;
		PERFORM pg_sleep(0.05);
	END LOOP;
END
\$\$;
EOF
PIDS="$PIDS $!"
# What migrate and the processors are doing, every 20 ms.
psql -X -q -v ON_ERROR_STOP=1 -d "$url" >"$work/sampler.out" 2>&1 <<EOF &
SET application_name = 'bench-upgrade sampler';
CREATE TABLE jv_load.samples (at timestamptz, phase text, migrate_wait text,
	old_on_lock integer, old_on_io integer);
DO \$\$
DECLARE
	v_until timestamptz := clock_timestamp() + interval '1 hour';
BEGIN
	WHILE clock_timestamp() < v_until AND NOT (SELECT c.stop FROM jv_load.control c) LOOP
		INSERT INTO jv_load.samples
		SELECT clock_timestamp(),
		       (SELECT CASE WHEN a.state <> 'active' THEN a.state
		                    WHEN a.query ~ '^\s*CREATE INDEX CONCURRENTLY'
		                    THEN 'build ' || substring(a.query FROM 'IF NOT EXISTS (\w+)')
		                    WHEN a.query ~ '^\s*DROP INDEX CONCURRENTLY' THEN 'drop invalid'
		                    WHEN a.query ~ '^\s*--' THEN 'transaction'
		                    ELSE left(a.query, 30) END
		        FROM pg_stat_activity a
		        WHERE a.datname = current_database() AND a.application_name = 'jobvisor migrate'
		        LIMIT 1),
		       (SELECT a.wait_event_type || ':' || a.wait_event FROM pg_stat_activity a
		        WHERE a.datname = current_database() AND a.application_name = 'jobvisor migrate'
		        LIMIT 1),
		       (SELECT count(*) FROM pg_stat_activity a
		        WHERE a.datname = current_database() AND a.application_name LIKE 'jobvisor 13%'
		          AND a.wait_event_type = 'Lock' AND a.wait_event <> 'advisory'),
		       (SELECT count(*) FROM pg_stat_activity a
		        WHERE a.datname = current_database() AND a.application_name LIKE 'jobvisor 13%'
		          AND (a.wait_event_type = 'IO' OR a.wait_event LIKE 'WAL%'));
		COMMIT;
		PERFORM pg_sleep(0.02);
	END LOOP;
END
\$\$;
EOF
PIDS="$PIDS $!"
i=0
until [ "$(q "SELECT count(*) > 0 FROM jv_load.claims WHERE n > 0")" = t ]; do
	i=$((i + 1))
	[ "$i" -lt 300 ] || { say "the load did not start in 30 s"; cat "$work"/*.out >&2; exit 1; }
	sleep 0.1
done
say "load running ($procs processors of schema $prev, $rate jobs/s); $window s before migrate"
sleep "$window"

t0=$(q "SELECT clock_timestamp()")
t=$(now_s)
if ! "$jobvisor" migrate -c "$work/upgrade.yaml" >"$work/migrate.out" 2>"$work/migrate.err"; then
	say "migrate failed:"
	cat "$work/migrate.out" "$work/migrate.err" >&2
	exit 1
fi
migrate_s=$(secs "$t" "$(now_s)")
t1=$(q "SELECT clock_timestamp()")
sed 's/^/bench-upgrade: migrate: /' "$work/migrate.out" "$work/migrate.err" >&2
say "migrated in $migrate_s s; $window s more on the new schema"
sleep "$window"

q "UPDATE jv_load.control SET stop = true" >/dev/null
for p in $PIDS; do
	i=0
	while kill -0 "$p" 2>/dev/null; do
		i=$((i + 1))
		[ "$i" -lt 300 ] || { say "a load session (psql $p) did not stop in 30 s"; exit 1; }
		sleep 0.1
	done
	wait "$p" || { say "a load session (psql $p) failed:"; cat "$work"/*.out >&2; exit 1; }
done
PIDS=""

# Every job claimed: exactly one succeeded execution, at its first attempt.
bad=$(q "SELECT count(*) FROM jobvisor.jobs j WHERE j.id > $h AND j.status <> 'pending'
	AND (j.status <> 'succeeded' OR j.attempts <> 1
	     OR (SELECT count(*) FROM jobvisor.job_executions e
	         WHERE e.job_id = j.id AND e.outcome = 'succeeded' AND NOT e.stale) <> 1
	     OR (SELECT count(*) FROM jobvisor.job_executions e WHERE e.job_id = j.id) <> 1)")
ran=$(q "SELECT count(*) FROM jobvisor.jobs WHERE id > $h AND status <> 'pending'")
[ "$bad" = 0 ] || { say "$bad of the $ran jobs run do not have exactly one succeeded execution"; exit 1; }
say "$ran jobs run under load, each exactly once"

gap()
{
	q "WITH w AS (
		SELECT returned FROM jv_load.claims
		WHERE returned BETWEEN '$1' AND '$2'
		   OR returned = (SELECT max(returned) FROM jv_load.claims WHERE returned < '$1')
		   OR returned = (SELECT min(returned) FROM jv_load.claims WHERE returned > '$2'))
	SELECT coalesce(round(extract(epoch FROM max(d)) * 1000), 0)
	FROM (SELECT returned - lag(returned) OVER (ORDER BY returned) AS d FROM w) g"
}
gap_during=$(gap "$t0" "$t1")
gap_before=$(gap "$(q "SELECT timestamptz '$t0' - make_interval(secs => $window)")" "$t0")
stats=$(q "SELECT coalesce(round(extract(epoch FROM max(returned - sent)) * 1000), 0), count(*),
	coalesce(sum(n), 0) FROM jv_load.claims WHERE returned > '$t0' AND sent < '$t1'")
IFS='|' read -r longest n_claims n_jobs <<EOF
$stats
EOF
# Where the time went: migrate's phases as sampled, and the claims in each.
q "WITH s AS (
		SELECT *, count(*) FILTER (WHERE chg) OVER (ORDER BY at) AS run
		FROM (SELECT *, phase IS DISTINCT FROM lag(phase) OVER (ORDER BY at) AS chg
		      FROM jv_load.samples WHERE at BETWEEN '$t0' AND '$t1') x),
	p AS (
		SELECT run, min(phase) AS phase, min(at) AS a,
		       coalesce(lead(min(at)) OVER (ORDER BY run), max(at)) AS b,
		       max(old_on_lock) AS on_lock, max(old_on_io) AS on_io,
		       string_agg(DISTINCT migrate_wait, ',') AS waits
		FROM s GROUP BY run)
	SELECT format('%s ms %s: claims %s, longest claim %s ms, processors waiting on a table lock %s, on I/O %s, migrate waited on %s',
	              round(extract(epoch FROM p.b - p.a) * 1000), coalesce(p.phase, '(none)'),
	              count(c.*), coalesce(round(extract(epoch FROM max(c.returned - c.sent)) * 1000), 0),
	              p.on_lock, p.on_io, coalesce(p.waits, 'nothing'))
	FROM p LEFT JOIN jv_load.claims c ON c.returned >= p.a AND c.returned < p.b
	GROUP BY p.run, p.phase, p.a, p.b, p.on_lock, p.on_io, p.waits ORDER BY p.run" |
	sed 's/^/bench-upgrade: /' >&2
echo "upgrade_jobs=$jobs migrate_s=$migrate_s longest_claim_gap_ms=$gap_during claims_during_migrate=$n_claims"
echo "longest_claim_ms=$longest jobs_claimed_during_migrate=$n_jobs gap_before_ms=$gap_before"
