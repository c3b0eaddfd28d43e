"""Protobuf ↔ JSON for the HTTP API (the proto3 JSON mapping, field names as in the .proto).

Replies: ``MessageToDict(preserving_proto_field_name=True)``, with fields that have no presence
printed at their defaults, so a browser sees ``"tasks_labeled": "0"`` and ``"versions": []``
instead of a missing key. 64-bit integers are strings, as the mapping says (JavaScript numbers
cannot hold them); enums are their full names (``"TASK_STATE_QUEUED"``).

Requests: ``ParseDict`` into the request message; anything it refuses — an unknown field, a
wrong type, an enum name that does not exist, a number out of range, an unpaired surrogate —
is INVALID_ARGUMENT with the path of the bad field.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.descriptor import EnumDescriptor
from google.protobuf.message import Message
from labelops_core.errors import FieldViolation, InvalidArgument

M = TypeVar("M", bound=Message)

# ParseError messages end in '... at "CreateOntologyRequest.definition.classes[0]".' (or
# without the quotes); the path after the message name is the bad field.
_AT = re.compile(r'\bat "?([A-Za-z_][\w.\[\]]*?)"?\.*(?:\s|$)')
_NO_FIELD = re.compile(r'has no field named "([^"]+)"')
_FAILED_FIELD = re.compile(r"Failed to parse (\w+) field")
_MAX_DESCRIPTION = 300


def to_json(message: Message) -> dict[str, Any]:
    """A reply message as a JSON object."""
    return json_format.MessageToDict(
        message,
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
    )


def _violation(error: Exception) -> FieldViolation:
    text = str(error)
    first_line = text.splitlines()[0] if text else "invalid value"
    field = "body"
    if at := _AT.search(first_line):
        path = at.group(1).split(".", 1)
        field = path[1] if len(path) > 1 else "body"
        if unknown := _NO_FIELD.search(first_line):
            field = unknown.group(1) if field == "body" else f"{field}.{unknown.group(1)}"
    elif chain := _FAILED_FIELD.findall(first_line):
        # Older messages only name the fields on the way: "Failed to parse a field: Failed to
        # parse b field: ...".
        field = ".".join(chain)
    return FieldViolation(field, first_line[:_MAX_DESCRIPTION])


def parse(
    body: Mapping[str, Any] | None,
    message_type: type[M],
    *,
    path: Mapping[str, Any] | None = None,
) -> M:
    """``body`` parsed as ``message_type``, with the path parameters set on it.

    A path parameter also given in the body must be equal (else INVALID_ARGUMENT naming it):
    the URL says which resource, and a body naming another one is a mistake.
    """
    message = message_type()
    try:
        json_format.ParseDict(dict(body or {}), message)
    except (json_format.ParseError, ValueError, TypeError, RecursionError) as exc:
        raise InvalidArgument(
            f"body is not a valid {message.DESCRIPTOR.full_name}", [_violation(exc)]
        ) from None
    _refuse_nul(message, "")
    for name, value in (path or {}).items():
        current = getattr(message, name)
        if current and current != value:
            raise InvalidArgument(
                f"{name} in the body ({current!r}) differs from the URL ({value!r})",
                [FieldViolation(name, "must be empty or equal to the URL's value")],
            )
        setattr(message, name, value)
    return message


def _refuse_nul(message: Message, prefix: str) -> None:
    """INVALID_ARGUMENT for a string holding U+0000 anywhere in ``message``.

    JSON and protobuf carry it, PostgreSQL text cannot: a service would fail storing it (a
    500 for what is a bad request). No labelops text field has a use for it.
    """
    for field, value in message.ListFields():
        path = f"{prefix}{field.name}"
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            for key, item in value.items():
                here = f"{path}[{key!r}]"
                if isinstance(key, str) and "\x00" in key:
                    raise _nul(path)
                if isinstance(item, Message):
                    _refuse_nul(item, here + ".")
                elif isinstance(item, str) and "\x00" in item:
                    raise _nul(here)
        elif field.is_repeated:
            for i, item in enumerate(value):
                if isinstance(item, Message):
                    _refuse_nul(item, f"{path}[{i}].")
                elif isinstance(item, str) and "\x00" in item:
                    raise _nul(f"{path}[{i}]")
        elif isinstance(value, Message):
            _refuse_nul(value, path + ".")
        elif isinstance(value, str) and "\x00" in value:
            raise _nul(path)


def _nul(field: str) -> InvalidArgument:
    return InvalidArgument(
        f"{field} contains a NUL character",
        [FieldViolation(field, "text must not contain U+0000")],
        reason="NUL_CHARACTER",
    )


def refuse_nul_text(values: Mapping[str, Any]) -> None:
    """INVALID_ARGUMENT when a path or query parameter holds U+0000 (see ``_refuse_nul``)."""
    for name, value in values.items():
        if isinstance(value, str) and "\x00" in value:
            raise _nul(name)


def short_names(descriptor: EnumDescriptor, prefix: str) -> dict[str, int]:
    """``{"queued": 1, ...}`` for an enum whose values are ``<PREFIX>_QUEUED`` etc. (the
    UNSPECIFIED value left out): what query parameters accept."""
    return {
        v.name.removeprefix(prefix).lower(): v.number
        for v in descriptor.values
        if v.number != 0 and v.name.startswith(prefix)
    }


def query_enum(name: str, descriptor: EnumDescriptor, prefix: str) -> type[enum.StrEnum]:
    """A ``StrEnum`` of the enum's short names, so OpenAPI lists the values a query parameter
    takes (``state=queued``) and FastAPI rejects others with 400."""
    members = {k: k for k in short_names(descriptor, prefix)}
    return enum.StrEnum(name, members)  # type: ignore[return-value]


def enum_value(descriptor: EnumDescriptor, prefix: str, short: str) -> int:
    """The number of ``<PREFIX>_<SHORT>``."""
    return descriptor.values_by_name[prefix + short.upper()].number
