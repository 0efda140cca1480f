#!/bin/sh
# it_man.sh -- the manual pages render without a single groff warning, and
# they keep up with the code: every command `jobvisor --help` lists and each
# of its long options is in jobvisor(1); every config key core/config/config.c
# accepts, and every key a shipped plugin declares, has an entry in
# jobvisor.yaml(5) under the subsection of its section or plugin. Adding a
# key or an option without documenting it fails here.
. "${top_srcdir:-.}/tests/lib.sh"

command -v man >/dev/null 2>&1 || fail "man not found (contrib/deps.sh installs man-db)"
command -v groff >/dev/null 2>&1 || fail "groff not found (contrib/deps.sh installs groff-base)"

MAN1=$top_builddir/man/jobvisor.1
MAN5=$top_builddir/man/jobvisor.yaml.5
MAN3=$top_builddir/man/jobvisor-plugin.3

# ---------------------------------------------------------------- rendering
for page in "$MAN1" "$MAN5" "$MAN3"; do
	name=$(basename "$page")
	[ -s "$page" ] || fail "$name was not built"
	assert_no_match '@[A-Za-z_]+@' "$(cat "$page")" "$name: every @...@ was substituted"
	run env LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page"
	assert_rc 0 "man -l $name"
	assert_eq "" "$ERR" "$name: man --warnings says nothing"
	[ "$(printf '%s\n' "$OUT" | wc -l)" -gt 40 ] || fail "$name rendered to almost nothing"
	ok "$name renders to $(printf '%s\n' "$OUT" | wc -l) lines"
	run groff -man -ww -z -t "$page"
	assert_eq "" "$ERR" "$name: groff -ww is silent too"
done

# The page as text, with roff's \- as a plain '-' and without the \% and \:
# set in paths, to compare with names.
plain()
{
	sed -e 's/\\-/-/g' -e 's/\\[%:]//g' "$1"
}
# The lines of subsection TITLE (".SS TITLE" up to the next .SS or .SH).
block()
{
	awk -v t="$2" '$0 == ".SS " t { on = 1; next } on && /^\.S[HS]( |$)/ { exit } on' "$1"
}
# Whether a block documents KEY: a .TP tag line ".B KEY" or ".BR KEY ...".
has_entry()
{
	grep -Eq "^\.BR? $2( |\$)" "$1"
}

# ---------------------------------------------------------------- jobvisor(1)
plain "$MAN1" >"$JV_TMP/man1"
awk '/^\.SH SYNOPSIS/ { on = 1; next } on && /^\.SH/ { exit } on' "$JV_TMP/man1" >"$JV_TMP/synopsis"
awk '/^\.SH OPTIONS/ { on = 1; next } on && /^\.SH/ { exit } on' "$JV_TMP/man1" >"$JV_TMP/common"

run "$JOBVISOR" --help
assert_rc 0 "jobvisor --help"
CMDS=$(printf '%s\n' "$OUT" | awk '/^commands:/ { on = 1; next } on && /^$/ { exit } on { print $1 }')
N=$(printf '%s\n' "$CMDS" | grep -c .)
[ "$N" -ge 7 ] || fail "found only $N commands in jobvisor --help: $CMDS"
NOPT=0
for cmd in $CMDS; do
	block "$JV_TMP/man1" "$cmd" >"$JV_TMP/cmd"
	[ -s "$JV_TMP/cmd" ] || fail "jobvisor.1 has no '.SS $cmd' for the command $cmd"
	grep -Eq "^\.B $cmd\$" "$JV_TMP/synopsis" || fail "jobvisor.1: $cmd is missing from the SYNOPSIS"
	run "$JOBVISOR" "$cmd" --help
	assert_rc 0 "jobvisor $cmd --help"
	for opt in $(printf '%s\n' "$OUT" | grep -Eo -- '--[a-z][a-z-]*' | sort -u); do
		grep -Fq -- "$opt" "$JV_TMP/cmd" || grep -Fq -- "$opt" "$JV_TMP/common" ||
			fail "jobvisor.1 does not document '$cmd $opt' (in its .SS or under OPTIONS)"
		NOPT=$((NOPT + 1))
	done
done
ok "jobvisor.1 has all $N commands and their $NOPT long options"
grep -Fq -- '--version' "$JV_TMP/common" || fail "jobvisor.1 does not document --version"
ok "jobvisor.1 documents --version"

# The -c default the binary uses is the one the page names.
DEF=$("$JOBVISOR" --help | sed -n 's/^-c defaults to \$JOBVISOR_CONFIG, then \(.*\)\.$/\1/p')
[ -n "$DEF" ] || fail "jobvisor --help no longer names the -c default"
grep -Fq "$DEF" "$JV_TMP/man1" || fail "jobvisor.1 does not name the -c default $DEF"
ok "jobvisor.1 names the -c default $DEF"
for sig in SIGTERM SIGINT SIGHUP; do
	block "$JV_TMP/man1" serve | grep -q "$sig" || fail "jobvisor.1: serve does not say what $sig does"
done
ok "jobvisor.1 says what serve does on SIGTERM, SIGINT and SIGHUP"

# ---------------------------------------------------------------- jobvisor.yaml(5)
plain "$MAN5" >"$JV_TMP/man5"
CONFIG_C=$top_srcdir/core/config/config.c

# The top-level sections: core/config/config.c's sections[] list.
SECTIONS=$(awk '/const sections\[\] = \{/ { on = 1 } on { print } on && /NULL\};/ { exit }' "$CONFIG_C" |
	grep -o '"[a-z_]*"' | tr -d '"')
[ "$(printf '%s\n' "$SECTIONS" | grep -c .)" -ge 10 ] || fail "could not read sections[] from core/config/config.c"
for s in $SECTIONS; do
	block "$JV_TMP/man5" "$s" | grep -q . || fail "jobvisor.yaml.5 has no '.SS $s' for the section $s"
done

# Every table "static const struct field NAME_fields[]": its keys belong to
# section NAME (database, processor, ...) or NAMEs (executor -> executors).
NKEYS=0
for table in $(grep -o 'static const struct field [a-z_]*_fields\[\] = {' "$CONFIG_C" | awk '{print $5}' |
	sed 's/_fields\[\]$//'); do
	sect=$table
	# (rate_fields: the keys of queues.NAME.rate_limit, documented under queues)
	[ "$table" = rate ] && sect=queues
	printf '%s\n' "$SECTIONS" | grep -qx "$sect" || sect=${table}s
	printf '%s\n' "$SECTIONS" | grep -qx "$sect" ||
		fail "core/config/config.c: table ${table}_fields belongs to no section this test knows"
	block "$JV_TMP/man5" "$sect" >"$JV_TMP/sect"
	keys=$(awk -v t="${table}_fields[]" 'index($0, "struct field " t) { on = 1; next }
		on && /FEND/ { exit } on' "$CONFIG_C" | grep -o 'F[A-Z]*("[a-z_]*"' | sed 's/.*("//; s/"$//')
	[ -n "$keys" ] || fail "core/config/config.c: no keys read from ${table}_fields"
	for k in $keys; do
		has_entry "$JV_TMP/sect" "$k" ||
			fail "jobvisor.yaml.5 does not document $sect.$k (a .TP '.BR $k ...' under '.SS $sect')"
		NKEYS=$((NKEYS + 1))
	done
done
[ "$NKEYS" -ge 50 ] || fail "read only $NKEYS keys from core/config/config.c; the test lost track of it"
ok "jobvisor.yaml.5 documents all $NKEYS keys of core/config/config.c's $(printf '%s\n' "$SECTIONS" | wc -l) sections"

# Every shipped plugin's config_keys (NAME_keys[] in plugins/*/NAME/NAME.c).
NPK=0
NP=0
for src in "$top_srcdir"/plugins/executors/*/*.c "$top_srcdir"/plugins/alerts/*/*.c; do
	p=$(basename "$src" .c)
	keys=$(awk -v t="${p}_keys[] = {" 'index($0, t) { on = 1 } on { print } on && /NULL\};/ { exit }' "$src" |
		sed 's/.*_keys\[\] = {//' | grep -o '"[a-z_]*"' | tr -d '"')
	[ -n "$keys" ] || fail "$src: no ${p}_keys[] found"
	block "$JV_TMP/man5" "$p" >"$JV_TMP/plugin"
	[ -s "$JV_TMP/plugin" ] || fail "jobvisor.yaml.5 has no '.SS $p' for the plugin $p"
	for k in $keys; do
		has_entry "$JV_TMP/plugin" "$k" ||
			fail "jobvisor.yaml.5 does not document the $p plugin's key $k (under '.SS $p')"
		NPK=$((NPK + 1))
	done
	NP=$((NP + 1))
done
[ "$NP" -ge 7 ] || fail "found only $NP plugins"
ok "jobvisor.yaml.5 documents all $NPK keys of the $NP shipped plugins"

# ---------------------------------------------------------------- jobvisor-plugin(3)
plain "$MAN3" >"$JV_TMP/man3"
HOSTFNS=$(awk '/^struct jv_host \{/ { on = 1; next } on && /^\};/ { exit } on' \
	"$top_srcdir/include/jobvisor/plugin.h" | grep -o '(\*[a-z_]*)' | tr -d '(*)')
N=0
for f in $HOSTFNS; do
	grep -Eq "^\.BI \"[^\"]*[ *]$f\(" "$JV_TMP/man3" ||
		fail "jobvisor-plugin.3 does not document the host function $f"
	N=$((N + 1))
done
[ "$N" -ge 15 ] || fail "read only $N host functions from plugin.h"
ok "jobvisor-plugin.3 documents all $N host functions of struct jv_host"
jv_done
