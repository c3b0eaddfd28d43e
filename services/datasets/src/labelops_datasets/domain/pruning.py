"""Migrated labels made to fit the target ontology version (pure).

A migration's rules (``labelops_ontologykit.migration.MigrationPlan``) move classes and
options; they say nothing about the answers and attributes the target version no longer has.
Left alone, a v1 label migrated to 2.0.0 keeps ``car_color`` although 2.0.0 has no such
classification, and its row does not validate against the version it claims to be in.
``TargetVersion.fit`` is applied after the plan to every migrated label:

- an option-valued answer (radio, checklist) goes where its option is *in the target
  version*: option ids are unique in an ontology and stable across versions, so an option
  that a ``map_option`` rule maps into another classification of the class, or that the
  ontology moved there, takes its answer with it (a radio answer to a radio, checklist options
  to a checklist of that classification; an option under a classification of another kind is
  dropped). Options the target version does not have are dropped, and an answer left without
  options with them;
- a text or number answer stays when its classification is in the target version with that
  kind, else it is dropped;
- one answer per classification (the first, in the label's order);
- a nested answer stays only while the option that opens it is selected by a kept answer (so
  dropping an answer drops the sub-answers under it, at any depth);
- attributes stay when the class has them in the target version with that type (an enum's
  value must be one of its values).

Deprecated classifications, options and attributes exist in the target version and are kept.
A label whose class the target version lacks is left as it is (covering removed classes is
the class rules' job, checked when a migration is created). What is dropped is in the version
no longer, but stays in the log (a version at the labels' own ontology version has it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from labelops.labels.v1 import label_pb2
from labelops.ontology.v1 import definition_pb2 as d
from labelops_ontologykit.definition import ATTRIBUTE, CLASSIFICATION, OPTION, index, walk

#: The ``Answer.value`` field each classification kind is answered with.
_VALUE = {
    d.CLASSIFICATION_KIND_RADIO: "option_id",
    d.CLASSIFICATION_KIND_CHECKLIST: "checklist",
    d.CLASSIFICATION_KIND_TEXT: "text",
    d.CLASSIFICATION_KIND_NUMBER: "number",
}
#: The ``AttributeValue.value`` field each attribute type takes.
_ATTRIBUTE_VALUE = {
    d.ATTRIBUTE_TYPE_STRING: "string_value",
    d.ATTRIBUTE_TYPE_ENUM: "string_value",
    d.ATTRIBUTE_TYPE_INT: "int_value",
    d.ATTRIBUTE_TYPE_FLOAT: "float_value",
    d.ATTRIBUTE_TYPE_BOOL: "bool_value",
}


@dataclass(frozen=True)
class _Choice:
    value: str  # the Answer.value field it is answered with
    options: frozenset[str]
    #: The option that opens it (a nested classification), None at the top level.
    opened_by: str | None


@dataclass
class _Class:
    choices: dict[str, _Choice] = field(default_factory=dict)
    #: option id → the classification (of this class) it belongs to.
    owner: dict[str, str] = field(default_factory=dict)
    #: attribute id → (its AttributeValue field, the enum's values or None).
    attributes: dict[str, tuple[str, frozenset[str] | None]] = field(default_factory=dict)


class TargetVersion:
    """What the labels of each class may carry in one ontology version (see the module)."""

    def __init__(self, definition: d.OntologyDefinition) -> None:
        items = index(definition)
        self._classes: dict[str, _Class] = {c.id: _Class() for c in definition.classes}
        for node in walk(definition):
            spec = self._classes.get(node.class_id or "")
            if spec is None:
                continue
            if node.kind == CLASSIFICATION:
                parent = items.get(node.parent_id or "")
                opened_by = node.parent_id if parent is not None and parent.kind == OPTION else None
                options = frozenset(o.id for o in node.msg.options)
                value = _VALUE.get(node.msg.kind, "")
                spec.choices[node.id] = _Choice(value, options, opened_by)
                for o in options:
                    spec.owner.setdefault(o, node.id)
            elif node.kind == ATTRIBUTE:
                enum = frozenset(node.msg.enum_values)
                is_enum = node.msg.type == d.ATTRIBUTE_TYPE_ENUM
                kind = _ATTRIBUTE_VALUE.get(node.msg.type, "")
                spec.attributes[node.id] = (kind, enum if is_enum else None)

    def fit(self, label: label_pb2.Label) -> label_pb2.Label:
        """``label`` (changed in place, and returned) with only what the target version has."""
        spec = self._classes.get(label.class_id)
        if spec is None:
            return label
        answers = _opened(spec, _one_each(a for old in label.answers for a in _place(spec, old)))
        if len(answers) != len(label.answers) or any(
            a is not b for a, b in zip(answers, label.answers, strict=False)
        ):
            kept = [_copy(a) for a in answers]
            del label.answers[:]
            label.answers.extend(kept)
        for key in [k for k, v in label.attributes.items() if not _fits(spec, k, v)]:
            del label.attributes[key]
        return label


def _copy(a: label_pb2.Answer) -> label_pb2.Answer:
    out = label_pb2.Answer()
    out.CopyFrom(a)
    return out


def _place(spec: _Class, a: label_pb2.Answer) -> list[label_pb2.Answer]:
    """The answer as the target version has it: where its options are, or nothing."""
    cid, which = a.classification_id, a.WhichOneof("value")
    here = spec.choices.get(cid)

    def owner(option: str) -> str | None:
        return cid if here is not None and option in here.options else spec.owner.get(option)

    if which == "option_id":
        to = owner(a.option_id)
        if to is None or spec.choices[to].value != "option_id":
            return []
        return [a if to == cid else label_pb2.Answer(classification_id=to, option_id=a.option_id)]
    if which == "checklist":
        if not a.checklist.option_ids:
            return [a] if here is not None and here.value == "checklist" else []
        groups: dict[str, list[str]] = {}
        for option in a.checklist.option_ids:
            to = owner(option)
            if to is not None and spec.choices[to].value == "checklist":
                groups.setdefault(to, []).append(option)
        if list(groups) == [cid] and groups[cid] == list(a.checklist.option_ids):
            return [a]
        return [
            label_pb2.Answer(
                classification_id=to, checklist=label_pb2.ChecklistAnswer(option_ids=o)
            )
            for to, o in groups.items()
        ]
    return [a] if here is not None and which is not None and here.value == which else []


def _one_each(answers: Iterable[label_pb2.Answer]) -> list[label_pb2.Answer]:
    """The first answer of each classification, in order."""
    seen: set[str] = set()
    out = []
    for a in answers:
        if a.classification_id not in seen:
            seen.add(a.classification_id)
            out.append(a)
    return out


def _opened(spec: _Class, answers: list[label_pb2.Answer]) -> list[label_pb2.Answer]:
    """The answers whose classification is top level or opened by a selected option, until
    nothing changes (a dropped answer closes the sub-questions under it, at any depth)."""
    while True:
        selected = {a.option_id for a in answers if a.WhichOneof("value") == "option_id"}
        selected.update(
            o for a in answers if a.HasField("checklist") for o in a.checklist.option_ids
        )
        kept = [
            a
            for a in answers
            if (opened_by := spec.choices[a.classification_id].opened_by) is None
            or opened_by in selected
        ]
        if len(kept) == len(answers):
            return kept
        answers = kept


def _fits(spec: _Class, key: str, value: label_pb2.AttributeValue) -> bool:
    found = spec.attributes.get(key)
    if found is None:
        return False
    kind, enum = found
    if value.WhichOneof("value") != kind:
        return False
    return enum is None or value.string_value in enum
