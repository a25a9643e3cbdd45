"""clm.watch: the stage-change stream (PUB/SUB)."""

from __future__ import annotations

import os
import ssl
import time
from typing import TYPE_CHECKING, Any, Iterator, Optional, Tuple

from google.protobuf.message import DecodeError

from . import _enums
from .client import DEFAULT_EVENTS_URL, tls_context
from .errors import ConnectionError, TimeoutError
from .transport import PROTO_PUB, PROTO_SUB, Pipe, Url, remaining

if TYPE_CHECKING:
    from .v1 import clm_pb2 as pb
else:
    pb = _enums.pb

# "The Watcher's timeout": Any, to fit the Optional[float] it stands for.
_UNSET: Any = object()


class Watcher:
    """A subscription to clmd's event stream. Iterate over it for
    (topic, clm.pb.LifecycleEvent) pairs, or call recv(timeout).

    Topics are ``stage/<STAGE>`` and ``risk/<REASON>``; only those that
    start with prefix are returned ("" = all). PUB/SUB is lossy: events
    published before the subscription is up, while it reconnects, or
    while the reader is slow are lost. ``seq`` increases by one per
    published event (every topic): ``missed`` counts the gaps seen, and
    ``last_seq`` is the seq of the latest event received (any topic).
    """

    def __init__(self, url: Optional[str] = None, prefix: str = "",
                 timeout: Optional[float] = None, *,
                 connect_timeout: Optional[float] = 5.0,
                 reconnect: bool = True,
                 tls: Optional[ssl.SSLContext] = None) -> None:
        self.url: str = (url or os.environ.get("CLM_EVENTS_URL")
                    or DEFAULT_EVENTS_URL)
        self._url = Url(self.url)
        self.prefix = prefix or ""
        self.timeout = timeout
        self.reconnect = reconnect
        if tls is None and self._url.scheme == "tls+tcp":
            tls = tls_context(os.environ.get("CLM_TLS_CA"),
                              os.environ.get("CLM_TLS_CERT"))
        self._tls = tls
        self.last_seq = 0
        self.missed = 0
        self.reconnects = 0
        self._pipe: Optional[Pipe] = None
        self._pipe = Pipe(self._url, PROTO_SUB, PROTO_PUB,
                          None if connect_timeout is None
                          else time.monotonic() + connect_timeout, tls)

    def __repr__(self) -> str:
        return "clm.Watcher(%r, prefix=%r)" % (self.url, self.prefix)

    def __enter__(self) -> Watcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pipe is not None:
            self._pipe.close()
            self._pipe = None
        self.reconnect = False

    def __iter__(self) -> Iterator[Tuple[str, pb.LifecycleEvent]]:
        return self

    def __next__(self) -> Tuple[str, pb.LifecycleEvent]:
        got = self.recv(self.timeout)
        if got is None:
            raise TimeoutError("no event from %s within %ss"
                               % (self.url, self.timeout))
        return got

    def recv(self, timeout: Optional[float] = _UNSET
             ) -> Optional[Tuple[str, pb.LifecycleEvent]]:
        """The next (topic, LifecycleEvent) whose topic starts with the
        prefix, or None when timeout (seconds; default the Watcher's; None =
        wait for ever) passes first. Reconnects when the connection breaks
        (unless reconnect=False: then raises clm.ConnectionError)."""
        if timeout is _UNSET:
            timeout = self.timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        backoff = 0.05
        while True:
            if self._pipe is None:
                if not self.reconnect:
                    raise ConnectionError("watcher on %s is closed" % self.url)
                try:
                    self._pipe = Pipe(self._url, PROTO_SUB, PROTO_PUB,
                                      deadline, self._tls)
                    self.reconnects += 1
                    backoff = 0.05
                except TimeoutError:
                    return None
                except ConnectionError:
                    left = remaining(deadline)
                    if left is not None and left <= 0:
                        return None
                    time.sleep(backoff if left is None else min(backoff, left))
                    backoff = min(backoff * 2, 1.0)
                    continue
            try:
                msg = self._pipe.recv(deadline)
            except TimeoutError:
                return None
            except ConnectionError:
                self._pipe.close()
                self._pipe = None
                if not self.reconnect:
                    raise
                continue
            topic, sep, body = msg.partition(b"\0")
            if not sep:
                continue  # not a clm event
            try:
                ev = pb.LifecycleEvent.FromString(body)
            except DecodeError:
                continue
            if ev.seq:
                if self.last_seq and ev.seq > self.last_seq + 1:
                    self.missed += ev.seq - self.last_seq - 1
                self.last_seq = ev.seq
            name = topic.decode("utf-8", "replace")
            if name.startswith(self.prefix):
                return name, ev


def watch(url: Optional[str] = None, prefix: str = "stage/",
          timeout: Optional[float] = None, **kw: Any) -> Watcher:
    """Subscribes to clmd's event stream (default ``$CLM_EVENTS_URL`` or
    tcp://127.0.0.1:7451) and returns a Watcher: iterate over it for
    (topic, clm.pb.LifecycleEvent) pairs whose topic starts with prefix::

        for topic, ev in clm.watch(prefix="stage/"):
            print(topic, ev.customer_id, clm.Stage(ev.to_stage).name, ev.seq)

    timeout: seconds without an event after which iteration raises
    clm.TimeoutError (None: wait for ever). Connects before returning
    (raises clm.ConnectionError when nothing listens at url)."""
    return Watcher(url, prefix, timeout, **kw)
