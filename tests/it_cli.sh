#!/bin/sh
# it_cli.sh -- the database commands of the jobvisor CLI against a real
# PostgreSQL: --version, --help, enqueue (every option, every bad input),
# status (text and --json), config and connection errors, and no leaks
# under valgrind.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

# ---------------------------------------------------------------- no database needed
run "$JOBVISOR" --version
assert_rc 0 "--version"
assert_match '^jobvisor [0-9]+\.[0-9]+\.[0-9]+' "$OUT" "--version prints the version"
for c in migrate enqueue status schedules test-alert serve check-config; do
	run "$JOBVISOR" "$c" --help
	assert_rc 0 "$c --help"
	assert_match "^usage: jobvisor $c " "$OUT" "$c --help prints its usage"
	run "$JOBVISOR" "$c" -h
	assert_rc 0 "$c -h"
done
run "$JOBVISOR" enqueue --help
for opt in --type --user --payload --at --priority --max-attempts --timeout --unique-key -c; do
	assert_match "$opt" "$OUT" "enqueue --help documents $opt"
done

jv_db

# ---------------------------------------------------------------- not migrated yet
run "$JOBVISOR" status
assert_rc 1 "status before migrate"
assert_match "no jobvisor schema .*run 'jobvisor migrate'" "$ERR" "status says to migrate"
run "$JOBVISOR" enqueue --type noop
assert_rc 1 "enqueue before migrate"
assert_match "run 'jobvisor migrate'" "$ERR" "enqueue says to migrate"

run "$JOBVISOR" migrate
assert_rc 0 "migrate"

# ---------------------------------------------------------------- enqueue
run "$JOBVISOR" enqueue --type noop
assert_rc 0 "enqueue --type noop"
assert_match '^[0-9]+$' "$OUT" "enqueue prints the id"
id=$OUT
assert_eq "noop|{}||0|3||pending|t" \
	"$(jv_psql "SELECT type, payload, user_id, priority, max_attempts, timeout_seconds, status,
		scheduled_at <= now() FROM jobvisor.jobs WHERE id = $id")" \
	"the job has the defaults"

run "$JOBVISOR" enqueue -c "$JV_CONF" --type slow --user alice --payload '{"sleep_ms": 5, "outcome": "success"}' \
	--at 2030-01-02T03:04:05Z --priority -7 --max-attempts 5 --timeout 30 --unique-key nightly-1
assert_rc 0 "enqueue with every option"
id=$OUT
assert_eq 'slow|{"outcome": "success", "sleep_ms": 5}|alice|2030-01-02 03:04:05+00|-7|5|30|nightly-1' \
	"$(PGTZ=UTC jv_psql "SELECT type, payload, user_id, scheduled_at, priority, max_attempts, timeout_seconds,
		unique_key FROM jobvisor.jobs WHERE id = $id")" \
	"the job has every given field"

run "$JOBVISOR" enqueue --type noop --unique-key nightly-1
assert_rc 0 "enqueue with a held unique key"
assert_eq "$id" "$OUT" "a held unique key gives the existing job's id"

run "$JOBVISOR" enqueue -t noop -u bob -p '{}' --at +5m
assert_rc 0 "enqueue --at +5m (short options too)"
assert_eq "t|bob" "$(jv_psql "SELECT scheduled_at BETWEEN now() + interval '4 min' AND now() + interval '6 min', user_id
	FROM jobvisor.jobs WHERE id = $OUT")" "--at +5m schedules five minutes ahead"
for rel in +30s +2h +1d +90; do
	run "$JOBVISOR" enqueue --type noop --at "$rel"
	assert_rc 0 "enqueue --at $rel"
done
run "$JOBVISOR" enqueue --type noop --at '2031-06-01 12:00:00+02'
assert_rc 0 "enqueue --at with a zone offset"
assert_eq "2031-06-01 10:00:00+00" "$(PGTZ=UTC jv_psql "SELECT scheduled_at FROM jobvisor.jobs WHERE id = $OUT")" \
	"--at with an offset is stored as that instant"
run "$JOBVISOR" enqueue --type noop --payload '{"text": "quote '\'' and \" and \\ and é"}'
assert_rc 0 "enqueue with quotes and UTF-8 in the payload"
assert_eq "quote ' and \" and \\ and é" "$(jv_psql "SELECT payload->>'text' FROM jobvisor.jobs WHERE id = $OUT")" \
	"the payload arrives intact (parameters, no quoting)"

# ---------------------------------------------------------------- bad input
before=$(jv_psql "SELECT count(*) FROM jobvisor.jobs")
bad()
{
	_regex=$1
	_what=$2
	shift 2
	run "$JOBVISOR" enqueue "$@"
	assert_rc 1 "$_what: exit 1"
	assert_match "$_regex" "$ERR" "$_what: says why"
}
bad "invalid --payload: .*" "bad JSON" --type noop --payload '{"a":'
bad "invalid --payload: must be a JSON object .*not an array" "an array payload" --type noop --payload '[1, 2]'
bad "invalid --payload: must be a JSON object .*not a string" "a string payload" --type noop --payload '"x"'
bad "invalid --payload: .*duplicate" "duplicate keys" --type noop --payload '{"a": 1, "a": 2}'
bad "invalid --payload" "trailing garbage" --type noop --payload '{} x'
bad "invalid --priority 'high': not an integer" "a word as --priority" --type noop --priority high
bad "invalid --priority '5x': not an integer" "trailing garbage in --priority" --type noop --priority 5x
bad "invalid --priority '': not an integer" "an empty --priority" --type noop --priority ''
bad "invalid --priority ' 5': not an integer" "a blank before --priority" --type noop --priority ' 5'
bad "invalid --priority '99999999999': must be between -2147483648 and 2147483647" "--priority out of range" \
	--type noop --priority 99999999999
bad "invalid --max-attempts '0': must be between 1 and 1000" "--max-attempts 0" --type noop --max-attempts 0
bad "invalid --timeout '-1': must be between 1 and 604800" "negative --timeout" --type noop --timeout -1
bad "invalid --at 'next tuesday-ish': .*timestamp" "an unparsable --at" --type noop --at 'next tuesday-ish'
bad "invalid --at '2030-13-45': .*out of range" "an impossible date" --type noop --at 2030-13-45
bad "invalid --at '\+5x': expected \+N followed by s, m, h or d" "a bad relative --at" --type noop --at +5x
bad "invalid --at '\+m': expected" "a relative --at without a number" --type noop --at +m
bad "invalid --at '\+99999999999d': more than ten years" "a huge relative --at" --type noop --at +99999999999d
bad "invalid --at 'infinity': must be a finite time" "--at infinity" --type noop --at infinity
bad "unknown job type 'nope' \(configured: noop, slow\)" "an unknown --type" --type nope
bad "missing --type" "no --type" --user alice
bad "invalid --type: must not be empty" "an empty --type" --type ''
bad "unknown option '--bogus'" "an unknown long option" --type noop --bogus
bad "unknown option '-z'" "an unknown short option" --type noop -z
bad "option '--type' needs a value" "--type without a value" --type
bad "unexpected argument 'extra'" "a stray argument" --type noop extra
assert_match "Try 'jobvisor enqueue --help'" "$ERR" "usage errors point at --help"
assert_eq "$before" "$(jv_psql "SELECT count(*) FROM jobvisor.jobs")" "no bad enqueue added a job"

# ---------------------------------------------------------------- status
jv_psql "UPDATE jobvisor.jobs SET status = 'succeeded', finished_at = now() WHERE type = 'slow' AND unique_key IS NULL" >/dev/null
p1=$(jv_psql "INSERT INTO jobvisor.processors (name, hostname, pid, version) VALUES ('worker-a', 'host-a', 4242, '0.1.0') RETURNING id")
p2=$(jv_psql "INSERT INTO jobvisor.processors (name, hostname, pid, version, heartbeat_at) VALUES ('worker-old', 'host-b', 777, '0.1.0', now() - interval '1 hour') RETURNING id")
jv_psql "INSERT INTO jobvisor.processors (name, hostname, pid, version, state, stopped_at, started_at, heartbeat_at)
	VALUES ('long-gone', 'host-c', 1, '0.0.1', 'stopped', now() - interval '2 days', now() - interval '3 days', now() - interval '2 days')" >/dev/null
jv_psql "UPDATE jobvisor.jobs SET status = 'running', locked_by = $p1, attempts = 1 WHERE id = (SELECT min(id) FROM jobvisor.jobs WHERE status = 'pending')" >/dev/null
jv_psql "INSERT INTO jobvisor.jobs (type, status, finished_at) VALUES ('noop', 'failed', now()), ('noop', 'failed', now()), ('noop', 'cancelled', now())" >/dev/null
jv_psql "INSERT INTO jobvisor.jobs (type, scheduled_at) VALUES ('noop', now() - interval '90 seconds')" >/dev/null
counts=$(jv_psql "SELECT string_agg(n::text, ' ' ORDER BY s) FROM (SELECT s, (SELECT count(*) FROM jobvisor.jobs WHERE status = s) n
	FROM unnest(ARRAY['pending', 'running', 'succeeded', 'failed', 'cancelled']) s) x")
due=$(jv_psql "SELECT count(*) FROM jobvisor.jobs WHERE status = 'pending' AND scheduled_at <= now()")
later=$(jv_psql "SELECT count(*) FROM jobvisor.jobs WHERE status = 'pending' AND scheduled_at > now()")
# ORDER BY s: cancelled failed pending running succeeded
set -- $counts
n_cancelled=$1 n_failed=$2 n_pending=$3 n_running=$4 n_succeeded=$5

run "$JOBVISOR" status
assert_rc 0 "status"
assert_match "^schema version [0-9]+$" "$OUT" "status shows the schema version"
assert_match "^  pending +$n_pending  \($due due, $later scheduled later\)$" "$OUT" "status: pending count, due and later"
assert_match "^  running +$n_running$" "$OUT" "status: running count"
assert_match "^  succeeded +$n_succeeded$" "$OUT" "status: succeeded count"
assert_match "^  failed +2$" "$OUT" "status: failed count"
assert_match "^  cancelled +1$" "$OUT" "status: cancelled count"
assert_match "^  $p1 +worker-a +host-a +4242 +running +[0-9.]+s +1 +0\.1\.0$" "$OUT" \
	"status lists a processor with its heartbeat age and running jobs"
assert_match "^  $p2 +worker-old .*1h00m.*\(stale: heartbeat too old\)$" "$OUT" "status marks a stale processor"
assert_no_match "long-gone" "$OUT" "status leaves out processors stopped long ago"
assert_match "^oldest due pending job: waiting 1m3[0-9]s$" "$OUT" "status: the oldest due pending job's age"

run "$JOBVISOR" status --json
assert_rc 0 "status --json"
if command -v python3 >/dev/null 2>&1; then
	j=$(printf '%s' "$OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
j = d["jobs"]
p = {x["name"]: x for x in d["processors"]}
print(j["pending"], j["running"], j["succeeded"], j["failed"], j["cancelled"], j["pending_due"],
      p["worker-a"]["running_jobs"], p["worker-old"]["stale"], p["worker-a"]["stale"],
      int(d["oldest_due_pending_age_s"]) // 10)')
	assert_eq "$n_pending $n_running $n_succeeded 2 1 $due 1 True False 9" "$j" "status --json has the same numbers"
else
	assert_match "\"pending\": $n_pending," "$OUT" "status --json has the pending count"
fi

jv_psql "DELETE FROM jobvisor.jobs WHERE status = 'pending' AND scheduled_at <= now()" >/dev/null
run "$JOBVISOR" status
assert_match "^oldest due pending job: none$" "$OUT" "status with nothing due"

# ---------------------------------------------------------------- config errors
cat >"$JV_TMP/bad.yaml" <<EOF
database:
  url: "$JV_DB_URL"
processor:
  batch_size: lots
EOF
for c in migrate status; do
	run "$JOBVISOR" "$c" -c "$JV_TMP/bad.yaml"
	assert_rc 1 "$c with a bad config: exit 1"
	assert_match "^$JV_TMP/bad.yaml:4:[0-9]+: " "$ERR" "$c: the config error is FILE:LINE:COL"
done
run "$JOBVISOR" enqueue -c "$JV_TMP/bad.yaml" --type noop
assert_rc 1 "enqueue with a bad config: exit 1"
assert_match "^$JV_TMP/bad.yaml:4:[0-9]+: " "$ERR" "enqueue: the config error is FILE:LINE:COL"
run "$JOBVISOR" status -c "$JV_TMP/does-not-exist.yaml"
assert_rc 1 "a missing config file: exit 1"
assert_match "does-not-exist.yaml" "$ERR" "a missing config file is named"
JOBVISOR_CONFIG=$JV_TMP/bad.yaml run "$JOBVISOR" status
assert_rc 1 "\$JOBVISOR_CONFIG is used without -c"

# ---------------------------------------------------------------- unreachable database
saved_url=$JV_DB_URL
JV_DB_URL="postgresql://postgres@127.0.0.1:1/nowhere?connect_timeout=3"
jv_write_config "$JV_TMP/nodb.yaml"
JV_DB_URL=$saved_url
for c in status "enqueue --type noop" migrate; do
	run "$JOBVISOR" $c -c "$JV_TMP/nodb.yaml"
	assert_rc 1 "$c with the database unreachable: exit 1"
	assert_match "^jobvisor ${c%% *}: could not connect to database: connection to server at \"127\.0\.0\.1\", port 1 failed" \
		"$ERR" "$c: unreachable database, a clear one-line message"
done
JV_DB_URL="postgresql://nobody_here@127.0.0.1:${JV_PG_PORT:-5432}/no_such_db?password=s3cret-pw"
jv_write_config "$JV_TMP/wrongdb.yaml"
JV_DB_URL=$saved_url
run "$JOBVISOR" status -c "$JV_TMP/wrongdb.yaml"
assert_rc 1 "status with a database that refuses us: exit 1"
assert_no_match "s3cret-pw" "$ERR" "connection errors never show the password"

# ---------------------------------------------------------------- valgrind
if [ -n "${VALGRIND:-}" ] && [ "${JV_VALGRIND:-1}" != 0 ]; then
	vg()
	{
		run "$VALGRIND" --quiet --leak-check=full --show-leak-kinds=definite,indirect \
			--errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
			--suppressions="$top_srcdir/tests/valgrind.supp" "$JOBVISOR" "$@"
		[ "$RC" = 99 ] && fail "valgrind: jobvisor $*: $ERR"
	}
	vg enqueue --type noop --payload '{"a": [1, 2]}' --at +1m --unique-key vg
	assert_rc 0 "valgrind: enqueue is clean"
	vg migrate
	assert_rc 0 "valgrind: migrate is clean"
	vg status --json
	assert_rc 0 "valgrind: status --json is clean"
	vg status
	assert_rc 0 "valgrind: status is clean"
	vg enqueue --type nope
	assert_rc 1 "valgrind: a refused enqueue is clean"
	vg enqueue --type noop --at 'not a time'
	assert_rc 1 "valgrind: a bad --at is clean"
	vg status -c "$JV_TMP/nodb.yaml"
	assert_rc 1 "valgrind: an unreachable database is clean"
fi

jv_done
