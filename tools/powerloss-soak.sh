#!/bin/sh
# Power-loss soak: the power-cut test of tests/reliability/powerloss_test.c
# with many more cut points than `make test` runs (32). Each cut runs clmd
# under the powercut LD_PRELOAD library (tests/reliability/powercut.c),
# which keeps only what was made durable (file data by fsync, fdatasync or
# an O_DSYNC write; directory entries by an fsync of the directory), cuts
# the power right after the N-th durability operation and writes that state
# out; a second clmd then starts on it, and the test checks that every
# acknowledged write is there, no Track is half-applied, Metrics and
# ServerStatus agree with the customers, and LMDB reads every database end
# to end. The cut points cover a new store's first operations and spread
# over the whole workload. The soak runs the cuts twice: once with only
# the synced state, once also keeping unsynced pages at random (torn
# writes), each with its own seed.
#
# Usage: tools/powerloss-soak.sh [BUILD_DIR]      (default: build)
#   CLM_POWERLOSS_CUTS=N    cuts per pass (default 1000: about 11 minutes
#                           per pass on two cores)
#   CLM_POWERLOSS_CALLS=N   calls of the workload each cut runs (default
#                           200, about 2,000 operations; at most 4,000)
#   CLM_POWERLOSS_SEED=S    base seed of the first pass (default: from the
#                           clock, printed; the second pass uses S + 1)
#
# No Criterion timeout: the test sets none, and ctest's does not apply here.
# A failure prints the cut, its seed and the base seed to rerun with
# (CLM_POWERLOSS_SEED=S, and CLM_POWERLOSS_TORN=1 for the second pass).
# Build first: cmake -S . -B build && cmake --build build -j2. Not part of
# ctest. Exits 0 when every cut passed, non-zero otherwise.
set -eu

BUILD=${1:-build}
BIN="$BUILD/bin/powerloss_test"
if [ ! -x "$BIN" ]; then
	echo "powerloss-soak: '$BIN' not found: build first (see the header)" >&2
	exit 2
fi

CLM_POWERLOSS_CUTS=${CLM_POWERLOSS_CUTS:-1000}
CLM_POWERLOSS_CALLS=${CLM_POWERLOSS_CALLS:-200}
SEED=${CLM_POWERLOSS_SEED:-$(date +%s)}
export CLM_POWERLOSS_CUTS CLM_POWERLOSS_CALLS

echo "powerloss-soak: $CLM_POWERLOSS_CUTS cuts per pass of" \
	"$CLM_POWERLOSS_CALLS calls, seed $SEED" >&2
# The harness prints each cut clmd's exit and log; keep the summaries.
# Only the durability full test (os_mode_keeps_a_prefix has its own
# CLM_POWERLOSS_OS_CUTS; run the binary with --filter for it).
TEST='powerloss/acked_writes_survive_power_cuts'
CLM_POWERLOSS_SEED=$SEED CLM_POWERLOSS_TORN=0 \
	"$BIN" --jobs 1 --verbose --filter "$TEST"
CLM_POWERLOSS_SEED=$((SEED + 1)) CLM_POWERLOSS_TORN=1 \
	"$BIN" --jobs 1 --verbose --filter "$TEST"
