#!/bin/sh
# it_example_plugin.sh -- the out-of-tree kit, as a plugin author meets it:
# install jobvisor into a DESTDIR, build contrib/example-plugin with its own
# five-line Makefile against that tree alone (pkg-config --cflags
# jobvisor-plugin), drop greet.so into a plugin folder next to the installed
# noop.so, and run jobs through it with the installed jobvisor.
. "${top_srcdir:-.}/tests/lib.sh"

command -v pkg-config >/dev/null 2>&1 || skip_all "pkg-config not found"
command -v nm >/dev/null 2>&1 || skip_all "nm not found"
# A jobvisor installed on this machine (the deb lane of check.sh installs
# one for a while) does not hide a header missing from the DESTDIR: the
# build lists the headers it read (-MD) and none may come from outside it.

ROOT=$JV_TMP/root
# The nested make must not join the outer make's job server.
run env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$top_builddir" install DESTDIR="$ROOT"
assert_rc 0 "make install DESTDIR"

PC=$(find "$ROOT" -name jobvisor-plugin.pc | head -n 1)
[ -n "$PC" ] || fail "jobvisor-plugin.pc not installed"
ok "jobvisor-plugin.pc installed"
[ -n "$(find "$ROOT" -path '*/include/jobvisor/plugin.h')" ] || fail "plugin.h not installed"
ok "plugin.h installed"
PLUGINDIR=$(dirname "$(find "$ROOT" -path '*/jobvisor/plugins/noop.so' | head -n 1)")
for p in noop shell http sql; do
	[ -f "$PLUGINDIR/$p.so" ] || fail "$p.so not installed in the plugin dir"
done
ok "noop, shell, http and sql installed in the plugin dir"
[ -z "$(find "$ROOT" -path '*/jobvisor/plugins/*.la')" ] || fail ".la files left in the plugin dir"
ok "no libtool .la files in the plugin dir"
BIN=$(find "$ROOT" -path '*/bin/jobvisor' | head -n 1)
[ -x "$BIN" ] || fail "jobvisor not installed"

# Build the example from a copy (the source tree may be read-only) with
# nothing but its Makefile and what the DESTDIR's pkg-config says.
cp -R "$top_srcdir/contrib/example-plugin" "$JV_TMP/ex"
chmod -R u+w "$JV_TMP/ex"
rm -f "$JV_TMP/ex/greet.so"
LINES=$(wc -l <"$JV_TMP/ex/greet.c")
[ "$LINES" -lt 60 ] || fail "greet.c has $LINES lines; the kit promises under 60"
ok "greet.c is $LINES lines"
MLINES=$(wc -l <"$JV_TMP/ex/Makefile")
assert_eq 5 "$MLINES" "the Makefile is 5 lines"
run env PKG_CONFIG_PATH="$(dirname "$PC")" PKG_CONFIG_SYSROOT_DIR="$ROOT" \
	make -C "$JV_TMP/ex" CFLAGS="-O2 -Wall -Wextra -Werror -MD -MF $JV_TMP/ex/greet.d"
assert_rc 0 "the example builds against the installed tree alone"
assert_match "-I$ROOT" "$OUT" "its include path came from the DESTDIR's pkg-config"
[ -s "$JV_TMP/ex/greet.d" ] || fail "the build listed no headers"
grep -q "$ROOT/[^ ]*/include/jobvisor/plugin.h" "$JV_TMP/ex/greet.d" ||
	fail "plugin.h did not come from the DESTDIR: $(cat "$JV_TMP/ex/greet.d")"
outside=$(tr ' \\' '\n\n' <"$JV_TMP/ex/greet.d" | grep '/include/jobvisor/' | grep -v "^$ROOT/" || true)
[ -z "$outside" ] || fail "headers read from outside the DESTDIR: $outside"
ok "every jobvisor header it read came from the DESTDIR"
SYMS=$(nm -D --defined-only "$JV_TMP/ex/greet.so" | awk '{print $3}' | grep -v '^_' | tr '\n' ' ')
assert_eq "jv_plugin_entry " "$SYMS" "greet.so exports only jv_plugin_entry"

DIR=$JV_TMP/exdir
mkdir -m 0755 "$DIR"
cp "$JV_TMP/ex/greet.so" "$PLUGINDIR/noop.so" "$DIR/"
chmod 0644 "$DIR/greet.so" "$DIR/noop.so"
JV_PLUGIN_DIR=$DIR
jv_db
jv_write_config "$JV_CONF" "  greet: { plugin: greet, greeting: Bonjour }"
jv_conf_set "$JV_CONF" processor.heartbeat_interval_ms 200

run "$BIN" check-config -c "$JV_CONF"
assert_rc 0 "the installed check-config accepts the config"
assert_match "greet 1\.0" "$OUT" "and lists the greet plugin"
run "$BIN" migrate -c "$JV_CONF"
assert_rc 0 "the installed jobvisor migrates"

GOOD=$(jv_psql "SELECT jobvisor.enqueue('greet', '{\"name\": \"Ada\"}')")
BAD=$(jv_psql "SELECT jobvisor.enqueue('greet', '{\"name\": 42}', max_attempts => 3)")
jv_bg "$BIN" serve -c "$JV_CONF"
wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.jobs WHERE status IN ('succeeded', 'failed')\")\" = 2 ]" 20 \
	"both greet jobs finished"
assert_eq "succeeded" "$(jv_psql "SELECT status FROM jobvisor.jobs WHERE id = $GOOD")" "the good job succeeded"
assert_eq '{"greeted": "Ada"}' "$(jv_psql "SELECT result FROM jobvisor.jobs WHERE id = $GOOD")" "with its result"
assert_eq "Bonjour, Ada!" "$(jv_psql "SELECT output FROM jobvisor.job_executions WHERE job_id = $GOOD")" \
	"and its output, greeting from the config"
assert_eq "failed|1|greet: payload.name must be a string" \
	"$(jv_psql "SELECT status, attempts, last_error FROM jobvisor.jobs WHERE id = $BAD")" \
	"a bad payload failed for good at once, with the plugin's error"
jv_done
