#!/bin/sh
# Memory check of clmd under valgrind: starts clmd in a temp dir under
# `valgrind --leak-check=full --errors-for-leak-kinds=definite
# --error-exitcode=3`, drives a short load through the clm CLI (track a few
# customers by flags and as NDJSON, customer, recommend with and without
# --claim, catalog, identify, export, forget, status), stops clmd with
# SIGTERM and exits with valgrind's status: 0 clean, 3 when valgrind found
# an error or a definite leak, anything else when clmd itself failed.
#
# Usage: tools/valgrind-check.sh [BUILD_DIR]    (default: build; a build
# without sanitizers). The valgrind log is printed on failure, and kept
# with KEEP=1 (its path is printed).
set -eu

BUILD=${1:-build}
CLMD="$BUILD/bin/clmd"
CLM="$BUILD/bin/clm"
for b in "$CLMD" "$CLM"; do
	if [ ! -x "$b" ]; then
		echo "valgrind-check: '$b' not found: build first" >&2
		exit 2
	fi
done
command -v valgrind >/dev/null 2>&1 || {
	echo "valgrind-check: valgrind is not installed" >&2
	exit 2
}

TMP=$(mktemp -d /tmp/clm-valgrind-XXXXXX)
# An IPC socket in our own dir: no port to collide with.
URL="ipc://$TMP/clmd.sock"
LOG="$TMP/valgrind.log"
PID=""

cleanup() {
	if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
		kill -KILL "$PID" 2>/dev/null || true
	fi
	if [ "${KEEP:-0}" = 1 ]; then
		echo "valgrind-check: kept $TMP" >&2
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

valgrind --leak-check=full --errors-for-leak-kinds=definite \
	--error-exitcode=3 --log-file="$LOG" \
	"$CLMD" --data "$TMP/data" --listen "$URL" --events none \
	--log-level info >"$TMP/clmd.log" 2>&1 &
PID=$!

clm() {
	"$CLM" --url "$URL" --timeout 30000 "$@"
}

# Wait (up to 60 s: valgrind is slow to start) until clmd answers.
i=0
until clm status >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -ge 120 ] || ! kill -0 "$PID" 2>/dev/null; then
		echo "valgrind-check: clmd did not come up" >&2
		cat "$TMP/clmd.log" "$LOG" >&2 || true
		exit 1
	fi
	sleep 0.5
done

step() {
	if ! "$@" >/dev/null 2>"$TMP/step.err"; then
		echo "valgrind-check: failed: $*" >&2
		cat "$TMP/step.err" >&2
		FAILED=1
	fi
}
FAILED=0

for c in ana ben cleo; do
	step clm track --customer "$c" --type SITE_VISIT --channel PAID_ADS \
		--event-id "$c-1" --duration 120
	step clm track --customer "$c" --type ADD_TO_CART --item sku-1 \
		--event-id "$c-2"
	step clm track --customer "$c" --type PURCHASE --item sku-1 \
		--value 19.90 --currency EUR --event-id "$c-3"
done
step clm track --customer ana --type PURCHASE --item sku-1 --value 19.90 \
	--currency EUR --event-id ana-3 # a duplicate
step clm track --anonymous-id dev-7 --type PAGE_VIEW --event-id dev-7-1
printf '%s\n' \
	'{"eventId":"nd-1","customerId":"dora","type":"SIGNUP"}' \
	'{"eventId":"nd-2","customerId":"dora","type":"REVIEW","sentiment":-0.8}' \
	'{"eventId":"nd-3","customerId":"dora","type":"SUPPORT_TICKET"}' \
	>"$TMP/tp.ndjson"
step sh -c "'$CLM' --url '$URL' track < '$TMP/tp.ndjson'"
printf '%s\n' 'type,id,name,category,price,upgrade_to,lat,lon,radius_m' \
	'item,sku-1,Mug,home,19.90,sku-2,,,' 'item,sku-2,Pot,home,39.90,,,,' \
	'store,s-1,Shop,,,,48.85,2.35,500' >"$TMP/items.csv"
step clm catalog "$TMP/items.csv"
step clm customer ana
step clm --json customer dora
step clm recommend ben
step clm recommend cleo --claim
step clm recommend ana --lat 48.85 --lon 2.35 --cart sku-1
step clm identify dev-7 ben --trait plan=pro
step clm customer ben
step clm export ben
step clm forget cleo
step clm forget cleo # idempotent
step clm status
# An error reply goes through the same paths: not a failure.
clm customer nobody >/dev/null 2>&1 || true

kill -TERM "$PID"
set +e
wait "$PID"
STATUS=$?
set -e
PID=""

grep -E 'ERROR SUMMARY|(definitely|indirectly|possibly) lost:' \
	"$LOG" | sed 's/^==[0-9]*== /valgrind: /' >&2 || true
if [ "$STATUS" -ne 0 ] || [ "$FAILED" -ne 0 ]; then
	cat "$LOG" >&2
	[ "$STATUS" -ne 0 ] || STATUS=1
fi
echo "valgrind-check: exit status $STATUS" >&2
exit "$STATUS"
