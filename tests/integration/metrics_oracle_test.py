#!/usr/bin/env python3
"""Independent oracle for Metrics and Cohorts (docs/metrics.md, and docs/api.md
"The lifecycle model").

Generates journeys with clm-gen, shuffles them, imports them into a fresh
clmd, then recomputes every MetricsReply / CohortReply field straight from
the raw touchpoints in Python (no server code reused) and compares with what
`clm --json metrics` / `clm --json cohorts` print. A second round adds
hand-made cases clm-gen does not produce (equal event times, late earlier
touchpoints, cancellations, health and window boundaries, sentiment edges,
money rounding, anonymous profiles, Identify, ForgetCustomer, duplicates,
spend replacement) and compares everything again.

Every mismatch is printed as `MISMATCH <where> <field> expected X got Y`;
the exit status is non-zero if there is any. CLM_ORACLE_KEEP=1 keeps the
temporary directory (data, logs, input files) of a failing run.

Environment: CLMD_BIN, CLM_BIN, CLM_GEN_BIN (set by tests/CMakeLists.txt).
Python 3 standard library only.
"""

import calendar
import json
import math
import os
import random
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

DAY_MS = 86_400_000
AT_RISK_DAYS = 30          # clmd defaults (no clmd.conf is given)
CHURN_DAYS = 90

STAGES = ["REACH", "ACQUISITION", "NURTURE", "RETENTION", "ADVOCACY"]
REACH, ACQUISITION, NURTURE, RETENTION, ADVOCACY = range(5)   # indexes into STAGES
CONVERSIONS = [(REACH, ACQUISITION), (ACQUISITION, NURTURE),
               (NURTURE, RETENTION), (RETENTION, ADVOCACY), (REACH, ADVOCACY)]

CHANNELS = ["CHANNEL_UNSPECIFIED", "DIRECT", "PAID_ADS", "ORGANIC_SEARCH",
            "ORGANIC_SOCIAL", "EMAIL", "APP_NOTIFICATION", "IN_APP",
            "LIVE_CHAT", "REFERRAL_LINK", "STORE", "SUPPORT", "SMS"]
CHANNEL_NUM = {n: i for i, n in enumerate(CHANNELS)}

TYPES = ["TOUCHPOINT_TYPE_UNSPECIFIED", "AD_IMPRESSION", "AD_CLICK",
         "SITE_VISIT", "PAGE_VIEW", "CONTENT_VIEW", "SOCIAL_MENTION", "SIGNUP",
         "PRICING_VIEW", "DEMO_REQUEST", "ADD_TO_CART", "REMOVE_FROM_CART",
         "CHECKOUT_STARTED", "PURCHASE", "REFUND", "REFERRAL", "REVIEW",
         "EMAIL_OPEN", "EMAIL_CLICK", "APP_OPEN", "MESSAGE_SENT",
         "SUPPORT_TICKET", "BILLING_ISSUE", "ONBOARDING_COMPLETED",
         "USAGE_LIMIT_REACHED", "STORE_VISIT", "CANCELLATION", "FEEDBACK",
         "CUSTOM"]
TYPE_NUM = {n: i for i, n in enumerate(TYPES)}
T = TYPE_NUM   # short alias

ENGAGEMENT = {T["SITE_VISIT"], T["PAGE_VIEW"], T["CONTENT_VIEW"],
              T["EMAIL_OPEN"], T["EMAIL_CLICK"], T["APP_OPEN"],
              T["SUPPORT_TICKET"], T["FEEDBACK"], T["REVIEW"],
              T["ONBOARDING_COMPLETED"]}
SENTIMENT_TYPES = {T["SOCIAL_MENTION"], T["REVIEW"], T["FEEDBACK"]}
# CUSTOM (api.md "Custom events") is in none of these sets: it is seen
# (first_seen, last_seen) like every type but MESSAGE_SENT, and nothing
# else. An order of several items (order_items) is one PURCHASE.

HEALTH_ACTIVE, HEALTH_AT_RISK, HEALTH_CHURNED = 1, 2, 3

# Metrics windows (from, to) and cohort queries (from, to, by, periods).
METRIC_WINDOWS = [
    ("2026-10-02", "2026-11-01"),
    ("2026-08-01", "2026-09-01"),
    ("2026-07-04", "2026-11-01"),
    ("2026-09-15", "2026-09-16"),     # one day
    ("2026-10-20", "2026-12-01"),     # runs past the data: more churn
]
METRIC_CHANNELS = [None, "PAID_ADS", "ORGANIC_SEARCH"]
CONVERSION_WINDOWS = [None, 7]        # None: flag not given (default 30)
COHORT_QUERIES = [
    ("2026-07-04", "2026-11-01", "week", 8),
    ("2026-08-01", "2026-09-01", "week", 4),
    ("2026-07-01", "2026-11-01", "month", 4),
    ("2026-07-04", "2026-12-01", "month", 4),
    ("2026-09-10", "2026-09-30", "day", 10),
    ("2026-10-25", "2026-11-02", "day", 3),
]

REL_TOL = 1e-9
UNIQUE_VISITORS_TOL = 0.02


def die(msg):
    print("metrics_oracle: FAIL: " + msg, flush=True)
    sys.exit(1)


def date_ms(s):
    return calendar.timegm(time.strptime(s, "%Y-%m-%d")) * 1000


def micros(v):
    """Money in exact integer micro-units: round(value * 1e6)."""
    x = float(v) * 1e6
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def f32(v):
    return struct.unpack("<f", struct.pack("<f", float(v)))[0]


def ratio(a, b):
    return 0.0 if b == 0 else a / b


def enum_val(v, names, table):
    if v is None:
        return 0
    if isinstance(v, int):
        return v
    if isinstance(v, str) and v.lstrip("-").isdigit():
        return int(v)
    if v not in table:
        raise ValueError("unknown enum name %r" % (v,))
    return table[v]


def camel(k):
    parts = k.split("_")
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


def norm_keys(obj):
    """snake_case keys -> lowerCamelCase, recursively (accept either)."""
    if isinstance(obj, dict):
        return {camel(k): norm_keys(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [norm_keys(v) for v in obj]
    return obj


def as_int(v):
    if v is None:
        return 0
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, (int, float)):
        return int(v)
    return int(v)


def as_float(v):
    if v is None:
        return 0.0
    return float(v)


# ---------------------------------------------------------------- the model


class Tp:
    __slots__ = ("arr", "key", "type", "ch", "t", "micros", "dur", "sent")


class Cust:
    """Customer-level facts of docs/api.md "The lifecycle model", over all
    stored touchpoints."""

    __slots__ = ("key", "is_customer", "first_seen", "last_seen", "first_ch",
                 "purchases", "fp_t", "fp_ch", "sp_t", "fr_t", "last_purchase",
                 "last_cancel", "cancelled", "eng_after_fp", "reached",
                 "history", "stage", "purchase_times", "n_cancel")


def parse_touchpoint(line, arr):
    o = norm_keys(json.loads(line))
    tp = Tp()
    tp.arr = arr
    cid = o.get("customerId") or ""
    aid = o.get("anonymousId") or ""
    # api.md: when both ids are set the touchpoint belongs to customer_id;
    # an anonymous id alone builds an anonymous profile of its own.
    tp.key = ("c", cid) if cid else ("a", aid)
    tp.type = enum_val(o.get("type"), TYPES, TYPE_NUM)
    tp.ch = enum_val(o.get("channel"), CHANNELS, CHANNEL_NUM)
    tp.t = as_int(o.get("occurredAtMs"))
    tp.micros = micros(o.get("value", 0.0))
    tp.dur = as_int(o.get("durationS"))
    tp.sent = f32(o.get("sentiment", 0.0))
    return tp, o.get("eventId") or ""


def build_customers(tps):
    by_key = {}
    for tp in tps:
        by_key.setdefault(tp.key, []).append(tp)
    custs = {}
    for key, lst in by_key.items():
        c = Cust()
        c.key = key
        seen = [tp for tp in lst if tp.type != T["MESSAGE_SENT"]]
        c.is_customer = bool(seen)
        custs[key] = c
        if not seen:
            continue
        first = min(seen, key=lambda tp: (tp.t, tp.arr))
        c.first_seen = first.t
        c.first_ch = first.ch
        c.last_seen = max(tp.t for tp in seen)
        purch = sorted((tp for tp in lst if tp.type == T["PURCHASE"]),
                       key=lambda tp: (tp.t, tp.arr))
        c.purchases = len(purch)
        c.purchase_times = [tp.t for tp in purch]
        c.fp_t = purch[0].t if purch else None
        c.fp_ch = purch[0].ch if purch else None
        c.sp_t = purch[1].t if len(purch) >= 2 else None
        c.last_purchase = purch[-1].t if purch else None
        refs = [tp.t for tp in lst if tp.type == T["REFERRAL"]]
        c.fr_t = min(refs) if refs else None
        cancels = [tp.t for tp in lst if tp.type == T["CANCELLATION"]]
        c.n_cancel = len(cancels)
        c.last_cancel = max(cancels) if cancels else None
        # "a CANCELLATION later than the last PURCHASE"; with no purchase at
        # all any cancellation counts (there is no later purchase).
        c.cancelled = c.last_cancel is not None and (
            c.last_purchase is None or c.last_cancel > c.last_purchase)
        if c.fp_t is not None:
            engs = [tp.t for tp in lst
                    if tp.type in ENGAGEMENT and tp.t > c.fp_t]
            c.eng_after_fp = min(engs) if engs else None
        else:
            c.eng_after_fp = None
        engaged = [tp.t for tp in lst if tp.type in ENGAGEMENT]
        last_engaged = max(engaged) if engaged else None

        # Current stage: first rule that holds (docs/api.md "The lifecycle model").
        if c.purchases >= 1 and c.fr_t is not None:
            c.stage = ADVOCACY
        elif c.purchases >= 2:
            c.stage = RETENTION
        elif (c.purchases == 1 and last_engaged is not None
              and last_engaged > c.fp_t):
            c.stage = NURTURE
        elif c.purchases == 1:
            c.stage = ACQUISITION
        else:
            c.stage = REACH

        # reached_at closed forms.
        r = [None] * 5
        r[REACH] = c.first_seen
        if c.fp_t is not None:
            r[ACQUISITION] = c.fp_t
            if c.fr_t is not None:
                r[ADVOCACY] = max(c.fp_t, c.fr_t)
            cands = [x for x in (c.sp_t, r[ADVOCACY]) if x is not None]
            r[RETENTION] = min(cands) if cands else None
            cands = [x for x in (c.eng_after_fp, r[RETENTION]) if x is not None]
            r[NURTURE] = min(cands) if cands else None
        c.reached = r
        # Sanity of the model itself: reached stages form a prefix, the
        # times do not decrease, and the current stage is the last reached.
        last = max(i for i in range(5) if r[i] is not None)
        assert all(r[i] is not None for i in range(last + 1)), (key, r)
        assert all(r[i] <= r[i + 1] for i in range(last)), (key, r)
        assert last == c.stage, (key, r, c.stage)
        # stage_history: stages stage(t) actually takes, with their first t.
        c.history = {}
        for s in range(last + 1):
            if s == last or r[s] < r[s + 1]:
                c.history[s] = r[s]
    return custs


def health(c, at):
    if c.cancelled or at - c.last_seen > CHURN_DAYS * DAY_MS:
        return HEALTH_CHURNED
    if at - c.last_seen > AT_RISK_DAYS * DAY_MS:
        return HEALTH_AT_RISK
    return HEALTH_ACTIVE


class Model:
    def __init__(self, tps, spend, forgotten=()):
        self.tps = tps                # every touchpoint ever applied
        self.custs = build_customers(tps)
        # ForgetCustomer takes a customer out of the customer-level figures;
        # touchpoint counts and sums stay.
        self.customers = [c for c in self.custs.values()
                          if c.is_customer and c.key not in forgotten]
        self.spend = spend            # {(channel, day_ms, campaign): micros}
        # All-time revenue, every channel, every stored touchpoint.
        self.alltime_micros = sum(
            tp.micros if tp.type == T["PURCHASE"] else -tp.micros
            for tp in tps if tp.type in (T["PURCHASE"], T["REFUND"]))
        self.buyers_now = sum(1 for c in self.customers if c.purchases >= 1)

    def metrics(self, F, TT, channel, cw_days):
        """The expected MetricsReply as a flat {field: value} dict."""
        cw = (30 if cw_days is None else cw_days) * DAY_MS
        out = {}
        custs = self.customers
        # Stages.
        cur = [0] * 5
        ent = [0] * 5
        risk = [0] * 5
        churn = [0] * 5
        for c in custs:
            cur[c.stage] += 1
            h = health(c, TT)
            if h == HEALTH_AT_RISK:
                risk[c.stage] += 1
            elif h == HEALTH_CHURNED:
                churn[c.stage] += 1
            for s, at in c.history.items():
                if F <= at < TT:
                    ent[s] += 1
        for s in range(5):
            p = "stages[%s]." % STAGES[s]
            out[p + "current"] = cur[s]
            out[p + "entered"] = ent[s]
            out[p + "atRisk"] = risk[s]
            out[p + "churned"] = churn[s]
            out[p + "dropOffRate"] = ratio(risk[s] + churn[s], cur[s])

        # Conversions (and retention_rate = ACQUISITION -> RETENTION).
        def conversion(a, b):
            cohort = conv = 0
            for c in custs:
                ra = c.reached[a]
                if ra is None or not (F <= ra < TT):
                    continue
                cohort += 1
                rb = c.reached[b]
                if rb is not None and rb - ra <= cw:
                    conv += 1
            return cohort, conv

        for i, (a, b) in enumerate(CONVERSIONS):
            cohort, conv = conversion(a, b)
            p = "conversions[%d:%s->%s]." % (i, STAGES[a], STAGES[b])
            out[p + "cohort"] = cohort
            out[p + "converted"] = conv
            out[p + "rate"] = ratio(conv, cohort)
        cohort, conv = conversion(ACQUISITION, RETENTION)
        out["retentionRate"] = ratio(conv, cohort)

        # Rates as of TT ("before T" = event time < T).
        b1 = b2 = bref = bchurn = 0
        for c in custs:
            if c.purchases == 0 or c.purchase_times[0] >= TT:
                continue
            b1 += 1
            if c.purchases >= 2 and c.purchase_times[1] < TT:
                b2 += 1
            if c.fr_t is not None and c.fr_t < TT:
                bref += 1
            if health(c, TT) == HEALTH_CHURNED:
                bchurn += 1
        out["repeatCustomerRate"] = ratio(b2, b1)
        out["referralRate"] = ratio(bref, b1)
        out["churnRate"] = ratio(bchurn, b1)

        # Touchpoint counts and sums in [F, TT), channel filter applies.
        pm = rm = orders = imps = clicks = visits = views = dur = 0
        pos = neu = neg = tickets = billing = 0
        visitors = set()
        for tp in self.tps:
            if not (F <= tp.t < TT):
                continue
            if channel is not None and tp.ch != channel:
                continue
            ty = tp.type
            if ty == T["PURCHASE"]:
                pm += tp.micros
                orders += 1
            elif ty == T["REFUND"]:
                rm += tp.micros
            elif ty == T["AD_IMPRESSION"]:
                imps += 1
            elif ty == T["AD_CLICK"]:
                clicks += 1
            elif ty == T["SITE_VISIT"]:
                visits += 1
                dur += tp.dur
                visitors.add(tp.key)
            elif ty == T["PAGE_VIEW"]:
                views += 1
                visitors.add(tp.key)
            elif ty == T["SUPPORT_TICKET"]:
                tickets += 1
            elif ty == T["BILLING_ISSUE"]:
                billing += 1
            if ty in SENTIMENT_TYPES:
                if tp.sent > 0.25:
                    pos += 1
                elif tp.sent < -0.25:
                    neg += 1
                else:
                    neu += 1
        out["revenue"] = (pm - rm) / 1e6
        out["orders"] = orders
        out["averageOrderValue"] = ratio(pm / 1e6, orders)
        out["refundsValue"] = rm / 1e6
        out["ltv"] = ratio(self.alltime_micros / 1e6, self.buyers_now)
        out["adImpressions"] = imps
        out["adClicks"] = clicks
        out["clickThroughRate"] = ratio(clicks, imps)
        out["siteVisits"] = visits
        out["uniqueVisitors"] = len(visitors)
        out["pageViews"] = views
        # pageViewsPerVisitor is checked against the server's own
        # unique_visitors estimate (see compare_metrics).
        out["avgTimeOnSiteS"] = ratio(dur, visits)
        out["sentiment.positive"] = pos
        out["sentiment.neutral"] = neu
        out["sentiment.negative"] = neg
        out["sentiment.negativeShare"] = ratio(neg, pos + neu + neg)
        out["supportTickets"] = tickets
        out["billingIssues"] = billing
        out["customers"] = sum(cur)

        # Channels.
        rows = {}

        def row(ch):
            return rows.setdefault(ch, [0, 0, 0, 0])   # spend, nv, ncft, nclt

        for (ch, day, _camp), m in self.spend.items():
            if F <= day < TT and m != 0:
                row(ch)[0] += m
        for c in custs:
            if F <= c.first_seen < TT:
                row(c.first_ch)[1] += 1
            if c.fp_t is not None and F <= c.fp_t < TT:
                row(c.first_ch)[2] += 1
                row(c.fp_ch)[3] += 1
        for ch in sorted(rows):
            if channel is not None and ch != channel:
                continue
            sp, nv, ft, lt = rows[ch]
            if sp == 0 and nv == 0 and ft == 0 and lt == 0:
                continue
            p = "channels[%s]." % CHANNELS[ch]
            out[p + "spend"] = sp / 1e6
            out[p + "newVisitors"] = nv
            out[p + "newCustomersFirstTouch"] = ft
            out[p + "newCustomersLastTouch"] = lt
            out[p + "cac"] = ratio(sp / 1e6, ft)
            out[p + "costPerVisitor"] = ratio(sp / 1e6, nv)
        out["channels.order"] = [CHANNELS[ch] for ch in sorted(rows)
                                 if (channel is None or ch == channel)
                                 and any(rows[ch])]
        return out

    def cohorts(self, F, TT, by, periods):
        """The expected CohortReply rows: [(start_ms, size, [retained])]."""
        def period_of(t):
            day = t // DAY_MS
            if by == "day":
                return day
            if by == "week":
                return (day + 3) // 7           # 1970-01-01 was a Thursday
            y, m = time.gmtime(t // 1000)[:2]
            return y * 12 + (m - 1)

        def start_of(p):
            if by == "day":
                return p * DAY_MS
            if by == "week":
                return (p * 7 - 3) * DAY_MS
            y, m = divmod(p, 12)
            return calendar.timegm((y, m + 1, 1, 0, 0, 0)) * 1000

        first_p = period_of(F)
        if start_of(first_p) < F:
            first_p += 1
        members = {}
        for c in self.customers:
            if c.fp_t is None:
                continue
            members.setdefault(period_of(c.fp_t), []).append(
                {period_of(t) for t in c.purchase_times})
        rows = []
        p = first_p
        while start_of(p) < TT:
            mem = members.get(p, [])
            size = len(mem)
            ret = [ratio(sum(1 for ps in mem if p + k in ps), size)
                   for k in range(periods)]
            rows.append((start_of(p), size, ret))
            p += 1
        return rows


def self_check():
    """A few hand-worked customers, so a slip in the model shows at once."""
    def mk(key, events):
        out = []
        for i, (ty, t, ch) in enumerate(events):
            tp = Tp()
            tp.arr, tp.key, tp.type, tp.ch, tp.t = i, key, T[ty], ch, t
            tp.micros, tp.dur, tp.sent = 0, 0, 0.0
            out.append(tp)
        return out

    tps = (mk(("c", "a"), [("PURCHASE", 20, 2), ("SITE_VISIT", 10, 3)])
           + mk(("c", "b"), [("PAGE_VIEW", 7, 1), ("PURCHASE", 9, 2),
                             ("REFERRAL", 3, 4), ("PURCHASE", 5, 5),
                             ("MESSAGE_SENT", 1, 6)])
           + mk(("c", "m"), [("MESSAGE_SENT", 1, 5)])
           + mk(("c", "d"), [("PURCHASE", 10, 2), ("APP_OPEN", 10, 1),
                             ("PURCHASE", 10, 3), ("CANCELLATION", 9, 1)])
           + mk(("c", "e"), [("PURCHASE", 10, 2), ("EMAIL_OPEN", 12, 1),
                             ("AD_CLICK", 1, 7), ("AD_CLICK", 1, 8)]))
    cs = build_customers(tps)
    a, b, m, d, e = (cs[("c", k)] for k in "abmde")
    assert a.reached == [10, 20, None, None, None] and a.stage == ACQUISITION
    assert a.history == {REACH: 10, ACQUISITION: 20} and a.first_ch == 3
    assert b.reached == [3, 5, 5, 5, 5] and b.stage == ADVOCACY
    assert b.history == {REACH: 3, ADVOCACY: 5} and b.fp_ch == 5
    assert b.first_seen == 3 and b.last_seen == 9
    assert not m.is_customer
    assert d.reached == [9, 10, 10, 10, None] and d.stage == RETENTION
    assert d.history == {REACH: 9, RETENTION: 10} and d.fp_ch == 2
    assert not d.cancelled and d.first_ch == 1
    assert e.reached == [1, 10, 12, None, None] and e.stage == NURTURE
    assert e.history == {REACH: 1, ACQUISITION: 10, NURTURE: 12}
    assert e.first_ch == 7
    assert health(e, 12 + 30 * DAY_MS) == HEALTH_ACTIVE
    assert health(e, 13 + 30 * DAY_MS) == HEALTH_AT_RISK
    assert health(e, 13 + 90 * DAY_MS) == HEALTH_CHURNED


# --------------------------------------------------------- the comparison


class Checker:
    def __init__(self):
        self.checked = 0
        self.mismatches = []

    def eq(self, where, field, exp, got, tol=None):
        self.checked += 1
        if isinstance(exp, str) or isinstance(got, str) or \
                isinstance(exp, list) or isinstance(got, list):
            ok = exp == got
        elif isinstance(exp, float) or isinstance(got, float) or tol:
            e, g = float(exp), float(got)
            if tol is not None:
                ok = abs(g - e) <= tol * max(abs(e), 1.0)
            else:
                ok = math.isclose(e, g, rel_tol=REL_TOL, abs_tol=1e-12)
        else:
            ok = exp == got
        if not ok:
            self.mismatches.append((where, field, exp, got))
            print("MISMATCH %-48s %-58s expected %r got %r"
                  % (where, field, exp, got), flush=True)
        return ok


def flatten_reply(rep):
    """A MetricsReply (proto3 JSON) as the flat dict Model.metrics returns."""
    rep = norm_keys(rep)
    out = {}
    problems = []
    order = []
    for st in rep.get("stages", []):
        s = enum_val(st.get("stage"), None, {n: i + 1 for i, n in
                                            enumerate(STAGES)}) - 1
        if s < 0 or s >= 5:
            problems.append("stages: entry with stage %r" % st.get("stage"))
            continue
        order.append(s)
        p = "stages[%s]." % STAGES[s]
        out[p + "current"] = as_int(st.get("current"))
        out[p + "entered"] = as_int(st.get("entered"))
        out[p + "atRisk"] = as_int(st.get("atRisk"))
        out[p + "churned"] = as_int(st.get("churned"))
        out[p + "dropOffRate"] = as_float(st.get("dropOffRate"))
    if order != sorted(set(order)):
        problems.append("stages: not one entry per stage in order: %r"
                        % [STAGES[s] for s in order])
    stage_num = {n: i + 1 for i, n in enumerate(STAGES)}
    convs = rep.get("conversions", [])
    got_pairs = []
    for i, cv in enumerate(convs):
        a = enum_val(cv.get("fromStage"), None, stage_num) - 1
        b = enum_val(cv.get("toStage"), None, stage_num) - 1
        got_pairs.append((a, b))
        if (a, b) not in CONVERSIONS:
            problems.append("conversions[%d]: unexpected pair %r->%r"
                            % (i, cv.get("fromStage"), cv.get("toStage")))
            continue
        p = "conversions[%d:%s->%s]." % (i, STAGES[a], STAGES[b])
        out[p + "cohort"] = as_int(cv.get("cohort"))
        out[p + "converted"] = as_int(cv.get("converted"))
        out[p + "rate"] = as_float(cv.get("rate"))
    if got_pairs != CONVERSIONS:
        problems.append("conversions: pairs %r, expected %r" % (
            [(STAGES[a] if 0 <= a < 5 else a, STAGES[b] if 0 <= b < 5 else b)
             for a, b in got_pairs],
            [(STAGES[a], STAGES[b]) for a, b in CONVERSIONS]))
    for k in ("retentionRate", "repeatCustomerRate", "referralRate",
              "churnRate", "revenue", "averageOrderValue", "refundsValue",
              "ltv", "clickThroughRate", "pageViewsPerVisitor",
              "avgTimeOnSiteS"):
        out[k] = as_float(rep.get(k))
    for k in ("orders", "adImpressions", "adClicks", "siteVisits",
              "uniqueVisitors", "pageViews", "supportTickets",
              "billingIssues", "customers"):
        out[k] = as_int(rep.get(k))
    sent = rep.get("sentiment") or {}
    for k in ("positive", "neutral", "negative"):
        out["sentiment." + k] = as_int(sent.get(k))
    out["sentiment.negativeShare"] = as_float(sent.get("negativeShare"))
    chorder = []
    for cm in rep.get("channels", []):
        ch = enum_val(cm.get("channel"), CHANNELS, CHANNEL_NUM)
        name = CHANNELS[ch] if 0 <= ch < len(CHANNELS) else str(ch)
        chorder.append(name)
        p = "channels[%s]." % name
        out[p + "spend"] = as_float(cm.get("spend"))
        out[p + "newVisitors"] = as_int(cm.get("newVisitors"))
        out[p + "newCustomersFirstTouch"] = as_int(
            cm.get("newCustomersFirstTouch"))
        out[p + "newCustomersLastTouch"] = as_int(
            cm.get("newCustomersLastTouch"))
        out[p + "cac"] = as_float(cm.get("cac"))
        out[p + "costPerVisitor"] = as_float(cm.get("costPerVisitor"))
    out["channels.order"] = chorder
    return out, problems


def compare_metrics(chk, where, exp, got_reply):
    got, problems = flatten_reply(got_reply)
    for pr in problems:
        chk.mismatches.append((where, "shape", "", pr))
        print("MISMATCH %-48s %s" % (where, pr), flush=True)
    for k, e in exp.items():
        if k == "uniqueVisitors":
            g = got.get(k, 0)
            chk.checked += 1
            if abs(g - e) > UNIQUE_VISITORS_TOL * max(e, 1):
                chk.mismatches.append((where, k, e, g))
                print("MISMATCH %-48s %-58s expected %r got %r (beyond 2 %%)"
                      % (where, k, e, g), flush=True)
            continue
        if k.startswith("stages["):
            g = got.get(k, 0.0 if k.endswith("Rate") else 0)
        elif k in got:
            g = got[k]
        else:
            g = "(missing)"
        chk.eq(where, k, e, g)
    # page_views / the server's own unique_visitors estimate.
    chk.eq(where, "pageViewsPerVisitor",
           ratio(exp["pageViews"], got.get("uniqueVisitors", 0)),
           got.get("pageViewsPerVisitor", 0.0))
    for k, g in got.items():
        if k not in exp and k != "pageViewsPerVisitor":
            chk.mismatches.append((where, k, "(absent)", g))
            print("MISMATCH %-48s %-58s expected (absent) got %r"
                  % (where, k, g), flush=True)


def compare_cohorts(chk, where, exp_rows, periods, by, reply):
    rep = norm_keys(reply)
    gran = rep.get("granularity", "GRANULARITY_UNSPECIFIED")
    chk.eq(where, "granularity", by.upper(), gran)
    rows = rep.get("rows", [])
    chk.eq(where, "len(rows)", len(exp_rows), len(rows))
    for i, (start, size, ret) in enumerate(exp_rows):
        if i >= len(rows):
            break
        g = rows[i]
        day = time.strftime("%Y-%m-%d", time.gmtime(start // 1000))
        w = "%s row %d (%s)" % (where, i, day)
        chk.eq(w, "cohortStartMs", start, as_int(g.get("cohortStartMs")))
        chk.eq(w, "size", size, as_int(g.get("size")))
        gret = [as_float(x) for x in g.get("retained", [])]
        if size == 0 and not gret:
            gret = [0.0] * periods        # an empty row may leave it out
        chk.eq(w, "len(retained)", periods, len(gret))
        for k in range(min(periods, len(gret))):
            chk.eq(w, "retained[%d]" % k, ret[k], gret[k])


# ------------------------------------------------------------- processes


def run(argv, stdin=None, timeout=60):
    p = subprocess.run(argv, stdin=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), \
        p.stderr.decode("utf-8", "replace")


# Ports outside the ephemeral range, so no connection takes one first
# (tests/freeport.py).
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import freeport  # noqa: E402

free_port = freeport.pick


class Server:
    """clmd on tmp/data and a free port, its output in tmp/clmd.log:
    without events unless told (events, a URL), with extra flags after
    (the segment oracle's test clock and HTTP server)."""

    def __init__(self, clmd, clm, tmp, events="none", extra=()):
        self.clm = clm
        self.port = free_port()
        self.url = "tcp://127.0.0.1:%d" % self.port
        self.log_path = os.path.join(tmp, "clmd.log")
        data = os.path.join(tmp, "data")
        os.mkdir(data)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [clmd, "--data", data, "--listen", self.url, "--events", events]
            + list(extra),
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)

    def wait_ready(self, secs=15):
        deadline = time.time() + secs
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False
            rc, _, _ = run([self.clm, "--url", self.url, "--timeout", "1000",
                            "status"], timeout=10)
            if rc == 0:
                return True
            time.sleep(0.1)
        return False

    def log_tail(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-2000:].decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def parse_summary(text):
    nums = {}
    for word in ("accepted", "duplicates", "rejected", "unreadable lines",
                 "unreadable", "imported"):
        m = re.search(r"\b%s\b\D{0,3}(\d+)" % word, text) or \
            re.search(r"(\d+)\s+%s\b" % word, text)
        if m:
            nums[word] = int(m.group(1))
    return nums


# ------------------------------------------------- edge cases (phase 2, 3)


def add_custom_and_orders(lines, seed):
    """The generated journeys with what clm-gen does not make: every 25th
    PURCHASE an order of three items (order_items), and after every 30th
    touchpoint of a customer's own a CUSTOM event of theirs 90 minutes
    later, on the same channel: never a first touch, but often the last
    one, so last_seen and health move, and no stage may."""
    rng = random.Random(seed)
    out = []
    n_purchase = n_custom = 0
    for i, ln in enumerate(lines):
        o = json.loads(ln)
        if o.get("type") == "PURCHASE":
            n_purchase += 1
            if n_purchase % 25 == 0:
                o.setdefault("itemId", "sku-%d" % rng.randrange(50))
                o["orderItems"] = ["sku-%d" % rng.randrange(50),
                                   "sku-x%d" % rng.randrange(5)]
        out.append(json.dumps(o))
        if o.get("type") != "MESSAGE_SENT" and i % 30 == 0:
            n_custom += 1
            c = {"eventId": "%s-custom" % o["eventId"], "type": "CUSTOM",
                 "eventName": rng.choice(["Video Played", "Coupon Copied",
                                          "Wishlist Shared"]),
                 "occurredAtMs": str(int(o["occurredAtMs"])
                                     + 90 * 60 * 1000)}
            for k in ("customerId", "anonymousId", "channel"):
                if k in o:
                    c[k] = o[k]
            out.append(json.dumps(c))
    return out, n_purchase // 25, n_custom


def touchpoint_json(eid, ty, t, ch=None, cid=None, aid=None, **kw):
    """One touchpoint line, its members in the order clm import's examples
    write them: event id ty at t (ms), on channel ch, of customer cid or
    anonymous aid (None leaves a member out), then kw's members."""
    o = {"eventId": eid}
    if cid:
        o["customerId"] = cid
    if aid:
        o["anonymousId"] = aid
    o["type"] = ty
    if ch:
        o["channel"] = ch
    o["occurredAtMs"] = str(t)
    o.update(kw)
    return json.dumps(o)


def at(day, h=0, m=0, s=0, ms=0):
    return date_ms(day) + ((h * 60 + m) * 60 + s) * 1000 + ms


class EdgeData:
    """Hand-made touchpoints for cases clm-gen does not produce: equal event
    times broken by arrival order, late earlier touchpoints, cancellations,
    sentiment and health boundaries, window edges, money rounding, anonymous
    profiles, Identify, ForgetCustomer, duplicates, spend replacement."""

    def __init__(self, gen_spend):
        self.n = 0
        self.phase2 = []
        self.dups2 = 0
        self.phase3 = []
        self.identify = []     # (anonymous_id, customer_id), after phase 2
        self.forget = []       # customer ids, after phase 3
        self.spend2 = []
        self.build(gen_spend)

    def tp(self, out, ty, t, ch=None, cid=None, aid=None, eid=None, **kw):
        self.n += 1
        out.append(touchpoint_json(eid or "zz-e-%04d" % self.n, ty, t, ch,
                                   cid, aid, **kw))

    def build(self, gen_spend):
        p = self.phase2
        tp = self.tp
        # Equal first-touch times: the first to arrive wins.
        tp(p, "SITE_VISIT", at("2026-10-10", 12), "ORGANIC_SEARCH", "zz-01",
           durationS=30)
        tp(p, "PAGE_VIEW", at("2026-10-10", 12), "PAID_ADS", "zz-01")
        # Equal first-purchase times; a second purchase at the same instant.
        tp(p, "SITE_VISIT", at("2026-10-05", 9), "DIRECT", "zz-02")
        tp(p, "PURCHASE", at("2026-10-06", 9), "EMAIL", "zz-02", value=10.0)
        tp(p, "PURCHASE", at("2026-10-06", 9), "PAID_ADS", "zz-02", value=20.0)
        # A late, earlier purchase takes over the first purchase.
        tp(p, "SITE_VISIT", at("2026-10-01", 8), "DIRECT", "zz-03")
        tp(p, "PURCHASE", at("2026-10-20", 8), "EMAIL", "zz-03", value=5.5)
        tp(p, "PURCHASE", at("2026-10-15", 8), "PAID_ADS", "zz-03", value=6.5)
        # A cancellation and no purchase at all.
        tp(p, "SITE_VISIT", at("2026-10-25", 1), "ORGANIC_SEARCH", "zz-04")
        tp(p, "CANCELLATION", at("2026-10-26", 1), "SUPPORT", "zz-04")
        # A cancellation at the same instant as the last purchase: not later.
        tp(p, "PURCHASE", at("2026-10-12", 10), "DIRECT", "zz-05", value=1.0)
        tp(p, "CANCELLATION", at("2026-10-12", 10), "DIRECT", "zz-05")
        # Cancelled then bought again after T=2026-09-01: not cancelled
        # (over all touchpoints) ...
        tp(p, "PURCHASE", at("2026-08-10", 10), "DIRECT", "zz-06", value=2.0)
        tp(p, "CANCELLATION", at("2026-08-20", 10), "DIRECT", "zz-06")
        tp(p, "PURCHASE", at("2026-09-10", 10), "DIRECT", "zz-06", value=2.0)
        # ... and cancelled after T=2026-09-01: cancelled as of that T too.
        tp(p, "PURCHASE", at("2026-08-10", 11), "STORE", "zz-07", value=3.0)
        tp(p, "CANCELLATION", at("2026-09-20", 11), "STORE", "zz-07")
        # A referral before the first purchase.
        tp(p, "REFERRAL", at("2026-10-03", 7), "REFERRAL_LINK", "zz-08")
        tp(p, "PURCHASE", at("2026-10-08", 7), "DIRECT", "zz-08", value=9.0)
        # Engagement at the first purchase's instant, and 1 ms after it.
        tp(p, "PURCHASE", at("2026-10-09", 10), "STORE", "zz-09", value=4.0)
        tp(p, "APP_OPEN", at("2026-10-09", 10), "IN_APP", "zz-09")
        tp(p, "PURCHASE", at("2026-10-09", 10), "STORE", "zz-10", value=4.0)
        tp(p, "APP_OPEN", at("2026-10-09", 10, ms=1), "IN_APP", "zz-10")
        # Sentiment boundaries (float32 0.2500001 > 0.25).
        d = at("2026-10-15", 15)
        tp(p, "REVIEW", d, "ORGANIC_SEARCH", "zz-11", sentiment=0.25)
        tp(p, "FEEDBACK", d + 1, "ORGANIC_SEARCH", "zz-11", sentiment=-0.25)
        tp(p, "SOCIAL_MENTION", d + 2, "ORGANIC_SEARCH", "zz-11",
           sentiment=0.2500001)
        tp(p, "REVIEW", d + 3, "ORGANIC_SEARCH", "zz-11")
        tp(p, "FEEDBACK", d + 4, "ORGANIC_SEARCH", "zz-11", sentiment=-0.26)
        tp(p, "SOCIAL_MENTION", d + 5, "PAID_ADS", "zz-11", sentiment=-1.0)
        # MESSAGE_SENT only: not a customer; MESSAGE_SENT is no first touch.
        tp(p, "MESSAGE_SENT", at("2026-10-10", 6), "EMAIL", "zz-12",
           properties={"kind": "NEXT_BEST_ACTION"})
        tp(p, "MESSAGE_SENT", at("2026-10-01", 6), "SMS", "zz-13",
           properties={"kind": "NEXT_BEST_ACTION"})
        tp(p, "SITE_VISIT", at("2026-10-11", 6), "PAID_ADS", "zz-13",
           durationS=61)
        # An anonymous profile is a customer of its own.
        tp(p, "PAGE_VIEW", at("2026-10-04", 5), "ORGANIC_SEARCH",
           aid="zz-anon-1")
        tp(p, "PURCHASE", at("2026-10-06", 5), "PAID_ADS", aid="zz-anon-1",
           value=42.5)
        # Both ids: the touchpoint is the customer's.
        tp(p, "SITE_VISIT", at("2026-10-07", 5), "EMAIL", "zz-14",
           aid="zz-anon-14", durationS=5)
        # A repeated event id with other content: a duplicate, not applied.
        tp(p, "PURCHASE", at("2026-10-16", 5), "DIRECT", "zz-15", eid="zz-dup",
           value=10.0)
        tp(p, "PURCHASE", at("2026-10-17", 5), "PAID_ADS", "zz-15",
           eid="zz-dup", value=99.0)
        self.dups2 += 1
        # Health boundaries as of T = 2026-11-01 (30 and 90 days).
        for cid, t in (("zz-16a", at("2026-10-02")),
                       ("zz-16b", at("2026-10-02") - 1),
                       ("zz-16c", at("2026-08-03")),
                       ("zz-16d", at("2026-08-03") - 1)):
            tp(p, "PURCHASE", t, "DIRECT", cid, value=1.0)
        # Window edges: from is in, to is out.
        tp(p, "PURCHASE", at("2026-09-01"), "PAID_ADS", "zz-17", value=7.0)
        tp(p, "PURCHASE", at("2026-11-01"), "PAID_ADS", "zz-17", value=8.0)
        tp(p, "AD_CLICK", at("2026-09-16") - 1, "PAID_ADS", "zz-17")
        tp(p, "AD_IMPRESSION", at("2026-09-15"), "PAID_ADS", "zz-17")
        # Money in exact micro-units (1.0000004 is 1,000,000 micro).
        for k in range(3):
            tp(p, "PURCHASE", at("2026-10-18", k), "ORGANIC_SEARCH", "zz-18",
               value=1.0000004)
        tp(p, "REFUND", at("2026-10-19"), "ORGANIC_SEARCH", "zz-18",
           value=0.3333333)
        tp(p, "REFUND", at("2026-10-19"), "ORGANIC_SEARCH", "zz-19",
           value=5.0000004)
        # A late, earlier touchpoint takes over the first touch.
        tp(p, "SITE_VISIT", at("2026-10-10"), "DIRECT", "zz-20", durationS=1)
        tp(p, "SITE_VISIT", at("2026-10-09"), "PAID_ADS", "zz-20",
           durationS=2)
        # CUSTOM: seen (first touch, last_seen, health), nothing else.
        tp(p, "CUSTOM", at("2026-10-02", 4), "PAID_ADS", "zz-30",
           eventName="Video Played")
        tp(p, "CUSTOM", at("2026-10-03", 4), "PAID_ADS", "zz-30",
           eventName="Video Played")
        tp(p, "CUSTOM", at("2026-09-01", 4), "ORGANIC_SEARCH", "zz-31",
           eventName="Coupon Copied")
        tp(p, "PURCHASE", at("2026-09-02", 4), "EMAIL", "zz-31", value=2.0)
        tp(p, "CUSTOM", at("2026-10-28", 4), "EMAIL", "zz-31",
           eventName="Wishlist Shared")
        tp(p, "PURCHASE", at("2026-07-05", 4), "DIRECT", "zz-32", value=2.0)
        tp(p, "CUSTOM", at("2026-08-20", 4), "DIRECT", "zz-32",
           eventName="Video Played")
        # Orders of several items: one order each, the value once.
        tp(p, "PURCHASE", at("2026-10-21", 4), "EMAIL", "zz-33",
           itemId="sku-1", orderItems=["sku-2", "sku-3"], value=31.5)
        tp(p, "PURCHASE", at("2026-10-22", 4), "EMAIL", "zz-33",
           itemId="sku-4", orderItems=["sku-1"], value=8.25)
        tp(p, "REFUND", at("2026-10-23", 4), "EMAIL", "zz-33",
           itemId="sku-2", orderItems=["sku-3"], value=12.0)
        # Identify: an anonymous profile merged into a customer ...
        tp(p, "SITE_VISIT", at("2026-10-03"), "PAID_ADS", aid="zz-anon-m",
           durationS=3)
        tp(p, "PURCHASE", at("2026-10-05"), "PAID_ADS", aid="zz-anon-m",
           value=15.0)
        tp(p, "SITE_VISIT", at("2026-10-04"), "EMAIL", "zz-21", durationS=4)
        tp(p, "PURCHASE", at("2026-10-07"), "EMAIL", "zz-21", value=25.0)
        tp(p, "REFERRAL", at("2026-10-08"), "EMAIL", "zz-21")
        self.identify.append(("zz-anon-m", "zz-21"))
        # ... and one into a customer that does not exist yet.
        tp(p, "PAGE_VIEW", at("2026-10-06"), "ORGANIC_SEARCH",
           aid="zz-anon-n")
        self.identify.append(("zz-anon-n", "zz-22"))
        # After Identify, the anonymous id alone goes to the customer.
        tp(self.phase3, "APP_OPEN", at("2026-10-09"), "IN_APP",
           aid="zz-anon-m")
        tp(self.phase3, "PURCHASE", at("2026-10-12"), "DIRECT",
           aid="zz-anon-n", value=3.0)
        # Conversion lags of exactly 7 and 30 days are "within" (the second
        # one's purchase lies after every window's end but one).
        tp(p, "SITE_VISIT", at("2026-10-03"), "DIRECT", "zz-24", durationS=7)
        tp(p, "PURCHASE", at("2026-10-10"), "DIRECT", "zz-24", value=7.0)
        tp(p, "SITE_VISIT", at("2026-10-04"), "DIRECT", "zz-25", durationS=8)
        tp(p, "PURCHASE", at("2026-11-03"), "DIRECT", "zz-25", value=30.0)
        tp(p, "SITE_VISIT", at("2026-10-05"), "DIRECT", "zz-26", durationS=9)
        tp(p, "PURCHASE", at("2026-10-12") + 1, "DIRECT", "zz-26", value=1.0)
        # Forgotten: out of the customer-level figures, counts stay.
        tp(p, "SITE_VISIT", at("2026-10-10", 3), "DIRECT", "zz-23",
           durationS=100)
        tp(p, "PAGE_VIEW", at("2026-10-10", 3, 1), "DIRECT", "zz-23")
        tp(p, "SUPPORT_TICKET", at("2026-10-11"), "SUPPORT", "zz-23")
        self.forget.append("zz-23")

        # Spend: replace one generated entry (day given off midnight), add a
        # channel, and a zero amount that must not make a row.
        oct_ads = sorted(k for k in gen_spend
                         if k[0] == CHANNEL_NUM["PAID_ADS"]
                         and k[1] >= at("2026-10-02") and k[1] < at("2026-11-01"))
        if oct_ads:
            ch, day, camp = oct_ads[len(oct_ads) // 2]
            self.spend2.append({"channel": "PAID_ADS",
                                "dayMs": str(day + 5 * 3600 * 1000),
                                "amount": 123.4567891, "currency": "USD",
                                "campaign": camp})
        self.spend2.append({"channel": "ORGANIC_SEARCH",
                            "dayMs": str(at("2026-10-03")), "amount": 7.5,
                            "currency": "USD", "campaign": "zz-seo"})
        self.spend2.append({"channel": "SMS", "dayMs": str(at("2026-10-05")),
                            "amount": 0.0, "currency": "USD",
                            "campaign": "zz-zero"})


# ------------------------------------------------------------ the runner


class Oracle:
    def __init__(self, clm, url, tmp):
        self.clm = clm
        self.url = url
        self.tmp = tmp
        self.tps = []
        self.event_ids = set()
        self.alias = {}              # anonymous id -> customer id
        self.spend = {}
        self.forgotten = set()
        self.chk = Checker()
        self.n_files = 0

    def cli(self, *args, stdin=None, timeout=120):
        return run([self.clm, "--url", self.url] + list(args), stdin=stdin,
                   timeout=timeout)

    def add_lines(self, lines):
        """Applies the lines to the model in arrival order; returns how many
        are duplicates."""
        dup = 0
        for ln in lines:
            tp, eid = parse_touchpoint(ln, len(self.tps))
            if eid:
                if eid in self.event_ids:
                    dup += 1          # a repeat is a duplicate, not applied
                    continue
                self.event_ids.add(eid)
            if tp.key[0] == "a" and tp.key[1] in self.alias:
                tp.key = ("c", self.alias[tp.key[1]])
            self.tps.append(tp)
        return dup

    def import_lines(self, lines):
        self.n_files += 1
        path = os.path.join(self.tmp, "import-%d.ndjson" % self.n_files)
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        dup = self.add_lines(lines)
        rc, out, err = self.cli("import", path, timeout=300)
        if rc == 2 and "unknown command" in err:
            print("metrics_oracle: `clm import` missing, using `clm track`",
                  flush=True)
            with open(path, "rb") as f:
                rc, out, err = self.cli("track", stdin=f, timeout=300)
        text = (out + "\n" + err).strip()
        if rc != 0:
            die("import exited %d: %s" % (rc, text[-800:]))
        summ = parse_summary(text)
        if summ.get("accepted", summ.get("imported")) != len(lines) - dup:
            die("import summary does not say %d of %d lines were accepted: %r"
                % (len(lines) - dup, len(lines), text[-800:]))
        if summ.get("duplicates", 0) != dup:
            die("import summary: expected %d duplicates: %r"
                % (dup, text[-800:]))
        for k in ("rejected", "unreadable lines", "unreadable"):
            if summ.get(k, 0) != 0:
                die("import summary reports %s: %r" % (k, text[-800:]))
        print("metrics_oracle: imported %d lines (%d duplicates): %s"
              % (len(lines), dup, text.splitlines()[-1][:120]), flush=True)

    def import_spend(self, path):
        entries = []
        with open(path, "r", encoding="utf-8") as f:
            for ln in f:
                if ln.strip():
                    entries.append(norm_keys(json.loads(ln)))
        rc, out, err = self.cli("spend", path)
        if rc != 0:
            die("clm spend exited %d: %s %s" % (rc, out[-800:], err[-800:]))
        for o in entries:
            ch = enum_val(o.get("channel"), CHANNELS, CHANNEL_NUM)
            day = as_int(o.get("dayMs")) // DAY_MS * DAY_MS
            # recording it again replaces it: the last one wins
            self.spend[(ch, day, o.get("campaign") or "")] = micros(
                o.get("amount", 0.0))
        return len(entries)

    def identify(self, anon, cid):
        rc, out, err = self.cli("identify", anon, cid)
        if rc != 0:
            die("clm identify %s %s exited %d: %s %s"
                % (anon, cid, rc, out[-400:], err[-400:]))
        self.alias[anon] = cid
        for tp in self.tps:
            if tp.key == ("a", anon):
                tp.key = ("c", cid)

    def forget(self, cid):
        rc, out, err = self.cli("forget", cid)
        if rc != 0:
            die("clm forget %s exited %d: %s %s"
                % (cid, rc, out[-400:], err[-400:]))
        self.forgotten.add(("c", cid))

    def check_all(self, label):
        t0 = time.time()
        chk = self.chk
        before = (chk.checked, len(chk.mismatches))
        model = Model(self.tps, self.spend, self.forgotten)
        rc, out, _ = self.cli("--json", "status")
        if rc == 0:
            st = norm_keys(json.loads(out.strip().splitlines()[-1]))
            stored = sum(1 for tp in self.tps if tp.key not in self.forgotten)
            chk.eq("%s: status" % label, "touchpoints", stored,
                   as_int(st.get("touchpoints")))
        for (fs, ts) in METRIC_WINDOWS:
            F, TT = date_ms(fs), date_ms(ts)
            for chname in METRIC_CHANNELS:
                ch = None if chname is None else CHANNEL_NUM[chname]
                for cw in CONVERSION_WINDOWS:
                    argv = ["--json", "metrics", "--from", fs, "--to", ts]
                    if chname:
                        argv += ["--channel", chname]
                    if cw is not None:
                        argv += ["--window-days", str(cw)]
                    where = "%s: metrics %s..%s ch=%s cw=%s" % (
                        label, fs, ts, chname or "all", cw or 30)
                    reply = self.query(where, argv)
                    if reply is not None:
                        compare_metrics(chk, where, model.metrics(F, TT, ch, cw),
                                        reply)
        for (fs, ts, by, periods) in COHORT_QUERIES:
            F, TT = date_ms(fs), date_ms(ts)
            where = "%s: cohorts %s..%s by %s x%d" % (label, fs, ts, by,
                                                     periods)
            reply = self.query(where, ["--json", "cohorts", "--from", fs,
                                       "--to", ts, "--by", by, "--periods",
                                       str(periods)])
            if reply is not None:
                compare_cohorts(chk, where, model.cohorts(F, TT, by, periods),
                                periods, by, reply)
        print("metrics_oracle: %s: %d profiles, %d customers, %d touchpoints;"
              " %d fields compared, %d mismatches (%.1fs)"
              % (label, len(model.custs), len(model.customers), len(self.tps),
                 chk.checked - before[0], len(chk.mismatches) - before[1],
                 time.time() - t0), flush=True)
        return model

    def query(self, where, argv):
        rc, out, err = self.cli(*argv)
        if rc != 0:
            self.chk.mismatches.append((where, "exit", 0, rc))
            print("MISMATCH %-48s clm exited %d: %s"
                  % (where, rc, (err or out).strip()[:300]), flush=True)
            return None
        try:
            return json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            self.chk.mismatches.append((where, "json", "", out[:300]))
            print("MISMATCH %-48s unreadable output %r" % (where, out[:300]),
                  flush=True)
            return None


def main():
    t0 = time.time()
    # A ctest timeout sends SIGTERM: unwind, so clmd is stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    self_check()
    bins = {}
    for var in ("CLMD_BIN", "CLM_BIN", "CLM_GEN_BIN"):
        v = os.environ.get(var)
        if not v or not os.access(v, os.X_OK):
            die("%s is not set to an executable (%r)" % (var, v))
        bins[var] = v
    tmp = tempfile.mkdtemp(prefix="clm-oracle-")
    srv = None
    keep = False
    try:
        # 1. Data: generated journeys, shuffled.
        journeys = os.path.join(tmp, "journeys.ndjson")
        spend_path = os.path.join(tmp, "spend.ndjson")
        rc, out, err = run([bins["CLM_GEN_BIN"], "--seed", "7", "--customers",
                            "3000", "--days", "120", "--end", "2026-11-01",
                            "--out", journeys, "--spend", spend_path],
                           timeout=120)
        if rc != 0 or not os.path.exists(journeys):
            die("clm-gen exited %d: %s%s" % (rc, out[-500:], err[-500:]))
        with open(journeys, "r", encoding="utf-8") as f:
            lines = [ln.rstrip("\n") for ln in f if ln.strip()]
        if not lines:
            die("clm-gen wrote no touchpoints")
        lines, n_orders, n_custom = add_custom_and_orders(lines, 4321)
        random.Random(1234).shuffle(lines)

        # 2. Server, import (arrival order = the shuffled file's order).
        srv = Server(bins["CLMD_BIN"], bins["CLM_BIN"], tmp)
        if not srv.wait_ready():
            die("clmd did not become ready:\n" + srv.log_tail())
        orc = Oracle(bins["CLM_BIN"], srv.url, tmp)
        orc.import_lines(lines)
        n_spend = orc.import_spend(spend_path) if os.path.exists(
            spend_path) else 0
        print("metrics_oracle: %d touchpoints (%d orders of three items, "
              "%d CUSTOM), %d spend lines (%.1fs)"
              % (len(lines), n_orders, n_custom, n_spend, time.time() - t0),
              flush=True)
        if n_orders == 0 or n_custom == 0:
            die("no order of several items or no CUSTOM in the data")

        # 3, 4. Metrics and cohorts on the generated data.
        orc.check_all("generated")

        # The same again after cases clm-gen does not make.
        edge = EdgeData(orc.spend)
        orc.import_lines(edge.phase2)
        for anon, cid in edge.identify:
            orc.identify(anon, cid)
        orc.import_lines(edge.phase3)
        for cid in edge.forget:
            orc.forget(cid)
        spend2 = os.path.join(tmp, "spend2.ndjson")
        with open(spend2, "w", encoding="utf-8") as f:
            f.write("".join(json.dumps(o) + "\n" for o in edge.spend2))
        orc.import_spend(spend2)
        orc.check_all("generated+edge cases")

        chk = orc.chk
        if chk.mismatches:
            groups = {}
            for where, field, _e, _g in chk.mismatches:
                groups.setdefault(field, []).append(where)
            print("metrics_oracle: mismatches by field:")
            for field, wheres in sorted(groups.items()):
                print("  %-50s %4d  e.g. %s" % (field, len(wheres), wheres[0]))
        print("metrics_oracle: %d fields compared, %d mismatches, %.1fs"
              % (chk.checked, len(chk.mismatches), time.time() - t0),
              flush=True)
        if chk.mismatches:
            keep = os.environ.get("CLM_ORACLE_KEEP") == "1"
            sys.exit(1)
    finally:
        if srv is not None:
            srv.stop()
        if keep:
            print("metrics_oracle: kept " + tmp, flush=True)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
