#!/bin/sh
# it_check_config.sh -- `jobvisor check-config`: the summary line, config
# and plugin errors with their place, refused plugins as warnings, where the
# config comes from, and (under valgrind, when it is there) no leaks on the
# shipped conf/jobvisor.yaml. Needs no database.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

DIR=$JV_PLUGIN_DIR
[ -f "$DIR/noop.so" ] || fail "noop.so not built"
CONF=$JV_TMP/ok.yaml
cat >"$CONF" <<EOF
database: { url: "postgresql://localhost/none" }
plugins: { dir: "$DIR" }
executors:
  noop: { plugin: noop }
  slow: { plugin: noop, default_sleep_ms: 100, isolation: thread }
schedules:
  - { name: tick, cron: "* * * * *", type: noop }
EOF

# ---------------------------------------------------------------- usage
run "$JOBVISOR" check-config --help
assert_rc 0 "--help exits 0"
assert_match '^usage: jobvisor check-config \[-c FILE\]' "$OUT" "--help prints the usage"
run "$JOBVISOR" check-config --bogus
assert_rc 1 "an unknown option is a user error"
assert_match "unexpected argument '--bogus'" "$ERR" "and says which"
run "$JOBVISOR" check-config -c
assert_rc 1 "-c without a file"

# ---------------------------------------------------------------- ok
run "$JOBVISOR" check-config -c "$CONF"
assert_rc 0 "a good config"
assert_eq "$CONF: ok (2 executors, 0 alerts, 1 schedule; plugins: noop 0.1.0)" "$OUT" \
	"the summary line"
assert_eq "" "$ERR" "nothing on stderr"
run "$JOBVISOR" check-config --config="$CONF"
assert_rc 0 "--config=FILE"
JOBVISOR_CONFIG=$CONF run "$JOBVISOR" check-config
assert_rc 0 "the config from \$JOBVISOR_CONFIG"
assert_match "^$CONF: ok " "$OUT" "names that file"
JOBVISOR_CONFIG=$JV_TMP/nowhere.yaml run "$JOBVISOR" check-config -c "$CONF"
assert_rc 0 "-c wins over \$JOBVISOR_CONFIG"

# ---------------------------------------------------------------- errors
bad()
{
	# bad NAME YAML REGEX [LINES]: REGEX matches the last line of stderr,
	# which has LINES lines (default 1)
	cat >"$JV_TMP/$1.yaml" <<EOF
database: { url: "postgresql://localhost/none" }
plugins: { dir: "$DIR" }
$2
EOF
	run "$JOBVISOR" check-config -c "$JV_TMP/$1.yaml"
	assert_rc 1 "$1: exit 1"
	assert_eq "" "$OUT" "$1: nothing on stdout"
	assert_match "$3" "$(printf '%s\n' "$ERR" | tail -n 1)" "$1: the error"
	assert_eq "${4:-1}" "$(printf '%s\n' "$ERR" | wc -l)" "$1: ${4:-1} line(s) on stderr"
}
bad unknown_plugin "executors:
  shell: { plugin: shell }" \
	"^$JV_TMP/unknown_plugin.yaml:4:20: executors.shell.plugin: unknown plugin 'shell' \(not in $DIR; available: noop\)\$"
bad unknown_key "executors:
  noop:
    plugin: noop
    sleep_ms: 5" \
	"^$JV_TMP/unknown_key.yaml:6:5: unknown key 'sleep_ms' in executors.noop .*known keys: plugin, timeout_seconds, isolation, max_attempts, default_sleep_ms\)\$"
bad bad_type "executors:
  noop: { plugin: noop, default_sleep_ms: [1] }" \
	"^$JV_TMP/bad_type.yaml:4:43: executors.noop.default_sleep_ms: expected an integer, got a list\$"
bad plugin_says_no "executors:
  noop: { plugin: noop, default_sleep_ms: 999999999999 }" \
	"^$JV_TMP/plugin_says_no.yaml:4:43: executors.noop.default_sleep_ms: must be between 0 and 604800000\$"
bad wrong_kind "alerts:
  - { plugin: noop, on: [job_failed] }" \
	"^$JV_TMP/wrong_kind.yaml:4:15: alerts\[0\].plugin: plugin 'noop' is an executor, not an alert sink\$"

# database.listen_url is read as libpq would, like url, its password masked.
cat >"$JV_TMP/listen.yaml" <<EOF
database:
  url: "postgresql://localhost/none"
  pooler: transaction
  listen_url: "postgresql://app:listenpw@localhost:5432/none?sslmode=nonsense%zz"
plugins: { dir: "$DIR" }
EOF
run "$JOBVISOR" check-config -c "$JV_TMP/listen.yaml"
assert_rc 1 "listen_url: a url libpq cannot read is refused"
assert_match "^$JV_TMP/listen\\.yaml:4:15: database\\.listen_url: not a valid connection string or URI: " "$ERR" \
	"listen_url: at FILE:LINE:COL, with libpq's reason"
assert_no_match "listenpw" "$ERR" "listen_url: the password is masked"
jv_conf_set "$JV_TMP/listen.yaml" database.listen_url '"postgresql://app:listenpw@localhost:5432/none?sslmode=nonsense"'
run "$JOBVISOR" check-config -c "$JV_TMP/listen.yaml"
assert_rc 0 "listen_url: a good one passes"

run "$JOBVISOR" check-config -c "$JV_TMP/missing.yaml"
assert_rc 1 "a missing config file"
assert_match "missing.yaml" "$ERR" "names the file"

# ---------------------------------------------------------------- plugin dir
# A refused plugin nobody uses is a warning; the config is still fine.
BROKEN=$top_builddir/tests/plugins/.libs/bad_major.so
if [ -f "$BROKEN" ]; then
	cp "$BROKEN" "$DIR/bad_major.so"
	chmod 0644 "$DIR/bad_major.so"
	run "$JOBVISOR" check-config -c "$CONF"
	assert_rc 0 "an unused refused plugin does not fail the check"
	assert_match "warning: plugin $DIR/bad_major.so refused: built for ABI 2.0, this host has 1\\.[0-9]+\$" \
		"$ERR" "it is named, with its reason"
	assert_eq 1 "$(printf '%s\n' "$ERR" | wc -l)" "in one line"
	bad uses_refused "executors:
  old: { plugin: bad_major }" \
		"executors.old.plugin: unknown plugin 'bad_major' \($DIR/bad_major.so was refused: built for ABI 2.0, this host has 1\\.[0-9]+\)\$" 2
	rm -f "$DIR/bad_major.so"
fi

chmod 0777 "$DIR"
run "$JOBVISOR" check-config -c "$CONF"
chmod 0755 "$DIR"
assert_rc 1 "a plugin dir writable by others"
assert_match "^plugin dir $DIR refused: writable by group or others \(mode 0777\)" "$ERR" \
	"says so"
# A safe plugin dir in a folder others may write: they could replace it.
_mode=$(stat -c %a "$JV_TMP")
chmod 0777 "$JV_TMP"
run "$JOBVISOR" check-config -c "$CONF"
chmod "$_mode" "$JV_TMP"
assert_rc 1 "a plugin dir inside a folder writable by others"
assert_match "^plugin dir $DIR refused: the folder $JV_TMP above it is writable by group or others \(mode 0777, no sticky bit\)" \
	"$ERR" "names that folder"

# ---------------------------------------------------------------- shipped
# The shipped config, with the shipped executors, is valid as it stands.
jv_plugin shell
jv_plugin http
jv_plugin sql
DATABASE_URL=postgresql://localhost/none JOBVISOR_PLUGIN_DIR=$DIR \
	run "$JOBVISOR" check-config -c "$top_srcdir/conf/jobvisor.yaml"
assert_rc 0 "conf/jobvisor.yaml is valid"
assert_match "ok \(4 executors, .*plugins: .*http .*noop .*shell .*sql " "$OUT" \
	"with noop, shell, http and sql configured"

# ---------------------------------------------------------------- leaks
# valgrind --leak-check=full finds nothing in it, with every plugin
# dlclose()d.
if [ -n "${VALGRIND:-}" ] && [ "${JV_VALGRIND:-1}" != 0 ]; then
	DATABASE_URL=postgresql://localhost/none JOBVISOR_PLUGIN_DIR=$DIR \
		run "$top_builddir/libtool" --mode=execute "$VALGRIND" --leak-check=full \
		--errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
		--error-exitcode=99 "$JOBVISOR" check-config -c "$top_srcdir/conf/jobvisor.yaml"
	assert_rc 0 "valgrind: check-config of conf/jobvisor.yaml passes without leaks or errors"
	assert_match "definitely lost: 0 bytes|no leaks are possible" "$ERR" "valgrind: nothing lost"
	assert_match "ERROR SUMMARY: 0 errors" "$ERR" "valgrind: no errors"
fi

jv_done
