#!/bin/sh
# it_serve_nondumpable.sh -- a job cannot read the memory of the supervisor
# or of its worker, though it runs as the same account. The parsed config
# (database password, tokens, webhook URLs) lives in both; without this, a
# job could open /proc/PPID/mem or attach with ptrace. serve makes itself
# non-dumpable at start and its workers inherit that across fork(); a job's
# own program is dumpable again after its exec.
#
# serve runs as an unprivileged account, exec'ed as it (as systemd's User=
# does, where the kernel does not make it non-dumpable by itself): nobody
# when the test runs as root, else the test's own account. Each job tries
# /proc/$PPID/mem and /proc/$PPID/environ of its parent -- the worker in
# process isolation, serve itself in thread isolation -- and its own
# /proc/self/mem, which must still open.
. "${top_srcdir:-.}/tests/lib.sh"

jv_db
jv_plugin shell
AS=
if [ "$(id -u)" = 0 ]; then
	command -v setpriv >/dev/null 2>&1 || fail "setpriv (util-linux) not found"
	AS="setpriv --reuid=nobody --regid=$(id -g nobody) --clear-groups --"
	chmod 0711 "$JV_TMP" # nobody reaches the config and the plugin folder
fi

jv_write_config "$JV_CONF" "  sh: { plugin: shell, allowed_commands: [/bin/sh] }
  sh_t: { plugin: shell, isolation: thread, allowed_commands: [/bin/sh] }"
chmod 0644 "$JV_CONF"
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

jv_bg $AS "$JOBVISOR" serve -c "$JV_CONF"
SERVE=$BG_PID
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.processors WHERE state = 'running'\")\" = 1 ]" 10 \
	"serve runs"

PROBE='for f in mem environ; do if (exec 3</proc/$PPID/$f) 2>/dev/null; then echo parent-$f-opened; else echo parent-$f-refused; fi; done; (exec 3</proc/self/mem) && echo self-mem-opened; id -u'
for t in sh sh_t; do
	ID=$(jv_psql "SELECT jobvisor.enqueue('$t', jsonb_build_object('command', jsonb_build_array('/bin/sh', '-c', \$p\$$PROBE\$p\$)), max_attempts => 1)")
	wait_for "[ \"\$(jv_psql \"SELECT status FROM jobvisor.jobs WHERE id = $ID\")\" = succeeded ]" 20 \
		"job $ID ($t) succeeded"
	OUT=$(jv_psql "SELECT output FROM jobvisor.job_executions WHERE job_id = $ID")
	assert_match "^$(id -u "${AS:+nobody}")\$" "$OUT" "$t: the job runs as serve's account"
	assert_match '^self-mem-opened$' "$OUT" "$t: the job's own memory opens (the probe works)"
	assert_match '^parent-mem-refused$' "$OUT" "$t: its parent's memory is refused"
	assert_match '^parent-environ-refused$' "$OUT" "$t: its parent's environment block is refused"
done
jv_done
