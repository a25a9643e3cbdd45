#!/usr/bin/env python3
"""Interop test: what acts on customers, through the Python client
(client/python, package clm) against a real clmd (tests/interop/pyclmd.py).

Recommend (with a catalog, a cart, a store nearby, and claim), an
experiment (define, assign, results), a segment (define, backfill, count,
members page by page, delete) and a journey (define, its messages page by
page, statistics, replace, delete). The setup tracks the journey of
tests/integration/stages.c for alice, whom Recommend is asked about.
"""

import json
import sys
import time

# pyclmd makes the client (client/python) importable: clm from there.
from pyclmd import (DAY_MS, HOUR_MS, T0, T1, check, clm, expect, expect_eq,
                    expect_near, expect_raises, main, pb, touch_count,
                    track_journey)


def setup(ctx):
    track_journey(ctx.c, "alice")


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


if __name__ == "__main__":
    sys.exit(main(setup))
