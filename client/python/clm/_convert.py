"""Protobuf messages from Python values (dicts, kwargs, tuples) and back."""

from __future__ import annotations

import datetime
from typing import Any, Dict

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from . import _enums

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def to_ms(v: Any, field: str = "time") -> int:
    """Unix milliseconds from an int (ms), a datetime (naive = UTC), a date
    (00:00 UTC) or an ISO 8601 string ("2026-01-10", "2026-01-10T08:00Z")."""
    if v is None:
        return 0
    if isinstance(v, bool):
        raise TypeError("%s: expected unix ms or a datetime, got a bool"
                        % field)
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return int(v)
    if isinstance(v, str):
        text = v.strip()
        if text[-1:] in ("Z", "z"):  # fromisoformat takes "Z" from 3.11 on
            text = text[:-1] + "+00:00"
        try:
            v = datetime.datetime.fromisoformat(text)
        except ValueError as e:
            raise ValueError("%s: %r is not an ISO 8601 date or time"
                             % (field, v)) from e
    if isinstance(v, datetime.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=datetime.timezone.utc)
        return (v - _EPOCH) // datetime.timedelta(milliseconds=1)
    if isinstance(v, datetime.date):
        return to_ms(datetime.datetime(v.year, v.month, v.day), field)
    raise TypeError("%s: expected unix ms, a datetime, a date or an ISO "
                    "string, got %r" % (field, v))


def _is_map(fd):
    return (fd.type == FieldDescriptor.TYPE_MESSAGE
            and fd.message_type.GetOptions().map_entry)


def _scalar(fd, v, path):
    if fd.type == FieldDescriptor.TYPE_ENUM:
        return _enums.value(fd.enum_type, v, path)
    if fd.type in (FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT64,
                   FieldDescriptor.TYPE_SFIXED64) and fd.name.endswith("_ms"):
        return to_ms(v, path)
    return v


def _map_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return v if isinstance(v, str) else str(v)


def fill(msg, values, path=""):
    """Sets the fields of msg from the dict values; returns msg."""
    desc = msg.DESCRIPTOR
    for key, v in values.items():
        if v is None:
            continue
        fd = desc.fields_by_name.get(key)
        if fd is None:
            raise TypeError("%s has no field %r (fields: %s)" % (
                desc.name, key, ", ".join(desc.fields_by_name)))
        fpath = path + key
        try:
            if _is_map(fd):
                target = getattr(msg, key)
                vfd = fd.message_type.fields_by_name["value"]
                for k, x in dict(v).items():
                    if vfd.type == FieldDescriptor.TYPE_MESSAGE:
                        sub = target[k]
                        build(type(sub), x, "%s[%s]." % (fpath, k), into=sub)
                    elif vfd.type == FieldDescriptor.TYPE_STRING:
                        target[str(k)] = _map_value(x)
                    else:
                        target[k] = _scalar(vfd, x, "%s[%s]" % (fpath, k))
            elif fd.label == FieldDescriptor.LABEL_REPEATED:
                if isinstance(v, (str, bytes, dict, Message)):
                    v = [v]  # one item where a list is expected
                target = getattr(msg, key)
                if fd.type == FieldDescriptor.TYPE_MESSAGE:
                    for i, x in enumerate(v):
                        sub = target.add()
                        build(type(sub), x, "%s[%d]." % (fpath, i), into=sub)
                else:
                    target.extend(_scalar(fd, x, "%s[%d]" % (fpath, i))
                                  for i, x in enumerate(v))
            elif fd.type == FieldDescriptor.TYPE_MESSAGE:
                sub = getattr(msg, key)
                build(type(sub), v, fpath + ".", into=sub)
                sub.SetInParent()
            else:
                setattr(msg, key, _scalar(fd, v, fpath))
        except (TypeError, ValueError) as e:
            text = str(e)
            if not text.startswith(fpath):
                text = "%s: %s" % (fpath, text)
            raise type(e)(text) from None
    return msg


def build(cls, value=None, path="", into=None, fields=None):
    """A cls message from value: a cls message (copied), a dict of fields,
    a (lat, lon) tuple for a GeoPoint, or None; fields: a dict of more
    fields (set after value's). into: fill
    this message (of type cls) instead of a new one."""
    msg = into if into is not None else cls()
    if isinstance(value, Message):
        if value.DESCRIPTOR.full_name != cls.DESCRIPTOR.full_name:
            raise TypeError("%sexpected a %s, got a %s" % (
                path, cls.DESCRIPTOR.name, value.DESCRIPTOR.name))
        msg.CopyFrom(value)
    elif isinstance(value, dict):
        fill(msg, value, path)
    elif (isinstance(value, (tuple, list))
          and cls.DESCRIPTOR.name == "GeoPoint"):
        lat, lon = value
        msg.lat, msg.lon = lat, lon
    elif value is not None:
        raise TypeError("%sexpected a %s or a dict, got %r" % (
            path, cls.DESCRIPTOR.name, value))
    if fields:
        fill(msg, fields, path)
    return msg


def to_dict(msg: Message, enums_as_names: bool = True,
            including_default_value_fields: bool = False) -> Dict[str, Any]:
    """A dict of msg with the .proto's field names (snake_case) and enum
    names; 64-bit integers stay ints."""
    d = json_format.MessageToDict(
        msg, preserving_proto_field_name=True,
        including_default_value_fields=including_default_value_fields,
        use_integers_for_enums=not enums_as_names)
    return _ints(msg.DESCRIPTOR, d)


_INT64 = (FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_UINT64,
          FieldDescriptor.TYPE_SINT64, FieldDescriptor.TYPE_FIXED64,
          FieldDescriptor.TYPE_SFIXED64)


def _ints(desc, d):
    """MessageToDict writes 64-bit integers as strings (proto3 JSON): undo."""
    for key, v in d.items():
        fd = desc.fields_by_name.get(key)
        if fd is None:
            continue
        if _is_map(fd):
            vfd = fd.message_type.fields_by_name["value"]
            if vfd.type == FieldDescriptor.TYPE_MESSAGE:
                for x in v.values():
                    _ints(vfd.message_type, x)
            elif vfd.type in _INT64:
                d[key] = {k: int(x) for k, x in v.items()}
        elif fd.type == FieldDescriptor.TYPE_MESSAGE:
            for x in (v if isinstance(v, list) else [v]):
                _ints(fd.message_type, x)
        elif fd.type in _INT64:
            d[key] = [int(x) for x in v] if isinstance(v, list) else int(v)
    return d
