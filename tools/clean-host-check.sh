#!/bin/sh
# Installs clm's packages, Python wheel and npm tarball on a host that has
# only their runtime dependencies, and uses them there: a minimal Debian 12
# root (debootstrap --variant=minbase bookworm) entered with chroot, where
#   1. apt-get installs the .deb files of build/deb (apt fetches only what
#      they declare), clmd runs as clm on a free loopback port, and clm
#      answers status, tracks a touchpoint and shows its customer; a small C
#      program built with `cc $(pkg-config --cflags --libs clm)` (gcc,
#      libc6-dev and pkg-config installed for it) calls clmd through libclm;
#   2. the wheel (pip wheel of client/python) goes into a venv made with
#      --system-site-packages after `apt-get install python3-venv
#      python3-protobuf` only, installed with --no-index, and calls clmd;
#   3. the tarball (npm pack of client/node) goes into an empty application
#      with Debian's nodejs and npm (npm fetches the declared dependency,
#      protobufjs, from the npm registry), and an ES module and a CommonJS
#      script call clmd.
# It downloads from the Debian archive (the mirror of /etc/apt/sources.list
# and sources.list.d, or $CLM_CLEANHOST_MIRROR) and the npm registry, so it
# is not part of `make test`. Needs root (debootstrap, chroot, mount).
#
# The bootstrapped base root is kept in $CLM_CLEANHOST_CACHE (default
# build/cleanhost-cache) and copied for each run, with the .deb files apt
# downloaded, so a second run downloads little. Each run works in a fresh
# copy under that directory, removed at the end (kept when
# CLM_CLEANHOST_KEEP=1). /proc, /sys and /dev are mounted in it while it
# runs and always unmounted on exit.
#
# usage: tools/clean-host-check.sh [DEBDIR]   (DEBDIR: the .deb files;
# default build/deb, built with tools/build-deb.sh when it holds none)
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
debdir=${1:-$top/build/deb}
cache=${CLM_CLEANHOST_CACHE:-$top/build/cleanhost-cache}
suite=bookworm
path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
run=""
root=""
mounts=""
pid=""
started=$(date +%s)

say() {
	echo "clean-host-check: $*"
}
fail() {
	echo "clean-host-check: FAIL: $*" >&2
	exit 1
}

# stop_clmd stops the clmd this script started (by its pid): SIGTERM, then
# SIGKILL after 30 s.
stop_clmd() {
	clmd_rc=""
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	i=0
	while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 300 ]; do
		i=$((i + 1))
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null || true
	fi
	clmd_rc=0
	wait "$pid" 2>/dev/null || clmd_rc=$?
	pid=""
}

# save_debs links the .deb files apt downloaded in the root into the cache.
save_debs() {
	[ -n "$root" ] && [ -d "$root/var/cache/apt/archives" ] || return 0
	for f in "$root"/var/cache/apt/archives/*.deb; do
		[ -f "$f" ] || continue
		[ -e "$cache/debs/${f##*/}" ] ||
			ln "$f" "$cache/debs/" 2>/dev/null ||
			cp "$f" "$cache/debs/" || true
	done
}

# in_root_pids prints the pids of the processes whose root is the root.
in_root_pids() {
	[ -n "$root" ] && [ -d "$root" ] || return 0
	for d in /proc/[0-9]*; do
		[ "$(readlink "$d/root" 2>/dev/null)" = "$root" ] && echo "${d#/proc/}"
	done
	return 0
}

cleanup() {
	rc=$?
	stop_clmd
	# Anything else started in the root (by this script: it is its root).
	for p in $(in_root_pids); do
		echo "clean-host-check: killing pid $p left in the root:" \
			"$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" >&2
		kill -KILL "$p" 2>/dev/null || true
	done
	# Unmount in the reverse order of mounting.
	for m in $mounts; do
		umount "$m" 2>/dev/null || umount -l "$m" ||
			echo "clean-host-check: cannot unmount $m" >&2
	done
	mounts=""
	if [ -n "$run" ] && [ -d "$run" ]; then
		save_debs
		if grep -q " $run/" /proc/mounts; then
			echo "clean-host-check: $run still has mounts: not removed" >&2
		elif [ "${CLM_CLEANHOST_KEEP:-0}" = 1 ]; then
			echo "clean-host-check: kept $run" >&2
		else
			rm -rf --one-file-system "$run"
		fi
	fi
	if [ "$rc" -ne 0 ]; then
		echo "clean-host-check: FAILED (exit $rc)" >&2
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# in_root runs a command in the root, with a clean environment (nothing of
# this host's CLM_*, PYTHONPATH, NODE_PATH... leaks in).
in_root() {
	chroot "$root" /usr/bin/env -i PATH="$path" HOME=/root LANG=C.UTF-8 \
		DEBIAN_FRONTEND=noninteractive "$@"
}

# apt_install installs packages in the root without their Recommends, and
# says which packages that added.
# shellcheck disable=SC2016
apt_install() {
	in_root dpkg-query -W -f '${Package}\n' | sort >"$run/before"
	in_root sh -c "cd /tmp/clean && apt-get install -y -q \
		--no-install-recommends $*" >"$run/apt.log" 2>&1 || {
		cat "$run/apt.log" >&2
		fail "apt-get install $* failed"
	}
	in_root dpkg-query -W -f '${Package}\n' | sort >"$run/after"
	added=$(comm -13 "$run/before" "$run/after" | tr '\n' ' ')
	say "  apt-get install $*: $(echo "$added" | wc -w) packages added"
	say "    ($added)"
}

mount_in_root() { # TYPE-OR-bind SOURCE DIR
	if [ "$1" = bind ]; then
		mount --bind "$2" "$root$3"
	else
		mount -t "$1" "$2" "$root$3"
	fi
	mounts="$root$3 $mounts"
}

[ "$(id -u)" -eq 0 ] || fail "needs root (debootstrap, chroot, mount)"
[ "$(dpkg --print-architecture)" = amd64 ] || say "note: not amd64"

# The Debian mirror (and security mirror) this host uses.
sources=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
	/etc/apt/sources.list.d/*.sources 2>/dev/null || true)
urls=$(echo "$sources" | sed -n -e 's/^URIs:[[:space:]]*//p' \
	-e 's/^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]*\)\{0,1\}\([^[:space:]]*\).*/\2/p' |
	tr ' ' '\n')
mirror=${CLM_CLEANHOST_MIRROR:-$(echo "$urls" | grep -m1 -E '/debian/?$' || true)}
security=$(echo "$urls" | grep -m1 -E '/debian-security/?$' || true)
[ -n "$mirror" ] || fail "no Debian mirror in /etc/apt/sources.list(.d): set CLM_CLEANHOST_MIRROR"
say "mirror $mirror${security:+, security $security}"

if ! command -v debootstrap >/dev/null; then
	say "installing debootstrap"
	apt-get install -y -q debootstrap >/dev/null || fail "cannot install debootstrap"
fi

# The base root: bootstrapped once, then kept.
mkdir -p "$cache/debs"
cache=$(cd "$cache" && pwd)
if [ ! -f "$cache/base/.clm-cleanhost-base" ]; then
	say "debootstrap --variant=minbase $suite into $cache/base (once)"
	rm -rf --one-file-system "$cache/base.new"
	t0=$(date +%s)
	debootstrap --variant=minbase "$suite" "$cache/base.new" "$mirror" \
		>"$cache/debootstrap.log" 2>&1 || {
		tail -20 "$cache/debootstrap.log" >&2
		fail "debootstrap failed (log: $cache/debootstrap.log)"
	}
	# The base keeps no downloaded .deb: the cache's debs/ has them.
	rm -f "$cache"/base.new/var/cache/apt/archives/*.deb
	date -u >"$cache/base.new/.clm-cleanhost-base"
	mv "$cache/base.new" "$cache/base"
	say "  bootstrapped in $(($(date +%s) - t0)) s"
else
	say "base root from the cache ($cache/base, made $(cat "$cache/base/.clm-cleanhost-base"))"
fi

# What to install, built on this host.
if ! ls "$debdir"/clmd_*.deb >/dev/null 2>&1; then
	say "no .deb files in $debdir: building them (tools/build-deb.sh)"
	mkdir -p "$debdir"
	"$top/tools/build-deb.sh" "$debdir" >"$debdir/build-deb.log" 2>&1 || {
		tail -30 "$debdir/build-deb.log" >&2
		fail "tools/build-deb.sh $debdir failed (log: $debdir/build-deb.log)"
	}
	say "  built: $(cd "$debdir" && echo ./*.deb)"
fi
run=$(mktemp -d "$cache/run.XXXXXX")
chmod 755 "$run"
root=$run/root
mkdir -p "$run/pkg"
for p in clmd clm libclm0 libclm-dev; do
	# shellcheck disable=SC2012
	f=$(ls "$debdir/${p}"_*.deb 2>/dev/null | tail -1)
	[ -n "$f" ] || fail "no ${p}_*.deb in $debdir"
	cp "$f" "$run/pkg/"
done
# The wheel: built from a copy of client/python (setuptools writes build/
# and *.egg-info next to setup.py), with this tree's .proto, by Debian's
# Python and its setuptools and wheel (tools/install-deps.sh), not by
# whatever pip comes first on PATH.
cp -r "$top/client/python" "$run/pysrc"
rm -rf "$run/pysrc/build" "$run/pysrc"/*.egg-info
CLM_PROTO_DIR=$top/proto /usr/bin/python3 -m pip wheel -q --no-index \
	--no-build-isolation --no-deps \
	-w "$run/pkg" "$run/pysrc" >"$run/wheel.log" 2>&1 || {
	cat "$run/wheel.log" >&2
	fail "pip wheel client/python failed"
}
(cd "$top/client/node" && npm pack -q --pack-destination "$run/pkg") \
	>"$run/npm-pack.log" 2>&1 || {
	cat "$run/npm-pack.log" >&2
	fail "npm pack in client/node failed"
}
chmod 644 "$run"/pkg/*
say "to install: $(cd "$run/pkg" && echo *)"

# A fresh root: a copy of the base, with the .deb files downloaded before
# linked in (apt checks their hashes).
cp -a "$cache/base" "$root"
cp -l "$cache"/debs/*.deb "$root/var/cache/apt/archives/" 2>/dev/null ||
	cp "$cache"/debs/*.deb "$root/var/cache/apt/archives/" 2>/dev/null || true
{
	echo "deb $mirror $suite main"
	echo "deb $mirror $suite-updates main"
	[ -z "$security" ] || echo "deb $security $suite-security main"
} >"$root/etc/apt/sources.list"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# A throwaway root: dpkg need not fsync.
echo force-unsafe-io >"$root/etc/dpkg/dpkg.cfg.d/clean-host-check"
# No service starts in a chroot.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
mkdir -p "$root/tmp/clean"
cp "$run"/pkg/* "$root/tmp/clean/"
chmod 755 "$root/tmp/clean"
mount_in_root proc proc /proc
mount_in_root sysfs sysfs /sys
mount_in_root bind /dev /dev
say "root $root: $(in_root dpkg-query -W -f . | wc -c) packages (minbase)"

in_root apt-get update -q >"$run/apt.log" 2>&1 || {
	cat "$run/apt.log" >&2
	fail "apt-get update in the root failed"
}

# 1. The Debian packages.
say "1. the Debian packages"
# shellcheck disable=SC2012
debs=$(cd "$run/pkg" && ls clmd_*.deb clm_*.deb libclm0_*.deb libclm-dev_*.deb |
	sed 's|^|./|' | tr '\n' ' ')
apt_install "$debs"
in_root getent passwd clm >/dev/null || fail "installing clmd made no user clm"
cmd=$(sed -n 's/^ExecStart=//p' "$root/lib/systemd/system/clmd.service")
[ -n "$cmd" ] || fail "no ExecStart in clmd.service"
ports=$(python3 -c 'import sys; sys.path.insert(0, sys.argv[1])
import freeport
print(freeport.pick(), freeport.pick())' "$top/tests")
rpc=${ports% *}
ev=${ports#* }
url=tcp://127.0.0.1:$rpc
evurl=tcp://127.0.0.1:$ev
say "  clmd as clm: $cmd --listen $url --events $evurl"
# A simple command (not the function in_root, which would run in a
# subshell): $! is the pid of chroot, which becomes env, setpriv and clmd.
# shellcheck disable=SC2086
chroot "$root" /usr/bin/env -i PATH="$path" LANG=C.UTF-8 \
	setpriv --reuid=clm --regid=clm --init-groups -- $cmd \
	--listen "$url" --events "$evurl" >"$run/clmd.log" 2>&1 &
pid=$!
i=0
until in_root clm --url "$url" status >"$run/status" 2>&1; do
	i=$((i + 1))
	if [ "$i" -gt 300 ] || ! kill -0 "$pid" 2>/dev/null; then
		cat "$run/status" "$run/clmd.log" >&2
		fail "clmd did not answer clm status within 30 s"
	fi
	sleep 0.1
done
sed 's/^/    /' "$run/status"
in_root clm --url "$url" track --customer alice --type ad_click \
	--channel paid_ads --event-id alice-1 >"$run/out" 2>&1 || {
	cat "$run/out" >&2
	fail "clm track failed"
}
sed 's/^/    /' "$run/out"
grep -q '^recorded' "$run/out" || fail "clm track did not record the touchpoint"
in_root clm --url "$url" customer alice >"$run/out" 2>&1 || {
	cat "$run/out" >&2
	fail "clm customer alice failed"
}
sed -n '1,4p' "$run/out" | sed 's/^/    /'
grep -q '^stage *REACH' "$run/out" || fail "clm customer alice: not in REACH"
say "  clm: status, track and customer answered"

apt_install gcc libc6-dev pkg-config
cat >"$root/tmp/clean/hello.c" <<'EOF'
/* hello: a program on the installed libclm-dev: status, track, customer. */
#include <stdio.h>
#include <string.h>

#include <clm/client.h>

int
main(int argc, char **argv)
{
	Clm__V1__Touchpoint tp = CLM__V1__TOUCHPOINT__INIT;
	Clm__V1__Touchpoint *tps[1] = {&tp};
	Clm__V1__Response *resp = NULL;
	const ProtobufCEnumValue *v;
	clm_conn *c = NULL;
	clm_err err;

	if (argc != 2 || (err = clm_open(argv[1], 5000, &c)) != CLM_OK) {
		fprintf(stderr, "hello: cannot open: %s\n", clm_open_error());
		return 1;
	}
	if ((err = clm_server_status(c, &resp)) != CLM_OK) {
		fprintf(stderr, "hello: status: %s\n", clm_strerror(err));
		return 1;
	}
	printf("hello: clmd %s, %llu customers\n",
	        resp->server_status->version,
	        (unsigned long long) resp->server_status->customers);
	clm_response_free(resp);
	tp.customer_id = "carol";
	tp.event_id = "carol-1";
	tp.type = CLM__V1__TOUCHPOINT_TYPE__PURCHASE;
	tp.value = 12.5;
	tp.currency = "EUR";
	if ((err = clm_track(c, tps, 1, &resp)) != CLM_OK
	        || resp->track->accepted != 1) {
		fprintf(stderr, "hello: track: %s\n", clm_strerror(err));
		return 1;
	}
	clm_response_free(resp);
	if ((err = clm_get_customer(c, "carol", 0, &resp)) != CLM_OK) {
		fprintf(stderr, "hello: customer: %s\n", clm_strerror(err));
		return 1;
	}
	v = protobuf_c_enum_descriptor_get_value(
	        &clm__v1__stage__descriptor, resp->customer->stage);
	printf("hello: carol is in %s, %u purchase(s)\n", v ? v->name : "?",
	        resp->customer->purchases);
	if (resp->customer->purchases != 1 || resp->customer->stage == 0) {
		return 1;
	}
	clm_response_free(resp);
	clm_close(c);
	return 0;
}
EOF
# shellcheck disable=SC2016
in_root sh -c 'cd /tmp/clean &&
	cc -Wall -o hello hello.c $(pkg-config --cflags --libs clm)' \
	>"$run/out" 2>&1 || {
	cat "$run/out" >&2
	fail "cannot build a program against libclm-dev"
}
sed 's/^/    cc: /' "$run/out"
say "  cc hello.c \$(pkg-config --cflags --libs clm) ($(in_root pkg-config --cflags --libs clm))"
in_root /tmp/clean/hello "$url" >"$run/out" 2>&1 || {
	cat "$run/out" >&2
	fail "the program on libclm failed"
}
sed 's/^/    /' "$run/out"

# 2. The wheel.
say "2. the Python wheel"
apt_install python3-venv python3-protobuf
in_root python3 -m venv --system-site-packages /opt/clm-venv ||
	fail "python3 -m venv failed"
whl=$(cd "$run/pkg" && ls clm_client-*.whl)
in_root /opt/clm-venv/bin/pip install -q --no-index "/tmp/clean/$whl" \
	>"$run/out" 2>&1 || {
	cat "$run/out" >&2
	fail "pip install --no-index $whl failed"
}
say "  pip install --no-index $whl into /opt/clm-venv"
cat >"$root/tmp/clean/client.py" <<'EOF'
import os
import shutil
import sys

import clm

# The installed classes, generated when the wheel was built: no protoc here.
assert shutil.which("protoc") is None, shutil.which("protoc")
gen = os.path.dirname(clm.pb.__file__)
assert "site-packages" in gen and os.path.isfile(
    os.path.join(gen, "clm_pb2.pyi")), gen
c = clm.Client(sys.argv[1], timeout=10)
st = c.status()
r = c.track(customer_id="bob", type="SITE_VISIT", channel="ORGANIC_SEARCH",
            event_id="bob-1")
assert r.accepted == 1, r
r = c.track(customer_id="bob", type="PURCHASE", value=49.5, currency="EUR",
            event_id="bob-2")
assert r.accepted == 1, r
bob = c.customer("bob")
assert bob.purchases == 1 and bob.revenue == 49.5, bob
alice = c.customer("alice")
assert clm.Stage(alice.stage) is clm.Stage.REACH, alice
try:
    c.customer("nobody")
    raise SystemExit("customer('nobody') did not raise")
except clm.ClmError as e:
    code = e.code
assert code == clm.Code.NOT_FOUND, code
print("python: clmd %s; bob %s (%d purchase, %.2f); alice %s; nobody: %s"
      % (st.version, clm.Stage(bob.stage).name, bob.purchases, bob.revenue,
         clm.Stage(alice.stage).name, code.name))
# The stage-change stream: PUB/SUB drops what was published before the
# subscription took, so track new customers until one change arrives.
w = clm.watch(sys.argv[2], prefix="stage/")
got = None
for i in range(30):
    c.track(customer_id="py-watch-%d" % i, type="PAGE_VIEW")
    got = w.recv(1.0)
    if got:
        break
assert got, "no stage change on the event stream within 30 tries"
topic, ev = got
print("python: classes from %s; watch: %s %s" % (gen, topic, ev.customer_id))
EOF
in_root /opt/clm-venv/bin/python /tmp/clean/client.py "$url" "$evurl" \
	>"$run/out" 2>&1 || {
	cat "$run/out" >&2
	fail "the Python client failed"
}
sed 's/^/    /' "$run/out"

# 3. The npm tarball.
say "3. the npm tarball"
apt_install nodejs npm
say "  node $(in_root node --version), npm $(in_root npm --version)"
tgz=$(cd "$run/pkg" && ls clm-client-*.tgz)
# npm trusts the CAs this host trusts ($CLM_CLEANHOST_CAFILE, default
# /etc/ssl/certs/ca-certificates.crt): a proxy between here and the
# registry may sign with its own.
cafile=${CLM_CLEANHOST_CAFILE:-/etc/ssl/certs/ca-certificates.crt}
npmca=""
if [ -f "$cafile" ]; then
	cp "$cafile" "$root/tmp/clean/host-ca.crt"
	npmca="--cafile /tmp/clean/host-ca.crt"
fi
in_root sh -c "mkdir -p /tmp/app && cd /tmp/app &&
	echo '{\"name\": \"app\", \"private\": true}' >package.json &&
	npm install --no-audit --no-fund $npmca /tmp/clean/$tgz" >"$run/out" 2>&1 || {
	cat "$run/out" >&2
	fail "npm install $tgz failed"
}
say "  npm install $tgz: $(in_root sh -c 'cd /tmp/app && npm ls --all --parseable' |
	sed -n 's|^/tmp/app/node_modules/||p' | tr '\n' ' ')"
cat >"$root/tmp/app/esm.mjs" <<'EOF'
import { Client, Stage, ClmError, watch } from 'clm-client';

const c = new Client(process.argv[2], { timeoutMs: 10000 });
const r = await c.track({ customerId: 'dave', type: 'AD_CLICK', channel: 'PAID_ADS' });
if (r.accepted !== 1) throw new Error(`track: ${JSON.stringify(r)}`);
const dave = await c.customer('dave');
if (Stage[dave.stage] !== Stage.REACH) throw new Error(`dave: ${dave.stage}`);
let code = '';
try { await c.customer('nobody'); } catch (e) { if (e instanceof ClmError) code = e.codeName; }
if (code !== 'NOT_FOUND') throw new Error(`customer('nobody'): ${code}`);
// The stage-change stream (PUB/SUB: track until one change arrives).
const stream = watch(process.argv[3], 'stage/');
await stream.ready(10000);
let got = null;
for (let i = 0; i < 30 && !got; i++) {
  await c.track({ customerId: `js-watch-${i}`, type: 'PAGE_VIEW' });
  got = await stream.nextWithin(1000);
}
if (!got) throw new Error('no stage change on the event stream within 30 tries');
console.log(`esm: dave ${dave.stage}, nobody ${code}; watch: ${got.topic} ${got.event.customerId}`);
stream.close();
await c.close();
EOF
cat >"$root/tmp/app/cjs.cjs" <<'EOF'
const { Client, Stage } = require('clm-client');

(async () => {
  const c = new Client(process.argv[2], { timeoutMs: 10000 });
  const st = await c.status();
  const bob = await c.customer('bob');
  if (bob.purchases !== 1 || Stage[bob.stage] === undefined) throw new Error(`bob: ${JSON.stringify(bob)}`);
  console.log(`cjs: clmd ${st.version}, ${st.customers} customers; bob ${bob.stage}, revenue ${bob.revenue}`);
  await c.close();
})().catch((e) => { console.error(e); process.exit(1); });
EOF
for s in esm.mjs cjs.cjs; do
	in_root sh -c "cd /tmp/app && node $s '$url' '$evurl'" >"$run/out" 2>&1 || {
		cat "$run/out" >&2
		fail "node $s failed"
	}
	sed 's/^/    /' "$run/out"
done

stop_clmd
sed 's/^/    clmd: /' "$run/clmd.log"
[ "$clmd_rc" = 0 ] || fail "clmd exited $clmd_rc after SIGTERM"
left=$(in_root_pids | tr '\n' ' ')
[ -z "$left" ] || fail "processes left in the root: $left"
say "clmd stopped on SIGTERM (exit 0)"
save_debs
say "done in $(($(date +%s) - started)) s"
say "ok"
