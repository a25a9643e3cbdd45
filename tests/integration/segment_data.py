"""The data segment_oracle_test.py checks: the segments it defines (before
the data arrives, maintained write by write, and after it, backfilled) and
the hand-made customers it adds to clm-gen's journeys. Python 3 standard
library only.
"""

import time

import metrics_oracle_test as mo

DAY_MS = 86_400_000


def ms_date(ms):
    return time.strftime("%Y-%m-%d", time.gmtime(ms // 1000))


def segments_before(day0):
    return [
        ("b-stage-ret", "stage = RETENTION"),
        ("b-stage-range", "stage >= NURTURE and stage != ADVOCACY"),
        ("b-at-risk", "health = AT_RISK"),
        ("b-funnel", "funnel = MIDDLE"),
        ("b-buyers", "purchases >= 2 or (refunds > 0 and referrals >= 1)"),
        ("b-revenue", "revenue > 100.5"),
        ("b-paid", "acquisition_channel = PAID_ADS and "
                   "conversion_channel != CHANNEL_UNSPECIFIED"),
        ("b-pro", 'trait.plan = "pro"'),
        ("b-seats", "trait.seats >= 10"),
        ("b-billing", "risk has RECENT_BILLING_ISSUE"),
        ("b-pv30", "count(PAGE_VIEW, 30d) >= 3"),
        ("b-recent", "since(last_seen) < 30d"),
        ("b-custom", 'count(CUSTOM where name = "Video Played", 45d) >= 1'),
    ]


def segments_after(day0):
    return [
        ("a-active", "health = ACTIVE"),
        ("a-unspec", "stage = STAGE_UNSPECIFIED"),
        ("a-not-pro", 'trait.plan != "pro"'),
        ("a-tier", 'trait.tier >= "gold" and trait.seats < 100'),
        ("a-inactive", "risk has INACTIVE"),
        ("a-cart", 'cart has "sku-3"'),
        ("a-bought", 'bought "sku-2"'),
        ("a-sku1-views", 'count(PAGE_VIEW where item = "sku-1", 14d) >= 1'),
        ("a-quiet", "count(SITE_VISIT, 12h) = 0 and purchases >= 1"),
        ("a-old", "since(first_seen) > 90d and since(last_seen) <= 45d"),
        ("a-dates", 'first_seen < "%s" and last_seen >= %d'
         % (ms_date(day0 - 60 * DAY_MS), day0 - 30 * DAY_MS)),
        ("a-combo", "not (stage = REACH or health = CHURNED) and "
                    "(funnel = BOTTOM or count(EMAIL_OPEN, 14d) >= 1)"),
        ("a-nested", '((purchases >= 1 and not bought "sku-1") or '
                     'trait.tier = "gold") and acquisition_channel >= EMAIL'),
        ("a-refund", "risk has SUBSCRIPTION_CANCELLED or "
                     "(refunds >= 1 and revenue <= 50)"),
    ]


# ------------------------------------------------------------ edge data


class EdgeData:
    """Hand-made customers around B, a midnight 10 days before today: an
    event exactly at a window's edge is checked with as_of_ms at B + D - 1
    (in) and B + D (out)."""

    def __init__(self, B):
        self.B = B
        self.n = 0
        self.lines = []          # shuffled in with the generated ones
        self.later = []          # after the Identify calls
        self.identify = []       # (anon, customer, {traits})
        self.forget = ["zz-f1"]
        h = 3600000
        tp = self.tp
        # Three PAGE_VIEWs, the first at B: in count(PAGE_VIEW, 30d) >= 3
        # until B + 30 d exactly.
        tp("PAGE_VIEW", B, "zz-w1", itemId="sku-1")
        tp("PAGE_VIEW", B + h, "zz-w1")
        tp("PAGE_VIEW", B + 2 * h, "zz-w1")
        # Its last_seen is B + 12 h - 1: since(last_seen) < 30d until
        # B + 12 h - 1 + 30 d.
        tp("SITE_VISIT", B + 12 * h - 1, "zz-w2", durationS=5)
        tp("PURCHASE", B - 20 * DAY_MS, "zz-w2", value=10.0)
        tp("SITE_VISIT", B - 19 * DAY_MS, "zz-w2")
        # A billing issue 5 days before B.
        tp("BILLING_ISSUE", B - 5 * DAY_MS, "zz-b1", ch="SUPPORT")
        tp("APP_OPEN", B - 4 * DAY_MS, "zz-b1", ch="IN_APP")
        # Carts: removal at an equal time wins; a whole-cart checkout.
        tp("ADD_TO_CART", B, "zz-cart1", itemId="sku-3")
        tp("REMOVE_FROM_CART", B, "zz-cart1", itemId="sku-3")
        tp("ADD_TO_CART", B + 1, "zz-cart2", itemId="sku-3")
        tp("ADD_TO_CART", B + 2, "zz-cart3", itemId="sku-3")
        tp("PURCHASE", B + 3, "zz-cart3", value=5.0)
        tp("ADD_TO_CART", B + 4, "zz-cart4", itemId="sku-3")
        tp("PURCHASE", B + 3, "zz-cart4", itemId="sku-3", value=5.0)
        # An order of several items, then a refund (bought stays).
        tp("PURCHASE", B - 3 * DAY_MS, "zz-buy", ch="EMAIL", itemId="sku-9",
           orderItems=["sku-2", "sku-7"], value=150.25)
        tp("REFUND", B - 2 * DAY_MS, "zz-buy", ch="EMAIL", itemId="sku-2",
           value=40.0)
        tp("REFERRAL", B - DAY_MS, "zz-buy", ch="REFERRAL_LINK")
        # CUSTOM events by name.
        tp("CUSTOM", B + 3 * h, "zz-c1", eventName="Video Played")
        tp("CUSTOM", B + 4 * h, "zz-c2", eventName="Video Paused")
        # Cancelled after the last purchase.
        tp("PURCHASE", B - 8 * DAY_MS, "zz-x1", ch="PAID_ADS", value=20.0)
        tp("CANCELLATION", B - 7 * DAY_MS, "zz-x1")
        # A customer forgotten after the import.
        tp("PURCHASE", B, "zz-f1", value=500.0, itemId="sku-2")
        tp("PURCHASE", B + 1, "zz-f1", value=500.0)
        # A repeated event id with other content: a duplicate.
        tp("PURCHASE", B + 5 * h, "zz-d1", eid="zz-dup", value=200.0)
        tp("PURCHASE", B + 6 * h, "zz-d1", eid="zz-dup", value=1.0)
        # Identify: an anonymous profile merged, traits of every kind.
        tp("PAGE_VIEW", B + 7 * h, aid="zz-anon-p", ch="PAID_ADS")
        tp("PURCHASE", B + 8 * h, aid="zz-anon-p", ch="EMAIL", value=30.0)
        self.identify.append(("zz-anon-p", "zz-p1",
                              {"plan": "pro", "seats": "12", "tier": "gold"}))
        # Identify only: known customers without touchpoints.
        self.identify.append(("zz-anon-q", "zz-q1", {"seats": "9"}))
        self.identify.append(("zz-anon-r", "zz-r1",
                              {"seats": "10.5", "plan": "basic",
                               "tier": "silver"}))
        self.identify.append(("zz-anon-s", "zz-s1", {"seats": "ten",
                                                     "tier": "platinum"}))
        # Traits on a customer with touchpoints.
        tp("SITE_VISIT", B + 9 * h, "zz-t1", ch="EMAIL")
        self.identify.append(("zz-anon-t", "zz-t1",
                              {"plan": "pro", "seats": "100"}))
        # After Identify, the anonymous id alone goes to the customer.
        tp("PURCHASE", B + 10 * h, aid="zz-anon-p", ch="EMAIL", value=80.0,
           itemId="sku-5", out=self.later)
        # A late, earlier touchpoint.
        tp("SITE_VISIT", B - 100 * DAY_MS, "zz-w1", ch="PAID_ADS",
           out=self.later)

    def tp(self, ty, t, cid=None, aid=None, ch="DIRECT", eid=None, out=None,
           **kw):
        self.n += 1
        (self.lines if out is None else out).append(mo.touchpoint_json(
            eid or "zz-s-%04d" % self.n, ty, t, ch, cid, aid, **kw))
