#!/usr/bin/env python3
"""Interop test: the Python client's SP framing (client/python, package
clm) against fake SP peers, no clmd (tests/interop/pyclmd.py): split
reads, stale replies, timeouts and a late reply, a resend over a new
connection after a broken one.
"""

import socket
import struct
import sys
import threading
import time

# pyclmd makes the client (client/python) importable: clm from there.
from pyclmd import check, clm, expect, expect_eq, main, pb


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


if __name__ == "__main__":
    sys.exit(main(clmd=False))
