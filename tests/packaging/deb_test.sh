#!/bin/sh
# deb_test: builds the Debian packages (tools/build-deb.sh, as `make deb`
# does) into OUT and checks what they hold, with dpkg-deb: clmd with its
# unit, conffile and clmd(8); clm with clm(1) and its bash completion;
# libclm0 with the SONAME libclm.so.0; libclm-dev with the headers, the .so
# link and clm.pc. The maintainer scripts must pass `sh -n` and shellcheck;
# the packaged clmd and clm (on the packaged libclm) must run; lintian
# must find no warning (debian/README.source lists the rest). Installing
# them for real is tools/deb-install-check.sh.
#
# usage: deb_test.sh SOURCE_DIR OUT
set -eu

src=$1 out=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/clm-deb-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

fail() {
	echo "deb_test: $*" >&2
	exit 1
}

timeout 600 "$src/tools/build-deb.sh" "$out" >"$tmp/build.log" 2>&1 || {
	tail -n 40 "$tmp/build.log" >&2
	fail "tools/build-deb.sh failed"
}

project=$(sed -n 's/^project(clm VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
[ "${version%-*}" = "$project" ] ||
	fail "debian/changelog says $version, the project $project"
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)

# deb_unpack PACKAGE: its files under $tmp/PACKAGE, its control files
# under $tmp/PACKAGE/DEBIAN.
deb_unpack() {
	deb=$out/${1}_${version}_$arch.deb
	[ -f "$deb" ] || fail "no $deb"
	dpkg-deb -x "$deb" "$tmp/$1" || fail "cannot unpack $deb"
	dpkg-deb -e "$deb" "$tmp/$1/DEBIAN" || fail "cannot unpack $deb's control"
}

# has PACKAGE FILE...: each FILE (a path inside PACKAGE) is there.
has() {
	p=$1
	shift
	for f in "$@"; do
		[ -e "$tmp/$p/$f" ] || [ -L "$tmp/$p/$f" ] || fail "$p has no /$f"
	done
}

for p in clmd clm libclm0 libclm-dev; do
	deb_unpack $p
done

# clmd: the daemon, the unit running it as clm on /var/lib/clm with
# /etc/clm/clmd.conf, that file as a conffile, the man page.
has clmd usr/bin/clmd lib/systemd/system/clmd.service etc/clm/clmd.conf \
	usr/share/man/man8/clmd.8.gz
unit=$tmp/clmd/lib/systemd/system/clmd.service
grep -qx 'ExecStart=/usr/bin/clmd --data /var/lib/clm --config /etc/clm/clmd.conf' \
	"$unit" || fail "clmd.service does not run /usr/bin/clmd on /var/lib/clm"
grep -qx 'User=clm' "$unit" || fail "clmd.service does not run as clm"
! grep -q /usr/local "$unit" || fail "clmd.service names /usr/local"
grep -qx /etc/clm/clmd.conf "$tmp/clmd/DEBIAN/conffiles" ||
	fail "/etc/clm/clmd.conf is not a conffile"
cmp -s "$tmp/clmd/etc/clm/clmd.conf" "$src/packaging/systemd/clmd.conf.example" ||
	fail "/etc/clm/clmd.conf is not packaging/systemd/clmd.conf.example"
zcat "$tmp/clmd/usr/share/man/man8/clmd.8.gz" | grep -q 'max\\-db\\-bytes' ||
	fail "clmd(8) does not list --max-db-bytes (from clmd --help)"
dpkg-deb -f "$out/clmd_${version}_$arch.deb" Depends | grep -q adduser ||
	fail "clmd does not depend on adduser"
"$tmp/clmd/usr/bin/clmd" --version | grep -qx "clmd $project" ||
	fail "the packaged clmd does not say 'clmd $project'"

# clm: the CLI, its man page and completion; it runs on the packaged
# libclm.
has clm usr/bin/clm usr/share/man/man1/clm.1.gz \
	usr/share/bash-completion/completions/clm
bash -n "$tmp/clm/usr/share/bash-completion/completions/clm" ||
	fail "the bash completion is not valid bash"
zcat "$tmp/clm/usr/share/man/man1/clm.1.gz" | grep -q '^\.TH CLM 1' ||
	fail "clm.1 is not clm(1)"
LD_LIBRARY_PATH=$tmp/libclm0/usr/lib/$multiarch \
	"$tmp/clm/usr/bin/clm" --version >"$tmp/clm.version" 2>&1 ||
	fail "the packaged clm does not run: $(cat "$tmp/clm.version")"
dpkg-deb -f "$out/clm_${version}_$arch.deb" Depends | grep -q 'libclm0' ||
	fail "clm does not depend on libclm0"

# libclm0: the library under its SONAME.
lib=usr/lib/$multiarch
has libclm0 "$lib/libclm.so.0" "$lib/libclm.so.$project"
soname=$(readelf -d "$tmp/libclm0/$lib/libclm.so.$project" |
	sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libclm.so.0 ] || fail "libclm's SONAME is '$soname'"
grep -q '^libclm 0 libclm0' "$tmp/libclm0/DEBIAN/shlibs" ||
	fail "libclm0 has no shlibs entry"

# libclm-dev: headers (client.h's includes too), the link, clm.pc.
has libclm-dev usr/include/clm/client.h usr/include/clm/error.h \
	usr/include/clm/v1/clm.pb-c.h "$lib/libclm.so" "$lib/pkgconfig/clm.pc"
[ "$(readlink "$tmp/libclm-dev/$lib/libclm.so")" = libclm.so.0 ] ||
	fail "libclm.so does not point at libclm.so.0"
pc=$tmp/libclm-dev/$lib/pkgconfig/clm.pc
grep -qx 'prefix=/usr' "$pc" || fail "clm.pc does not say prefix=/usr"
grep -qx "libdir=\${prefix}/lib/$multiarch" "$pc" ||
	fail "clm.pc's libdir is not /$lib"
grep -qx 'Requires: libprotobuf-c' "$pc" || fail "clm.pc does not require libprotobuf-c"
grep -qx "Version: $project" "$pc" || fail "clm.pc's version is not $project"
deps=$(dpkg-deb -f "$out/libclm-dev_${version}_$arch.deb" Depends)
case "$deps" in
*"libclm0 (= $version)"*libprotobuf-c-dev* | *libprotobuf-c-dev*"libclm0 (= $version)"*) ;;
*) fail "libclm-dev depends on '$deps'" ;;
esac

# The maintainer scripts (with debhelper's additions): valid sh, and
# nothing for shellcheck to report (tools/install-deps.sh installs it).
n=0
for s in "$tmp"/*/DEBIAN/preinst "$tmp"/*/DEBIAN/postinst \
    "$tmp"/*/DEBIAN/prerm "$tmp"/*/DEBIAN/postrm; do
	[ -f "$s" ] || continue
	n=$((n + 1))
	sh -n "$s" || fail "$s is not valid sh"
	if command -v shellcheck >/dev/null 2>&1; then
		shellcheck -s sh "$s" >&2 || fail "shellcheck: $s"
	fi
done
has clmd DEBIAN/postinst DEBIAN/postrm
grep -q 'adduser --system' "$tmp/clmd/DEBIAN/postinst" ||
	fail "clmd's postinst does not create the user clm"
# lintian: no error or warning but those debian/README.source explains.
if command -v lintian >/dev/null 2>&1; then
	timeout 240 lintian --fail-on error,warning \
		--suppress-tags initial-upload-closes-no-bugs \
		"$out/clm_${version}_$arch.changes" >&2 || fail "lintian"
fi
echo "deb_test: 4 packages, $n maintainer scripts checked"
