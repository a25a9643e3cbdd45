#!/usr/bin/env python3
"""Interop test: the Python client (client/python, package clm) against a
real clmd.

Starts clmd on a temporary data dir and free loopback ports, drives the
journey of tests/integration/journey_test.c through clm.Client with fixed
event times and checks the same answers the C tests check: stage changes
and history REACH -> ACQUISITION -> NURTURE -> RETENTION -> ADVOCACY,
duplicates on event_id, arrival-order independence, rejected items with
FieldViolations, INVALID_ARGUMENT / NOT_FOUND / FAILED_PRECONDITION /
ALREADY_EXISTS as clm.ClmError, Identify merging an anonymous profile,
Recommend (and claim), Metrics and Cohorts of the journey, spend, an
experiment, export and forget, the stage-change stream (clm.watch) with
seq, and a restart of clmd under a live Client and Watcher. A second clmd
listens on ipc:// only (calls and events) with an auth token, and on
tls+tcp:// when openssl is there. Fake SP peers check the framing: split
reads, stale replies, timeouts, resends over a new connection.

Environment (set by tests/CMakeLists.txt): CLMD_BIN, CLM_SOURCE_DIR,
CLM_BUILD_DIR; the protobuf classes are generated into
$CLM_BUILD_DIR/python-gen. Every clmd started is killed on exit, on
SIGTERM/SIGINT, and (PR_SET_PDEATHSIG) when this process dies.
CLM_INTEROP_KEEP=1 keeps the temporary directory.
"""

import atexit
import ctypes
import json
import math
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("CLM_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(HERE))
BUILD_DIR = os.environ.get("CLM_BUILD_DIR") or os.path.join(SOURCE_DIR,
                                                            "build")
CLMD_BIN = os.environ.get("CLMD_BIN") or os.path.join(BUILD_DIR, "bin",
                                                      "clmd")


def _need_protobuf():
    """The client needs google.protobuf (Debian's python3-protobuf, which
    tools/install-deps.sh installs; tests/CMakeLists.txt runs this test
    with Debian's python3)."""
    try:
        import google.protobuf  # noqa: F401
    except ImportError:
        sys.exit("python_test: %s has no google.protobuf "
                 "(apt-get install python3-protobuf)" % sys.executable)


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
T0 = 1768003200000          # 2026-01-10T00:00:00Z, as in journey_test.c
T1 = 1772409600000          # 2026-03-02T00:00:00Z: the other checks' time
Y2K_MS = 946684800000       # the earliest accepted event time
JAN1, FEB1 = 1767225600000, 1769904000000

# ---------------------------------------------------------------------------
# Processes: every clmd started is killed however this script ends.

_procs = []
_tmp = tempfile.mkdtemp(prefix="clm-py-interop-")


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
        print("python_test: kept %s" % _tmp)
    else:
        shutil.rmtree(_tmp, ignore_errors=True)


def _on_signal(signum, frame):
    _cleanup()
    os._exit(128 + signum)


atexit.register(_cleanup)
signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGINT, _on_signal)


# Ports below the ephemeral range, so no connection takes one first
# (tests/freeport.py).
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import freeport  # noqa: E402

free_port = freeport.pick


class Clmd:
    def __init__(self, name, listen=None, events=None, extra=()):
        self.dir = os.path.join(_tmp, name)
        os.makedirs(self.dir)
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "clmd.log")
        port = free_port()
        self.url = listen[0] if listen else "tcp://127.0.0.1:%d" % port
        self.listen = listen or [self.url]
        self.events_url = events or "tcp://127.0.0.1:%d" % free_port()
        self.extra = list(extra)
        self.proc = None

    def start(self, client_kw=None):
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

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()[-2000:]
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


def run_checks(ctx):
    for fn in _checks:
        _current[0] = fn.__name__
        t = time.monotonic()
        n = len(_failures)
        try:
            fn(ctx)
        except Exception:
            tb = traceback.format_exc()
            _failures.append("%s: exception\n%s" % (fn.__name__, tb))
            print("  ERROR %s\n%s" % (fn.__name__, tb), flush=True)
        status = "ok" if len(_failures) == n else "FAILED"
        print("%-44s %s (%.2fs)" % (fn.__name__, status,
                                     time.monotonic() - t), flush=True)


# ---------------------------------------------------------------------------
# The journey of tests/integration/journey_test.c.

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


def drain(w):
    while w.recv(0.2) is not None:
        pass


def wait_live(c, w, customer):
    """PUB/SUB drops what is published before the subscription is up:
    track new customers (each one a stage change) until one arrives."""
    for i in range(50):
        r = c.track(customer_id="%s-%d" % (customer, i), type="PAGE_VIEW",
                    occurred_at_ms=T1 - DAY_MS)
        expect_eq(len(r.changes), 1, "probe changes")
        if w.recv(0.2) is not None:
            drain(w)
            return True
    return expect(False, "no event arrived on %s", w.url)


# ---------------------------------------------------------------------------
# Checks against the main clmd (TCP).

@check
def status_answers(ctx):
    c = ctx.c
    st = c.status()
    expect(st.version != "", "status has no version")
    expect(st.durability in ("full", "os"), "durability %r", st.durability)
    resp = c.call(server_status={})
    expect(resp.request_id.startswith("py-"), "request_id %r not echoed",
           resp.request_id)
    expect_eq(resp.WhichOneof("result"), "server_status", "result")
    resp = c.call(pb.Request(request_id="mine", server_status={}))
    expect_eq(resp.request_id, "mine", "request_id echoed")
    e = expect_raises("UNIMPLEMENTED", lambda: c.call({}), "no call")
    if e:
        expect_eq(e.code_number, 12, "code number")


@check
def journey_in_order_with_events(ctx):
    c, w = ctx.c, ctx.watch
    wait_live(c, w, "probe")
    tps = journey("alice")
    replied = []
    for i, tp in enumerate(tps):
        r = c.track(tp)
        expect_eq((r.accepted, r.duplicates, len(r.rejected)), (1, 0, 0),
                  "step %d accepted/duplicates/rejected" % i)
        want = IN_ORDER_CHANGES[i]
        if want is None:
            expect_eq(len(r.changes), 0, "step %d changes" % i)
            continue
        if not expect_eq(len(r.changes), 1, "step %d changes" % i):
            continue
        check_change(r.changes[0], "alice", tp["event_id"], want[0], want[1],
                     JOURNEY[i][3], "step %d" % i)
        replied.append(r.changes[0])
    seqs = [ev.seq for ev in replied]
    expect(all(b == a + 1 for a, b in zip(seqs, seqs[1:])),
           "replied seqs %s are not consecutive", seqs)
    # The stream carried the same five changes, topic stage/<TO>.
    for want in replied:
        got = w.recv(3)
        if not expect(got is not None, "no event for seq %d", want.seq):
            break
        topic, ev = got
        expect_eq(topic, "stage/" + clm.Stage(want.to_stage).name, "topic")
        expect_eq(ev.seq, want.seq, "published seq")
        check_change(ev, "alice", want.event_id,
                     clm.Stage(want.from_stage).name,
                     clm.Stage(want.to_stage).name, want.at_ms, "event")
    expect_eq(w.missed, 0, "events missed")
    # A subscriber to one topic sees only that one.
    got = ctx.watch_advocacy.recv(3)
    if expect(got is not None, "no stage/ADVOCACY event"):
        expect_eq(got[0], "stage/ADVOCACY", "filtered topic")
        expect_eq(got[1].customer_id, "alice", "filtered customer")
        expect_eq(got[1].seq, replied[-1].seq if replied else 0,
                  "filtered seq")
    ctx.alice = c.customer("alice")


@check
def customer_after_the_journey(ctx):
    before = int(time.time() * 1000)
    cu = ctx.c.customer("alice")
    after = int(time.time() * 1000)
    check_journey_customer(cu, "alice")
    expect(before - 1000 <= cu.as_of_ms <= after + 1000,
           "as_of_ms %d is not now", cu.as_of_ms)
    # As of the day after the referral: ACTIVE; 40 days later: AT_RISK.
    cu = ctx.c.customer("alice", as_of_ms=T0 + 21 * DAY_MS)
    expect_eq(clm.Health(cu.health).name, "ACTIVE", "health at T0+21d")
    cu = ctx.c.customer("alice", "2026-03-11T00:00:00Z")
    expect_eq(cu.as_of_ms, T0 + 60 * DAY_MS, "as_of_ms from an ISO string")
    expect_eq(clm.Health(cu.health).name, "AT_RISK", "health at T0+60d")
    expect(clm.RiskReason.INACTIVE in cu.risk_reasons, "no INACTIVE reason")


@check
def duplicates_on_event_id(ctx):
    c = ctx.c
    r = c.track(journey("alice"))
    expect_eq((r.accepted, r.duplicates, len(r.changes)), (0, 6, 0),
              "accepted/duplicates/changes of the batch again")
    cu = c.customer("alice")
    check_journey_customer(cu, "alice again")
    expect(same_customer(cu, ctx.alice),
           "customer changed after a batch of duplicates")
    # Without an event_id the client makes one per touchpoint (a resend
    # is then counted once); two such touchpoints are two.
    r = c.track([{"type": "SITE_VISIT"}, {"type": "SITE_VISIT"}],
                customer_id="noid", occurred_at_ms=T1)
    expect_eq((r.accepted, r.duplicates), (2, 0), "two without event_id")
    expect_eq(touch_count(c.customer("noid"), "SITE_VISIT"), 2, "noid visits")


@check
def reversed_arrival_gives_the_same_customer(ctx):
    c = ctx.c
    tps = journey("bob")
    for k, tp in enumerate(reversed(tps)):
        r = c.track([tp])
        expect_eq((r.accepted, r.duplicates), (1, 0), "call %d" % k)
        if k == 0:
            if expect_eq(len(r.changes), 1, "call 0 changes"):
                check_change(r.changes[0], "bob", tp["event_id"],
                             "STAGE_UNSPECIFIED", "REACH", T0 + 20 * DAY_MS,
                             "call 0")
        elif k == 1:
            if expect_eq(len(r.changes), 1, "call 1 changes"):
                check_change(r.changes[0], "bob", tp["event_id"], "REACH",
                             "ADVOCACY", T0 + 20 * DAY_MS, "call 1")
        else:
            expect_eq(len(r.changes), 0, "call %d changes" % k)
    cu = c.customer("bob")
    check_journey_customer(cu, "bob")
    expect(same_customer(cu, ctx.alice), "bob differs from alice")


@check
def metrics_of_the_journey(ctx):
    c = ctx.c
    # Spend is a value per (channel, day, campaign): the second replaces.
    r = c.record_spend(channel="PAID_ADS", day_ms="2026-01-05", amount=80,
                       currency="EUR", campaign="winter")
    expect_eq(r.accepted, 1, "spend accepted")
    r = c.record_spend([{"channel": "paid-ads", "day_ms": JAN1 + 4 * DAY_MS,
                         "amount": 100, "campaign": "winter"}])
    expect_eq(r.accepted, 1, "spend accepted")
    m = c.metrics("2026-01-01", FEB1)
    # alice and bob: 49.5 + 20.25 each, no refund.
    expect_eq(m.orders, 4, "orders")
    expect_near(m.revenue, 139.5, "revenue")
    expect_near(m.average_order_value, 34.875, "average_order_value")
    expect_near(m.refunds_value, 0, "refunds_value")
    expect_eq((m.ad_impressions, m.ad_clicks), (0, 2), "ads")
    expect_eq((m.site_visits, m.page_views, m.unique_visitors), (2, 0, 2),
              "site_visits/page_views/unique_visitors")
    expect_near(m.avg_time_on_site_s, 120, "avg_time_on_site_s")
    expect_eq(len(m.stages), 5, "stage rows")
    for row in m.stages:
        expect_eq(row.entered, 2, "entered " + clm.Stage(row.stage).name)
    adv = [row for row in m.stages if row.stage == stage("ADVOCACY")]
    expect(adv and adv[0].current == 2, "ADVOCACY current %s",
           adv and adv[0].current)
    expect_eq(m.customers, sum(row.current for row in m.stages), "customers")
    conv = [(clm.Stage(x.from_stage).name, clm.Stage(x.to_stage).name,
             x.cohort, x.converted) for x in m.conversions]
    expect_eq(conv, [("REACH", "ACQUISITION", 2, 2),
                     ("ACQUISITION", "NURTURE", 2, 2),
                     ("NURTURE", "RETENTION", 2, 2),
                     ("RETENTION", "ADVOCACY", 2, 2),
                     ("REACH", "ADVOCACY", 2, 2)], "conversions")
    for name in ("retention_rate", "repeat_customer_rate", "referral_rate"):
        expect_near(getattr(m, name), 1, name)
    expect_near(m.churn_rate, 0, "churn_rate")
    rows = {clm.Channel(x.channel).name: x for x in m.channels}
    paid = rows.get("PAID_ADS")
    if expect(paid is not None, "no PAID_ADS row"):
        expect_near(paid.spend, 100, "PAID_ADS spend")
        expect_eq(paid.new_visitors, 2, "PAID_ADS new_visitors")
        expect_eq(paid.new_customers_first_touch, 2, "PAID_ADS first touch")
        expect_eq(paid.new_customers_last_touch, 0, "PAID_ADS last touch")
        expect_near(paid.cac, 50, "PAID_ADS cac")
        expect_near(paid.cost_per_visitor, 50, "PAID_ADS cost_per_visitor")
    email = rows.get("EMAIL")
    if expect(email is not None, "no EMAIL row"):
        expect_eq(email.new_customers_last_touch, 2, "EMAIL last touch")
    # The channel filter narrows the touchpoint counts.
    m = c.metrics(JAN1, FEB1, channel="EMAIL", conversion_window_days=7)
    expect_eq(m.orders, 2, "EMAIL orders")
    expect_near(m.revenue, 99, "EMAIL revenue")
    conv = {(x.from_stage, x.to_stage): x.converted for x in m.conversions}
    expect_eq(conv.get((stage("REACH"), stage("ADVOCACY"))), 0,
              "REACH->ADVOCACY within 7 days")
    m = c.metrics(JAN1, FEB1, channel=int(clm.Channel.PAID_ADS))
    expect_eq((m.orders, m.ad_clicks), (0, 2), "PAID_ADS orders/ad_clicks")
    expect_raises("INVALID_ARGUMENT", lambda: c.metrics(FEB1, JAN1),
                  "from after to")


@check
def cohorts_of_the_journey(ctx):
    # First purchases on 2026-01-11, the second ones 9 days later.
    r = ctx.c.cohorts("2026-01-11", "2026-01-12", "DAY", 10)
    expect_eq(clm.Granularity(r.granularity).name, "DAY", "granularity")
    if expect_eq(len(r.rows), 1, "rows"):
        row = r.rows[0]
        expect_eq(row.cohort_start_ms, T0 + DAY_MS, "cohort_start_ms")
        expect_eq(row.size, 2, "size")
        expect_eq([round(x, 9) for x in row.retained],
                  [1, 0, 0, 0, 0, 0, 0, 0, 0, 1], "retained")
    r = ctx.c.cohorts(JAN1, FEB1, granularity="MONTH", periods=2)
    if expect_eq(len(r.rows), 1, "month rows"):
        expect_eq(r.rows[0].size, 2, "January cohort size")
        expect_eq(list(r.rows[0].retained), [1.0, 0.0], "January retained")


@check
def rejected_items_name_their_fields(ctx):
    c = ctx.c
    r = c.track([
        {"customer_id": "partial", "event_id": "partial-ok",
         "type": "PAGE_VIEW", "occurred_at_ms": T1},
        {"customer_id": "partial", "type": 0, "occurred_at_ms": T1},
        {"customer_id": "partial", "type": "PAGE_VIEW",
         "occurred_at_ms": Y2K_MS - 1},
    ])
    expect_eq((r.accepted, r.duplicates), (1, 0), "accepted/duplicates")
    want = ["touchpoints[1].type", "touchpoints[2].occurred_at_ms"]
    if expect_eq(len(r.rejected), 2, "rejected"):
        for k, ie in enumerate(r.rejected):
            expect_eq(ie.index, k + 1, "rejected[%d].index" % k)
            expect_eq(ie.status.code, int(clm.Code.INVALID_ARGUMENT),
                      "rejected[%d] code" % k)
            fields = [v.field for v in ie.status.violations]
            expect(want[k] in fields, "rejected[%d]: no %s in %s", k,
                   want[k], fields)
    cu = c.customer("partial")
    expect_eq(touch_count(cu, "PAGE_VIEW"), 1, "the valid one landed")
    expect_eq(clm.Stage(cu.stage).name, "REACH", "partial stage")

    # Every touchpoint invalid: the call fails with all the violations.
    before = c.status().touchpoints
    e = expect_raises("INVALID_ARGUMENT", lambda: c.track([
        {"customer_id": "", "type": "PAGE_VIEW", "occurred_at_ms": T1},
        {"customer_id": "all-bad", "type": "PAGE_VIEW", "channel": 99,
         "occurred_at_ms": T1},
    ]), "all invalid")
    if e is not None:
        expect_eq(e.code, clm.Code.INVALID_ARGUMENT, "code")
        expect_eq((e.code.name, int(e.code)), ("INVALID_ARGUMENT", 3),
                  "code name and number")
        fields = [f for f, _ in e.violations]
        for f in ("touchpoints[0].customer_id", "touchpoints[1].channel"):
            expect(f in fields, "no violation of %s in %s", f, e.violations)
        expect(e.violation("touchpoints[1].channel"),
               "no description for touchpoints[1].channel")
        expect(isinstance(e.response, pb.Response), "no response")
        expect(not isinstance(e, clm.ConnectionError), "a ConnectionError")
    expect_raises("NOT_FOUND", lambda: c.customer("all-bad"), "all-bad")
    expect_eq(c.status().touchpoints, before, "touchpoints after all-bad")
    # Errors the client catches before sending.
    for bad in ({"type": "NO_SUCH_TYPE"}, {"nope": 1}):
        try:
            c.track(customer_id="x", **bad)
            expect(False, "%r accepted", bad)
        except (ValueError, TypeError):
            pass


@check
def unknown_customer_is_not_found(ctx):
    e = expect_raises("NOT_FOUND", lambda: ctx.c.customer("nobody"), "nobody")
    if e:
        expect("nobody" in e.message, "message %r names no customer",
               e.message)
        expect_eq(e.code_number, 5, "code number")
        expect_eq(e.violations, [], "violations")
    expect_raises("NOT_FOUND", lambda: ctx.c.recommend("nobody"), "recommend")
    expect_raises("NOT_FOUND", lambda: ctx.c.export("nobody"), "export")


@check
def identify_merges_an_anonymous_profile(ctx):
    c, w = ctx.c, ctx.watch
    drain(w)
    anon = [
        {"event_id": "a1-e1", "type": "AD_CLICK", "channel": "PAID_ADS",
         "occurred_at_ms": T1},
        {"event_id": "a1-e2", "type": "PAGE_VIEW",
         "occurred_at_ms": T1 + HOUR_MS},
        {"event_id": "a1-e3", "type": "ADD_TO_CART", "item_id": "sku-1",
         "occurred_at_ms": T1 + 2 * HOUR_MS},
    ]
    r = c.track(anon, anonymous_id="anon-web-1")
    expect_eq(r.accepted, 3, "accepted")
    expect_eq(len(r.changes), 0, "an anonymous profile reports no change")
    expect_raises("NOT_FOUND", lambda: c.customer("cust-1"), "before")
    r = c.identify("anon-web-1", "cust-1", traits={"plan": "free",
                                                    "country": "DE"})
    expect(r.merged, "merged is false")
    cu = r.customer
    expect_eq(cu.customer_id, "cust-1", "customer_id")
    expect_eq(clm.Stage(cu.stage).name, "REACH", "stage")
    expect_eq(clm.FunnelPosition(cu.funnel).name, "MIDDLE", "funnel")
    expect_eq((cu.first_seen_ms, cu.last_seen_ms), (T1, T1 + 2 * HOUR_MS),
              "first/last seen")
    expect_eq(cu.acquisition_channel, int(clm.Channel.PAID_ADS),
              "acquisition_channel")
    expect_eq(list(cu.cart_items), ["sku-1"], "cart_items")
    expect_eq(list(cu.anonymous_ids), ["anon-web-1"], "anonymous_ids")
    expect_eq(dict(cu.traits), {"plan": "free", "country": "DE"}, "traits")
    got = w.recv(3)
    if expect(got is not None, "no event for the merge"):
        expect_eq(got[0], "stage/REACH", "merge topic")
        check_change(got[1], "cust-1", got[1].event_id, "STAGE_UNSPECIFIED",
                     "REACH", T1, "merge event")
    # Again: nothing changes.
    r = c.identify("anon-web-1", "cust-1")
    expect(not r.merged, "a repeated identify merged")
    # Their event ids still dedupe; later anonymous touchpoints go to cust-1.
    r = c.track(anon, anonymous_id="anon-web-1")
    expect_eq((r.accepted, r.duplicates), (0, 3), "again")
    r = c.track(anonymous_id="anon-web-1", event_id="a1-e4", type="PURCHASE",
                item_id="sku-1", value=15, occurred_at_ms=T1 + DAY_MS)
    if expect_eq(len(r.changes), 1, "purchase changes"):
        check_change(r.changes[0], "cust-1", "a1-e4", "REACH", "ACQUISITION",
                     T1 + DAY_MS, "purchase")
    cu = c.customer("cust-1")
    expect_eq((cu.purchases, list(cu.cart_items)), (1, []),
              "purchases/cart after the purchase")
    # Another customer's device is refused.
    expect_raises("FAILED_PRECONDITION",
                  lambda: c.identify("anon-web-1", "cust-2"), "cust-2")
    expect_raises("NOT_FOUND", lambda: c.customer("cust-2"), "cust-2")


@check
def recommend(ctx):
    c = ctx.c
    r = c.recommend("alice", limit=3, now_ms=T0 + 21 * DAY_MS)
    expect_eq(clm.Stage(r.stage).name, "ADVOCACY", "stage")
    expect_eq(clm.Health(r.health).name, "ACTIVE", "health")
    expect(0 < len(r.recommendations) <= 3, "%d recommendations",
           len(r.recommendations))
    scores = [x.score for x in r.recommendations]
    expect(scores == sorted(scores, reverse=True), "not best first: %s",
           scores)
    expect(all(0 <= s <= 1 for s in scores), "scores %s", scores)
    r = c.recommend("alice", limit=10, now_ms=T0 + 21 * DAY_MS,
                    channel="SMS")
    acts = {(clm.RecommendationKind(x.kind).name, x.action): x
            for x in r.recommendations}
    nba = acts.get(("NEXT_BEST_ACTION", "advocate_thanks"))
    if expect(nba is not None, "no advocate_thanks in %s", list(acts)):
        expect_near(nba.score, 0.30, "advocate_thanks score")
        expect_eq(nba.channel, int(clm.Channel.SMS), "request's channel")
    ref = acts.get(("REFERRAL_INCENTIVE", "referral_reward"))
    if expect(ref is not None, "no referral_reward in %s", list(acts)):
        expect_near(ref.score, 0.45, "referral_reward score")

    # A cart and a store: a cart reminder and a store offer.
    r = c.put_catalog(
        items=[{"item_id": "sku-9", "name": "Mug", "category": "kitchen",
                "price": 12.5}],
        stores=[{"store_id": "paris-1", "name": "Paris",
                 "location": (48.8566, 2.3522), "radius_m": 500,
                 "discount_pct": 10}])
    expect_eq((r.items, r.stores), (1, 1), "catalog")
    c.track(customer_id="cart-1", event_id="cart-1-e1", type="ADD_TO_CART",
            item_id="sku-9", channel="IN_APP", occurred_at_ms=T1)
    r = c.recommend("cart-1", 10, 48.8566, 2.3522, now_ms=T1 + 2 * HOUR_MS)
    kinds = [(clm.RecommendationKind(x.kind).name, x.action)
             for x in r.recommendations]
    first = r.recommendations[0] if r.recommendations else None
    if expect(first is not None, "no recommendation for cart-1"):
        expect_eq((clm.RecommendationKind(first.kind).name, first.action,
                   first.item_id, clm.Channel(first.channel).name),
                  ("CART_REMINDER", "cart_reminder", "sku-9", "EMAIL"),
                  "first recommendation")
        expect_near(first.score, 0.95, "cart_reminder score")
    geo = [x for x in r.recommendations
           if x.kind == int(clm.RecommendationKind.GEO_OFFER)]
    if expect(geo, "no GEO_OFFER in %s", kinds):
        expect_eq((geo[0].action, geo[0].store_id), ("store_discount",
                                                     "paris-1"), "geo offer")
        expect_near(geo[0].discount_pct, 10, "discount_pct")
        expect_near(geo[0].score, 0.85, "geo score at the store")

    # claim: the messages are recorded once per request_id.
    r1 = c.recommend("cart-1", claim=True, request_id="claim-cart-1")
    r2 = c.recommend("cart-1", claim=True, request_id="claim-cart-1")
    expect(len(r1.recommendations) > 0, "claim returned nothing")
    expect_eq(r2.SerializeToString(deterministic=True),
              r1.SerializeToString(deterministic=True), "the retried claim")
    cu = c.customer("cart-1")
    expect_eq(touch_count(cu, "MESSAGE_SENT"), len(r1.recommendations),
              "MESSAGE_SENT after two claims with one request_id")


@check
def experiment(ctx):
    c = ctx.c
    r = c.define_experiment("checkout", ["control", "treatment"], "PURCHASE")
    expect_eq(r.experiment_id, "checkout", "experiment_id")
    c.define_experiment("checkout", {"control": 1, "treatment": 1},
                        goal=int(clm.TouchpointType.PURCHASE))
    expect_raises("ALREADY_EXISTS", lambda: c.define_experiment(
        "checkout", [("control", 1), ("treatment", 3)]), "redefined")
    first = None
    for i in range(10):
        a = c.assign("checkout", "u%d" % i)
        expect(a.first_exposure, "u%d: not a first exposure", i)
        expect(a.variant in ("control", "treatment"), "variant %r",
               a.variant)
        if i == 0:
            first = a.variant
    a = c.assign("checkout", "u0")
    expect_eq((a.variant, a.first_exposure), (first, False), "sticky")
    c.track(customer_id="u0", type="PURCHASE", value=12)   # now: converts
    r = c.experiment_results("checkout")
    names = [v.name for v in r.variants]
    expect_eq(names, ["control", "treatment"], "variants")
    expect_eq(sum(v.exposed for v in r.variants), 10, "exposed")
    for v in r.variants:
        expect_eq(v.converted, 1 if v.name == first else 0,
                  "converted " + v.name)
    if r.variants:
        expect_near(r.variants[0].lift, 0, "control lift")
        expect_near(r.variants[0].p_value, 1, "control p_value")
    expect_raises("NOT_FOUND", lambda: c.experiment_results("nope"), "nope")


@check
def segment_round_trip(ctx):
    # Three buyers of one item (no other customer bought it), a segment of
    # them: define, the backfill, count, every page of members, the list,
    # read-your-writes, a bad expression, delete (docs/segments.md).
    c = ctx.c
    for i in range(3):
        c.track(customer_id="pyseg%d" % i, type="PURCHASE",
                item_id="py-seg-sku", value=5, occurred_at_ms=T1)
    r = c.define_segment("py-buyers", 'bought "py-seg-sku"')
    expect_eq((r.segment.name, r.segment.expression, r.replaced),
              ("py-buyers", 'bought "py-seg-sku"', False), "defined")
    deadline = time.monotonic() + 30
    g = c.get_segment("py-buyers")
    while g.segment.backfilling and time.monotonic() < deadline:
        time.sleep(0.02)
        g = c.get_segment("py-buyers")
    expect(not g.segment.backfilling, "still backfilling after 30 s")
    expect_eq(g.segment.count, 3, "count")
    expect_eq(list(c.segment_members("py-buyers", page_size=2)),
              ["pyseg0", "pyseg1", "pyseg2"], "members over two pages")
    p = c.get_segment("py-buyers", members=True, page_size=2)
    expect_eq((list(p.members), bool(p.next_page_token)),
              (["pyseg0", "pyseg1"], True), "first page")
    expect("py-buyers" in [s.name for s in c.list_segments().segments],
           "not listed")
    c.track(customer_id="pyseg3", type="PURCHASE", item_id="py-seg-sku",
            value=5, occurred_at_ms=T1)
    expect_eq(c.get_segment("py-buyers").segment.count, 4,
              "count after a write")
    e = expect_raises("INVALID_ARGUMENT", lambda: c.define_segment(
        "py-bad", "purchases >="), "bad expression")
    expect(e is not None
           and e.violation("define_segment.expression") is not None,
           "no violation on define_segment.expression: %s", e)
    expect_raises("NOT_FOUND", lambda: c.get_segment("py-nope"), "unknown")
    expect_eq(c.delete_segment("py-buyers").existed, True, "deleted")
    expect_eq(c.delete_segment("py-buyers").existed, False, "deleted again")
    expect_raises("NOT_FOUND", lambda: c.get_segment("py-buyers"), "gone")


@check
def journey_round_trip(ctx):
    # A one-step journey on PURCHASE: two buyers (now) each get its message
    # within seconds; the feed page by page, the statistics, replace, a bad
    # definition, delete (docs/journeys.md).
    c = ctx.c
    definition = {"name": "py-thanks", "trigger": {"event": "PURCHASE"},
                  "steps": [{"send": {"kind": "LOYALTY_REWARD",
                                      "action": "thank_you",
                                      "channel": "EMAIL"}}]}
    r = c.define_journey(definition)
    expect_eq((r.journey.name, r.replaced), ("py-thanks", False), "defined")
    for i in range(2):
        c.track(customer_id="pyjny%d" % i, type="PURCHASE",
                item_id="py-jny-sku", value=5, event_id="pyjny%d-buy" % i)
    deadline = time.monotonic() + 30
    page = c.journey_messages(journey="py-thanks")
    while len(page.messages) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
        page = c.journey_messages(journey="py-thanks")
    msgs = list(page.messages)
    expect_eq(sorted(m.customer_id for m in msgs), ["pyjny0", "pyjny1"],
              "messages after 30 s")
    for m in msgs:
        expect_eq((pb.LifecycleEventKind.Name(m.kind), m.journey, m.step,
                   pb.RecommendationKind.Name(m.recommendation_kind),
                   m.action, pb.Channel.Name(m.channel), m.item),
                  ("JOURNEY_MESSAGE", "py-thanks", 0, "LOYALTY_REWARD",
                   "thank_you", "EMAIL", "py-jny-sku"), "message")
        expect(m.message_id.startswith("jm_") and len(m.message_id) == 35
               and all(ch in "0123456789abcdef" for ch in m.message_id[3:]),
               "message id %r", m.message_id)
        expect_eq(m.event_id, "jny:" + m.message_id, "event id")
    pos = [m.position for m in msgs]
    expect(len(pos) == 2 and 0 < pos[0] < pos[1], "positions %r", pos)
    if len(pos) == 2:
        expect_eq(page.next_after, pos[1], "next_after")
        # Page by page from before the first, one a page.
        it = list(c.iter_journey_messages(after=pos[0] - 1,
                                          journey="py-thanks", page_size=1))
        expect_eq([m.message_id for m in it], [m.message_id for m in msgs],
                  "the iterator's messages")
        one = c.journey_messages(after=pos[0], limit=1, journey="py-thanks")
        expect_eq([m.position for m in one.messages], [pos[1]], "after")
        end = c.journey_messages(after=pos[1], journey="py-thanks")
        expect_eq((len(end.messages), end.next_after), (0, pos[1]), "end")
    g = c.get_journey("py-thanks").journey
    st = g.stats
    expect_eq((st.entered, st.active, st.completed, len(st.steps)),
              (2, 0, 2, 1), "statistics")
    if st.steps:
        expect_eq((st.steps[0].sent, st.steps[0].waiting), (2, 0), "step 0")
    expect(g.defined_at_ms > 0 and '"py-thanks"' in g.definition,
           "journey %s", g)
    expect("py-thanks" in [j.name for j in c.list_journeys().journeys],
           "not listed")
    expect_eq(c.define_journey(json.dumps(definition)).replaced, True,
              "replaced")
    bad = dict(definition, steps=[{"send": {"kind": "LOYALTY_REWARD",
                                            "action": "x",
                                            "channel": "FAX"}}])
    e = expect_raises("INVALID_ARGUMENT", lambda: c.define_journey(bad),
                      "bad channel")
    v = e.violation("define_journey.definition") if e is not None else None
    expect(v is not None and v.startswith("steps[0].send.channel"),
           "violation %s", v)
    expect_raises("NOT_FOUND", lambda: c.get_journey("py-nope"), "unknown")
    expect_eq(c.delete_journey("py-thanks").existed, True, "deleted")
    expect_eq(c.delete_journey("py-thanks").existed, False, "deleted again")
    expect_raises("NOT_FOUND", lambda: c.get_journey("py-thanks"), "gone")


@check
def export_and_forget(ctx):
    c = ctx.c
    r = c.export("alice")
    expect_eq(r.customer.customer_id, "alice", "customer")
    expect_eq([tp.event_id for tp in r.touchpoints],
              ["alice-e%d" % i for i in range(1, 7)], "touchpoints in order")
    expect(all(tp.customer_id == "alice" for tp in r.touchpoints),
           "customer_id not set on every touchpoint")
    d = clm.to_dict(r.touchpoints[2])
    expect_eq((d.get("type"), d.get("occurred_at_ms"), d.get("value")),
              ("PURCHASE", T0 + DAY_MS, 49.5), "to_dict")
    c.track([{"event_id": "gone-1", "type": "PAGE_VIEW"},
             {"event_id": "gone-2", "type": "SIGNUP"}], customer_id="gone",
            occurred_at_ms=T1)
    r = c.forget("gone")
    expect_eq((r.existed, r.touchpoints_deleted), (True, 2), "forget")
    r = c.forget("gone")
    expect_eq((r.existed, r.touchpoints_deleted), (False, 0), "forget again")
    expect_raises("NOT_FOUND", lambda: c.customer("gone"), "forgotten")
    r = c.track(customer_id="gone", event_id="gone-1", type="PAGE_VIEW",
                occurred_at_ms=T1)
    expect_eq((r.accepted, r.duplicates), (1, 0), "event id known again")


@check
def custom_event_and_order_round_trip(ctx):
    # CUSTOM (28) with its event_name, and one order of three items.
    c = ctx.c
    r = c.track([
        {"event_id": "cu-1", "type": "PURCHASE", "item_id": "phone",
         "order_items": ["case", "cable"], "value": 530,
         "occurred_at_ms": T1},
        {"event_id": "cu-2", "type": clm.TouchpointType.CUSTOM,
         "event_name": "Video Played", "occurred_at_ms": T1 + HOUR_MS},
        {"event_id": "cu-3", "type": "CUSTOM", "occurred_at_ms": T1}],
        customer_id="carla")
    expect_eq((r.accepted, len(r.rejected)), (2, 1), "accepted, rejected")
    if r.rejected:
        fields = [v.field for v in r.rejected[0].status.violations]
        expect_eq(fields, ["touchpoints[2].event_name"], "nameless CUSTOM")
    expect_eq(int(clm.TouchpointType.CUSTOM), 28, "CUSTOM number")
    cu = c.customer("carla")
    expect_eq((cu.purchases, touch_count(cu, "CUSTOM")), (1, 1),
              "one order, one CUSTOM")
    expect_near(cu.revenue, 530, "revenue")
    expect_eq(clm.Stage(cu.stage).name, "ACQUISITION", "stage")
    expect_eq(cu.last_seen_ms, T1 + HOUR_MS, "last_seen_ms")
    x = c.export("carla")
    got = [(clm.name("TouchpointType", tp.type), tp.event_name,
            list(tp.order_items)) for tp in x.touchpoints]
    expect_eq(got, [("PURCHASE", "", ["case", "cable"]),
                    ("CUSTOM", "Video Played", [])], "exported")
    d = clm.to_dict(x.touchpoints[1])
    expect_eq((d.get("type"), d.get("event_name")),
              ("CUSTOM", "Video Played"), "to_dict")


@check
def track_touchpoint_lists_replace_keyword_lists(ctx):
    # A touchpoint's own order_items replace the keyword's (MergeFrom
    # would append them); a touchpoint without them takes the keyword's.
    c = ctx.c
    r = c.track([
        {"event_id": "ol-1", "item_id": "phone", "order_items": ["case"],
         "occurred_at_ms": T1},
        {"event_id": "ol-2", "item_id": "tv",
         "occurred_at_ms": T1 + HOUR_MS},
        {"event_id": "ol-3", "item_id": "laptop",
         "order_items": ["bag", "mouse"], "properties": {"b": "2"},
         "occurred_at_ms": T1 + 2 * HOUR_MS}],
        customer_id="olga", type="PURCHASE", value=10,
        order_items=["cable", "charger"], properties={"a": "1"})
    expect_eq((r.accepted, len(r.rejected)), (3, 0), "accepted, rejected")
    x = c.export("olga")
    got = [(tp.item_id, list(tp.order_items), dict(tp.properties))
           for tp in x.touchpoints]
    expect_eq(got, [("phone", ["case"], {"a": "1"}),
                    ("tv", ["cable", "charger"], {"a": "1"}),
                    ("laptop", ["bag", "mouse"], {"a": "1", "b": "2"})],
              "order_items replaced, properties merged")


@check
def request_limits_and_timeouts(ctx):
    c = clm.Client(ctx.srv.url, timeout=5, max_message_bytes=1000)
    e = expect_raises("INVALID_ARGUMENT", lambda: c.track(
        [{"customer_id": "big", "type": "PAGE_VIEW",
          "properties": {"k": "v" * 600}}] * 2), "too big")
    if e:
        expect("limit" in e.message, "message %r", e.message)
    # A large batch (1,000 touchpoints) in one call.
    big = [{"customer_id": "batch-%d" % (i % 10), "type": "PAGE_VIEW",
            "event_id": "batch-e%d" % i, "occurred_at_ms": T1 + i}
           for i in range(1000)]
    r = ctx.c.track(big)
    expect_eq(r.accepted, 1000, "accepted of 1000")
    # A Track with deadline_ms and a per-call timeout.
    c = clm.Client(ctx.srv.url, deadline_ms=5000)
    r = c.track(customer_id="dl", type="PAGE_VIEW", occurred_at_ms=T1,
                timeout=10)
    expect_eq(r.accepted, 1, "with a deadline")


@check
def positions_and_min_position(ctx):
    c = clm.Client(ctx.srv.url, timeout=10)
    expect_eq(c.last_position, 0, "last_position before any call")
    r = c.call(track={"touchpoints": [{"customer_id": "pos-a",
                                       "type": "SIGNUP",
                                       "event_id": "pos-a-1"}]})
    expect(r.position > 0, "a write's position %d", r.position)
    expect_eq(c.last_position, r.position, "last_position after a write")
    # A read never lowers it, and one at the position answers at once.
    cu = c.customer("pos-a", min_position=r.position)
    expect_eq(cu.customer_id, "pos-a", "read with min_position")
    before = c.last_position
    c.status()
    expect(c.last_position >= before, "last_position went down")
    # Beyond the view: UNAVAILABLE "not caught up" after deadline_ms.
    far = r.position + 1000000
    t = time.monotonic()
    e = expect_raises("UNAVAILABLE", lambda: clm.Client(
        ctx.srv.url, timeout=10, deadline_ms=300).customer(
            "pos-a", min_position=far), "min_position beyond")
    took = time.monotonic() - t
    if e:
        expect("not caught up" in e.message and str(far) in e.message,
               "message %r", e.message)
    expect(took >= 0.3, "answered after %.3fs, before deadline_ms", took)
    # read_your_writes sends last_position by itself: the request's
    # min_position is what the server would refuse if it were ahead.
    ryw = clm.Client(ctx.srv.url, timeout=10, read_your_writes=True,
                     deadline_ms=200)
    w = ryw.track(customer_id="pos-b", type="SIGNUP", event_id="pos-b-1")
    expect_eq(w.accepted, 1, "accepted")
    expect(ryw.last_position > r.position, "ryw last_position %d",
           ryw.last_position)
    expect_eq(ryw.customer("pos-b").customer_id, "pos-b", "ryw read")
    ryw.last_position += 1000000  # as if it had written through another node
    e = expect_raises("UNAVAILABLE", lambda: ryw.customer("pos-b"),
                      "ryw with a position this node does not have")
    if e:
        expect(str(ryw.last_position) in e.message, "message %r",
               e.message)
    ryw.close()
    c.close()


@check
def restart_under_a_live_client_and_watcher(ctx):
    c, w = ctx.c, ctx.watch
    drain(w)
    before = c.status()
    last = c.track(customer_id="rs-0", type="PAGE_VIEW",
                   occurred_at_ms=T1).changes[0].seq
    drain(w)
    expect_eq(ctx.srv.stop(), 0, "clmd exit status")
    # The restart happens while a call is waiting: it reconnects, resends.
    # (clmd is started from the main thread: PR_SET_PDEATHSIG fires when
    # the thread that started it ends.)
    result = []

    def call():
        try:
            result.append(c.status(timeout=15))
        except Exception as e:  # noqa: BLE001 - reported below
            result.append(e)

    t = threading.Thread(target=call)
    t.start()
    time.sleep(0.5)
    try:
        ctx.srv.start()
    finally:
        t.join()
    st = result[0] if result else None
    if expect(isinstance(st, pb.StatusReply), "status across the restart: "
              "%r", st):
        expect_eq((st.customers, st.touchpoints),
                  (before.customers + 1, before.touchpoints + 1),
                  "counts after restart")
    # The watcher reconnected too: the next change has the next seq.
    ok = False
    for i in range(40):
        r = c.track(customer_id="rs-%d" % (i + 1), type="PAGE_VIEW",
                    occurred_at_ms=T1)
        got = w.recv(0.25)
        if got is not None:
            ok = True
            expect_eq(got[1].seq, r.changes[0].seq, "seq of the event")
            expect(r.changes[0].seq > last, "seq %d after %d",
                   r.changes[0].seq, last)
            break
    expect(ok, "the watcher did not reconnect")
    expect(w.reconnects >= 1, "reconnects %d", w.reconnects)
    check_journey_customer(c.customer("alice"), "alice after restart")


# ---------------------------------------------------------------------------
# The second clmd: ipc:// only (calls and events), with a token; TLS.

def make_certs(d):
    """A CA, a server and a client certificate it signed (openssl)."""
    sh = (
        "set -e; cd '%s'; "
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem"
        " -days 2 -subj /CN=clm-test-ca 2>/dev/null; "
        "for n in server client; do "
        "openssl req -newkey rsa:2048 -nodes -keyout $n.key -out $n.csr"
        " -subj /CN=localhost 2>/dev/null; "
        "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1' > $n.ext; "
        "openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key"
        " -CAcreateserial -out $n.crt -days 2 -extfile $n.ext 2>/dev/null; "
        "cat $n.crt $n.key > $n.pem; done" % d)
    return subprocess.run(["sh", "-c", sh], capture_output=True,
                          timeout=30).returncode == 0


@check
def ipc_calls_and_events_with_a_token(ctx):
    d = os.path.join(_tmp, "ipc-sockets")
    os.makedirs(d, mode=0o700)
    tokens = os.path.join(_tmp, "tokens")
    with open(tokens, "w") as f:
        f.write("s3cret\n")
    os.chmod(tokens, 0o600)
    listen = ["ipc://%s/rpc.sock" % d]
    extra = ["--auth-token-file", tokens]
    certs = os.path.join(_tmp, "certs")
    os.makedirs(certs)
    tls_port = None
    if shutil.which("openssl") and make_certs(certs):
        tls_port = free_port()
        listen.append("tls+tcp://127.0.0.1:%d" % tls_port)
        extra += ["--tls-cert-file", os.path.join(certs, "server.pem"),
                  "--tls-ca-file", os.path.join(certs, "ca.pem")]
    else:
        print("  (no openssl: tls+tcp:// not checked)")
    srv = Clmd("ipc", listen=listen, events="ipc://%s/events.sock" % d,
               extra=extra).start({"token": "s3cret"})
    ctx.ipc_srv = srv
    c = clm.Client(srv.url, token="s3cret")
    w = clm.watch(srv.events_url, prefix="stage/", timeout=3)
    try:
        expect(c.status().version != "", "status over ipc")
        expect_raises("UNAUTHENTICATED",
                      lambda: clm.Client(srv.url).status(), "no token")
        expect_raises("UNAUTHENTICATED",
                      lambda: clm.Client(srv.url, token="wrong").status(),
                      "wrong token")
        wait_live(c, w, "ipc-probe")
        replied = []
        for tp in journey("ipc-alice"):
            replied.extend(c.track(tp).changes)
        expect_eq(len(replied), 5, "changes over ipc")
        for want in replied:
            got = w.recv(3)
            if not expect(got is not None, "no ipc event seq %d", want.seq):
                break
            expect_eq(got[0], "stage/" + clm.Stage(want.to_stage).name,
                      "ipc topic")
            expect_eq(got[1].seq, want.seq, "ipc seq")
        cu = c.customer("ipc-alice")
        check_journey_customer(cu, "ipc-alice")
        expect(same_customer(cu, ctx.alice), "ipc-alice differs from alice")
        e = expect_raises("INVALID_ARGUMENT", lambda: c.track(
            customer_id="ipc-x", type="PAGE_VIEW", sentiment=5.0),
            "sentiment over ipc")
        if e:
            expect(e.violation("touchpoints[0].sentiment"),
                   "violations %s", e.violations)
        if tls_port:
            ctx_ok = clm.tls_context(os.path.join(certs, "ca.pem"),
                                     os.path.join(certs, "client.pem"))
            t = clm.Client("tls+tcp://localhost:%d" % tls_port, tls=ctx_ok,
                           token="s3cret")
            expect_eq(clm.Stage(t.customer("ipc-alice").stage).name,
                      "ADVOCACY", "over tls")
            t.close()
            no_cert = clm.tls_context(os.path.join(certs, "ca.pem"))
            try:
                clm.Client("tls+tcp://127.0.0.1:%d" % tls_port, tls=no_cert,
                           token="s3cret", timeout=3).status()
                expect(False, "a client without a certificate got in")
            except clm.ConnectionError:
                pass
    finally:
        w.close()
        c.close()
        expect_eq(srv.stop(), 0, "ipc clmd exit status")


# ---------------------------------------------------------------------------
# Framing against fake SP peers (no clmd): split reads, stale replies,
# timeouts, a broken connection.

class FakeRep:
    """A REP peer on a free port run by handler(conn, n) per connection."""

    def __init__(self, handler):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.url = "tcp://127.0.0.1:%d" % self.sock.getsockname()[1]
        self.handler = handler
        self.conns = 0
        self.errors = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns += 1
            try:
                with conn:
                    conn.settimeout(10)
                    hello = read_exact(conn, 8)
                    if hello != b"\x00SP\x00\x00\x30\x00\x00":
                        self.errors.append("handshake %r" % hello)
                    self.handler(conn, self.conns)
            except Exception as e:  # noqa: BLE001 - reported by the check
                self.errors.append(repr(e))

    def close(self):
        self.sock.close()


def read_exact(conn, n):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise EOFError("client closed")
        buf += chunk
    return buf


def read_request(conn):
    (n,) = struct.unpack(">Q", read_exact(conn, 8))
    msg = read_exact(conn, n)
    return msg[:4], pb.Request.FromString(msg[4:])


def reply_frame(rid, req, **result):
    resp = pb.Response(request_id=req.request_id, **result)
    body = rid + resp.SerializeToString()
    return struct.pack(">Q", len(body)) + body


def dribble(conn, data, step=3, pause=0.002):
    for i in range(0, len(data), step):
        conn.sendall(data[i:i + step])
        time.sleep(pause)


@check
def framing_split_reads_and_stale_replies(ctx):
    def handler(conn, n):
        dribble(conn, b"\x00SP\x00\x00\x31\x00\x00", 1)
        for _ in range(3):
            rid, req = read_request(conn)
            expect(rid[0] & 0x80, "request id %s without its top bit",
                   rid.hex())
            stale = bytes([rid[0], rid[1], rid[2], rid[3] ^ 1])
            st = pb.StatusReply(version="fake", customers=7)
            dribble(conn, reply_frame(stale, req, server_status=pb.StatusReply(
                version="stale")) + reply_frame(rid, req, server_status=st))

    fake = FakeRep(handler)
    try:
        c = clm.Client(fake.url, timeout=5)
        for _ in range(3):
            st = c.status()
            expect_eq((st.version, st.customers), ("fake", 7), "reply")
        expect_eq(fake.conns, 1, "connections")
        c.close()
    finally:
        fake.close()
    expect_eq(fake.errors, [], "fake peer errors")


@check
def framing_timeout_then_late_reply(ctx):
    def handler(conn, n):
        conn.sendall(b"\x00SP\x00\x00\x31\x00\x00")
        rid1, req1 = read_request(conn)       # never answered in time
        rid2, req2 = read_request(conn)
        conn.sendall(reply_frame(rid1, req1, server_status=pb.StatusReply(
            version="late")))
        conn.sendall(reply_frame(rid2, req2, server_status=pb.StatusReply(
            version="second")))
        read_exact(conn, 1)  # until the client closes

    fake = FakeRep(handler)
    try:
        c = clm.Client(fake.url, timeout=0.3)
        t = time.monotonic()
        try:
            c.status()
            expect(False, "no timeout")
        except clm.TimeoutError as e:
            took = time.monotonic() - t
            expect(0.25 < took < 2, "timed out after %.2fs", took)
            expect_eq(e.code_name, "DEADLINE_EXCEEDED", "timeout code")
            expect(isinstance(e, clm.ConnectionError), "not a ConnectionError")
            expect(isinstance(e, TimeoutError), "not a builtin TimeoutError")
        expect_eq(c.status(timeout=5).version, "second",
                  "the late reply was skipped")
        expect_eq(fake.conns, 1, "connections")
        c.close()
    finally:
        fake.close()
    expect_eq([x for x in fake.errors if "EOFError" not in x], [],
              "fake peer errors")


@check
def framing_resend_after_a_broken_connection(ctx):
    seen = []

    def handler(conn, n):
        conn.sendall(b"\x00SP\x00\x00\x31\x00\x00")
        rid, req = read_request(conn)
        seen.append(req.request_id)
        if n == 1:
            return                            # drop it: the client resends
        conn.sendall(reply_frame(rid, req, server_status=pb.StatusReply(
            version="resent")))
        read_exact(conn, 1)

    fake = FakeRep(handler)
    try:
        c = clm.Client(fake.url, timeout=5)
        expect_eq(c.status().version, "resent", "reply after the resend")
        expect_eq(fake.conns, 2, "connections")
        expect(len(seen) == 2 and seen[0] == seen[1],
               "resent with another request_id: %s", seen)
        c.close()
    finally:
        fake.close()


@check
def conversions(ctx):
    import datetime
    to_ms = clm.to_ms
    expect_eq(to_ms("2026-01-10"), T0, "ISO date")
    expect_eq(to_ms("2026-01-10T01:00:00Z"), T0 + HOUR_MS, "ISO Z")
    expect_eq(to_ms("2026-01-10T02:00:00+01:00"), T0 + HOUR_MS, "ISO +01")
    expect_eq(to_ms(datetime.date(2026, 1, 10)), T0, "date")
    expect_eq(to_ms(datetime.datetime(2026, 1, 10, 0, 0, 1)), T0 + 1000,
              "naive datetime is UTC")
    expect_eq(to_ms(T0), T0, "int")
    from clm import _convert
    tp = _convert.build(pb.Touchpoint, {
        "type": "add-to-cart", "channel": "paid_ads", "location": (1.5, -2),
        "properties": {"n": 3, "ok": True, "s": "x"},
        "occurred_at_ms": "2026-01-10"})
    expect_eq((tp.type, tp.channel), (10, 2), "enums by forgiving name")
    expect_eq((tp.location.lat, tp.location.lon), (1.5, -2.0), "location")
    expect_eq(dict(tp.properties), {"n": "3", "ok": "true", "s": "x"},
              "properties as strings")
    expect_eq(tp.occurred_at_ms, T0, "occurred_at_ms from ISO")
    tp = _convert.build(pb.Touchpoint, {"location": {"lat": 0, "lon": 0}})
    expect(tp.HasField("location"), "a (0, 0) location is not set")
    for bad, exc in (({"type": "NOPE"}, ValueError), ({"typo": 1}, TypeError),
                     ({"occurred_at_ms": "yesterday"}, ValueError),
                     ({"type": True}, TypeError)):
        try:
            _convert.build(pb.Touchpoint, bad)
            expect(False, "%r accepted", bad)
        except exc as e:
            expect(list(bad)[0] in str(e), "error %r does not name the "
                   "field", str(e))
    d = clm.to_dict(pb.Customer(customer_id="x", stage=2, first_seen_ms=T0))
    expect_eq(d, {"customer_id": "x", "stage": "ACQUISITION",
                  "first_seen_ms": T0}, "to_dict")
    expect_eq(clm.name("Stage", 99), "99", "name of an unknown value")


@check
def connection_errors(ctx):
    port = free_port()
    t = time.monotonic()
    try:
        clm.Client("tcp://127.0.0.1:%d" % port).status()
        expect(False, "connected to a closed port")
    except clm.ConnectionError as e:
        expect(time.monotonic() - t < 2, "took %.1fs", time.monotonic() - t)
        expect_eq(e.code_name, "UNAVAILABLE", "code")
        expect(isinstance(e, clm.ClmError), "not a ClmError")
        expect(isinstance(e, ConnectionError), "not a builtin ConnectionError")
    try:
        clm.Client("ipc://%s/none.sock" % _tmp).status()
        expect(False, "connected to a missing ipc socket")
    except clm.ConnectionError:
        pass
    # The REQ side refuses the PUB socket, and the other way round.
    for fn in (lambda: clm.Client(ctx.srv.events_url).status(),
               lambda: clm.watch(ctx.srv.url)):
        try:
            fn()
            expect(False, "a REQ/PUB mix-up was not noticed")
        except clm.ProtocolError as e:
            expect("expected" in str(e), "message %s", e)
    for bad in ("http://x", "tcp://nohost", "ipc://"):
        try:
            clm.Client(bad)
            expect(False, "%s accepted", bad)
        except ValueError:
            pass


# ---------------------------------------------------------------------------

class Ctx:
    pass


def main():
    t0 = time.monotonic()
    if not os.access(CLMD_BIN, os.X_OK):
        sys.exit("python_test: no clmd at %s (set CLMD_BIN)" % CLMD_BIN)
    ctx = Ctx()
    ctx.srv = Clmd("main").start()
    print("clmd at %s, events %s, protobuf module %s" % (
        ctx.srv.url, ctx.srv.events_url, pb.__file__), flush=True)
    ctx.c = clm.Client(ctx.srv.url)
    ctx.watch = clm.watch(ctx.srv.events_url, prefix="stage/")
    ctx.watch_advocacy = clm.watch(ctx.srv.events_url,
                                   prefix="stage/ADVOCACY")
    try:
        run_checks(ctx)
    finally:
        ctx.watch.close()
        ctx.watch_advocacy.close()
        ctx.c.close()
        if ctx.srv.proc.poll() is None:
            st = ctx.srv.stop()
            expect_eq(st, 0, "clmd exit status")
    took = time.monotonic() - t0
    if _failures:
        print("\n%d failure(s) in %.1fs:" % (len(_failures), took))
        for f in _failures:
            print("  " + f)
        print("clmd log:\n" + ctx.srv.log_text())
        return 1
    print("\nall %d checks passed in %.1fs" % (len(_checks), took))
    return 0


if __name__ == "__main__":
    sys.exit(main())
