#!/bin/sh
# install_test: `cmake --install` of the built tree gives a usable libclm.
# Installs the build directory into a temporary prefix (no rebuild), then
# compiles tests/packaging/open_dead.c with nothing but
# `pkg-config --cflags --libs clm` and runs it. Every step is bounded.
#
# usage: install_test.sh SOURCE_DIR BUILD_DIR LIBDIR CC [CFLAGS...]
# (LIBDIR: CMAKE_INSTALL_LIBDIR; CFLAGS: the sanitizer flags the tree was
# built with, if any).
set -eu

src=$1 build=$2 libdir=$3 cc=$4
shift 4

tmp=$(mktemp -d "${TMPDIR:-/tmp}/clm-install-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

fail() {
	echo "install_test: $*" >&2
	exit 1
}

timeout 120 cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" ||
	fail "cmake --install failed: $(cat "$tmp/install.log")"

# What client.h needs, and the pkg-config file.
for f in include/clm/client.h include/clm/error.h include/clm/v1/clm.pb-c.h \
    "$libdir/pkgconfig/clm.pc" "$libdir/libclm.so" "$libdir/libclm.so.0"; do
	[ -e "$prefix/$f" ] || fail "'$f' is not installed"
done
soname=$(readelf -d "$prefix/$libdir/libclm.so.0" |
	sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libclm.so.0 ] || fail "libclm's SONAME is '$soname', not libclm.so.0"

# clm.pc names the prefix installed to (not the configured one);
# libprotobuf-c comes from the system (clm.pc requires it).
export PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig"
grep -qx "prefix=$prefix" "$PKG_CONFIG_PATH/clm.pc" ||
	fail "clm.pc does not say prefix=$prefix"
flags=$(timeout 30 pkg-config --cflags --libs clm) ||
	fail "pkg-config --cflags --libs clm failed"
[ "$(pkg-config --modversion clm)" = "$(sed -n \
	's/^project(clm VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")" ] ||
	fail "clm.pc's version is not the project's"

# shellcheck disable=SC2086
timeout 120 "$cc" "$@" -o "$tmp/open_dead" "$src/tests/packaging/open_dead.c" \
	$flags || fail "cannot build a program with: $flags"
LD_LIBRARY_PATH="$prefix/$libdir" timeout 30 "$tmp/open_dead" ||
	fail "open_dead failed"
