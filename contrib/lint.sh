#!/bin/sh
# lint.sh [BUILD_DIR] -- static analysis of core/ and plugins/ with cppcheck
# and clang-tidy (checks in .clang-tidy, cppcheck suppressions in
# contrib/cppcheck.supp). Prints each tool's finding count; exits 1 on any
# finding, 2 when it cannot run.
#
# BUILD_DIR is a configured (and usually built) tree: default build/check,
# then build. Both tools read the compile commands of that tree, so they see
# its include paths and defines (autoconf.h, pkg-config cflags). The first run
# writes BUILD_DIR/compile_commands.json by recompiling core/ and plugins/
# under bear; later runs reuse it until the Makefile or the source list changes.
#
#   CLANG_TIDY=clang-tidy-14 CPPCHECK=cppcheck JOBS=2 contrib/lint.sh build
set -eu

top=$(cd "$(dirname "$0")/.." && pwd -P)
build=${1:-}
if [ -z "$build" ]; then
	for d in "$top/build/check" "$top/build"; do
		[ -f "$d/Makefile" ] && build=$d && break
	done
fi
if [ -z "$build" ] || [ ! -f "$build/Makefile" ]; then
	echo "lint.sh: no configured build tree (give BUILD_DIR)" >&2
	exit 2
fi
build=$(cd "$build" && pwd -P)
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
tidy=${CLANG_TIDY:-$(command -v clang-tidy || command -v clang-tidy-14 || echo clang-tidy)}
cppcheck=${CPPCHECK:-cppcheck}
db="$build/compile_commands.json"
for tool in "$tidy" "$cppcheck" python3; do
	command -v "$tool" >/dev/null || {
		echo "lint.sh: $tool is missing (contrib/deps.sh installs it)" >&2
		exit 2
	}
done
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
start=$(date +%s)

sources=$(cd "$top" && find core plugins -name '*.c' | sort)

# Fresh compile commands: recorded under the Makefile's present compile
# flags (configure rewrites the Makefile on every run, so not its date) and
# naming every source.
flags=$(grep -E '^[A-Za-z_]*(CC|CFLAGS|CPPFLAGS|DEFS|INCLUDES) =' "$build/Makefile" | cksum)
fresh() {
	[ -f "$db" ] && [ "$(cat "$db.flags" 2>/dev/null)" = "$flags" ] || return 1
	for f in $sources; do
		grep -q "\"$top/$f\"" "$db" || return 1
	done
}
if ! fresh; then
	command -v bear >/dev/null || {
		echo "lint.sh: bear is missing (contrib/deps.sh installs it)" >&2
		exit 2
	}
	echo "lint: recording the compile commands in $db (bear)"
	# Only our objects are recompiled (recording needs a real compile);
	# tests and generated files stay as they are.
	(cd "$build" && find core plugins \( -name '*.lo' -o -name '*.o' \) -exec rm -f {} + &&
		nice bear --output "$db" -- make -j"$jobs" >"$out/bear.log" 2>&1) || {
		tail -n 30 "$out/bear.log"
		echo "lint.sh: the build under bear failed" >&2
		exit 2
	}
	echo "$flags" >"$db.flags"
	fresh || echo "lint.sh: note: some of core/ and plugins/ is not built, so not analysed" >&2
fi

# Our sources only (not build-aux/ nor generated files), and for cppcheck
# with the quotes in -DJV_SYSCONFDIR="..." escaped: its --project reader
# drops them from an "arguments" list and then fails on the bare path.
python3 - "$db" "$top" "$out" <<'EOF'
import json, sys
db, top, out = sys.argv[1:]
ours = [e for e in json.load(open(db))
        if e["file"].startswith(top + "/core/") or e["file"].startswith(top + "/plugins/")]
def arg(a):
    return a.replace("\\", "\\\\").replace('"', '\\"') if ('"' in a or " " in a) else a
with open(out + "/cppcheck.json", "w") as f:
    json.dump([{"directory": e["directory"], "file": e["file"],
                "command": " ".join(map(arg, e["arguments"])) if "arguments" in e else e["command"]}
               for e in ours], f, indent=1)
with open(out + "/files", "w") as f:
    f.write("".join(sorted({e["file"] + "\n" for e in ours})))
EOF

# cppcheck: one configuration per file, the one the build uses.
rc=0
"$cppcheck" --enable=warning,style,performance,portability --library=posix --inline-suppr --std=c11 \
	--error-exitcode=1 --suppressions-list="$top/contrib/cppcheck.supp" \
	--project="$out/cppcheck.json" -j"$jobs" -q \
	--template='{file}:{line}:{column}: {severity}: {message} [{id}]' >"$out/cppcheck.txt" 2>&1 || rc=$?
n_cppcheck=$(grep -cE ': (error|warning|style|performance|portability|information): .*\[[A-Za-z0-9_]+\]$' \
	"$out/cppcheck.txt" || true)
cat "$out/cppcheck.txt"
[ $rc -eq 0 ] || [ "$n_cppcheck" -gt 0 ] || {
	echo "lint.sh: cppcheck failed (exit $rc) without a finding" >&2
	exit 2
}

# clang-tidy: one process per file, $jobs at a time, each into its own log
# so that the reports do not interleave.
mkdir "$out/tidy"
# shellcheck disable=SC2016 # $0..$3 are for the inner sh
xargs -P "$jobs" -I{} sh -c '"$0" -p "$1" --quiet "$3" >"$2/$(echo "$3" | tr / _).log" 2>&1 || true' \
	"$tidy" "$build" "$out/tidy" {} <"$out/files"
cat "$out"/tidy/*.log | grep -v '^[0-9]* \(warning\|error\)s\? generated\.$' | grep -v '^Suppressed ' |
	grep -v '^Use -header-filter' >"$out/tidy.txt" || true
n_tidy=$(grep -cE ': (warning|error): .*\[[A-Za-z0-9.,-]+\]$' "$out/tidy.txt" || true)
n_broken=$(grep -cE ': error: .*\[clang-diagnostic-error\]$' "$out/tidy.txt" || true)
cat "$out/tidy.txt"

echo "lint: cppcheck $n_cppcheck finding(s), clang-tidy $n_tidy finding(s)" \
	"in $(wc -l <"$out/files") files, $(($(date +%s) - start))s"
[ "$n_broken" -eq 0 ] || echo "lint.sh: clang-tidy could not compile some files (see above)" >&2
[ "$n_cppcheck" -eq 0 ] && [ "$n_tidy" -eq 0 ]
