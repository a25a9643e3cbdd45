#!/bin/sh
# Install the Debian packages clm needs, and nothing else:
#   tools/install-deps.sh run    what building clmd and clm needs (make run)
#   tools/install-deps.sh test   that, and what the tests need (make test)
#   tools/install-deps.sh        everything (the same as test)
# Does nothing (and needs no root) when every package is already present.
set -eu

RUN_PKGS="build-essential cmake pkg-config \
libnng-dev liblmdb-dev libprotobuf-c-dev protobuf-c-compiler \
libinih-dev zlib1g-dev libnats-dev libsodium-dev"
TEST_PKGS="clang-format python3 lmdb-utils libcriterion-dev openssl clang \
libclang-rt-14-dev python3-protobuf protobuf-compiler chromium \
python3-venv python3-setuptools python3-wheel mypy \
debhelper dpkg-dev lintian shellcheck nats-server"

what="${1:-test}"
case "$what" in
run) PKGS="$RUN_PKGS" ;;
test) PKGS="$RUN_PKGS $TEST_PKGS" ;;
*)
	echo "usage: tools/install-deps.sh [run|test]" >&2
	exit 2
	;;
esac

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
# Node.js for the Node client's tests: Debian's, unless one is installed
# already (another distribution of it brings its own npm).
if [ "$what" = test ]; then
	command -v node >/dev/null 2>&1 || missing="$missing nodejs"
	command -v npm >/dev/null 2>&1 || missing="$missing npm"
fi

# The Node client's one dependency (protobufjs), from the npm registry.
# Then the tracking SDKs tests/interop/sdk_test.js drives (test-only), at
# the exact versions of its package-lock.json; their optional dependencies
# (RudderStack's Redis-backed queue, never used here) are left out.
node_deps() {
	[ "$what" = test ] || return 0
	dir="$(dirname "$0")/../client/node"
	if [ -f "$dir/package.json" ] && [ ! -d "$dir/node_modules" ]; then
		echo "install-deps: npm install in client/node" >&2
		(cd "$dir" && npm install --no-audit --no-fund --loglevel=error)
	fi
	dir="$(dirname "$0")/../tests/interop/sdk"
	if [ -f "$dir/package-lock.json" ] && [ ! -d "$dir/node_modules" ]; then
		echo "install-deps: npm ci in tests/interop/sdk" >&2
		(cd "$dir" && npm ci --omit=optional --no-audit --no-fund \
		    --loglevel=error)
	fi
}

if [ -z "$missing" ]; then
	node_deps
	exit 0
fi

echo "install-deps: installing:$missing" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO="sudo"
	else
		echo "install-deps: need root to install:$missing" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have no package lists yet; refresh once if the
# install fails for that reason.
# shellcheck disable=SC2086
if ! $SUDO apt-get install -y -q --no-install-recommends $missing; then
	$SUDO apt-get update -q
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -q --no-install-recommends $missing
fi
node_deps
