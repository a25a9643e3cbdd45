#!/bin/sh
# Installs clm's Debian packages for real on this machine and removes them
# again, checking each step: dpkg -i (twice: the maintainer scripts must
# be idempotent), the user clm and /var/lib/clm, the unit's ExecStart run
# as clm until `clm status` answers (systemd need not be running: the
# command is run directly), SIGTERM, dpkg -r (the data and the user stay),
# apt-get purge (nothing stays). Needs root, and a machine without clm
# installed and without a user clm: it refuses otherwise.
#
# usage: tools/deb-install-check.sh [DIR]   (DIR: the .deb files; default
# build/deb, built with tools/build-deb.sh when it holds none)
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$top/build/deb}
pkgs="clmd clm libclm0 libclm-dev"
pid=""

say() {
	echo "deb-install-check: $*"
}
fail() {
	echo "deb-install-check: FAIL: $*" >&2
	exit 1
}
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null || true
	fi
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || fail "needs root (it runs dpkg -i)"
for p in $pkgs; do
	if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -qv 'not-installed'; then
		fail "package $p is on this machine already: remove it first"
	fi
done
if getent passwd clm >/dev/null || getent group clm >/dev/null ||
    [ -e /var/lib/clm ] || [ -e /etc/clm ]; then
	fail "a user or group clm, /var/lib/clm or /etc/clm exists already"
fi

ls "$dir"/clmd_*.deb >/dev/null 2>&1 || "$top/tools/build-deb.sh" "$dir"
debs=""
for p in $pkgs; do
	f=$(ls "$dir/${p}"_*.deb)
	debs="$debs $f"
done

# shellcheck disable=SC2086
dpkg -i $debs || fail "dpkg -i failed"
# shellcheck disable=SC2086
say "installed:$(dpkg-query -W -f=' ${Package}=${Version}' $pkgs)"
# shellcheck disable=SC2086
dpkg -i $debs >/dev/null || fail "dpkg -i a second time failed"
say "installed again (idempotent maintainer scripts)"

check_user() {
	uid=$(getent passwd clm | cut -d: -f3)
	[ -n "$uid" ] || fail "no user clm"
	[ "$uid" -lt 1000 ] || fail "clm (uid $uid) is not a system user"
	[ "$(getent passwd clm | cut -d: -f7)" = /usr/sbin/nologin ] ||
		fail "clm can log in"
	[ "$(stat -c '%U:%G %a' /var/lib/clm)" = "clm:clm 750" ] ||
		fail "/var/lib/clm is $(stat -c '%U:%G %a' /var/lib/clm), not clm:clm 750"
}
check_user
say "user clm (uid $uid), /var/lib/clm clm:clm 750"
[ -f /etc/clm/clmd.conf ] || fail "no /etc/clm/clmd.conf"
# shellcheck disable=SC2086
dpkg -V $pkgs || fail "dpkg -V finds changed files"
for f in /usr/bin/clmd /usr/bin/clm /usr/share/man/man8/clmd.8.gz \
    /usr/share/man/man1/clm.1.gz /usr/share/bash-completion/completions/clm \
    /usr/include/clm/v1/clm.pb-c.h; do
	[ -e "$f" ] || fail "no $f"
done
# The installed libclm-dev builds a program (the .pc on the default path).
tmp=$(mktemp -d)
# shellcheck disable=SC2046
cc -o "$tmp/open_dead" "$top/tests/packaging/open_dead.c" \
	$(pkg-config --cflags --libs clm) || fail "cannot build against libclm-dev"
"$tmp/open_dead" || fail "a program on the installed libclm failed"
rm -rf "$tmp"

# The unit's command, as clm, on two free loopback ports (a clmd of
# someone else's may hold the default 7450 here).
unit=/lib/systemd/system/clmd.service
cmd=$(sed -n 's/^ExecStart=//p' "$unit")
[ -n "$cmd" ] || fail "no ExecStart in $unit"
ports=$(python3 -c 'import sys; sys.path.insert(0, sys.argv[1])
import freeport
print(freeport.pick(), freeport.pick())' "$top/tests")
rpc=${ports% *} ev=${ports#* }
say "running as clm: $cmd --listen tcp://127.0.0.1:$rpc --events tcp://127.0.0.1:$ev"
log=$(mktemp)
# shellcheck disable=SC2086
setpriv --reuid=clm --regid=clm --init-groups -- $cmd \
	--listen "tcp://127.0.0.1:$rpc" --events "tcp://127.0.0.1:$ev" \
	>"$log" 2>&1 &
pid=$!
i=0
until clm --url "tcp://127.0.0.1:$rpc" status >/dev/null 2>&1; do
	i=$((i + 1))
	if [ "$i" -gt 300 ] || ! kill -0 "$pid" 2>/dev/null; then
		cat "$log" >&2
		fail "clmd did not answer clm status within 30 s"
	fi
	sleep 0.1
done
clm --url "tcp://127.0.0.1:$rpc" status
[ "$(stat -c %U /var/lib/clm/data.mdb)" = clm ] ||
	fail "/var/lib/clm/data.mdb is not clm's"
kill -TERM "$pid"
i=0
while kill -0 "$pid" 2>/dev/null; do
	i=$((i + 1))
	[ "$i" -le 300 ] || fail "clmd did not stop within 30 s of SIGTERM"
	sleep 0.1
done
rc=0
wait "$pid" || rc=$?
pid=""
sed 's/^/  clmd: /' "$log"
rm -f "$log"
[ "$rc" -eq 0 ] || fail "clmd exited $rc after SIGTERM"
say "clmd answered clm status and stopped on SIGTERM (exit 0)"

# Remove: the data, the settings and the user stay.
# shellcheck disable=SC2086
dpkg -r $pkgs >/dev/null || fail "dpkg -r failed"
[ -f /var/lib/clm/data.mdb ] || fail "dpkg -r deleted the data"
[ -f /etc/clm/clmd.conf ] || fail "dpkg -r deleted /etc/clm/clmd.conf"
check_user
[ ! -e /usr/bin/clmd ] || fail "dpkg -r left /usr/bin/clmd"
say "removed: /var/lib/clm, /etc/clm/clmd.conf and the user clm stay"

# Purge: nothing stays. After dpkg -r only the packages with conffiles
# (clmd) are left for apt-get purge to see.
left=""
for p in $pkgs; do
	if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'config-files'; then
		left="$left $p"
	fi
done
[ "$left" = " clmd" ] || fail "after dpkg -r, dpkg keeps the config of:$left"
# shellcheck disable=SC2086
apt-get purge -y -q $left >/dev/null || fail "apt-get purge$left failed"
for p in $pkgs; do
	if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -qv 'not-installed'; then
		fail "$p is still known to dpkg: $(dpkg-query -W -f='${Status}' "$p")"
	fi
done
! getent passwd clm >/dev/null || fail "purge left the user clm"
! getent group clm >/dev/null || fail "purge left the group clm"
for f in /var/lib/clm /etc/clm /usr/bin/clm /usr/lib/*/libclm.so.0 \
    /usr/include/clm /lib/systemd/system/clmd.service \
    /etc/systemd/system/multi-user.target.wants/clmd.service; do
	[ ! -e "$f" ] || fail "purge left $f"
done
say "purged: no package, user, group, /var/lib/clm or /etc/clm left"
say "ok"
