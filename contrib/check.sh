#!/bin/sh
# check.sh -- the test command: install what is missing, build with -Werror,
# start a private PostgreSQL and run every lane of tests: static analysis,
# `make check` (unit tests under valgrind, integration and fault tests),
# quickstart, the Debian packages (contrib/deb-check.sh), the TypeScript
# client's tests, the OpenAPI document's linters and contract test, the
# same tests under ASan + UBSan, short fuzz runs and `make distcheck`.
# Stops PostgreSQL, exits non-zero on any failure.
#
# Every lane runs even when an earlier one failed (a build failure stops
# everything), and the closing line counts them all: the tests of each
# automake lane (check, sanitizers, distcheck) one by one, and the other
# lanes (lint, quickstart, deb, typescript, openapi, each fuzz target) as
# one check each. A lane that could not run at all counts as failed (deb:
# skipped without dpkg).
#
#   ./contrib/check.sh            everything
#   JV_SKIP_DISTCHECK=1 ./contrib/check.sh   skip the distcheck pass (faster)
#   JV_SKIP_SANITIZERS=1 ./contrib/check.sh  skip the ASan/UBSan lane (faster)
#   JV_SKIP_FUZZ=1 ./contrib/check.sh        skip the fuzz runs
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
build="$top/build/check"
jobs=$(nproc 2>/dev/null || echo 2)
start=$(date +%s)

step() { printf '\n=== %s (at %ss)\n' "$*" $(($(date +%s) - start)); }

# The tally: one line per lane, "LANE PASS FAIL SKIP", summed at the end.
tally_file=$(mktemp)
trap 'rm -f "$tally_file"' EXIT
tally() { echo "$1 $2 $3 $4" >>"$tally_file"; }

# tally_automake LANE OUTPUT: the counts of automake's test-suite summary
# ("# PASS: N" ...) in OUTPUT; no summary at all is one failure.
tally_automake()
{
	_p=$(sed -n 's/^# PASS: *\([0-9]*\)$/\1/p' "$2" 2>/dev/null | tail -n 1)
	if [ -z "$_p" ]; then
		tally "$1" 0 1 0
		return
	fi
	_f=0
	for _k in FAIL XPASS ERROR; do
		_n=$(sed -n "s/^# $_k: *\([0-9]*\)$/\1/p" "$2" | tail -n 1)
		_f=$((_f + ${_n:-0}))
	done
	_s=$(sed -n 's/^# SKIP: *\([0-9]*\)$/\1/p' "$2" | tail -n 1)
	tally "$1" "$_p" "$_f" "${_s:-0}"
}

# What each failed test under DIR said: its first failed assertion with the
# lines after it, then the end of its log (CI shows the end of the output).
failures()
{
	find "$1" -name '*.trs' 2>/dev/null | while read -r trs; do
		grep -q '^:test-result: \(FAIL\|ERROR\)' "$trs" || continue
		log=${trs%.trs}.log
		echo "--- $log"
		grep -m1 -A12 '^FAIL' "$log"
		echo "--- (end of $log)"
		tail -n 25 "$log"
	done
}

step "dependencies"
sh contrib/deps.sh

step "configure"
autoreconf -fi >/dev/null 2>&1 || autoreconf -fi
mkdir -p "$build"
cd "$build"
"$top/configure" --enable-werror --prefix=/usr/local >configure.out 2>&1 || {
	cat configure.out
	exit 1
}

step "build"
make -j"$jobs" >make.out 2>&1 || {
	cat make.out
	exit 1
}

status=0
if sh "$top/contrib/checksrc.sh" "$top"; then tally checksrc 1 0 0; else tally checksrc 0 1 0; status=1; fi
if sh "$top/contrib/rooms.sh" "$top"; then tally rooms 1 0 0; else tally rooms 0 1 0; status=1; fi
step "static analysis (cppcheck, clang-tidy)"
if sh "$top/contrib/lint.sh" "$build"; then tally lint 1 0 0; else tally lint 0 1 0; status=1; fi

step "private PostgreSQL"
. "$top/tests/pg.sh"
jv_pg_start
# jv_pg_start registered jv_pg_stop to run at exit
export JV_REQUIRE_PG=1

step "make check"
if ! make -j"$jobs" check >check.out 2>&1; then
	status=1
	failures tests
fi
grep -E '^(PASS|FAIL|ERROR|SKIP|XPASS|XFAIL):' check.out || :
tally_automake "make-check" check.out

step "quickstart (--once)"
# --once ends the way Ctrl-C does: serve stops (its processor row marked
# stopped, no error line) before PostgreSQL, and everything is stopped.
if JV_BUILD_DIR=$build sh "$top/contrib/quickstart.sh" --once >quickstart.out 2>&1 &&
	grep -q '^quickstart: stopped everything it started' quickstart.out &&
	grep -q ' info: processor [0-9]* stopped' quickstart.out &&
	! grep -q ' error: ' quickstart.out; then
	echo "quickstart: ok"
	tally quickstart 1 0 0
else
	tail -n 60 quickstart.out
	tally quickstart 0 1 0
	status=1
fi

step "Debian packages (build, lintian, install, purge)"
# Once, not in make check: make deb, lintian, then installed on this
# machine (root; refused when a jobvisor package is already there), checked
# (check-config, systemd-analyze verify, the plugin kit) and purged.
# Skipped only without dpkg-buildpackage (not Debian).
deb_rc=0
sh "$top/contrib/deb-check.sh" "$build" >deb-check.out 2>&1 || deb_rc=$?
grep '^deb-check: ' deb-check.out || :
case $deb_rc in
0) tally deb 1 0 0 ;;
77) tally deb 0 0 1 ;;
*)
	tail -n 60 deb-check.out
	tally deb 0 1 0
	status=1
	;;
esac

step "typescript client (clients/typescript)"
# Once, like quickstart: npm ci (the pinned devDependencies into its
# gitignored node_modules), then its own driver: the generated types up to
# date with docs/openapi.yaml, tsc --strict, node --test against a real
# serve on this run's PostgreSQL.
if (cd "$top/clients/typescript" && npm ci --no-audit --no-fund) >typescript.out 2>&1 &&
	JV_REQUIRE_NODE=1 sh "$top/clients/typescript/check.sh" "$build" >>typescript.out 2>&1; then
	echo "typescript: $(tail -n 1 typescript.out)"
	tally typescript 1 0 0
else
	tail -n 80 typescript.out
	tally typescript 0 1 0
	status=1
fi

step "openapi (Redocly, Spectral, contract test)"
# docs/openapi.yaml lint-clean, and every operation's answers as it says
# (contrib/openapi-check.sh: npm ci once, then about 20 s).
if sh "$top/contrib/openapi-check.sh" "$build" >openapi.out 2>&1; then
	grep '^openapi-check: ' openapi.out
	tally openapi 1 0 0
else
	grep -v '^ok ' openapi.out | tail -n 60
	tally openapi 0 1 0
	status=1
fi

if [ "${JV_SKIP_SANITIZERS:-0}" != 1 ]; then
	# The same tests once more, built with AddressSanitizer and UBSan
	# (valgrind off: the two do not mix). Catches what valgrind cannot see,
	# such as reads past a string literal.
	step "sanitizer lane (ASan + UBSan)"
	asan="$top/build/asan"
	mkdir -p "$asan"
	if (cd "$asan" &&
		"$top/configure" --enable-werror --enable-sanitizers CFLAGS="-O1 -g" >configure.out 2>&1 &&
		make -j"$jobs" >make.out 2>&1); then
		(cd "$asan" && JV_VALGRIND=0 ASAN_OPTIONS=detect_leaks=1 \
			UBSAN_OPTIONS=print_stacktrace=1 make -j"$jobs" check >check.out 2>&1) || {
			grep -E '^(FAIL|ERROR)' "$asan/check.out"
			failures "$asan/tests"
			status=1
		}
		tally_automake "sanitizers" "$asan/check.out"
		echo "sanitizer lane: $(grep -c '^PASS' "$asan/check.out") tests passed"
	else
		tail -n 40 "$asan/make.out" "$asan/configure.out" 2>/dev/null
		tally "sanitizers(build)" 0 1 0
		status=1
	fi
fi

if [ "${JV_SKIP_FUZZ:-0}" != 1 ]; then
	# A short libFuzzer run (ASan + UBSan) of every target, 20 s each
	# after replaying its corpus: a smoke test of the harnesses and the
	# seeds; the long runs are by hand: contrib/fuzz.sh 600 [TARGET...].
	step "fuzz (cron, config, exec, api: 20 s each)"
	sh "$top/contrib/fuzz.sh" 20 >fuzz.out 2>&1 || {
		tail -n 40 fuzz.out
		status=1
	}
	grep -E '^(fuzz.sh: |stat::number_of_executed_units)' fuzz.out || :
	_p=$(grep -c '^fuzz.sh: .* passed$' fuzz.out || true)
	_f=$(grep -c '^fuzz.sh: .* FAILED$' fuzz.out || true)
	if [ "$_p" -eq 0 ] && [ "$_f" -eq 0 ] && ! grep -q 'skipping' fuzz.out; then
		_f=1 # it ran nothing and did not say why
	fi
	tally fuzz "$_p" "$_f" 0
fi

if [ "${JV_SKIP_DISTCHECK:-0}" != 1 ]; then
	step "make distcheck"
	# The tarball's build and tests, without valgrind: it ran over the
	# same sources in the make check lane; what this lane adds is that the
	# tarball holds everything the build and the tests need.
	if ! JV_VALGRIND=0 make -j"$jobs" distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror >distcheck.out 2>&1; then
		tail -n 80 distcheck.out
		# distcheck leaves its tree behind when it fails.
		failures "$(find . -maxdepth 1 -type d -name 'jobvisor-*')"
		status=1
	fi
	tally_automake distcheck distcheck.out
fi

# The closing lines: each lane, then the sum of them all.
printf '\ncheck.sh took %ss\n' $(($(date +%s) - start))
pass=0 fail=0 skip=0
while read -r lane p f s; do
	printf '  %-18s %5s passed, %s failed, %s skipped\n' "$lane" "$p" "$f" "$s"
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
done <"$tally_file"
[ "$fail" -eq 0 ] || status=1
[ "$skip" -eq 0 ] || status=1 # with a real PostgreSQL here, nothing may skip
echo "$pass passed, $fail failed, $skip skipped"
exit $status
