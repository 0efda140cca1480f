#!/bin/sh
# pg.sh -- a private, throw-away PostgreSQL cluster for the tests.
#
# Two ways to use it:
#
#   . tests/pg.sh            # from a POSIX shell script, then:
#   jv_pg_start              # start a cluster, export JV_TEST_DATABASE_URL;
#                            #   stopped automatically when the script exits
#   jv_pg_stop               # stop it now (by its postmaster PID), remove its files
#
#   sh tests/pg.sh run CMD [ARG...]
#                            # start a cluster, run CMD with JV_TEST_DATABASE_URL
#                            #   exported, stop the cluster, exit with CMD's status
#                            #   (contrib/check.sh: `sh tests/pg.sh run make check`)
#
# The cluster lives in a fresh mktemp -d directory (data, socket and log all
# inside it), listens on 127.0.0.1 only, on a free port found by trying, with
# trust authentication for the superuser "postgres" and durability turned off
# for speed (fsync, synchronous_commit, full_page_writes). When run as root,
# initdb and postgres run as an unprivileged user (JV_PG_USER, default nobody).
#
# JV_PG_FIRST_PORT sets the first port tried (default: one derived from the
# PID and the clock, so parallel runs rarely collide; a collision only costs
# a retry).
#
# JV_PG_CONF_EXTRA, when set, is appended to postgresql.conf (bench.sh uses
# it to turn durability back on).
#
# The binaries are found through $JV_PG_BINDIR, else `pg_config --bindir`, else
# the newest /usr/lib/postgresql/*/bin. When there are none, jv_pg_start returns
# 77 (the automake "skipped" status); with JV_REQUIRE_PG=1 it returns 1 instead.
#
# Exit handlers: jv_on_exit CMD registers CMD to run when the script exits,
# normally or through INT/TERM/HUP; they run in reverse order. lib.sh uses
# the same list for everything it starts.

JV_EXIT_CMDS=${JV_EXIT_CMDS:-}
JV_EXIT_TRAPPED=${JV_EXIT_TRAPPED:-}

jv_run_exit_cmds()
{
	# Run once, even when both a signal and EXIT fire.
	_cmds=$JV_EXIT_CMDS
	JV_EXIT_CMDS=
	[ -n "$_cmds" ] || return 0
	eval "$_cmds"
}

jv_on_exit()
{
	# Prepend, so the handlers run in reverse order of registration.
	JV_EXIT_CMDS="$1 || :
$JV_EXIT_CMDS"
	if [ -z "$JV_EXIT_TRAPPED" ]; then
		JV_EXIT_TRAPPED=1
		trap 'jv_run_exit_cmds' EXIT
		trap 'jv_run_exit_cmds; trap - EXIT; exit 130' INT
		trap 'jv_run_exit_cmds; trap - EXIT; exit 143' TERM
		trap 'jv_run_exit_cmds; trap - EXIT; exit 129' HUP
	fi
}

# Print the directory holding initdb/pg_ctl/postgres, or nothing.
jv_pg_bindir()
{
	if [ -n "${JV_PG_BINDIR:-}" ] && [ -x "$JV_PG_BINDIR/initdb" ]; then
		echo "$JV_PG_BINDIR"
		return 0
	fi
	if command -v pg_config >/dev/null 2>&1; then
		_d=$(pg_config --bindir 2>/dev/null)
		if [ -n "$_d" ] && [ -x "$_d/initdb" ] && [ -x "$_d/pg_ctl" ]; then
			echo "$_d"
			return 0
		fi
	fi
	# The newest major version (sort -n on the path's version component).
	_best=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5,5n | tail -n 1)
	[ -n "$_best" ] && [ -x "$_best/initdb" ] || _best=
	[ -n "$_best" ] && echo "$_best"
	return 0
}

# Run a command as the cluster's owner (ourselves unless we are root).
jv_pg_as_owner()
{
	if [ "$(id -u)" = 0 ]; then
		if command -v runuser >/dev/null 2>&1; then
			runuser -u "$JV_PG_OWNER" -- "$@"
		else
			setpriv --reuid="$JV_PG_OWNER" --regid="$(id -g "$JV_PG_OWNER")" --clear-groups -- "$@"
		fi
	else
		"$@"
	fi
}

jv_pg_start()
{
	JV_PG_BIN=$(jv_pg_bindir)
	if [ -z "$JV_PG_BIN" ]; then
		if [ "${JV_REQUIRE_PG:-0}" = 1 ]; then
			echo "pg.sh: PostgreSQL server binaries (initdb, pg_ctl) not found, and JV_REQUIRE_PG=1" >&2
			return 1
		fi
		echo "pg.sh: PostgreSQL server binaries (initdb, pg_ctl) not found; skipping" >&2
		return 77
	fi
	JV_PG_OWNER=$(id -un)
	if [ "$(id -u)" = 0 ]; then
		JV_PG_OWNER=${JV_PG_USER:-nobody}
		if ! id "$JV_PG_OWNER" >/dev/null 2>&1; then
			echo "pg.sh: running as root, and the unprivileged user '$JV_PG_OWNER' does not exist (set JV_PG_USER)" >&2
			return 1
		fi
	fi

	# Under /tmp unless TMPDIR says otherwise: the owner must be able to reach
	# it, and the socket path must stay short (108 bytes).
	_base=${TMPDIR:-/tmp}
	if [ "$(id -u)" = 0 ] && ! jv_pg_as_owner test -x "$_base"; then
		_base=/tmp
	fi
	JV_PG_DIR=$(mktemp -d "$_base/jv-pg.XXXXXX") || return 1
	JV_PG_PID=
	jv_on_exit jv_pg_stop
	mkdir "$JV_PG_DIR/sock" || return 1
	if [ "$(id -u)" = 0 ]; then
		chown -R "$JV_PG_OWNER" "$JV_PG_DIR" || return 1
	fi

	if ! jv_pg_as_owner "$JV_PG_BIN/initdb" -D "$JV_PG_DIR/data" -U postgres --auth=trust \
		--encoding=UTF8 --locale=C --no-sync >"$JV_PG_DIR/initdb.log" 2>&1; then
		echo "pg.sh: initdb failed:" >&2
		cat "$JV_PG_DIR/initdb.log" >&2
		return 1
	fi
	cat >>"$JV_PG_DIR/data/postgresql.conf" <<EOF

# pg.sh: a throw-away test cluster
listen_addresses = '127.0.0.1'
unix_socket_directories = '$JV_PG_DIR/sock'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
log_min_messages = warning
log_min_error_statement = panic
${JV_PG_CONF_EXTRA:-}
EOF

	# A free port, found by trying: a port somebody else holds makes the
	# start fail with "could not bind", then we try the next one.
	# (the seconds without a leading zero: "08" is not a number to sh)
	_sec=$(date +%S | sed 's/^0//')
	_port=${JV_PG_FIRST_PORT:-$(( 20000 + ($$ * 7 + ${_sec:-0} * 131) % 30000 ))}
	_tries=0
	while :; do
		_tries=$((_tries + 1))
		: >"$JV_PG_DIR/postgres.log"
		[ "$(id -u)" = 0 ] && chown "$JV_PG_OWNER" "$JV_PG_DIR/postgres.log"
		if jv_pg_as_owner "$JV_PG_BIN/pg_ctl" -D "$JV_PG_DIR/data" -l "$JV_PG_DIR/postgres.log" \
			-o "-p $_port" -w -t 60 start >"$JV_PG_DIR/pg_ctl.log" 2>&1; then
			break
		fi
		# pg_ctl may have given up while the postmaster lives on: stop it.
		jv_pg_kill_postmaster
		if [ "$_tries" -lt 20 ] && grep -q -e 'could not bind' -e 'could not create any TCP/IP sockets' \
			-e 'lock file .* already exists' "$JV_PG_DIR/postgres.log"; then
			_port=$(( 20000 + (_port - 20000 + 997) % 30000 ))
			continue
		fi
		echo "pg.sh: could not start PostgreSQL (port $_port):" >&2
		cat "$JV_PG_DIR/pg_ctl.log" "$JV_PG_DIR/postgres.log" >&2
		return 1
	done
	JV_PG_PID=$(head -n 1 "$JV_PG_DIR/data/postmaster.pid")
	JV_PG_PORT=$_port
	JV_TEST_DATABASE_URL="postgresql://postgres@127.0.0.1:$_port/postgres"
	export JV_TEST_DATABASE_URL JV_PG_DIR JV_PG_PID JV_PG_PORT JV_PG_BIN
	return 0
}

# Stop the postmaster named in postmaster.pid, if any: fast shutdown, then
# SIGKILL after 30 s. Only ever signals that one PID.
jv_pg_kill_postmaster()
{
	[ -n "${JV_PG_DIR:-}" ] || return 0
	_pid=${JV_PG_PID:-}
	if [ -z "$_pid" ] && [ -f "$JV_PG_DIR/data/postmaster.pid" ]; then
		_pid=$(head -n 1 "$JV_PG_DIR/data/postmaster.pid")
	fi
	case $_pid in '' | *[!0-9]*) return 0 ;; esac
	kill -INT "$_pid" 2>/dev/null || return 0
	_i=0
	while kill -0 "$_pid" 2>/dev/null; do
		_i=$((_i + 1))
		if [ "$_i" -gt 300 ]; then
			kill -KILL "$_pid" 2>/dev/null
			break
		fi
		sleep 0.1
	done
	JV_PG_PID=
	return 0
}

jv_pg_stop()
{
	[ -n "${JV_PG_DIR:-}" ] || return 0
	jv_pg_kill_postmaster
	rm -rf "$JV_PG_DIR"
	JV_PG_DIR=
	return 0
}

# `sh tests/pg.sh run CMD...`
case ${0##*/} in
pg.sh)
	if [ "${1:-}" = run ] && [ $# -ge 2 ]; then
		shift
		jv_pg_start || exit $?
		"$@"
		_rc=$?
		jv_pg_stop
		exit $_rc
	fi
	echo "usage: sh tests/pg.sh run CMD [ARG...]   (or source it: . tests/pg.sh; jv_pg_start)" >&2
	exit 2
	;;
esac
