"""Structure of an ontology definition: walking its items and checking it is well-formed.

Every item (class, classification, option, attribute, relationship) carries an id that is
unique across the whole definition; labels, diffs and migrations refer to ids, never to names.
The walker below is the one place that knows how items nest, so validation, compilation, the
diff and the migration checks all see the same tree in the same (document) order.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from labelops.ontology.v1 import definition_pb2, ontology_pb2
from labelops_core.errors import FieldViolation

#: Deepest classification nesting: a top-level classification is depth 1, one under an option
#: of it depth 2, and so on. Deeper trees are unusable for annotators and would let a definition
#: drive unbounded recursion in every consumer.
MAX_DEPTH: Final = 16
#: Most items (classes + classifications + options + attributes + relationships) in one
#: definition.
MAX_ITEMS: Final = 20_000
#: Largest serialized definition; published versions are stored in events and cached by every
#: service, so they must stay well below the gRPC message limit (8 MiB).
MAX_DEFINITION_BYTES: Final = 2 * 1024 * 1024

#: Item ids: lowercase ASCII letters, digits, '_' and '-', starting with a letter or a digit,
#: at most 128 characters. Ids travel in labels, URLs, Kafka keys and SQL; a small alphabet
#: keeps them safe everywhere without escaping and avoids ids that differ only in case. UUIDs
#: and slugs fit.
ID_PATTERN: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,127}")

ItemKind = ontology_pb2.ItemKind
CLASS: Final = ontology_pb2.ITEM_KIND_CLASS
CLASSIFICATION: Final = ontology_pb2.ITEM_KIND_CLASSIFICATION
OPTION: Final = ontology_pb2.ITEM_KIND_OPTION
ATTRIBUTE: Final = ontology_pb2.ITEM_KIND_ATTRIBUTE
RELATIONSHIP: Final = ontology_pb2.ITEM_KIND_RELATIONSHIP

KIND_NAMES: Final = {
    CLASS: "class",
    CLASSIFICATION: "classification",
    OPTION: "option",
    ATTRIBUTE: "attribute",
    RELATIONSHIP: "relationship",
}

_GEOMETRY_VALUES = frozenset(definition_pb2.GeometryKind.values()) - {0}
_CLASSIFICATION_KIND_VALUES = frozenset(definition_pb2.ClassificationKind.values()) - {0}
_ATTRIBUTE_TYPE_VALUES = frozenset(definition_pb2.AttributeType.values()) - {0}
_CARDINALITY_VALUES = frozenset(definition_pb2.Cardinality.values()) - {0}


@dataclass(frozen=True, slots=True)
class Node:
    """One item of a definition as the walker sees it.

    ``field`` is the item's path in the definition message (``classes[0].classifications[1]``),
    ``names`` the human path by names (``("car", "color")``), ``parent_id`` the id of the
    containing item (``None`` at the top level), ``class_id`` the class the item belongs to
    (``None`` for relationships) and ``depth`` the classification nesting depth (0 for classes,
    attributes and relationships; options share their classification's depth).
    """

    id: str
    kind: int
    msg: Any  # the item's protobuf message (OntologyClass, Classification, ...)
    parent_id: str | None
    field: str
    names: tuple[str, ...]
    depth: int
    class_id: str | None

    @property
    def path(self) -> str:
        """Names joined by '/', e.g. ``car/color/red``."""
        return "/".join(self.names)


def walk(definition: definition_pb2.OntologyDefinition) -> Iterator[Node]:
    """Every item of ``definition`` in document (pre-)order: each class, its classification
    tree depth-first, its attributes; then the relationships.

    Classifications deeper than ``MAX_DEPTH`` are yielded but not descended into, so a hostile
    definition cannot drive deep recursion.
    """
    for ci, cls in enumerate(definition.classes):
        cfield = f"classes[{ci}]"
        cnames = (cls.name,)
        yield Node(cls.id, CLASS, cls, None, cfield, cnames, 0, cls.id)
        for i, c in enumerate(cls.classifications):
            yield from _walk_classification(
                c, cls.id, f"{cfield}.classifications[{i}]", cnames, 1, cls.id
            )
        for i, a in enumerate(cls.attributes):
            yield Node(
                a.id,
                ATTRIBUTE,
                a,
                cls.id,
                f"{cfield}.attributes[{i}]",
                (*cnames, a.name),
                0,
                cls.id,
            )
    for ri, rel in enumerate(definition.relationships):
        yield Node(rel.id, RELATIONSHIP, rel, None, f"relationships[{ri}]", (rel.name,), 0, None)


def _walk_classification(
    c: definition_pb2.Classification,
    parent_id: str,
    field: str,
    parent_names: tuple[str, ...],
    depth: int,
    class_id: str,
) -> Iterator[Node]:
    names = (*parent_names, c.name)
    yield Node(c.id, CLASSIFICATION, c, parent_id, field, names, depth, class_id)
    if depth > MAX_DEPTH:
        return
    for oi, opt in enumerate(c.options):
        ofield = f"{field}.options[{oi}]"
        onames = (*names, opt.name)
        yield Node(opt.id, OPTION, opt, c.id, ofield, onames, depth, class_id)
        for ni, nested in enumerate(opt.classifications):
            yield from _walk_classification(
                nested, opt.id, f"{ofield}.classifications[{ni}]", onames, depth + 1, class_id
            )


def index(definition: definition_pb2.OntologyDefinition) -> dict[str, Node]:
    """Items by id (the first occurrence wins when a broken definition repeats an id)."""
    out: dict[str, Node] = {}
    for node in walk(definition):
        out.setdefault(node.id, node)
    return out


def validate_definition(definition: definition_pb2.OntologyDefinition) -> list[FieldViolation]:
    """Structural problems of an ontology definition; empty when it can be published.

    Checks: size (``MAX_DEFINITION_BYTES`` serialized, ``MAX_ITEMS`` items) and nesting depth
    (``MAX_DEPTH``); every id non-empty, matching ``ID_PATTERN`` and unique across *all* items;
    names non-empty and unique among siblings (case-insensitive, surrounding blanks ignored);
    geometry / classification kind / attribute type / cardinality set and known; radio and
    checklist classifications have at least one option, text and number ones none; checklist
    selection limits consistent; keypoint classes have a skeleton with at least one keypoint and
    edges between existing, distinct keypoints; number ranges finite with min <= max; text
    patterns compile and max_length >= 0; enum attributes have unique, non-empty values;
    relationship endpoints are classes of this definition.

    Field paths point into the definition, e.g. ``classes[3].classifications[0].options[2].id``.
    """
    size = definition.ByteSize()
    if size > MAX_DEFINITION_BYTES:
        # Stop here: walking a huge definition is exactly the cost the limit protects against.
        return [
            FieldViolation(
                "definition",
                f"definition is {size} bytes serialized; the limit is {MAX_DEFINITION_BYTES}",
            )
        ]
    out: list[FieldViolation] = []
    seen_ids: dict[str, str] = {}
    class_ids: set[str] = set()
    count = 0
    for node in walk(definition):
        count += 1
        if count > MAX_ITEMS:
            out.append(FieldViolation("definition", f"definition has more than {MAX_ITEMS} items"))
            break
        _check_id(node, seen_ids, out)
        if node.kind == CLASS:
            class_ids.add(node.id)
            _check_class(node, out)
        elif node.kind == CLASSIFICATION:
            _check_classification(node, out)
        elif node.kind == OPTION:
            _check_siblings(node.field, "classifications", node.msg.classifications, out)
        elif node.kind == ATTRIBUTE:
            _check_attribute(node, out)
        elif node.kind == RELATIONSHIP:
            _check_relationship(node, class_ids, out)
    _check_siblings("", "classes", definition.classes, out)
    _check_siblings("", "relationships", definition.relationships, out)
    return out


def _check_id(node: Node, seen: dict[str, str], out: list[FieldViolation]) -> None:
    field = f"{node.field}.id"
    if not node.id:
        out.append(FieldViolation(field, f"{KIND_NAMES[node.kind]} id is empty"))
        return
    if not ID_PATTERN.fullmatch(node.id):
        out.append(
            FieldViolation(
                field,
                f"id {node.id!r} must be 1-128 of a-z, 0-9, '_' and '-', "
                "starting with a letter or digit",
            )
        )
    first = seen.get(node.id)
    if first is not None:
        out.append(FieldViolation(field, f"id {node.id!r} is already used by {first}"))
    else:
        seen[node.id] = node.field
    if not node.msg.name.strip():
        out.append(FieldViolation(f"{node.field}.name", f"{KIND_NAMES[node.kind]} name is empty"))


def _check_siblings(
    parent_field: str, list_name: str, items: Any, out: list[FieldViolation]
) -> None:
    """Names unique among siblings: annotators pick items by name in the UI."""
    prefix = f"{parent_field}.{list_name}" if parent_field else list_name
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        key = item.name.strip().casefold()
        if not key:
            continue  # reported as an empty name already
        if key in seen:
            out.append(
                FieldViolation(
                    f"{prefix}[{i}].name",
                    f"name {item.name!r} is already used by {prefix}[{seen[key]}]",
                )
            )
        else:
            seen[key] = i


def _check_class(node: Node, out: list[FieldViolation]) -> None:
    cls: definition_pb2.OntologyClass = node.msg
    f = node.field
    if cls.geometry not in _GEOMETRY_VALUES:
        out.append(FieldViolation(f"{f}.geometry", "geometry kind is unspecified or unknown"))
    if cls.geometry == definition_pb2.GEOMETRY_KIND_KEYPOINTS:
        sk = cls.skeleton
        n = len(sk.keypoint_names)
        if n == 0:
            out.append(
                FieldViolation(
                    f"{f}.skeleton.keypoint_names",
                    "a keypoints class needs a skeleton with at least one keypoint",
                )
            )
        for i, name in enumerate(sk.keypoint_names):
            if not name.strip():
                out.append(
                    FieldViolation(f"{f}.skeleton.keypoint_names[{i}]", "keypoint name is empty")
                )
        for i, e in enumerate(sk.edges):
            if not (0 <= e.from_index < n and 0 <= e.to_index < n):
                out.append(
                    FieldViolation(
                        f"{f}.skeleton.edges[{i}]",
                        f"edge {e.from_index}->{e.to_index} is outside the {n} keypoints",
                    )
                )
            elif e.from_index == e.to_index:
                out.append(
                    FieldViolation(f"{f}.skeleton.edges[{i}]", "edge joins a keypoint to itself")
                )
    _check_siblings(f, "classifications", cls.classifications, out)
    _check_siblings(f, "attributes", cls.attributes, out)


def _check_classification(node: Node, out: list[FieldViolation]) -> None:
    c: definition_pb2.Classification = node.msg
    f = node.field
    if node.depth > MAX_DEPTH:
        out.append(FieldViolation(f, f"classifications nest deeper than {MAX_DEPTH} levels"))
        return
    kind = c.kind
    if kind not in _CLASSIFICATION_KIND_VALUES:
        out.append(FieldViolation(f"{f}.kind", "classification kind is unspecified or unknown"))
    elif kind in (
        definition_pb2.CLASSIFICATION_KIND_RADIO,
        definition_pb2.CLASSIFICATION_KIND_CHECKLIST,
    ):
        if not c.options:
            out.append(
                FieldViolation(f"{f}.options", "radio and checklist need at least one option")
            )
    elif c.options:
        out.append(
            FieldViolation(f"{f}.options", "only radio and checklist classifications have options")
        )
    if kind == definition_pb2.CLASSIFICATION_KIND_CHECKLIST:
        lo, hi = c.min_selected, c.max_selected
        if lo < 0 or hi < 0:
            out.append(FieldViolation(f"{f}.min_selected", "selection limits must be >= 0"))
        elif hi and lo > hi:
            out.append(
                FieldViolation(f"{f}.min_selected", f"min_selected {lo} > max_selected {hi}")
            )
        elif lo > len(c.options):
            out.append(
                FieldViolation(
                    f"{f}.min_selected",
                    f"min_selected {lo} exceeds the {len(c.options)} options",
                )
            )
    elif kind == definition_pb2.CLASSIFICATION_KIND_NUMBER:
        _check_number(f"{f}.number", c.number, out)
    elif kind == definition_pb2.CLASSIFICATION_KIND_TEXT:
        _check_text(f"{f}.text", c.text, out)
    _check_siblings(f, "options", c.options, out)


def _check_attribute(node: Node, out: list[FieldViolation]) -> None:
    a: definition_pb2.Attribute = node.msg
    f = node.field
    t = a.type
    if t not in _ATTRIBUTE_TYPE_VALUES:
        out.append(FieldViolation(f"{f}.type", "attribute type is unspecified or unknown"))
    elif t == definition_pb2.ATTRIBUTE_TYPE_ENUM:
        if not a.enum_values:
            out.append(FieldViolation(f"{f}.enum_values", "an enum attribute needs values"))
        seen: set[str] = set()
        for i, v in enumerate(a.enum_values):
            if not v:
                out.append(FieldViolation(f"{f}.enum_values[{i}]", "enum value is empty"))
            elif v in seen:
                out.append(FieldViolation(f"{f}.enum_values[{i}]", f"duplicate value {v!r}"))
            seen.add(v)
    elif t in (definition_pb2.ATTRIBUTE_TYPE_INT, definition_pb2.ATTRIBUTE_TYPE_FLOAT):
        _check_number(f"{f}.number", a.number, out)
    elif t == definition_pb2.ATTRIBUTE_TYPE_STRING:
        _check_text(f"{f}.text", a.text, out)


def _check_relationship(node: Node, class_ids: set[str], out: list[FieldViolation]) -> None:
    r: definition_pb2.Relationship = node.msg
    f = node.field
    # Relationships come after every class in walk order, so class_ids is complete here.
    for attr in ("from_class_id", "to_class_id"):
        cid = getattr(r, attr)
        if cid not in class_ids:
            out.append(FieldViolation(f"{f}.{attr}", f"no class with id {cid!r}"))
    if r.cardinality not in _CARDINALITY_VALUES:
        out.append(FieldViolation(f"{f}.cardinality", "cardinality is unspecified or unknown"))


def _check_number(f: str, n: definition_pb2.NumberConstraints, out: list[FieldViolation]) -> None:
    if n.has_min and not math.isfinite(n.min):
        out.append(FieldViolation(f"{f}.min", "min must be a finite number"))
    if n.has_max and not math.isfinite(n.max):
        out.append(FieldViolation(f"{f}.max", "max must be a finite number"))
    if n.has_min and n.has_max and n.min > n.max:
        out.append(FieldViolation(f"{f}.min", f"min {n.min} > max {n.max}"))


def _check_text(f: str, t: definition_pb2.TextConstraints, out: list[FieldViolation]) -> None:
    if t.max_length < 0:
        out.append(FieldViolation(f"{f}.max_length", "max_length must be >= 0 (0 = no limit)"))
    if t.pattern:
        try:
            re.compile(t.pattern)
        except (re.error, RecursionError, OverflowError) as e:
            out.append(FieldViolation(f"{f}.pattern", f"pattern does not compile: {e}"))
