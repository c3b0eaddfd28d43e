"""The validator's fast pass: one generated Python function per message type.

Each function reads only the fields its plan checks (direct attribute access, one
``WhichOneof`` per oneof), appends every string to a list for one control-character regex at
the end, and returns True at the first problem; it names no field. ``RequestValidator`` then
re-walks a failing request generically to name every bad field. Generated code is about twice
as fast as walking ``ListFields`` and needs no path bookkeeping.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

if TYPE_CHECKING:
    from labelops_grpckit.validation import RequestValidator, _Field, _Value

FastCheck = Callable[[Message, list[str], int], bool]

# Kinds of one checked value (a singular field, or each element of a repeated / map field).
_STR, _BYTES, _ENUM, _U64, _MSG, _NONE = range(6)


class FastCompiler:
    """Generates the fast check of a root message type and everything it reaches."""

    def __init__(self, validator: RequestValidator) -> None:
        self._validator = validator
        self._names: dict[Descriptor, str] = {}
        self._sources: list[str] = []
        self._ns: dict[str, Any] = {"MAX": 2**63 - 1}

    def compile(self, descriptor: Descriptor) -> FastCheck:
        """The fast check of ``descriptor``: ``check(message, strings, 0) -> bad``."""
        name = self._function(descriptor)
        exec("\n\n".join(self._sources), self._ns)  # our own generated source, no input
        check: FastCheck = self._ns[name]
        return check

    def _function(self, descriptor: Descriptor) -> str:
        name = self._names.get(descriptor)
        if name is not None:
            return name
        name = f"_check_{len(self._names)}"
        # Registered first, so recursive message types call themselves.
        self._names[descriptor] = name
        plan = self._validator.plan(descriptor)
        lines = [f"def {name}(m, S, d):"]
        if plan.time is not None:
            lo, hi, nlo, nhi = plan.time
            lines += [f"    return not ({lo} <= m.seconds <= {hi} and {nlo} <= m.nanos <= {nhi})"]
            self._sources.append("\n".join(lines))
            return name
        if plan.struct:
            lines += ["    d += 1", f"    if d > {self._validator.limits.max_struct_depth}:"]
            lines.append("        return True")
        oneofs: dict[str, list[tuple[FieldDescriptor, _Field]]] = {}
        for fd, checks in plan.fields.items():
            group = fd.containing_oneof
            if group is not None and len(group.fields) > 1 and not checks.repeated:
                oneofs.setdefault(group.name, []).append((fd, checks))
            else:
                lines += self._field(fd, checks)
        for group_name, members in oneofs.items():
            lines.append(f"    k = m.WhichOneof({group_name!r})")
            for index, (fd, checks) in enumerate(members):
                lines.append(f"    {'if' if index == 0 else 'elif'} k == {fd.name!r}:")
                lines += self._value(checks.value, _attr(fd.name), "        ")
        lines.append("    return False")
        self._sources.append("\n".join(lines))
        return name

    def _field(self, fd: FieldDescriptor, checks: _Field) -> list[str]:
        attr = _attr(fd.name)
        spec = checks.value
        if not checks.repeated:
            if spec.kind == _MSG:
                assert spec.plan is not None
                return [
                    f"    if m.HasField({fd.name!r}):",
                    *self._value(spec, attr, "        "),
                ]
            return self._value(spec, attr, "    ")
        lines = [f"    v = {attr}", f"    if len(v) > {checks.entries}:", "        return True"]
        if checks.key is not None:
            body = [
                *self._value(checks.key, "kk", "            "),
                *self._value(spec, "x", "            "),
            ]
            if len(body) > 0:
                lines += ["    if v:", "        for kk, x in v.items():", *body]
            return lines
        return lines + self._many(spec)

    def _many(self, spec: _Value) -> list[str]:
        kind = spec.kind
        if kind == _STR:
            return [
                "    if v:",
                "        S.extend(v)",
                f"        if max(map(len, v)) > {spec.cap}:",
                "            return True",
            ]
        if kind == _BYTES:
            return [f"    if v and max(map(len, v)) > {spec.cap}:", "        return True"]
        if kind == _U64:
            return ["    if v and max(v) > MAX:", "        return True"]
        if kind == _ENUM:
            allowed = self._constant(spec.allowed)
            return [f"    if v and not {allowed}.issuperset(v):", "        return True"]
        if kind == _MSG:
            assert spec.plan is not None
            return [
                "    for x in v:",
                *self._value(spec, "x", "        "),
            ]
        return []

    def _value(self, spec: _Value, expr: str, pad: str) -> list[str]:
        kind = spec.kind
        if kind == _STR:
            return [
                f"{pad}s = {expr}",
                f"{pad}if len(s) > {spec.cap}:",
                f"{pad}    return True",
                f"{pad}S.append(s)",
            ]
        if kind == _BYTES:
            return [f"{pad}if len({expr}) > {spec.cap}:", f"{pad}    return True"]
        if kind == _U64:
            return [f"{pad}if {expr} > MAX:", f"{pad}    return True"]
        if kind == _ENUM:
            allowed = self._constant(spec.allowed)
            return [f"{pad}if {expr} not in {allowed}:", f"{pad}    return True"]
        if kind == _MSG:
            assert spec.plan is not None
            function = self._function(spec.plan.descriptor)
            return [f"{pad}if {function}({expr}, S, d):", f"{pad}    return True"]
        return []

    def _constant(self, value: Any) -> str:
        name = f"_c{len(self._ns)}"
        self._ns[name] = value
        return name


def _attr(name: str) -> str:
    # A field named like a Python keyword (``from``) is only reachable through getattr.
    return f"getattr(m, {name!r})" if keyword.iskeyword(name) else f"m.{name}"
