"""Semantic diff between two ontology definitions, version numbers and fingerprints.

Items are matched by id (ids are stable across renames). Each change says whether it is
*breaking*: whether labels valid under the older definition may be invalid under the newer one.
That decides the version bump a publish needs (``next_version`` / ``check_version_bump``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from typing import Any, Final

from google.protobuf.message import Message
from labelops.ontology.v1 import definition_pb2, ontology_pb2
from labelops.ontology.v1.ontology_pb2 import DiffEntry
from labelops_core.errors import FieldViolation

from .definition import (
    ATTRIBUTE,
    CLASS,
    CLASSIFICATION,
    KIND_NAMES,
    OPTION,
    RELATIONSHIP,
    Node,
    walk,
)

ADDED: Final = ontology_pb2.CHANGE_KIND_ADDED
REMOVED: Final = ontology_pb2.CHANGE_KIND_REMOVED
RENAMED: Final = ontology_pb2.CHANGE_KIND_RENAMED
RETYPED: Final = ontology_pb2.CHANGE_KIND_RETYPED
MOVED: Final = ontology_pb2.CHANGE_KIND_MOVED
DEPRECATED: Final = ontology_pb2.CHANGE_KIND_DEPRECATED
UNDEPRECATED: Final = ontology_pb2.CHANGE_KIND_UNDEPRECATED
CONSTRAINT_CHANGED: Final = ontology_pb2.CHANGE_KIND_CONSTRAINT_CHANGED
METADATA_CHANGED: Final = ontology_pb2.CHANGE_KIND_METADATA_CHANGED

_Entry = ontology_pb2.DiffEntry


def diff_definitions(
    old: definition_pb2.OntologyDefinition, new: definition_pb2.OntologyDefinition
) -> list[ontology_pb2.DiffEntry]:
    """Changes from ``old`` to ``new``, matched by item id, in a deterministic order.

    Kinds: ADDED / REMOVED (reported once for the root of an added or removed subtree; its
    description counts the nested items), RENAMED, RETYPED (class geometry, classification
    kind, attribute type, relationship endpoints), MOVED (parent changed), DEPRECATED /
    UNDEPRECATED, CONSTRAINT_CHANGED (one entry per changed constraint: required, number
    range, integer_only, text max_length / pattern, enum values, min/max_selected,
    cardinality, skeleton) and METADATA_CHANGED (description, examples, color, high_stakes,
    order of children; one entry per field).

    Breaking: REMOVED, RETYPED, MOVED, an ADDED required (non-deprecated) classification or
    attribute, and tightened constraints (newly required, narrower range, integer_only,
    smaller or new max_length, new or changed pattern, removed enum value, higher
    min_selected, lower or new max_selected, narrower cardinality, any skeleton change).
    Everything else (additions, renames, (un)deprecations, loosened constraints, metadata) is
    not. An id whose item kind changed is reported as REMOVED plus ADDED.

    Order: the newer definition's items in document order (each item's own changes in the
    order MOVED, RENAMED, RETYPED, (UN)DEPRECATED, CONSTRAINT_CHANGED, METADATA_CHANGED), then
    REMOVED subtrees in the older definition's document order. Paths are names joined by '/'
    in the newer version (older for removals), e.g. ``car/color/red``. Both definitions are
    expected to be valid (``validate_definition``).
    """
    old_nodes = {n.id: n for n in walk(old)}
    new_order = list(walk(new))
    new_nodes = {n.id: n for n in new_order}
    common = {i for i, n in new_nodes.items() if i in old_nodes and old_nodes[i].kind == n.kind}
    added = {i for i in new_nodes if i not in common}
    removed = {i for i in old_nodes if i not in common}
    added_sizes = _subtree_sizes(added, new_nodes)
    removed_sizes = _subtree_sizes(removed, old_nodes)
    out: list[DiffEntry] = []
    out.extend(
        _order_changes(None, "classes", old.classes, new.classes, common, new_nodes, old_nodes)
    )
    out.extend(
        _order_changes(
            None,
            "relationships",
            old.relationships,
            new.relationships,
            common,
            new_nodes,
            old_nodes,
        )
    )
    for node in new_order:
        if node.id in added:
            if node.parent_id is None or node.parent_id not in added:
                out.append(_added(node, added_sizes.get(node.id, 0)))
        else:
            out.extend(_changes(old_nodes[node.id], node, common, old_nodes, new_nodes))
    for node in walk(old):
        if node.id in removed and (node.parent_id is None or node.parent_id not in removed):
            nested = removed_sizes.get(node.id, 0)
            out.append(
                _Entry(
                    change=REMOVED,
                    item_kind=node.kind,
                    item_id=node.id,
                    path=node.path,
                    breaking=True,
                    old_value=node.msg.name,
                    description=f"removed {KIND_NAMES[node.kind]} {node.path!r}"
                    + (f" and {nested} nested items" if nested else ""),
                )
            )
    return out


def _subtree_sizes(group: set[str], nodes: dict[str, Node]) -> dict[str, int]:
    """For each root of ``group`` (an item whose parent is not in it), how many of its
    descendants are in ``group``. One pass, O(items x depth)."""
    sizes: dict[str, int] = {}
    for i in group:
        node = nodes[i]
        steps = 0
        while node.parent_id is not None and node.parent_id in group:
            node = nodes[node.parent_id]
            steps += 1
        if steps:
            sizes[node.id] = sizes.get(node.id, 0) + 1
    return sizes


def _added(node: Node, nested: int) -> DiffEntry:
    msg = node.msg
    required = node.kind in (CLASSIFICATION, ATTRIBUTE) and msg.required and not msg.deprecated
    desc = f"added {KIND_NAMES[node.kind]} {node.path!r}"
    if nested:
        desc += f" with {nested} nested items"
    if required:
        desc += "; it is required, so existing labels lack it"
    return _Entry(
        change=ADDED,
        item_kind=node.kind,
        item_id=node.id,
        path=node.path,
        breaking=bool(required),
        new_value=msg.name,
        description=desc,
    )


def _entry(
    change: int, node: Node, breaking: bool, old: object, new: object, description: str
) -> DiffEntry:
    return _Entry(
        change=change,
        item_kind=node.kind,
        item_id=node.id,
        path=node.path,
        breaking=breaking,
        old_value=_show(old),
        new_value=_show(new),
        description=description,
    )


def _show(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list | tuple):
        return ", ".join(map(str, v))
    return str(v)


def _changes(
    o: Node, n: Node, common: set[str], old_nodes: dict[str, Node], new_nodes: dict[str, Node]
) -> list[DiffEntry]:
    out: list[DiffEntry] = []
    om, nm = o.msg, n.msg
    kind = KIND_NAMES[n.kind]
    if o.parent_id != n.parent_id:
        op = old_nodes[o.parent_id].path if o.parent_id is not None else ""
        np_ = new_nodes[n.parent_id].path if n.parent_id is not None else ""
        out.append(
            _entry(MOVED, n, True, op, np_, f"{kind} {n.path!r} moved from {op!r} to {np_!r}")
        )
    if om.name != nm.name:
        out.append(
            _entry(
                RENAMED,
                n,
                False,
                om.name,
                nm.name,
                f"{kind} renamed from {om.name!r} to {nm.name!r}",
            )
        )
    old_type, new_type = _type_of(o), _type_of(n)
    if old_type != new_type:
        out.append(
            _entry(
                RETYPED,
                n,
                True,
                old_type,
                new_type,
                f"{kind} {n.path!r} changed type from {old_type} to {new_type}",
            )
        )
    if om.deprecated != nm.deprecated:
        if nm.deprecated:
            out.append(_entry(DEPRECATED, n, False, False, True, f"{kind} {n.path!r} deprecated"))
        else:
            out.append(
                _entry(UNDEPRECATED, n, False, True, False, f"{kind} {n.path!r} un-deprecated")
            )
    for field, breaking, ov, nv in _constraint_changes(o, n):
        verb = "tightened" if breaking else "loosened"
        out.append(
            _entry(
                CONSTRAINT_CHANGED,
                n,
                breaking,
                ov,
                nv,
                f"{field} of {kind} {n.path!r} {verb}: {_show(ov)!s} -> {_show(nv)!s}",
            )
        )
    for field, ov, nv in _metadata_changes(o, n):
        out.append(
            _entry(
                METADATA_CHANGED,
                n,
                False,
                ov,
                nv,
                f"{field} of {kind} {n.path!r} changed",
            )
        )
    out.extend(_child_order_changes(o, n, common, new_nodes, old_nodes))
    return out


def _type_of(node: Node) -> str:
    m = node.msg
    if node.kind == CLASS:
        return _enum_name(definition_pb2.GeometryKind, m.geometry)
    if node.kind == CLASSIFICATION:
        return _enum_name(definition_pb2.ClassificationKind, m.kind)
    if node.kind == ATTRIBUTE:
        return _enum_name(definition_pb2.AttributeType, m.type)
    if node.kind == RELATIONSHIP:
        return f"{m.from_class_id} -> {m.to_class_id}"
    return ""


def _enum_name(enum: Any, value: int) -> str:
    try:
        return enum.Name(value)
    except ValueError:
        return str(value)


Change = tuple[str, bool, object, object]  # (field, breaking, old, new)


def _constraint_changes(o: Node, n: Node) -> list[Change]:
    om, nm = o.msg, n.msg
    out: list[Change] = []
    if n.kind in (CLASSIFICATION, ATTRIBUTE):
        if om.required != nm.required:
            out.append(("required", bool(nm.required), om.required, nm.required))
        out.extend(_number_changes(om.number, nm.number))
        out.extend(_text_changes(om.text, nm.text))
    if n.kind == CLASSIFICATION:
        a, b = om.min_selected, nm.min_selected
        if a != b:
            out.append(("min_selected", b > a, a, b))
        a, b = om.max_selected, nm.max_selected
        if a != b:
            out.append(("max_selected", _limit_tightened(a, b), a, b))
    elif n.kind == ATTRIBUTE:
        a_vals, b_vals = list(om.enum_values), list(nm.enum_values)
        if a_vals != b_vals:
            gone = set(a_vals) - set(b_vals)
            out.append(("enum_values", bool(gone), a_vals, b_vals))
    elif n.kind == RELATIONSHIP:
        a, b = om.cardinality, nm.cardinality
        if a != b:
            (ao, ai), (bo, bi) = _cardinality_limits(a), _cardinality_limits(b)
            # Loosened only when neither direction gained a limit.
            breaking = (bo and not ao) or (bi and not ai)
            out.append(
                (
                    "cardinality",
                    breaking,
                    _enum_name(definition_pb2.Cardinality, a),
                    _enum_name(definition_pb2.Cardinality, b),
                )
            )
    elif n.kind == CLASS:
        a_sk, b_sk = om.skeleton, nm.skeleton
        if a_sk != b_sk:
            out.append(("skeleton", True, _skeleton_text(a_sk), _skeleton_text(b_sk)))
    return out


def _skeleton_text(sk: definition_pb2.KeypointSkeleton) -> str:
    edges = " ".join(f"{e.from_index}-{e.to_index}" for e in sk.edges)
    return f"[{', '.join(sk.keypoint_names)}] edges {edges or '-'}"


def _cardinality_limits(c: int) -> tuple[bool, bool]:
    """(a "from" label has at most one, a "to" label has at most one)."""
    return (
        c in (definition_pb2.CARDINALITY_ONE_TO_ONE, definition_pb2.CARDINALITY_MANY_TO_ONE),
        c in (definition_pb2.CARDINALITY_ONE_TO_ONE, definition_pb2.CARDINALITY_ONE_TO_MANY),
    )


def _limit_tightened(old: int, new: int) -> bool:
    """For limits where 0 means none: is ``new`` stricter than ``old``?"""
    return new != 0 and (old == 0 or new < old)


def _number_changes(
    a: definition_pb2.NumberConstraints, b: definition_pb2.NumberConstraints
) -> list[Change]:
    out: list[Change] = []
    amin = a.min if a.has_min else None
    bmin = b.min if b.has_min else None
    if amin != bmin:
        tightened = bmin is not None and (amin is None or bmin > amin)
        out.append(("number.min", tightened, _opt(amin), _opt(bmin)))
    amax = a.max if a.has_max else None
    bmax = b.max if b.has_max else None
    if amax != bmax:
        tightened = bmax is not None and (amax is None or bmax < amax)
        out.append(("number.max", tightened, _opt(amax), _opt(bmax)))
    if a.integer_only != b.integer_only:
        out.append(("number.integer_only", b.integer_only, a.integer_only, b.integer_only))
    return out


def _opt(v: float | None) -> object:
    return "none" if v is None else v


def _text_changes(
    a: definition_pb2.TextConstraints, b: definition_pb2.TextConstraints
) -> list[Change]:
    out: list[Change] = []
    if a.max_length != b.max_length:
        out.append(
            (
                "text.max_length",
                _limit_tightened(a.max_length, b.max_length),
                a.max_length or "none",
                b.max_length or "none",
            )
        )
    if a.pattern != b.pattern:
        # Whether one regex accepts a superset of another is undecidable in general: any new
        # or changed pattern counts as tightened; only dropping the pattern loosens.
        out.append(("text.pattern", bool(b.pattern), a.pattern or "none", b.pattern or "none"))
    return out


_METADATA_FIELDS: Final[dict[int, tuple[str, ...]]] = {
    CLASS: ("description", "examples", "color", "high_stakes"),
    CLASSIFICATION: ("description",),
}


def _metadata_changes(o: Node, n: Node) -> list[tuple[str, object, object]]:
    out: list[tuple[str, object, object]] = []
    for f in _METADATA_FIELDS.get(n.kind, ()):
        a, b = getattr(o.msg, f), getattr(n.msg, f)
        if f == "examples":
            a, b = list(a), list(b)
        if a != b:
            out.append((f, a, b))
    return out


_CHILD_LISTS: Final[dict[int, tuple[str, ...]]] = {
    CLASS: ("classifications", "attributes"),
    CLASSIFICATION: ("options",),
    OPTION: ("classifications",),
}


def _child_order_changes(
    o: Node, n: Node, common: set[str], new_nodes: dict[str, Node], old_nodes: dict[str, Node]
) -> list[DiffEntry]:
    out: list[DiffEntry] = []
    for list_name in _CHILD_LISTS.get(n.kind, ()):
        out.extend(
            _order_changes(
                n,
                list_name,
                getattr(o.msg, list_name),
                getattr(n.msg, list_name),
                common,
                new_nodes,
                old_nodes,
            )
        )
    return out


def _order_changes(
    parent: Node | None,
    list_name: str,
    old_items: Iterable[Message],
    new_items: Iterable[Message],
    common: set[str],
    new_nodes: dict[str, Node],
    old_nodes: dict[str, Node],
) -> list[DiffEntry]:
    """Order of siblings present under the same parent in both versions (display only)."""
    pid = parent.id if parent is not None else None

    def stayed(i: str) -> bool:
        return i in common and old_nodes[i].parent_id == pid and new_nodes[i].parent_id == pid

    a = [m.id for m in old_items if stayed(m.id)]
    b = [m.id for m in new_items if stayed(m.id)]
    if a == b:
        return []
    where = f"{KIND_NAMES[parent.kind]} {parent.path!r}" if parent is not None else "the ontology"
    return [
        _Entry(
            change=METADATA_CHANGED,
            item_kind=parent.kind
            if parent is not None
            else (
                ontology_pb2.ITEM_KIND_RELATIONSHIP
                if list_name == "relationships"
                else ontology_pb2.ITEM_KIND_CLASS
            ),
            item_id=pid or "",
            path=parent.path if parent is not None else "",
            breaking=False,
            old_value=", ".join(a),
            new_value=", ".join(b),
            description=f"order of {list_name} of {where} changed",
        )
    ]


def is_breaking(changes: Iterable[ontology_pb2.DiffEntry]) -> bool:
    """True when any change is breaking (labels valid before may be invalid after)."""
    return any(c.breaking for c in changes)


# --- versions -------------------------------------------------------------------------------

#: MAJOR.MINOR.PATCH, no leading zeros (semver 2.0.0 core; pre-release and build metadata are
#: not used for published ontology versions).
_SEMVER: Final = re.compile(r"(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})")


def parse_version(version: str) -> tuple[int, int, int]:
    """``"1.2.3"`` → ``(1, 2, 3)``; ``ValueError`` unless strictly MAJOR.MINOR.PATCH."""
    m = _SEMVER.fullmatch(version)
    if m is None:
        raise ValueError(f"version {version!r} is not MAJOR.MINOR.PATCH")
    return int(m[1]), int(m[2]), int(m[3])


def _is_minor(changes: Sequence[ontology_pb2.DiffEntry]) -> bool:
    return any(
        c.change in (ADDED, UNDEPRECATED) or (c.change == CONSTRAINT_CHANGED and not c.breaking)
        for c in changes
    )


def next_version(previous: str | None, changes: Sequence[ontology_pb2.DiffEntry]) -> str:
    """The version to publish after ``previous`` given ``changes`` (``diff_definitions``).

    None → ``1.0.0``; breaking → next major; any ADDED / UNDEPRECATED / loosened constraint →
    next minor; otherwise (renames, deprecations, metadata, no change) → next patch.
    """
    if previous is None:
        return "1.0.0"
    major, minor, patch = parse_version(previous)
    if is_breaking(changes):
        return f"{major + 1}.0.0"
    if _is_minor(changes):
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"


def check_version_bump(
    previous: str | None, requested: str, changes: Sequence[ontology_pb2.DiffEntry]
) -> list[FieldViolation]:
    """Problems with publishing ``requested`` after ``previous`` (field ``version``).

    ``requested`` must be MAJOR.MINOR.PATCH, greater than ``previous``, and raise the major
    number when ``changes`` are breaking.
    """
    try:
        req = parse_version(requested)
    except ValueError as e:
        return [FieldViolation("version", str(e))]
    if previous is None:
        return []
    prev = parse_version(previous)
    if req <= prev:
        return [FieldViolation("version", f"{requested} must be greater than {previous}")]
    if is_breaking(changes) and req[0] <= prev[0]:
        first = next(c for c in changes if c.breaking)
        return [
            FieldViolation(
                "version",
                f"the changes are breaking ({first.description}), so the version must be "
                f"{prev[0] + 1}.0.0 or above",
            )
        ]
    return []


# --- fingerprint ----------------------------------------------------------------------------

_EMPTY_SUBMESSAGES: Final[dict[type, tuple[str, ...]]] = {
    definition_pb2.OntologyClass: ("skeleton",),
    definition_pb2.Classification: ("number", "text"),
    definition_pb2.Attribute: ("number", "text"),
}


def canonical(definition: definition_pb2.OntologyDefinition) -> definition_pb2.OntologyDefinition:
    """A copy with the same content in one canonical form.

    Drops unknown fields and submessages that are present but empty (``c.number.SetInParent()``
    vs. never touched: same content, different bytes). List order is kept: ids define
    identity, but list order is what annotators see, so reordering is a real (metadata) change.
    """
    out = definition_pb2.OntologyDefinition()
    out.CopyFrom(definition)
    out.DiscardUnknownFields()
    for node in walk(out):
        for f in _EMPTY_SUBMESSAGES.get(type(node.msg), ()):
            if node.msg.HasField(f) and not getattr(node.msg, f).ByteSize():
                node.msg.ClearField(f)
    return out


def fingerprint(definition: definition_pb2.OntologyDefinition) -> str:
    """sha256 hex of the canonical deterministic serialization (``OntologyVersion.fingerprint``).

    Same content → same hash, however the message was built (field assignment order, empty
    submessages touched or not, unknown fields). Different list order → different hash.
    """
    data = canonical(definition).SerializeToString(deterministic=True)
    return hashlib.sha256(data).hexdigest()
