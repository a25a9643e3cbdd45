#!/bin/sh
# Cluster-mode bench (issue 16): Track through a NATS JetStream stream
# against the single-node journal, on this machine, in one run.
#
# Starts three nats-servers (a JetStream cluster on loopback: the config
# shape of docs/deploy.md "Cluster: 3 NATS nodes + N clmd", in a temp dir),
# CLM_CLUSTER_NODES clmd nodes (default 2) joined to their stream with
# --journal, and one clmd with its local journal (durability full, the
# default, in both); then runs build/bin/clm-bench against the single
# node and against cluster node A (--url: the bench's own echo, and
# track-single and track-batch with CLM_BENCH_CLIENTS clients), while
# tools/cluster-lag.py measures how long after A acknowledges a write node
# B shows it (a Track on A, then ServerStatus on B with min_position = its
# position; see that file). It also measures the lag on an idle cluster
# first. Prints the load average before and after: other engineers build
# on this machine, and the figures move with it.
#
# Usage: tools/cluster-bench.sh [BUILD_DIR]          (default: build)
#   CLM_BENCH_SECONDS=S      seconds per row (default 5)
#   CLM_BENCH_CLIENTS=1,8,64 client counts (default 1,64)
#   CLM_CLUSTER_NODES=N      clmd nodes in the cluster, 2 or 3 (default 2)
# Not part of ctest. Everything it starts is stopped by pid on exit, and
# the temp dir removed.
set -eu

BUILD=${1:-build}
BIN=$BUILD/bin
NATS=${NATS_SERVER:-/usr/sbin/nats-server}
SECONDS_ROW=${CLM_BENCH_SECONDS:-5}
CLIENTS=${CLM_BENCH_CLIENTS:-1,64}
NODES=${CLM_CLUSTER_NODES:-2}
TOP=$(cd "$(dirname "$0")/.." && pwd)
# Debian's python3: its python3-protobuf is what the Python client uses.
PYTHON3=/usr/bin/python3
[ -x "$PYTHON3" ] || PYTHON3=python3
for b in "$BIN/clmd" "$BIN/clm" "$BIN/clm-bench" "$NATS"; do
	if [ ! -x "$b" ]; then
		echo "cluster-bench: '$b' not found: build first" >&2
		exit 2
	fi
done

TMP=$(mktemp -d /tmp/clm-cbench-XXXXXX)
PIDS=""
cleanup() {
	for p in $PIDS; do
		kill "$p" 2>/dev/null || true
	done
	for p in $PIDS; do
		# Wait for each, at most 10 s, then SIGKILL that one.
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 100 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -9 "$p" 2>/dev/null || true
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Free loopback ports, n of them, outside the ephemeral range
# (tests/freeport.py).
free_ports() {
	python3 -c '
import sys
sys.path.insert(0, sys.argv[2])
import freeport
print(" ".join(str(freeport.pick()) for _ in range(int(sys.argv[1]))))' "$1" "$TOP/tests"
}

# Waits up to $2 seconds for the command $1 to succeed.
wait_for() {
	i=0
	while ! sh -c "$1" >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -gt $(($2 * 10)) ]; then
			echo "cluster-bench: timed out waiting for: $1" >&2
			return 1
		fi
		sleep 0.1
	done
}

set -- $(free_ports 9)
CP="$1 $2 $3"
RP="$4 $5 $6"
HP="$7 $8 $9"
URLS=""
ROUTES=""
for p in $CP; do
	URLS="$URLS${URLS:+,}nats://127.0.0.1:$p"
done
for p in $RP; do
	ROUTES="$ROUTES    nats-route://127.0.0.1:$p
"
done
i=0
for p in $CP; do
	r=$(echo $RP | cut -d' ' -f$((i + 1)))
	h=$(echo $HP | cut -d' ' -f$((i + 1)))
	mkdir -p "$TMP/n$i"
	cat >"$TMP/n$i.conf" <<CONF
server_name: n$i
listen: 127.0.0.1:$p
http: 127.0.0.1:$h
jetstream {
  store_dir: "$TMP/n$i"
}
cluster {
  name: clm
  listen: 127.0.0.1:$r
  routes: [
$ROUTES  ]
}
CONF
	"$NATS" -c "$TMP/n$i.conf" >"$TMP/n$i.log" 2>&1 &
	PIDS="$PIDS $!"
	i=$((i + 1))
done
for h in $HP; do
	wait_for "curl -sf http://127.0.0.1:$h/healthz" 30
done

# clmd: $1 name, $2 port, then more flags.
start_clmd() {
	name=$1
	port=$2
	shift 2
	"$BIN/clmd" --data "$TMP/$name" --listen "tcp://127.0.0.1:$port" \
		--events none --log-level warn "$@" >"$TMP/$name.log" 2>&1 &
	PIDS="$PIDS $!"
	wait_for "'$BIN/clm' --url tcp://127.0.0.1:$port --timeout 2000 status" 60
}

set -- $(free_ports 4)
SINGLE=tcp://127.0.0.1:$1
start_clmd single "$1"
A=tcp://127.0.0.1:$2
B=tcp://127.0.0.1:$3
start_clmd a "$2" --journal "$URLS"
start_clmd b "$3" --journal "$URLS"
if [ "$NODES" -ge 3 ]; then
	start_clmd c "$4" --journal "$URLS"
fi

echo "cluster-bench: 3 nats-servers ($NATS), $NODES clmd nodes," \
	"clients $CLIENTS, $SECONDS_ROW s a row; $(nproc) cores"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$BIN/clm" --url "$A" status | sed 's/^/  A: /'

PY="env PYTHONPATH=$TOP/client/python $PYTHON3 $TOP/tools/cluster-lag.py"
$PY "$A" "$B" "$TMP/lag-idle.txt" --count 300 --label "idle:"

W=echo,track-single,track-batch
echo
echo "== single node, local journal ($SINGLE)"
"$BIN/clm-bench" --url "$SINGLE" --workloads "$W" --clients "$CLIENTS" \
	--seconds "$SECONDS_ROW"
echo
echo "== cluster node A ($A), $NODES nodes, stream replicas 3"
$PY "$A" "$B" "$TMP/lag-load.txt" --until-file "$TMP/stop" \
	--label "under load:" &
LAG=$!
PIDS="$PIDS $LAG"
"$BIN/clm-bench" --url "$A" --workloads "$W" --clients "$CLIENTS" \
	--seconds "$SECONDS_ROW"
touch "$TMP/stop"
wait "$LAG" || true
echo
echo "== apply lag, node B behind node A (tools/cluster-lag.py)"
cat "$TMP/lag-idle.txt" "$TMP/lag-load.txt"
echo
"$BIN/clm" --url "$A" status | sed 's/^/  A: /'
"$BIN/clm" --url "$B" status | sed 's/^/  B: /'
# The stream as the first NATS node's monitoring port shows it (the
# /jsz that docs/deploy.md "What to monitor" names).
h=$(echo $HP | cut -d' ' -f1)
curl -s "http://127.0.0.1:$h/jsz?streams=true" | python3 -c '
import json, sys
j = json.load(sys.stdin)
for a in j.get("account_details", []):
    for s in a.get("stream_detail", []):
        c = s.get("cluster", {})
        print("  stream %s: %d messages, %d bytes, leader %s, replicas %s"
              % (s["name"], s["state"]["messages"], s["state"]["bytes"],
                 c.get("leader"), ", ".join("%s current=%s lag=%s"
                 % (r["name"], r.get("current"), r.get("lag", 0))
                 for r in c.get("replicas", []))))'
# Each clmd's errors (a node that stopped applying says why here).
for n in single a b c; do
	if [ -f "$TMP/$n.log" ] && grep -q " error: " "$TMP/$n.log"; then
		echo "  clmd $n's log, errors:"
		grep " error: " "$TMP/$n.log" | head -5 | sed 's/^/    /'
	fi
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
