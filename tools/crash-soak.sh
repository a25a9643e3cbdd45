#!/bin/sh
# Crash soak: the crash-safety test of tests/reliability/crash_test.c, for
# many more cycles than `make test` runs (100). Each cycle starts clmd,
# Tracks from 4 threads, kills clmd with SIGKILL at a random moment,
# restarts it and checks that every acknowledged event is stored exactly
# once, that the touchpoint count is exact and that no unacknowledged
# batch was torn. Every SCAN_EVERY cycles it scans the stopped store with
# LMDB (every event id points to its touchpoint), every FULL_EVERY cycles
# it re-tracks every event ever sent; both also on the last cycle. The
# same binary then runs a quarter as many cycles with --map-bytes 64K (the
# map grows between crashes).
#
# Usage: tools/crash-soak.sh [BUILD_DIR]        (default: build)
#   CLM_CRASH_CYCLES=N      cycles (default 10000: about 1.5 to 2 hours on
#                           two cores, and a few GB under /tmp by the end;
#                           the LMDB map grows past its initial 256 MiB)
#   CLM_CRASH_SCAN_EVERY=N  store scans every N cycles (default 100)
#   CLM_CRASH_FULL_EVERY=N  full re-tracks every N cycles (default 1000)
#
# Build first: cmake -S . -B build && cmake --build build -j2. Not part of
# ctest. Prints a summary line per test: cycles, events acked, lost (must
# be 0).
# Exits 0 when every cycle passed, non-zero otherwise (Criterion's status).
set -eu

BUILD=${1:-build}
BIN="$BUILD/bin/crash_test"
if [ ! -x "$BIN" ]; then
	echo "crash-soak: '$BIN' not found: build first (see the header)" >&2
	exit 2
fi

CLM_CRASH_CYCLES=${CLM_CRASH_CYCLES:-10000}
CLM_CRASH_SCAN_EVERY=${CLM_CRASH_SCAN_EVERY:-100}
CLM_CRASH_FULL_EVERY=${CLM_CRASH_FULL_EVERY:-1000}
export CLM_CRASH_CYCLES CLM_CRASH_SCAN_EVERY CLM_CRASH_FULL_EVERY

echo "crash-soak: $CLM_CRASH_CYCLES cycles, store scans every" \
	"$CLM_CRASH_SCAN_EVERY, full re-tracks every $CLM_CRASH_FULL_EVERY" >&2
# No Criterion timeout: the test sets none, and ctest's does not apply here.
exec "$BIN" --jobs 1 --verbose
