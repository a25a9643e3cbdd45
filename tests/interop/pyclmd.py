"""What the Python interop tests (tests/interop/python_*_test.py) share: a
real clmd to drive from the Python client (client/python, package clm),
the check runner, and the journey of tests/integration/stages.c.

Importing this module makes the client importable (the protobuf classes
are generated into $CLM_BUILD_DIR/python-gen), clears the CLM_* variables
the client reads, and creates the temporary directory every clmd works
in. Every clmd started is killed on exit, on SIGTERM/SIGINT, and
(PR_SET_PDEATHSIG) when the test process dies. CLM_INTEROP_KEEP=1 keeps
the temporary directory.

Environment (set by tests/CMakeLists.txt): CLMD_BIN, CLM_SOURCE_DIR,
CLM_BUILD_DIR.

A test file registers its checks with @check, in the order they run, and
ends with sys.exit(main(...)): main starts what the checks share (a clmd,
unless clmd=False, and what the file's setup adds), runs every check on
its own, prints each one's result, and returns 1, after printing every
failure, if any check failed.
"""

import atexit
import ctypes
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("CLM_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(HERE))
BUILD_DIR = os.environ.get("CLM_BUILD_DIR") or os.path.join(SOURCE_DIR,
                                                            "build")
CLMD_BIN = os.environ.get("CLMD_BIN") or os.path.join(BUILD_DIR, "bin",
                                                      "clmd")
# The test's name in messages: python_calls_test and so on.
NAME = os.path.splitext(os.path.basename(sys.argv[0]))[0] or "python_test"


def _need_protobuf():
    """The client needs google.protobuf (Debian's python3-protobuf, which
    tools/install-deps.sh installs; tests/CMakeLists.txt runs these tests
    with Debian's python3)."""
    try:
        import google.protobuf  # noqa: F401
    except ImportError:
        sys.exit("%s: %s has no google.protobuf "
                 "(apt-get install python3-protobuf)" % (NAME, sys.executable))


_need_protobuf()
sys.path.insert(0, os.path.join(SOURCE_DIR, "client", "python"))
os.environ.setdefault("CLM_PYTHON_CACHE", os.path.join(BUILD_DIR,
                                                       "python-gen"))
os.environ.setdefault("CLM_PROTO", os.path.join(SOURCE_DIR, "proto", "clm",
                                                "v1", "clm.proto"))
for var in ("CLM_URL", "CLM_EVENTS_URL", "CLM_TOKEN", "CLM_TLS_CA",
            "CLM_TLS_CERT"):
    os.environ.pop(var, None)

import clm  # noqa: E402
from clm import pb  # noqa: E402

MIN_MS = 60_000
HOUR_MS = 60 * MIN_MS
DAY_MS = 24 * HOUR_MS
T0 = 1768003200000          # 2026-01-10T00:00:00Z, as in stages.h
T1 = 1772409600000          # 2026-03-02T00:00:00Z: the other checks' time
Y2K_MS = 946684800000       # the earliest accepted event time
JAN1, FEB1 = 1767225600000, 1769904000000

# ---------------------------------------------------------------------------
# Processes: every clmd started is killed however the test ends.

_procs = []
_servers = []  # every Clmd, whose logs a failed run prints
TMP = tempfile.mkdtemp(prefix="clm-py-interop-")


try:
    _libc = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:
    _libc = None


def _pdeathsig():
    """In the child: SIGKILL when the parent dies (PR_SET_PDEATHSIG = 1)."""
    if _libc is not None:
        _libc.prctl(1, signal.SIGKILL)


def _kill_all():
    for p in _procs:
        if p.poll() is None:
            p.kill()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass


def _cleanup():
    _kill_all()
    if os.environ.get("CLM_INTEROP_KEEP"):
        print("%s: kept %s" % (NAME, TMP))
    else:
        shutil.rmtree(TMP, ignore_errors=True)


def _on_signal(signum, frame):
    _cleanup()
    os._exit(128 + signum)


atexit.register(_cleanup)
signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGINT, _on_signal)


# Ports outside the ephemeral range, so no connection takes one first
# (tests/freeport.py).
sys.path.insert(0, os.path.dirname(HERE))
import freeport  # noqa: E402

free_port = freeport.pick


class Clmd:
    def __init__(self, name, listen=None, events=None, extra=()):
        self.name = name
        self.dir = os.path.join(TMP, name)
        os.makedirs(self.dir)
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "clmd.log")
        # Ports this object picked (not passed in) are picked again when
        # another process takes one before clmd binds it (start).
        self.own_ports = listen is None and events is None
        self.url = listen[0] if listen else "tcp://127.0.0.1:%d" % free_port()
        self.listen = listen or [self.url]
        self.events_url = events or "tcp://127.0.0.1:%d" % free_port()
        self.extra = list(extra)
        self.proc = None
        _servers.append(self)

    def start(self, client_kw=None):
        for attempt in range(1, 5):
            log_from = os.path.getsize(self.log) if os.path.exists(
                self.log) else 0
            try:
                return self._start(client_kw)
            except RuntimeError:
                taken = [u for u in (self.url, self.events_url)
                         if ("'%s': address in use" % u)
                         in self.log_text(log_from).lower()]
                if not (self.own_ports and taken and attempt < 4):
                    raise
                sys.stderr.write("clmd's port %s was taken at start; "
                                 "again on new ports\n" % taken[0])
                self.url = "tcp://127.0.0.1:%d" % free_port()
                self.listen = [self.url]
                self.events_url = "tcp://127.0.0.1:%d" % free_port()

    def _start(self, client_kw):
        args = [CLMD_BIN, "--data", self.data, "--events", self.events_url,
                "--log-level", "warn"]
        for u in self.listen:
            args += ["--listen", u]
        args += self.extra
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, preexec_fn=_pdeathsig)
        _procs.append(self.proc)
        c = clm.Client(self.url, timeout=2, **(client_kw or {}))
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("clmd exited %d: %s" % (
                    self.proc.returncode, self.log_text()))
            try:
                c.status()
                c.close()
                return self
            except clm.ConnectionError:
                if time.monotonic() > deadline:
                    raise RuntimeError("clmd does not answer at %s: %s"
                                       % (self.url, self.log_text()))
                time.sleep(0.05)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return -1

    def log_text(self, start=None):
        """The log's last 2000 characters, or all of it from byte start."""
        try:
            with open(self.log, "rb") as f:
                if start is not None:
                    f.seek(start)
                    return f.read().decode(errors="replace")
                return f.read().decode(errors="replace")[-2000:]
        except OSError:
            return ""


# ---------------------------------------------------------------------------
# A tiny check runner: each check runs on its own; failures are collected.

_failures = []
_current = [""]


def expect(cond, msg, *args):
    if not cond:
        text = "%s: %s" % (_current[0], msg % args if args else msg)
        _failures.append(text)
        print("  FAIL " + text, flush=True)
    return bool(cond)


def expect_eq(got, want, what):
    return expect(got == want, "%s = %r, want %r", what, got, want)


def near(a, b, eps=1e-9):
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=eps)


def expect_near(got, want, what):
    return expect(near(got, want), "%s = %r, want %r", what, got, want)


def expect_raises(code, fn, what):
    """Runs fn, expects clm.ClmError with code (a name); returns it."""
    try:
        fn()
    except clm.ClmError as e:
        expect(e.code_name == code, "%s: %s, want %s", what, e, code)
        return e
    expect(False, "%s: no error, want %s", what, code)
    return None


_checks = []


def check(fn):
    _checks.append(fn)
    return fn


def _run_one(name, fn, ctx):
    """Runs fn(ctx) as name, prints its result; False if it raised."""
    _current[0] = name
    t = time.monotonic()
    n = len(_failures)
    raised = False
    try:
        fn(ctx)
    except Exception:
        raised = True
        tb = traceback.format_exc()
        _failures.append("%s: exception\n%s" % (name, tb))
        print("  ERROR %s\n%s" % (name, tb), flush=True)
    status = "ok" if len(_failures) == n else "FAILED"
    print("%-44s %s (%.2fs)" % (name, status, time.monotonic() - t),
          flush=True)
    return not raised


def run_checks(ctx):
    for fn in _checks:
        _run_one(fn.__name__, fn, ctx)


class Ctx:
    """What the checks of one test share: srv (the clmd), c (a Client of
    it) and whatever the file's setup adds; close_later(x) has x.close()
    called after the last check, before the clmd stops."""

    def __init__(self):
        self.srv = None
        self._closers = []

    def close_later(self, x):
        self._closers.append(x)
        return x


def main(setup=None, clmd=True):
    """Runs the checks registered with @check; returns the exit status.

    With clmd, first starts a clmd on free loopback ports (ctx.srv) and a
    Client of it (ctx.c); then setup(ctx), reported as the check "setup"
    (if it raises, no check runs); then every check in order. The clmd is
    stopped at the end and must exit 0. On any failure prints them all and
    the logs of the clmds started, and returns 1."""
    t0 = time.monotonic()
    ctx = Ctx()
    if clmd:
        if not os.access(CLMD_BIN, os.X_OK):
            sys.exit("%s: no clmd at %s (set CLMD_BIN)" % (NAME, CLMD_BIN))
        ctx.srv = Clmd("main").start()
        print("clmd at %s, events %s, protobuf module %s" % (
            ctx.srv.url, ctx.srv.events_url, pb.__file__), flush=True)
        ctx.c = ctx.close_later(clm.Client(ctx.srv.url))
    try:
        if setup is None or _run_one("setup", setup, ctx):
            run_checks(ctx)
    finally:
        _current[0] = "teardown"
        for x in reversed(ctx._closers):
            x.close()
        if ctx.srv is not None and ctx.srv.proc.poll() is None:
            st = ctx.srv.stop()
            expect_eq(st, 0, "clmd exit status")
    took = time.monotonic() - t0
    if _failures:
        print("\n%d failure(s) in %.1fs:" % (len(_failures), took))
        for f in _failures:
            print("  " + f)
        for s in _servers:
            print("clmd log (%s):\n%s" % (s.name, s.log_text()))
        return 1
    print("\nall %d checks passed in %.1fs" % (len(_checks), took))
    return 0


# ---------------------------------------------------------------------------
# The journey of tests/integration/stages.c.

JOURNEY = [  # event id suffix, type, channel, time, value, duration_s
    ("e1", "AD_CLICK", "PAID_ADS", T0, 0, 0),
    ("e2", "SITE_VISIT", "ORGANIC_SEARCH", T0 + HOUR_MS, 0, 120),
    ("e3", "PURCHASE", "EMAIL", T0 + DAY_MS, 49.5, 0),
    ("e4", "CONTENT_VIEW", "DIRECT", T0 + 2 * DAY_MS, 0, 0),
    ("e5", "PURCHASE", "DIRECT", T0 + 10 * DAY_MS, 20.25, 0),
    ("e6", "REFERRAL", "REFERRAL_LINK", T0 + 20 * DAY_MS, 0, 0),
]
IN_ORDER_CHANGES = [("STAGE_UNSPECIFIED", "REACH"), None,
                    ("REACH", "ACQUISITION"), ("ACQUISITION", "NURTURE"),
                    ("NURTURE", "RETENTION"), ("RETENTION", "ADVOCACY")]
HISTORY = [("REACH", T0), ("ACQUISITION", T0 + DAY_MS),
           ("NURTURE", T0 + 2 * DAY_MS), ("RETENTION", T0 + 10 * DAY_MS),
           ("ADVOCACY", T0 + 20 * DAY_MS)]


def journey(customer):
    """The journey as dicts, enums by name (and one by number)."""
    tps = []
    for i, (eid, typ, ch, at, value, dur) in enumerate(JOURNEY):
        tp = {"event_id": "%s-%s" % (customer, eid), "customer_id": customer,
              "type": typ, "channel": ch, "occurred_at_ms": at}
        if value:
            tp["value"] = value
            tp["currency"] = "EUR"
        if dur:
            tp["duration_s"] = dur
        tps.append(tp)
    tps[0]["type"] = int(clm.TouchpointType.AD_CLICK)      # by number
    tps[3]["type"] = clm.TouchpointType.CONTENT_VIEW       # IntEnum member
    return tps


def track_journey(c, customer):
    """Tracks the journey of customer in order, one call a touchpoint, and
    returns the customer: for the checks that need a customer who made it
    (python_lifecycle_test checks every reply on the way)."""
    for i, tp in enumerate(journey(customer)):
        r = c.track(tp)
        expect_eq((r.accepted, r.duplicates, len(r.rejected)), (1, 0, 0),
                  "%s step %d accepted/duplicates/rejected" % (customer, i))
    cu = c.customer(customer)
    check_journey_customer(cu, customer)
    return cu


def stage(name):
    return int(clm.Stage[name])


def check_change(ev, customer, event_id, frm, to, at, what):
    expect_eq(ev.kind, int(clm.LifecycleEventKind.STAGE_CHANGED),
              what + " kind")
    expect_eq(ev.customer_id, customer, what + " customer_id")
    expect_eq(clm.name("Stage", ev.from_stage), frm, what + " from_stage")
    expect_eq(clm.name("Stage", ev.to_stage), to, what + " to_stage")
    expect_eq(ev.at_ms, at, what + " at_ms")
    expect_eq(ev.event_id, event_id, what + " event_id")


def touch_count(cu, typ):
    for tc in cu.touch_counts:
        if tc.type == int(clm.TouchpointType[typ]):
            return tc.count
    return 0


def check_journey_customer(cu, what):
    expect_eq(clm.Stage(cu.stage).name, "ADVOCACY", what + " stage")
    expect_eq(clm.FunnelPosition(cu.funnel).name, "BOTTOM", what + " funnel")
    hist = [(clm.Stage(h.stage).name, h.entered_at_ms)
            for h in cu.stage_history]
    expect_eq(hist, HISTORY, what + " stage_history")
    expect_eq(cu.purchases, 2, what + " purchases")
    expect_eq(cu.refunds, 0, what + " refunds")
    expect_eq(cu.referrals, 1, what + " referrals")
    expect_near(cu.revenue, 69.75, what + " revenue")
    expect_eq(cu.first_seen_ms, T0, what + " first_seen_ms")
    expect_eq(cu.last_seen_ms, T0 + 20 * DAY_MS, what + " last_seen_ms")
    expect_eq(cu.acquisition_channel, int(clm.Channel.PAID_ADS),
              what + " acquisition_channel")
    expect_eq(cu.conversion_channel, int(clm.Channel.EMAIL),
              what + " conversion_channel")
    expect_eq(len(cu.touch_counts), 5, what + " touch_counts")
    for typ, n in (("AD_CLICK", 1), ("SITE_VISIT", 1), ("PURCHASE", 2),
                   ("CONTENT_VIEW", 1), ("REFERRAL", 1)):
        expect_eq(touch_count(cu, typ), n, what + " touch_count " + typ)
    expect_eq(list(cu.cart_items), [], what + " cart_items")
    expect_eq(list(cu.anonymous_ids), [], what + " anonymous_ids")


def same_customer(a, b):
    """Equal but for customer_id and as_of_ms."""
    x, y = pb.Customer(), pb.Customer()
    x.CopyFrom(a)
    y.CopyFrom(b)
    for m in (x, y):
        m.customer_id = ""
        m.as_of_ms = 0
    return (x.SerializeToString(deterministic=True)
            == y.SerializeToString(deterministic=True))


def probe(c, customer, at=T1 - DAY_MS):
    """Tracks a PAGE_VIEW of customer, a new one: a stage change, which
    clmd publishes on stage/REACH. Returns the replied change (None if
    there is none, a failure)."""
    r = c.track(customer_id=customer, type="PAGE_VIEW", occurred_at_ms=at)
    expect_eq(len(r.changes), 1, "probe changes")
    return r.changes[0] if r.changes else None


def read_until(w, customer, timeout=10, limit=500):
    """Reads w until an event of customer arrives and returns it as (topic,
    event), discarding the events before it; None if it does not arrive
    within timeout seconds or limit events."""
    deadline = time.monotonic() + timeout
    for _ in range(limit):
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        got = w.recv(left)
        if got is None:
            return None
        if got[1].customer_id == customer:
            return got
    return None


def drain(c, w, marker):
    """Discards what w (live, on stage/) has not read yet of the events of
    c's calls so far, however late clmd publishes them: tracks marker, a
    new customer (a stage change), and reads until its event. Silence
    proves nothing on a loaded machine; the order does: clmd's single
    writer publishes in the order it writes, and one Client's calls are
    written in the order they are made. Returns whether the marker's event
    arrived (with the replied seq)."""
    want = probe(c, marker)
    got = read_until(w, marker)
    if not expect(got is not None, "no event of the marker %s on %s",
                  marker, w.url):
        return False
    return want is None or expect_eq(got[1].seq, want.seq,
                                     "seq of the marker " + marker)


def wait_live(c, w, customer):
    """PUB/SUB drops what is published before the subscription is up:
    track new customers (each one a stage change) until one's event
    arrives, then drain (customer-marker) the probes' events still to
    come."""
    for i in range(50):
        probe(c, "%s-%d" % (customer, i))
        if w.recv(0.2) is not None:
            return drain(c, w, customer + "-marker")
    return expect(False, "no event arrived on %s", w.url)
