#!/bin/sh
# it_workflow_results.sh -- results flow downstream and progress flows up
# (plugin ABI 1.2), through a real `jobvisor serve`, real worker processes
# (and threads) and the shell executor running real programs.
#
# A -> (B, C) -> D, enqueued with jobvisor.enqueue_workflow(), B held until
# the test lets it go: from job_executions, D starts only after B and C
# finished; D's program finds B's and C's results in JOBVISOR_RESULTS_FILE
# (keyed by workflow key; a 0600 file in a private 0700 directory, removed
# after the run); a job without dependencies finds "{}"; a job enqueued with
# depends_on (no workflow) finds its dependency under its job id. The same
# with isolation: thread.
#
# Values: a program that exits 0 may leave a JSON value in
# JOBVISOR_VALUE_FILE; it becomes its result's "value", and a dependent's
# program finds it there. No file or an empty one: no value; a value left
# by a program that failed: ignored; not JSON, over max_value_bytes, a
# symbolic link or a FIFO: the attempt fails for good, saying which (and
# the FIFO does not hang it); max_value_bytes: 0 sets no variable. The
# same from a thread.
#
# Progress: lines `PERCENT [NOTE]` a running program writes to
# JOBVISOR_PROGRESS_FD (3) appear in jobs.progress / progress_note, and in
# GET /api/jobs/{id}, while it runs; lines that do not parse are ignored, a
# note is cut at 200 characters; the same from a thread.
. "${top_srcdir:-.}/tests/lib.sh"

command -v curl >/dev/null 2>&1 || skip_all "curl not found"
command -v jq >/dev/null 2>&1 || skip_all "jq not found"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

TOKEN="tok-$$-wfr"
jv_db
jv_plugin shell

jv_write_config "$JV_CONF" "$(cat <<YAML
  shell:
    plugin: shell
    allowed_commands: ["/bin/sh"]
    timeout_seconds: 60
  inproc:
    plugin: shell
    isolation: thread
    allowed_commands: ["/bin/sh"]
    timeout_seconds: 60
  quiet:
    plugin: shell
    allowed_commands: ["/bin/sh"]
    dependency_results: false
  tiny:
    plugin: shell
    allowed_commands: ["/bin/sh"]
    max_value_bytes: 16
  novalue:
    plugin: shell
    allowed_commands: ["/bin/sh"]
    max_value_bytes: 0
api:
  listen: "127.0.0.1:0"
  token: "$TOKEN"
YAML
)"
jv_conf_set "$JV_CONF" \
	processor.heartbeat_interval_ms 500 \
	processor.max_concurrent_jobs 6
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"
jv_bg "$JOBVISOR" serve -c "$JV_CONF"
SERVE=$BG_PID
jv_api_port "$JV_TMP/bg.$BG_N.err"
JV_CALL_AUTH="Authorization: Bearer $TOKEN" # call (lib.sh) sends the token
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.processors WHERE pid = $SERVE AND state = 'running'\")\" = 1 ]" 10 \
	"processor registered as running"

col() { jv_psql "SELECT $2 FROM jobvisor.jobs WHERE id = $1"; }
ended()
{
	wait_for "[ \"\$(jv_psql \"SELECT status FROM jobvisor.jobs WHERE id = $1\")\" = $2 ]" 30 "job $1 $2"
}

# A program that waits (bounded: 30 s) for file $1, then goes on.
hold() { echo "i=0; while [ ! -e $1 ] && [ \$i -lt 300 ]; do sleep 0.1; i=\$((i+1)); done"; }
# A program that copies what it was given: the results, the modes of the
# file and its directory, and where the file was.
show()
{
	echo "cat \"\$JOBVISOR_RESULTS_FILE\" > $1.json; stat -c %a \"\$JOBVISOR_RESULTS_FILE\" > $1.mode; stat -c %a \"\$(dirname \"\$JOBVISOR_RESULTS_FILE\")\" >> $1.mode; echo \"\$JOBVISOR_RESULTS_FILE\" > $1.path; echo \"\${JOBVISOR_PROGRESS_FD-unset}\" > $1.fd"
}

# ------------------------------------------------------------ the workflow
# workflow TYPE TAG: A -> (B, C) -> D of executor TYPE; prints its JSON answer
workflow()
{
	W=$JV_TMP/$2
	cat >"$W.body" <<EOF
{"name": "results-$2", "jobs": [
 {"key": "a", "type": "$1", "payload": {"command": ["/bin/sh", "-c", "printf a"]}},
 {"key": "b", "type": "$1", "payload": {"command": ["/bin/sh", "-c", "$(hold "$W.go"); printf bbbbb"]}, "dependsOn": ["a"]},
 {"key": "c", "type": "$1", "payload": {"command": ["/bin/sh", "-c", "printf ccccccccccc"]}, "dependsOn": ["a"]},
 {"key": "d", "type": "$1", "payload": {"command": ["/bin/sh", "-c", "$(show "$W.d" | sed 's/"/\\"/g')"]}, "dependsOn": ["b", "c"]}
]}
EOF
	jv_psql "SELECT jobvisor.enqueue_workflow(\$w\$$(cat "$W.body")\$w\$::jsonb)"
}

check_workflow()
{
	TYPE=$1 TAG=$2
	W=$JV_TMP/$TAG
	WF=$(workflow "$TYPE" "$TAG")
	WID=$(jv_psql "SELECT (\$j\$$WF\$j\$::jsonb->>'id')")
	id() { jv_psql "SELECT (\$j\$$WF\$j\$::jsonb->'jobs'->>'$1')"; }
	JA=$(id a) JB=$(id b) JC=$(id c) JD=$(id d)
	[ -n "$JA" ] && [ -n "$JD" ] || fail "$TAG: enqueue_workflow answered $WF"
	ended "$JC" succeeded
	wait_for "[ \"\$(col $JB status)\" = running ]" 30 "$TAG: b runs (held)"
	check assert_eq waiting "$(col "$JD" status)" "$TAG: d waits while b runs"
	touch "$W.go"
	ended "$JD" succeeded
	# from history: D started after B and C finished
	check assert_eq t "$(jv_psql "SELECT (SELECT min(started_at) FROM jobvisor.job_executions WHERE job_id = $JD)
		>= (SELECT max(finished_at) FROM jobvisor.job_executions WHERE job_id IN ($JB, $JC))")" \
		"$TAG: from job_executions, d started only after b and c finished"
	check assert_eq "1|1|1|1" "$(jv_psql "SELECT string_agg(n::text, '|' ORDER BY j) FROM (SELECT job_id j, count(*) n
		FROM jobvisor.job_executions WHERE job_id IN ($JA, $JB, $JC, $JD) GROUP BY job_id) x")" \
		"$TAG: every step ran once"
	# what D's program got: exactly B's and C's results, keyed b and c
	GOT=$(cat "$W.d.json" 2>/dev/null)
	check assert_eq t "$(jv_psql "SELECT \$g\$$GOT\$g\$::jsonb = jsonb_build_object(
		'b', (SELECT result FROM jobvisor.jobs WHERE id = $JB),
		'c', (SELECT result FROM jobvisor.jobs WHERE id = $JC))")" \
		"$TAG: d's program received b's and c's results (got: $GOT)"
	check assert_eq "5|11|0|0" "$(jv_psql "SELECT concat_ws('|', \$g\$$GOT\$g\$::jsonb#>>'{b,stdout_bytes}',
		\$g\$$GOT\$g\$::jsonb#>>'{c,stdout_bytes}', \$g\$$GOT\$g\$::jsonb#>>'{b,exit_code}',
		\$g\$$GOT\$g\$::jsonb#>>'{c,exit_code}')")" \
		"$TAG: they are b's and c's own (5 and 11 bytes written, exit 0)"
	check assert_eq "600
700" "$(cat "$W.d.mode" 2>/dev/null)" "$TAG: the results file is 0600 in a 0700 directory"
	P=$(cat "$W.d.path" 2>/dev/null)
	[ -n "$P" ] || fail "$TAG: d's program saw no JOBVISOR_RESULTS_FILE"
	check assert_eq "gone" "$([ -e "$P" ] || [ -e "$(dirname "$P")" ] || echo gone)" \
		"$TAG: the file and its directory are removed after the run"
	check assert_eq 3 "$(cat "$W.d.fd")" "$TAG: JOBVISOR_PROGRESS_FD is 3"
	check assert_eq succeeded "$(jv_psql "SELECT jobvisor.workflow_status($WID)")" "$TAG: the workflow succeeded"
}
check_workflow shell proc
check_workflow inproc thread

# ------------------------------------------------------------ no dependencies, depends_on
enq() { jv_psql "SELECT jobvisor.enqueue('$1', \$p\$$2\$p\$::jsonb${3:+, depends_on => ARRAY[$3]::bigint[]})"; }
N=$(enq shell "{\"command\": [\"/bin/sh\", \"-c\", \"$(show "$JV_TMP/none" | sed 's/"/\\"/g')\"]}")
ended "$N" succeeded
check assert_eq '{}' "$(cat "$JV_TMP/none.json")" "a job without dependencies finds {}"
E=$(enq shell "{\"command\": [\"/bin/sh\", \"-c\", \"$(show "$JV_TMP/byid" | sed 's/"/\\"/g')\"]}" "$N")
ended "$E" succeeded
check assert_eq t "$(jv_psql "SELECT \$g\$$(cat "$JV_TMP/byid.json")\$g\$::jsonb = jsonb_build_object('$N', (SELECT result FROM jobvisor.jobs WHERE id = $N))")" \
	"a dependency outside a workflow is keyed by its job id"
Q=$(enq quiet '{"command": ["/bin/sh", "-c", "echo \"${JOBVISOR_RESULTS_FILE-unset}\""]}' "$N")
ended "$Q" succeeded
check assert_match '^unset' "$(jv_psql "SELECT output FROM jobvisor.job_executions WHERE job_id = $Q")" \
	"dependency_results: false sets no JOBVISOR_RESULTS_FILE"

# ------------------------------------------------------------ values
# vjob TYPE SCRIPT [DEPENDENCY] [MAX_ATTEMPTS]: a job running /bin/sh -c SCRIPT
vjob()
{
	S=$(printf '%s' "$2" | sed 's/\\/\\\\/g; s/"/\\"/g')
	jv_psql "SELECT jobvisor.enqueue('$1', \$p\${\"command\": [\"/bin/sh\", \"-c\", \"$S\"]}\$p\$::jsonb, max_attempts => ${4:-1}${3:+, depends_on => ARRAY[$3]::bigint[]})"
}
check_values()
{
	TYPE=$1 TAG=$2
	V1=$(vjob "$TYPE" "echo \"\$JOBVISOR_VALUE_FILE\" > $JV_TMP/$TAG.vpath; printf '{\"count\": 42, \"name\": \"x\"}' > \"\$JOBVISOR_VALUE_FILE\"")
	V2=$(vjob "$TYPE" "jq -S -c '.\"$V1\".value' \"\$JOBVISOR_RESULTS_FILE\" > $JV_TMP/$TAG.got" "$V1")
	ended "$V2" succeeded
	check assert_eq '0|{"name": "x", "count": 42}' "$(col "$V1" "concat_ws('|', result->>'exit_code', result->>'value')")" \
		"$TAG: the value a program left is its result's value, beside its exit code"
	check assert_eq '{"count":42,"name":"x"}' "$(cat "$JV_TMP/$TAG.got" 2>/dev/null)" \
		"$TAG: a dependent's program finds it in JOBVISOR_RESULTS_FILE"
	P=$(cat "$JV_TMP/$TAG.vpath" 2>/dev/null)
	case $P in /*/jobvisor-results.*/value.json) ;; *) fail "$TAG: JOBVISOR_VALUE_FILE was '$P'" ;; esac
	check assert_eq gone "$([ -e "$P" ] || [ -e "$(dirname "$P")" ] || echo gone)" \
		"$TAG: the value file and its directory are removed after the run"
}
check_values shell values-proc
check_values inproc values-thread

S7=$(vjob shell 'printf 7 > "$JOBVISOR_VALUE_FILE"')
NO=$(vjob shell 'echo no value')
EMPTY=$(vjob shell ': > "$JOBVISOR_VALUE_FILE"')
FAILED=$(vjob shell 'printf 1 > "$JOBVISOR_VALUE_FILE"; exit 1')
NOTJSON=$(vjob shell 'printf "{\"a\": " > "$JOBVISOR_VALUE_FILE"')
LINK=$(vjob shell 'ln -s /etc/passwd "$JOBVISOR_VALUE_FILE"')
FIFO=$(vjob shell 'mkfifo "$JOBVISOR_VALUE_FILE"')
EXACT=$(vjob tiny 'printf "\"0123456789abcd\"" > "$JOBVISOR_VALUE_FILE"')
OVER=$(vjob tiny 'printf "\"0123456789abcde\"" > "$JOBVISOR_VALUE_FILE"')
OFF=$(vjob novalue 'echo "${JOBVISOR_VALUE_FILE-unset}"')
for J in $S7 $NO $EMPTY $EXACT $OFF; do ended "$J" succeeded; done
for J in $FAILED $NOTJSON $LINK $FIFO $OVER; do ended "$J" failed; done
check assert_eq 7 "$(col "$S7" "result->'value'")" "a scalar is a value too"
check assert_eq 'false|false' "$(jv_psql "SELECT string_agg((result ? 'value')::text, '|' ORDER BY id) FROM jobvisor.jobs WHERE id IN ($NO, $EMPTY)")" \
	"no file, or an empty one: no value"
check assert_eq '1|false' "$(col "$FAILED" "concat_ws('|', result->>'exit_code', (result ? 'value')::text)")" \
	"a program that failed leaves no value, whatever it wrote"
check assert_match 'exited with code 1' "$(col "$FAILED" last_error)" "and fails for its own reason"
check assert_match '^shell: JOBVISOR_VALUE_FILE is not JSON: .* \(line 1, column [0-9]+\)$' "$(col "$NOTJSON" last_error)" \
	"not JSON: failed for good, saying where"
check assert_eq '1|0|false' "$(col "$NOTJSON" "concat_ws('|', attempts, result->>'exit_code', (result ? 'value')::text)")" \
	"one attempt, its exit code kept, no value"
check assert_eq 'shell: cannot read JOBVISOR_VALUE_FILE: it is a symbolic link' "$(col "$LINK" last_error)" \
	"a symbolic link is not followed"
check assert_eq 'shell: JOBVISOR_VALUE_FILE is not a regular file' "$(col "$FIFO" last_error)" \
	"a FIFO is refused, without waiting for a writer"
check assert_eq '"0123456789abcd"' "$(col "$EXACT" "result->'value'")" "max_value_bytes (16) of JSON is taken"
check assert_eq 'shell: JOBVISOR_VALUE_FILE holds more than max_value_bytes (16 bytes)' "$(col "$OVER" last_error)" \
	"one byte more is refused"
check assert_match '^unset' "$(jv_psql "SELECT output FROM jobvisor.job_executions WHERE job_id = $OFF")" \
	"max_value_bytes: 0 sets no JOBVISOR_VALUE_FILE"

# ------------------------------------------------------------ progress
# progress TYPE TAG: a job that reports progress, then waits for $TAG.go
long=$(printf 'n%.0s' $(seq 1 300))
progress_job()
{
	enq "$1" "{\"command\": [\"/bin/sh\", \"-c\", \"printf '10 starting\\\\nnot a number\\\\n150 too much\\\\n7x bad\\\\n' >&3; printf '42%% $long\\\\n' >&3; $(hold "$JV_TMP/$2.go")\"]}"
}
check_progress()
{
	TYPE=$1 TAG=$2
	P=$(progress_job "$TYPE" "$TAG")
	wait_for "[ \"\$(col $P progress)\" = 42 ]" 30 "$TAG: progress 42 stored while the job runs"
	check assert_eq "running|200|t" "$(col "$P" "status, char_length(progress_note), progress_note = repeat('n', 200)")" \
		"$TAG: while it runs, with its note cut at 200 characters"
	check assert_eq t "$(col "$P" "progress_at IS NOT NULL")" "$TAG: progress_at set"
	call GET "/api/jobs/$P"
	check assert_eq "200|running|42|200|true" \
		"$CODE|$(printf '%s' "$BODY" | jq -r '"\(.status)|\(.progress)|\(.progressNote | length)|\(.progressAt != null)"')" \
		"$TAG: GET /api/jobs/$P shows the progress while the job runs"
	touch "$JV_TMP/$TAG.go"
	ended "$P" succeeded
}
check_progress shell progress-proc
check_progress inproc progress-thread
# Bad lines cost nothing but their reading: none of them reached the table
# (150, 7x) -- progress only ever read 10 and 42 (checked above); and the
# supervisor is still here.
kill -0 $SERVE 2>/dev/null || fail "serve died"
jv_done
