#!/bin/sh
# it_install.sh -- `make install` puts each file where the FHS (and the
# configured folders) say, and nothing else; the installed binary runs and
# its -c default is the installed config; the installed man page renders;
# a config the admin changed survives a re-install and an uninstall, while
# everything else (and an unchanged config) is removed by `make uninstall`.
. "${top_srcdir:-.}/tests/lib.sh"

# The nested make must not join the outer make's job server.
mk()
{
	run env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory -C "$top_builddir" "$@"
}

mk jv-print-dirs
assert_rc 0 "make jv-print-dirs"
printf '%s\n' "$OUT" >"$JV_TMP/dirs"
get()
{
	sed -n "s/^$1=//p" "$JV_TMP/dirs"
}
prefix=$(get prefix)
bindir=$(get bindir)
sysconfdir=$(get sysconfdir)
docdir=$(get docdir)
mandir=$(get mandir)
includedir=$(get includedir)
libdir=$(get libdir)
plugindir=$(get plugindir)
pkgdatadir=$(get pkgdatadir)
version=$(get version)
[ -n "$prefix" ] && [ -n "$plugindir" ] && [ -n "$version" ] || fail "make jv-print-dirs said: $OUT"

# What the FHS expects under a prefix, with the default folders (contrib/
# check.sh and distcheck configure no others).
assert_eq "$prefix/bin" "$bindir" "the binary goes to PREFIX/bin"
assert_eq "$prefix/etc" "$sysconfdir" "the config to PREFIX/etc/jobvisor"
assert_eq "$prefix/share/man" "$mandir" "man pages to PREFIX/share/man"
assert_eq "$prefix/share/doc/jobvisor" "$docdir" "the example config to PREFIX/share/doc/jobvisor"
assert_eq "$prefix/share/jobvisor" "$pkgdatadir" "the migrations to PREFIX/share/jobvisor"
assert_eq "$prefix/lib/jobvisor/plugins" "$plugindir" "the plugins to PREFIX/lib/jobvisor/plugins"

CONF=conf/jobvisor.yaml
EXPECTED=$JV_TMP/expected
{
	echo "$bindir/jobvisor"
	for la in $(get plugins); do echo "$plugindir/$(basename "$la" .la).so"; done
	echo "$includedir/jobvisor/plugin.h"
	echo "$libdir/pkgconfig/jobvisor-plugin.pc"
	echo "$mandir/man1/jobvisor.1"
	echo "$mandir/man5/jobvisor.yaml.5"
	echo "$mandir/man3/jobvisor-plugin.3"
	echo "$docdir/examples/jobvisor.yaml"
	echo "$sysconfdir/jobvisor/jobvisor.yaml"
	for f in $(get sql_files); do echo "$pkgdatadir/sql/$(basename "$f")"; done
} | sort >"$EXPECTED"
[ "$(wc -l <"$EXPECTED")" -ge 20 ] || fail "the expected list is short: $(cat "$EXPECTED")"

# Files installed under ROOT, without ROOT. The systemd fragment's unit and
# sysusers.d entry (conf/systemd.mk) are tested by it_systemd.sh, and are
# not there when configured --with-systemdsystemunitdir=no.
installed()
{
	(cd "$1" && find . -type f -o -type l) | sed 's|^\.||' |
		grep -v -e '\.service$' -e '/sysusers\.d/jobvisor\.conf$' | sort
}

# ---------------------------------------------------------------- install
ROOT=$JV_TMP/root
mk install DESTDIR="$ROOT"
assert_rc 0 "make install DESTDIR"
installed "$ROOT" >"$JV_TMP/got"
run diff "$EXPECTED" "$JV_TMP/got"
assert_eq "" "$OUT" "exactly the expected $(wc -l <"$EXPECTED") files are installed (diff expected got)"

BIN=$ROOT$bindir/jobvisor
[ -x "$BIN" ] || fail "$BIN is not executable"
run "$BIN" --version
assert_rc 0 "the installed jobvisor --version"
assert_match "^jobvisor $version \(plugin ABI [0-9]+\.[0-9]+\)\$" "$OUT" "it says its version"
run "$BIN" --help
assert_match "then $sysconfdir/jobvisor/jobvisor.yaml\.\$" "$OUT" \
	"its -c default is the installed config, $sysconfdir/jobvisor/jobvisor.yaml"
# (Unless this machine has a real install there: --help said it already.)
if [ ! -e "$sysconfdir/jobvisor/jobvisor.yaml" ]; then
	run env -u JOBVISOR_CONFIG "$BIN" check-config
	assert_rc 1 "check-config with no config anywhere fails"
	assert_match "$sysconfdir/jobvisor/jobvisor.yaml" "$OUT$ERR" "naming the default path it tried"
fi

for f in "$docdir/examples/jobvisor.yaml" "$sysconfdir/jobvisor/jobvisor.yaml"; do
	cmp -s "$top_srcdir/$CONF" "$ROOT$f" || fail "$f is not the shipped $CONF"
done
ok "the example and the config are the shipped $CONF"
for f in $(get sql_files); do
	cmp -s "$top_srcdir/$f" "$ROOT$pkgdatadir/sql/$(basename "$f")" || fail "$f differs once installed"
done
ok "the migrations are installed as they are in sql/"
run env PKG_CONFIG_PATH="$ROOT$libdir/pkgconfig" pkg-config --variable=plugindir jobvisor-plugin
assert_eq "$plugindir" "$OUT" "jobvisor-plugin.pc names the plugin folder"

PAGE=$ROOT$mandir/man1/jobvisor.1
run env LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$PAGE"
assert_rc 0 "man -l on the installed jobvisor.1"
assert_eq "" "$ERR" "without a warning"
# A path may break after a slash (never with a hyphen): join those lines.
joined=$(printf '%s\n' "$OUT" |
	awk '{ if (p ~ /\/$/) { sub(/^ +/, ""); p = p $0 } else { if (NR > 1) print p; p = $0 } } END { print p }')
assert_match "$sysconfdir/jobvisor/jobvisor.yaml" "$joined" "the page names the installed config"
assert_match "^ +jobvisor serve" "$OUT" "and renders the commands"

# ---------------------------------------------------------------- re-install
CFG=$ROOT$sysconfdir/jobvisor/jobvisor.yaml
printf '# changed by the admin\n' >>"$CFG"
cp "$CFG" "$JV_TMP/mine.yaml"
mk install DESTDIR="$ROOT"
assert_rc 0 "make install over an installed tree"
assert_match "keeping .*jobvisor.yaml" "$OUT" "install says it keeps the existing config"
cmp -s "$JV_TMP/mine.yaml" "$CFG" || fail "re-install overwrote the changed config"
ok "re-install left the changed config alone"
cmp -s "$top_srcdir/$CONF" "$ROOT$docdir/examples/jobvisor.yaml" || fail "the example is not the shipped one"
ok "and installed the shipped one as the example"

# ---------------------------------------------------------------- uninstall
mk uninstall DESTDIR="$ROOT"
assert_rc 0 "make uninstall"
installed "$ROOT" >"$JV_TMP/left"
assert_eq "$sysconfdir/jobvisor/jobvisor.yaml" "$(cat "$JV_TMP/left")" \
	"uninstall leaves only the changed config"
cmp -s "$JV_TMP/mine.yaml" "$CFG" || fail "uninstall changed the admin's config"
ok "which is still the admin's"

# An unchanged config is the package's: uninstall takes it too.
ROOT2=$JV_TMP/root2
mk install DESTDIR="$ROOT2"
assert_rc 0 "make install into a second DESTDIR"
mk uninstall DESTDIR="$ROOT2"
assert_rc 0 "make uninstall"
assert_eq "" "$(installed "$ROOT2")" "nothing is left after install and uninstall"
jv_done
