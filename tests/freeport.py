"""A loopback TCP port for a server a test is about to start (as freeport.h).

Not the kernel's pick for a bind to port 0: that comes from the ephemeral
range, which every outbound connect() takes its local port from too, so
another test's connection could take it before the server binds it
("Address in use"). The kernel never hands out a port below that range by
itself, so pick() returns, at random, a port below the range that can be
bound on every IPv4 address now; never the same one twice in a process.
"""

import random
import socket
import threading

_LOW = 10000  # ports below are left to system services
_lock = threading.Lock()
_given = set()  # the ports returned
_rng = random.SystemRandom()


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 0
    return low if _LOW + 1000 < low <= 65535 else 32768


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
    high = _ephemeral_low()
    with _lock:
        for _ in range(4 * (high - _LOW)):
            port = _rng.randrange(_LOW, high)
            if port not in _given and _bindable(port):
                _given.add(port)
                return port
    raise OSError("freeport: no free port below %d" % high)
