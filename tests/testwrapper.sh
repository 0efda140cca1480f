#!/bin/sh
# testwrapper.sh TEST -- how `make check` runs each test.
# Compiled (CUnit) tests run under valgrind when it is available, failing on
# any leak or memory error; set JV_VALGRIND=0 to run them bare (the sanitizer
# lane does). Shell tests run with sh -e semantics of their own.
test_prog=$1
shift
case "$test_prog" in
*.sh)
	exec ${SHELL:-/bin/sh} "$test_prog" "$@"
	;;
esac
if [ -n "$VALGRIND" ] && [ "${JV_VALGRIND:-1}" != 0 ]; then
	# libtool wrapper scripts: run the real binary under valgrind.
	exec "${top_builddir:-.}/libtool" --mode=execute "$VALGRIND" --quiet \
		--leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
		--error-exitcode=99 --suppressions="${top_srcdir:-.}/tests/valgrind.supp" \
		"$test_prog" "$@"
fi
exec "$test_prog" "$@"
