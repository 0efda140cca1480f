#!/bin/sh
# it_cli_bulk.sh -- the CLI's dependencies, bulk and workflows against a
# real PostgreSQL and a real processor: `enqueue --after/--run-when` (bad
# values refused; the dependent waits until its dependency finished, is
# cancelled naming a failed one, runs with --run-when always), `enqueue
# --file` (1 500 lines in line order, a bad line anywhere -- found here or
# by the database -- naming FILE:LINE with nothing inserted, standard
# input), `workflow --file` (good, and a cycle, an unknown key, bad JSON:
# exit 1 naming it, nothing inserted) and `waiting` in `status`.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

jv_db
jv_conf_set "$JV_CONF" processor.heartbeat_interval_ms 200 processor.max_concurrent_jobs 4
run "$JOBVISOR" migrate
assert_rc 0 "migrate"

jobs()
{
	jv_psql "SELECT count(*) FROM jobvisor.jobs"
}

# ---------------------------------------------------------------- --after: bad values
run "$JOBVISOR" enqueue --help
for opt in --after --run-when --file --json; do
	check assert_match "$opt" "$OUT" "enqueue --help documents $opt"
done
before=$(jobs)
bad()
{
	_regex=$1
	_what=$2
	shift 2
	run "$JOBVISOR" enqueue "$@"
	check assert_rc 1 "$_what: exit 1"
	check assert_match "$_regex" "$ERR" "$_what: says why"
}
ids101=$(seq -s, 1 101)
bad "invalid --after '0': '0' is not a job id" "--after 0" --type noop --after 0
bad "invalid --after '-5': '-5' is not a job id" "a negative --after" --type noop --after -5
bad "invalid --after 'x': 'x' is not a job id" "a word as --after" --type noop --after x
bad "invalid --after '1,,2': '' is not a job id" "an empty element" --type noop --after 1,,2
bad "invalid --after '1,': '' is not a job id" "a trailing comma" --type noop --after 1,
bad "invalid --after '': '' is not a job id" "an empty --after" --type noop --after ''
bad "invalid --after ' 1': ' 1' is not a job id" "a blank in --after" --type noop --after ' 1'
bad "invalid --after '1x': '1x' is not a job id" "trailing garbage" --type noop --after 1x
bad "invalid --after '99999999999999999999': .*not a job id" "an id beyond bigint" \
	--type noop --after 99999999999999999999
bad "invalid --after: more than 100 job ids" "101 ids" --type noop --after "$ids101"
bad "invalid --run-when 'sometimes': must be success or always" "a bad --run-when" \
	--type noop --after 1 --run-when sometimes
bad "--run-when needs --after" "--run-when alone" --type noop --run-when always
bad "--unique-key cannot go with --after" "--after with --unique-key" --type noop --after 1 --unique-key k
bad "option '--after' needs a value" "--after without a value" --type noop --after
check assert_eq "$before" "$(jobs)" "no bad --after added a job"
run "$JOBVISOR" enqueue --type noop --after 999999
check assert_rc 1 "an unknown dependency: exit 1"
check assert_match "could not enqueue: unknown dependency 999999" "$ERR" "an unknown dependency is named"
check assert_eq "$before" "$(jobs)" "an unknown dependency added no job"

# ---------------------------------------------------------------- --after: good ones (run below)
run "$JOBVISOR" enqueue --type slow --payload '{"sleep_ms": 300}'
assert_rc 0 "enqueue A"
A=$OUT
run "$JOBVISOR" enqueue --type noop --payload '{"outcome": "permanent"}' --max-attempts 1
assert_rc 0 "enqueue C (fails for good)"
C=$OUT
run "$JOBVISOR" enqueue --type noop --after "$A,$A"
assert_rc 0 "enqueue B --after A (listed twice)"
B=$OUT
assert_match '^[0-9]+$' "$B" "enqueue --after prints the id"
check assert_eq "waiting|1|success|1" "$(jv_psql "SELECT status, waiting_on, run_when,
	(SELECT count(*) FROM jobvisor.job_dependencies d WHERE d.job_id = j.id AND d.depends_on = $A)
	FROM jobvisor.jobs j WHERE id = $B")" "B waits for A, once"
run "$JOBVISOR" enqueue --type noop --after "$A,$C" --json
assert_rc 0 "enqueue D --after A,C --json"
check assert_match '^\{"id": [0-9]+, "created": true\}$' "$OUT" "--json gives the id and created"
D=$(printf '%s' "$OUT" | sed 's/[^0-9]*\([0-9]*\).*/\1/')
run "$JOBVISOR" enqueue --type noop --after "$C" --run-when always
assert_rc 0 "enqueue E --after C --run-when always"
E=$OUT
check assert_eq "waiting|2|waiting|1|always" "$(jv_psql "SELECT d.status, d.waiting_on, e.status, e.waiting_on, e.run_when
	FROM jobvisor.jobs d, jobvisor.jobs e WHERE d.id = $D AND e.id = $E")" "D and E wait"

# ---------------------------------------------------------------- status: waiting
run "$JOBVISOR" status
assert_rc 0 "status"
check assert_match "^  waiting +3$" "$OUT" "status counts the waiting jobs"
check assert_match "^  pending +2  \(2 due, 0 scheduled later\)$" "$OUT" "status: pending with due and later"
run "$JOBVISOR" status --json
assert_rc 0 "status --json"
check assert_match '"waiting": 3' "$OUT" "status --json counts the waiting jobs"

# ---------------------------------------------------------------- --file: 1 500 lines in order
F=$JV_TMP/jobs.ndjson
awk 'BEGIN {
	for (i = 1; i <= 1500; i++) {
		printf "{\"type\": \"noop\", \"payload\": {\"n\": %d, \"s\": \"tab\\t back\\\\ quote\\\" é\"}, \"user\": \"u%d\", \"priority\": %d}\n", i, i % 7, i % 3
		if (i % 500 == 0) printf "\n  \n"
	}
}' >"$F"
printf '{"type": "slow", "payload": {"n": 1501}, "queue": "default", "maxAttempts": 2, "timeoutSeconds": 9, "runAt": "2030-01-02T03:04:05Z"}\r\n' >>"$F"
before=$(jobs)
run "$JOBVISOR" enqueue -c "$JV_CONF" --file "$F"
assert_rc 0 "enqueue --file with 1 501 jobs"
assert_match "^enqueued 1501 jobs, ids [0-9]+ to [0-9]+$" "$OUT" "--file prints the count and the ids"
first=$(printf '%s' "$OUT" | sed 's/.*ids \([0-9]*\) to.*/\1/')
last=$(printf '%s' "$OUT" | sed 's/.* to \([0-9]*\)$/\1/')
check assert_eq $((before + 1501)) "$(jobs)" "every line is a job"
check assert_eq "1501|1501|$first|$last" "$(jv_psql "SELECT count(*), count(*) FILTER (WHERE (payload->>'n')::int = r),
	min(id), max(id) FROM (SELECT id, payload, row_number() OVER (ORDER BY id) r FROM jobvisor.jobs
	WHERE id BETWEEN $first AND $last) x")" "the jobs are in line order, ids first to last"
check assert_eq "tab	 back\\ quote\" é|u3|1|3|pending" "$(jv_psql "SELECT payload->>'s', user_id, priority, max_attempts, status
	FROM jobvisor.jobs WHERE payload->>'n' = '10'")" "a line's fields arrive intact (tab, backslash, quote, UTF-8)"
check assert_eq "slow|2|9|2030-01-02 03:04:05+00|default" "$(PGTZ=UTC jv_psql "SELECT type, max_attempts, timeout_seconds, scheduled_at, queue
	FROM jobvisor.jobs WHERE payload->>'n' = '1501'")" "the last line (CRLF) has every field it gives"

# Lines through enqueue() (unique key, dependencies) among plain ones keep the order.
M=$JV_TMP/mixed.ndjson
{
	echo '{"type": "noop", "payload": {"m": 1}}'
	echo '{"type": "noop", "payload": {"m": 2}, "uniqueKey": "bulk-k"}'
	echo '{"type": "noop", "payload": {"m": 3}}'
	echo "{\"type\": \"noop\", \"payload\": {\"m\": 4}, \"dependsOn\": [$A, $A], \"runWhen\": \"always\"}"
	echo '{"type": "noop", "payload": {"m": 5}, "userId": "carol"}'
	echo '{"type": "noop", "payload": {"m": 6}, "uniqueKey": "bulk-k"}'
} >"$M"
run "$JOBVISOR" enqueue --file "$M" --json
assert_rc 0 "enqueue --file with unique keys and dependencies --json"
ids=$(printf '%s' "$OUT" | sed -n 's/.*"ids":\[\([0-9,]*\)\].*/\1/p')
check assert_match '^\{"count":6,"created":5,"ids":\[' "$OUT" "--json: the count, how many were created"
check assert_match "1 line named a unique key an existing job holds" "$ERR" "a held unique key is said"
check assert_eq "1 2 3 4 5 2" "$(jv_psql "SELECT string_agg(coalesce(payload->>'m', '?'), ' ' ORDER BY o)
	FROM unnest('{$ids}'::bigint[]) WITH ORDINALITY u(id, o) JOIN jobvisor.jobs j USING (id)")" \
	"the ids follow the lines; the sixth line got the second's job"
check assert_eq "waiting|always|carol" "$(jv_psql "SELECT (SELECT status || '|' || run_when FROM jobvisor.jobs WHERE payload->>'m' = '4'),
	(SELECT user_id FROM jobvisor.jobs WHERE payload->>'m' = '5')")" "dependsOn and runWhen from a line; userId for user"

# ---------------------------------------------------------------- --file: a bad line adds nothing
B1=$JV_TMP/bad.ndjson
bad_file()
{
	_line=$1
	_text=$2
	_regex=$3
	_what=$4
	awk -v bad="$_line" -v text="$_text" 'BEGIN {
		for (i = 1; i <= 1200; i++) print (i == bad ? text : "{\"type\": \"noop\", \"payload\": {\"i\": " i "}}")
	}' >"$B1"
	_before=$(jobs)
	run "$JOBVISOR" enqueue --file "$B1"
	check assert_rc 1 "$_what: exit 1"
	check assert_match "^$B1:$_line: $_regex" "$ERR" "$_what: names the line"
	check assert_eq "$_before" "$(jobs)" "$_what: nothing inserted"
}
bad_file 600 '{"type": 5}' "type: must be a non-empty string" "a number as type"
bad_file 601 '{"payload": {}}' "type: required" "no type"
bad_file 2 '{"type": "nope"}' "type: unknown job type 'nope'" "a type no executor has"
bad_file 1200 '{"type": "noop", "bogus": 1}' '"bogus": unknown field' "an unknown field"
bad_file 700 '{"type": "noop", "payload": [1]}' "payload: must be a JSON object" "an array payload"
bad_file 700 '{"type": "noop", "priority": 1.5}' "priority: must be an integer" "a real priority"
bad_file 700 '{"type": "noop", "dependsOn": [0]}' "dependsOn\[0\]: must be a job id" "a bad dependsOn"
bad_file 700 '{"type": "noop", "runWhen": "later"}' 'runWhen: must be "success" or "always"' "a bad runWhen"
bad_file 700 '{"type": "noop", "type": "noop"}' "not readable as JSON: duplicate" "a duplicate key"
bad_file 700 '{"type": "noop",' "not readable as JSON" "a cut line"
bad_file 700 '[{"type": "noop"}]' "a job must be a JSON object" "an array line"
bad_file 900 '{"type": "noop", "queue": "nowhere"}' "jobvisor.jobs: unknown queue 'nowhere'" \
	"an unknown queue (the database's check)"
bad_file 901 '{"type": "noop", "runAt": "next week"}' 'runAt: invalid input syntax' \
	"a runAt that is no time (the database's check)"
bad_file 1 '{"type": "noop", "runAt": "infinity"}' 'runAt: must be a finite time' "an infinite runAt"
bad_file 1000 '{"type": "noop", "dependsOn": [999999]}' "unknown dependency 999999" \
	"an unknown dependency (the database's check)"
awk 'BEGIN { printf "{\"type\": \"noop\"}\n{\"type\": \"noop\", \"payload\": {\"x\": \""; for (i = 0; i < 2200000; i++) printf "a"; printf "\"}}\n" }' >"$B1"
run "$JOBVISOR" enqueue --file "$B1"
check assert_rc 1 "a line over 2 MiB: exit 1"
check assert_match "^$B1:2: too long: the limit is 2097152 bytes a line" "$ERR" "a line over 2 MiB is named"
run "$JOBVISOR" enqueue --file "$JV_TMP/none.ndjson"
check assert_rc 1 "a missing file: exit 1"
check assert_match "cannot open $JV_TMP/none.ndjson: No such file" "$ERR" "a missing file is named"
run "$JOBVISOR" enqueue --file "$F" --type noop
check assert_rc 1 "--file with --type: exit 1"
check assert_match "\-\-type cannot go with it" "$ERR" "--file with --type is refused"

# ---------------------------------------------------------------- --file -: standard input
before=$(jobs)
printf '{"type": "noop", "payload": {"stdin": 1}}\n\n{"type": "noop", "payload": {"stdin": 2}}' >"$JV_TMP/in"
run sh -c '"$0" enqueue --file - <"$1"' "$JOBVISOR" "$JV_TMP/in"
check assert_rc 0 "--file - reads standard input (last line without newline)"
check assert_match "^enqueued 2 jobs, ids [0-9]+ to [0-9]+$" "$OUT" "--file - prints the count"
check assert_eq $((before + 2)) "$(jobs)" "two jobs from standard input"
printf '{"type": "noop"}\n{"type": ""}\n' >"$JV_TMP/in"
run sh -c '"$0" enqueue --file - <"$1"' "$JOBVISOR" "$JV_TMP/in"
check assert_rc 1 "a bad line on standard input: exit 1"
check assert_match "^<stdin>:2: type: must be a non-empty string" "$ERR" "standard input's line is named"
check assert_eq $((before + 2)) "$(jobs)" "nothing more inserted"

# ---------------------------------------------------------------- workflow
W=$JV_TMP/w.json
cat >"$W" <<'EOF'
{"name": "nightly", "jobs": [
  {"key": "a", "type": "noop"},
  {"key": "b", "type": "noop", "dependsOn": ["a"], "payload": {"sleep_ms": 1}},
  {"key": "c", "type": "slow", "dependsOn": ["a"], "userId": "dave"},
  {"key": "d", "type": "noop", "dependsOn": ["b", "c"], "runWhen": "always"}
]}
EOF
run "$JOBVISOR" workflow --help
check assert_match "^usage: jobvisor workflow " "$OUT" "workflow --help"
run "$JOBVISOR" workflow -c "$JV_CONF" --file "$W"
assert_rc 0 "workflow --file"
assert_match "^workflow [0-9]+ \(nightly\): 4 steps$" "$OUT" "workflow prints its id, name and size"
wf=$(printf '%s\n' "$OUT" | sed -n 's/^workflow \([0-9]*\) .*/\1/p')
check assert_eq "a b c d" "$(printf '%s\n' "$OUT" | sed -n 's/^  \([a-z]\) [0-9][0-9]*$/\1/p' | tr '\n' ' ' | sed 's/ $//')" \
	"each step's key and job id, in the file's order"
wa=$(printf '%s\n' "$OUT" | sed -n 's/^  a \([0-9]*\)$/\1/p')
check assert_eq "a:pending b:waiting c:waiting d:waiting" "$(jv_psql "SELECT string_agg(workflow_key || ':' || status, ' ' ORDER BY workflow_key)
	FROM jobvisor.jobs WHERE workflow_id = $wf")" "the steps are in the database, a pending, the rest waiting"
check assert_eq "$wf" "$(jv_psql "SELECT workflow_id FROM jobvisor.jobs WHERE id = $wa")" "a's job id is the one printed"
run sh -c '"$0" workflow --file - --json <"$1"' "$JOBVISOR" "$W"
check assert_rc 0 "workflow --file - --json"
check assert_match '^\{"id": [0-9]+, .*"name": "nightly"' "$OUT" "--json is the database's answer"
check assert_match '"jobs": \{"a": [0-9]+, "b": [0-9]+, "c": [0-9]+, "d": [0-9]+\}' "$OUT" "--json has every step's id"

bad_wf()
{
	_regex=$1
	_what=$2
	printf '%s\n' "$3" >"$W"
	_before=$(jobs)
	_wfs=$(jv_psql "SELECT count(*) FROM jobvisor.workflows")
	run "$JOBVISOR" workflow --file "$W"
	check assert_rc 1 "$_what: exit 1"
	check assert_match "^jobvisor workflow: $W: $_regex" "$ERR" "$_what: says why"
	check assert_eq "$_before $_wfs" "$(jobs) $(jv_psql "SELECT count(*) FROM jobvisor.workflows")" \
		"$_what: nothing inserted"
}
bad_wf "cycle: (a -> b -> a|b -> a -> b)" "a cycle" \
	'{"name": "w", "jobs": [{"key": "a", "type": "noop", "dependsOn": ["b"]}, {"key": "b", "type": "noop", "dependsOn": ["a"]}]}'
bad_wf 'jobs\[1\].dependsOn: unknown key "x"' "an unknown key" \
	'{"name": "w", "jobs": [{"key": "a", "type": "noop"}, {"key": "b", "type": "noop", "dependsOn": ["x"]}]}'
bad_wf 'jobs\[1\].key: duplicate key "a"' "a duplicate key" \
	'{"name": "w", "jobs": [{"key": "a", "type": "noop"}, {"key": "a", "type": "noop"}]}'
bad_wf "jobs\[0\].type: unknown job type 'nope'" "a type no executor has" \
	'{"name": "w", "jobs": [{"key": "a", "type": "nope"}]}'
bad_wf "not readable as JSON" "not JSON" '{"name": "w", "jobs": ['
bad_wf "must be a JSON object" "an array" '[1]'
run "$JOBVISOR" workflow
check assert_rc 1 "workflow without --file: exit 1"
check assert_match "missing --file" "$ERR" "workflow without --file says so"

# ---------------------------------------------------------------- valgrind (dev lane)
if [ -n "${VALGRIND:-}" ] && [ "${JV_VALGRIND:-1}" != 0 ]; then
	vg()
	{
		run "$VALGRIND" --quiet --leak-check=full --show-leak-kinds=definite,indirect \
			--errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
			--suppressions="$top_srcdir/tests/valgrind.supp" "$JOBVISOR" "$@"
		[ "$RC" = 99 ] && fail "valgrind: jobvisor $*: $ERR"
	}
	vg enqueue --file "$M" --json
	check assert_rc 0 "valgrind: enqueue --file is clean"
	printf '{"type": "noop"}\n{"type": "noop", "queue": "nowhere"}\n' >"$B1"
	vg enqueue --file "$B1"
	check assert_rc 1 "valgrind: a line the database refuses is clean"
	printf '{"type": "noop"}\n{"type": "noop", "x": 1}\n' >"$B1"
	vg enqueue --file "$B1"
	check assert_rc 1 "valgrind: a line refused here is clean"
	vg enqueue --type noop --after "$A,$C" --run-when always --json
	check assert_rc 0 "valgrind: enqueue --after is clean"
	vg enqueue --type noop --after 1,x
	check assert_rc 1 "valgrind: a bad --after is clean"
	printf '{"name": "vg", "jobs": [{"key": "a", "type": "noop"}, {"key": "b", "type": "noop", "dependsOn": ["a"]}]}' >"$W"
	vg workflow --file "$W"
	check assert_rc 0 "valgrind: workflow is clean"
	vg workflow --file "$W" --json
	check assert_rc 0 "valgrind: workflow --json is clean"
	printf '{"name": "vg", "jobs": [{"key": "a", "type": "noop", "dependsOn": ["a"]}]}' >"$W"
	vg workflow --file "$W"
	check assert_rc 1 "valgrind: a refused workflow is clean"
fi

# ---------------------------------------------------------------- a processor runs them
jv_psql "UPDATE jobvisor.jobs SET status = 'cancelled', finished_at = now()
	WHERE status IN ('pending', 'waiting') AND id NOT IN ($A, $B, $C, $D, $E)" >/dev/null
jv_bg "$JOBVISOR" serve -c "$JV_CONF"
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE id IN ($A, $B, $C, $D, $E)
	AND status IN ('succeeded', 'failed', 'cancelled')\")\" = 5 ]" 30 "A to E finished"
check assert_eq "succeeded failed succeeded cancelled succeeded" "$(jv_psql "SELECT string_agg(status, ' ' ORDER BY o)
	FROM unnest(ARRAY[$A, $C, $B, $D, $E]) WITH ORDINALITY u(id, o) JOIN jobvisor.jobs USING (id)")" \
	"B after A succeeded, D cancelled (C failed), E ran anyway"
check assert_eq "t" "$(jv_psql "SELECT b.started_at >= a.finished_at FROM jobvisor.jobs a, jobvisor.jobs b
	WHERE a.id = $A AND b.id = $B")" "B started only after A finished"
check assert_eq "dependency $C failed|$C" "$(jv_psql "SELECT last_error, blocked_by FROM jobvisor.jobs WHERE id = $D")" \
	"D names the dependency that failed"
check assert_eq "0" "$(jv_psql "SELECT count(*) FROM jobvisor.job_executions WHERE job_id = $D")" "D never ran"
jv_done
