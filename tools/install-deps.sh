#!/bin/sh
# Install the Debian packages clm needs to build and test, and nothing else.
# Does nothing (and needs no root) when every package is already present.
set -eu

PKGS="build-essential cmake pkg-config clang-format python3 \
libnng-dev liblmdb-dev lmdb-utils libprotobuf-c-dev protobuf-c-compiler \
libcriterion-dev libinih-dev zlib1g-dev openssl clang libclang-rt-14-dev \
python3-protobuf protobuf-compiler chromium \
debhelper dpkg-dev lintian shellcheck"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
# Node.js for the Node client's tests: Debian's, unless one is installed
# already (another distribution of it brings its own npm).
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"

# The Node client's one dependency (protobufjs), from the npm registry.
node_deps() {
	dir="$(dirname "$0")/../client/node"
	if [ -f "$dir/package.json" ] && [ ! -d "$dir/node_modules" ]; then
		echo "install-deps: npm install in client/node" >&2
		(cd "$dir" && npm install --no-audit --no-fund --loglevel=error)
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
