#!/bin/sh
# it_exec_shell.sh -- the shell executor through a real `jobvisor serve`
# against a real PostgreSQL, running real programs: output and result,
# exit codes (permanent, retryable, exit_codes lists), death by a signal,
# env (payload, instance; nothing inherited), cwd, stdin, the allowlist, exec
# failures, `shell` with and without allow_shell, output truncation, bad
# payloads (the supervisor goes on), config errors, and a timeout killing
# a whole process group (no process left behind), with process and thread
# isolation, and a thread job cancelled at shutdown.
#
# Payloads that are not JSON objects cannot be enqueued (jobs.payload has a
# CHECK), so the executor's own refusal of them is not reachable from here.
. "${top_srcdir:-.}/tests/lib.sh"

jv_db
jv_plugin shell

# ------------------------------------------------------------ config errors
# Each bad instance is refused by check-config, naming the key.
bad_config()
{
	jv_write_config "$JV_TMP/bad.yaml" "  sh: { plugin: shell, $1 }"
	run "$JOBVISOR" check-config -c "$JV_TMP/bad.yaml"
	[ "$RC" != 0 ] || fail "check-config accepted: $1"
	assert_match "$2" "$ERR$OUT" "config refused: $1"
}
bad_config 'allowed_commands: ["bin/*"]' 'executors\.sh\.allowed_commands: .*absolute'
bad_config 'exit_codes: { permanent: [0] }' 'executors\.sh\.exit_codes: .*1 to 255'
bad_config 'exit_codes: { retryable: [3], permanent: [3] }' 'both retryable and permanent'
bad_config 'exit_codes: { fatal: [3] }' "unknown key 'fatal'"
bad_config 'max_output_bytes: -1' 'executors\.sh\.max_output_bytes: must be between'
bad_config 'max_value_bytes: -1' 'executors\.sh\.max_value_bytes: must be between 0 and 8388608'
bad_config 'max_value_bytes: 8388609' 'executors\.sh\.max_value_bytes: must be between 0 and 8388608'
bad_config 'max_value_bytes: "big"' 'executors\.sh\.max_value_bytes'
bad_config 'env: { A: [1] }' 'executors\.sh\.env: .*must be a string'
bad_config 'env: { "1A": "x" }' 'not a valid variable name'
bad_config 'bogus: 1' 'bogus'

# ------------------------------------------------------------ the processor
cat >"$JV_TMP/notexec" <<'EOF'
#!/bin/sh
echo never
EOF
chmod 0644 "$JV_TMP/notexec"
mkdir "$JV_TMP/work dir"

jv_write_config "$JV_CONF" "$(cat <<'YAML'
  shell:
    plugin: shell
    timeout_seconds: 3
    allowed_commands: ["/bin/*", "/usr/bin/*"]
    exit_codes: { permanent: [3] }
    env: { INST_VAR: inst, SHARED: inst }
    allowed_env: [JOB_VAR, SHARED, A]
  strict:
    plugin: shell
    allowed_commands: "/bin/sh"
    exit_codes: { retryable: [75] }
  sh:
    plugin: shell
    allow_shell: true
    clear_env: true
    env: { ONLY: "yes" }
    allowed_env: [JOB_*]
  small:
    plugin: shell
    max_output_bytes: 100
  inproc:
    plugin: shell
    isolation: thread
    allow_shell: true
    timeout_seconds: 3
YAML
)"
jv_conf_set "$JV_CONF" \
	processor.heartbeat_interval_ms 200 \
	processor.retry_base_ms 10 \
	processor.retry_max_ms 50 \
	processor.max_concurrent_jobs 6 \
	processor.shutdown_grace_seconds 1
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

JV_SHELL_MARK=from_the_worker
export JV_SHELL_MARK
jv_bg "$JOBVISOR" serve -c "$JV_CONF"
SERVE=$BG_PID
SERVE_ERR=$JV_TMP/bg.$BG_N.err
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.processors WHERE pid = $SERVE AND state = 'running'\")\" = 1 ]" 10 \
	"processor registered as running"
assert_match 'small.*allows any command; set allowed_commands' "$(cat "$SERVE_ERR")" \
	"an instance without allowed_commands is warned about"

# enq TYPE PAYLOAD [MAX_ATTEMPTS [TIMEOUT_S]] -> prints the job id
enq()
{
	jv_psql "SELECT jobvisor.enqueue('$1', \$p\$$2\$p\$::jsonb, max_attempts => ${3:-1}, timeout_seconds => ${4:-NULL})"
}
# ended ID STATUS: wait until job ID is STATUS
ended()
{
	wait_for "[ \"\$(jv_psql \"SELECT status FROM jobvisor.jobs WHERE id = $1\")\" = $2 ]" 20 "job $1 $2"
}
col() { jv_psql "SELECT $2 FROM jobvisor.jobs WHERE id = $1"; }
exe() { jv_psql "SELECT $2 FROM jobvisor.job_executions WHERE job_id = $1 ORDER BY attempt DESC LIMIT 1"; }

# ------------------------------------------------------------ the timeout
# Started first: it runs while the rest is checked. Both sleeps ignore
# SIGTERM, so only the SIGKILL to the whole group ends them.
# The sleeps' durations carry this test's PID, so pgrep finds only ours.
M=$$
TO=$(enq shell "{\"command\": [\"/bin/sh\", \"-c\", \"trap '' TERM; sleep 1000.${M}5 & exec sleep 1000.${M}5\"]}" 1 2)
TT=$(enq inproc "{\"shell\": \"trap '' TERM; sleep 1000.${M}7 & exec sleep 1000.${M}7\"}" 1 2)
wait_for "pgrep -f 'sleep 1000[.]${M}5' >/dev/null" 10 "the process-isolated sleeps run"

# ------------------------------------------------------------ output, result
OK=$(enq shell '{"command": ["/bin/sh", "-c", "echo out1; echo err1 >&2; sleep 0.1; echo out2"]}')
ended $OK succeeded
OUTPUT=$(exe $OK output)
assert_match 'out1' "$OUTPUT" "stdout captured"
assert_match 'err1' "$OUTPUT" "stderr captured"
assert_match 'out2' "$OUTPUT" "stdout after stderr captured"
assert_eq '0||10|5|false' "$(col $OK "result->>'exit_code', result->>'signal', result->>'stdout_bytes', result->>'stderr_bytes', result->>'truncated'")" \
	"result: exit code 0, no signal, byte counts, not truncated"
assert_eq t "$(col $OK "(result->>'duration_ms')::int >= 100")" "result: duration_ms"
assert_eq 'succeeded|1' "$(jv_psql "SELECT outcome, attempt FROM jobvisor.job_executions WHERE job_id = $OK")" \
	"one succeeded execution"

# ------------------------------------------------------------ exit codes
PERM=$(enq shell '{"command": ["/bin/sh", "-c", "echo first >&2; echo \"  disk on fire  \" >&2; exit 3"]}' 2)
RETR=$(enq shell '{"command": ["/bin/sh", "-c", "echo try again >&2; exit 4"]}' 2)
S_OTHER=$(enq strict '{"command": ["/bin/sh", "-c", "exit 4"]}' 2)
S_RETR=$(enq strict '{"command": ["/bin/sh", "-c", "exit 75"]}' 2)
SIG=$(enq shell '{"command": ["/bin/sh", "-c", "kill -KILL $$"]}' 2)
for j in $PERM $RETR $S_OTHER $S_RETR $SIG; do ended $j failed; done
assert_eq 1 "$(col $PERM attempts)" "exit code in exit_codes.permanent: not retried"
assert_match '^shell: /bin/sh exited with code 3 \(exit_codes.permanent\): disk on fire$' "$(col $PERM last_error)" \
	"last_error: the code and the last stderr line, trimmed"
assert_eq 3 "$(col $PERM "result->>'exit_code'")" "result of a failure: its exit code"
assert_eq "2|2" "$(col $RETR "attempts, (SELECT count(*) FROM jobvisor.job_executions WHERE job_id = $RETR AND outcome = 'failed')")" \
	"other exit code without a retryable list: retried"
assert_match 'exited with code 4: try again' "$(col $RETR last_error)" "retryable error names code and stderr"
assert_eq 1 "$(col $S_OTHER attempts)" "with a retryable list, an unlisted code fails for good"
assert_match 'code 4 \(not in exit_codes.retryable\)' "$(col $S_OTHER last_error)" "and says why"
assert_eq 2 "$(col $S_RETR attempts)" "a code in exit_codes.retryable is retried"
assert_eq 2 "$(col $SIG attempts)" "killed by a signal: retried"
assert_match 'killed by signal 9 \(SIGKILL\)' "$(col $SIG last_error)" "the error names the signal"
assert_eq '|SIGKILL' "$(col $SIG "result->>'exit_code', result->>'signal'")" "result: signal, no exit code"

# ------------------------------------------------------------ env, cwd, stdin
ENV1=$(enq shell '{"command": ["/usr/bin/env"], "env": {"JOB_VAR": "job", "SHARED": "job"}}')
ENV2=$(enq sh '{"shell": "env", "env": {"JOB_VAR": "job2"}}')
CWD=$(enq shell "{\"command\": [\"/bin/pwd\"], \"cwd\": \"$JV_TMP/work dir\"}")
BADCWD=$(enq shell '{"command": ["/bin/pwd"], "cwd": "/nonexistent/place"}' 3)
IN=$(enq shell '{"command": ["/usr/bin/tr", "a-z", "A-Z"], "stdin": "hello stdin"}')
BIGIN=$(jv_psql "SELECT jobvisor.enqueue('shell', jsonb_build_object('command', jsonb_build_array('/usr/bin/wc', '-c'), 'stdin', repeat('x', 300000)), max_attempts => 1)")
NOIN=$(enq shell '{"command": ["/bin/cat"]}')
# A program that reads none of a large stdin: no SIGPIPE for the worker.
UNREAD=$(jv_psql "SELECT jobvisor.enqueue('shell', jsonb_build_object('command', jsonb_build_array('/bin/sh', '-c', 'exec 0<&-; sleep 0.2; echo unread'), 'stdin', repeat('y', 300000)), max_attempts => 1)")
for j in $ENV1 $ENV2 $CWD $IN $BIGIN $NOIN $UNREAD; do ended $j succeeded; done
E1=$(exe $ENV1 output)
assert_match '^JOB_VAR=job$' "$E1" "payload env"
assert_match '^INST_VAR=inst$' "$E1" "instance env"
assert_match '^SHARED=job$' "$E1" "payload env wins over the instance's"
assert_no_match 'JV_SHELL_MARK' "$E1" "nothing of the worker's environment is passed on"
E2=$(exe $ENV2 output)
assert_match '^PATH=/usr/local/bin:/usr/bin:/bin$' "$E2" "clear_env: true (the default): a plain PATH"
assert_match '^ONLY=yes$' "$E2" "clear_env: true: the instance's env"
assert_match '^JOB_VAR=job2$' "$E2" "clear_env: true: the payload's env"
assert_no_match 'JV_SHELL_MARK' "$E2" "clear_env: true: nothing of the worker's"
assert_eq "$JV_TMP/work dir" "$(exe $CWD output)" "cwd"
assert_eq 1 "$(col $BADCWD attempts)" "a cwd that cannot be entered fails for good"
assert_match "cannot change directory to /nonexistent/place: No such file" "$(col $BADCWD last_error)" "and says so"
assert_eq "HELLO STDIN" "$(exe $IN output)" "stdin"
assert_eq 300000 "$(exe $BIGIN output | tr -d ' ')" "300 kB of stdin, written without blocking"
assert_eq '' "$(exe $NOIN output)" "no stdin: /dev/null"
assert_eq unread "$(exe $UNREAD output)" "stdin closed unread: the job still succeeds"

# ------------------------------------------------------------ refusals
REF=$(enq shell '{"command": ["/opt/tools/deploy", "--all"]}' 3)
DOTS=$(enq shell '{"command": ["/bin/../sbin/reboot"]}' 3)
REL=$(enq shell '{"command": ["sh", "-c", "true"]}' 3)
NOENT=$(enq shell '{"command": ["/bin/no-such-program-here"]}' 3)
NOEXEC=$(enq small "{\"command\": [\"$JV_TMP/notexec\"]}" 3)
NOSH=$(enq shell '{"shell": "echo hi"}' 3)
SH=$(enq sh '{"shell": "echo hi | tr a-z A-Z; exit 0"}')
for j in $REF $DOTS $REL $NOENT $NOEXEC $NOSH; do ended $j failed; done
ended $SH succeeded
assert_eq "1|shell: command '/opt/tools/deploy' is not in allowed_commands of executor 'shell'" \
	"$(col $REF "attempts, last_error")" "allowlist refusal: permanent, clear"
assert_match "must not contain '\.\.'" "$(col $DOTS last_error)" "'..' refused"
assert_match "command\[0\] must be an absolute path, not 'sh'" "$(col $REL last_error)" "relative command refused"
assert_eq "1|shell: cannot execute /bin/no-such-program-here: No such file or directory" \
	"$(col $NOENT "attempts, last_error")" "exec failure (not found): permanent"
assert_match "cannot execute $JV_TMP/notexec: Permission denied" "$(col $NOEXEC last_error)" \
	"exec failure (not executable)"
assert_eq 1 "$(col $NOEXEC attempts)" "not executable: permanent"
assert_match "payload.shell is refused: executor 'shell' does not set allow_shell: true" "$(col $NOSH last_error)" \
	"shell refused without allow_shell"
assert_eq HI "$(exe $SH output)" "shell works with allow_shell"

# ------------------------------------------------------------ truncation
TR=$(enq small '{"command": ["/usr/bin/seq", "1", "2000"]}')
ended $TR succeeded
TOTAL=$(seq 1 2000 | wc -c)
TROUT=$(exe $TR output)
assert_match "^\[shell: output truncated, $((TOTAL - 100)) bytes dropped\]$" "$TROUT" "truncation marked"
assert_match '^1$' "$TROUT" "the beginning is kept"
assert_no_match '^2000$' "$TROUT" "the end is dropped"
assert_eq "$TOTAL|true" "$(col $TR "result->>'stdout_bytes', result->>'truncated'")" \
	"result counts every byte, and says truncated"

# ------------------------------------------------------------ bad payloads
B1=$(enq shell '{}' 3)
B2=$(enq shell '{"command": "/bin/true"}' 3)
B3=$(enq shell '{"command": ["/bin/echo", 1]}' 3)
B4=$(enq shell '{"command": []}' 3)
B5=$(enq shell '{"command": ["/bin/true"], "env": "A=1"}' 3)
B6=$(enq shell '{"command": ["/bin/true"], "env": {"A": 1}}' 3)
B7=$(enq shell '{"command": ["/bin/true"], "env": {"A-B": "1"}}' 3)
B8=$(enq shell '{"command": ["/bin/true"], "cwd": "relative"}' 3)
B9=$(enq shell '{"command": ["/bin/true"], "stdin": 5}' 3)
B10=$(enq shell '{"command": ["/bin/true"], "verbose": true}' 3)
B11=$(enq sh '{"command": ["/bin/true"], "shell": "true"}' 3)
GOOD=$(enq shell '{"command": ["/bin/echo", "still here"]}')
for j in $B1 $B2 $B3 $B4 $B5 $B6 $B7 $B8 $B9 $B10 $B11; do ended $j failed; done
ended $GOOD succeeded
assert_eq 11 "$(jv_psql "SELECT count(*) FROM jobvisor.jobs WHERE id IN ($B1,$B2,$B3,$B4,$B5,$B6,$B7,$B8,$B9,$B10,$B11) AND attempts = 1")" \
	"bad payloads are not retried"
assert_match 'payload.command is required' "$(col $B1 last_error)" "missing command"
assert_match 'payload.command must be a non-empty array of strings' "$(col $B2 last_error)" "command not an array"
assert_match 'payload.command\[1\] must be a string' "$(col $B3 last_error)" "non-string argument"
assert_match 'payload.command must be a non-empty array' "$(col $B4 last_error)" "empty command"
assert_match 'payload.env must be an object' "$(col $B5 last_error)" "env not an object"
assert_match 'payload.env.A must be a string' "$(col $B6 last_error)" "env value not a string"
assert_match "'A-B' is not a valid variable name" "$(col $B7 last_error)" "bad env name"
assert_match 'payload.cwd must be an absolute path' "$(col $B8 last_error)" "relative cwd"
assert_match 'payload.stdin must be a string' "$(col $B9 last_error)" "stdin not a string"
assert_match "unknown payload key 'verbose'" "$(col $B10 last_error)" "unknown key"
assert_match 'command and payload.shell exclude each other' "$(col $B11 last_error)" "command and shell together"
assert_eq "still here" "$(exe $GOOD output)" "a good job after bad ones succeeds"
kill -0 $SERVE 2>/dev/null || fail "serve died"
ok "the supervisor is still running"

# ------------------------------------------------------------ thread isolation
TOK=$(enq inproc '{"shell": "echo thread-out; echo thread-err >&2; exit 0"}')
TSIG=$(enq inproc '{"shell": "kill -TERM $$"}')
ended $TOK succeeded
ended $TSIG failed
assert_match 'thread-out' "$(exe $TOK output)" "thread isolation: stdout"
assert_match 'thread-err' "$(exe $TOK output)" "thread isolation: stderr"
assert_eq '0|false' "$(col $TOK "result->>'exit_code', result->>'truncated'")" "thread isolation: result"
assert_match 'killed by signal 15 \(SIGTERM\)' "$(col $TSIG last_error)" \
	"thread isolation: the child's signals are not the supervisor's (SIGTERM not blocked)"

# ------------------------------------------------------------ timeouts, done
ended $TO failed
ended $TT failed
for j in $TO $TT; do
	assert_eq "timed_out|1" "$(exe $j "outcome, attempt")" "job $j: timed_out"
	assert_match 'shell: timed out: killed process group [0-9]+ after [0-9]+ ms' "$(col $j last_error)" \
		"job $j: the executor stopped the group itself"
done
assert_no_match 'worker killed' "$(col $TO last_error)" "the worker was not killed"
wait_for "! pgrep -f 'sleep 1000[.]${M}[57]'" 5 "no sleep of a timed-out job is left"
ZOMBIES=
for p in $SERVE $(pgrep -P $SERVE); do
	ZOMBIES="$ZOMBIES$(ps --ppid "$p" -o pid=,stat= | awk '$2 ~ /^Z/')"
done
assert_eq '' "$ZOMBIES" "no zombie child of the supervisor or its workers"

# Shutdown: jobs still running at the end of the grace period are told to
# stop, in a worker process as in a thread; the executor kills its group
# before the supervisor exits, and the process job goes back to pending.
SD=$(enq inproc "{\"shell\": \"trap '' TERM; sleep 1000.${M}9 & exec sleep 1000.${M}9\"}" 2 60)
SP=$(enq sh "{\"shell\": \"trap '' TERM; sleep 1000.${M}8 & exec sleep 1000.${M}8\"}" 2 60)
wait_for "pgrep -f 'sleep 1000[.]${M}9' >/dev/null" 10 "a long thread job runs"
wait_for "pgrep -f 'sleep 1000[.]${M}8' >/dev/null" 10 "a long process job runs"
kill -TERM $SERVE
wait $SERVE
assert_eq 0 $? "serve exits 0 on SIGTERM"
assert_no_match "sleep 1000[.]${M}9" "$(pgrep -af "sleep 1000[.]${M}9")" "the cancelled thread job left no process"
assert_match 'shell: cancelled: killed process group' "$(col $SD last_error)" "cancellation recorded"
assert_no_match "sleep 1000[.]${M}8" "$(pgrep -af "sleep 1000[.]${M}8")" "the stopped process job left no process"
assert_eq pending "$(col $SP status)" "the stopped process job is pending again"
assert_match '^released\|released at shutdown' \
	"$(jv_psql "SELECT outcome || '|' || error FROM jobvisor.job_executions WHERE job_id = $SP")" \
	"its attempt is recorded as released"
jv_done
