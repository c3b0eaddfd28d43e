"""Project workflow configuration and id rules (validation only, no I/O)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from .errors import FieldViolation, violation
from .overlap import OverlapPolicy, validate_overlap

REVIEW_POLICIES: Final = frozenset({"none", "sampled", "targeted", "all"})

_ID_PATTERN: Final = r"^[a-z0-9][a-z0-9-]{0,62}$"
PROJECT_ID_RE: Final = re.compile(_ID_PATTERN)
POOL_ID_RE: Final = re.compile(_ID_PATTERN)

MIN_LEASE_SECONDS: Final = 2
MAX_LEASE_SECONDS: Final = 86_400
MAX_GOLD_RATE: Final = 0.5
MAX_TASKS_PER_CLAIM: Final = 1000


@dataclass(frozen=True, slots=True)
class WorkflowConfig:
    """How a project's tasks are labeled.

    Attributes:
        review_policy: "none", "sampled", "targeted" or "all".
        review_sample_rate: share of labeled tasks reviewed under "sampled", in [0, 1].
        lease_seconds: how long an annotator holds a task before it can be offered again.
        gold_rate: share of offers that are gold tasks, at most 0.5.
        max_tasks_per_claim: cap on tasks one claim call may lease.
        high_stakes_classes: classes whose tasks route as high-stakes.
    """

    overlap: OverlapPolicy = field(default_factory=OverlapPolicy)
    review_policy: str = "targeted"
    review_sample_rate: float = 0.1
    lease_seconds: int = 900
    gold_rate: float = 0.0
    max_tasks_per_claim: int = 50
    prelabels_enabled: bool = False
    high_stakes_classes: frozenset[str] = frozenset()


def validate_config(cfg: WorkflowConfig) -> list[FieldViolation]:
    """Every problem of a workflow config (empty when valid); fields start with ``config.``."""
    out: list[FieldViolation] = []
    if cfg.review_policy not in REVIEW_POLICIES:
        out.append(
            violation(
                "config.review_policy",
                f"{cfg.review_policy!r} is not one of {', '.join(sorted(REVIEW_POLICIES))}",
            )
        )
    if not (0.0 <= cfg.review_sample_rate <= 1.0):  # also rejects NaN
        out.append(
            violation("config.review_sample_rate", f"{cfg.review_sample_rate} is outside [0, 1]")
        )
    if not (MIN_LEASE_SECONDS <= cfg.lease_seconds <= MAX_LEASE_SECONDS):
        out.append(
            violation(
                "config.lease_seconds",
                f"{cfg.lease_seconds} is outside {MIN_LEASE_SECONDS}..{MAX_LEASE_SECONDS}",
            )
        )
    if not (0.0 <= cfg.gold_rate <= MAX_GOLD_RATE):
        # More than half gold would spend most annotator time on known answers.
        out.append(violation("config.gold_rate", f"{cfg.gold_rate} is outside [0, 0.5]"))
    if not (1 <= cfg.max_tasks_per_claim <= MAX_TASKS_PER_CLAIM):
        out.append(
            violation(
                "config.max_tasks_per_claim",
                f"{cfg.max_tasks_per_claim} is outside 1..{MAX_TASKS_PER_CLAIM}",
            )
        )
    if any(not c for c in cfg.high_stakes_classes):
        out.append(violation("config.high_stakes_classes", "contains an empty class id"))
    out += validate_overlap(cfg.overlap, prefix="config.overlap")
    return out


def validate_id(field: str, value: str) -> list[FieldViolation]:
    """Violations of a project or pool id (lowercase letters, digits, '-'; at most 63 chars)."""
    if not value:
        return [violation(field, "is required")]
    # fullmatch: with re.match, "$" would also accept a trailing newline.
    if not PROJECT_ID_RE.fullmatch(value):
        return [
            violation(
                field,
                f"{value[:80]!r} must be 1-63 lowercase letters, digits or '-', "
                "starting with a letter or digit",
            )
        ]
    return []
