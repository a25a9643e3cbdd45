"""clm.Client: calls to clmd over REQ/REP."""

from __future__ import annotations

import datetime
import json
import os
import random
import ssl
import struct
import threading
import time
import uuid
from typing import (TYPE_CHECKING, Any, Iterable, Iterator, Mapping,
                    Optional, Sequence, Tuple, Union)

from google.protobuf.message import DecodeError, Message

from . import _convert, _enums
from .errors import ClmError, ConnectionError, ProtocolError, TimeoutError
from .transport import (DEFAULT_MAX_RECV, PROTO_REP, PROTO_REQ, Pipe, Url,
                        remaining)

if TYPE_CHECKING:
    from .v1 import clm_pb2 as pb
else:
    pb = _enums.pb

# What the public API takes (the replies are the generated clm.pb classes):
# a message as a dict of its fields or a clm.pb object; an enum value by
# name or number; a time as unix ms, a datetime, a date or an ISO string.
Fields = Union[Mapping[str, Any], Message]
EnumValue = Union[str, int]
Time = Union[int, float, str, datetime.date, None]

DEFAULT_URL = "tcp://127.0.0.1:7450"
DEFAULT_EVENTS_URL = "tcp://127.0.0.1:7451"
DEFAULT_TIMEOUT = 5.0
DEFAULT_MAX_MESSAGE_BYTES = 4 << 20

# Request.call field -> Response.result field, where they differ.
_RESULT_OF = {"get_customer": "customer"}

# "The Client's timeout": Any, so that it fits the Optional[float] it stands
# for in signatures.
_UNSET: Any = object()


def _merge_touchpoint(base: Message, tp: Message) -> Message:
    """base with tp's fields over it. MergeFrom would append a repeated
    field to base's, so a list the touchpoint sets (order_items) replaces
    base's instead; map fields (properties) are merged key by key."""
    merged = type(base)()
    merged.CopyFrom(base)
    merged.MergeFrom(tp)
    for fd in tp.DESCRIPTOR.fields:
        if fd.label != fd.LABEL_REPEATED:
            continue
        if fd.message_type is not None and \
                fd.message_type.GetOptions().map_entry:
            continue
        own = getattr(tp, fd.name)
        if len(own) > 0:
            field = getattr(merged, fd.name)
            del field[:]
            field.extend(own)
    return merged


def tls_context(ca_file: Optional[str] = None,
                cert_file: Optional[str] = None,
                key_file: Optional[str] = None) -> ssl.SSLContext:
    """An ssl.SSLContext for tls+tcp://: verifies the server against ca_file
    (else the system's CAs) and presents cert_file (PEM with the key, or the
    key in key_file) when clmd asks for a client certificate."""
    ctx = ssl.create_default_context(cafile=ca_file)
    if cert_file:
        ctx.load_cert_chain(cert_file, key_file)
    return ctx


class Client:
    """A connection to clmd. Calls are made one at a time (a lock serializes
    threads that share a Client; for parallel calls, use one Client per
    thread).

    url: ``tcp://HOST:PORT`` (default ``$CLM_URL`` or tcp://127.0.0.1:7450),
    ``ipc:///PATH`` or ``tls+tcp://HOST:PORT``.
    timeout: seconds a call may take, connecting included (None: no limit);
    every method also takes ``timeout=``.
    token: sent as ``auth_token`` (default ``$CLM_TOKEN``).
    tls: an ssl.SSLContext for tls+tcp:// (default: one made from
    ``$CLM_TLS_CA`` and ``$CLM_TLS_CERT``); tls_server_name: the name the
    server's certificate must have (default: the URL's host).
    deadline_ms: sent as ``Request.deadline_ms`` (0: none): a write not
    applied within it is refused with DEADLINE_EXCEEDED and not applied.
    auto_event_id: give each touchpoint without an ``event_id`` a random
    one, so that a resent Track (after a broken connection) is counted once.
    max_message_bytes: requests larger than this raise at once
    (INVALID_ARGUMENT) instead of being dropped by clmd without a reply.
    read_your_writes: send the largest ``Response.position`` seen so far
    (``last_position``) as ``Request.min_position`` of every call that
    gives none, so that a node answers only once it shows every write
    this Client has seen (docs/api.md "Positions"); every method also takes
    ``min_position=``. A node behind for longer than the call's
    ``deadline_ms`` (1 s when 0) raises ClmError UNAVAILABLE
    ("not caught up").

    The connection is made on the first call. If that first connect fails,
    the call raises clm.ConnectionError at once; when an established
    connection breaks, the call reconnects and sends the request again until
    its timeout (safe: every clmd write is idempotent).
    """

    def __init__(self, url: Optional[str] = None,
                 timeout: Optional[float] = DEFAULT_TIMEOUT,
                 token: Optional[str] = None, *,
                 tls: Optional[ssl.SSLContext] = None,
                 tls_server_name: Optional[str] = None, deadline_ms: int = 0,
                 auto_event_id: bool = True,
                 max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
                 max_reply_bytes: int = DEFAULT_MAX_RECV,
                 read_your_writes: bool = False) -> None:
        self.url: str = url or os.environ.get("CLM_URL") or DEFAULT_URL
        self._url = Url(self.url)
        self.timeout = timeout
        self.token = (token if token is not None
                      else os.environ.get("CLM_TOKEN"))
        if tls is None and self._url.scheme == "tls+tcp":
            tls = tls_context(os.environ.get("CLM_TLS_CA"),
                              os.environ.get("CLM_TLS_CERT"))
        self._tls: Any = tls
        self._tls_server_name = tls_server_name
        self.deadline_ms = deadline_ms
        self.auto_event_id = auto_event_id
        self.max_message_bytes = max_message_bytes
        self.max_reply_bytes = max_reply_bytes
        self.read_your_writes = read_your_writes
        #: The largest Response.position of any reply so far (0: none).
        self.last_position = 0
        self._lock = threading.RLock()
        self._pipe: Optional[Pipe] = None
        self._pid = os.getpid()
        self._connected_once = False
        self._new_ids()

    def _new_ids(self):
        self._nonce = "%s-%d" % (os.urandom(4).hex(), os.getpid())
        self._count = 0
        self._rid = random.getrandbits(31)

    # -- connection ---------------------------------------------------------

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return "clm.Client(%r)" % self.url

    def close(self) -> None:
        """Closes the connection (a later call opens a new one)."""
        with self._lock:
            if self._pipe is not None:
                self._pipe.close()
                self._pipe = None

    def connect(self, timeout: Optional[float] = _UNSET) -> Client:
        """Connects now (calls connect on their own when needed). Raises
        clm.ConnectionError or clm.TimeoutError."""
        with self._lock:
            self._fork_check()
            if self._pipe is None:
                self._dial(self._deadline(timeout))
        return self

    def _deadline(self, timeout):
        if timeout is _UNSET:
            timeout = self.timeout
        return None if timeout is None else time.monotonic() + timeout

    def _fork_check(self):
        if os.getpid() != self._pid:
            # A forked child must not share the parent's socket or ids.
            if self._pipe is not None:
                self._pipe.close()
                self._pipe = None
            self._pid = os.getpid()
            self._new_ids()

    def _dial(self, deadline):
        url = self._url
        tls = self._tls
        if self._tls_server_name and tls is not None:
            tls = _ServerName(tls, self._tls_server_name)
        self._pipe = Pipe(url, PROTO_REQ, PROTO_REP, deadline, tls,
                          self.max_reply_bytes)
        self._connected_once = True

    def _next_rid(self):
        self._rid = (self._rid + 1) & 0x7FFFFFFF
        return self._rid | 0x80000000

    def _roundtrip(self, body, deadline, timeout):
        """Sends body, returns the reply's body. Reconnects and resends on a
        broken connection until the deadline."""
        backoff = 0.02
        while True:
            try:
                if self._pipe is None:
                    self._dial(deadline)
                rid = self._next_rid()
                self._pipe.send([struct.pack(">I", rid), body], deadline)
                while True:
                    msg = self._pipe.recv(deadline)
                    if len(msg) < 4:
                        raise ProtocolError("%s sent a %d-byte reply"
                                            % (self.url, len(msg)))
                    if struct.unpack(">I", msg[:4])[0] == rid:
                        return msg[4:]
                    # The late reply of an earlier call that timed out.
            except TimeoutError as e:
                # The pipe stays usable (a late reply is skipped by its id)
                # unless it timed out half-way through sending.
                if self._pipe is not None and self._pipe.closed:
                    self._pipe = None
                raise TimeoutError("%s (timeout %ss)" % (e.message, timeout)) \
                    from e
            except ProtocolError:
                self.close()
                raise
            except ConnectionError as e:
                if self._pipe is not None:
                    self._pipe.close()
                    self._pipe = None
                if not self._connected_once:
                    raise
                left = remaining(deadline)
                if left is not None and left <= backoff:
                    raise ConnectionError("%s (gave up after %ss)"
                                          % (e.message, timeout)) from e
                time.sleep(backoff)
                backoff = min(backoff * 2, 0.5)

    # -- calls --------------------------------------------------------------

    def call(self, request: Optional[Fields] = None, *,
             timeout: Optional[float] = _UNSET, check: bool = True,
             request_id: Optional[str] = None, min_position: int = 0,
             **fields: Any) -> pb.Response:
        """Sends a Request and returns the Response.

        request: a clm.pb.Request, or a dict of its fields; or give the
        fields as keywords: ``call(server_status={})``. Raises clm.ClmError
        when the Response's status is not OK (unless check=False).
        request_id: Request.request_id (default: a new unique id; Recommend
        with claim replays its first reply for a request_id it has seen).
        min_position: Request.min_position (default: the request's own, else
        last_position with read_your_writes, else 0): answered once the
        node has applied that position.
        """
        req = _convert.build(pb.Request, request, fields=fields)
        if request_id is not None:
            req.request_id = request_id
        if min_position:
            req.min_position = min_position
        if timeout is _UNSET:
            timeout = self.timeout
        with self._lock:
            self._fork_check()
            if not req.request_id:
                self._count += 1
                req.request_id = "py-%s-%d" % (self._nonce, self._count)
            if self.token and not req.auth_token:
                req.auth_token = self.token
            if self.deadline_ms and not req.deadline_ms:
                req.deadline_ms = self.deadline_ms
            if self.read_your_writes and not req.min_position:
                req.min_position = self.last_position
            body = req.SerializeToString()
            if self.max_message_bytes and len(body) > self.max_message_bytes:
                raise ClmError(
                    "INVALID_ARGUMENT",
                    "request is %d bytes, over the %d-byte message limit "
                    "(clmd drops it without a reply): send fewer "
                    "touchpoints per call" % (len(body),
                                               self.max_message_bytes))
            deadline = None if timeout is None else time.monotonic() + timeout
            reply = self._roundtrip(body, deadline, timeout)
        try:
            resp = pb.Response.FromString(reply)
        except DecodeError as e:
            raise ProtocolError("reply from %s is not a clm.v1.Response: %s"
                                % (self.url, e)) from e
        with self._lock:
            if resp.position > self.last_position:
                self.last_position = resp.position
        if check and resp.status.code != 0:
            raise ClmError.from_status(resp.status, resp)
        return resp

    def _result(self, call: str, msg: Message, timeout: Optional[float],
                request_id: Optional[str] = None,
                min_position: int = 0) -> Any:
        resp = self.call({call: msg}, timeout=timeout, request_id=request_id,
                         min_position=min_position)
        return getattr(resp, _RESULT_OF.get(call, call))

    def track(self, touchpoints: Union[Fields, Iterable[Fields], None] = None,
              /, *, timeout: Optional[float] = _UNSET,
              min_position: int = 0,
              **fields: Any) -> pb.TrackReply:
        """Records touchpoints; returns the clm.pb.TrackReply
        (accepted, duplicates, rejected, changes).

        touchpoints: a list of dicts or clm.pb.Touchpoint, or one of them;
        keyword fields are defaults for every touchpoint, or the one
        touchpoint when no list is given::

            c.track(customer_id="alice", type="PURCHASE", value=30)
            c.track([{"type": "PAGE_VIEW"}, {"type": "SIGNUP"}],
                    customer_id="alice", channel="ORGANIC_SEARCH")

        A touchpoint's own fields win over the keyword ones; a repeated
        field it sets (``order_items``) replaces the keyword's list, and
        its ``properties`` are added to the keyword's.

        Enums by name or number; ``occurred_at_ms`` as unix ms, a datetime
        or an ISO string; ``location`` as (lat, lon) or a dict. Invalid
        touchpoints are listed in ``reply.rejected`` (the others are
        stored); when every one is invalid, raises ClmError
        (INVALID_ARGUMENT) with a violation per field.
        """
        if touchpoints is None:
            touchpoints = [{}] if fields else []
        elif isinstance(touchpoints, (dict, Message)):
            touchpoints = [touchpoints]
        base = (_convert.build(pb.Touchpoint, None, fields=fields)
                if fields else None)
        tps = []
        for i, tp in enumerate(touchpoints):
            m = _convert.build(pb.Touchpoint, tp, "touchpoints[%d]." % i)
            if base is not None:
                m = _merge_touchpoint(base, m)
            if self.auto_event_id and not m.event_id:
                m.event_id = str(uuid.uuid4())
            tps.append(m)
        req = pb.TrackRequest()
        req.touchpoints.extend(tps)
        return self._result("track", req, timeout,
                            min_position=min_position)

    def customer(self, customer_id: str, as_of_ms: Time = 0, *,
                 timeout: Optional[float] = _UNSET,
                 min_position: int = 0) -> pb.Customer:
        """The clm.pb.Customer (stage, health, churn risk, history, ...) as
        of as_of_ms (0: now; ms, datetime or ISO string). Raises ClmError
        NOT_FOUND for an unknown customer."""
        return self._result("get_customer", pb.GetCustomerRequest(
            customer_id=customer_id,
            as_of_ms=_convert.to_ms(as_of_ms, "as_of_ms")), timeout,
            min_position=min_position)

    get_customer = customer

    def identify(self, anonymous_id: str, customer_id: str,
                 traits: Optional[Mapping[str, Any]] = None, *,
                 timeout: Optional[float] = _UNSET,
                 min_position: int = 0) -> pb.IdentifyReply:
        """Links an anonymous id to a customer (merging its profile);
        returns the clm.pb.IdentifyReply (customer, merged)."""
        req = _convert.build(pb.IdentifyRequest, {
            "anonymous_id": anonymous_id, "customer_id": customer_id,
            "traits": traits})
        return self._result("identify", req, timeout,
                            min_position=min_position)

    def recommend(self, customer_id: str, limit: int = 0,
                  lat: Optional[float] = None, lon: Optional[float] = None,
                  claim: bool = False, *,
                  cart_items: Optional[Sequence[str]] = None,
                  channel: Optional[EnumValue] = None, now_ms: Time = 0,
                  include_suppressed: bool = False,
                  location: Union[Tuple[float, float], Fields, None] = None,
                  request_id: Optional[str] = None,
                  timeout: Optional[float] = _UNSET,
                  min_position: int = 0) -> pb.RecommendReply:
        """Up to limit (0: 5) recommendations, best first: a
        clm.pb.RecommendReply (recommendations, stage, health). lat/lon (or
        location=(lat, lon)): where the customer is now, for store offers.
        claim: record the returned messages as sent (frequency capping);
        a retry with the same request_id gets the same reply."""
        if lat is not None or lon is not None:
            if lat is None or lon is None:
                raise ValueError("recommend: give both lat and lon")
            location = (lat, lon)
        req = _convert.build(pb.RecommendRequest, {
            "customer_id": customer_id, "limit": limit,
            "location": location, "cart_items": cart_items,
            "channel": channel, "now_ms": now_ms,
            "include_suppressed": include_suppressed, "claim": claim})
        return self._result("recommend", req, timeout, request_id,
                            min_position)

    def metrics(self, from_ms: Time = 0, to_ms: Time = 0,
                channel: Optional[EnumValue] = None,
                conversion_window_days: int = 0, *,
                timeout: Optional[float] = _UNSET,
                min_position: int = 0) -> pb.MetricsReply:
        """The funnel over the UTC days [from_ms, to_ms) (0, 0: the last 30
        days); times as ms, date, datetime or ISO string. Returns the
        clm.pb.MetricsReply (docs/metrics.md)."""
        req = _convert.build(pb.MetricsRequest, {
            "from_ms": from_ms, "to_ms": to_ms, "channel": channel,
            "conversion_window_days": conversion_window_days})
        return self._result("metrics", req, timeout,
                            min_position=min_position)

    def cohorts(self, from_ms: Time = 0, to_ms: Time = 0,
                granularity: Optional[EnumValue] = None, periods: int = 0, *,
                timeout: Optional[float] = _UNSET,
                min_position: int = 0) -> pb.CohortReply:
        """Customers by the DAY, WEEK (default) or MONTH of their first
        purchase; returns the clm.pb.CohortReply (rows, granularity)."""
        req = _convert.build(pb.CohortRequest, {
            "from_ms": from_ms, "to_ms": to_ms, "granularity": granularity,
            "periods": periods})
        return self._result("cohorts", req, timeout,
                            min_position=min_position)

    def put_catalog(self, items: Optional[Iterable[Fields]] = None,
                    stores: Optional[Iterable[Fields]] = None, *,
                    timeout: Optional[float] = _UNSET,
                    min_position: int = 0) -> pb.PutCatalogReply:
        """Upserts items (item_id, name, category, price, upgrade_to) and
        stores (store_id, name, location, radius_m, discount_pct)."""
        req = _convert.build(pb.PutCatalogRequest,
                             {"items": items, "stores": stores})
        return self._result("put_catalog", req, timeout,
                            min_position=min_position)

    def record_spend(self, spend: Union[Fields, Iterable[Fields], None] = None,
                     /, *, timeout: Optional[float] = _UNSET,
                     min_position: int = 0,
                     **fields: Any) -> pb.RecordSpendReply:
        """Sets the marketing spend per (channel, day, campaign): a list of
        dicts or clm.pb.Spend, one of them, or the fields as keywords
        (``record_spend(channel="PAID_ADS", day_ms="2026-01-10",
        amount=100)``). Returns the clm.pb.RecordSpendReply."""
        if spend is None:
            spend = [fields] if fields else []
        elif isinstance(spend, (dict, Message)):
            spend = [spend]
        elif fields:
            raise TypeError("record_spend: give a list or keywords, not both")
        req = _convert.build(pb.RecordSpendRequest, {"spend": list(spend)})
        return self._result("record_spend", req, timeout,
                            min_position=min_position)

    def define_experiment(
            self, experiment_id: str,
            variants: Union[Mapping[str, float],
                            Iterable[Union[str, Tuple[str, float], Fields]]],
            goal: EnumValue = "PURCHASE", *,
            timeout: Optional[float] = _UNSET,
            min_position: int = 0) -> pb.DefineExperimentReply:
        """Defines an A/B test. variants: names (weight 1 each), (name,
        weight) pairs, dicts, or a dict {name: weight}; goal: the touchpoint
        type that counts as a conversion."""
        if isinstance(variants, Mapping):
            variants = list(variants.items())
        vs: list = []
        for v in variants:
            if isinstance(v, str):
                v = {"name": v, "weight": 1}
            elif isinstance(v, (tuple, list)):
                v = {"name": v[0], "weight": v[1]}
            vs.append(v)
        req = _convert.build(pb.DefineExperimentRequest, {
            "experiment_id": experiment_id, "variants": vs, "goal": goal})
        return self._result("define_experiment", req, timeout,
                            min_position=min_position)

    def assign(self, experiment_id: str, customer_id: str, *,
               timeout: Optional[float] = _UNSET,
               min_position: int = 0) -> pb.AssignReply:
        """The customer's variant (sticky): a clm.pb.AssignReply (variant,
        first_exposure)."""
        return self._result("assign", pb.AssignRequest(
            experiment_id=experiment_id, customer_id=customer_id), timeout,
            min_position=min_position)

    def experiment_results(
            self, experiment_id: str, *,
            timeout: Optional[float] = _UNSET,
            min_position: int = 0) -> pb.ExperimentResultsReply:
        """Per variant: exposed, converted, rate, lift, p_value, ci_low,
        ci_high (clm.pb.ExperimentResultsReply)."""
        return self._result("experiment_results", pb.ExperimentResultsRequest(
            experiment_id=experiment_id), timeout,
            min_position=min_position)

    def define_segment(self, name: str, expression: str, *,
                       timeout: Optional[float] = _UNSET,
                       min_position: int = 0) -> pb.DefineSegmentReply:
        """Defines the segment name ([a-z0-9_-]{1,64}) as expression
        (docs/segments.md), replacing one of that name, and starts its
        backfill; returns the clm.pb.DefineSegmentReply (segment,
        replaced). A bad expression raises ClmError INVALID_ARGUMENT whose
        violation on ``define_segment.expression`` gives the byte offset.
        The backfill runs on in the background:
        get_segment(name).segment.backfilling says when it is done."""
        return self._result("define_segment", pb.DefineSegmentRequest(
            name=name, expression=expression), timeout,
            min_position=min_position)

    def get_segment(self, name: str, members: bool = False,
                    page_size: int = 0, page_token: str = "",
                    include_customers: bool = False, as_of_ms: Time = 0, *,
                    timeout: Optional[float] = _UNSET,
                    min_position: int = 0) -> pb.GetSegmentReply:
        """The clm.pb.GetSegmentReply: segment (count, backfilling,
        backfill_progress, ...) and, with members, one page of member ids
        (ascending) from page_token, with next_page_token ("" after the
        last) and, with include_customers, each member's Customer.
        as_of_ms (ms, datetime or ISO string; 0: now) asks about another
        instant, answered by a scan of every customer. Raises ClmError
        NOT_FOUND for an unknown segment."""
        return self._result("get_segment", pb.GetSegmentRequest(
            name=name, members=members, page_size=page_size,
            page_token=page_token, include_customers=include_customers,
            as_of_ms=_convert.to_ms(as_of_ms, "as_of_ms")), timeout,
            min_position=min_position)

    def segment_members(self, name: str, page_size: int = 0,
                        as_of_ms: Time = 0, *,
                        timeout: Optional[float] = _UNSET,
                        min_position: int = 0) -> Iterator[str]:
        """Every member id of the segment, ascending, fetched a page
        (page_size ids, 0: 1000) at a time as the iteration goes on."""
        token = ""
        while True:
            reply = self.get_segment(name, members=True,
                                     page_size=page_size, page_token=token,
                                     as_of_ms=as_of_ms, timeout=timeout,
                                     min_position=min_position)
            yield from reply.members
            if reply.next_page_token and (reply.next_page_token == token
                                          or not reply.members):
                # A token that does not move would never end the loop.
                raise ProtocolError("the server gave page token %r again"
                                    % reply.next_page_token)
            token = reply.next_page_token
            if not token:
                return

    def list_segments(self, *, timeout: Optional[float] = _UNSET,
                      min_position: int = 0) -> pb.ListSegmentsReply:
        """Every segment, by name (clm.pb.ListSegmentsReply: segments)."""
        return self._result("list_segments", pb.ListSegmentsRequest(),
                            timeout, min_position=min_position)

    def delete_segment(self, name: str, *,
                       timeout: Optional[float] = _UNSET,
                       min_position: int = 0) -> pb.DeleteSegmentReply:
        """Removes the segment and its membership
        (clm.pb.DeleteSegmentReply: existed)."""
        return self._result("delete_segment", pb.DeleteSegmentRequest(
            name=name), timeout, min_position=min_position)

    def define_journey(self, definition: Union[str, Mapping[str, Any]], *,
                       timeout: Optional[float] = _UNSET,
                       min_position: int = 0) -> pb.DefineJourneyReply:
        """Defines the journey of definition (docs/journeys.md: its JSON,
        as a str, or a dict that is sent as JSON), replacing the
        definition of one of that name (its customers stay at their
        step); returns the clm.pb.DefineJourneyReply (journey, replaced).
        A bad definition raises ClmError INVALID_ARGUMENT whose violation
        on ``define_journey.definition`` starts with the JSON path of the
        fault; a 65th journey RESOURCE_EXHAUSTED."""
        if not isinstance(definition, str):
            definition = json.dumps(definition)
        return self._result("define_journey", pb.DefineJourneyRequest(
            definition=definition), timeout, min_position=min_position)

    def get_journey(self, name: str, *,
                    timeout: Optional[float] = _UNSET,
                    min_position: int = 0) -> pb.GetJourneyReply:
        """The clm.pb.GetJourneyReply: journey (name, definition with the
        webhook's secret as "***", defined_at_ms, created_at_ms, stats:
        entered, active, exited, completed, removed, per step sent,
        skipped_* and waiting, the webhook's counts), exact at the reply's
        position. Raises ClmError NOT_FOUND for an unknown journey."""
        return self._result("get_journey", pb.GetJourneyRequest(name=name),
                            timeout, min_position=min_position)

    def list_journeys(self, *, timeout: Optional[float] = _UNSET,
                      min_position: int = 0) -> pb.ListJourneysReply:
        """Every journey, by name, with its statistics
        (clm.pb.ListJourneysReply: journeys)."""
        return self._result("list_journeys", pb.ListJourneysRequest(),
                            timeout, min_position=min_position)

    def delete_journey(self, name: str, *,
                       timeout: Optional[float] = _UNSET,
                       min_position: int = 0) -> pb.DeleteJourneyReply:
        """Removes the journey and its statistics
        (clm.pb.DeleteJourneyReply: existed)."""
        return self._result("delete_journey", pb.DeleteJourneyRequest(
            name=name), timeout, min_position=min_position)

    def journey_messages(self, after: int = 0, limit: int = 0,
                         journey: str = "", *,
                         timeout: Optional[float] = _UNSET,
                         min_position: int = 0) -> pb.JourneyMessagesReply:
        """One page of the journeys' durable feed
        (clm.pb.JourneyMessagesReply): the messages (LifecycleEvents of
        kind JOURNEY_MESSAGE, position ascending) after position after (0:
        from the oldest kept), at most limit (0: 100; at most 1000), of
        journey ("": every journey); next_after is the next page's after,
        oldest and last the feed's ends."""
        return self._result("journey_messages", pb.JourneyMessagesRequest(
            after=after, limit=limit, journey=journey), timeout,
            min_position=min_position)

    def iter_journey_messages(self, after: int = 0, journey: str = "",
                             page_size: int = 0, *,
                             timeout: Optional[float] = _UNSET,
                             min_position: int = 0
                             ) -> Iterator[pb.LifecycleEvent]:
        """Every message of the feed after position after (of journey, ""
        : every one), oldest first, fetched a page (page_size, 0: 100) at
        a time as the iteration goes on; it ends at the newest. Keep the
        last message's position to go on from there later."""
        while True:
            reply = self.journey_messages(after, page_size, journey,
                                          timeout=timeout,
                                          min_position=min_position)
            yield from reply.messages
            if reply.next_after < after or (reply.messages
                                            and reply.next_after == after):
                # A position that does not move would never end the loop.
                raise ProtocolError("the server's next position %d does "
                                    "not follow %d"
                                    % (reply.next_after, after))
            if not reply.messages and reply.next_after == after:
                return
            after = reply.next_after

    def forget(self, customer_id: str, *,
               timeout: Optional[float] = _UNSET,
               min_position: int = 0) -> pb.ForgetCustomerReply:
        """Erases the customer and every touchpoint
        (clm.pb.ForgetCustomerReply: touchpoints_deleted, existed)."""
        return self._result("forget_customer", pb.ForgetCustomerRequest(
            customer_id=customer_id), timeout,
            min_position=min_position)

    forget_customer = forget

    def export(self, customer_id: str, *,
               timeout: Optional[float] = _UNSET,
               min_position: int = 0) -> pb.ExportCustomerReply:
        """The customer and every stored touchpoint, in event-time order
        (clm.pb.ExportCustomerReply)."""
        return self._result("export_customer", pb.ExportCustomerRequest(
            customer_id=customer_id), timeout,
            min_position=min_position)

    export_customer = export

    def status(self, *,
               timeout: Optional[float] = _UNSET,
               min_position: int = 0) -> pb.StatusReply:
        """Version, uptime, customers, touchpoints, database bytes
        (clm.pb.StatusReply)."""
        return self._result("server_status", pb.StatusRequest(), timeout,
                            min_position=min_position)

    server_status = status


class _ServerName:
    """Wraps an SSLContext to check another name than the URL's host."""

    def __init__(self, ctx, name):
        self._ctx = ctx
        self._name = name

    def wrap_socket(self, sock, server_hostname=None):
        return self._ctx.wrap_socket(sock, server_hostname=self._name)
