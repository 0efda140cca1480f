#!/bin/sh
# it_api_indexes.sh -- over 40 000 finished jobs and 300 live ones, GET
# /api/jobs (each filter, alone and together, paged by `after` across the
# live and finished jobs of a type or a user) answers exactly the table's
# jobs, newest first; and neither it nor the counts by status and the
# oldest finished job (/metrics, /api/cron/status, /api/cron/queue) read
# jobs sequentially or pass more than 1 000 of its rows that they do not
# answer: each goes through an index over the jobs it can match
# (sql/014_throughput.sql). The plans are those PostgreSQL ran for the
# API's own statements: auto_explain (contrib) reports each one as a
# notice, which `jobvisor serve` logs at debug level. `jobvisor status`
# counts the same as the table. The search of issue 19 likewise: waiting
# jobs, a workflow's steps, one id, a time range (by ids); q (error text)
# examines at most 10 000 jobs.
. "${top_srcdir:-.}/tests/lib.sh"

command -v curl >/dev/null 2>&1 || skip_all "curl not found"
command -v jq >/dev/null 2>&1 || skip_all "jq not found"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

TOKEN="tok-$$-idx"
jv_db
# (a database that preloads a library it cannot find refuses every
# connection: look first)
psql -X -q -d "$JV_DB_URL" -c "LOAD 'auto_explain'" >/dev/null 2>&1 ||
	skip_all "auto_explain (PostgreSQL contrib) cannot be loaded: the plans cannot be seen"
jv_write_config "$JV_CONF" "$(cat <<YAML
api:
  listen: "127.0.0.1:0"
  token: "$TOKEN"
log:
  level: debug
history:
  retention_days: 0
YAML
)"
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

# q SQL: jv_psql without the plans as notices
q() { PGOPTIONS='-c client_min_messages=warning' psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$JV_DB_URL" -c "$1"; }

# The history: ids 1..40 000 finished (5 % failed, 1 % cancelled; type
# rare and user solo now and then; the oldest 3 000 all failed, as when
# failed jobs are kept longer than the others) with a few delayed pending
# jobs among them, then 300 live ones (pending, scheduled tomorrow;
# running, held by a processor that is alive elsewhere), then 100 finished
# again; rare and solo are frequent among the last 400. Committed durably,
# so that VACUUM can mark the pages all-visible (index-only scans).
q "SET synchronous_commit = on;
INSERT INTO jobvisor.processors (name, hostname, pid, version, heartbeat_at)
	VALUES ('elsewhere', 'h', 1, 'x', now() + interval '1 day');
INSERT INTO jobvisor.jobs (type, user_id, status, attempts, locked_by, started_at, finished_at,
                           scheduled_at, created_at, last_error)
SELECT s.type, s.user_id, s.status, CASE WHEN s.status = 'pending' THEN 0 ELSE 1 END,
       CASE WHEN s.status = 'running' THEN (SELECT max(id) FROM jobvisor.processors) END,
       CASE WHEN s.status <> 'pending' THEN now() END,
       CASE WHEN s.status NOT IN ('pending', 'running') THEN now() END,
       CASE WHEN s.status = 'pending' THEN now() + interval '1 day' ELSE now() END,
       timestamptz '2026-01-01 00:00Z' + s.g * interval '1 minute',
       CASE WHEN s.status = 'failed' THEN 'error ' || s.g % 1000 END
FROM (SELECT g,
             CASE WHEN g % 1999 = 0 OR (g > 40000 AND g % 15 = 0) THEN 'rare' ELSE 'bulk' END,
             CASE WHEN g % 997 = 5 OR (g > 40000 AND g % 7 = 0) THEN 'solo'
                  WHEN g % 3 = 0 THEN NULL ELSE 'u' || g % 50 END,
             CASE WHEN g % 7996 = 0 THEN 'pending' WHEN g <= 3000 THEN 'failed'
                  WHEN g > 40000 AND g <= 40300 AND g % 10 = 0 THEN 'running'
                  WHEN g > 40000 AND g <= 40300 THEN 'pending'
                  WHEN g * 7 % 100 < 1 THEN 'cancelled' WHEN g * 7 % 100 < 6 THEN 'failed'
                  ELSE 'succeeded' END
      FROM generate_series(1, 40400) g) AS s(g, type, user_id, status)
ORDER BY s.g" >/dev/null
# A workflow of 80 steps spread over the history, and 40 jobs waiting (one
# in 1 000 of the succeeded ones, as if enqueued with dependencies).
q "INSERT INTO jobvisor.workflows (name) VALUES ('w1');
UPDATE jobvisor.jobs SET workflow_id = (SELECT max(id) FROM jobvisor.workflows), workflow_key = 'k' || id
	WHERE id % 500 = 11;
UPDATE jobvisor.jobs SET status = 'waiting', waiting_on = 1, finished_at = NULL, started_at = NULL,
	attempts = 0 WHERE id % 1000 = 3 AND status = 'succeeded'" >/dev/null
WF=$(q "SELECT max(id) FROM jobvisor.workflows")
q "VACUUM ANALYZE jobvisor.jobs"
assert_eq "15 10 22|39 4 55" \
	"$(q "SELECT count(*) FILTER (WHERE status = 'pending') || ' ' || count(*) FILTER (WHERE status = 'running') || ' ' || count(*) FILTER (WHERE finished_at IS NOT NULL) FROM jobvisor.jobs WHERE type = 'rare'")|$(q "SELECT count(*) FILTER (WHERE status = 'pending') || ' ' || count(*) FILTER (WHERE status = 'running') || ' ' || count(*) FILTER (WHERE finished_at IS NOT NULL) FROM jobvisor.jobs WHERE user_id = 'solo'")" \
	"rare and solo: pending, running and finished jobs (the history as meant)"

# Every statement on this database from now on, and each one inside a
# function, has its plan, with the rows each node passed, sent to its
# client as a notice.
q "DO \$\$ BEGIN
	EXECUTE format('ALTER DATABASE %I SET session_preload_libraries = %L', current_database(), 'auto_explain');
	EXECUTE format('ALTER DATABASE %I SET auto_explain.log_min_duration = 0', current_database());
	EXECUTE format('ALTER DATABASE %I SET auto_explain.log_analyze = on', current_database());
	EXECUTE format('ALTER DATABASE %I SET auto_explain.log_timing = off', current_database());
	EXECUTE format('ALTER DATABASE %I SET auto_explain.log_level = notice', current_database());
	EXECUTE format('ALTER DATABASE %I SET auto_explain.log_nested_statements = on', current_database());
END \$\$"

jv_bg "$JOBVISOR" serve -c "$JV_CONF"
SERR=$JV_TMP/bg.$BG_N.err
jv_api_port "$SERR"
JV_CALL_AUTH="Authorization: Bearer $TOKEN" # call (lib.sh) sends the token

# reads PATH [INDEX [ALL]]: GET PATH answers 200, and the plans of the
# statements that ran meanwhile (the request's; the processor's own, idle,
# are index probes) read jobs, none of them sequentially nor passing over
# more than 1 000 of its rows (a filter's "Rows Removed"); INDEX among
# those read. ALL: the request counts all jobs (job_counts(): succeeded
# ones are the total less the others), which reads every one of them
# anyway, in the table or in the primary key as the planner finds cheaper
# (the visibility map decides), so one unfiltered sequential read of jobs
# is allowed.
reads()
{
	_n=$(wc -l <"$SERR")
	call GET "$1"
	[ "$CODE" = 200 ] || fail "GET $1: $CODE $BODY"
	tail -n "+$((_n + 1))" "$SERR" | grep 'postgres: NOTICE:  duration: ' >"$JV_TMP/plans"
	grep -q ' on jobs ' "$JV_TMP/plans" || fail "GET $1: no plan that reads jobs was logged"
	_seq=$(grep -o 'Seq Scan on jobs ' "$JV_TMP/plans" | wc -l)
	if [ "$_seq" -gt $((${3:+1} + 0)) ]; then
		fail "GET $1 reads jobs sequentially: $(grep 'Seq Scan on jobs ' "$JV_TMP/plans" |
			head -n 1 | grep -o 'Query Text: .\{0,200\}')"
	fi
	_passed=$(grep -o 'Rows Removed by Filter: [0-9]*' "$JV_TMP/plans" |
		awk 'BEGIN { m = 0 } $5 > m { m = $5 } END { print m }')
	[ "$_passed" -le "${JV_MAX_PASSED:-1000}" ] || fail "GET $1 passes over $_passed rows of jobs: $(grep "Rows Removed by Filter: $_passed" "$JV_TMP/plans" | head -n 1 | grep -o 'Query Text: .\{0,200\}')"
	if [ -n "${2:-}" ]; then
		# (an index scan, or a bitmap scan when the planner expects
		# few rows from it: either way the index's entries only)
		grep -q -e " using $2 on jobs " -e "Bitmap Index Scan on $2 " "$JV_TMP/plans" ||
			fail "GET $1 does not use $2"
	fi
	ok "GET $1: through indexes (passing over $_passed rows at most)${2:+, $2}"
}

# page QUERY WHERE [INDEX [AFTER]]: GET /api/jobs?QUERY page by page, 4 jobs
# a page (each through indexes), from after=AFTER when given, gives exactly
# the ids of the table's jobs WHERE, newest first.
page()
{
	: >"$JV_TMP/ids"
	_after=${4:-}
	_pages=0
	while :; do
		reads "/api/jobs?$1&limit=4${_after:+&after=$_after}" "${3:-}"
		printf '%s' "$BODY" | jq -r '.jobs[].id' >>"$JV_TMP/ids"
		_after=$(printf '%s' "$BODY" | jq -r '.next // empty')
		_pages=$((_pages + 1))
		[ -n "$_after" ] || break
		[ "$_pages" -lt 60 ] || fail "paging ?$1 does not end"
	done
	assert_eq "$(q "SELECT coalesce(string_agg(id::text, E'\\n' ORDER BY id DESC), '') FROM jobvisor.jobs WHERE $2")" \
		"$(cat "$JV_TMP/ids")" "?$1${4:+ after $4}: the table's jobs, newest first, in $_pages pages"
}

# ---------------------------------------------------------------- the list
# A type or a user alone: finished and live jobs merged, across the
# boundary both ways (finished ones older and newer than the live ones,
# and delayed pending ones among the old).
page "type=rare" "type = 'rare'" jobs_done_type_idx
page "user=solo" "user_id = 'solo'" jobs_done_user_idx
page "type=rare&user=solo" "type = 'rare' AND user_id = 'solo'"
page "type=nosuch" "type = 'nosuch'" jobs_done_type_idx
# With a status: only its kind.
page "status=running" "status = 'running'" jobs_running_locked_by_idx
page "status=pending&type=rare" "status = 'pending' AND type = 'rare'" jobs_pending_due_idx
page "status=running&user=solo" "status = 'running' AND user_id = 'solo'"
page "status=succeeded&type=rare" "status = 'succeeded' AND type = 'rare'"
page "status=failed&user=solo" "status = 'failed' AND user_id = 'solo'"
page "status=pending&type=rare&user=solo" "status = 'pending' AND type = 'rare' AND user_id = 'solo'"
# A queue: only with a live status.
page "status=running&queue=default" "status = 'running' AND queue = 'default'" jobs_running_locked_by_idx
# Paging from a given id (into the old delayed pending jobs).
page "type=rare" "type = 'rare' AND id < 40001" "" 40001
page "status=pending" "status = 'pending' AND id < 30000" "" 30000
# A status alone, or nothing: the first page.
reads "/api/jobs?status=failed&limit=50" jobs_unsuccessful_idx
assert_eq "$(q "SELECT string_agg(id::text, ' ' ORDER BY id DESC) FROM (SELECT id FROM jobvisor.jobs WHERE status = 'failed' ORDER BY id DESC LIMIT 50) f")" \
	"$(printf '%s' "$BODY" | jq -r '[.jobs[].id] | map(tostring) | join(" ")')" "status=failed: the newest 50"
reads "/api/jobs?status=cancelled&after=20000" jobs_unsuccessful_idx
reads "/api/jobs?status=succeeded" jobs_pkey
reads "/api/jobs?status=pending" jobs_pending_due_idx
reads "/api/jobs?status=pending&queue=default"
reads "/api/jobs"
assert_eq "$(q "SELECT max(id) || '|' || min(id) FROM (SELECT id FROM jobvisor.jobs ORDER BY id DESC LIMIT 50) n")" \
	"$(printf '%s' "$BODY" | jq -r '"\(.jobs[0].id)|\(.next)"')" "no filter: the newest 50, then next"

# The search of issue 19: waiting jobs; a workflow's steps; one id; a
# time range (a range of ids, found by a binary search on the primary key).
page "status=waiting" "status = 'waiting'" jobs_waiting_idx
page "status=waiting&type=rare" "status = 'waiting' AND type = 'rare'" jobs_waiting_idx
page "workflow=$WF" "workflow_id = $WF" jobs_workflow_idx
page "workflow=$WF&status=failed" "workflow_id = $WF AND status = 'failed'" jobs_workflow_idx
page "id=40123&status=pending" "id = 40123 AND status = 'pending'" jobs_pkey
page "id=40123&user=nobody" "id = 40123 AND user_id = 'nobody'" jobs_pkey
page "from=2026-01-20T00:00:00Z&to=2026-01-20T00:30:00Z" \
	"created_at >= '2026-01-20T00:00:00Z' AND created_at < '2026-01-20T00:30:00Z'" jobs_pkey
page "from=2026-01-05T00:00:00Z&to=2026-01-10T00:00:00Z&type=rare" \
	"created_at >= '2026-01-05T00:00:00Z' AND created_at < '2026-01-10T00:00:00Z' AND type = 'rare'" jobs_done_type_idx
page "from=2026-01-05T00:00:00Z&to=2026-01-05T12:00:00Z&status=failed" \
	"created_at >= '2026-01-05T00:00:00Z' AND created_at < '2026-01-05T12:00:00Z' AND status = 'failed'"
page "to=2026-01-01T01:00:00Z" "created_at < '2026-01-01T01:00:00Z'" jobs_pkey
page "from=2026-01-28T20:00:00Z&user=solo" "created_at >= '2026-01-28T20:00:00Z' AND user_id = 'solo'"
# q: no index, but at most 10 000 jobs examined per request (the page
# then ends with capped and next below them); with a time range or a
# status, through their indexes.
JV_MAX_PASSED=10000 reads "/api/jobs?q=ERROR%2037&limit=5" jobs_pkey
assert_eq "$(q "SELECT string_agg(id::text, ' ' ORDER BY id DESC) FROM (SELECT id FROM (SELECT id FROM jobvisor.jobs ORDER BY id DESC LIMIT 10000) w JOIN jobvisor.jobs USING (id) WHERE last_error ILIKE '%error 37%' ORDER BY id DESC LIMIT 5) f")|false" \
	"$(printf '%s' "$BODY" | jq -r '"\([.jobs[].id] | map(tostring) | join(" "))|\(.capped)"')" \
	"q alone: the newest matches (case-insensitive), a full page, not capped"
JV_MAX_PASSED=10000 reads "/api/jobs?q=error%20777" jobs_pkey
assert_eq "|true|30401" "$(printf '%s' "$BODY" | jq -r '"\([.jobs[].id] | map(tostring) | join(" "))|\(.capped)|\(.next | tojson)"')" \
	"q matching none of the newest 10 000: capped, next (a number) below them"
JV_MAX_PASSED=10000 reads "/api/jobs?q=error%20777&status=failed&limit=1000" jobs_unsuccessful_idx
assert_eq "$(q "SELECT string_agg(id::text, ' ' ORDER BY id DESC) FROM (SELECT id FROM jobvisor.jobs WHERE status = 'failed' ORDER BY id DESC LIMIT 10000) w JOIN jobvisor.jobs USING (id) WHERE last_error LIKE '%error 777%'")" \
	"$(printf '%s' "$BODY" | jq -r '[.jobs[].id] | map(tostring) | join(" ")')" \
	"q with status=failed: the matches among the newest 10 000 failed ones"
assert_eq false "$(printf '%s' "$BODY" | jq -r .capped)" "not capped: fewer than 10 000 failed jobs, all examined"
JV_MAX_PASSED=10000 reads "/api/jobs?q=error%20777&from=2026-01-02T00:00:00Z&to=2026-01-03T00:00:00Z" jobs_pkey
assert_eq "$(q "SELECT coalesce(string_agg(id::text, ' ' ORDER BY id DESC), '') FROM jobvisor.jobs WHERE last_error LIKE '%error 777%' AND created_at >= '2026-01-02T00:00:00Z' AND created_at < '2026-01-03T00:00:00Z'")|false" \
	"$(printf '%s' "$BODY" | jq -r '[.jobs[].id] | map(tostring) | join(" ")')|$(printf '%s' "$BODY" | jq -r .capped)" \
	"q within a day: every match of that day, not capped"

# ---------------------------------------------------------------- the counts
COUNTS=$(q "SELECT string_agg(s || ' ' || (SELECT count(*) FROM jobvisor.jobs j WHERE j.status = s), ' ' ORDER BY o)
	FROM unnest(ARRAY['pending', 'waiting', 'running', 'succeeded', 'failed', 'cancelled']) WITH ORDINALITY AS a(s, o)")
reads /metrics jobs_unsuccessful_idx all
assert_eq "$COUNTS" \
	"$(printf '%s\n' "$BODY" | sed -n 's/^jobvisor_jobs{status="\([a-z]*\)"} \([0-9]*\)$/\1 \2/p' | tr '\n' ' ' | sed 's/ $//')" \
	"/metrics: jobs by status as in the table"
reads /api/cron/status jobs_unsuccessful_idx all
assert_eq "$COUNTS" "$(printf '%s' "$BODY" | jq -r '.jobs | to_entries | map("\(.key) \(.value)") | join(" ")')" \
	"/api/cron/status: jobs by status as in the table, in this order"
reads /api/cron/queue jobs_pending_due_idx all
assert_eq "$(q "SELECT string_agg(type || ' ' || p || ' ' || r, ' ' ORDER BY type) FROM (SELECT type,
	count(*) FILTER (WHERE status = 'pending') p, count(*) FILTER (WHERE status = 'running') r
	FROM jobvisor.jobs WHERE status IN ('pending', 'running') GROUP BY type) t")" \
	"$(printf '%s' "$BODY" | jq -r '.byType | to_entries | map("\(.key) \(.value.pending) \(.value.running)") | join(" ")')" \
	"/api/cron/queue: live jobs by type as in the table"
run "$JOBVISOR" status -c "$JV_CONF"
assert_rc 0 "jobvisor status"
assert_eq "$COUNTS" "$(printf '%s\n' "$OUT" | sed -n '/^jobs:$/,/^[^ ]/s/^  \([a-z]*\) *\([0-9]*\).*/\1 \2/p' | tr '\n' ' ' | sed 's/ $//')" \
	"jobvisor status: jobs by status as in the table"

jv_done
