#!/bin/sh
# Builds clm's Debian packages (debian/) the Debian way, with
# dpkg-buildpackage, without touching the source tree: the tree's files
# (those git tracks or would track; all of them outside git) are copied
# into OUT/src/clm-VERSION and built there, and the .deb files, .changes
# and .buildinfo end up in OUT (`make deb`: build/deb).
#
# usage: tools/build-deb.sh [OUT]
# DEB_BUILD_OPTIONS gets nocheck (`make test` is the suite) and
# parallel=$(nproc) unless it says otherwise.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top/build/deb}
mkdir -p "$out"
out=$(cd "$out" && pwd)
version=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
src=$out/src/clm-${version%-*}

rm -rf "$out/src" "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo
mkdir -p "$src"
if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git -C "$top" ls-files -z --cached --others --exclude-standard |
		(cd "$top" && xargs -0 cp --parents -P -t "$src" --)
else
	(cd "$top" && tar -c --exclude='./build' --exclude='./build-*' \
		--exclude='./clm-data' .) | (cd "$src" && tar -x)
fi

opts=${DEB_BUILD_OPTIONS:-}
case " $opts " in *" nocheck "*) ;; *) opts="${opts:+$opts }nocheck" ;; esac
case " $opts " in
*" parallel="*) ;;
*) opts="$opts parallel=$(nproc 2>/dev/null || echo 2)" ;;
esac
echo "build-deb: dpkg-buildpackage in $src (DEB_BUILD_OPTIONS=$opts)" >&2
(cd "$src" && DEB_BUILD_OPTIONS=$opts dpkg-buildpackage -us -uc -b)

# dpkg-buildpackage writes next to the source directory: out/src.
mv "$out"/src/*.deb "$out"/src/*.changes "$out"/src/*.buildinfo "$out"/
rm -rf "$out/src"
ls -l "$out"/*.deb >&2
