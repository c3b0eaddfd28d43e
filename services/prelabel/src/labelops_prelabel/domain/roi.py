"""Pre-label ROI per class: does showing the model's pre-labels save annotators time?

A pre-label pays off when correcting it is faster than drawing the label from scratch. For a
class the model gets mostly right that is a large saving (accept a box in 4 s instead of
drawing it in 12 s); for a class it gets mostly wrong the annotator first has to judge, move
or delete the proposal and then draw anyway, which can be slower than never seeing it. This
module measures that per class from labeled items and decides when the prelabel service should
stop offering pre-labels for a class (``PreLabelingDisabled``, carrying ``Decision.evidence``)
and when to offer them again.

Public API
----------
- ``Outcome``: what happened to a pre-label: ``ACCEPTED`` (kept as is), ``EDITED`` (corrected),
  ``REPLACED`` (discarded and drawn anew). The values are the suffixes of routing's
  ``PrelabelOutcome`` enum (``PRELABEL_OUTCOME_ACCEPTED`` ...).
- ``Observation``: one labeled item (or label) of a class, with its time and, if a pre-label
  was shown, its outcome.
- ``SimpleLabel`` and ``outcome_of``: classify a pre-label against the final label (class and
  box IoU), for callers that only have the labels, not the annotator tool's own outcome.
- ``class_roi`` / ``roi_by_class``: ``ClassRoi`` statistics (counts per outcome, acceptance
  rate, mean / median seconds with and without pre-label, the median saving and a bootstrap
  confidence interval around it).
- ``RoiPolicy`` and ``decide``: one class's on / off decision with hysteresis.
- ``RoiTracker``: rolling windows of observations per class; ``evaluate`` returns the decisions
  that change a class's state.

The statistic, and why
----------------------
The decision is about the *median* seconds per item, scratch minus pre-labeled (the saving),
with a percentile-bootstrap confidence interval (``n_boot`` resamples of each side, fixed
seed). Labeling times are right-skewed with long tails (an annotator gets interrupted, a task
sits open over lunch): a Welch t-test on means lets a handful of 10-minute items flip the
switch, which is exactly what must not happen. A Mann-Whitney U test is robust too, but gives
a p-value for "one side tends to be larger", not an amount of seconds, and the policy thresholds
(``min_saving_s``, ``hysteresis_s``) are amounts of seconds a product owner can reason about.
The bootstrap bounds are in seconds, are robust (the median ignores up to half the sample being
wild), need no distributional assumption, and are deterministic: the samples are sorted before
resampling and the generator is seeded, so the same window contents always give the same
bounds, whatever order the observations arrived in (a replay of the event log reproduces every
decision).

Decision rule (``decide``)
--------------------------
With ``lo`` / ``hi`` the one-sided ``confidence`` bounds of the saving:

- fewer than ``min_samples_each`` observations with or without pre-label: keep the current
  state (reason ``"insufficient evidence"``);
- enabled and ``hi < min_saving_s``: switch **off**, pre-labels credibly save less than the
  minimum (with the default 0 s: they are credibly *slower* than labeling from scratch);
- disabled and ``lo > min_saving_s + hysteresis_s``: switch **on** again, pre-labels credibly
  save more than the minimum plus a margin;
- anything else keeps the current state. The gap between the two thresholds is the hysteresis:
  a class whose saving hovers around the threshold does not flap on and off.

The acceptance rate (and the per-outcome medians) are evidence, not inputs to the rule: a low
acceptance rate with quick edits can still pay off, time is what the ROI is about.

Operating notes for the service
-------------------------------
While a class is off, no new pre-labeled observations arrive unless the service keeps showing
pre-labels on a small probe share of the class's tasks (or checks a new model version on a
sample); ``RoiTracker.forget_prelabeled`` drops a class's pre-labeled window when a new model
version makes the old evidence stale.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

__all__ = [
    "INSUFFICIENT_EVIDENCE",
    "ClassRoi",
    "Decision",
    "Observation",
    "Outcome",
    "RoiPolicy",
    "RoiTracker",
    "SimpleLabel",
    "class_roi",
    "decide",
    "outcome_of",
    "roi_by_class",
]

#: The reason of a decision that keeps the state because one side has too few samples.
INSUFFICIENT_EVIDENCE = "insufficient evidence"

#: Upper bound on the elements of one bootstrap index block (~32 MiB of int64).
_BLOCK_ELEMENTS = 1 << 22


class Outcome(StrEnum):
    """What the annotator did with a pre-label."""

    ACCEPTED = "ACCEPTED"  # kept as is
    EDITED = "EDITED"  # corrected (geometry adjusted, or class fixed on a kept geometry)
    REPLACED = "REPLACED"  # discarded and drawn anew (or deleted)


@dataclass(frozen=True, slots=True)
class Observation:
    """One labeled item (or label) of ``class_id`` and the seconds it took.

    ``prelabeled`` says whether a pre-label was shown; ``outcome`` is set exactly when it was.
    ``seconds`` must be finite and non-negative.
    """

    class_id: str
    prelabeled: bool
    outcome: Outcome | None
    seconds: float

    def __post_init__(self) -> None:
        if not isinstance(self.class_id, str) or not self.class_id:
            raise ValueError(f"class_id must be a non-empty string, got {self.class_id!r}")
        if self.prelabeled and self.outcome is None:
            raise ValueError("a pre-labeled observation needs an outcome")
        if not self.prelabeled and self.outcome is not None:
            raise ValueError("an observation without pre-label cannot have an outcome")
        if self.outcome is not None and not isinstance(self.outcome, Outcome):
            raise ValueError(f"outcome must be an Outcome, got {self.outcome!r}")
        s = float(self.seconds)
        if not math.isfinite(s) or s < 0:
            raise ValueError(f"seconds must be finite and >= 0, got {self.seconds!r}")


# --- outcome classification --------------------------------------------------------------------

Box = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class SimpleLabel:
    """A label reduced to what ``outcome_of`` compares: its class and, if any, its box.

    ``box`` is ``(x, y, width, height)`` in pixels (finite, width and height >= 0); ``None`` is
    a whole-item label (classification), which is compared by class only.
    """

    class_id: str
    box: Box | None = None

    def __post_init__(self) -> None:
        if self.box is not None:
            if len(self.box) != 4 or not all(math.isfinite(float(v)) for v in self.box):
                raise ValueError(f"box must be 4 finite numbers (x, y, w, h), got {self.box!r}")
            if self.box[2] < 0 or self.box[3] < 0:
                raise ValueError(f"box width and height must be >= 0, got {self.box!r}")


def _iou(a: Box, b: Box) -> float:
    """Intersection over union of two ``(x, y, w, h)`` boxes; two identical empty boxes = 1."""
    ax, ay, aw, ah = (float(v) for v in a)
    bx, by, bw, bh = (float(v) for v in b)
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    if union <= 0:
        return 1.0 if (ax, ay, aw, ah) == (bx, by, bw, bh) else 0.0
    return inter / union


def outcome_of(
    prelabel: SimpleLabel,
    final: SimpleLabel | None,
    *,
    iou_accept: float = 0.95,
    iou_edit: float = 0.5,
) -> Outcome:
    """Classify what happened to ``prelabel`` given the ``final`` label it turned into.

    Boxes (both labels have one):

    - same class and IoU >= ``iou_accept``: ``ACCEPTED`` (kept, up to a few pixels of nudging);
    - same class and IoU >= ``iou_edit``: ``EDITED`` (the geometry was adjusted);
    - class changed but IoU >= ``iou_accept``: ``EDITED`` (only the class was fixed);
    - anything else: ``REPLACED``.

    Whole-item labels (neither has a box): same class ``ACCEPTED``, other class ``REPLACED``
    (picking another class is what labeling from scratch is). A box against a whole-item label,
    or ``final=None`` (the pre-label was deleted), is ``REPLACED``. The caller pairs pre-labels
    with final labels (e.g. by label id, or by matching boxes); this function judges one pair.
    """
    if not 0.0 < iou_edit <= iou_accept <= 1.0:
        raise ValueError(f"need 0 < iou_edit <= iou_accept <= 1, got {iou_edit}, {iou_accept}")
    if final is None:
        return Outcome.REPLACED
    same_class = prelabel.class_id == final.class_id
    if prelabel.box is None and final.box is None:
        return Outcome.ACCEPTED if same_class else Outcome.REPLACED
    if prelabel.box is None or final.box is None:
        return Outcome.REPLACED
    iou = _iou(prelabel.box, final.box)
    if same_class:
        if iou >= iou_accept:
            return Outcome.ACCEPTED
        if iou >= iou_edit:
            return Outcome.EDITED
        return Outcome.REPLACED
    return Outcome.EDITED if iou >= iou_accept else Outcome.REPLACED


# --- statistics --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClassRoi:
    """ROI statistics of one class over a set of observations.

    Seconds statistics are ``None`` when their side has no observation; the saving and its
    bounds are ``None`` unless both sides have one. ``saving_s`` = median scratch - median
    pre-labeled (positive: pre-labels save time). ``saving_low_s`` / ``saving_high_s`` are the
    one-sided ``confidence`` bounds of the percentile bootstrap: with that confidence the saving
    is at least ``saving_low_s``, and with that confidence at most ``saving_high_s``.
    """

    class_id: str
    n_prelabeled: int
    n_scratch: int
    accepted: int
    edited: int
    replaced: int
    acceptance_rate: float | None
    mean_prelabeled_s: float | None
    median_prelabeled_s: float | None
    mean_scratch_s: float | None
    median_scratch_s: float | None
    median_by_outcome_s: dict[str, float] = field(default_factory=dict)
    saving_s: float | None = None
    saving_low_s: float | None = None
    saving_high_s: float | None = None
    confidence: float = 0.95
    n_boot: int = 2000
    seed: int = 0

    def evidence(self) -> dict[str, Any]:
        """The statistics as a JSON-friendly dict (what a ``PreLabelingDisabled`` event carries)."""
        return {
            "class_id": self.class_id,
            "n_prelabeled": self.n_prelabeled,
            "n_scratch": self.n_scratch,
            "accepted": self.accepted,
            "edited": self.edited,
            "replaced": self.replaced,
            "acceptance_rate": self.acceptance_rate,
            "mean_prelabeled_s": self.mean_prelabeled_s,
            "median_prelabeled_s": self.median_prelabeled_s,
            "mean_scratch_s": self.mean_scratch_s,
            "median_scratch_s": self.median_scratch_s,
            "median_by_outcome_s": dict(self.median_by_outcome_s),
            "saving_s": self.saving_s,
            "saving_low_s": self.saving_low_s,
            "saving_high_s": self.saving_high_s,
            "method": "percentile bootstrap of median(scratch) - median(prelabeled)",
            "confidence": self.confidence,
            "n_boot": self.n_boot,
            "seed": self.seed,
        }


def _median(x: np.ndarray) -> float | None:
    return float(np.median(x)) if x.size else None


def _mean(x: np.ndarray) -> float | None:
    return float(np.mean(x)) if x.size else None


def _bootstrap_medians(x: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Medians of ``n_boot`` resamples (with replacement) of ``x``, in blocks of bounded size."""
    out = np.empty(n_boot)
    step = max(1, _BLOCK_ELEMENTS // x.size)
    for start in range(0, n_boot, step):
        rows = min(step, n_boot - start)
        idx = rng.integers(0, x.size, size=(rows, x.size))
        out[start : start + rows] = np.median(x[idx], axis=1)
    return out


def class_roi(
    class_id: str,
    observations: Iterable[Observation],
    *,
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> ClassRoi:
    """``ClassRoi`` of ``class_id`` from its observations (all must be of that class).

    Deterministic: both samples are sorted before the seeded bootstrap, so the result depends
    on the multiset of observations only, not on their order.
    """
    if not 0.5 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0.5, 1), got {confidence!r}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")
    pre: list[float] = []
    scratch: list[float] = []
    by_outcome: dict[Outcome, list[float]] = {o: [] for o in Outcome}
    for obs in observations:
        if obs.class_id != class_id:
            raise ValueError(f"observation of class {obs.class_id!r} given for {class_id!r}")
        if obs.outcome is not None:
            pre.append(float(obs.seconds))
            by_outcome[obs.outcome].append(float(obs.seconds))
        else:
            scratch.append(float(obs.seconds))
    p = np.sort(np.asarray(pre, dtype=np.float64))
    s = np.sort(np.asarray(scratch, dtype=np.float64))
    counts = {o: len(v) for o, v in by_outcome.items()}

    saving = low = high = None
    if p.size and s.size:
        saving = float(np.median(s) - np.median(p))
        rng = np.random.default_rng(seed)
        boot = _bootstrap_medians(s, n_boot, rng) - _bootstrap_medians(p, n_boot, rng)
        low = float(np.quantile(boot, 1.0 - confidence))
        high = float(np.quantile(boot, confidence))
    return ClassRoi(
        class_id=class_id,
        n_prelabeled=int(p.size),
        n_scratch=int(s.size),
        accepted=counts[Outcome.ACCEPTED],
        edited=counts[Outcome.EDITED],
        replaced=counts[Outcome.REPLACED],
        acceptance_rate=counts[Outcome.ACCEPTED] / p.size if p.size else None,
        mean_prelabeled_s=_mean(p),
        median_prelabeled_s=_median(p),
        mean_scratch_s=_mean(s),
        median_scratch_s=_median(s),
        median_by_outcome_s={o.value: float(np.median(v)) for o, v in by_outcome.items() if v},
        saving_s=saving,
        saving_low_s=low,
        saving_high_s=high,
        confidence=confidence,
        n_boot=n_boot,
        seed=seed,
    )


def roi_by_class(
    observations: Iterable[Observation],
    *,
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> dict[str, ClassRoi]:
    """``class_roi`` for every class present in ``observations``, keyed (and sorted) by id."""
    groups: dict[str, list[Observation]] = {}
    for obs in observations:
        groups.setdefault(obs.class_id, []).append(obs)
    return {
        c: class_roi(c, groups[c], confidence=confidence, n_boot=n_boot, seed=seed)
        for c in sorted(groups)
    }


# --- policy ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoiPolicy:
    """When pre-labeling is switched off and on again (see the module docstring's rule).

    - ``min_samples_each``: observations needed with *and* without pre-label before any change;
    - ``min_saving_s``: the saving (seconds per item) pre-labels must credibly reach to stay on
      (0: they just must not be credibly slower);
    - ``hysteresis_s``: extra credible saving needed to switch a disabled class on again;
    - ``confidence``, ``n_boot``, ``seed``: the bootstrap behind the bounds.
    """

    min_samples_each: int = 20
    min_saving_s: float = 0.0
    hysteresis_s: float = 1.0
    confidence: float = 0.95
    n_boot: int = 2000
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.min_samples_each, bool) or self.min_samples_each < 2:
            raise ValueError(f"min_samples_each must be >= 2, got {self.min_samples_each!r}")
        if not math.isfinite(self.min_saving_s):
            raise ValueError(f"min_saving_s must be finite, got {self.min_saving_s!r}")
        if not math.isfinite(self.hysteresis_s) or self.hysteresis_s < 0:
            raise ValueError(f"hysteresis_s must be finite and >= 0, got {self.hysteresis_s!r}")
        if not 0.5 < self.confidence < 1.0:
            raise ValueError(f"confidence must lie in (0.5, 1), got {self.confidence!r}")
        if self.n_boot < 1:
            raise ValueError(f"n_boot must be >= 1, got {self.n_boot!r}")


@dataclass(frozen=True, slots=True)
class Decision:
    """Pre-labeling state of ``class_id`` after ``decide``; ``changed`` says whether it flipped.

    ``evidence`` is ``ClassRoi.evidence()`` plus the policy's thresholds and the previous state.
    """

    class_id: str
    enabled: bool
    changed: bool
    reason: str
    evidence: dict[str, Any]


def decide(stats: ClassRoi, currently_enabled: bool, policy: RoiPolicy | None = None) -> Decision:
    """Switch pre-labeling of ``stats.class_id`` off, on, or leave it (module docstring's rule)."""
    pol = policy or RoiPolicy()
    off_below = pol.min_saving_s
    on_above = pol.min_saving_s + pol.hysteresis_s
    evidence = stats.evidence()
    evidence.update(
        {
            "previously_enabled": currently_enabled,
            "min_samples_each": pol.min_samples_each,
            "min_saving_s": pol.min_saving_s,
            "hysteresis_s": pol.hysteresis_s,
            "off_if_saving_high_below_s": off_below,
            "on_if_saving_low_above_s": on_above,
        }
    )

    def keep(reason: str) -> Decision:
        return Decision(stats.class_id, currently_enabled, False, reason, evidence)

    if (
        stats.n_prelabeled < pol.min_samples_each
        or stats.n_scratch < pol.min_samples_each
        or stats.saving_low_s is None
        or stats.saving_high_s is None
    ):
        return keep(INSUFFICIENT_EVIDENCE)
    pct = f"{stats.confidence:.0%}"
    if currently_enabled:
        if stats.saving_high_s < off_below:
            return Decision(
                stats.class_id,
                False,
                True,
                f"pre-labels cost more than they save: median {stats.median_prelabeled_s:.1f} s "
                f"with vs {stats.median_scratch_s:.1f} s without; the saving is below "
                f"{stats.saving_high_s:.2f} s with {pct} confidence (threshold {off_below:g} s)",
                evidence,
            )
        return keep("pre-labels not credibly worse than the threshold")
    if stats.saving_low_s > on_above:
        return Decision(
            stats.class_id,
            True,
            True,
            f"pre-labels save time again: median {stats.median_prelabeled_s:.1f} s with vs "
            f"{stats.median_scratch_s:.1f} s without; the saving is above "
            f"{stats.saving_low_s:.2f} s with {pct} confidence (threshold {on_above:g} s)",
            evidence,
        )
    return keep("pre-labels not credibly better than the threshold plus hysteresis")


# --- tracker -----------------------------------------------------------------------------------


class RoiTracker:
    """Rolling ROI evidence per class and the on / off state it implies.

    Keeps the last ``window`` observations with and the last ``window`` without pre-label per
    class (old behaviour of the model and of the annotators ages out). ``evaluate`` decides for
    every class that got observations since its last evaluation, applies the decisions and
    returns those that change a state; the caller turns them into ``PreLabelingDisabled`` /
    re-enabling events. ``set_enabled`` applies such an event when replaying (or a manual
    switch). Classes never seen are ``enabled_by_default``.
    """

    def __init__(
        self,
        policy: RoiPolicy | None = None,
        *,
        window: int = 500,
        enabled_by_default: bool = True,
        enabled: Mapping[str, bool] | None = None,
    ) -> None:
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"window must be a positive integer, got {window!r}")
        self.policy = policy or RoiPolicy()
        self.window = window
        self.enabled_by_default = enabled_by_default
        self._enabled: dict[str, bool] = dict(enabled or {})
        self._pre: dict[str, deque[Observation]] = {}
        self._scratch: dict[str, deque[Observation]] = {}
        self._dirty: set[str] = set()

    def observe(self, obs: Observation) -> None:
        """Add one observation to its class's window (the oldest of that side drops out)."""
        sides = self._pre if obs.prelabeled else self._scratch
        q = sides.get(obs.class_id)
        if q is None:
            q = sides[obs.class_id] = deque(maxlen=self.window)
        q.append(obs)
        self._dirty.add(obs.class_id)

    def observe_many(self, observations: Iterable[Observation]) -> None:
        for obs in observations:
            self.observe(obs)

    def is_enabled(self, class_id: str) -> bool:
        return self._enabled.get(class_id, self.enabled_by_default)

    def set_enabled(self, class_id: str, enabled: bool) -> None:
        """Set a class's state (replaying a decision event, or an operator's switch)."""
        self._enabled[class_id] = enabled
        self._dirty.add(class_id)

    def forget_prelabeled(self, class_id: str) -> None:
        """Drop the class's pre-labeled window (a new model version makes it stale)."""
        self._pre.pop(class_id, None)
        self._dirty.add(class_id)

    def classes(self) -> list[str]:
        return sorted(set(self._pre) | set(self._scratch) | set(self._enabled))

    def stats(self, class_id: str) -> ClassRoi:
        """``ClassRoi`` over the class's current windows."""
        obs: list[Observation] = [*self._pre.get(class_id, ()), *self._scratch.get(class_id, ())]
        pol = self.policy
        return class_roi(class_id, obs, confidence=pol.confidence, n_boot=pol.n_boot, seed=pol.seed)

    def decision(self, class_id: str) -> Decision:
        """What ``decide`` says for the class now, without applying it."""
        return decide(self.stats(class_id), self.is_enabled(class_id), self.policy)

    def evaluate(self, class_ids: Sequence[str] | None = None) -> list[Decision]:
        """Decide for ``class_ids`` (default: classes with news since their last evaluation).

        Applies the decisions and returns the ones that changed a state, sorted by class id.
        """
        todo = sorted(self._dirty if class_ids is None else set(class_ids))
        changed: list[Decision] = []
        for c in todo:
            d = self.decision(c)
            self._dirty.discard(c)
            if d.changed:
                self._enabled[c] = d.enabled
                changed.append(d)
        return changed
