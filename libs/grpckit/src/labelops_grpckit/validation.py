"""Generic request validation: the checks every request message passes before its handler.

The server interceptor runs ``RequestValidator.validate`` on every request message (unary
requests and each message of a request stream), after authentication and before the handler.
It walks the message by its descriptor and refuses, with INVALID_ARGUMENT (ErrorInfo reason
``REQUEST_LIMITS``) and one ``BadRequest`` field violation per bad field (at most
``max_violations``; paths like ``submissions[3].labels.labels[0].answers[1].text``,
``labels[0].attributes["color"].string_value``):

- a string holding NUL or another C0 control character other than tab, newline and carriage
  return (also map keys and the strings inside ``google.protobuf.Struct`` / ``Value``);
  Postgres refuses NUL in text, and no labelops field has a use for the others;
- a string longer than ``max_string_chars`` (default 8192 characters), unless
  ``field_max_chars`` names the field (``full.message.Name.field`` → characters);
- a bytes field longer than ``max_bytes`` (default 1 MiB; ``field_max_bytes`` per field);
- a repeated or map field with more than ``max_repeated`` entries (default 10,000;
  ``field_max_entries`` per field), e.g. polygon vertices, labels of a submission;
- ``google.protobuf.Struct`` / ``ListValue`` nested deeper than ``max_struct_depth`` (32);
- ``google.protobuf.Timestamp`` / ``Duration`` outside protobuf's own ranges (``TIME_RANGES``);
- a ``uint64`` / ``fixed64`` above 2**63-1: every such value ends up in a Postgres ``bigint``
  (stream versions, positions), where it would overflow;
- an enum value the enum does not define (proto3 keeps unknown numbers as plain ints).

``DEFAULT_FIELD_MAX_CHARS`` raises the string cap of fields that legitimately carry more
(inline item text, ``data:`` URIs); a service adds its own with ``RequestLimits``.

Speed: a plan per message type (which fields need which check, which sub-messages need a
walk at all) is compiled once and cached; the walk visits only set fields (``ListFields``),
skips sub-messages without any checked field (points, boxes), and tests all collected strings
for control characters with one regex over their concatenation. Field paths are built only
for violations.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from labelops_core.errors import FieldViolation, InvalidArgument

from labelops_grpckit._fastcheck import _BYTES, _ENUM, _MSG, _NONE, _STR, _U64, FastCompiler

#: ErrorInfo reason of a request refused by the generic validator.
REASON_REQUEST_LIMITS = "REQUEST_LIMITS"

DEFAULT_MAX_STRING_CHARS = 8192
DEFAULT_MAX_BYTES = 1024 * 1024
DEFAULT_MAX_REPEATED = 10_000
DEFAULT_MAX_STRUCT_DEPTH = 32
DEFAULT_MAX_VIOLATIONS = 20

#: Largest value a Postgres bigint holds.
MAX_INT64 = 2**63 - 1

#: Fields whose strings may be longer than the default cap (characters).
DEFAULT_FIELD_MAX_CHARS: Mapping[str, int] = {
    # curation: inline text items hold up to 64 KiB of UTF-8 (the service checks bytes).
    "labelops.curation.v1.ItemSpec.text": 64 * 1024,
    # curation: data: URIs hold up to 256 KiB, i.e. ~342 KiB of base64.
    "labelops.curation.v1.ItemSpec.uri": 384 * 1024,
}

# C0 controls except \t \n \r.
_BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")

_STRUCT_TYPES = frozenset({"google.protobuf.Struct", "google.protobuf.ListValue"})
#: Well-known time types -> (min seconds, max seconds, min nanos, max nanos): protobuf's own
#: ranges (0001-01-01 .. 9999-12-31 for a Timestamp, +-10,000 years for a Duration). Outside
#: them ``ToDatetime`` raises, which a handler would turn into INTERNAL.
TIME_RANGES: dict[str, tuple[int, int, int, int]] = {
    "google.protobuf.Timestamp": (-62135596800, 253402300799, 0, 999_999_999),
    "google.protobuf.Duration": (-315576000000, 315576000000, -999_999_999, 999_999_999),
}
_UNSIGNED_64 = frozenset({FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64})


@dataclass(frozen=True)
class RequestLimits:
    """Caps the validator applies; ``field_*`` maps are keyed by ``full.message.Name.field``."""

    max_string_chars: int = DEFAULT_MAX_STRING_CHARS
    max_bytes: int = DEFAULT_MAX_BYTES
    max_repeated: int = DEFAULT_MAX_REPEATED
    max_struct_depth: int = DEFAULT_MAX_STRUCT_DEPTH
    max_violations: int = DEFAULT_MAX_VIOLATIONS
    #: Per-field string caps (characters), added to ``DEFAULT_FIELD_MAX_CHARS``.
    field_max_chars: Mapping[str, int] = field(default_factory=dict)
    #: Per-field bytes caps.
    field_max_bytes: Mapping[str, int] = field(default_factory=dict)
    #: Per-field caps on the entries of a repeated or map field.
    field_max_entries: Mapping[str, int] = field(default_factory=dict)


class _Value:
    """How to check one value of a field (or of a map's key / value)."""

    __slots__ = ("allowed", "cap", "kind", "plan")

    def __init__(self, kind: int, cap: int = 0) -> None:
        self.kind = kind
        self.cap = cap
        self.allowed: frozenset[int] = frozenset()
        self.plan: _Plan | None = None


class _Field:
    """The checks of one field: its values, and for repeated / map fields the entry cap."""

    __slots__ = ("entries", "key", "name", "repeated", "value")

    def __init__(self, name: str, value: _Value, repeated: bool, entries: int) -> None:
        self.name = name
        self.value = value
        self.repeated = repeated
        self.entries = entries
        self.key: _Value | None = None  # set for map fields


class _Plan:
    """Checks of one message type: only the fields that need one."""

    __slots__ = ("descriptor", "fields", "needed", "struct", "time")

    def __init__(self, descriptor: Descriptor) -> None:
        self.descriptor = descriptor
        self.fields: dict[FieldDescriptor, _Field] = {}
        self.struct = descriptor.full_name in _STRUCT_TYPES
        self.time = TIME_RANGES.get(descriptor.full_name)
        self.needed = True


class _Walk:
    """State of one validation: violations found and strings waiting for the NUL check."""

    __slots__ = ("full", "limit", "pending", "violations")

    def __init__(self, limit: int) -> None:
        self.violations: list[FieldViolation] = []
        self.pending: list[tuple[str, Any]] = []
        self.limit = limit
        self.full = False

    def add(self, path: Any, description: str) -> None:
        if len(self.violations) < self.limit:
            self.violations.append(FieldViolation(_render(path), description))
        self.full = len(self.violations) >= self.limit


class RequestValidator:
    """Validates request messages against ``RequestLimits`` (see the module docstring)."""

    def __init__(self, limits: RequestLimits | None = None) -> None:
        self.limits = limits or RequestLimits()
        self._chars = {**DEFAULT_FIELD_MAX_CHARS, **self.limits.field_max_chars}
        self._plans: dict[Descriptor, _Plan] = {}
        self._compiled: dict[Descriptor, Callable[[Message, list[str], int], bool]] = {}

    def violations(self, message: Message) -> list[FieldViolation]:
        """Every violation of ``message`` (at most ``max_violations``), [] when it is fine."""
        # Fast pass: generated code, no paths, stops at the first problem. Only a request with
        # a problem pays for the generic walk that names every bad field.
        strings: list[str] = []
        if not self._fast(message.DESCRIPTOR)(message, strings, 0) and not (
            strings and _BAD_CHARS.search("".join(strings))
        ):
            return []
        walk = _Walk(self.limits.max_violations)
        self._walk(message, self.plan(message.DESCRIPTOR), None, walk, 0)
        if walk.pending and not walk.full:
            strings = [s for s, _ in walk.pending]
            if _BAD_CHARS.search("".join(strings)):
                for text, path in walk.pending:
                    if _BAD_CHARS.search(text):
                        walk.add(path, "must not contain NUL or control characters")
                        if walk.full:
                            break
        return walk.violations

    def validate(self, message: Message) -> None:
        """Raise InvalidArgument (reason ``REQUEST_LIMITS``) listing what is wrong, if any."""
        found = self.violations(message)
        if found:
            raise InvalidArgument(
                "request exceeds limits or holds invalid characters",
                found,
                reason=REASON_REQUEST_LIMITS,
            )

    # --- plans -----------------------------------------------------------------------------

    def _fast(self, descriptor: Descriptor) -> Callable[[Message, list[str], int], bool]:
        fast = self._compiled.get(descriptor)
        if fast is None:
            fast = FastCompiler(self).compile(descriptor)
            self._compiled[descriptor] = fast
        return fast

    def plan(self, descriptor: Descriptor) -> _Plan:
        """The compiled (cached) checks of a message type."""
        plan = self._plans.get(descriptor)
        if plan is None:
            plan = _Plan(descriptor)
            # Registered before its fields are compiled, so recursive types terminate.
            self._plans[descriptor] = plan
            for fd in descriptor.fields:
                compiled = self._field(fd)
                if compiled is not None:
                    plan.fields[fd] = compiled
            plan.needed = bool(plan.fields) or plan.struct or plan.time is not None
        return plan

    def _field(self, fd: FieldDescriptor) -> _Field | None:
        limits = self.limits
        entries = limits.field_max_entries.get(fd.full_name, limits.max_repeated)
        message_type = fd.message_type
        if message_type is not None and message_type.GetOptions().map_entry:
            key = self._value(message_type.fields_by_name["key"], fd.full_name)
            value = self._value(message_type.fields_by_name["value"], fd.full_name)
            compiled = _Field(fd.name, value, True, entries)
            compiled.key = key
            return compiled
        value = self._value(fd, fd.full_name)
        if not fd.is_repeated:
            return None if value.kind == _NONE else _single(fd.name, value)
        return _Field(fd.name, value, True, entries)

    def _value(self, fd: FieldDescriptor, owner: str) -> _Value:
        # ``owner``: the field whose caps apply (a map's own name for its keys and values).
        limits = self.limits
        if fd.type == FieldDescriptor.TYPE_STRING:
            return _Value(_STR, self._chars.get(owner, limits.max_string_chars))
        if fd.type == FieldDescriptor.TYPE_BYTES:
            return _Value(_BYTES, limits.field_max_bytes.get(owner, limits.max_bytes))
        if fd.type in _UNSIGNED_64:
            return _Value(_U64)
        if fd.type == FieldDescriptor.TYPE_ENUM:
            value = _Value(_ENUM)
            value.allowed = frozenset(v.number for v in fd.enum_type.values)
            return value
        if fd.message_type is not None:
            plan = self.plan(fd.message_type)
            if not plan.needed:
                return _Value(_NONE)
            value = _Value(_MSG)
            value.plan = plan
            return value
        return _Value(_NONE)

    # --- the walk --------------------------------------------------------------------------

    def _walk(self, message: Message, plan: _Plan, path: Any, walk: _Walk, depth: int) -> None:
        if plan.time is not None:
            lo, hi, nlo, nhi = plan.time
            seconds, nanos = message.seconds, message.nanos  # type: ignore[attr-defined]
            if not (lo <= seconds <= hi and nlo <= nanos <= nhi):
                walk.add(path, f"seconds must be in [{lo}, {hi}], nanos in [{nlo}, {nhi}]")
            return
        if plan.struct:
            depth += 1
            if depth > self.limits.max_struct_depth:
                walk.add(path, f"nested deeper than {self.limits.max_struct_depth} levels")
                return
        fields = plan.fields
        for fd, value in message.ListFields():
            checks = fields.get(fd)
            if checks is None:
                continue
            if not checks.repeated:
                self._one(checks.value, value, (path, checks.name, None), walk, depth)
            elif checks.key is not None:
                self._map(checks, value, path, walk, depth)
            else:
                if len(value) > checks.entries:
                    walk.add((path, checks.name, None), f"at most {checks.entries} entries")
                    continue
                self._many(checks, value, path, walk, depth)
            if walk.full:
                return

    def _many(self, checks: _Field, values: Any, path: Any, walk: _Walk, depth: int) -> None:
        spec = checks.value
        kind = spec.kind
        if kind == _NONE:
            return
        if kind == _U64 and max(values) <= MAX_INT64:
            return
        if kind == _ENUM and spec.allowed.issuperset(values):
            return
        name = checks.name
        for index, item in enumerate(values):
            self._one(spec, item, (path, name, index), walk, depth)
            if walk.full:
                return

    def _map(self, checks: _Field, values: Any, path: Any, walk: _Walk, depth: int) -> None:
        if len(values) > checks.entries:
            walk.add((path, checks.name, None), f"at most {checks.entries} entries")
            return
        key_spec, spec, name = checks.key, checks.value, checks.name
        assert key_spec is not None
        for key, item in values.items():
            where = (path, name, key)
            if key_spec.kind != _NONE:
                self._one(key_spec, key, where, walk, depth, what="key")
            if spec.kind != _NONE:
                self._one(spec, item, where, walk, depth)
            if walk.full:
                return

    def _one(
        self, spec: _Value, value: Any, path: Any, walk: _Walk, depth: int, what: str = ""
    ) -> None:
        kind = spec.kind
        if kind == _STR:
            if len(value) > spec.cap:
                walk.add(path, f"{what or 'string'} longer than {spec.cap} characters")
            else:
                walk.pending.append((value, path))
        elif kind == _MSG:
            assert spec.plan is not None
            self._walk(value, spec.plan, path, walk, depth)
        elif kind == _BYTES:
            if len(value) > spec.cap:
                walk.add(path, f"longer than {spec.cap} bytes")
        elif kind == _U64:
            if value > MAX_INT64:
                walk.add(path, f"{what or 'value'} must be at most {MAX_INT64}")
        elif kind == _ENUM and value not in spec.allowed:
            walk.add(path, f"{value} is not a defined enum value")


def _single(name: str, value: _Value) -> _Field:
    """A singular field's checks (no entry cap)."""
    return _Field(name, value, False, 0)


def _render(path: Any) -> str:
    # path: None (the message itself) or (parent, field name, None | index | map key).
    parts: list[str] = []
    while path is not None:
        path, name, index = path
        if index is None:
            parts.append(name)
        elif isinstance(index, int) and not isinstance(index, bool):
            parts.append(f"{name}[{index}]")
        else:
            key = index if isinstance(index, str) else str(index)
            parts.append(f"{name}[{json.dumps(key[:64])}]")
    return ".".join(reversed(parts)) or "request"
