#!/bin/sh
# it_upgrade.sh -- an upgrade in place: a database made by the previous
# release's migrations (`jobvisor migrate --to 13`), with history, is
# migrated to the newest schema while processors of the previous release
# claim and complete jobs on it; they go on working after the upgrade, the
# current `jobvisor serve` finishes what is left, and every job runs exactly
# once. The processors of the previous release are driven through SQL
# (tests/old_processor.sql: what that release's engine sends), since its
# binary cannot be run here. And a binary older than the schema it finds
# stops with one line naming both versions.
#
# Prints (not asserted: tests never assert timings) the longest gap between
# consecutive claims while migrate ran, and the longest single claim.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

LATEST=$(ls "$top_srcdir"/sql/[0-9][0-9][0-9]_*.sql | sed 's|.*/0*\([0-9]*\)_[^/]*$|\1|' | sort -n | tail -n 1)
# The previous release's schema, which tests/old_processor.sql speaks.
PREV=13
HISTORY=200000
OLD_PROCESSORS=3
DRIVER=$top_srcdir/tests/old_processor.sql

# --------------------------------------------------- the previous release
jv_db
run "$JOBVISOR" migrate -c "$JV_CONF" --to "$PREV"
assert_rc 0 "migrate --to $PREV"
assert_eq "$PREV" "$(jv_psql 'SELECT max(version) FROM jobvisor.schema_migrations')" \
	"the database is at the previous release's schema"
assert_eq "t|f" \
	"$(jv_psql "SELECT to_regclass('jobvisor.jobs_status_id_idx') IS NOT NULL,
		to_regclass('jobvisor.jobs_done_type_idx') IS NOT NULL")" \
	"with the previous release's indexes"

# History: finished jobs of 29 days up to a day ago, one attempt each (the
# current serve keeps 30 days: none of it is old enough for its retention,
# however long the test takes).
jv_psql "INSERT INTO jobvisor.jobs (type, user_id, status, attempts, created_at, scheduled_at,
		started_at, updated_at, finished_at, last_error)
	SELECT (ARRAY['noop', 'report', 'mail', 'sync'])[1 + g % 4],
	       CASE WHEN g % 3 = 0 THEN 'user' || g % 100 END,
	       CASE WHEN g % 50 = 0 THEN 'failed' WHEN g % 97 = 0 THEN 'cancelled' ELSE 'succeeded' END,
	       1, t, t, t, t + interval '2 s', t + interval '2 s',
	       CASE WHEN g % 50 = 0 THEN 'exit status 1' END
	FROM generate_series(1, $HISTORY) g,
	     LATERAL (SELECT now() - interval '29 days' + g * (interval '28 days' / $HISTORY)) AS x(t);
	INSERT INTO jobvisor.job_executions (job_id, attempt, type, user_id, started_at, finished_at,
		duration_ms, outcome, error)
	SELECT id, 1, type, user_id, started_at, finished_at, 2000, status, last_error
	FROM jobvisor.jobs ORDER BY id;
	ANALYZE jobvisor.jobs;
	ANALYZE jobvisor.job_executions" >/dev/null || fail "could not write the history"
H=$(jv_psql "SELECT max(id) FROM jobvisor.jobs")
assert_eq "$HISTORY|$HISTORY" "$(jv_psql "SELECT (SELECT count(*) FROM jobvisor.jobs),
	(SELECT count(*) FROM jobvisor.job_executions)")" "$HISTORY finished jobs and their history"

# backlog N: N more pending noop jobs
backlog()
{
	jv_psql "INSERT INTO jobvisor.jobs (type) SELECT 'noop' FROM generate_series(1, $1)" >/dev/null ||
		fail "could not enqueue $1 jobs"
}
backlog 3000

# ------------------------------------------ the upgrade, under their load
psql -X -q -v setup=true -d "$JV_DB_URL" -f "$DRIVER" >/dev/null || fail "$DRIVER: setup failed"
OLD=
i=0
while [ $i -lt $OLD_PROCESSORS ]; do
	i=$((i + 1))
	# (bounded: 100 000 rounds or 120 s, whichever comes first)
	jv_bg psql -X -q -v setup=false -v name="old-$i" -v rounds=100000 -v seconds=120 \
		-d "$JV_DB_URL" -f "$DRIVER"
	OLD="$OLD $BG_PID:$BG_N"
done
# old_ended: whether one of them has ended; old_check fails the test, with
# its error, when one has; claimed_since TIME: whether one claimed a job
# after TIME.
old_ended()
{
	for p in $OLD; do
		kill -0 "${p%%:*}" 2>/dev/null || return 0
	done
	return 1
}
old_check()
{
	for p in $OLD; do
		kill -0 "${p%%:*}" 2>/dev/null ||
			fail "old processor (psql ${p%%:*}) ended early: $(cat "$JV_TMP/bg.${p#*:}.err")"
	done
}
claimed_since()
{
	[ "$(jv_psql "SELECT count(*) > 0 FROM jv_load.claims WHERE n > 0 AND sent > '$1'")" = t ]
}
wait_for "old_ended || claimed_since -infinity" 30 "a claim of the previous release's processors (or the end of one)"
old_check

T0=$(jv_psql "SELECT clock_timestamp()")
run "$JOBVISOR" migrate -c "$JV_CONF"
T1=$(jv_psql "SELECT clock_timestamp()")
assert_rc 0 "migrate to $LATEST while they run"
assert_match "^applied 014_throughput\$" "$OUT" "migrate applied 014"
assert_eq "$LATEST" "$(jv_psql 'SELECT max(version) FROM jobvisor.schema_migrations')" \
	"the schema is at version $LATEST"
echo "# migrate took $(jv_psql "SELECT round(extract(epoch FROM timestamptz '$T1' - timestamptz '$T0') * 1000)") ms"
[ -z "$ERR" ] || printf '%s\n' "$ERR" | sed 's/^/# migrate: /'

# After the upgrade, they go on with the previous release's protocol.
backlog 2000
wait_for "old_ended || claimed_since '$T1'" 30 "a claim on the new schema (or the end of an old processor)"
old_check

jv_psql "UPDATE jv_load.control SET stop = true" >/dev/null
for p in $OLD; do
	wait_for "! kill -0 ${p%%:*} 2>/dev/null" 30 "old processor (psql ${p%%:*}) stops"
	wait "${p%%:*}"
	rc=$?
	[ "$rc" = 0 ] || fail "old processor (psql ${p%%:*}) exited $rc: $(cat "$JV_TMP/bg.${p#*:}.err")"
done
ok "every old processor ran without an error"

# What they left, and more, for the current serve.
backlog 1000
jv_bg "$JOBVISOR" serve -c "$JV_CONF"
SERVE=$BG_PID
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE id > $H AND status IN ('pending', 'running')\")\" = 0 ]" 60 \
	"the current serve finishes the backlog"
kill -TERM "$SERVE"
wait_for "! kill -0 $SERVE 2>/dev/null" 30 "serve stops"

# ------------------------------------------------------------- the checks
check assert_eq "6000|6000" "$(jv_psql "SELECT count(*), count(*) FILTER (WHERE status = 'succeeded' AND attempts = 1)
	FROM jobvisor.jobs WHERE id > $H")" "every job of the backlog succeeded at its first attempt"
check assert_eq "6000|6000|0" "$(jv_psql "SELECT count(*),
		count(*) FILTER (WHERE e.outcome = 'succeeded' AND e.attempt = 1 AND NOT e.stale),
		count(*) - count(DISTINCT e.job_id)
	FROM jobvisor.job_executions e WHERE e.job_id > $H")" \
	"one succeeded execution per job of the backlog: nothing lost, nothing twice"
check assert_eq "0" "$(jv_psql "SELECT count(*) FROM jobvisor.jobs j WHERE j.id > $H
	AND NOT EXISTS (SELECT 1 FROM jobvisor.job_executions e WHERE e.job_id = j.id)")" \
	"no job of the backlog without its execution"
check assert_eq "$HISTORY|$HISTORY" "$(jv_psql "SELECT (SELECT count(*) FROM jobvisor.jobs WHERE id <= $H),
	(SELECT count(*) FROM jobvisor.job_executions WHERE job_id <= $H)")" "the history is intact"
check assert_eq "t|t" "$(jv_psql "SELECT count(*) FILTER (WHERE returned < '$T0') > 0,
	count(*) FILTER (WHERE sent > '$T1') > 0 FROM jv_load.claims WHERE n > 0")" \
	"old processors claimed jobs before and after the migration"
check assert_eq "t" "$(jv_psql "SELECT count(*) > 0 FROM jobvisor.job_executions e
	JOIN jobvisor.processors p ON p.id = e.processor WHERE p.version <> '13 (SQL)'")" \
	"the current serve ran some of the backlog"
check assert_eq "" "$(jv_psql "SELECT string_agg(c.relname, ', ') FROM pg_index i
	JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'jobvisor.jobs'::regclass AND NOT i.indisvalid")" \
	"no invalid index left on jobs"
check assert_eq "t|t|t|f|f|f" \
	"$(jv_psql "SELECT to_regclass('jobvisor.jobs_done_type_idx') IS NOT NULL,
		to_regclass('jobvisor.jobs_done_user_idx') IS NOT NULL,
		to_regclass('jobvisor.jobs_unsuccessful_idx') IS NOT NULL,
		to_regclass('jobvisor.jobs_status_id_idx') IS NOT NULL,
		to_regclass('jobvisor.jobs_type_id_idx') IS NOT NULL,
		to_regclass('jobvisor.jobs_finished_idx') IS NOT NULL")" \
	"014's indexes replaced the old ones"

# How long claiming stopped while migrate ran: the longest gap between
# consecutive claims (of any processor) from the last one before migrate to
# the first one after it, and the longest single claim in that window.
gap=$(jv_psql "WITH w AS (
		SELECT returned FROM jv_load.claims
		WHERE returned BETWEEN '$T0' AND '$T1'
		   OR returned = (SELECT max(returned) FROM jv_load.claims WHERE returned < '$T0')
		   OR returned = (SELECT min(returned) FROM jv_load.claims WHERE returned > '$T1'))
	SELECT round(extract(epoch FROM max(d)) * 1000)
	FROM (SELECT returned - lag(returned) OVER (ORDER BY returned) AS d FROM w) g")
stats=$(jv_psql "SELECT round(extract(epoch FROM max(returned - sent)) * 1000), count(*),
		count(*) FILTER (WHERE n > 0), coalesce(sum(n), 0)
	FROM jv_load.claims WHERE returned > '$T0' AND sent < '$T1'")
IFS='|' read -r c_ms c_n c_got c_jobs <<EOF
$stats
EOF
echo "# longest claim gap during migrate: $gap ms"
echo "# longest claim during migrate: $c_ms ms (of $c_n claims, $c_got of them got jobs, $c_jobs jobs in all)"

# ---------------------------------------- a binary older than the schema
# (as a processor of the previous release meets the new schema when it is
# restarted after the upgrade): serve stops with one line naming both
# versions. (it_migrate.sh checks migrate and status.)
jv_db older
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate a scratch database"
jv_psql "INSERT INTO jobvisor.schema_migrations (version, name) VALUES (999, '999_from_the_future')" >/dev/null
run "$JOBVISOR" serve -c "$JV_CONF"
check assert_rc 1 "serve on a schema newer than it knows: exit 1"
# (as root, serve says first that it runs as root: tests/lib.sh's allow_root)
check assert_eq 1 "$(printf '%s\n' "$ERR" | grep -v 'info: running as root' | grep -c .)" \
	"serve says so in one line"
check assert_match "version 999, newer than this jobvisor knows \($LATEST\)" "$ERR" \
	"the line names both versions"
check assert_eq 0 "$(jv_psql 'SELECT count(*) FROM jobvisor.processors')" "serve registered nothing"

jv_done
