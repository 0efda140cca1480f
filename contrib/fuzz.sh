#!/bin/sh
# contrib/fuzz.sh [SECONDS] -- fuzz the cron parser and next-run calculator
# with libFuzzer (ASan + UBSan) for SECONDS (default 60), starting from the
# corpus tests/fuzz/cron/. Exits 0 with a note when clang/libFuzzer is
# missing.
set -e
secs=${1:-60}
top=$(cd "$(dirname "$0")/.." && pwd)
CC=${CC_FUZZ:-clang}
if ! command -v "$CC" >/dev/null 2>&1; then
	echo "fuzz.sh: $CC not found; skipping"
	exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }' >"$work/probe.c"
if ! "$CC" -fsanitize=fuzzer "$work/probe.c" -o "$work/probe" >/dev/null 2>&1; then
	echo "fuzz.sh: $CC has no libFuzzer (-fsanitize=fuzzer); skipping"
	exit 0
fi
"$CC" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -DJV_LIBFUZZER \
	-I"$top/core" "$top/tests/fuzz_cron.c" "$top/core/cron.c" "$top/core/tz.c" "$top/core/mem.c" \
	-lpthread -o "$work/fuzz_cron"
mkdir -p "$work/corpus"
cp "$top"/tests/fuzz/cron/* "$work/corpus/"
"$work/fuzz_cron" -max_total_time="$secs" -max_len=256 -print_final_stats=1 "$work/corpus"
