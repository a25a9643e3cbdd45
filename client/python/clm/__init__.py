"""Python client of clm, the customer-lifecycle engine.

    import clm
    c = clm.Client()                       # tcp://127.0.0.1:7450
    c.track(customer_id="alice", type="PURCHASE", value=30, currency="EUR")
    print(clm.Stage(c.customer("alice").stage).name)

Pure Python (standard library + google.protobuf): the SP wire protocol of
NNG is written by hand (clm.transport), and the protobuf classes are
generated from proto/clm/v1/clm.proto by protoc: when the wheel is built
(it carries them, with type stubs), or in a source checkout on first
import (clm._gen). They are ``clm.pb`` (``clm.pb.Touchpoint``,
``clm.pb.Customer``, ...).
"""

from typing import TYPE_CHECKING

from . import _gen

if TYPE_CHECKING:
    from .v1 import clm_pb2 as pb
else:
    pb = _gen.load()

from ._enums import (Channel, Code, FunnelPosition, Granularity,  # noqa: E402
                     Health, LifecycleEventKind, RecommendationKind,
                     RiskReason, Stage, TouchpointType, name)
from ._convert import to_dict, to_ms  # noqa: E402
from .client import (DEFAULT_EVENTS_URL, DEFAULT_URL, Client,  # noqa: E402
                     tls_context)
from .errors import (ClmError, ConnectionError, ProtocolError,  # noqa: E402
                     TimeoutError)
from .watch import Watcher, watch  # noqa: E402

__version__ = "0.1.0"

# ConnectionError and TimeoutError are left out of __all__: a star import
# would shadow the built-in ones (use clm.ConnectionError, clm.TimeoutError).
__all__ = [
    "Client", "watch", "Watcher", "ClmError", "ProtocolError", "pb",
    "to_dict", "to_ms", "name",
    "tls_context", "DEFAULT_URL", "DEFAULT_EVENTS_URL",
    "Code", "TouchpointType", "Channel", "Stage", "Health", "FunnelPosition",
    "RiskReason", "RecommendationKind", "Granularity", "LifecycleEventKind",
]
