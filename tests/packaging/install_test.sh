#!/bin/sh
# install_test: `cmake --install` of the built tree gives a usable libclm.
# Installs the build directory into a temporary DESTDIR (no rebuild), then
# compiles tests/packaging/open_dead.c with nothing but
# `pkg-config --cflags --libs clm` and runs it. Every step is bounded.
#
# usage: install_test.sh SOURCE_DIR BUILD_DIR PREFIX LIBDIR CC [CFLAGS...]
# (CFLAGS: the sanitizer flags the tree was built with, if any).
set -eu

src=$1 build=$2 prefix=$3 libdir=$4 cc=$5
shift 5

tmp=$(mktemp -d "${TMPDIR:-/tmp}/clm-install-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/root

fail() {
	echo "install_test: $*" >&2
	exit 1
}

DESTDIR=$dest timeout 120 cmake --install "$build" >"$tmp/install.log" ||
	fail "cmake --install failed: $(cat "$tmp/install.log")"

# What client.h needs, and the pkg-config file, are where clm.pc says.
for f in "$prefix/include/clm/client.h" "$prefix/include/clm/error.h" \
    "$prefix/include/clm/v1/clm.pb-c.h" "$prefix/$libdir/pkgconfig/clm.pc" \
    "$prefix/$libdir/libclm.so" "$prefix/$libdir/libclm.so.0"; do
	[ -e "$dest$f" ] || fail "'$f' is not installed"
done
soname=$(readelf -d "$dest$prefix/$libdir/libclm.so.0" |
	sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libclm.so.0 ] || fail "libclm's SONAME is '$soname', not libclm.so.0"

# clm.pc names the installed prefix; --define-variable moves it under
# DESTDIR. libprotobuf-c comes from the system (clm.pc requires it).
export PKG_CONFIG_PATH="$dest$prefix/$libdir/pkgconfig"
grep -qx "prefix=$prefix" "$PKG_CONFIG_PATH/clm.pc" ||
	fail "clm.pc does not say prefix=$prefix"
flags=$(timeout 30 pkg-config --define-variable=prefix="$dest$prefix" \
	--cflags --libs clm) || fail "pkg-config --cflags --libs clm failed"
[ "$(pkg-config --modversion clm)" = "$(sed -n \
	's/^project(clm VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")" ] ||
	fail "clm.pc's version is not the project's"

# shellcheck disable=SC2086
timeout 120 "$cc" "$@" -o "$tmp/open_dead" "$src/tests/packaging/open_dead.c" \
	$flags || fail "cannot build a program with: $flags"
LD_LIBRARY_PATH="$dest$prefix/$libdir" timeout 30 "$tmp/open_dead" ||
	fail "open_dead failed"
