#!/usr/bin/env python3
"""Interop test: a customer's lifecycle through the Python client
(client/python, package clm) against a real clmd (tests/interop/pyclmd.py).

Drives the journey of tests/integration/stages.c through clm.Client
with fixed event times and checks the same answers the C tests check:
stage changes and history REACH -> ACQUISITION -> NURTURE -> RETENTION ->
ADVOCACY, the same changes on the stage-change stream (clm.watch) with
seq and a topic filter, duplicates on event_id, arrival-order
independence, Metrics and Cohorts of the journey with spend, Identify
merging an anonymous profile, export and forget.
"""

import sys
import time

# pyclmd makes the client (client/python) importable: clm from there.
from pyclmd import (DAY_MS, FEB1, HOUR_MS, IN_ORDER_CHANGES, JAN1, JOURNEY,
                    T0, T1, check, check_change, check_journey_customer, clm,
                    drain, expect, expect_eq, expect_near, expect_raises,
                    journey, main, same_customer, stage, touch_count,
                    wait_live)


def setup(ctx):
    ctx.watch = ctx.close_later(clm.watch(ctx.srv.events_url,
                                          prefix="stage/"))
    ctx.watch_advocacy = ctx.close_later(clm.watch(
        ctx.srv.events_url, prefix="stage/ADVOCACY"))


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
        got = w.recv(10)
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
    got = ctx.watch_advocacy.recv(10)
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
def identify_merges_an_anonymous_profile(ctx):
    c, w = ctx.c, ctx.watch
    drain(c, w, "identify-marker")
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
    got = w.recv(10)
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


if __name__ == "__main__":
    sys.exit(main(setup))
