"""Overlap (several independent labels per item) and gold-slot sampling.

Both decisions are deterministic draws (``unit_hash``) rather than random ones: re-creating a
task, replaying events or asking another replica gives the same answer, while the draw still
looks random to annotators, who cannot tell which items are overlapped or which offers are gold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from .errors import FieldViolation, violation
from .sampling import unit_hash

MIN_ANNOTATORS: Final = 2
MAX_ANNOTATORS: Final = 10


@dataclass(frozen=True, slots=True)
class ClassOverlap:
    """Overlap of one class.

    Attributes:
        sample_rate: share of the class's tasks that get overlap, in [0, 1].
        annotators: labels required for a sampled task (2..10).
    """

    class_id: str
    sample_rate: float
    annotators: int


@dataclass(frozen=True, slots=True)
class OverlapPolicy:
    """How many labels tasks need: per-class settings, else the defaults.

    ``per_class`` is keyed by class id. It is copied into a read-only mapping on construction so
    a caller mutating its dict afterwards cannot change a policy already in use.
    """

    default_sample_rate: float = 0.0
    default_annotators: int = MIN_ANNOTATORS
    per_class: Mapping[str, ClassOverlap] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "per_class", MappingProxyType(dict(self.per_class)))

    def __hash__(self) -> int:
        # Explicit because the generated hash would fail on the mapping; this keeps
        # WorkflowConfig (which holds a policy) hashable and usable as a dataclass default.
        return hash(
            (
                self.default_sample_rate,
                self.default_annotators,
                frozenset(self.per_class.items()),
            )
        )

    def for_class(self, class_id: str) -> tuple[float, int]:
        """(sample rate, annotators) that apply to ``class_id``."""
        c = self.per_class.get(class_id)
        if c is None:
            return self.default_sample_rate, self.default_annotators
        return c.sample_rate, c.annotators


def required_labels(policy: OverlapPolicy, project_id: str, item_id: str, class_id: str) -> int:
    """Labels required for an item: the class's annotator count when sampled, else 1.

    The draw depends on (project, item) only, so an item gets the same answer every time it is
    routed; a 100 % class always gets overlap, a 10 % class on about one item in ten.
    """
    rate, annotators = policy.for_class(class_id)
    u = unit_hash(project_id, item_id, "overlap")
    # max(1, ...): a count below 1 would make a task "labeled" with no label at all.
    return max(1, annotators) if u < rate else 1


def validate_overlap(policy: OverlapPolicy, prefix: str = "overlap") -> list[FieldViolation]:
    """Every problem of an overlap policy (empty when valid).

    Field paths start with ``prefix``: ``overlap.default_sample_rate``,
    ``overlap.per_class[<class id>].annotators``.
    """
    out: list[FieldViolation] = []
    out += _check_rate(f"{prefix}.default_sample_rate", policy.default_sample_rate)
    out += _check_annotators(f"{prefix}.default_annotators", policy.default_annotators)
    for key, c in policy.per_class.items():
        p = f"{prefix}.per_class[{key}]"
        if not key or not c.class_id:
            out.append(violation(f"{p}.class_id", "is required"))
        elif c.class_id != key:
            out.append(violation(f"{p}.class_id", f"{c.class_id!r} does not match its key"))
        out += _check_rate(f"{p}.sample_rate", c.sample_rate)
        out += _check_annotators(f"{p}.annotators", c.annotators)
    return out


def _check_rate(path: str, rate: float) -> list[FieldViolation]:
    if not (0.0 <= rate <= 1.0):  # also rejects NaN
        return [violation(path, f"{rate} is outside [0, 1]")]
    return []


def _check_annotators(path: str, n: int) -> list[FieldViolation]:
    if not (MIN_ANNOTATORS <= n <= MAX_ANNOTATORS):
        return [violation(path, f"{n} is outside {MIN_ANNOTATORS}..{MAX_ANNOTATORS}")]
    return []


def is_gold_slot(gold_rate: float, project_id: str, annotator_id: str, offer_seq: int) -> bool:
    """Whether an annotator's ``offer_seq``-th offer in a project is a gold (known-answer) task.

    ``offer_seq`` is the annotator's running count of offers in the project, so the decision is
    reproducible for audits yet differs per annotator and cannot be predicted by a worker.
    """
    return unit_hash(project_id, annotator_id, str(offer_seq), "gold") < gold_rate
