"""JSON Schemas of protobuf messages (the proto3 JSON mapping), for the OpenAPI document.

Request bodies are read as free JSON objects and parsed with ``ParseDict`` (which is what
validates them); these schemas only describe them, so the OpenAPI document says what a body
and a reply look like, generated clients get types, and schemathesis generates bodies that
reach the services instead of failing on the first unknown key.

Messages become components named by their full proto name (``labelops.ontology.v1.Ontology``)
and reference each other (definitions are recursive: classifications hold options hold
classifications). Field names are the .proto names (the gateway's replies use them; ParseDict
also accepts the lowerCamel JSON names).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor

_INT32 = {"type": "integer", "minimum": -(2**31), "maximum": 2**31 - 1}
_UINT32 = {"type": "integer", "minimum": 0, "maximum": 2**32 - 1}
# 64-bit integers: JSON strings in replies (the mapping's rule), numbers or strings accepted.
_INT64 = {
    "anyOf": [
        {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1},
        {"type": "string", "pattern": r"^-?[0-9]{1,18}$"},
    ]
}
_UINT64 = {
    "anyOf": [
        {"type": "integer", "minimum": 0, "maximum": 2**64 - 1},
        {"type": "string", "pattern": r"^[0-9]{1,19}$"},
    ]
}
# float32: ParseDict refuses values beyond its range.
_FLOAT = {"type": "number", "minimum": -3.4e38, "maximum": 3.4e38}
_DOUBLE = {"type": "number"}

_SCALARS: dict[int, dict[str, Any]] = {
    FieldDescriptor.TYPE_INT32: _INT32,
    FieldDescriptor.TYPE_SINT32: _INT32,
    FieldDescriptor.TYPE_SFIXED32: _INT32,
    FieldDescriptor.TYPE_UINT32: _UINT32,
    FieldDescriptor.TYPE_FIXED32: _UINT32,
    FieldDescriptor.TYPE_INT64: _INT64,
    FieldDescriptor.TYPE_SINT64: _INT64,
    FieldDescriptor.TYPE_SFIXED64: _INT64,
    FieldDescriptor.TYPE_UINT64: _UINT64,
    FieldDescriptor.TYPE_FIXED64: _UINT64,
    FieldDescriptor.TYPE_FLOAT: _FLOAT,
    FieldDescriptor.TYPE_DOUBLE: _DOUBLE,
    FieldDescriptor.TYPE_BOOL: {"type": "boolean"},
    FieldDescriptor.TYPE_STRING: {"type": "string"},
    FieldDescriptor.TYPE_BYTES: {"type": "string", "contentEncoding": "base64"},
}

# Well-known types have their own JSON forms.
_WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "pattern": r"^-?[0-9]{1,12}(\.[0-9]{1,9})?s$"},
    "google.protobuf.Struct": {"type": "object"},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array"},
    "google.protobuf.Empty": {"type": "object", "additionalProperties": False},
    "google.protobuf.FieldMask": {"type": "string"},
    "google.protobuf.StringValue": {"type": "string"},
    "google.protobuf.BoolValue": {"type": "boolean"},
    "google.protobuf.Int32Value": _INT32,
    "google.protobuf.UInt32Value": _UINT32,
    "google.protobuf.Int64Value": _INT64,
    "google.protobuf.UInt64Value": _UINT64,
    "google.protobuf.FloatValue": _FLOAT,
    "google.protobuf.DoubleValue": _DOUBLE,
    "google.protobuf.BytesValue": {"type": "string", "contentEncoding": "base64"},
}

REF_PREFIX = "#/components/schemas/"


class SchemaRegistry:
    """Component schemas of the messages referenced so far."""

    def __init__(self) -> None:
        self.components: dict[str, dict[str, Any]] = {}

    def ref(self, descriptor: Descriptor) -> dict[str, Any]:
        """A ``$ref`` to the message's component (defined on first use)."""
        name = descriptor.full_name
        if name in _WELL_KNOWN:
            return dict(_WELL_KNOWN[name])
        if name not in self.components:
            self.components[name] = {}  # placeholder: recursion stops here
            self.components[name] = self.message(descriptor)
        return {"$ref": REF_PREFIX + name}

    def message(self, descriptor: Descriptor, exclude: Iterable[str] = ()) -> dict[str, Any]:
        """The schema of a message, inline (``exclude``: fields the URL carries instead)."""
        skip = set(exclude)
        properties = {f.name: self.field(f) for f in descriptor.fields if f.name not in skip}
        schema: dict[str, Any] = {
            "type": "object",
            "title": descriptor.full_name,
            "properties": properties,
            "additionalProperties": False,
        }
        oneofs = [
            o for o in descriptor.oneofs if not (len(o.fields) == 1 and o.name.startswith("_"))
        ]
        if oneofs:
            schema["description"] = "At most one field of each group: " + "; ".join(
                f"{o.name} ({', '.join(f.name for f in o.fields)})" for o in oneofs
            )
        return schema

    def field(self, field: FieldDescriptor) -> dict[str, Any]:
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value = field.message_type.fields_by_name["value"]
            return {"type": "object", "additionalProperties": self._single(value)}
        single = self._single(field)
        if field.is_repeated:
            return {"type": "array", "items": single}
        return single

    def _single(self, field: FieldDescriptor) -> dict[str, Any]:
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            return self.ref(field.message_type)
        if field.type == FieldDescriptor.TYPE_ENUM:
            return {"type": "string", "enum": [v.name for v in field.enum_type.values]}
        return dict(_SCALARS[field.type])
