#!/bin/sh
# run.sh -- run the fault-injection scenarios (tests/faults/f*.sh) one after
# the other against the built tree and print a summary table: scenario,
# result, seconds, and the figures each printed ("figure: NAME = VALUE").
#
#   cd build && sh ../tests/faults/run.sh [f1_sigkill ...]
#
# Needs a built tree (make, and make tests/faults/faulty.la or make check)
# and PostgreSQL binaries (a private cluster is started, as in tests/pg.sh).
# Exits 1 when any scenario fails.
here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
top_builddir=${top_builddir:-$(pwd)}
export top_srcdir top_builddir
JV_REQUIRE_PG=${JV_REQUIRE_PG:-1}
export JV_REQUIRE_PG
if [ ! -f "$top_builddir/tests/faults/.libs/faulty.so" ]; then
	make -C "$top_builddir" tests/faults/faulty.la >/dev/null || exit 1
fi
if [ $# -eq 0 ]; then
	set -- $(cd "$here" && ls f[0-9]*_*.sh | sed 's/\.sh$//')
fi
logdir=$(mktemp -d "${TMPDIR:-/tmp}/jv-faults.XXXXXX") || exit 1
status=0
rows=
t_all=$(date +%s)
for t in "$@"; do
	t0=$(date +%s)
	if sh "$here/$t.sh" >"$logdir/$t.log" 2>&1; then
		res=PASS
	else
		res=FAIL
		status=1
	fi
	secs=$(($(date +%s) - t0))
	figs=$(sed -n 's/^figure: \(.*\) = \(.*\)$/\1=\2/p' "$logdir/$t.log" | paste -sd' ' -)
	rows="$rows$(printf '%-16s %-4s %5ss  %s' "$t" "$res" "$secs" "$figs")
"
	if [ $res = FAIL ]; then
		echo "--- $t"
		tail -n 30 "$logdir/$t.log"
	fi
done
printf '\n%-16s %-4s %6s  %s\n' scenario res time figures
printf '%s' "$rows"
echo "total: $(($(date +%s) - t_all))s (logs in $logdir)"
exit $status
