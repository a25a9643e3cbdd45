"""The segment language of docs/segments.md, evaluated over customers built
from raw touchpoints: the model of segment_oracle_test.py.

Independent of the server's code: the lifecycle facts (stage, first and
last seen, channels, health) come from metrics_oracle_test.py's model,
which recomputes them from the touchpoints; everything else here is
written from docs/segments.md and docs/api.md ("The lifecycle model",
"Health and churn risk"). Python 3 standard library only.

Readings of the contract this model takes (see also the oracle's
docstring):
- `first_seen` / `last_seen` are 0 for a customer without touchpoints
  (the table says "0 when never"), so `first_seen < DATE` holds for a
  customer that only Identify created; `since(...)` is false for them.
- A trait is "a whole decimal number" when it matches -?[0-9]+ exactly
  ("10.5", "ten", " 12" are not numbers: every numeric comparison but !=
  is false for them).
- `health` of a customer without touchpoints is HEALTH_UNSPECIFIED (0):
  api.md says such a profile "has no health".
- "within N days" (risk reasons) is T - t <= N days, t the latest such
  event (api.md "Health and churn risk").
"""

import bisect
import calendar
import re
import time

import metrics_oracle_test as mo

DAY_MS = mo.DAY_MS
T = mo.T

STAGE_NAMES = ["STAGE_UNSPECIFIED", "REACH", "ACQUISITION", "NURTURE",
               "RETENTION", "ADVOCACY"]
HEALTH_NAMES = ["HEALTH_UNSPECIFIED", "ACTIVE", "AT_RISK", "CHURNED"]
FUNNEL_NAMES = ["FUNNEL_UNSPECIFIED", "TOP", "MIDDLE", "BOTTOM"]
RISK_NAMES = ["RISK_REASON_UNSPECIFIED", "INACTIVE", "RECENT_BILLING_ISSUE",
              "SUPPORT_TICKETS", "NEGATIVE_SENTIMENT", "RECENT_REFUND",
              "SLOW_ONBOARDING", "SUBSCRIPTION_CANCELLED"]
ENUMS = {
    "stage": STAGE_NAMES,
    "health": HEALTH_NAMES,
    "funnel": FUNNEL_NAMES,
    "acquisition_channel": mo.CHANNELS,
    "conversion_channel": mo.CHANNELS,
}
NUMBERS = ("purchases", "refunds", "referrals", "revenue")
INSTANTS = ("first_seen", "last_seen")
OPS = ("!=", "<=", ">=", "=", "<", ">")
MIDDLE_TYPES = {T["SIGNUP"], T["PRICING_VIEW"], T["DEMO_REQUEST"],
                T["ADD_TO_CART"], T["CHECKOUT_STARTED"]}
UNIT_MS = {"s": 1000, "m": 60000, "h": 3600000, "d": DAY_MS}

AT_RISK_MS = mo.AT_RISK_DAYS * DAY_MS
CHURN_MS = mo.CHURN_DAYS * DAY_MS
BILLING_MS = 60 * DAY_MS
REFUND_MS = 30 * DAY_MS


def cmp(a, op, b):
    return {"=": a == b, "!=": a != b, "<": a < b, "<=": a <= b,
            ">": a > b, ">=": a >= b}[op]


# ------------------------------------------------------------- the parser


class Parser:
    """Recursive descent over docs/segments.md's grammar. Returns a tree of
    tuples; raises ValueError on anything it does not know (the oracle only
    parses its own fixed expressions)."""

    TOKEN = re.compile(r'\s*(?:(\d+(?:\.\d+)?[smhd]?)|("(?:[^"\\]|\\.)*")|'
                       r'(!=|<=|>=|=|<|>|\(|\)|,)|(-?\d+(?:\.\d+)?)|'
                       r'([A-Za-z_][A-Za-z0-9_.\-]*))')

    def __init__(self, text):
        self.toks = []
        pos = 0
        text = text.rstrip()
        while pos < len(text):
            m = self.TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise ValueError("cannot tokenize at %d: %r" % (pos, text))
            pos = m.end()
            self.toks.append(next(g for g in m.groups() if g is not None))
        self.i = 0
        self.durations = set()

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, want=None):
        t = self.peek()
        if t is None or (want is not None and t != want):
            raise ValueError("expected %r, got %r" % (want, t))
        self.i += 1
        return t

    def parse(self):
        e = self.expr()
        if self.peek() is not None:
            raise ValueError("trailing %r" % self.peek())
        return e

    def expr(self):
        e = self.conj()
        while self.peek() == "or":
            self.take()
            e = ("or", e, self.conj())
        return e

    def conj(self):
        e = self.unary()
        while self.peek() == "and":
            self.take()
            e = ("and", e, self.unary())
        return e

    def unary(self):
        t = self.peek()
        if t == "not":
            self.take()
            return ("not", self.unary())
        if t == "(":
            self.take()
            e = self.expr()
            self.take(")")
            return e
        return self.test()

    def string(self):
        t = self.take()
        if not (t.startswith('"') and t.endswith('"')):
            raise ValueError("expected a string, got %r" % t)
        return re.sub(r'\\(.)', r'\1', t[1:-1])

    def duration(self):
        t = self.take()
        m = re.fullmatch(r"(\d+)([smhd])", t)
        if not m:
            raise ValueError("expected a duration, got %r" % t)
        d = int(m.group(1)) * UNIT_MS[m.group(2)]
        self.durations.add(d)
        return d

    def op(self):
        t = self.take()
        if t not in OPS:
            raise ValueError("expected an operator, got %r" % t)
        return t

    def test(self):
        t = self.take()
        if t in ENUMS:
            op = self.op()
            v = self.take()
            return ("enum", t, op, ENUMS[t].index(v))
        if t in NUMBERS:
            op = self.op()
            return ("num", t, op, float(self.take()))
        if t in INSTANTS:
            op = self.op()
            v = self.take()
            if v.startswith('"'):
                v = calendar.timegm(time.strptime(v[1:-1], "%Y-%m-%d")) * 1000
            return ("instant", t, op, int(v))
        if t.startswith("trait."):
            op = self.op()
            v = self.peek()
            if v.startswith('"'):
                return ("trait_str", t[6:], op, self.string())
            return ("trait_num", t[6:], op, int(self.take()))
        if t == "risk":
            self.take("has")
            return ("risk", RISK_NAMES.index(self.take()))
        if t == "cart":
            self.take("has")
            return ("cart", self.string())
        if t == "bought":
            return ("bought", self.string())
        if t == "count":
            self.take("(")
            ty = T[self.take()]
            key = None
            if self.peek() == "where":
                self.take()
                which = self.take()
                self.take("=")
                key = (which, self.string())
            self.take(",")
            d = self.duration()
            self.take(")")
            op = self.op()
            return ("count", ty, key, d, op, int(self.take()))
        if t == "since":
            self.take("(")
            which = self.take()
            self.take(")")
            op = self.op()
            return ("since", which, op, self.duration())
        raise ValueError("unknown test %r" % t)


def uses(tree, kinds):
    """Whether tree holds a node of one of kinds (or a field in kinds)."""
    if tree[0] in ("and", "or"):
        return uses(tree[1], kinds) or uses(tree[2], kinds)
    if tree[0] == "not":
        return uses(tree[1], kinds)
    return tree[0] in kinds or (len(tree) > 1 and tree[1] in kinds)


class Segment:
    def __init__(self, name, expr):
        self.name = name
        self.expr = expr
        p = Parser(expr)
        self.tree = p.parse()
        # The instants, relative to a touchpoint's time, where membership
        # can change with time alone: each window and bound (and 1 ms
        # after), and health's and the risk reasons' thresholds.
        ds = set(p.durations)
        if uses(self.tree, ("health",)):
            ds |= {AT_RISK_MS + 1, CHURN_MS + 1}
        if uses(self.tree, ("risk",)):
            ds |= {AT_RISK_MS + 1, BILLING_MS + 1, REFUND_MS + 1}
        self.offsets = sorted({d + e for d in ds for e in (0, 1)} | {0, 1})
        self.time_driven = bool(p.durations) or uses(
            self.tree, ("health", "risk"))


# -------------------------------------------------------------- the model


class Profile:
    """One known customer at any T: the facts the language reads."""

    def __init__(self, cid, cust, tps, extra, traits):
        self.cid = cid
        self.traits = traits
        self.has_tp = cust is not None and cust.is_customer
        c = cust
        self.stage = (c.stage + 1) if self.has_tp else 0
        self.first_seen = c.first_seen if self.has_tp else 0
        self.last_seen = c.last_seen if self.has_tp else 0
        self.cancelled = c.cancelled if self.has_tp else False
        self.acq = c.first_ch if self.has_tp else 0
        self.conv = (c.fp_ch or 0) if self.has_tp and c.fp_ch is not None \
            else 0
        types = [tp.type for tp in tps]
        self.purchases = types.count(T["PURCHASE"])
        self.refunds = types.count(T["REFUND"])
        self.referrals = types.count(T["REFERRAL"])
        self.revenue = sum(tp.micros if tp.type == T["PURCHASE"] else
                           -tp.micros for tp in tps
                           if tp.type in (T["PURCHASE"], T["REFUND"])) / 1e6
        if self.purchases:
            self.funnel = 3
        elif any(ty in MIDDLE_TYPES for ty in types):
            self.funnel = 2
        else:
            self.funnel = 1 if tps else 0
        self.bought = set()
        last_add, last_rm = {}, {}
        last_whole = None
        self.times = {}        # (type, None | ("item"|"name", v)) -> sorted
        self.billing = self.refund_t = None
        for tp in tps:
            x = extra[tp.arr]
            items = ([x["item"]] if x["item"] else []) + x["order_items"]
            if tp.type == T["PURCHASE"]:
                self.bought.update(items)
                for it in items:
                    last_rm[it] = max(last_rm.get(it, tp.t), tp.t)
                if not x["item"]:
                    last_whole = tp.t if last_whole is None else max(
                        last_whole, tp.t)
            elif tp.type == T["ADD_TO_CART"] and x["item"]:
                last_add[x["item"]] = max(last_add.get(x["item"], tp.t), tp.t)
            elif tp.type == T["REMOVE_FROM_CART"] and x["item"]:
                last_rm[x["item"]] = max(last_rm.get(x["item"], tp.t), tp.t)
            elif tp.type == T["BILLING_ISSUE"]:
                self.billing = max(self.billing or tp.t, tp.t)
            elif tp.type == T["REFUND"]:
                self.refund_t = max(self.refund_t or tp.t, tp.t)
            self.times.setdefault((tp.type, None), []).append(tp.t)
            if x["item"]:
                self.times.setdefault((tp.type, ("item", x["item"])),
                                      []).append(tp.t)
            if x["name"]:
                self.times.setdefault((tp.type, ("name", x["name"])),
                                      []).append(tp.t)
        self.cart = {it for it, t in last_add.items()
                     if t > last_rm.get(it, t - 1)
                     and (last_whole is None or t > last_whole)}
        for v in self.times.values():
            v.sort()
        self.all_times = sorted({tp.t for tp in tps})
        self._cands = {}

    def health(self, at):
        if not self.has_tp:
            return 0
        if self.cancelled or at - self.last_seen > CHURN_MS:
            return 3
        if at - self.last_seen > AT_RISK_MS:
            return 2
        return 1

    def risk(self, reason, at):
        if not self.has_tp:
            return False
        name = RISK_NAMES[reason]
        if name == "INACTIVE":
            return at - self.last_seen > AT_RISK_MS
        if name == "SUBSCRIPTION_CANCELLED":
            return self.cancelled
        if name == "RECENT_BILLING_ISSUE":
            return self.billing is not None and at - self.billing <= BILLING_MS
        if name == "RECENT_REFUND":
            return self.refund_t is not None and at - self.refund_t <= REFUND_MS
        raise ValueError("the oracle does not model risk %s" % name)

    def count(self, ty, key, d, at):
        ts = self.times.get((ty, key), [])
        # at - d < t <= at
        return bisect.bisect_right(ts, at) - bisect.bisect_right(ts, at - d)

    def ev(self, n, at):
        k = n[0]
        if k == "and":
            return self.ev(n[1], at) and self.ev(n[2], at)
        if k == "or":
            return self.ev(n[1], at) or self.ev(n[2], at)
        if k == "not":
            return not self.ev(n[1], at)
        if k == "enum":
            v = {"stage": self.stage, "health": self.health(at),
                 "funnel": self.funnel, "acquisition_channel": self.acq,
                 "conversion_channel": self.conv}[n[1]]
            return cmp(v, n[2], n[3])
        if k == "num":
            return cmp(getattr(self, n[1]), n[2], n[3])
        if k == "instant":
            return cmp(getattr(self, n[1]), n[2], n[3])
        if k == "trait_str":
            v = self.traits.get(n[1])
            if v is None:
                return n[2] == "!="
            return cmp(v.encode(), n[2], n[3].encode())
        if k == "trait_num":
            v = self.traits.get(n[1])
            if v is None or not re.fullmatch(r"-?[0-9]+", v):
                return n[2] == "!="
            return cmp(int(v), n[2], n[3])
        if k == "risk":
            return self.risk(n[1], at)
        if k == "cart":
            return n[1] in self.cart
        if k == "bought":
            return n[1] in self.bought
        if k == "count":
            return cmp(self.count(n[1], n[2], n[3], at), n[4], n[5])
        if k == "since":
            inst = self.first_seen if n[1] == "first_seen" else self.last_seen
            if inst == 0:
                return False
            return cmp(at - inst, n[2], n[3])
        raise ValueError(k)

    def member(self, seg, at):
        return self.ev(seg.tree, at)

    def candidates(self, seg, lo, hi):
        """The instants in (lo, hi] where seg's membership may change by
        time alone, ascending."""
        if not seg.time_driven:
            return []
        cs = self._cands.get(seg.name)
        if cs is None:
            cs = sorted({t + off for t in self.all_times
                         for off in seg.offsets})
            self._cands[seg.name] = cs
        return cs[bisect.bisect_right(cs, lo):bisect.bisect_right(cs, hi)]

    def flips(self, seg, lo, hi):
        """[(instant, entered)] of every change of membership in (lo, hi]
        with no write in between."""
        out = []
        cur = self.member(seg, lo)
        for c in self.candidates(seg, lo, hi):
            m = self.member(seg, c)
            if m != cur:
                out.append((c, m))
                cur = m
        return out

    def ambiguous(self, seg, lo, hi):
        """Whether membership may change within [lo, hi] (both ends are
        only known within that span)."""
        return bool(self.flips(seg, lo - 1, hi + 1))


def build_profiles(tps, extra, traits, customer_ids, forgotten):
    """{customer id: Profile} of the known customers: every customer id
    with a stored touchpoint or created by Identify, but the forgotten."""
    custs = mo.build_customers(tps)
    by_key = {}
    for tp in tps:
        by_key.setdefault(tp.key, []).append(tp)
    out = {}
    for cid in customer_ids:
        if cid in forgotten:
            continue
        key = ("c", cid)
        out[cid] = Profile(cid, custs.get(key), by_key.get(key, []), extra,
                           traits.get(cid, {}))
    return out
