"""Request messages from keyword fields, with errors that name the keyword a caller wrote."""

import datetime
from typing import Any, TypeVar

from google.protobuf import json_format, timestamp_pb2
from google.protobuf.message import Message

RequestT = TypeVar("RequestT", bound=Message)


def build_request(caller: str, message_class: type[RequestT], fields: dict[str, Any]) -> RequestT:
    """A request message from keyword fields named as in Python (the proto names, e.g. parent_job_ids).

    Values are those of the proto3 JSON mapping (dicts for Struct and
    messages, any JSON value for Value), datetimes for timestamps (naive
    ones are UTC) and enum values by number, full or short name. An unknown
    keyword (the JSON name jobId included) raises TypeError, a value of the
    wrong kind ValueError, each naming the caller (e.g. "record_job()") and
    the keyword.
    """
    descriptors = message_class.DESCRIPTOR.fields_by_name
    request = message_class()
    for name, value in fields.items():
        descriptor = descriptors.get(name)
        if descriptor is None:
            raise TypeError(f"{caller} got an unexpected keyword argument {name!r}; its fields are {', '.join(sorted(descriptors))}")
        try:
            # One field at a time, so that a refused value is told by the keyword that carried it.
            json_format.ParseDict({name: _json_value(descriptor, value)}, request)
        except json_format.ParseError as error:
            raise ValueError(f"{caller} argument {name!r}: {_reason(error)}") from None
    return request


def _reason(error: json_format.ParseError) -> str:
    # ParseDict says "Failed to parse <name> field: <reason>."; the keyword is named already.
    text = str(error)
    prefix, separator, reason = text.partition(" field: ")
    return reason.rstrip(".") if separator and prefix.startswith("Failed to parse ") else text


def _json_value(descriptor, value: Any) -> Any:
    if isinstance(value, Message):
        return json_format.MessageToDict(value, preserving_proto_field_name=True)
    if isinstance(value, datetime.datetime):
        timestamp = timestamp_pb2.Timestamp()
        timestamp.FromDatetime(value)  # naive datetimes are taken as UTC
        return timestamp.ToJsonString()
    enum = descriptor.enum_type
    if enum is not None and isinstance(value, str) and value not in enum.values_by_name:
        # Enum values are named <PREFIX>_<NAME>, the prefix being that of <PREFIX>_UNSPECIFIED.
        return enum.values[0].name[: -len("UNSPECIFIED")] + value
    return value
