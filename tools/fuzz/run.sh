#!/bin/sh
# The long fuzzing run of fuzz_request (see fuzz_request.c).
#
#   tools/fuzz/run.sh [BUILD_DIR [SECONDS [libFuzzer flags...]]]
#
# BUILD_DIR defaults to ./build (configured with clang and libclang-rt-14-dev
# installed, so that tools/fuzz/CMakeLists.txt built fuzz_request), SECONDS
# to 3600. The run keeps its corpus in BUILD_DIR/tools/fuzz/corpus-long
# (new inputs go there; the seeds in tools/fuzz/corpus are only read) and
# writes crashes, timeouts and leaks to BUILD_DIR/tools/fuzz/crashes/. The
# history of writes, needed to reproduce a crash that depends on the state
# of the store, is kept in BUILD_DIR/tools/fuzz/history-PID.bin (one per
# fuzzing process; about 250 MB an hour each, restarted whenever the 64 MiB
# store is made anew). After a crash, with the history of the process that
# crashed:
#
#   cp BUILD_DIR/tools/fuzz/history-PID.bin /tmp/h.bin
#   CLM_FUZZ_REPLAY=/tmp/h.bin BUILD_DIR/tools/fuzz/fuzz_request CRASH-FILE
#
# then shrink it to a few requests (tools/fuzz/crashes/README.md has the
# ones found so far). Set CLM_FUZZ_RECORD= (empty) to record nothing.
#
# Extra flags go to libFuzzer, e.g. -jobs=2 -workers=2 for two processes,
# each with its own store and history. UBSAN_OPTIONS (for example
# suppressions=FILE to get past a known report), ASAN_OPTIONS and
# CLM_FUZZ_LOG are passed through. A process that crashed leaves its store
# in /tmp/clm-fuzz-XXXXXX.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
seconds=${2:-3600}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] && shift

bin=$build/tools/fuzz/fuzz_request
if [ ! -x "$bin" ]; then
	echo "run.sh: no '$bin': build with clang and libFuzzer installed" >&2
	exit 1
fi
work=$build/tools/fuzz
mkdir -p "$work/corpus-long" "$work/crashes"

CLM_FUZZ_RECORD=${CLM_FUZZ_RECORD-$work/history-%p.bin}
if [ -n "$CLM_FUZZ_RECORD" ]; then
	export CLM_FUZZ_RECORD
else
	unset CLM_FUZZ_RECORD
fi
exec "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
	-print_final_stats=1 -artifact_prefix="$work/crashes/" "$@" \
	"$work/corpus-long" "$here/corpus"
