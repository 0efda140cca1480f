#!/bin/sh
# it_systemd.sh -- jobvisor under systemd:
#  - the generated unit passes `systemd-analyze verify`, with no word about it,
#    and make install/uninstall put and take it and its sysusers.d entry;
#  - `serve` speaks the notify protocol to a real datagram socket
#    (tests/servers/notifyd.py): READY=1 only once its processor row is in
#    the database and its workers are forked, WATCHDOG=1 every
#    WATCHDOG_USEC/2, RELOADING=1 (MONOTONIC_USEC=) then READY=1 on SIGHUP,
#    STOPPING=1 on SIGTERM, STATUS= as jobs run, every message from the
#    main pid; an abstract socket too; nothing of it reaches jobs; no
#    READY=1 when the database cannot be reached;
#  - as root: refused without user: or allow_root:, and with user: nobody
#    the supervisor, its workers and its jobs run as nobody.
. "${top_srcdir:-.}/tests/lib.sh"

command -v python3 >/dev/null 2>&1 || fail "python3 not found (tests/servers/notifyd.py)"
command -v systemd-analyze >/dev/null 2>&1 ||
	fail "systemd-analyze not found (Debian: apt-get install systemd; contrib/deps.sh does)"
command -v pgrep >/dev/null 2>&1 || fail "pgrep not found (procps)"
NOTIFYD=$top_srcdir/tests/servers/notifyd.py

# ---------------------------------------------------------------- the unit
UNIT=$top_builddir/conf/jobvisor.service
[ -f "$UNIT" ] || fail "$UNIT was not built"
U=$(cat "$UNIT")
assert_no_match '@[a-z]+@' "$U" "every @dir@ of the unit is substituted"
assert_match '^ExecStart=/.*/jobvisor serve -c /.*/jobvisor/jobvisor\.yaml$' "$U" "ExecStart: installed binary and config"
for kv in Type=notify NotifyAccess=main 'ExecReload=/bin/kill -HUP \$MAINPID' KillMode=mixed \
	User=jobvisor Group=jobvisor NoNewPrivileges=yes ProtectSystem=strict CapabilityBoundingSet= \
	LimitNOFILE=1024:65536; do
	assert_match "^$kv\$" "$U" "unit: $kv"
done
STOP_S=$(printf '%s\n' "$U" | sed -n 's/^TimeoutStopSec=\([0-9]*\)s$/\1/p')
[ -n "$STOP_S" ] && [ "$STOP_S" -gt 40 ] || fail "TimeoutStopSec ($STOP_S) must exceed shutdown_grace_seconds (30) and the exit's recording"
ok "TimeoutStopSec=${STOP_S}s is above shutdown_grace_seconds' default (30 s)"

# verify needs ExecStart's binary: a copy of the unit runs the built one.
mkdir "$JV_TMP/unit" "$JV_TMP/typo"
sed "s|^ExecStart=[^ ]*|ExecStart=$JOBVISOR|" "$UNIT" >"$JV_TMP/unit/jobvisor.service"
run systemd-analyze verify "$JV_TMP/unit/jobvisor.service"
assert_rc 0 "systemd-analyze verify"
# (In a container it may talk about the host; not about our unit.)
assert_no_match 'jobvisor\.service' "$OUT
$ERR" "systemd-analyze verify says nothing about jobvisor.service"
sed 's/^NotifyAccess=/NotifyAcess=/' "$JV_TMP/unit/jobvisor.service" >"$JV_TMP/typo/jobvisor.service"
run systemd-analyze verify "$JV_TMP/typo/jobvisor.service"
assert_match "jobvisor\\.service:[0-9]+: Unknown key 'NotifyAcess'" "$ERR" \
	"the check can fail: a misspelt key is reported"

# make install puts the unit and the sysusers.d entry where configured;
# make uninstall takes them away. (The nested make must not join the outer
# make's job server.)
mk() { run env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory -C "$top_builddir" "$@"; }
mk jv-print-systemd-dirs
assert_rc 0 "make jv-print-systemd-dirs"
UNITDIR=$(printf '%s\n' "$OUT" | sed -n 's/^systemdsystemunitdir=//p')
SYSUSERSDIR=$(printf '%s\n' "$OUT" | sed -n 's/^sysusersdir=//p')
[ "$UNITDIR" != no ] || fail "configured --with-systemdsystemunitdir=no: nothing to check the install of"
ROOT=$JV_TMP/root
mk install DESTDIR="$ROOT"
assert_rc 0 "make install DESTDIR"
cmp -s "$UNIT" "$ROOT$UNITDIR/jobvisor.service" || fail "no $UNITDIR/jobvisor.service, or not the built unit"
ok "the unit is installed into $UNITDIR"
cmp -s "$top_srcdir/conf/sysusers.d/jobvisor.conf" "$ROOT$SYSUSERSDIR/jobvisor.conf" ||
	fail "no $SYSUSERSDIR/jobvisor.conf, or not conf/sysusers.d/jobvisor.conf"
ok "the sysusers.d entry into $SYSUSERSDIR"
assert_match '^u jobvisor - ' "$(cat "$ROOT$SYSUSERSDIR/jobvisor.conf")" "it creates the unit's User=jobvisor"
mk uninstall DESTDIR="$ROOT"
assert_rc 0 "make uninstall DESTDIR"
[ ! -e "$ROOT$UNITDIR/jobvisor.service" ] && [ ! -e "$ROOT$SYSUSERSDIR/jobvisor.conf" ] ||
	fail "make uninstall left the unit or the sysusers.d entry"
ok "make uninstall removes both"

# ---------------------------------------------------------------- notify
jv_db
jv_plugin shell
jv_write_config "$JV_CONF" "  sh: { plugin: shell, allow_shell: true,
        pass_env: [JV_SD_MARK, NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID] }"
jv_conf_set "$JV_CONF" \
	processor.heartbeat_interval_ms 200 \
	processor.max_concurrent_jobs 3 \
	processor.shutdown_grace_seconds 5
run "$JOBVISOR" migrate -c "$JV_CONF"
assert_rc 0 "migrate"

# notifyd SOCKET LOG [--stop-on-ready]: a reader on SOCKET, bound on return
notifyd()
{
	rm -f "$JV_TMP/nd.ready"
	jv_bg python3 "$NOTIFYD" --socket "$1" --log "$2" --ready-file "$JV_TMP/nd.ready" ${3:-}
	wait_for "[ -f '$JV_TMP/nd.ready' ]" 10 "notifyd listens on $1"
}
# nq LOG EXPR: EXPR in Python over L, the log's messages in order
nq()
{
	python3 -c "import json, sys
L = [json.loads(l) for l in open(sys.argv[1])]
def kinds(L):
    return ' '.join(k for m in L for k in ('READY', 'RELOADING', 'STOPPING') if k in m['msg'])
print($2)" "$1"
}
enq() { jv_psql "SELECT jobvisor.enqueue('$1', \$p\$$2\$p\$::jsonb, max_attempts => 1)"; }
ended()
{
	wait_for "[ \"\$(jv_psql \"SELECT status FROM jobvisor.jobs WHERE id = $1\")\" = $2 ]" 20 "job $1 $2"
}
output() { jv_psql "SELECT output FROM jobvisor.job_executions WHERE job_id = $1"; }
uid_line() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" | tr -s ' \t' ' '; }

NLOG=$JV_TMP/notify.log
notifyd "$JV_TMP/notify.sock" "$NLOG" --stop-on-ready
ND=$BG_PID
# WATCHDOG_PID names serve itself: the shell's pid, kept by exec.
JV_SD_MARK=inherited
export JV_SD_MARK
jv_bg env NOTIFY_SOCKET="$JV_TMP/notify.sock" WATCHDOG_USEC=1000000 \
	sh -c 'export WATCHDOG_PID=$$; exec "$0" serve -c "$1"' "$JOBVISOR" "$JV_CONF"
SERVE=$BG_PID
SERR=$JV_TMP/bg.$BG_N.err
wait_for "grep -q 'READY=1' '$NLOG'" 20 "READY=1 arrives"
# notifyd stopped serve the moment READY=1 came: look at it as it was.
wait_for "[ \"\$(sed 's/.*) //' /proc/$SERVE/stat | cut -c1)\" = T ]" 5 "serve is held where it said READY=1"
assert_eq 1 "$(jv_psql "SELECT count(*) FROM jobvisor.processors WHERE pid = $SERVE AND state = 'running'")" \
	"at READY=1 its processor row is in the database"
assert_eq 3 "$(pgrep -P "$SERVE" | wc -l | tr -d ' ')" "at READY=1 its 3 workers are forked"
assert_eq "$SERVE" "$(nq "$NLOG" "L[0]['msg'].get('MAINPID')")" "READY=1 carries MAINPID= (serve's pid)"
assert_match '^running; jobs running: 0, done: 0; processor [0-9]+$' "$(nq "$NLOG" "L[0]['msg'].get('STATUS')")" \
	"READY=1 carries a STATUS= line"
kill -CONT "$SERVE"

# Jobs never see the socket (nor the watchdog), even through pass_env.
J=$(enq sh '{"shell": "env; sleep 1"}')
wait_for "nq '$NLOG' \"any(m['msg'].get('STATUS', '').startswith('running; jobs running: 1,') for m in L)\" | grep -q True" 10 \
	"STATUS= follows the running job"
ended "$J" succeeded
ENV_OUT=$(output "$J")
assert_match '^JV_SD_MARK=inherited$' "$ENV_OUT" "a job gets what pass_env names of serve's environment"
assert_no_match '^(NOTIFY_SOCKET|WATCHDOG_USEC|WATCHDOG_PID)=' "$ENV_OUT" \
	"... but not NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID"
wait_for "nq '$NLOG' \"any(m['msg'].get('STATUS', '').startswith('running; jobs running: 0, done: 1;') for m in L)\" | grep -q True" 10 \
	"STATUS= counts the job done"

# The watchdog: every 0.5 s (WATCHDOG_USEC/2) from the main loop.
N0=$(nq "$NLOG" "sum('WATCHDOG' in m['msg'] for m in L)")
wait_for "[ \$(nq '$NLOG' \"sum('WATCHDOG' in m['msg'] for m in L)\") -ge $((N0 + 7)) ]" 10 "7 more WATCHDOG=1 pings"
W=$(nq "$NLOG" "[m['t'] for m in L if 'WATCHDOG' in m['msg']][-7:]")
MEAN=$(python3 -c "w = $W; print('%.3f' % ((w[-1] - w[0]) / (len(w) - 1)))")
MAXGAP=$(python3 -c "w = $W; print('%.3f' % max(b - a for a, b in zip(w, w[1:])))")
MINGAP=$(python3 -c "w = $W; print('%.3f' % min(b - a for a, b in zip(w, w[1:])))")
echo "# watchdog: 6 gaps, mean $MEAN s, min $MINGAP s, max $MAXGAP s (want 0.5)"
python3 -c "import sys; sys.exit(not (0.4 <= $MEAN <= 0.65))" || fail "mean ping interval $MEAN s, want about 0.5 s"
ok "pings every $MEAN s on average (WATCHDOG_USEC=1000000)"
python3 -c "import sys; sys.exit(not ($MINGAP >= 0.3 and $MAXGAP < 1.0))" ||
	fail "ping gaps from $MINGAP to $MAXGAP s: want none under 0.3 s nor any reaching WATCHDOG_USEC (1 s)"
ok "no gap reaches WATCHDOG_USEC (max $MAXGAP s), none is early (min $MINGAP s)"

# SIGHUP: RELOADING=1 with the monotonic time, then READY=1.
kill -HUP "$SERVE"
wait_for "nq '$NLOG' 'kinds(L)' | grep -qx 'READY RELOADING READY'" 15 "SIGHUP: RELOADING=1, then READY=1"
D=$(nq "$NLOG" "[abs(int(m['msg']['MONOTONIC_USEC']) / 1e6 - m['t']) for m in L if 'RELOADING' in m['msg']][0]")
python3 -c "import sys; sys.exit(not ($D < 2))" || fail "MONOTONIC_USEC is $D s away from CLOCK_MONOTONIC at receipt"
ok "RELOADING=1 carries MONOTONIC_USEC= on CLOCK_MONOTONIC ($D s before receipt)"

# SIGTERM: STOPPING=1, and serve exits 0.
kill -TERM "$SERVE"
wait "$SERVE"
assert_eq 0 $? "serve exits 0 on SIGTERM"
assert_eq "READY RELOADING READY STOPPING" "$(nq "$NLOG" 'kinds(L)')" "in order: READY, RELOADING, READY, STOPPING"
assert_match '^stopping; ' "$(nq "$NLOG" "[m['msg'].get('STATUS') for m in L if 'STOPPING' in m['msg']][0]")" \
	"STOPPING=1 carries a STATUS= line"
assert_eq "$SERVE" "$(nq "$NLOG" "' '.join(sorted(set(str(m['pid']) for m in L)))")" \
	"every message came from serve's main pid (NotifyAccess=main)"
jv_kill_pid "$ND"

# An abstract socket; a WATCHDOG_PID of another process: no pings.
ALOG=$JV_TMP/abstract.log
notifyd "@jv-it-systemd-$$" "$ALOG"
ND=$BG_PID
jv_bg env NOTIFY_SOCKET="@jv-it-systemd-$$" WATCHDOG_USEC=100000 WATCHDOG_PID=1 \
	"$JOBVISOR" serve -c "$JV_CONF"
SERVE=$BG_PID
wait_for "grep -q 'READY=1' '$ALOG'" 20 "abstract socket: READY=1 arrives"
J=$(enq sh '{"shell": "true"}')
ended "$J" succeeded
kill -TERM "$SERVE"
wait "$SERVE"
assert_eq 0 $? "abstract socket: serve exits 0 on SIGTERM"
assert_eq "READY STOPPING" "$(nq "$ALOG" 'kinds(L)')" "abstract socket: READY=1, then STOPPING=1"
assert_eq 0 "$(nq "$ALOG" "sum('WATCHDOG' in m['msg'] for m in L)")" \
	"no WATCHDOG=1 when WATCHDOG_PID names another process"
jv_kill_pid "$ND"

# The database out of reach: serve gives up without READY=1.
FLOG=$JV_TMP/nodb.log
notifyd "$JV_TMP/nodb.sock" "$FLOG"
ND=$BG_PID
jv_write_config "$JV_TMP/nodb.yaml"
jv_conf_set "$JV_TMP/nodb.yaml" database.url '"postgresql://127.0.0.1:1/nodb?connect_timeout=2"'
NOTIFY_SOCKET=$JV_TMP/nodb.sock run "$JOBVISOR" serve -c "$JV_TMP/nodb.yaml"
assert_rc 1 "the database out of reach: serve exits 1"
assert_match 'could not connect to database' "$ERR" "... and says why"
assert_no_match 'READY=1' "$(cat "$FLOG")" "... without READY=1"
jv_kill_pid "$ND"

# ---------------------------------------------------------------- root
if [ "$(id -u)" != 0 ]; then
	echo "# not root: the root checks need root (CI runs them)"
	jv_done
fi

JV_ROOT_YAML= jv_write_config "$JV_TMP/root.yaml"
RLOG=$JV_TMP/root.log
notifyd "$JV_TMP/root.sock" "$RLOG"
ND=$BG_PID
NOTIFY_SOCKET=$JV_TMP/root.sock run "$JOBVISOR" serve -c "$JV_TMP/root.yaml"
assert_rc 1 "as root without user: or allow_root: serve refuses"
assert_match "error: refusing to run as root: set user: ACCOUNT in $JV_TMP/root\\.yaml to switch to that account, or allow_root: true \\(discouraged\\)\$" \
	"$ERR" "... in one line that says what to set"
assert_no_match 'READY=1' "$(cat "$RLOG")" "... without READY=1"
jv_kill_pid "$ND"

JV_ROOT_YAML="user: jv_no_such_user_$$" jv_write_config "$JV_TMP/nouser.yaml"
L=$(grep -n '^user:' "$JV_TMP/nouser.yaml" | cut -d: -f1)
run "$JOBVISOR" serve -c "$JV_TMP/nouser.yaml"
assert_rc 1 "user: an unknown account is refused"
assert_match "$JV_TMP/nouser\\.yaml:$L:7: user: unknown account 'jv_no_such_user_$$'" "$ERR" "... at FILE:LINE:COL"

NOBODY_UID=$(id -u nobody)
NOBODY_GID=$(id -g nobody)
NOBODY_HOME=$(getent passwd nobody | cut -d: -f6)
JV_ROOT_YAML="user: nobody" jv_write_config "$JV_TMP/nobody.yaml" "  sh: { plugin: shell, allow_shell: true }"
jv_conf_set "$JV_TMP/nobody.yaml" \
	processor.heartbeat_interval_ms 200 \
	processor.max_concurrent_jobs 2
jv_bg "$JOBVISOR" serve -c "$JV_TMP/nobody.yaml"
SERVE=$BG_PID
SERR=$JV_TMP/bg.$BG_N.err
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.processors WHERE pid = $SERVE AND state = 'running'\")\" = 1 ]" 15 \
	"user: nobody: serve runs and reaches the database"
assert_eq "$NOBODY_UID $NOBODY_UID $NOBODY_UID $NOBODY_UID" "$(uid_line "$SERVE" Uid)" "serve's real, effective, saved and fs uid are nobody's"
assert_eq "$NOBODY_GID $NOBODY_GID $NOBODY_GID $NOBODY_GID" "$(uid_line "$SERVE" Gid)" "... and so are its gids"
assert_no_match '(^| )0( |$)' "$(uid_line "$SERVE" Groups)" "... and root's group is not among its groups"
assert_match "running as user nobody \\(uid $NOBODY_UID, gid $NOBODY_GID\\)" "$(cat "$SERR")" "serve says who it runs as"
W=$(pgrep -P "$SERVE" | head -n 1)
[ -n "$W" ] || fail "serve has no worker"
assert_eq "$NOBODY_UID $NOBODY_UID $NOBODY_UID $NOBODY_UID" "$(uid_line "$W" Uid)" "its workers run as nobody"
J=$(enq sh '{"shell": "id -u; id -g; echo \"$HOME\""}')
ended "$J" succeeded
assert_eq "$NOBODY_UID
$NOBODY_GID
$NOBODY_HOME" "$(output "$J")" "its jobs run as nobody, with nobody's HOME"
kill -TERM "$SERVE"
wait "$SERVE"
assert_eq 0 $? "user: nobody: serve exits 0 on SIGTERM"
assert_eq stopped "$(jv_psql "SELECT state FROM jobvisor.processors WHERE pid = $SERVE")" \
	"... and marks its processor stopped (the database still works as nobody)"

jv_done
