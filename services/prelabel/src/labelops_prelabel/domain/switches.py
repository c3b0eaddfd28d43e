"""The per-class pre-labeling switch of a project, as the service runs it (``roi`` decides).

Every label routing received with a said pre-label outcome is one observation of its class
(``observation_of``); every ``eval_every`` observations the class's switch is re-evaluated on
the recent window (``evaluation``), and a flip is published (``PreLabelingDisabled`` /
``PreLabelingEnabled``, the evidence attached). An operator may switch a class by hand
(``operator_switch``); the policy takes over again from the next evaluation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeAlias

from labelops.prelabel.v1 import events_pb2 as ev
from labelops.prelabel.v1 import prelabel_pb2 as pb
from labelops.routing.v1 import events_pb2 as rev
from labelops.routing.v1 import workforce_pb2 as wpb

from .convert import primary_class, roi_pb
from .roi import ClassRoi, Observation, Outcome, RoiPolicy, class_roi, decide

OUTCOMES = {
    wpb.PRELABEL_OUTCOME_NONE: None,
    wpb.PRELABEL_OUTCOME_ACCEPTED: Outcome.ACCEPTED,
    wpb.PRELABEL_OUTCOME_EDITED: Outcome.EDITED,
    wpb.PRELABEL_OUTCOME_REPLACED: Outcome.REPLACED,
}

SwitchEvent: TypeAlias = ev.PreLabelingEnabled | ev.PreLabelingDisabled


def project_stream(project_id: str) -> str:
    return f"projects/{project_id}/prelabeling"


def observation_of(e: rev.LabelSubmitted) -> Observation | None:
    """The ROI evidence of one submitted label, None when it is none: the worker did not say
    whether a pre-label was shown, the label has no class, or the time is unknown."""
    if e.prelabel_outcome not in OUTCOMES:
        return None
    class_id = primary_class(e.labels)
    if not class_id or e.time_spent_ms < 0:
        return None
    outcome = OUTCOMES[e.prelabel_outcome]
    return Observation(class_id, outcome is not None, outcome, e.time_spent_ms / 1000.0)


def roi_of(class_id: str, observations: Iterable[Observation], policy: RoiPolicy) -> ClassRoi:
    """The class's statistics over its recent observations, under the policy's bootstrap."""
    return class_roi(
        class_id, observations, confidence=policy.confidence, n_boot=policy.n_boot, seed=policy.seed
    )


def evaluation_due(since_eval: int, eval_every: int) -> bool:
    return since_eval >= eval_every


def _switch_event(
    project_id: str, class_id: str, enabled: bool, reason: str, evidence: pb.ClassRoi, by: str
) -> SwitchEvent:
    kind: Any = ev.PreLabelingEnabled if enabled else ev.PreLabelingDisabled
    e: SwitchEvent = kind(
        project_id=project_id, class_id=class_id, reason=reason, evidence=evidence, switched_by=by
    )
    return e


@dataclass(frozen=True)
class Evaluation:
    """The policy's verdict on a class: its state (``enabled``, ``reason``, whether it
    ``changed``) and, when it flipped, the event that says so."""

    enabled: bool
    changed: bool
    reason: str
    event: SwitchEvent | None


def evaluation(project_id: str, stats: ClassRoi, enabled: bool, policy: RoiPolicy) -> Evaluation:
    d = decide(stats, enabled, policy)
    event = None
    if d.changed:
        evidence = roi_pb(stats, d.enabled, d.reason)
        event = _switch_event(project_id, stats.class_id, d.enabled, d.reason, evidence, "")
    return Evaluation(d.enabled, d.changed, d.reason, event)


def operator_reason(reason: str, enabled: bool, who: str) -> str:
    """An operator's reason, by default who switched the class which way."""
    return reason or f"switched {'on' if enabled else 'off'} by {who}"


def operator_switch(
    project_id: str, stats: ClassRoi, enabled: bool, reason: str, who: str
) -> tuple[pb.ClassRoi, SwitchEvent]:
    """An operator's switch: the class's evidence now, and the event."""
    evidence = roi_pb(stats, enabled, reason)
    return evidence, _switch_event(project_id, stats.class_id, enabled, reason, evidence, who)


def class_view(stats: ClassRoi, enabled: bool, reason: str, policy: RoiPolicy) -> pb.ClassRoi:
    """A class's ROI as GetClassRoi shows it: the stored reason of its state, else what the
    policy would say now."""
    d = decide(stats, enabled, policy)
    return roi_pb(stats, enabled, reason or d.reason)
