#!/usr/bin/env python3
"""One customer's journey through clmd, from the Python client.

Tracks six touchpoints (an ad click, a visit, a purchase, a content view, a
second purchase, a referral) over the last three weeks, then reads the
customer, asks for recommendations and prints the funnel's metrics.

    PYTHONPATH=client/python python3 client/python/examples/journey.py
    ... journey.py --url ipc:///run/clm/clmd.sock --customer bob

Run it twice: the second time every touchpoint is a duplicate (same
event_id), and nothing changes.
"""

import argparse
import sys
import time

import clm

DAY_MS = 86_400_000


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default=None,
                    help="clmd URL (default $CLM_URL or tcp://127.0.0.1:7450)")
    ap.add_argument("--customer", default="demo-alice")
    args = ap.parse_args()

    now = int(time.time() * 1000)
    start = now - 21 * DAY_MS
    cid = args.customer
    steps = [  # type, channel, days after start, extra fields
        ("AD_CLICK", "PAID_ADS", 0, {"campaign": "spring"}),
        ("SITE_VISIT", "ORGANIC_SEARCH", 0.1, {"duration_s": 240}),
        ("PURCHASE", "EMAIL", 1, {"value": 49.5, "currency": "EUR",
                                  "item_id": "sku-mug"}),
        ("CONTENT_VIEW", "DIRECT", 2, {}),
        ("PURCHASE", "DIRECT", 10, {"value": 20.25, "currency": "EUR",
                                    "item_id": "sku-tea"}),
        ("REFERRAL", "REFERRAL_LINK", 20, {}),
    ]
    touchpoints = [
        dict(event_id="%s-%d" % (cid, i + 1), type=typ, channel=ch,
             occurred_at_ms=start + int(days * DAY_MS), **extra)
        for i, (typ, ch, days, extra) in enumerate(steps)]

    with clm.Client(args.url) as c:
        try:
            reply = c.track(touchpoints, customer_id=cid)
        except clm.ConnectionError as e:
            sys.exit("cannot reach clmd: %s\n(start it: build/bin/clmd "
                     "--data ./clm-data)" % e)
        print("track: accepted %d, duplicates %d, rejected %d" % (
            reply.accepted, reply.duplicates, len(reply.rejected)))
        for ev in reply.changes:
            print("  stage %s -> %s (seq %d)" % (
                clm.Stage(ev.from_stage).name, clm.Stage(ev.to_stage).name,
                ev.seq))

        cu = c.customer(cid)
        print("\ncustomer %s: %s, %s, funnel %s, churn risk %.2f" % (
            cu.customer_id, clm.Stage(cu.stage).name,
            clm.Health(cu.health).name, clm.FunnelPosition(cu.funnel).name,
            cu.churn_risk))
        print("  %d purchases, revenue %.2f, first touch %s, converted on %s"
              % (cu.purchases, cu.revenue,
                 clm.Channel(cu.acquisition_channel).name,
                 clm.Channel(cu.conversion_channel).name))
        for h in cu.stage_history:
            print("  %-12s since %s" % (
                clm.Stage(h.stage).name,
                time.strftime("%Y-%m-%d %H:%M",
                              time.gmtime(h.entered_at_ms / 1000))))

        rec = c.recommend(cid, limit=3)
        print("\nrecommendations:")
        for r in rec.recommendations:
            print("  %.2f %-18s %-22s %-8s %s" % (
                r.score, clm.RecommendationKind(r.kind).name, r.action,
                clm.Channel(r.channel).name, r.reason))

        m = c.metrics()   # the last 30 days
        print("\nlast 30 days: %d customers, %d orders, revenue %.2f, "
              "AOV %.2f" % (m.customers, m.orders, m.revenue,
                            m.average_order_value))
        for s in m.stages:
            print("  %-12s now %4d  entered %4d" % (
                clm.Stage(s.stage).name, s.current, s.entered))

        # Errors carry the status code and the fields at fault.
        try:
            c.track(customer_id=cid, type="REVIEW", sentiment=3)
        except clm.ClmError as e:
            print("\nan invalid touchpoint: %s %s" % (e.code.name,
                                                       e.violations))


if __name__ == "__main__":
    main()
