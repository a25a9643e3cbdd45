"""The SP (nanomsg/NNG scalability protocols) wire format, by hand.

One ``Pipe`` is one stream connection to an NNG socket:

- ``tcp://HOST:PORT`` (``[v6addr]:PORT`` too) and ``tls+tcp://HOST:PORT``
  (an ``ssl.SSLContext`` is needed): after connecting, each side sends the
  8-byte header ``00 53 50 00 PP PP 00 00`` ("\\0SP\\0", its 16-bit protocol
  number, two zero bytes); every message is then a 64-bit big-endian length
  and that many bytes;
- ``ipc:///PATH`` (a Unix-domain stream socket): the same header, but every
  message is one byte 0x01 (the message type), then the 64-bit length, then
  the bytes (NNG's and nanomsg's IPC transport).

Protocol numbers: REQ 0x0030, REP 0x0031, PUB 0x0020, SUB 0x0021. REQ puts a
32-bit request id with its top bit set in front of the body; REP echoes it.
"""

import socket
import ssl
import struct
import time

from .errors import ConnectionError, ProtocolError, TimeoutError

PROTO_REQ = 0x0030
PROTO_REP = 0x0031
PROTO_PUB = 0x0020
PROTO_SUB = 0x0021

PROTO_NAMES = {PROTO_REQ: "REQ", PROTO_REP: "REP", PROTO_PUB: "PUB",
               PROTO_SUB: "SUB", 0x0010: "PAIR", 0x0050: "PUSH",
               0x0051: "PULL", 0x0062: "SURVEYOR", 0x0063: "RESPONDENT",
               0x0070: "BUS"}

# A reply larger than this is taken for a broken peer (clmd's requests are
# at most 4 MiB by default; an ExportCustomer reply can be larger).
DEFAULT_MAX_RECV = 256 << 20


def header(proto):
    return b"\x00SP\x00" + struct.pack(">H", proto) + b"\x00\x00"


class Url:
    """A parsed tcp://, tls+tcp:// or ipc:// URL."""

    def __init__(self, url):
        self.url = url
        if url.startswith("ipc://"):
            self.scheme = "ipc"
            self.path = url[len("ipc://"):]
            if not self.path:
                raise ValueError("ipc:// URL without a path: %r" % url)
            self.host = self.port = None
            return
        for scheme in ("tcp", "tls+tcp", "tcp4", "tcp6"):
            prefix = scheme + "://"
            if url.startswith(prefix):
                break
        else:
            raise ValueError("unsupported URL %r: use tcp://HOST:PORT, "
                             "tls+tcp://HOST:PORT or ipc:///PATH" % url)
        self.scheme = "tls+tcp" if scheme == "tls+tcp" else "tcp"
        rest = url[len(prefix):]
        if rest.startswith("["):
            host, sep, port = rest[1:].partition("]:")
        else:
            host, sep, port = rest.rpartition(":")
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("URL %r needs HOST:PORT" % url)
        self.host = host or "127.0.0.1"
        self.port = int(port)
        self.path = None

    def __str__(self):
        return self.url


def remaining(deadline):
    """Seconds left until deadline (None: no deadline)."""
    if deadline is None:
        return None
    return deadline - time.monotonic()


class Pipe:
    """One connected, handshaken SP stream connection."""

    def __init__(self, url, proto, peer, deadline=None, tls=None,
                 max_recv=DEFAULT_MAX_RECV):
        if not isinstance(url, Url):
            url = Url(url)
        self.url = url
        self.proto = proto
        self.peer = peer
        self.max_recv = max_recv
        self.ipc = url.scheme == "ipc"
        self.sock = None
        left = remaining(deadline)
        if left is not None and left <= 0:
            raise TimeoutError("timed out before connecting to %s" % url)
        try:
            if self.ipc:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    s.settimeout(left)
                    s.connect(url.path)
                except BaseException:
                    s.close()
                    raise
            else:
                s = socket.create_connection((url.host, url.port), left)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if url.scheme == "tls+tcp":
                    if tls is None:
                        s.close()
                        raise ValueError(
                            "%s needs tls= (an ssl.SSLContext)" % url)
                    try:
                        s = tls.wrap_socket(s, server_hostname=url.host)
                    except BaseException:
                        s.close()
                        raise
        except socket.timeout as e:
            raise TimeoutError("timed out connecting to %s" % url) from e
        except ssl.SSLError as e:
            raise ConnectionError("TLS handshake with %s failed: %s"
                                  % (url, e)) from e
        except OSError as e:
            raise ConnectionError("cannot connect to %s: %s"
                                  % (url, e.strerror or e)) from e
        self.sock = s
        self._rbuf = bytearray()
        try:
            self._send_all(header(proto), deadline)
            self._fill(8, deadline)
            got = self._take(8)
        except BaseException:
            self.close()
            raise
        if got[:4] != b"\x00SP\x00" or got[6:8] != b"\x00\x00":
            self.close()
            raise ProtocolError("%s does not speak SP (got %s)"
                                % (url, got.hex(" ")))
        (theirs,) = struct.unpack(">H", got[4:6])
        if theirs != peer:
            self.close()
            raise ProtocolError(
                "%s is a %s socket, expected %s" % (
                    url, PROTO_NAMES.get(theirs, "0x%04x" % theirs),
                    PROTO_NAMES.get(peer, "0x%04x" % peer)))

    def close(self):
        s, self.sock = self.sock, None
        if s is not None:
            try:
                s.close()
            except OSError:
                pass

    @property
    def closed(self):
        return self.sock is None

    def fileno(self):
        return self.sock.fileno()

    def _settimeout(self, deadline):
        left = remaining(deadline)
        if left is not None and left <= 0:
            raise socket.timeout("timed out")
        self.sock.settimeout(left)

    def _send_all(self, data, deadline):
        try:
            self._settimeout(deadline)
            self.sock.sendall(data)
        except socket.timeout as e:
            # Part of a message may have gone out: the stream is unusable.
            self.close()
            raise TimeoutError("timed out sending to %s" % self.url) from e
        except OSError as e:
            raise ConnectionError("connection to %s broke while sending: %s"
                                  % (self.url, e.strerror or e)) from e

    def _fill(self, n, deadline):
        """Reads until the buffer holds at least n bytes (a stream read may
        return less than asked). On a timeout the bytes read so far stay in
        the buffer, so the pipe stays usable."""
        while len(self._rbuf) < n:
            try:
                self._settimeout(deadline)
                chunk = self.sock.recv(max(65536, min(n - len(self._rbuf),
                                                      4 << 20)))
            except socket.timeout as e:
                raise TimeoutError("timed out waiting for %s"
                                   % self.url) from e
            except OSError as e:
                raise ConnectionError("connection to %s broke: %s"
                                      % (self.url, e.strerror or e)) from e
            if not chunk:
                raise ConnectionError("%s closed the connection" % self.url)
            self._rbuf += chunk

    def _take(self, n):
        data = bytes(self._rbuf[:n])
        del self._rbuf[:n]
        return data

    def send(self, payload, deadline=None):
        """Sends one message (payload: bytes, or a list of bytes parts)."""
        if isinstance(payload, (list, tuple)):
            payload = b"".join(payload)
        n = struct.pack(">Q", len(payload))
        self._send_all((b"\x01" + n if self.ipc else n) + payload, deadline)

    def recv(self, deadline=None):
        """Receives one message; returns its bytes. Raises TimeoutError
        (the pipe stays usable) or ConnectionError (it does not)."""
        hl = 9 if self.ipc else 8
        self._fill(hl, deadline)
        if self.ipc and self._rbuf[0] != 1:
            raise ProtocolError("%s sent IPC message type %d"
                                % (self.url, self._rbuf[0]))
        (n,) = struct.unpack(">Q", self._rbuf[hl - 8:hl])
        if n > self.max_recv:
            raise ProtocolError("%s sent a %d-byte message (limit %d)"
                                % (self.url, n, self.max_recv))
        self._fill(hl + n, deadline)
        del self._rbuf[:hl]
        return self._take(n)
