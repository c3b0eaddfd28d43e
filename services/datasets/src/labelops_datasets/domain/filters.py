"""Which accepted labels a version holds (``RowFilter``), and the lineage enums' names (pure).

``RowFilter`` is also what the manifest records and cache fingerprints hash (``to_json``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from labelops_datasets.domain.splits import DEFAULT_RATIOS, _thresholds

#: ``qa.v1.ReviewDecision`` names by enum value (index = value); "none" = not reviewed.
REVIEW_DECISIONS: tuple[str, ...] = ("none", "accept", "fix_and_accept", "reject")

#: ``qa.v1.ConsensusMethod`` names by enum value; "none" = no consensus (single annotator).
CONSENSUS_METHODS: Mapping[int, str] = MappingProxyType(
    {0: "none", 1: "majority_vote", 2: "weighted_vote", 3: "dawid_skene"}
)

REVIEW_BY_VALUE: Mapping[int, str] = MappingProxyType(dict(enumerate(REVIEW_DECISIONS)))


def enum_name(names: Mapping[int, str], value: int) -> str:
    """The name of an enum value; a value this code does not know yet is ``unknown_<n>``."""
    name = names.get(value)
    return name if name is not None else f"unknown_{value}"


def _sorted_tuple(values: Any) -> Any:
    """``values`` as a sorted tuple (duplicates kept for ``validate``); as given if unsortable."""
    if isinstance(values, str) or not isinstance(values, Sequence | set | frozenset):
        return values
    try:
        return tuple(sorted(values))
    except TypeError:
        return tuple(values)


_FILTER_KEYS = frozenset(
    {"classes", "min_consensus_score", "review_decisions", "split_ratios", "split_salt"}
)


@dataclass(frozen=True)
class RowFilter:
    """Which accepted labels a version holds and how its items are split.

    ``classes`` and ``review_decisions`` are stored sorted whatever order they are given in
    (they are sets; equal filters must fingerprint the same); empty means "all". Duplicates
    and unknown names are kept for ``validate`` to report. ``min_consensus_score``: records
    whose lineage score is below it are left out entirely (0 keeps everything).
    """

    classes: tuple[str, ...] = ()
    min_consensus_score: float = 0.0
    review_decisions: tuple[str, ...] = ()
    split_ratios: tuple[float, float, float] = DEFAULT_RATIOS
    split_salt: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "classes", _sorted_tuple(self.classes))
        object.__setattr__(self, "review_decisions", _sorted_tuple(self.review_decisions))
        if isinstance(self.split_ratios, list):
            object.__setattr__(self, "split_ratios", tuple(self.split_ratios))

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values; always the same five keys (manifest, cache fingerprints)."""
        return {
            "classes": list(self.classes),
            "min_consensus_score": float(self.min_consensus_score),
            "review_decisions": list(self.review_decisions),
            "split_ratios": [float(r) for r in self.split_ratios],
            "split_salt": self.split_salt,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> RowFilter:
        """The inverse of ``to_json``; missing keys take their defaults.

        ValueError for unknown keys or values of the wrong JSON type; the values themselves
        are checked by ``validate``.
        """
        if not isinstance(d, Mapping):
            raise ValueError(f"a row filter must be a JSON object, got {type(d).__name__}")
        unknown = sorted(str(k) for k in d if k not in _FILTER_KEYS)
        if unknown:
            raise ValueError(f"unknown row filter keys: {unknown}")

        def strings(key: str) -> tuple[str, ...]:
            v = d.get(key, [])
            if not isinstance(v, list | tuple) or not all(isinstance(s, str) for s in v):
                raise ValueError(f"{key} must be a list of strings")
            return tuple(v)

        def number(v: Any, key: str) -> float:
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise ValueError(f"{key} must be a number, got {v!r}")
            return float(v)

        ratios = d.get("split_ratios", list(DEFAULT_RATIOS))
        if not isinstance(ratios, list | tuple) or len(ratios) != 3:
            raise ValueError(f"split_ratios must be a list of 3 numbers, got {ratios!r}")
        salt = d.get("split_salt", "")
        if not isinstance(salt, str):
            raise ValueError(f"split_salt must be a string, got {salt!r}")
        r0, r1, r2 = (number(r, "split_ratios") for r in ratios)
        return cls(
            classes=strings("classes"),
            min_consensus_score=number(d.get("min_consensus_score", 0.0), "min_consensus_score"),
            review_decisions=strings("review_decisions"),
            split_ratios=(r0, r1, r2),
            split_salt=salt,
        )

    def validate(self) -> list[tuple[str, str]]:
        """Problems as (field, description); empty when the filter is usable."""
        out: list[tuple[str, str]] = []
        out += _check_names("classes", self.classes, None)
        out += _check_names("review_decisions", self.review_decisions, REVIEW_DECISIONS)
        score = self.min_consensus_score
        if isinstance(score, bool) or not isinstance(score, int | float):
            out.append(("min_consensus_score", f"must be a number, got {score!r}"))
        elif not math.isfinite(score) or not 0.0 <= score <= 1.0:
            out.append(("min_consensus_score", f"must be finite and in [0, 1], got {score!r}"))
        ratios = self.split_ratios
        if not isinstance(ratios, tuple) or any(
            isinstance(r, bool) or not isinstance(r, int | float) for r in ratios
        ):
            out.append(("split_ratios", f"must be 3 numbers (train, val, test), got {ratios!r}"))
        else:
            try:
                _thresholds(ratios)  # the splitter's own rule
            except ValueError as e:
                out.append(("split_ratios", str(e)))
        if not isinstance(self.split_salt, str):
            out.append(("split_salt", f"must be a string, got {self.split_salt!r}"))
        return out


def _check_names(name: str, values: Any, allowed: tuple[str, ...] | None) -> list[tuple[str, str]]:
    if not isinstance(values, tuple):
        return [(name, f"must be a list of strings, got {values!r}")]
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    dupes: list[str] = []
    for i, v in enumerate(values):
        if not isinstance(v, str):
            out.append((f"{name}[{i}]", f"must be a string, got {v!r}"))
            continue
        if not v:
            out.append((f"{name}[{i}]", "must not be empty"))
        elif allowed is not None and v not in allowed:
            out.append((f"{name}[{i}]", f"unknown value {v!r}; expected one of {list(allowed)}"))
        if v in seen and v not in dupes:
            dupes.append(v)
        seen.add(v)
    if dupes:
        out.append((name, f"duplicate values: {dupes}"))
    return out
