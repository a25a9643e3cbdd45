#!/usr/bin/env python3
"""Interop test: the Python client installed as a package, not from the
source tree.

In a venv made with ``python3 -m venv --system-site-packages`` (Debian's
python3-protobuf is its only dependency; Debian refuses system-wide pip
installs, PEP 668), ``pip install --no-build-isolation --no-index`` builds
and installs client/python offline. The installed package must carry the
protobuf classes protoc generated at build time (clm/v1/clm_pb2.py), their
type stub (.pyi) and py.typed, and must import and talk to a real clmd
with no protoc, no .proto and no CLM_* variable: PATH holds only the
venv's bin, the working directory is not the source tree. Then mypy checks
a program written against the installed package: the replies have the
generated classes' types, and a wrong use is reported.

The sources are copied to a temporary directory first, so the build leaves
nothing in the source tree. Needs python3-venv, python3-setuptools,
python3-wheel and mypy (tools/install-deps.sh). Env: CLMD_BIN,
CLM_SOURCE_DIR, CLM_BUILD_DIR (set by tests/CMakeLists.txt).
CLM_INTEROP_KEEP=1 keeps the temporary directory.
"""

import ctypes
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("CLM_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(HERE))
BUILD_DIR = os.environ.get("CLM_BUILD_DIR") or os.path.join(SOURCE_DIR,
                                                            "build")
CLMD_BIN = os.environ.get("CLMD_BIN") or os.path.join(BUILD_DIR, "bin",
                                                      "clmd")

_failures = []


def expect(cond, msg, *args):
    if not cond:
        text = msg % args if args else msg
        _failures.append(text)
        print("  FAIL " + text, flush=True)
    return bool(cond)


def run(cmd, timeout, **kw):
    """Runs cmd; exits the test with its output when it fails."""
    t = time.monotonic()
    try:
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=timeout,
                           **kw)
    except subprocess.TimeoutExpired as e:
        sys.exit("python_install_test: %s did not end within %ds:\n%s%s"
                 % (" ".join(cmd), timeout, e.stdout or "", e.stderr or ""))
    print("  %s: exit %d in %.1fs" % (" ".join(cmd[:3]), r.returncode,
                                      time.monotonic() - t), flush=True)
    return r


def must(r, what):
    if r.returncode != 0:
        sys.exit("python_install_test: %s failed (exit %d):\n%s\n%s"
                 % (what, r.returncode, r.stdout, r.stderr))
    return r


# Ports outside the ephemeral range, so no connection takes one first
# (tests/freeport.py).
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import freeport  # noqa: E402

free_port = freeport.pick


def copy_sources(dest):
    """client/python and proto/ as they sit in the tree, without build
    leftovers."""
    junk = shutil.ignore_patterns("build", "dist", "*.egg-info",
                                  "__pycache__")
    shutil.copytree(os.path.join(SOURCE_DIR, "client", "python"),
                    os.path.join(dest, "client", "python"), ignore=junk)
    shutil.copytree(os.path.join(SOURCE_DIR, "proto"),
                    os.path.join(dest, "proto"))
    return os.path.join(dest, "client", "python")


def clean_env(venv, home):
    """What a host with only the package's runtime dependencies has: the
    venv's bin on PATH (no protoc there), no CLM_* variables."""
    env = {"PATH": os.path.join(venv, "bin"), "HOME": home,
           "PROTOC": "/nonexistent/protoc", "LANG": "C.UTF-8"}
    return env


# The program run with the venv's python: talks to clmd at argv[1], prints
# what it saw as JSON. Readiness: clm.Client fails at once while nothing
# listens, so it retries a fresh Client within a bound.
CLIENT_PROGRAM = r'''
import json, sys, time
import clm

url = sys.argv[1]
deadline = time.monotonic() + 30
while True:
    try:
        clm.Client(url, timeout=5).status()
        break
    except clm.ConnectionError:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.05)
c = clm.Client(url, timeout=10)
r1 = c.track(customer_id="wheel-ann", type="PAGE_VIEW",
             channel="ORGANIC_SEARCH")
r2 = c.track(customer_id="wheel-ann", type="PURCHASE", value=12.5,
             currency="EUR", event_id="wheel-order-1")
r3 = c.track(customer_id="wheel-ann", type="PURCHASE", value=12.5,
             currency="EUR", event_id="wheel-order-1")
cu = c.customer("wheel-ann")
c.close()
print(json.dumps({
    "pb_name": clm.pb.__name__, "pb_file": clm.pb.__file__,
    "clm_file": clm.__file__,
    "accepted": [r1.accepted, r2.accepted, r3.accepted],
    "duplicates": r3.duplicates,
    "changes": [clm.Stage(e.to_stage).name for e in r1.changes],
    "stage": clm.Stage(cu.stage).name, "purchases": cu.purchases,
    "revenue": cu.revenue,
}))
'''

# A program type-checked by mypy against the installed package: the
# revealed types are the generated classes', and line 8 is an error (a
# Stage is not a str).
TYPED_PROGRAM = '''import clm

c = clm.Client("tcp://127.0.0.1:7450", timeout=1.0)
r = c.track(customer_id="a", type="PURCHASE", value=1.5)
n: int = r.accepted + r.duplicates
cu = c.customer("a", as_of_ms="2026-01-10")
reveal_type(cu)
wrong: str = cu.stage
for topic, ev in clm.watch("tcp://127.0.0.1:7451", timeout=1.0):
    reveal_type(ev)
    print(topic.upper(), ev.customer_id, n, wrong)
tp: clm.pb.Touchpoint = clm.pb.Touchpoint(customer_id="a", value=2.0)
print(clm.to_dict(tp), clm.Stage(cu.stage).name, clm.Stage.REACH)
try:
    c.status(timeout=None)
except clm.ClmError as e:
    print(e.code_name, e.violation("x"))
'''


def start_clmd(tmp):
    port = free_port()
    url = "tcp://127.0.0.1:%d" % port
    events = "tcp://127.0.0.1:%d" % free_port()
    log = open(os.path.join(tmp, "clmd.log"), "ab")
    libc = ctypes.CDLL("libc.so.6", use_errno=True)

    def pdeathsig():
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG

    proc = subprocess.Popen(
        [CLMD_BIN, "--data", os.path.join(tmp, "data"), "--listen", url,
         "--events", events, "--log-level", "warn"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        preexec_fn=pdeathsig)
    log.close()
    return proc, url


def stop_clmd(proc):
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return -1


def main():
    t0 = time.monotonic()
    if not os.access(CLMD_BIN, os.X_OK):
        sys.exit("python_install_test: no clmd at %s (set CLMD_BIN)"
                 % CLMD_BIN)
    mypy = shutil.which("mypy")
    if not mypy:
        sys.exit("python_install_test: no mypy (apt-get install mypy, or "
                 "tools/install-deps.sh)")
    tmp = tempfile.mkdtemp(prefix="clm-py-install-")
    proc = None
    try:
        home = os.path.join(tmp, "home")
        os.makedirs(home)
        src = copy_sources(os.path.join(tmp, "src"))
        venv = os.path.join(tmp, "venv")
        must(run([sys.executable, "-m", "venv", "--system-site-packages",
                  venv], 120), "python3 -m venv (apt-get install "
             "python3-venv)")
        py = os.path.join(venv, "bin", "python")
        pip_env = dict(os.environ, HOME=home, PIP_NO_INPUT="1",
                       PIP_DISABLE_PIP_VERSION_CHECK="1")
        must(run([py, "-m", "pip", "install", "--no-build-isolation",
                  "--no-index", src], 240, env=pip_env),
             "pip install --no-build-isolation --no-index client/python")

        # What the wheel put in site-packages.
        site = glob.glob(os.path.join(venv, "lib", "python3*",
                                      "site-packages", "clm"))
        expect(len(site) == 1, "clm in the venv's site-packages: %s", site)
        pkg = site[0] if site else os.path.join(venv, "missing")
        for f in ("v1/clm_pb2.py", "v1/clm_pb2.pyi", "v1/__init__.py",
                  "py.typed", "client.py"):
            expect(os.path.isfile(os.path.join(pkg, f)),
                   "the installed package has no %s", f)
        stub = ""
        if os.path.isfile(os.path.join(pkg, "v1", "clm_pb2.pyi")):
            with open(os.path.join(pkg, "v1", "clm_pb2.pyi")) as f:
                stub = f.read()
        expect("class Touchpoint(_message.Message)" in stub,
               "clm_pb2.pyi declares no Touchpoint")

        # Import and talk to clmd with only the runtime dependencies.
        proc, url = start_clmd(tmp)
        work = os.path.join(tmp, "work")
        os.makedirs(work)
        prog = os.path.join(work, "talk.py")
        with open(prog, "w") as f:
            f.write(CLIENT_PROGRAM)
        r = run([py, prog, url], 120, cwd=work, env=clean_env(venv, home))
        if not expect(r.returncode == 0,
                      "the installed client failed (exit %d):\n%s%s",
                      r.returncode, r.stdout, r.stderr):
            with open(os.path.join(tmp, "clmd.log"), errors="replace") as f:
                print("clmd log:\n" + f.read()[-2000:])
        else:
            got = json.loads(r.stdout.strip().splitlines()[-1])
            expect(got["pb_name"] == "clm.v1.clm_pb2",
                   "clm.pb is %s, not the wheel's module", got["pb_name"])
            for k in ("pb_file", "clm_file"):
                expect(got[k].startswith(pkg + os.sep),
                       "%s is %s, not under %s", k, got[k], pkg)
            expect(got["accepted"] == [1, 1, 0], "accepted %s",
                   got["accepted"])
            expect(got["duplicates"] == 1, "duplicates %s",
                   got["duplicates"])
            expect(got["changes"] == ["REACH"], "changes %s",
                   got["changes"])
            expect(got["stage"] == "ACQUISITION", "stage %s", got["stage"])
            expect(got["purchases"] == 1 and got["revenue"] == 12.5,
                   "purchases %s revenue %s", got["purchases"],
                   got["revenue"])
        expect(not os.path.exists(os.path.join(home, ".cache",
                                               "clm-python")),
               "the installed client generated code at run time")
        expect(stop_clmd(proc) == 0, "clmd did not exit 0")

        # The types a program written against the package sees.
        typed = os.path.join(work, "typed.py")
        with open(typed, "w") as f:
            f.write(TYPED_PROGRAM)
        r = run([mypy, "--python-executable", py, "--no-incremental",
                 "--cache-dir", os.path.join(tmp, "mypy-cache"),
                 "--no-error-summary", "--hide-error-context", typed], 240,
                cwd=work, env=dict(os.environ, HOME=home))
        lines = [ln.replace(typed, "typed.py")
                 for ln in r.stdout.strip().splitlines()]
        want = [
            'typed.py:7: note: Revealed type is "clm.v1.clm_pb2.Customer"',
            'typed.py:8: error: Incompatible types in assignment '
            '(expression has type "Stage", variable has type "str")  '
            '[assignment]',
            'typed.py:10: note: Revealed type is '
            '"clm.v1.clm_pb2.LifecycleEvent"',
        ]
        expect(lines == want, "mypy said:\n%s\n%swant:\n%s",
               "\n".join(lines), r.stderr, "\n".join(want))
        expect(r.returncode == 1, "mypy exit %d, want 1 (one error)",
               r.returncode)
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        if os.environ.get("CLM_INTEROP_KEEP"):
            print("python_install_test: kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    took = time.monotonic() - t0
    if _failures:
        print("\n%d failure(s) in %.1fs" % (len(_failures), took))
        return 1
    print("\ninstalled client: all checks passed in %.1fs" % took)
    return 0


if __name__ == "__main__":
    sys.exit(main())
