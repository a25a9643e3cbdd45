"""A loopback TCP port for a server a test is about to start (as freeport.h).

Not the kernel's pick for a bind to port 0: that comes from the ephemeral
range, which every outbound connect() takes its local port from too, so
another test's connection could take it before the server binds it
("Address in use"). The kernel never hands out a port below that range by
itself, so pick() returns, at random, a port outside the range (below it,
or above it when it starts low) that can be bound on every IPv4 address
now; never the same one twice in a process.
"""

import random
import socket
import sys
import threading

_LOW = 10000  # ports below are left to system services
_lock = threading.Lock()
_given = set()  # the ports returned
_rng = random.SystemRandom()
_said = False  # the warning of _range


def _range():
    """The ports to pick from, [lo, hi), as tests/freeport.c's
    freeport_range: below the ephemeral range when there is room for
    1,000 there, else above it, else all (said once on stderr); the
    range's last port left out."""
    global _said
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split()[:2])
        if not 1 <= low <= high <= 65535:
            raise ValueError
    except (OSError, ValueError):
        low, high = 32768, 60999  # Linux's default
    if low > _LOW + 1000:
        return _LOW, low - 1
    if high < 65535 - 1000:
        return high + 1, 65535
    if not _said:
        sys.stderr.write("freeport: the ephemeral ports are %d-%d: a "
                         "connection may take a test server's port\n"
                         % (low, high))
        _said = True
    return _LOW, 65535


def _bindable(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("0.0.0.0", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def pick():
    """A TCP port free on 0.0.0.0 right now; never the same twice."""
    with _lock:
        lo, hi = _range()
        for _ in range(4 * (hi - lo)):
            port = _rng.randrange(lo, hi)
            if port not in _given and _bindable(port):
                _given.add(port)
                return port
    raise OSError("freeport: no free port in %d-%d" % (lo, hi - 1))
