"""The flat lookup tables ``compile_ontology`` builds once per version: classes with their
geometry checker, classifications with their options, attributes, relationships and the
constraints, flattened so that label validation reads plain slots."""

from __future__ import annotations

import re
from typing import Final

from labelops.ontology.v1 import definition_pb2

from .geometry import BIG, CHECKERS, GEOMETRY_FIELD, Checker

_RADIO: Final = definition_pb2.CLASSIFICATION_KIND_RADIO
_CHECKLIST: Final = definition_pb2.CLASSIFICATION_KIND_CHECKLIST
_TEXT: Final = definition_pb2.CLASSIFICATION_KIND_TEXT
_NUMBER: Final = definition_pb2.CLASSIFICATION_KIND_NUMBER
_EXPECTED_ANSWER: Final = {
    _RADIO: "option_id",
    _CHECKLIST: "checklist",
    _TEXT: "text",
    _NUMBER: "number",
}
_A_STRING: Final = definition_pb2.ATTRIBUTE_TYPE_STRING
_A_INT: Final = definition_pb2.ATTRIBUTE_TYPE_INT
_A_FLOAT: Final = definition_pb2.ATTRIBUTE_TYPE_FLOAT
_A_BOOL: Final = definition_pb2.ATTRIBUTE_TYPE_BOOL
_A_ENUM: Final = definition_pb2.ATTRIBUTE_TYPE_ENUM
_EXPECTED_ATTR: Final = {
    _A_STRING: ("string_value",),
    _A_INT: ("int_value",),
    # A float attribute accepts an integer: JSON clients and models emit 3 for 3.0.
    _A_FLOAT: ("float_value", "int_value"),
    _A_BOOL: ("bool_value",),
    _A_ENUM: ("string_value",),
}


class _Range:
    """Number constraints, flattened for the hot path."""

    __slots__ = ("has_max", "has_min", "hi", "integer_only", "lo", "max", "min")

    def __init__(self, n: definition_pb2.NumberConstraints) -> None:
        self.has_min = n.has_min
        self.min = n.min
        self.has_max = n.has_max
        self.max = n.max
        self.integer_only = n.integer_only
        # Fast check ``lo <= x <= hi``: an absent bound is the largest finite float, so the
        # same comparison also rejects NaN and infinity.
        self.lo = n.min if n.has_min else -BIG
        self.hi = n.max if n.has_max else BIG

    def problem(self, x: float) -> str | None:
        """Why ``x`` breaks the constraints (None when it is fine)."""
        if x - x != 0.0:
            return f"{x} is not a finite number"
        if self.has_min and x < self.min:
            return f"{x:g} is below the minimum {self.min:g}"
        if self.has_max and x > self.max:
            return f"{x:g} is above the maximum {self.max:g}"
        if self.integer_only and x != int(x):
            return f"{x:g} is not an integer"
        return None


class _Text:
    """Text constraints; the pattern is compiled once here, never per label."""

    __slots__ = ("max_length", "pattern", "regex")

    def __init__(self, t: definition_pb2.TextConstraints) -> None:
        self.max_length = t.max_length
        self.pattern = t.pattern
        self.regex = re.compile(t.pattern) if t.pattern else None

    def problem(self, s: str) -> str | None:
        """Why ``s`` breaks the constraints (None when it is fine)."""
        # Length first: it also bounds the input the (author-supplied) pattern sees.
        if self.max_length and len(s) > self.max_length:
            return f"text has {len(s)} characters, at most {self.max_length} allowed"
        if self.regex is not None and self.regex.fullmatch(s) is None:
            return f"text does not match the pattern {self.pattern!r}"
        return None


class _Choice:
    """A classification as the validator needs it."""

    __slots__ = (
        "checks_text",
        "class_id",
        "deprecated",
        "id",
        "kind",
        "max_sel",
        "min_sel",
        "name",
        "number",
        "options",
        "parent_option",
        "text",
    )

    def __init__(
        self, c: definition_pb2.Classification, class_id: str, parent_option: str | None
    ) -> None:
        self.id = c.id
        self.name = c.name
        self.kind = c.kind
        self.deprecated = c.deprecated
        self.class_id = class_id
        # Option id → deprecated flag: one lookup answers "belongs here" and "deprecated".
        self.options: dict[str, bool] = {o.id: o.deprecated for o in c.options}
        self.parent_option = parent_option
        self.min_sel = c.min_selected
        self.max_sel = c.max_selected
        self.number = _Range(c.number)
        self.text = _Text(c.text)
        self.checks_text = bool(c.text.max_length or c.text.pattern)


class _Attr:
    __slots__ = ("deprecated", "enum", "expected", "id", "number", "text", "type")

    def __init__(self, a: definition_pb2.Attribute) -> None:
        self.id = a.id
        self.type = a.type
        self.deprecated = a.deprecated
        self.expected = _EXPECTED_ATTR.get(a.type, ())
        self.enum = frozenset(a.enum_values)
        self.number = _Range(a.number)
        self.text = _Text(a.text) if (a.text.max_length or a.text.pattern) else None


class _ClassSpec:
    __slots__ = (
        "attrs",
        "check",
        "choices",
        "deprecated",
        "gname",
        "has_nested",
        "id",
        "name",
        "option_owner",
        "option_required",
        "required_attrs",
        "required_top",
        "skeleton_size",
    )

    def __init__(self, cls: definition_pb2.OntologyClass) -> None:
        self.id = cls.id
        self.name = cls.name
        self.deprecated = cls.deprecated
        self.gname: str | None = GEOMETRY_FIELD.get(cls.geometry)
        self.check: Checker | None = CHECKERS.get(cls.geometry)
        self.skeleton_size = len(cls.skeleton.keypoint_names)
        self.choices: dict[str, _Choice] = {}
        self.required_top: tuple[str, ...] = ()
        # Option id → required classifications directly under it (only options that have any).
        self.option_required: dict[str, tuple[str, ...]] = {}
        self.has_nested = False
        # Option id → id of the classification it belongs to (slow path of nesting checks).
        self.option_owner: dict[str, str] = {}
        self.attrs: dict[str, _Attr] = {a.id: _Attr(a) for a in cls.attributes}
        # Deprecated items can no longer be answered, so they cannot stay required.
        self.required_attrs: tuple[str, ...] = tuple(
            a.id for a in cls.attributes if a.required and not a.deprecated
        )


class _RelSpec:
    __slots__ = (
        "cardinality",
        "deprecated",
        "from_class",
        "id",
        "in_one",
        "name",
        "out_one",
        "to_class",
    )

    def __init__(self, r: definition_pb2.Relationship) -> None:
        self.id = r.id
        self.name = r.name
        self.from_class = r.from_class_id
        self.to_class = r.to_class_id
        self.deprecated = r.deprecated
        self.cardinality = (
            definition_pb2.Cardinality.Name(r.cardinality)
            if r.cardinality in definition_pb2.Cardinality.values()
            else str(r.cardinality)
        )
        c = r.cardinality
        # out_one: a "from" label has at most one relation of this kind (…_TO_ONE);
        # in_one: a "to" label has at most one (ONE_TO_…).
        self.out_one = c in (
            definition_pb2.CARDINALITY_ONE_TO_ONE,
            definition_pb2.CARDINALITY_MANY_TO_ONE,
        )
        self.in_one = c in (
            definition_pb2.CARDINALITY_ONE_TO_ONE,
            definition_pb2.CARDINALITY_ONE_TO_MANY,
        )
