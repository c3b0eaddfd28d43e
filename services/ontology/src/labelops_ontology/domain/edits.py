"""Applying ``DraftEdit``s to an ontology definition.

``apply_edits`` is all-or-nothing: it works on a copy and either returns the edited copy or
raises ``InvalidArgument`` naming the first edit that cannot be applied, with field paths into
the request (``edits[2].move.new_parent_id``). It checks what only the edit can know (does the
item exist, is the parent legal, does the new type fit the item); whether the resulting
definition is well-formed (unique names, options of radios, ...) is checked afterwards on the
whole result by ``labelops_ontologykit.validate_definition``.

The same function replays ``OntologyDraftUpdated`` events when the aggregate is rebuilt, so
what an edit does is part of the event contract: change it only in ways that give every stored
edit the same result.

Edit semantics:

- ``add``: classes and relationships at the top level (``parent_id`` empty); classifications
  under a class or an option; options under a radio or checklist classification; attributes
  under a class. The item, and everything nested in it, brings its own ids (labels refer to ids,
  so clients choose them), which must not be in use.
- ``rename`` / ``deprecate``: any item.
- ``retype``: ``geometry`` of a class, ``classification_kind`` of a classification,
  ``attribute_type`` of an attribute.
- ``move``: a classification to a class or an option, an option to a classification, an
  attribute to a class; appended at the end of the new parent's list. Not into its own subtree.
- ``remove``: the item and everything nested in it. A class still used by a relationship must
  lose the relationship first.
- ``update``: replaces the item's own fields (flags, description, constraints, examples,
  skeleton, color, relationship endpoints, ...); the id and the children are kept. An empty name
  or an unspecified type in the replacement keeps the current one.
- ``replace``: the whole draft (bulk import).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from google.protobuf.message import Message
from labelops.ontology.v1 import definition_pb2, ontology_pb2
from labelops_core.errors import FieldViolation, InvalidArgument

from .errors import INVALID_EDIT

M = TypeVar("M", bound=Message)

#: Most edits one UpdateOntologyDraft may carry (bulk changes go through ``replace``).
MAX_EDITS_PER_REQUEST: Final = 1000

CLASS: Final = "class"
CLASSIFICATION: Final = "classification"
OPTION: Final = "option"
ATTRIBUTE: Final = "attribute"
RELATIONSHIP: Final = "relationship"

# The AddItem / UpdateItem oneof field name of each item kind.
_ONEOF_KIND: Final = {
    "ontology_class": CLASS,
    "classification": CLASSIFICATION,
    "option": OPTION,
    "attribute": ATTRIBUTE,
    "relationship": RELATIONSHIP,
}
# Which parents each kind may have ("" = top level).
_PARENTS: Final = {
    CLASS: ("",),
    RELATIONSHIP: ("",),
    CLASSIFICATION: (CLASS, OPTION),
    OPTION: (CLASSIFICATION,),
    ATTRIBUTE: (CLASS,),
}
_PARENT_RULE: Final = {
    CLASS: "classes are added at the top level (leave parent_id empty)",
    RELATIONSHIP: "relationships are added at the top level (leave parent_id empty)",
    CLASSIFICATION: "a classification belongs to a class or to an option",
    OPTION: "an option belongs to a radio or checklist classification",
    ATTRIBUTE: "an attribute belongs to a class",
}
# The repeated field of a parent kind that holds children of a kind.
_CHILD_FIELD: Final = {
    ("", CLASS): "classes",
    ("", RELATIONSHIP): "relationships",
    (CLASS, CLASSIFICATION): "classifications",
    (OPTION, CLASSIFICATION): "classifications",
    (CLASSIFICATION, OPTION): "options",
    (CLASS, ATTRIBUTE): "attributes",
}
# Child lists an UpdateItem must leave alone (structure changes through add/move/remove).
_CHILDREN: Final = {
    CLASS: ("classifications", "attributes"),
    CLASSIFICATION: ("options",),
    OPTION: ("classifications",),
    ATTRIBUTE: (),
    RELATIONSHIP: (),
}
_TYPE_FIELD: Final = {CLASS: "geometry", CLASSIFICATION: "kind", ATTRIBUTE: "type"}
_RETYPE_KIND: Final = {
    "geometry": (CLASS, "geometry", definition_pb2.GeometryKind),
    "classification_kind": (CLASSIFICATION, "kind", definition_pb2.ClassificationKind),
    "attribute_type": (ATTRIBUTE, "type", definition_pb2.AttributeType),
}
_CHOICE_KINDS: Final = (
    definition_pb2.CLASSIFICATION_KIND_RADIO,
    definition_pb2.CLASSIFICATION_KIND_CHECKLIST,
)


def _a(kind: str) -> str:
    """``kind`` with its indefinite article: "a class", "an option"."""
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


@dataclass(frozen=True)
class _Item:
    kind: str
    msg: Any
    parent_id: str  # "" at the top level


def _index(definition: definition_pb2.OntologyDefinition) -> dict[str, _Item]:
    """Items by id (first occurrence wins; duplicates are the validator's business)."""
    out: dict[str, _Item] = {}

    def put(item_id: str, item: _Item) -> None:
        if item_id and item_id not in out:
            out[item_id] = item

    def classification(c: Any, parent_id: str) -> None:
        # Iterative over options, recursive over nesting; depth is bounded by the validator
        # (MAX_DEPTH) before anything is stored, so replayed drafts are shallow.
        put(c.id, _Item(CLASSIFICATION, c, parent_id))
        for o in c.options:
            put(o.id, _Item(OPTION, o, c.id))
            for nested in o.classifications:
                classification(nested, o.id)

    for cls in definition.classes:
        put(cls.id, _Item(CLASS, cls, ""))
        for c in cls.classifications:
            classification(c, cls.id)
        for a in cls.attributes:
            put(a.id, _Item(ATTRIBUTE, a, cls.id))
    for r in definition.relationships:
        put(r.id, _Item(RELATIONSHIP, r, ""))
    return out


def _subtree_ids(kind: str, msg: Any) -> list[str]:
    """Ids of an item and everything nested in it, in document order."""
    ids = [msg.id]
    if kind == CLASS:
        for c in msg.classifications:
            ids += _subtree_ids(CLASSIFICATION, c)
        for a in msg.attributes:
            ids.append(a.id)
    elif kind == CLASSIFICATION:
        for o in msg.options:
            ids += _subtree_ids(OPTION, o)
    elif kind == OPTION:
        for c in msg.classifications:
            ids += _subtree_ids(CLASSIFICATION, c)
    return ids


def _container(
    definition: definition_pb2.OntologyDefinition,
    items: dict[str, _Item],
    parent_id: str,
    kind: str,
) -> Any:
    parent_kind = items[parent_id].kind if parent_id else ""
    owner = items[parent_id].msg if parent_id else definition
    return getattr(owner, _CHILD_FIELD[(parent_kind, kind)])


class _EditError(Exception):
    def __init__(self, field: str, description: str) -> None:
        super().__init__(description)
        self.field = field
        self.description = description


class _Editor:
    def __init__(self, definition: definition_pb2.OntologyDefinition) -> None:
        self.d = definition
        self.items = _index(definition)

    def _get(self, field: str, item_id: str) -> _Item:
        if not item_id:
            raise _EditError(field, "required: the id of an item of the draft")
        item = self.items.get(item_id)
        if item is None:
            raise _EditError(field, f"no item with id {item_id!r} in the draft")
        return item

    def _reindex(self) -> None:
        self.items = _index(self.d)

    # --- edits --------------------------------------------------------------------------------

    def add(self, f: str, e: ontology_pb2.AddItem) -> None:
        which = e.WhichOneof("item")
        if which is None:
            raise _EditError(
                f"{f}.item",
                "required: one of ontology_class, classification, option, attribute, relationship",
            )
        kind = _ONEOF_KIND[which]
        new: Any = getattr(e, which)
        parent_kind = ""
        if e.parent_id:
            parent = self._get(f"{f}.parent_id", e.parent_id)
            parent_kind = parent.kind
        if parent_kind not in _PARENTS[kind]:
            where = _a(parent_kind) if parent_kind else "the top level"
            raise _EditError(
                f"{f}.parent_id", f"cannot add {_a(kind)} to {where}: {_PARENT_RULE[kind]}"
            )
        if kind == OPTION and self.items[e.parent_id].msg.kind not in _CHOICE_KINDS:
            raise _EditError(
                f"{f}.parent_id",
                f"classification {e.parent_id!r} is not a radio or checklist: it has no options",
            )
        seen: set[str] = set()
        for i, item_id in enumerate(_subtree_ids(kind, new)):
            where = f"{f}.{which}.id" if i == 0 else f"{f}.{which}"
            if not item_id:
                raise _EditError(
                    where,
                    f"every item needs an id (labels refer to ids); item #{i + 1} of this"
                    f" {kind} has none",
                )
            if item_id in self.items:
                other = self.items[item_id].kind
                raise _EditError(where, f"id {item_id!r} is already used by {_a(other)}")
            if item_id in seen:
                raise _EditError(where, f"id {item_id!r} is used twice inside this {kind}")
            seen.add(item_id)
        _container(self.d, self.items, e.parent_id, kind).add().CopyFrom(new)
        self._reindex()

    def rename(self, f: str, e: ontology_pb2.RenameItem) -> None:
        item = self._get(f"{f}.item_id", e.item_id)
        if not e.new_name.strip():
            raise _EditError(f"{f}.new_name", "required: the new name")
        item.msg.name = e.new_name

    def retype(self, f: str, e: ontology_pb2.RetypeItem) -> None:
        item = self._get(f"{f}.item_id", e.item_id)
        which = e.WhichOneof("new_type")
        if which is None:
            raise _EditError(
                f"{f}.new_type", "required: one of geometry, classification_kind, attribute_type"
            )
        kind, attr, enum = _RETYPE_KIND[which]
        if item.kind != kind:
            raise _EditError(
                f"{f}.{which}",
                f"item {e.item_id!r} is {_a(item.kind)}; {which} applies to {_a(kind)}",
            )
        value = getattr(e, which)
        if value == 0 or value not in enum.values():
            raise _EditError(f"{f}.{which}", f"must be a known {which}, not unspecified")
        setattr(item.msg, attr, value)

    def deprecate(self, f: str, e: ontology_pb2.DeprecateItem) -> None:
        item = self._get(f"{f}.item_id", e.item_id)
        item.msg.deprecated = e.deprecated

    def move(self, f: str, e: ontology_pb2.MoveItem) -> None:
        item = self._get(f"{f}.item_id", e.item_id)
        if item.kind in (CLASS, RELATIONSHIP):
            raise _EditError(
                f"{f}.item_id",
                f"{e.item_id!r} is {_a(item.kind)}: classes and relationships are top-level"
                " items and cannot be moved",
            )
        if not e.new_parent_id:
            raise _EditError(f"{f}.new_parent_id", f"required: {_PARENT_RULE[item.kind]}")
        parent = self._get(f"{f}.new_parent_id", e.new_parent_id)
        if parent.kind not in _PARENTS[item.kind]:
            raise _EditError(
                f"{f}.new_parent_id",
                f"{e.new_parent_id!r} is {_a(parent.kind)}: {_PARENT_RULE[item.kind]}",
            )
        if e.new_parent_id in _subtree_ids(item.kind, item.msg):
            raise _EditError(
                f"{f}.new_parent_id", "cannot move an item into itself or one of its own children"
            )
        if item.kind == OPTION and parent.msg.kind not in _CHOICE_KINDS:
            raise _EditError(
                f"{f}.new_parent_id",
                f"classification {e.new_parent_id!r} is not a radio or checklist: it has no"
                " options",
            )
        moved = type(item.msg)()
        moved.CopyFrom(item.msg)
        self._detach(item)
        self.items = _index(self.d)
        _container(self.d, self.items, e.new_parent_id, item.kind).add().CopyFrom(moved)
        self._reindex()

    def remove(self, f: str, e: ontology_pb2.RemoveItem) -> None:
        item = self._get(f"{f}.item_id", e.item_id)
        if item.kind == CLASS:
            users = [
                r.id for r in self.d.relationships if e.item_id in (r.from_class_id, r.to_class_id)
            ]
            if users:
                raise _EditError(
                    f"{f}.item_id",
                    f"class {e.item_id!r} is used by relationship(s) {', '.join(users)}:"
                    " remove them first",
                )
        self._detach(item)
        self._reindex()

    def update(self, f: str, e: ontology_pb2.UpdateItem) -> None:
        which = e.WhichOneof("item")
        if which is None:
            raise _EditError(
                f"{f}.item",
                "required: one of ontology_class, classification, option, attribute, relationship",
            )
        kind = _ONEOF_KIND[which]
        new: Any = getattr(e, which)
        item = self._get(f"{f}.{which}.id", new.id)
        if item.kind != kind:
            raise _EditError(f"{f}.{which}", f"item {new.id!r} is {_a(item.kind)}, not {_a(kind)}")
        replacement = type(item.msg)()
        replacement.CopyFrom(new)
        for child_field in _CHILDREN[kind]:
            replacement.ClearField(child_field)
            getattr(replacement, child_field).extend(getattr(item.msg, child_field))
        if not replacement.name.strip():
            replacement.name = item.msg.name
        type_field = _TYPE_FIELD.get(kind)
        if type_field and getattr(replacement, type_field) == 0:
            setattr(replacement, type_field, getattr(item.msg, type_field))
        item.msg.CopyFrom(replacement)

    def replace(self, f: str, e: ontology_pb2.ReplaceDefinition) -> None:
        self.d.CopyFrom(e.definition)
        self._reindex()

    def _detach(self, item: _Item) -> None:
        container = _container(self.d, self.items, item.parent_id, item.kind)
        for i, sibling in enumerate(container):
            if sibling.id == item.msg.id:
                del container[i]
                return
        raise AssertionError("indexed item missing from its parent")  # pragma: no cover


def apply_edits(
    definition: definition_pb2.OntologyDefinition,
    edits: Sequence[ontology_pb2.DraftEdit],
    *,
    field: str = "edits",
) -> definition_pb2.OntologyDefinition:
    """Return a copy of ``definition`` with ``edits`` applied in order; ``definition`` is left
    untouched.

    Raises:
        InvalidArgument: reason ``INVALID_EDIT``, one field violation naming the first edit
            that cannot be applied (``edits[2].move.new_parent_id``) and why.
    """
    out = definition_pb2.OntologyDefinition()
    out.CopyFrom(definition)
    editor = _Editor(out)
    for i, edit in enumerate(edits):
        which = edit.WhichOneof("edit")
        f = f"{field}[{i}]"
        if which is None:
            raise InvalidArgument(
                f"{f} is empty",
                [
                    FieldViolation(
                        f,
                        "required: one of add, rename, retype, deprecate, move,"
                        " remove, update, replace",
                    )
                ],
                reason=INVALID_EDIT,
            )
        try:
            getattr(editor, which)(f"{f}.{which}", getattr(edit, which))
        except _EditError as err:
            raise InvalidArgument(
                f"{f} ({which}) cannot be applied: {err.description}",
                [FieldViolation(err.field, err.description)],
                reason=INVALID_EDIT,
            ) from None
    return out


def copy_message(msg: M) -> M:
    """A deep copy of a protobuf message."""
    out = type(msg)()
    out.CopyFrom(msg)
    return out
