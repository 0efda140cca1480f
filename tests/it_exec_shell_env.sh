#!/bin/sh
# it_exec_shell_env.sh -- the environment of the shell executor's programs
# (issue 14, items 1 and 2), through a real `jobvisor serve` against a real
# PostgreSQL, in process and thread isolation:
#  - a payload's env cannot set what decides how a program starts: the
#    BASH_ENV exploit (stdin run by bash's start-up hook) is refused for good
#    and runs nothing; LD_PRELOAD, PATH and kin stay refused even when a
#    broad allowed_env entry would admit them; other variables need
#    allowed_env;
#  - programs start from a clean environment (PATH, LANG, TZ, the account's
#    HOME, USER, LOGNAME), plus pass_env, plus the instance's env; nothing
#    else of the supervisor's;
#  - a variable the config reads with ${VAR} (here the API token) is taken
#    out of serve's environment: no job sees it, not through env, not
#    through /proc/$PPID/environ of its worker or of serve; a reload still
#    expands it, and pass_env naming it is a FILE:LINE:COL error;
#  - config errors for allowed_env, pass_env and clear_env: false.
# Phase 1 uses only keys older versions know, so it shows the old behaviour
# failing; phase 2 reloads into the new keys.
. "${top_srcdir:-.}/tests/lib.sh"

jv_db
jv_plugin shell
command -v bash >/dev/null 2>&1 || skip_all "bash is needed for the BASH_ENV exploit"
command -v curl >/dev/null 2>&1 || skip_all "curl not found"

SECRET="jv-secret-$$-do-not-leak"
ACCOUNT_HOME=$(getent passwd "$(id -u)" | cut -d: -f6)
ACCOUNT_NAME=$(id -un)
[ -n "$ACCOUNT_HOME" ] || skip_all "this account has no passwd entry"

cat >"$JV_TMP/report.sh" <<'EOF'
#!/bin/bash
echo report done
EOF
chmod 0755 "$JV_TMP/report.sh"
PWNED=$JV_TMP/pwned

# ------------------------------------------------------------ phase 1: old keys only
cat >"$JV_TMP/phase1.yaml" <<YAML
  plain:
    plugin: shell
    allowed_commands: ["/bin/*", "/usr/bin/*", "$JV_TMP/report.sh"]
  inproc:
    plugin: shell
    isolation: thread
    allowed_commands: ["/bin/*", "/usr/bin/*"]
api:
  listen: "127.0.0.1:0"
  token: "\${JV_SECRET_TOKEN}"
YAML
jv_write_config "$JV_CONF" "$(cat "$JV_TMP/phase1.yaml")"
jv_conf_set "$JV_CONF" \
	processor.heartbeat_interval_ms 200 \
	processor.max_concurrent_jobs 2
JV_SECRET_TOKEN=$SECRET run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

jv_bg env JV_SECRET_TOKEN="$SECRET" JV_PASS_ME=passed JV_PFX_ONE=one JV_NOT_LISTED=nope \
	JV_LATE_VAR=late HOME=/nonexistent/jv-home LANG=C.UTF-8 TZ=Europe/Berlin \
	"$JOBVISOR" serve -c "$JV_CONF"
SERVE=$BG_PID
SERVE_ERR=$JV_TMP/bg.$BG_N.err
jv_api_port "$SERVE_ERR"
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.processors WHERE pid = $SERVE AND state = 'running'\")\" = 1 ]" 10 \
	"processor registered as running"

enq()
{
	jv_psql "SELECT jobvisor.enqueue('$1', \$p\$$2\$p\$::jsonb, max_attempts => ${3:-1})"
}
finished()
{
	wait_for "[ -n \"\$(jv_psql \"SELECT 1 FROM jobvisor.jobs WHERE id = $1 AND status IN ('succeeded', 'failed')\")\" ]" 20 "job $1 finished"
}
ended()
{
	wait_for "[ \"\$(jv_psql \"SELECT status FROM jobvisor.jobs WHERE id = $1\")\" = $2 ]" 20 "job $1 $2"
}
col() { jv_psql "SELECT $2 FROM jobvisor.jobs WHERE id = $1"; }
exe() { jv_psql "SELECT $2 FROM jobvisor.job_executions WHERE job_id = $1 ORDER BY attempt DESC LIMIT 1"; }
ENVIRON_OF_PARENT='{"command": ["/bin/sh", "-c", "tr \"\\\\000\" \"\\\\n\" < /proc/$PPID/environ"]}'

# The exploit from the issue: bash runs the file BASH_ENV names at start-up.
X1=$(enq plain "{\"command\": [\"$JV_TMP/report.sh\"], \"env\": {\"BASH_ENV\": \"/proc/self/fd/0\"}, \"stdin\": \"id > $PWNED\"}" 3)
P_ENV=$(enq plain '{"command": ["/usr/bin/env"]}')
T_ENV=$(enq inproc '{"command": ["/usr/bin/env"]}')
P_PROC=$(enq plain "$ENVIRON_OF_PARENT")
T_PROC=$(enq inproc "$ENVIRON_OF_PARENT")
REPORT=$(enq plain "{\"command\": [\"$JV_TMP/report.sh\"]}")
for j in $X1 $P_ENV $T_ENV $P_PROC $T_PROC $REPORT; do finished $j; done
[ ! -e "$PWNED" ] || fail "the BASH_ENV payload ran: $(cat "$PWNED")"
ok "the BASH_ENV payload ran nothing"
assert_no_match "$SECRET" "$(exe $P_ENV output)" "the secret the config read is not in a job's environment"
ended $X1 failed
for j in $P_ENV $T_ENV $P_PROC $T_PROC $REPORT; do ended $j succeeded; done
assert_eq "1|shell: payload.env.BASH_ENV is refused: it decides how a program starts (the shell), which a payload never may" \
	"$(col $X1 "attempts, last_error")" "BASH_ENV from a payload: refused for good, named"
assert_eq "report done" "$(exe $REPORT output)" "the allowed script itself runs"

for j in $P_ENV $T_ENV; do
	E=$(exe $j output)
	assert_no_match "$SECRET" "$E" "job $j: the secret the config read is not in the job's environment"
	assert_no_match 'JV_SECRET_TOKEN' "$E" "job $j: nor its name"
	assert_no_match 'JV_PASS_ME|JV_PFX_ONE|JV_NOT_LISTED|JV_LATE_VAR' "$E" "job $j: nothing else of the supervisor's"
	assert_match '^PATH=/usr/local/bin:/usr/bin:/bin$' "$E" "job $j: the default PATH"
	assert_match "^HOME=$ACCOUNT_HOME\$" "$E" "job $j: HOME is the account's, not the supervisor's"
	assert_match "^USER=$ACCOUNT_NAME\$" "$E" "job $j: USER is the account's"
	assert_match "^LOGNAME=$ACCOUNT_NAME\$" "$E" "job $j: LOGNAME is the account's"
	assert_match '^LANG=C.UTF-8$' "$E" "job $j: LANG from the supervisor"
	assert_match '^TZ=Europe/Berlin$' "$E" "job $j: TZ from the supervisor"
done
# /proc/$PPID/environ: of the worker (process), of serve itself (thread).
for j in $P_PROC $T_PROC; do
	E=$(exe $j output)
	# (Only root reads it: serve and its workers are not dumpable, so a
	# job of the same account is refused -- it_serve_nondumpable.sh.)
	[ "$(id -u)" != 0 ] ||
		assert_match '^JV_PASS_ME=passed$' "$E" "job $j: the parent's environment block was read"
	assert_no_match "$SECRET" "$E" "job $j: the secret is not in its parent's environment block"
done
assert_no_match "$SECRET" "$(tr '\000' '\n' </proc/$SERVE/environ)" "/proc/PID/environ of serve: no secret"
assert_match 'took the variables the configuration reads out of the environment .*: JV_SECRET_TOKEN$' \
	"$(cat "$SERVE_ERR")" "serve says which variables it took out (names only)"
assert_no_match "$SECRET" "$(cat "$SERVE_ERR")" "the secret is not logged"

# ------------------------------------------------------------ phase 2: reload into the new keys
cat >"$JV_TMP/phase2.yaml" <<YAML
  plain:
    plugin: shell
    allowed_commands: ["/bin/*", "/usr/bin/*", "$JV_TMP/report.sh"]
    allowed_env: [APP_*, "B*", "L*"]
    pass_env: [JV_PASS_ME, JV_PFX_*, JV_UNSET_*, JV_UNSET]
    env: { INST_VAR: inst, APP_SHARED: inst }
  inproc:
    plugin: shell
    isolation: thread
    allowed_commands: ["/bin/*", "/usr/bin/*"]
    pass_env: [JV_PASS_ME]
    clear_env: true
api:
  listen: "127.0.0.1:0"
  token: "\${JV_SECRET_TOKEN}"
  webhook_secret: "\${JV_LATE_VAR}"
YAML
jv_write_config "$JV_CONF" "$(cat "$JV_TMP/phase2.yaml")"
jv_conf_set "$JV_CONF" \
	processor.heartbeat_interval_ms 200 \
	processor.max_concurrent_jobs 2
kill -HUP $SERVE
wait_for "grep -q 'reloaded: ' '$SERVE_ERR'" 20 "the new config is applied"
assert_no_match 'reload refused' "$(cat "$SERVE_ERR")" "the reload expands \${JV_SECRET_TOKEN} from serve's private copy"
assert_match "$(basename "$JV_CONF"):[0-9]+:[0-9]+: \\\$\\{JV_LATE_VAR\\} was not read at start-up, so it stays in the environment of serve" \
	"$(cat "$SERVE_ERR")" "a variable first read at a reload is warned about, with its place"
jv_api_port "$SERVE_ERR"
call GET /api/cron/status -H "Authorization: Bearer $SECRET"
assert_eq 200 "$CODE" "the reloaded API token is the secret from the start"

A1=$(enq plain '{"command": ["/usr/bin/env"], "env": {"APP_X": "x", "APP_SHARED": "job", "LANG": "C"}}')
T1=$(enq inproc '{"command": ["/usr/bin/env"]}')
R_LD=$(enq plain '{"command": ["/usr/bin/env"], "env": {"LD_PRELOAD": "/nonexistent/evil.so"}}' 3)
R_BASH=$(enq plain "{\"command\": [\"$JV_TMP/report.sh\"], \"env\": {\"BASH_ENV\": \"/proc/self/fd/0\"}, \"stdin\": \"id > $PWNED\"}" 3)
R_PATH=$(enq plain '{"command": ["/usr/bin/env"], "env": {"PATH": "/tmp"}}' 3)
R_CASE=$(enq plain '{"command": ["/usr/bin/env"], "env": {"Ld_Audit": "/tmp/x.so"}}' 3)
R_OTHER=$(enq plain '{"command": ["/usr/bin/env"], "env": {"OTHER": "x"}}' 3)
R_INPROC=$(enq inproc '{"command": ["/usr/bin/env"], "env": {"APP_X": "x"}}' 3)
for j in $A1 $T1; do ended $j succeeded; done
for j in $R_LD $R_BASH $R_PATH $R_CASE $R_OTHER $R_INPROC; do ended $j failed; done
E=$(exe $A1 output)
assert_match '^APP_X=x$' "$E" "an admitted payload variable is passed (APP_*)"
assert_match '^APP_SHARED=job$' "$E" "the payload's admitted variable wins over the instance's env"
assert_match '^LANG=C$' "$E" "a broad prefix (L*) admits an ordinary variable"
assert_match '^INST_VAR=inst$' "$E" "the instance's env"
assert_match '^JV_PASS_ME=passed$' "$E" "pass_env: a name"
assert_match '^JV_PFX_ONE=one$' "$E" "pass_env: a prefix"
assert_no_match 'JV_NOT_LISTED|JV_LATE_VAR|JV_SECRET_TOKEN' "$E" "pass_env: nothing it does not list"
assert_match "^HOME=$ACCOUNT_HOME\$" "$E" "HOME is still the account's"
E=$(exe $T1 output)
assert_match '^JV_PASS_ME=passed$' "$E" "thread isolation: pass_env"
assert_no_match "$SECRET|JV_NOT_LISTED" "$E" "thread isolation: nothing else, no secret"
assert_match '^PATH=/usr/local/bin:/usr/bin:/bin$' "$E" "clear_env: true is accepted, and changes nothing"
assert_eq "1|shell: payload.env.LD_PRELOAD is refused: it decides how a program starts (the dynamic loader), which a payload never may" \
	"$(col $R_LD "attempts, last_error")" "LD_PRELOAD refused for good, though allowed_env has L*"
assert_match 'payload.env.BASH_ENV is refused: it decides how a program starts' "$(col $R_BASH last_error)" \
	"BASH_ENV refused, though allowed_env has B*"
[ ! -e "$PWNED" ] || fail "the BASH_ENV payload ran: $(cat "$PWNED")"
ok "and it ran nothing"
assert_match 'payload.env.PATH is refused: it decides how a program starts \(which program a name finds\)' \
	"$(col $R_PATH last_error)" "PATH from a payload refused"
assert_match 'payload.env.Ld_Audit is refused: .*the dynamic loader' "$(col $R_CASE last_error)" \
	"start-up variables are matched whatever their case"
assert_eq "1|shell: payload.env.OTHER is refused: it is not in allowed_env of executor 'plain'" \
	"$(col $R_OTHER "attempts, last_error")" "a variable allowed_env does not admit: refused for good, named"
assert_match "payload.env.APP_X is refused: it is not in allowed_env of executor 'inproc'" \
	"$(col $R_INPROC last_error)" "without allowed_env no payload variable is admitted"
for j in $R_LD $R_BASH $R_PATH $R_CASE $R_OTHER $R_INPROC; do
	assert_eq 0 "$(jv_psql "SELECT count(*) FROM jobvisor.job_executions WHERE job_id = $j AND output <> ''")" \
		"job $j: no program ran"
done

kill -TERM $SERVE
wait $SERVE
assert_eq 0 $? "serve exits 0 on SIGTERM"
# ------------------------------------------------------------ config errors
bad_config()
{
	jv_write_config "$JV_TMP/bad.yaml" "  sh: { plugin: shell, $1 }
api: { listen: \"127.0.0.1:0\", token: \"\${JV_SECRET_TOKEN}\" }"
	JV_SECRET_TOKEN=$SECRET run "$JOBVISOR" check-config -c "$JV_TMP/bad.yaml"
	[ "$RC" != 0 ] || fail "check-config accepted: $1"
	assert_match "$2" "$ERR$OUT" "config refused: $1"
	assert_no_match "$SECRET" "$ERR$OUT" "the refusal does not show the secret: $1"
}
PLACE="$JV_TMP/bad\\.yaml:[0-9]+:[0-9]+: "
bad_config 'allowed_env: ["LD_*"]' \
	"${PLACE}executors\\.sh\\.allowed_env: item 1 \\('LD_\\*'\\) admits only variables that decide how a program starts \\(the dynamic loader\\)"
bad_config 'allowed_env: [APP_X, BASH_ENV]' \
	"${PLACE}executors\\.sh\\.allowed_env: item 2 \\('BASH_ENV'\\) is a variable that decides how a program starts \\(the shell\\)"
bad_config 'allowed_env: ["*"]' "${PLACE}executors\\.sh\\.allowed_env: item 1 \\('\\*'\\) must be a variable name"
bad_config 'allowed_env: ["A-B"]' "${PLACE}executors\\.sh\\.allowed_env: item 1 \\('A-B'\\) must be a variable name"
bad_config 'pass_env: ["X*Y"]' "${PLACE}executors\\.sh\\.pass_env: item 1 \\('X\\*Y'\\) must be a variable name"
bad_config 'pass_env: [HOSTNAME, JV_SECRET_TOKEN]' \
	"^$JV_TMP/bad\\.yaml:12:45: executors\\.sh\\.pass_env: 'JV_SECRET_TOKEN' is read by this configuration \\(\\\$\\{JV_SECRET_TOKEN\\} at 13:38\\)"
bad_config 'clear_env: false' "${PLACE}executors\\.sh\\.clear_env: false is no longer supported: .*pass_env"

jv_done
