#!/bin/sh
# check.sh -- the test command: install what is missing, build with -Werror,
# start a private PostgreSQL, run every test (`make check`, then
# `make distcheck`), stop PostgreSQL, exit non-zero on any failure.
#
#   ./contrib/check.sh            everything
#   JV_SKIP_DISTCHECK=1 ./contrib/check.sh   skip the distcheck pass (faster)
#   JV_SKIP_SANITIZERS=1 ./contrib/check.sh  skip the ASan/UBSan lane (faster)
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
build="$top/build/check"
jobs=$(nproc 2>/dev/null || echo 2)
start=$(date +%s)

step() { printf '\n=== %s\n' "$*"; }

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
sh "$top/contrib/checksrc.sh" "$top"
step "static analysis (cppcheck, clang-tidy)" && sh "$top/contrib/lint.sh" "$build"

step "private PostgreSQL"
. "$top/tests/pg.sh"
jv_pg_start
# jv_pg_start registered jv_pg_stop to run at exit
export JV_REQUIRE_PG=1

status=0
step "make check"
make -j"$jobs" check || status=1
[ $status -eq 0 ] || failures tests

if [ $status -eq 0 ]; then
	step "quickstart (--once)"
	JV_BUILD_DIR=$build sh "$top/contrib/quickstart.sh" --once >quickstart.out 2>&1 || {
		tail -n 60 quickstart.out
		status=1
	}
	[ $status -ne 0 ] || echo "quickstart: ok"
fi

if [ $status -eq 0 ] && [ "${JV_SKIP_SANITIZERS:-0}" != 1 ]; then
	# The same tests once more, built with AddressSanitizer and UBSan
	# (valgrind off: the two do not mix). Catches what valgrind cannot see,
	# such as reads past a string literal.
	step "sanitizer lane (ASan + UBSan)"
	mkdir -p "$top/build/asan"
	(cd "$top/build/asan" &&
		"$top/configure" --enable-werror --enable-sanitizers CFLAGS="-O1 -g" >configure.out 2>&1 &&
		make -j"$jobs" >make.out 2>&1) || {
		tail -n 40 "$top/build/asan/make.out" "$top/build/asan/configure.out" 2>/dev/null
		status=1
	}
	if [ $status -eq 0 ]; then
		(cd "$top/build/asan" && JV_VALGRIND=0 ASAN_OPTIONS=detect_leaks=1 \
			UBSAN_OPTIONS=print_stacktrace=1 make -j"$jobs" check >check.out 2>&1) || {
			grep -E '^(FAIL|ERROR)' "$top/build/asan/check.out"
			failures "$top/build/asan/tests"
			status=1
		}
		[ $status -ne 0 ] || echo "sanitizer lane: $(grep -c '^PASS' "$top/build/asan/check.out") tests passed"
	fi
fi

if [ $status -eq 0 ] && [ "${JV_SKIP_FUZZ:-0}" != 1 ]; then
	# A short libFuzzer run (ASan + UBSan) of every target, one minute
	# each; longer runs by hand: contrib/fuzz.sh 600 [TARGET...].
	step "fuzz (cron, config, exec, api: 60 s each)"
	sh "$top/contrib/fuzz.sh" 60 >fuzz.out 2>&1 || {
		tail -n 40 fuzz.out
		status=1
	}
	[ $status -ne 0 ] || grep -E '^(fuzz.sh: |stat::number_of_executed_units)' fuzz.out
fi

if [ $status -eq 0 ] && [ "${JV_SKIP_DISTCHECK:-0}" != 1 ]; then
	step "make distcheck"
	make -j"$jobs" distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror >distcheck.out 2>&1 || {
		tail -n 80 distcheck.out
		# distcheck leaves its tree behind when it fails.
		failures "$(find . -maxdepth 1 -type d -name 'jobvisor-*')"
		status=1
	}
fi

# One closing line, counted from the automake test logs.
trs=$(find tests -name '*.trs' 2>/dev/null)
pass=$(cat $trs /dev/null | grep -c '^:test-result: PASS' || true)
fail=$(cat $trs /dev/null | grep -c '^:test-result: \(FAIL\|ERROR\|XPASS\)' || true)
skip=$(cat $trs /dev/null | grep -c '^:test-result: SKIP' || true)
[ "$skip" -eq 0 ] || status=1 # with a real PostgreSQL here, nothing may skip
printf '\ncheck.sh took %ss\n' $(($(date +%s) - start))
echo "$pass passed, $fail failed, $skip skipped"
exit $status
