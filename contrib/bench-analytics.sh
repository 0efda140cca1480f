#!/bin/sh
# bench-analytics.sh -- the cost of GET /api/cron/metrics and /api/cron/insights
# on a large history.
#
#   ./contrib/bench-analytics.sh [--rows N] [--build DIR] [--runs R]
#
# Defaults: 10 000 000 history rows, 3 runs of each request. Starts a private
# PostgreSQL (tests/pg.sh), migrates a fresh database, fills
# jobvisor.job_executions in SQL (generate_series) with N attempts over the
# last 30 days in time order: 8 types of skewed popularity, 1 000 users (20%
# of attempts without one), ~85% succeeded, the rest failed, timed out,
# crashed, rescued or cancelled, log-uniform durations up to ~22 s, and
# errors from 5 templates carrying numbers, hashes, UUIDs and quoted values.
# Then runs `jobvisor serve` with the API on and times each request with
# curl, for windows of 24 h, 7 days and 90 days, with and without filters,
# in three set-ups:
#
#   brin      the schema as migrated (BRIN on started_at, summarised)
#   nobrin    the BRIN index dropped: what it buys
#   btree     BRIN plus btrees on (type, started_at) and (user_id, started_at)
#
# One line per request: setup=.. route=.. window=.. query=.. sampled=.. min_ms=.. max_ms=..
# Everything it starts it stops, by PID.
set -eu

rows=10000000
build=
runs=3
while [ $# -gt 0 ]; do
	case $1 in
	--rows) rows=$2; shift 2 ;;
	--build) build=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	-h | --help) sed -n '2,24p' "$0"; exit 0 ;;
	*) echo "bench-analytics.sh: unknown option $1 (see --help)" >&2; exit 1 ;;
	esac
done

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. "$top/contrib/bench-lib.sh"
bench_build bench-analytics.sh "$build"
command -v curl >/dev/null 2>&1 || { echo "bench-analytics.sh: curl not found" >&2; exit 1; }

work=$(mktemp -d /tmp/jv-bench-analytics.XXXXXX)
SERVE=
stop_serve()
{
	[ -n "$SERVE" ] || return 0
	kill -TERM "$SERVE" 2>/dev/null || true
	wait "$SERVE" 2>/dev/null || true
	SERVE=
}
. "$top/tests/pg.sh"
jv_on_exit "rm -rf '$work'"
JV_PG_CONF_EXTRA="
shared_buffers = 1GB
effective_cache_size = 8GB
work_mem = 32MB
maintenance_work_mem = 512MB
max_wal_size = 8GB
random_page_cost = 1.1
jit = off"
export JV_PG_CONF_EXTRA
jv_pg_start >/dev/null
jv_on_exit stop_serve
admin=$JV_TEST_DATABASE_URL
dbname=jv_bench_analytics_$$
psql -X -q -d "$admin" -c "CREATE DATABASE $dbname" >/dev/null
url=$(printf '%s\n' "$admin" | sed -E 's#^(postgres(ql)?://[^/?]*)(/[^?]*)?#\1/'"$dbname"'#')
q() { psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$url" -c "$1"; }

mkdir -m 0755 "$work/plugins"
cp "$build/plugins/executors/noop/.libs/noop.so" "$work/plugins/"
chmod 0644 "$work/plugins/noop.so"
token=bench-analytics-token
cat >"$work/bench.yaml" <<YAML
database: { url: "$url" }
processor: { max_concurrent_jobs: 2 }
plugins: { dir: "$work/plugins" }
executors:
  noop: { plugin: noop }
log: { level: info }
api:
  listen: "127.0.0.1:0"
  token: "$token"
YAML
# serve refuses root without a say: as root (CI), allow it for this run.
[ "$(id -u)" != 0 ] || echo "allow_root: true" >>"$work/bench.yaml"
chmod 0600 "$work/bench.yaml"
"$build/jobvisor" migrate -c "$work/bench.yaml" >/dev/null

echo "filling $rows history rows ..." >&2
t0=$(date +%s)
chunk=1000000
from=1
while [ "$from" -le "$rows" ]; do
	to=$((from + chunk - 1))
	[ "$to" -le "$rows" ] || to=$rows
	q "SELECT setseed(0.$from % 1);
	INSERT INTO jobvisor.job_executions
		(job_id, attempt, processor, type, user_id, started_at, finished_at, duration_ms, outcome, error)
	SELECT g, CASE WHEN r.a < 0.8 THEN 1 WHEN r.a < 0.95 THEN 2 ELSE 3 END, 1 + g % 4,
		(ARRAY['email', 'http', 'report', 'shell', 'sql', 'thumbnail', 'webhook', 'export'])
			[1 + floor(power(r.t, 2) * 8)::int],
		CASE WHEN r.u < 0.2 THEN NULL ELSE 'user' || floor(power(r.u, 3) * 1000)::int END,
		s.at, s.at + r.d * interval '1 ms', r.d,
		CASE WHEN r.o < 0.85 THEN 'succeeded' WHEN r.o < 0.93 THEN 'failed'
		     WHEN r.o < 0.96 THEN 'timed_out' WHEN r.o < 0.975 THEN 'crashed'
		     WHEN r.o < 0.985 THEN 'rescued' ELSE 'cancelled' END,
		CASE WHEN r.o < 0.85 THEN NULL
		     WHEN r.o >= 0.975 AND r.o < 0.985 THEN 'rescued: processor ' || (1 + g % 4) || ' stopped heartbeating'
		     ELSE CASE floor(r.e * 5)::int
			WHEN 0 THEN format('HTTP %s from upstream %s', 500 + g % 4, md5(g::text))
			WHEN 1 THEN format('timeout after %s ms on job %s', g % 30000, gen_random_uuid())
			WHEN 2 THEN format('relation \"tmp_%s\" does not exist', g % 1000)
			WHEN 3 THEN format('connection to ''db%s.internal:5432'' refused', g % 7)
			ELSE format('exit status %s', 1 + g % 3) END END
	FROM generate_series($from, $to) g
	CROSS JOIN LATERAL (SELECT random() AS a, random() AS t, random() AS u, random() AS o,
		random() AS e, floor(exp(random() * 10))::bigint AS d
		WHERE g IS NOT NULL) r  -- (refers to g: a fresh draw per row, not one per statement)
	CROSS JOIN LATERAL (SELECT now() - interval '30 days'
		+ (g::float8 / $rows) * interval '30 days' AS at) s" >/dev/null
	from=$((to + 1))
done
q "VACUUM ANALYZE jobvisor.job_executions" >/dev/null
echo "filled in $(( $(date +%s) - t0 )) s; table $(q "SELECT pg_size_pretty(pg_total_relation_size('jobvisor.job_executions'))")" >&2

start_serve()
{
	stop_serve
	"$build/jobvisor" serve -c "$work/bench.yaml" 2>"$work/serve.err" &
	SERVE=$!
	i=0
	while ! grep -q 'api: listening on' "$work/serve.err" 2>/dev/null; do
		i=$((i + 1))
		[ "$i" -lt 100 ] || { cat "$work/serve.err" >&2; exit 1; }
		sleep 0.1
	done
	port=$(sed -n 's/.*api: listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$work/serve.err" | head -n 1)
}

d() { q "SELECT to_char((now() - interval '$1') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"; }
measure()
{
	setup=$1
	for win in "24 hours" "7 days" "89 days 23 hours"; do
		s=$(d "$win")
		for route in metrics insights; do
			for extra in "" "&type=shell" "&user=user500" "&outcome=failed"; do
				[ "$route" = metrics ] || [ -z "$extra" ] || continue
				min=
				max=
				i=0
				while [ "$i" -lt "$runs" ]; do
					code=$(curl -s -o "$work/body" -w '%{http_code} %{time_total}' \
						-H "Authorization: Bearer $token" \
						"http://127.0.0.1:$port/api/cron/$route?startDate=$s$extra") ||
						{ echo "$route $win$extra: curl failed; serve said:" >&2; tail -n 5 "$work/serve.err" >&2; exit 1; }
					[ "${code%% *}" = 200 ] || { echo "$route $win$extra: $code $(cat "$work/body")" >&2; exit 1; }
					ms=$(echo "${code#* }" | awk '{printf "%d", $1 * 1000}')
					[ -n "$min" ] && [ "$min" -le "$ms" ] || min=$ms
					[ -n "$max" ] && [ "$max" -ge "$ms" ] || max=$ms
					i=$((i + 1))
				done
				sampled=$(grep -o '"sampled": *[a-z]*' "$work/body" | sed 's/.*: *//')
				echo "setup=$setup route=$route window=$(echo "$win" | tr ' ' '_') query=${extra#&} sampled=$sampled min_ms=$min max_ms=$max"
			done
		done
	done
}

start_serve
measure brin
q "DROP INDEX jobvisor.job_executions_started_idx" >/dev/null
start_serve
measure nobrin
q "CREATE INDEX job_executions_started_idx ON jobvisor.job_executions USING brin (started_at) WITH (autosummarize = on);
   CREATE INDEX bench_type_started_idx ON jobvisor.job_executions (type, started_at);
   CREATE INDEX bench_user_started_idx ON jobvisor.job_executions (user_id, started_at);
   ANALYZE jobvisor.job_executions" >/dev/null
start_serve
measure btree
stop_serve
