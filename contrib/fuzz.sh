#!/bin/sh
# contrib/fuzz.sh [SECONDS [TARGET...]] -- run libFuzzer targets (ASan +
# UBSan, -fno-sanitize-recover=undefined) for SECONDS each (default 60), one
# after another, each from its seed corpus tests/fuzz/TARGET/ with the
# dictionary tests/fuzz/TARGET.dict when there is one. Targets (default:
# all):
#   cron    the cron parser and next-run calculator   tests/fuzz_cron.c
#   config  the whole config load, ${VAR}, KEY_file     tests/fuzz_config.c
#   exec    the executors' config and payload checks   tests/fuzz_exec.c
#   api     the REST API over a socket                 tests/fuzz_api.c
#
# The core is built once with clang and coverage in a temporary folder
# (JV_FUZZ_BUILD=DIR keeps it there for the next run). A crash, leak,
# timeout or sanitizer report fails the run and prints the reproducer's
# path, kept in JV_FUZZ_OUT (default ./fuzz-artifacts); replay it with the
# plain build: build/tests/fuzz_TARGET 0 DIR-HOLDING-IT. New corpus entries
# are kept in JV_FUZZ_OUT/corpus/TARGET. Exits 0 with a note when clang or
# libFuzzer is missing.
#
# JV_FUZZ_MERGE=1 fuzzes nothing: it adds to the checked-in corpus
# tests/fuzz/TARGET/ the inputs of JV_FUZZ_OUT/corpus/TARGET that reach new
# coverage (libFuzzer -merge=1), after a long run, to be committed.
set -e
secs=${1:-60}
[ $# -gt 0 ] && shift
targets=${*:-cron config exec api}
top=$(cd "$(dirname "$0")/.." && pwd)
CC=${CC_FUZZ:-clang}
if ! command -v "$CC" >/dev/null 2>&1; then
	echo "fuzz.sh: $CC not found; skipping"
	exit 0
fi
for t in $targets; do
	[ -f "$top/tests/fuzz_$t.c" ] || { echo "fuzz.sh: no target '$t' (cron config exec api)" >&2; exit 2; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }' >"$tmp/probe.c"
if ! "$CC" -fsanitize=fuzzer "$tmp/probe.c" -o "$tmp/probe" >/dev/null 2>&1; then
	echo "fuzz.sh: $CC has no libFuzzer (-fsanitize=fuzzer); skipping"
	exit 0
fi
out=$(mkdir -p "${JV_FUZZ_OUT:-fuzz-artifacts}" && cd "${JV_FUZZ_OUT:-fuzz-artifacts}" && pwd)
build=${JV_FUZZ_BUILD:-$tmp/build}
SAN="-g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined"

# The core, instrumented for coverage, as a static library (configured
# once; a kept JV_FUZZ_BUILD is brought up to date by make).
[ -x "$top/configure" ] || (cd "$top" && autoreconf -fi >/dev/null)
mkdir -p "$build"
echo "fuzz.sh: building the core with $CC (log: $build/build.log)"
( cd "$build" && { [ -f Makefile ] || "$top/configure" CC="$CC" \
	CFLAGS="$SAN -fsanitize=fuzzer-no-link" >build.log 2>&1; } &&
	make core/engine/migrations.c libjvcore.la >>build.log 2>&1 ) || {
	tail -n 30 "$build/build.log"
	exit 1
}
var() { sed -n "s/^$1 = //p" "$build/Makefile"; }
LIBS="$(var MHD_LIBS) $(var CURL_LIBS) $(var LIBPQ_LIBS) $(var YAML_LIBS) $(var JANSSON_LIBS) $(var GNUTLS_LIBS) -lpthread -lm -ldl"
INC="-I$build -I$top -I$top/include -I$top/core -I$build/core -I$top/plugins -DHAVE_CONFIG_H"
INC="$INC $(var MHD_CFLAGS) $(var CURL_CFLAGS) $(var LIBPQ_CFLAGS) $(var YAML_CFLAGS) $(var JANSSON_CFLAGS) $(var GNUTLS_CFLAGS)"

status=0
for t in $targets; do
	extra=
	flags=
	maxlen=4096
	case $t in
	cron) maxlen=256 ;;
	config) extra="$top/core/config/config.c"; flags=-DJV_FUZZ ;;
	exec) extra=$(ls "$top"/plugins/common/*.c) ;; # what the plugins link in
	esac
	# shellcheck disable=SC2086
	"$CC" $SAN -fsanitize=fuzzer -DJV_LIBFUZZER $flags $INC "$top/tests/fuzz_$t.c" $extra \
		"$build/.libs/libjvcore.a" $LIBS -o "$tmp/fuzz_$t" || {
		echo "fuzz.sh: $t FAILED (it does not build)"
		status=1
		continue
	}
	corpus=$out/corpus/$t
	mkdir -p "$corpus"
	dict=
	[ -f "$top/tests/fuzz/$t.dict" ] && dict=-dict="$top/tests/fuzz/$t.dict"
	if [ "${JV_FUZZ_MERGE:-0}" = 1 ]; then
		before=$(ls "$top/tests/fuzz/$t" | wc -l)
		"$tmp/fuzz_$t" -merge=1 -max_len=$maxlen -timeout=30 -rss_limit_mb=2048 \
			"$top/tests/fuzz/$t" "$corpus" >"$out/$t-merge.log" 2>&1 || {
			tail -n 20 "$out/$t-merge.log"
			status=1
			continue
		}
		echo "fuzz.sh: $t: corpus $before -> $(ls "$top/tests/fuzz/$t" | wc -l) inputs"
		continue
	fi
	echo "fuzz.sh: $t for $secs s"
	rm -f "$out/$t-"*
	if ! "$tmp/fuzz_$t" -max_total_time="$secs" -max_len=$maxlen -timeout=30 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$out/$t-" ${dict:+"$dict"} "$corpus" "$top/tests/fuzz/$t"; then
		status=1
		for a in "$out/$t-"*; do
			[ -f "$a" ] && echo "fuzz.sh: $t FAILED; reproducer: $a"
		done
		echo "fuzz.sh: $t FAILED"
	else
		echo "fuzz.sh: $t passed"
	fi
done
exit $status
