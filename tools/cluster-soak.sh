#!/bin/sh
# Cluster soak (issue 16): the leader failover of
# tests/integration/cluster_failover_test.c, many rounds instead of the
# one `make test` runs. Three nats-servers and two clmd nodes joined to
# their stream; in each round four writer threads (two per node, unique
# event ids, every failed call sent again until acknowledged) Track while
# the stream's leader is killed with SIGKILL; once a new leader took over
# and every writer was acknowledged again, the round checks on both nodes
# that every acknowledged touchpoint is there exactly once (none missing,
# none twice), and that every failure was UNAVAILABLE or
# DEADLINE_EXCEEDED; then it restarts the killed server for the next
# round. It stops at the first round that fails.
#
# Usage: tools/cluster-soak.sh [ROUNDS] [BUILD_DIR]   (default: 20, build)
#
# Build first: cmake -S . -B build && cmake --build build -j2. Not part of
# ctest. Prints one line per round ("cluster-soak: round N: ...": which
# server led, how long until the new leader and the first ack after the
# kill, the calls and failures) and a summary; exits 0 when every round
# passed, non-zero otherwise (Criterion's status). A round takes 10-20 s
# on two cores.
set -eu

ROUNDS=${1:-20}
BUILD=${2:-build}
BIN="$BUILD/bin/cluster_failover_test"
if [ ! -x "$BIN" ]; then
	echo "cluster-soak: '$BIN' not found: build first (see the header)" >&2
	exit 2
fi
CLM_CLUSTER_ROUNDS=$ROUNDS
# The clmd nodes' logs (--log-level warn: stream errors, divergence) are
# kept there for a failed round's post-mortem.
CLM_CLUSTER_KEEP_LOGS=${CLM_CLUSTER_KEEP_LOGS:-$(mktemp -d /tmp/clm-soak-logs-XXXXXX)}
export CLM_CLUSTER_ROUNDS CLM_CLUSTER_KEEP_LOGS
echo "cluster-soak: $ROUNDS rounds; clmd logs in $CLM_CLUSTER_KEEP_LOGS" >&2
# No Criterion timeout: the suite sets none, and ctest's does not apply.
exec "$BIN" --jobs 1 --verbose \
	--filter 'cluster_failover/leader_killed_under_load_loses_and_doubles_nothing'
