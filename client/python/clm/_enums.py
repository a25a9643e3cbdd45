"""IntEnums made from the .proto's enums, and name/number conversion."""

from __future__ import annotations

import enum
from typing import Any, Dict, Union

from . import _gen

pb = _gen.load()

ENUM_NAMES = ["Code", "TouchpointType", "Channel", "Stage", "Health",
              "FunnelPosition", "RiskReason", "RecommendationKind",
              "Granularity", "LifecycleEventKind"]

_by_descriptor: Dict[str, Any] = {}


def _make(name: str) -> Any:
    # Typed Any: the members come from the .proto at run time, and a type
    # checker is to let clm.Stage.REACH through.
    desc = pb.DESCRIPTOR.enum_types_by_name[name]
    members = [(v.name, v.number) for v in desc.values]
    e = enum.IntEnum(name, members, module="clm")  # type: ignore[misc]
    e.__doc__ = "clm.v1.%s: accepted by name (%r) or number." % (
        name, desc.values[-1].name)
    _by_descriptor[desc.full_name] = e
    return e


Code = _make("Code")
TouchpointType = _make("TouchpointType")
Channel = _make("Channel")
Stage = _make("Stage")
Health = _make("Health")
FunnelPosition = _make("FunnelPosition")
RiskReason = _make("RiskReason")
RecommendationKind = _make("RecommendationKind")
Granularity = _make("Granularity")
LifecycleEventKind = _make("LifecycleEventKind")


def for_descriptor(enum_descriptor):
    """The IntEnum of a protobuf EnumDescriptor (None if not one of ours)."""
    return _by_descriptor.get(enum_descriptor.full_name)


def value(enum_descriptor, v, field="value"):
    """The number of v for the enum: v may be an int, an IntEnum member or a
    name ("PURCHASE"; case and '-'/'_' are forgiven: "purchase",
    "paid-ads"). Unknown names raise ValueError; unknown numbers pass (the
    server rejects them with a FieldViolation)."""
    if isinstance(v, bool):
        raise TypeError("%s: expected a %s name or number, got a bool"
                        % (field, enum_descriptor.name))
    if isinstance(v, int):
        return int(v)
    if isinstance(v, str):
        ev = enum_descriptor.values_by_name.get(v)
        if ev is None:
            ev = enum_descriptor.values_by_name.get(
                v.strip().upper().replace("-", "_").replace(" ", "_"))
        if ev is None:
            raise ValueError("%s: unknown %s %r (one of: %s)" % (
                field, enum_descriptor.name, v,
                ", ".join(x.name for x in enum_descriptor.values)))
        return ev.number
    raise TypeError("%s: expected a %s name or number, got %r"
                    % (field, enum_descriptor.name, v))


def name(enum_type: Any, number: int) -> str:
    """The name of number in enum_type (an IntEnum or its name), or the
    number as a string when it is not a known value."""
    if isinstance(enum_type, str):
        enum_type = globals()[enum_type]
    try:
        return enum_type(int(number)).name
    except ValueError:
        return str(int(number))


def code(c: Union[int, str]) -> int:
    """A Code member for a code name or number (an int if unknown)."""
    if isinstance(c, str):
        return Code(value(Code_descriptor, c, "code"))
    try:
        return Code(int(c))
    except ValueError:
        return int(c)


Code_descriptor = pb.DESCRIPTOR.enum_types_by_name["Code"]
