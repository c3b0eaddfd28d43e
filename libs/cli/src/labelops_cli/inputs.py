"""Reading JSON / YAML files into protobuf messages, with errors that name the file and field.

Enum values may be written in full (``GEOMETRY_KIND_BOUNDING_BOX``) or short and in any case
(``bounding_box``, ``bounding-box``): the short form is the full name without the enum's prefix.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message

from labelops_cli.grpc import CliError

M = TypeVar("M", bound=Message)

YAML_SUFFIXES = (".yaml", ".yml")


def load_document(path: Path) -> Any:
    """The parsed content of a JSON or YAML file (by suffix; JSON otherwise)."""
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise CliError(f"{path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CliError(f"{path}: not UTF-8 text") from None
    if path.suffix.lower() in YAML_SUFFIXES:
        try:
            import yaml
        except ImportError:
            raise CliError(
                f"{path}: reading YAML needs PyYAML (pip install pyyaml); or use a .json file"
            ) from None
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise CliError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None


def _enum_prefix(enum: EnumDescriptor) -> str:
    # Buf style: every enum starts with <PREFIX>_UNSPECIFIED = 0.
    first = enum.values[0].name
    return first[: -len("UNSPECIFIED")] if first.endswith("_UNSPECIFIED") else ""


def _enum_value(value: Any, enum: EnumDescriptor) -> Any:
    if not isinstance(value, str) or value in enum.values_by_name:
        return value
    candidate = _enum_prefix(enum) + value.strip().upper().replace("-", "_").replace(" ", "_")
    return candidate if candidate in enum.values_by_name else value


def normalize_enums(data: Any, descriptor: Descriptor) -> Any:
    """A copy of ``data`` (a dict for ``descriptor``) with short enum names expanded."""
    if not isinstance(data, dict):
        return data
    out: dict[str, Any] = {}
    for key, value in data.items():
        fd = descriptor.fields_by_name.get(key) or next(
            (f for f in descriptor.fields if f.json_name == key), None
        )
        if fd is None:
            out[key] = value
            continue
        is_map = fd.message_type is not None and fd.message_type.GetOptions().map_entry
        if fd.type == FieldDescriptor.TYPE_ENUM:
            conv = fd.enum_type
            out[key] = (
                [_enum_value(v, conv) for v in value]
                if isinstance(value, list)
                else _enum_value(value, conv)
            )
        elif fd.message_type is not None and not is_map:
            mt = fd.message_type
            out[key] = (
                [normalize_enums(v, mt) for v in value]
                if isinstance(value, list)
                else normalize_enums(value, mt)
            )
        else:
            out[key] = value
    return out


def parse_message(data: Any, message_cls: type[M], source: str) -> M:
    """``data`` (a dict from JSON / YAML) as a ``message_cls``; CliError names what is wrong."""
    if not isinstance(data, dict):
        raise CliError(f"{source}: expected an object ({message_cls.DESCRIPTOR.name})")
    message = message_cls()
    try:
        json_format.ParseDict(normalize_enums(data, message_cls.DESCRIPTOR), message)
    except json_format.ParseError as exc:
        raise CliError(f"{source}: {' '.join(str(exc).split())}") from None
    return message


def load_message(path: Path, message_cls: type[M]) -> M:
    """A JSON / YAML file as a ``message_cls``."""
    return parse_message(load_document(path), message_cls, str(path))
