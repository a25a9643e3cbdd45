"""Exceptions raised by the clm client."""

from __future__ import annotations

import builtins
from typing import Any, Iterable, Optional, Tuple, Union


class ClmError(Exception):
    """clmd answered with a Status that is not OK, or the call failed.

    ``code``: a ``clm.Code`` (an IntEnum: ``code.name`` is "NOT_FOUND",
    ``int(code)`` is 5, and ``code == "NOT_FOUND"`` and ``code == 5`` are
    both true through ``code_name`` / ``code_number``);
    ``message``: the server's message;
    ``violations``: a list of (field, description) tuples, e.g.
    ``("touchpoints[1].channel", "unknown channel 99")``;
    ``response``: the whole ``clm.pb.Response`` (None when there was none).
    """

    def __init__(self, code: Union[int, str], message: str,
                 violations: Iterable[Tuple[str, str]] = (),
                 response: Any = None) -> None:
        from . import _enums  # late: _enums needs the generated module
        self.code: int = _enums.code(code)
        self.message = message
        self.violations = [(str(f), str(d)) for f, d in violations]
        self.response = response
        super().__init__(self._text())

    @property
    def code_name(self) -> str:
        return getattr(self.code, "name", str(int(self.code)))

    @property
    def code_number(self) -> int:
        return int(self.code)

    def _text(self) -> str:
        s = "%s (%d): %s" % (self.code_name, self.code_number, self.message)
        if self.violations:
            s += " [" + "; ".join("%s: %s" % v for v in self.violations) + "]"
        return s

    def violation(self, field: str) -> Optional[str]:
        """The description of the violation of `field`, or None."""
        for f, d in self.violations:
            if f == field:
                return d
        return None

    @classmethod
    def from_status(cls, status: Any, response: Any = None) -> ClmError:
        return cls(status.code, status.message,
                   [(v.field, v.description) for v in status.violations],
                   response)


class ConnectionError(ClmError, builtins.ConnectionError):
    """clmd could not be reached, or the connection broke and could not be
    re-established within the call's timeout. Code UNAVAILABLE. Also a
    builtins.ConnectionError (an OSError)."""

    def __init__(self, message: str, code: Union[int, str] = "UNAVAILABLE"
                 ) -> None:
        ClmError.__init__(self, code, message)

    def __str__(self) -> str:
        return self._text()


class TimeoutError(ConnectionError, builtins.TimeoutError):
    """No reply within the call's timeout. Code DEADLINE_EXCEEDED. Every write
    is idempotent, so retrying the same call is safe."""

    def __init__(self, message: str) -> None:
        ConnectionError.__init__(self, message, "DEADLINE_EXCEEDED")


class ProtocolError(ConnectionError):
    """The peer does not speak the expected SP protocol (not clmd, or not the
    socket asked for: REQ/REP vs PUB/SUB)."""
