"""Caps on the size of labels (``LabelLimits``), checked by ``CompiledOntology.validate_items``.

A label is stored whole in events (a 4 MB polygon became three 4 MB events) and walked by every
consumer, so sizes are bounded where labels are validated. Exceeding a cap is a ``LabelIssue``
with reason ``TOO_LARGE`` (never an exception); the oversized part is not examined further (a
label over a cap gets no other checks; labels and relations beyond their caps are not looked at).

The defaults are generous for real annotation and small enough that one item's labels stay far
below an event's size; a deployment changes them with ``compile_ontology(d, limits=...)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from .issues import LabelIssue
from .reasons import TOO_LARGE

#: Vertices of one polygon or polyline.
MAX_VERTICES: Final = 10_000
#: Labels of one item.
MAX_LABELS_PER_ITEM: Final = 10_000
#: Answers of one label (top-level entries of ``Label.answers``).
MAX_ANSWERS_PER_LABEL: Final = 1_000
#: Relations of one item.
MAX_RELATIONS_PER_ITEM: Final = 10_000
#: Characters of one text answer (a classification's own ``max_length`` may be lower).
MAX_TEXT_ANSWER_CHARS: Final = 8_192
#: Characters of a label id.
MAX_LABEL_ID_CHARS: Final = 128


@dataclass(frozen=True, slots=True)
class LabelLimits:
    """The caps one compiled ontology applies (defaults: the module constants)."""

    max_vertices: int = MAX_VERTICES
    max_labels_per_item: int = MAX_LABELS_PER_ITEM
    max_answers_per_label: int = MAX_ANSWERS_PER_LABEL
    max_relations_per_item: int = MAX_RELATIONS_PER_ITEM
    max_text_answer_chars: int = MAX_TEXT_ANSWER_CHARS
    max_label_id_chars: int = MAX_LABEL_ID_CHARS

    def __post_init__(self) -> None:
        for name in self.__slots__:  # type: ignore[attr-defined]
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")


def _too_large(ii: int, li: int, field: str, what: str, n: int, cap: int) -> LabelIssue:
    return LabelIssue(ii, li, field, f"{what}: {n}, the limit is {cap}", TOO_LARGE)


def capped(seq: Any, cap: int, ii: int, field: str, what: str, issues: list[LabelIssue]) -> Any:
    """``seq`` itself, or its first ``cap`` entries after reporting an item-level issue."""
    n = len(seq)
    if n <= cap:
        return seq
    issues.append(_too_large(ii, -1, field, what, n, cap))
    return seq[:cap]


def label_too_large(
    label: Any, geometry: str | None, lim: LabelLimits, ii: int, li: int, issues: list[LabelIssue]
) -> bool:
    """Report every cap ``label`` exceeds; True when it exceeds any (skip its other checks)."""
    found = False
    lid = label.label_id
    if len(lid) > lim.max_label_id_chars:
        issues.append(
            _too_large(ii, li, "label_id", "label id characters", len(lid), lim.max_label_id_chars)
        )
        found = True
    if geometry == "polygon" or geometry == "polyline":
        n = len(getattr(label, geometry).points)
        if n > lim.max_vertices:
            field = f"geometry.{geometry}.points"
            issues.append(_too_large(ii, li, field, f"{geometry} vertices", n, lim.max_vertices))
            found = True
    answers = label.answers
    if answers:
        if len(answers) > lim.max_answers_per_label:
            n, cap = len(answers), lim.max_answers_per_label
            issues.append(_too_large(ii, li, "answers", "answers", n, cap))
            return True
        cap = lim.max_text_answer_chars
        for ai, a in enumerate(answers):
            if len(a.text) > cap:
                field = f"answers[{ai}].text"
                issues.append(_too_large(ii, li, field, "text answer characters", len(a.text), cap))
                found = True
    return found
