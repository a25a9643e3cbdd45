"""SP over TCP by hand (docs/api.md "Transport") and the few protobuf
messages segment_oracle_test.py sends and reads, encoded and decoded here
from proto/clm/v1/clm.proto's field numbers, and the HTTP event stream
(docs/api.md "HTTP event stream"). Python 3 standard library only.
"""

import json
import socket
import struct
import threading
import time

# ------------------------------------------------------------- protobuf


def _varint(n):
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pb_int(field, n):
    return _varint(field << 3) + _varint(n) if n else b""


def pb_bytes(field, b):
    if isinstance(b, str):
        b = b.encode()
    return _varint((field << 3) | 2) + _varint(len(b)) + b


def pb_decode(buf):
    """{field: [value, ...]}: ints for varints, bytes otherwise."""
    out = {}
    i = 0
    n = len(buf)
    while i < n:
        key, i = _read_varint(buf, i)
        field, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _read_varint(buf, i)
        elif wt == 1:
            v, i = buf[i:i + 8], i + 8
        elif wt == 2:
            ln, i = _read_varint(buf, i)
            v, i = buf[i:i + ln], i + ln
        elif wt == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError("wire type %d" % wt)
        out.setdefault(field, []).append(v)
    return out


def _read_varint(buf, i):
    shift = n = 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


def pb_first(msg, field, default=None):
    v = msg.get(field)
    return v[0] if v else default


def pb_str(msg, field):
    return pb_first(msg, field, b"").decode("utf-8", "replace")


def pb_int64(msg, field):
    v = pb_first(msg, field, 0)
    return v - (1 << 64) if v >= 1 << 63 else v


# ------------------------------------------------------------------- SP


def _recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed")
        buf += chunk
    return bytes(buf)


def _connect(host, port, mine, theirs, timeout):
    s = socket.create_connection((host, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(b"\x00SP\x00" + struct.pack(">H", mine) + b"\x00\x00")
    got = _recv_exact(s, 8)
    if got != b"\x00SP\x00" + struct.pack(">H", theirs) + b"\x00\x00":
        s.close()
        raise ConnectionError("bad SP handshake %r" % got)
    return s


def split_url(url):
    assert url.startswith("tcp://"), url
    host, port = url[6:].rsplit(":", 1)
    return host, int(port)


class Req:
    """One REQ connection: call(body) -> Response fields."""

    def __init__(self, url, timeout=60):
        self.host, self.port = split_url(url)
        self.timeout = timeout
        self.sock = None
        self.next_id = 1

    def call(self, body):
        for attempt in range(3):
            try:
                if self.sock is None:
                    self.sock = _connect(self.host, self.port, 0x30, 0x31,
                                         self.timeout)
                rid = 0x80000000 | self.next_id
                self.next_id += 1
                msg = struct.pack(">I", rid) + body
                self.sock.sendall(struct.pack(">Q", len(msg)) + msg)
                while True:
                    ln = struct.unpack(">Q", _recv_exact(self.sock, 8))[0]
                    data = _recv_exact(self.sock, ln)
                    if struct.unpack(">I", data[:4])[0] == rid:
                        return pb_decode(data[4:])
            except (OSError, ConnectionError):
                if self.sock is not None:
                    self.sock.close()
                self.sock = None
                if attempt == 2:
                    raise
                time.sleep(0.2)
        raise AssertionError("unreachable")

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def status_of(resp):
    st = pb_decode(pb_first(resp, 2, b""))
    return pb_first(st, 1, 0), pb_str(st, 2)


def get_segment(req, name, as_of_ms=0, members=False, page_size=0,
                page_token=""):
    """(code, message, count, members, next_page_token, as_of_ms)."""
    body = (pb_bytes(1, name) + pb_int(2, 1 if members else 0) +
            pb_int(3, page_size) +
            (pb_bytes(4, page_token) if page_token else b"") +
            pb_int(6, as_of_ms))
    resp = req.call(pb_bytes(24, body))
    code, message = status_of(resp)
    rep = pb_decode(pb_first(resp, 24, b""))
    seg = pb_decode(pb_first(rep, 1, b""))
    mem = [m.decode() for m in rep.get(2, [])]
    return (code, message, pb_first(seg, 3, 0), mem, pb_str(rep, 3),
            pb_int64(rep, 5))


def get_segment_members(req, name, as_of_ms=0, page_size=500):
    """(code, message, count, all members over every page)."""
    out = []
    token = ""
    count = None
    for _ in range(10000):
        code, msg, cnt, mem, token, _ = get_segment(
            req, name, as_of_ms, True, page_size, token)
        if code != 0:
            return code, msg, cnt, out
        count = cnt if count is None else count
        out += mem
        if not token:
            return 0, "", count, out
    raise AssertionError("paging did not end")


def get_customer_segments(req, cid, as_of_ms=0):
    """(code, message, [segment names])."""
    resp = req.call(pb_bytes(11, pb_bytes(1, cid) + pb_int(2, as_of_ms)))
    code, message = status_of(resp)
    cust = pb_decode(pb_first(resp, 11, b""))
    return code, message, [s.decode() for s in cust.get(21, [])]


def track(req, tps):
    """Tracks [(event_id, customer_id, type_num, at_ms)]; (code, message,
    accepted, [changes as event dicts])."""
    body = b""
    for eid, cid, ty, at in tps:
        body += pb_bytes(1, pb_bytes(1, eid) + pb_bytes(2, cid) +
                         pb_int(4, ty) + pb_int(5, 1) + pb_int(6, at))
    resp = req.call(pb_bytes(10, body))
    code, message = status_of(resp)
    rep = pb_decode(pb_first(resp, 10, b""))
    return code, message, pb_first(rep, 1, 0), [
        event_dict(b"", c) for c in rep.get(4, [])]


def event_dict(topic, body):
    ev = pb_decode(body)
    return {"topic": topic.decode("utf-8", "replace"),
            "kind": pb_first(ev, 1, 0), "customer": pb_str(ev, 2),
            "at_ms": pb_int64(ev, 6), "seq": pb_first(ev, 8, 0),
            "segment": pb_str(ev, 9), "event_id": pb_str(ev, 7)}


# ------------------------------------------------------------------ SSE

KINDS = {"LIFECYCLE_EVENT_KIND_UNSPECIFIED": 0, "STAGE_CHANGED": 1,
         "RISK_SIGNAL": 2, "SEGMENT_ENTERED": 3, "SEGMENT_EXITED": 4}


class Sse:
    """GET /api/events on clmd's --http (docs/api.md "HTTP event stream")
    from the first retained event, read by its own thread into
    self.events as Sub does; a lost connection resumes after the last id
    read, and an `event: gap` is kept in self.gaps."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.lock = threading.Lock()
        self.events = []
        self.gaps = []
        self.error = None
        self.closed = False
        self.last_id = 0
        self.sock = None
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def connect(self):
        s = socket.create_connection((self.host, self.port), timeout=10)
        s.sendall(("GET /api/events?last_event_id=%d HTTP/1.1\r\n"
                   "Host: %s:%d\r\nAccept: text/event-stream\r\n\r\n"
                   % (self.last_id, self.host, self.port)).encode())
        s.settimeout(None)
        f = s.makefile("rb")
        status = f.readline()
        if b" 200 " not in status:
            s.close()
            raise ConnectionError("GET /api/events: %r" % status)
        while f.readline().strip():
            pass
        return s, f

    def run(self):
        failures = 0
        while not self.closed:
            try:
                self.sock, f = self.connect()
                failures = 0
                self.read(f)
            except (OSError, ConnectionError, ValueError) as e:
                if self.closed:
                    return
                failures += 1
                if failures > 50:
                    self.error = repr(e)
                    return
                time.sleep(0.1)

    def read(self, f):
        ev_id, ev_type, data = None, None, None
        for raw in f:
            line = raw.rstrip(b"\r\n").decode("utf-8", "replace")
            if line.startswith(":"):
                continue
            if line == "":
                if ev_type == "gap":
                    with self.lock:
                        self.gaps.append(data)
                elif ev_type == "lifecycle" and data is not None:
                    o = json.loads(data)
                    kind = o.get("kind", 0)
                    kind = KINDS.get(kind, kind) if isinstance(
                        kind, str) else kind
                    ev = {"topic": "", "kind": kind,
                          "customer": o.get("customerId", ""),
                          "at_ms": int(o.get("atMs", 0)),
                          "seq": int(o.get("seq", 0)),
                          "segment": o.get("segment", ""),
                          "event_id": o.get("eventId", "")}
                    with self.lock:
                        self.events.append(ev)
                if ev_id is not None:
                    self.last_id = ev_id
                ev_id, ev_type, data = None, None, None
                continue
            k, _, v = line.partition(":")
            v = v[1:] if v.startswith(" ") else v
            if k == "id":
                ev_id = int(v)
            elif k == "event":
                ev_type = v
            elif k == "data":
                data = v
        raise ConnectionError("stream ended")

    def snapshot(self):
        with self.lock:
            return list(self.events)

    def close(self):
        self.closed = True
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()
