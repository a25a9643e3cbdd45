#!/usr/bin/env python3
"""Interop test: calls and their errors through the Python client
(client/python, package clm) against a real clmd (tests/interop/pyclmd.py).

Status and the request_id, rejected items with FieldViolations,
INVALID_ARGUMENT and NOT_FOUND as clm.ClmError, CUSTOM events and orders
of several items, a touchpoint's lists against track()'s keywords, the
message size limit, a large batch, deadlines, positions and min_position
(read_your_writes), and the client's conversions of its arguments.
"""

import sys
import time

# pyclmd makes the client (client/python) importable: clm from there.
from pyclmd import (HOUR_MS, T0, T1, Y2K_MS, check, clm, expect, expect_eq,
                    expect_near, expect_raises, main, pb, touch_count)


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


if __name__ == "__main__":
    sys.exit(main())
