#!/bin/sh
# quickstart.sh -- see jobvisor work on a fresh Debian machine.
#
# Installs what is missing (apt-get), builds, starts a private PostgreSQL in
# a temp dir (no system service is touched), migrates, enqueues demo jobs and
# runs `jobvisor serve` in the foreground with a demo config. Ctrl-C stops
# everything it started.
#
#   ./contrib/quickstart.sh           run until Ctrl-C
#   ./contrib/quickstart.sh --once    stop by itself once the demo jobs are done
#                                     (check.sh runs it this way)
#
# JV_BUILD_DIR reuses an existing build directory instead of build/quickstart.
set -eu

once=0
case ${1:-} in
--once) once=1 ;;
-h | --help) sed -n '2,14p' "$0"; exit 0 ;;
'') ;;
*) echo "quickstart.sh: unknown option $1 (see --help)" >&2; exit 1 ;;
esac

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
say() { printf '\n==> %s\n' "$*"; }

say "installing missing Debian packages (if any)"
sh contrib/deps.sh

build=${JV_BUILD_DIR:-$top/build/quickstart}
if [ ! -x "$build/jobvisor" ]; then
	say "building into $build"
	[ -f configure ] || autoreconf -fi >/dev/null 2>&1
	mkdir -p "$build"
	(cd "$build" && "$top/configure" >/dev/null 2>&1 && make -j"$(nproc)" >/dev/null)
fi
JOBVISOR=$build/jobvisor

work=$(mktemp -d /tmp/jobvisor-quickstart.XXXXXX)
chmod 0755 "$work"
SERVE=
. "$top/tests/pg.sh"
cleanup()
{
	# serve first, and only once it has exited (marked its processor row
	# stopped) PostgreSQL; the exit is polled, bounded (the grace period
	# is 30 s), so a serve that does not stop cannot hang the cleanup.
	if [ -n "$SERVE" ] && kill -0 "$SERVE" 2>/dev/null; then
		kill -TERM "$SERVE" 2>/dev/null
		n=0
		while kill -0 "$SERVE" 2>/dev/null && [ $n -lt 400 ]; do
			n=$((n + 1))
			sleep 0.1
		done
		if kill -0 "$SERVE" 2>/dev/null; then
			echo "quickstart: serve still running after 40 s: killing it" >&2
			kill -KILL "$SERVE" 2>/dev/null
		fi
		wait "$SERVE" 2>/dev/null || true
	fi
	jv_run_exit_cmds
	rm -rf "$work"
	echo "quickstart: stopped everything it started"
}
traps()
{
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
}
traps

say "starting a private PostgreSQL"
jv_pg_start
# jv_pg_start set pg.sh's traps, which stop PostgreSQL at once on Ctrl-C
# and skip cleanup: serve must stop first, so ours again.
traps
psql -X -q -d "$JV_TEST_DATABASE_URL" -c "CREATE DATABASE jobvisor_demo"
DATABASE_URL=$(printf '%s\n' "$JV_TEST_DATABASE_URL" | sed 's#/postgres$#/jobvisor_demo#')
export DATABASE_URL
echo "PostgreSQL: $DATABASE_URL (data in $JV_PG_DIR)"

mkdir -m 0755 "$work/plugins"
for so in "$build"/plugins/*/*/.libs/*.so; do
	cp "$so" "$work/plugins/"
	chmod 0644 "$work/plugins/$(basename "$so")"
done
# The API and dashboard on a free loopback port, with a fresh token.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
JOBVISOR_API_TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
export JOBVISOR_API_TOKEN
cat >"$work/demo.yaml" <<EOF
# The quickstart's demo config: see conf/jobvisor.yaml for every key.
database: { url: "\${DATABASE_URL}" }
processor:
  name: demo
  batch_size: 20
  max_concurrent_jobs: 4
  per_user_limit: 2
  timeout_seconds: 5
  heartbeat_interval_ms: 2000
  retry_base_ms: 200
plugins: { dir: "$work/plugins" }
executors:
  noop: { plugin: noop }
api:
  listen: "127.0.0.1:$port"
  token: "\${JOBVISOR_API_TOKEN}"
schedules:
  - { name: demo-every-10s, cron: "@every 10s", type: noop, payload: { sleep_ms: 50 } }
EOF
# serve refuses root without a say: as root (CI), allow it for this run.
[ "$(id -u)" != 0 ] || echo "allow_root: true" >>"$work/demo.yaml"
chmod 0600 "$work/demo.yaml"
export JOBVISOR_CONFIG=$work/demo.yaml

say "jobvisor check-config"
"$JOBVISOR" check-config
say "jobvisor migrate"
"$JOBVISOR" migrate

say "enqueueing demo jobs"
for u in alice bob carol; do
	for i in 1 2 3 4; do
		"$JOBVISOR" enqueue --type noop --user "$u" --payload "{\"sleep_ms\": $((i * 150))}" >/dev/null
	done
done
"$JOBVISOR" enqueue --type noop --payload '{"outcome": "retryable", "error": "demo: a flaky dependency"}' --max-attempts 3 >/dev/null
"$JOBVISOR" enqueue --type noop --payload '{"outcome": "crash"}' --max-attempts 2 >/dev/null
"$JOBVISOR" enqueue --type noop --payload '{"outcome": "hang"}' --max-attempts 1 --timeout 1 >/dev/null
psql -X -q -d "$DATABASE_URL" -c "INSERT INTO jobvisor.jobs (type, payload) VALUES ('noop', '{\"output\": \"enqueued with plain SQL\"}')"
echo "15 jobs of three users, one flaky, one crashing, one hanging past its timeout, one from SQL"

say "jobvisor serve (Ctrl-C stops it and everything quickstart started)"
echo "dashboard: http://127.0.0.1:$port/  (API token: $JOBVISOR_API_TOKEN)"
echo "REST API:  curl -H 'Authorization: Bearer $JOBVISOR_API_TOKEN' http://127.0.0.1:$port/api/cron/status"
"$JOBVISOR" serve &
SERVE=$!
i=0
while [ "$(psql -X -A -t -d "$DATABASE_URL" -c "SELECT count(*) FROM jobvisor.jobs WHERE status IN ('pending', 'running')")" != 0 ]; do
	i=$((i + 1))
	if [ $i -gt 600 ]; then
		echo "quickstart: demo jobs not done after 60 s" >&2
		exit 1
	fi
	kill -0 "$SERVE" 2>/dev/null || { echo "quickstart: serve exited" >&2; exit 1; }
	sleep 0.1
done
say "jobvisor status"
"$JOBVISOR" status
psql -X -q -d "$DATABASE_URL" -c "SELECT job_id, attempt, outcome, duration_ms, left(coalesce(error, ''), 60) AS error
	FROM jobvisor.job_executions ORDER BY id DESC LIMIT 8"
if [ $once = 1 ]; then
	# Stop through the cleanup Ctrl-C runs (the EXIT trap), so check.sh
	# sees that path end without an error line from serve. Not by sending
	# ourselves SIGINT: a shell started in the background with SIGINT
	# ignored (nohup ... &) cannot trap it, and would wait here for good.
	echo "quickstart: demo done"
	exit 0
fi
echo "serve keeps running: enqueue more with"
echo "  JOBVISOR_CONFIG=$work/demo.yaml $JOBVISOR enqueue --type noop --payload '{\"sleep_ms\": 100}'"
wait "$SERVE"
