#!/bin/sh
# lib.sh -- sourced by every integration test (tests/it_*.sh).
#
#   . "${top_srcdir:-.}/tests/lib.sh"
#
# Gives:
#   $JOBVISOR      the built jobvisor binary ($top_builddir/jobvisor)
#   $JV_NOOP_SO    the built noop executor plugin
#   $JV_TMP        a private temp directory, removed at exit
#   jv_db [NAME]   a FRESH database for this test; sets $JV_DB_URL, and
#                  writes a config $JV_CONF (exported as JOBVISOR_CONFIG)
#                  with database.url, plugins.dir (a copy of noop.so, modes
#                  0755/0644) and executors noop and slow (both plugin noop).
#                  The cluster is $JV_TEST_DATABASE_URL's (contrib/check.sh
#                  starts one for the whole run), else a private one started
#                  here through pg.sh. The database is dropped at exit.
#                  No PostgreSQL binaries: the test exits 77 (skipped),
#                  or fails when JV_REQUIRE_PG=1.
#   jv_write_config FILE [EXTRA_YAML]   another config for $JV_DB_URL; it
#                  ends with $JV_ROOT_YAML, "allow_root: true" unless set
#                  (tests run as root in CI, and serve refuses root without it)
#   jv_conf_set FILE KEY.PATH VALUE [KEY.PATH VALUE ...]   set keys of a
#                  config by their dotted path (processor.heartbeat_interval_ms,
#                  database.url, executors.capped): an existing key gets the
#                  new value on its line, a missing one goes at the end of
#                  its parent's block (top-level ones at the end of the
#                  file). VALUE is YAML as written (quote strings yourself:
#                  '"postgresql://..."', flow maps: '{ plugin: noop }'). The
#                  test fails when the parent is missing, is not a block
#                  mapping (say executors.noop: { plugin: noop }) or is there
#                  twice -- an edit never silently changes nothing. For the
#                  files jv_write_config writes (block mappings indented by
#                  spaces); a key set under a misspelt name is refused by
#                  jobvisor itself (unknown key).
#   jv_plugin NAME  copy the built plugin NAME.so (plugins/executors/NAME or
#                  plugins/alerts/NAME) into the test's plugin dir; fails the
#                  test when it was not built
#   jv_psql SQL    run SQL on $JV_DB_URL, print rows unaligned (a|b), fail on error
#   run CMD...     run CMD, keep stdout in $OUT, stderr in $ERR, status in $RC
#   fail MSG       report a failed check and exit 1 (everything is stopped)
#   ok MSG         count a passed check (and print it)
#   check ASSERTION ARGS...   run ASSERTION (assert_*, wait_for, or a
#                  function of the test that calls fail) without stopping the
#                  test when it fails: the failure is reported and counted,
#                  the test goes on, and jv_done exits 1. For checks that do
#                  not depend on each other; a failed prerequisite should stop
#                  the test (call the assertion without check).
#   assert_eq EXPECTED ACTUAL MSG
#   assert_rc EXPECTED MSG              $RC of the last run
#   assert_match REGEX TEXT MSG         grep -E
#   assert_no_match REGEX TEXT MSG
#   wait_for CMD TIMEOUT_S WHAT         poll CMD (a shell command string) every
#                                       0.1 s until it succeeds, else fail
#   jv_bg CMD...   start CMD in the background (its output in $JV_TMP/bg.N.out
#                  and .err); $BG_PID is its PID; killed by PID at exit
#   jv_api_port ERRFILE [TIMEOUT_S]  wait until the `jobvisor serve` whose
#                  stderr is ERRFILE says its API listens (api.listen port 0),
#                  then set $PORT and $B (http://127.0.0.1:PORT) from its
#                  last such line
#   call METHOD PATH [curl args...]  an HTTP request to $B$PATH: the status
#                  in $CODE, the body in $BODY, the headers in $HDRS (no token
#                  unless the args add one)
#   jv_done        print "N passed, M failed"; exit 0, or 1 when a check
#                  failed (M > 0)
#   jv_pgbouncer_start MODE   a private PgBouncer (pool_mode MODE: session,
#                  transaction or statement) in front of the cluster of
#                  $JV_DB_URL (call jv_db first): config, auth file and log
#                  in $JV_TMP, listening on 127.0.0.1 on a free port found
#                  by trying, trust authentication for the user of
#                  $JV_DB_URL, default_pool_size $JV_BOUNCER_POOL_SIZE
#                  (default 5) so that server connections are really shared,
#                  server_round_robin (one client's consecutive transactions
#                  go to different server connections, as under load; all
#                  of them open before it returns), an admin console for
#                  that user. Runs as $JV_PG_USER (default
#                  nobody) when we are root: PgBouncer refuses root. Sets
#                  $JV_BOUNCER_URL ($JV_DB_URL's database through PgBouncer),
#                  $JV_BOUNCER_ADMIN_URL (the console: SHOW POOLS),
#                  $JV_BOUNCER_PID and $JV_BOUNCER_LOG; stopped by its PID at
#                  exit. No pgbouncer: the test exits 77 (skipped), or fails
#                  when JV_REQUIRE_PG=1.
#   jv_pgbouncer_servers   the number of server connections to the test's
#                  database other than the caller's own (behind PgBouncer:
#                  its pool's); jv_pgbouncer_start opens all of them first
#
# Every check either passes or ends the test (unless run through check); the
# last line is always "N passed, M failed".

set -u

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$(pwd)}
JV_TEST_NAME=$(basename "$0" .sh)

. "$top_srcdir/tests/pg.sh"

JV_PASSED=0
JV_FAILED=0
JV_SOFT=0
JV_BG_N=0

ok()
{
	JV_PASSED=$((JV_PASSED + 1))
	echo "ok $JV_PASSED - $*"
}

# Under check ($JV_SOFT > 0) a failure is counted and returns 1.
fail()
{
	JV_FAILED=$((JV_FAILED + 1))
	echo "FAIL: $JV_TEST_NAME: $*" >&2
	if [ -n "${OUT+x}" ] && [ -n "${ERR+x}" ] && [ -n "${RC+x}" ]; then
		echo "  last command: ${JV_LAST_CMD:-} (exit $RC)" >&2
		[ -n "$OUT" ] && printf '  stdout: %s\n' "$OUT" >&2
		[ -n "$ERR" ] && printf '  stderr: %s\n' "$ERR" >&2
	fi
	[ "$JV_SOFT" -gt 0 ] && return 1
	echo "$JV_PASSED passed, $JV_FAILED failed"
	exit 1
}

check()
{
	JV_SOFT=$((JV_SOFT + 1))
	"$@"
	_ck_rc=$?
	JV_SOFT=$((JV_SOFT - 1))
	return $_ck_rc
}

jv_done()
{
	echo "$JV_PASSED passed, $JV_FAILED failed"
	[ "$JV_FAILED" = 0 ] || exit 1
	exit 0
}

skip_all()
{
	echo "SKIP: $JV_TEST_NAME: $*" >&2
	exit 77
}

assert_eq()
{
	if [ "$1" = "$2" ]; then
		ok "$3"
	else
		fail "$3: expected '$1', got '$2'"
	fi
}

assert_rc()
{
	if [ "$RC" = "$1" ]; then
		ok "$2"
	else
		fail "$2: expected exit status $1, got $RC"
	fi
}

assert_match()
{
	if printf '%s\n' "$2" | grep -Eq -e "$1"; then
		ok "$3"
	else
		fail "$3: /$1/ not found in: $2"
	fi
}

assert_no_match()
{
	if printf '%s\n' "$2" | grep -Eq -e "$1"; then
		fail "$3: /$1/ unexpectedly found in: $2"
	else
		ok "$3"
	fi
}

run()
{
	JV_LAST_CMD="$*"
	"$@" >"$JV_TMP/run.out" 2>"$JV_TMP/run.err"
	RC=$?
	OUT=$(cat "$JV_TMP/run.out")
	ERR=$(cat "$JV_TMP/run.err")
	return 0
}

jv_api_port()
{
	wait_for "grep -q 'api: listening on 127.0.0.1:[0-9]* (' '$1'" "${2:-10}" "the API listens"
	PORT=$(sed -n 's/.*api: listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$1" | tail -n 1)
	B=http://127.0.0.1:$PORT
}

# call METHOD PATH [curl args...]: $CODE, $BODY and $HDRS of the answer from
# the API at $B; with the header $JV_CALL_AUTH too when a test sets it.
call()
{
	_m=$1
	_p=$2
	shift 2
	[ -z "${JV_CALL_AUTH:-}" ] || set -- -H "$JV_CALL_AUTH" "$@"
	CODE=$(curl -s -X "$_m" -o "$JV_TMP/body" -D "$JV_TMP/hdrs" -w '%{http_code}' "$@" "$B$_p")
	BODY=$(cat "$JV_TMP/body")
	HDRS=$(cat "$JV_TMP/hdrs")
}

wait_for()
{
	_wf_cmd=$1
	_wf_ticks=$(($2 * 10))
	_wf_what=$3
	_wf_i=0
	while ! eval "$_wf_cmd" >/dev/null 2>&1; do
		_wf_i=$((_wf_i + 1))
		if [ "$_wf_i" -ge "$_wf_ticks" ]; then
			fail "timed out after $2 s waiting for $_wf_what"
			return 1
		fi
		sleep 0.1
	done
	ok "$_wf_what"
}

# Background processes, stopped by PID at exit (TERM, then KILL after 5 s).
jv_kill_pid()
{
	kill -0 "$1" 2>/dev/null || return 0
	kill -TERM "$1" 2>/dev/null
	_kp_i=0
	while kill -0 "$1" 2>/dev/null && [ "$_kp_i" -lt 50 ]; do
		sleep 0.1
		_kp_i=$((_kp_i + 1))
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

jv_bg()
{
	JV_BG_N=$((JV_BG_N + 1))
	"$@" >"$JV_TMP/bg.$JV_BG_N.out" 2>"$JV_TMP/bg.$JV_BG_N.err" &
	BG_PID=$!
	BG_N=$JV_BG_N
	jv_on_exit "jv_kill_pid $BG_PID"
}

# ------------------------------------------------------------------ set-up

JV_TMP=$(mktemp -d "${TMPDIR:-/tmp}/jv-$JV_TEST_NAME.XXXXXX") || {
	echo "$JV_TEST_NAME: mktemp failed" >&2
	exit 99
}
jv_on_exit "rm -rf '$JV_TMP'"

JOBVISOR=$top_builddir/jobvisor
[ -x "$JOBVISOR" ] || {
	echo "$JV_TEST_NAME: $JOBVISOR not built (run make first, or set top_builddir)" >&2
	exit 99
}
JV_NOOP_SO=
for _f in "$top_builddir/plugins/executors/noop/.libs/noop.so" "$top_builddir/plugins/executors/noop/noop.so"; do
	if [ -f "$_f" ]; then
		JV_NOOP_SO=$_f
		break
	fi
done

# The plugin dir of the test configs: a copy with safe modes, whatever the
# umask of the build tree was.
JV_PLUGIN_DIR=$JV_TMP/plugins
mkdir "$JV_PLUGIN_DIR"
chmod 0755 "$JV_PLUGIN_DIR"
if [ -n "$JV_NOOP_SO" ]; then
	cp "$JV_NOOP_SO" "$JV_PLUGIN_DIR/noop.so"
	chmod 0644 "$JV_PLUGIN_DIR/noop.so"
fi

jv_plugin()
{
	for _d in executors alerts; do
		for _f in "$top_builddir/plugins/$_d/$1/.libs/$1.so" "$top_builddir/plugins/$_d/$1/$1.so"; do
			if [ -f "$_f" ]; then
				cp "$_f" "$JV_PLUGIN_DIR/$1.so" && chmod 0644 "$JV_PLUGIN_DIR/$1.so"
				return $?
			fi
		done
	done
	fail "plugin $1 was not built (no $1.so under $top_builddir/plugins)"
}

# Configs and logs of the run must not leak into the user's environment.
unset JOBVISOR_CONFIG

# Checks match client messages (libpq, psql's "Asynchronous notification"):
# keep them untranslated, while UTF-8 still passes through.
if locale -a 2>/dev/null | grep -qix 'c\.utf-*8'; then
	LC_ALL=C.UTF-8
else
	LC_ALL=C
fi
LANGUAGE=
export LC_ALL LANGUAGE

JV_DB_SEQ=0

# The URL of database $2 in the cluster of URL $1 (a postgresql:// URI).
jv_url_with_db()
{
	printf '%s\n' "$1" | sed -E 's#^(postgres(ql)?://[^/?]*)(/[^?]*)?#\1/'"$2"'#'
}

jv_psql_admin()
{
	psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$JV_TEST_DATABASE_URL" -c "$1"
}

jv_write_config()
{
	cat >"$1" <<EOF
# written by tests/lib.sh for $JV_TEST_NAME
database:
  url: "$JV_DB_URL"
processor:
  name: "$JV_TEST_NAME"
  stuck_job_timeout_minutes: 5
plugins:
  dir: "$JV_PLUGIN_DIR"
executors:
  noop: { plugin: noop }
  slow: { plugin: noop, timeout_seconds: 60 }
${2:-}
${JV_ROOT_YAML-allow_root: true}
EOF
	chmod 0600 "$1"
}

# jv_conf_set FILE KEY.PATH VALUE [KEY.PATH VALUE ...]: set each key of the
# YAML file FILE (as jv_write_config writes it: block mappings indented by
# spaces) by its dotted path. An existing key gets VALUE in place (a block
# under it is dropped), a missing one is added at the end of its parent's
# block; a parent that is missing, or not a block mapping, or a path found
# twice fails the test. VALUE is YAML, written as given.
# shellcheck disable=SC2016 # an awk program, not shell
JV_CONF_SET_AWK='
function fail_(m) { print m > "/dev/stderr"; exit 2 }
function indent_of(s) { return match(s, /[^ ]/) - 1 }
function spaces(k,   r) { r = ""; while (k-- > 0) r = r " "; return r }
function blank(s) { return s ~ /^[ ]*(#.*)?$/ }
# the last line of the block opened at line i (indent ind): i when empty
function block_end(i, ind,   j, e) {
	e = i
	for (j = i + 1; j <= nl; j++) {
		if (blank(l[j])) continue
		if (indent_of(l[j]) <= ind) break
		e = j
	}
	return e
}
{ l[++nl] = $0 }
END {
	path = ENVIRON["JV_CS_PATH"]; value = ENVIRON["JV_CS_VALUE"]
	n = split(path, want, ".")
	for (k = 1; k <= n; k++)
		if (want[k] !~ /^[A-Za-z0-9_-]+$/) fail_("bad key path \"" path "\"")
	if (value == "" || value ~ /\n/) fail_("the value of " path " must be one non-empty line")
	depth = 0; opaque = -1; tn = 0; pn = 0
	for (i = 1; i <= nl; i++) {
		s = l[i]
		if (blank(s)) continue
		ind = indent_of(s)
		if (opaque >= 0 && ind > opaque) continue
		opaque = -1
		while (depth > 0 && ind <= sind[depth]) depth--
		depth++; sind[depth] = ind; skey[depth] = "-"
		if (s !~ /^ *[A-Za-z0-9_-]+:( |$)/) continue
		key = substr(s, ind + 1); sub(/:.*/, "", key)
		rest = substr(s, ind + length(key) + 2); sub(/^ +/, "", rest)
		if (rest ~ /^#/) rest = ""
		if (rest ~ /^[|>]/) opaque = ind
		skey[depth] = key
		same = 1
		for (k = 1; k <= depth && k <= n; k++) if (skey[k] != want[k]) same = 0
		if (!same) continue
		if (depth == n) { tn++; ti = i; tind = ind; tblock = (rest == "") }
		if (depth == n - 1) { pn++; pi = i; pind = ind; pblock = (rest == "") }
	}
	parent = path; sub(/\.[^.]*$/, "", parent)
	if (tn > 1) fail_(path " is there " tn " times")
	if (tn == 1) {
		e = tblock ? block_end(ti, tind) : ti
		l[ti] = spaces(tind) want[n] ": " value
		for (i = 1; i <= nl; i++) if (i <= ti || i > e) print l[i]
		exit 0
	}
	if (n == 1) {
		for (i = 1; i <= nl; i++) print l[i]
		print path ": " value
		exit 0
	}
	if (pn == 0) fail_("no " parent ": cannot set " path)
	if (pn > 1) fail_(parent " is there " pn " times")
	if (!pblock) fail_(parent " is not a block mapping (its value is on its line): cannot set " path)
	e = block_end(pi, pind)
	cind = pind + 2
	for (i = pi + 1; i <= e; i++)
		if (!blank(l[i])) { cind = indent_of(l[i]); break }
	if (i <= e && l[i] ~ /^ *-( |$)/) fail_(parent " is a sequence, not a mapping: cannot set " path)
	for (i = 1; i <= nl; i++) {
		print l[i]
		if (i == e) print spaces(cind) want[n] ": " value
	}
}'

jv_conf_set()
{
	_cs_file=$1
	if [ $# -lt 3 ] || [ $(($# % 2)) = 0 ]; then
		fail "jv_conf_set: usage: jv_conf_set FILE KEY.PATH VALUE [KEY.PATH VALUE ...]"
		return 1
	fi
	shift
	if ! [ -f "$_cs_file" ]; then
		fail "jv_conf_set: no file $_cs_file"
		return 1
	fi
	while [ $# -gt 0 ]; do
		if ! _cs_err=$(JV_CS_PATH=$1 JV_CS_VALUE=$2 awk "$JV_CONF_SET_AWK" "$_cs_file" 2>&1 >"$JV_TMP/conf_set.new"); then
			fail "jv_conf_set: $_cs_file: ${_cs_err:-awk failed}"
			return 1
		fi
		cat "$JV_TMP/conf_set.new" >"$_cs_file" || {
			fail "jv_conf_set: cannot write $_cs_file"
			return 1
		}
		shift 2
	done
	rm -f "$JV_TMP/conf_set.new"
}

jv_db()
{
	if [ -z "${JV_TEST_DATABASE_URL:-}" ]; then
		jv_pg_start
		_rc=$?
		[ "$_rc" = 77 ] && skip_all "no PostgreSQL server binaries (set JV_REQUIRE_PG=1 to fail instead)"
		[ "$_rc" = 0 ] || fail "could not start a private PostgreSQL"
	fi
	command -v psql >/dev/null 2>&1 || {
		[ "${JV_REQUIRE_PG:-0}" = 1 ] && fail "psql not found"
		skip_all "psql not found"
	}
	JV_DB_SEQ=$((JV_DB_SEQ + 1))
	JV_DB_NAME=$(printf 'jv_%s_%s_%s' "${1:-$JV_TEST_NAME}" "$$" "$JV_DB_SEQ" | tr -c 'a-zA-Z0-9_\n' '_')
	jv_psql_admin "CREATE DATABASE \"$JV_DB_NAME\"" || fail "could not create database $JV_DB_NAME"
	jv_on_exit "jv_psql_admin 'DROP DATABASE IF EXISTS \"$JV_DB_NAME\" WITH (FORCE)' >/dev/null 2>&1"
	JV_DB_URL=$(jv_url_with_db "$JV_TEST_DATABASE_URL" "$JV_DB_NAME")
	JV_CONF=$JV_TMP/$JV_DB_NAME.yaml
	jv_write_config "$JV_CONF"
	JOBVISOR_CONFIG=$JV_CONF
	export JOBVISOR_CONFIG JV_DB_URL
}

jv_psql()
{
	psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$JV_DB_URL" -c "$1"
}

# The server connections of this test's database, other than ours (through
# PgBouncer: the pool's).
jv_pgbouncer_servers()
{
	jv_psql "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
		AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
}

jv_pgbouncer_start()
{
	_pgb_mode=$1
	_pgb_bin=$(command -v pgbouncer 2>/dev/null || :)
	[ -n "$_pgb_bin" ] || [ ! -x /usr/sbin/pgbouncer ] || _pgb_bin=/usr/sbin/pgbouncer
	if [ -z "$_pgb_bin" ]; then
		[ "${JV_REQUIRE_PG:-0}" = 1 ] && fail "pgbouncer not found (contrib/deps.sh installs it), and JV_REQUIRE_PG=1"
		skip_all "pgbouncer not found"
	fi
	# Where the cluster really is, whatever form the URL has.
	_pgb_srv=$(jv_psql "SELECT host(inet_server_addr()) || ' ' || inet_server_port() || ' ' || current_user") ||
		fail "jv_pgbouncer_start: cannot reach \$JV_DB_URL"
	set -- $_pgb_srv
	[ $# = 3 ] || fail "jv_pgbouncer_start: the cluster of \$JV_DB_URL is not reached over TCP ($_pgb_srv)"
	_pgb_host=$1 _pgb_port=$2 _pgb_user=$3
	_pgb_owner=$(id -un)
	JV_BOUNCER_DIR=$(mktemp -d "$JV_TMP/pgbouncer.XXXXXX") || fail "jv_pgbouncer_start: mktemp failed"
	if [ "$(id -u)" = 0 ]; then
		_pgb_owner=${JV_PG_USER:-nobody}
		id "$_pgb_owner" >/dev/null 2>&1 ||
			fail "jv_pgbouncer_start: as root, PgBouncer runs as '$_pgb_owner', which does not exist (set JV_PG_USER)"
		chmod 0711 "$JV_TMP" # the owner passes through to its own folder, lists nothing
		chown "$_pgb_owner" "$JV_BOUNCER_DIR"
	fi
	printf '"%s" ""\n' "$_pgb_user" >"$JV_BOUNCER_DIR/users.txt"
	chmod 0644 "$JV_BOUNCER_DIR/users.txt"
	JV_BOUNCER_LOG=$JV_BOUNCER_DIR/pgbouncer.log
	_sec=$(date +%S | sed 's/^0//')
	_pgb_listen=$((20000 + ($$ * 11 + ${_sec:-0} * 173 + 5000) % 30000))
	_pgb_try=0
	while :; do
		_pgb_try=$((_pgb_try + 1))
		cat >"$JV_BOUNCER_DIR/pgbouncer.ini" <<EOF
; written by tests/lib.sh for $JV_TEST_NAME
[databases]
$JV_DB_NAME = host=$_pgb_host port=$_pgb_port dbname=$JV_DB_NAME

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $_pgb_listen
unix_socket_dir =
auth_type = trust
auth_file = $JV_BOUNCER_DIR/users.txt
admin_users = $_pgb_user
pool_mode = $_pgb_mode
default_pool_size = ${JV_BOUNCER_POOL_SIZE:-5}
max_client_conn = 500
server_round_robin = 1
ignore_startup_parameters = extra_float_digits
logfile = $JV_BOUNCER_LOG
log_connections = 0
log_disconnections = 0
EOF
		chmod 0644 "$JV_BOUNCER_DIR/pgbouncer.ini"
		# setpriv execs: $! is PgBouncer itself, which the exit handler stops.
		if [ "$(id -u)" = 0 ]; then
			jv_bg setpriv --reuid="$_pgb_owner" --regid="$(id -g "$_pgb_owner")" --clear-groups -- \
				"$_pgb_bin" "$JV_BOUNCER_DIR/pgbouncer.ini"
		else
			jv_bg "$_pgb_bin" "$JV_BOUNCER_DIR/pgbouncer.ini"
		fi
		JV_BOUNCER_PID=$BG_PID
		JV_BOUNCER_URL="postgresql://$_pgb_user@127.0.0.1:$_pgb_listen/$JV_DB_NAME"
		JV_BOUNCER_ADMIN_URL="postgresql://$_pgb_user@127.0.0.1:$_pgb_listen/pgbouncer"
		_pgb_i=0
		while kill -0 "$JV_BOUNCER_PID" 2>/dev/null && [ "$_pgb_i" -lt 300 ] &&
			! psql -X -q -A -t -d "$JV_BOUNCER_URL" -c 'SELECT 1' >/dev/null 2>&1; do
			sleep 0.1
			_pgb_i=$((_pgb_i + 1))
		done
		if kill -0 "$JV_BOUNCER_PID" 2>/dev/null && [ "$_pgb_i" -lt 300 ]; then
			ok "PgBouncer ($_pgb_mode, pool ${JV_BOUNCER_POOL_SIZE:-5}) listens on 127.0.0.1:$_pgb_listen"
			export JV_BOUNCER_URL JV_BOUNCER_ADMIN_URL
			# Open every server connection of the pool now (rounds of as
			# many concurrent transactions), so that transactions rotate
			# over all of them from the start; idle ones stay.
			_pgb_round=0
			while [ "$(jv_pgbouncer_servers)" -lt "${JV_BOUNCER_POOL_SIZE:-5}" ]; do
				_pgb_round=$((_pgb_round + 1))
				[ "$_pgb_round" -le 20 ] || fail "PgBouncer opened $(jv_pgbouncer_servers) server connections, not ${JV_BOUNCER_POOL_SIZE:-5}"
				_pgb_pids=
				_pgb_i=0
				while [ "$_pgb_i" -lt "${JV_BOUNCER_POOL_SIZE:-5}" ]; do
					jv_bg psql -X -q -d "$JV_BOUNCER_URL" -c 'SELECT pg_sleep(1)'
					_pgb_pids="$_pgb_pids $BG_PID"
					_pgb_i=$((_pgb_i + 1))
				done
				for _pgb_p in $_pgb_pids; do
					wait "$_pgb_p"
				done
			done
			ok "PgBouncer has its ${JV_BOUNCER_POOL_SIZE:-5} server connections open"
			return 0
		fi
		jv_kill_pid "$JV_BOUNCER_PID"
		if [ "$_pgb_try" -lt 20 ] &&
			grep -q -i 'address already in use' "$JV_BOUNCER_LOG" "$JV_TMP/bg.$BG_N.err" 2>/dev/null; then
			_pgb_listen=$((20000 + (_pgb_listen - 20000 + 997) % 30000))
			continue
		fi
		fail "PgBouncer did not start: $(cat "$JV_BOUNCER_LOG" "$JV_TMP/bg.$BG_N.err" 2>/dev/null | tail -n 5)"
	done
}
