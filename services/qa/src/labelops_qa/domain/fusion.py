"""Fusion of what an object carries besides its geometry: answers, attributes, relations.

Consensus first matches the annotators' objects (``consensus.py``: IoU, spans, keypoints,
masks per class, the whole-item label); each fused object then gets, per field, the value of
a vote among the annotators whose object was matched into it (its *members*):

- an answer per ``classification_id`` (answers are a flat list; a nested classification is
  answered only under its selected option, so nesting is voted field by field: when every
  field has a strict majority the result is as consistent as the annotators were — a nested
  answer can only win where a majority selected its parent option), an attribute per
  attribute id. Not answering is a vote too (``absent``). The winner is the most voted value,
  ties broken towards the earliest annotator's value; the field is *agreed* when the winner
  has a strict majority of the members.
- a relation between two fused objects survives when a strict majority of the annotators who
  drew both ends drew it (annotator label ids mapped to the fused ids); a tie is no agreement.

Every field voted is recorded as a ``FieldAgreement`` (who gave the winning value).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from labelops.labels.v1 import label_pb2 as L

#: (annotator index, annotator id, the annotator's label) matched into one fused object.
Member = tuple[int, str, L.Label]


@dataclass(frozen=True)
class FieldAgreement:
    """The vote on one field of the consensus.

    ``field``: ``answers.<classification_id>``, ``attributes.<attribute_id>`` or
    ``relations.<relationship_id>`` (then ``label_id`` is ``<from>-><to>``). ``value``: the
    winner, readable ("absent" when not answering won). ``agreement``: the winner's share of
    the voters; ``agreed``: a strict majority; ``annotator_ids``: who voted for the winner;
    ``voters``: who voted at all.
    """

    label_id: str
    field: str
    value: str
    agreement: float
    agreed: bool
    annotator_ids: tuple[str, ...]
    voters: tuple[str, ...]

    def describe(self) -> str:
        return f"{self.field} of {self.label_id}" if self.label_id else self.field


ABSENT = "absent"


def answer_key(a: L.Answer) -> str:
    """A comparable, readable form of an answer's value."""
    kind = a.WhichOneof("value")
    if kind == "checklist":
        return "checklist:" + ",".join(sorted(a.checklist.option_ids))
    if kind is None:
        return "empty"
    return f"{kind}:{getattr(a, kind)}"


def attribute_key(v: L.AttributeValue) -> str:
    kind = v.WhichOneof("value")
    return f"{kind}:{getattr(v, kind)}" if kind else "empty"


def _vote(keys: Sequence[str]) -> tuple[str, int]:
    """Most frequent key, ties towards the earliest voter's key; and its count."""
    counts: dict[str, int] = {}
    for k in keys:
        counts[k] = counts.get(k, 0) + 1
    best = max(counts.values())
    winner = next(k for k in keys if counts[k] == best)
    return winner, best


def _voters(members: Sequence[Member]) -> list[Member]:
    """One vote per annotator: their first label in the object."""
    seen: set[int] = set()
    out = []
    for m in members:
        if m[0] not in seen:
            seen.add(m[0])
            out.append(m)
    return out


def _fuse_map(
    label_id: str,
    prefix: str,
    voters: Sequence[Member],
    values: Callable[[L.Label], Mapping[str, Any]],
    key: Callable[[Any], str],
) -> tuple[list[tuple[str, Any]], list[FieldAgreement]]:
    """Vote each field (by id) of ``values(label)``: the winning (id, value) pairs in the
    order they first appear, and one agreement per field."""
    ids: list[str] = []
    for _, _, lab in voters:
        ids.extend(f for f in values(lab) if f not in ids)
    winners: list[tuple[str, Any]] = []
    fields: list[FieldAgreement] = []
    for fid in ids:
        keys = [key(values(lab)[fid]) if fid in values(lab) else ABSENT for _, _, lab in voters]
        winner, count = _vote(keys)
        if winner != ABSENT:
            at = keys.index(winner)
            winners.append((fid, values(voters[at][2])[fid]))
        fields.append(
            FieldAgreement(
                label_id=label_id,
                field=f"{prefix}.{fid}",
                value=winner,
                agreement=count / len(voters),
                agreed=count * 2 > len(voters),
                annotator_ids=tuple(v[1] for v, k in zip(voters, keys, strict=True) if k == winner),
                voters=tuple(v[1] for v in voters),
            )
        )
    return winners, fields


def _answers_by_id(lab: L.Label) -> dict[str, L.Answer]:
    out: dict[str, L.Answer] = {}
    for a in lab.answers:
        out.setdefault(a.classification_id, a)
    return out


def fuse_fields(label: L.Label, members: Sequence[Member]) -> list[FieldAgreement]:
    """Set ``label``'s answers and attributes to the members' vote; the agreements."""
    voters = _voters(members)
    if not voters:
        return []
    answers, fields = _fuse_map(label.label_id, "answers", voters, _answers_by_id, answer_key)
    del label.answers[:]
    for _, a in answers:
        label.answers.append(a)
    attrs, attr_fields = _fuse_map(
        label.label_id, "attributes", voters, lambda lab: lab.attributes, attribute_key
    )
    label.attributes.clear()
    for aid, v in attrs:
        label.attributes[aid].CopyFrom(v)
    return fields + attr_fields


#: (annotator index, the annotator's label id) -> fused label id.
IdMap = Mapping[tuple[int, str], str]


def fuse_relations(
    submissions: Sequence[tuple[str, L.ItemLabels]], ids: IdMap
) -> tuple[list[L.Relation], list[FieldAgreement]]:
    """The relations between fused objects that a strict majority of the annotators who drew
    both ends drew, in the order first drawn; one agreement per relation anyone drew."""
    ends: dict[str, set[int]] = {}
    for (ai, _), fused in ids.items():
        ends.setdefault(fused, set()).add(ai)
    drawn: dict[tuple[str, str, str], list[int]] = {}
    for ai, (_, s) in enumerate(submissions):
        for r in s.relations:
            a, b = ids.get((ai, r.from_label_id)), ids.get((ai, r.to_label_id))
            if a is None or b is None or a == b:
                continue
            who = drawn.setdefault((r.relationship_id, a, b), [])
            if ai not in who:
                who.append(ai)
    kept: list[L.Relation] = []
    fields: list[FieldAgreement] = []
    for (rel, a, b), who in drawn.items():
        eligible = sorted(ends[a] & ends[b])
        survives = len(who) * 2 > len(eligible)
        if survives:
            kept.append(L.Relation(relationship_id=rel, from_label_id=a, to_label_id=b))
        winners = who if survives else [i for i in eligible if i not in who]
        fields.append(
            FieldAgreement(
                label_id=f"{a}->{b}",
                field=f"relations.{rel}",
                value="present" if survives else ABSENT,
                agreement=len(winners) / len(eligible),
                agreed=len(winners) * 2 > len(eligible),
                annotator_ids=tuple(submissions[i][0] for i in winners),
                voters=tuple(submissions[i][0] for i in eligible),
            )
        )
    return kept, fields
