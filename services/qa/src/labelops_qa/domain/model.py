"""What the QA service knows about projects, tasks and their labels (the rows of its read
models as values), the names of its streams and the proto enums it stores as text."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from labelops.labels.v1 import label_pb2 as L
from labelops.qa.v1 import qa_pb2 as pb
from labelops.routing.v1 import routing_pb2 as rpb
from labelops_core.errors import FieldViolation, InvalidArgument

#: The run id of the streaming consensus (one result per task as it completes).
LIVE = "live"

METHODS = {
    pb.CONSENSUS_METHOD_MAJORITY_VOTE: "majority_vote",
    pb.CONSENSUS_METHOD_WEIGHTED_VOTE: "weighted_vote",
    pb.CONSENSUS_METHOD_DAWID_SKENE: "dawid_skene",
}
METHOD_PB = {v: k for k, v in METHODS.items()}
REVIEW_POLICIES = {
    rpb.REVIEW_POLICY_NONE: "none",
    rpb.REVIEW_POLICY_SAMPLED: "sampled",
    rpb.REVIEW_POLICY_TARGETED: "targeted",
    rpb.REVIEW_POLICY_ALL: "all",
}
DECISIONS = {
    pb.REVIEW_DECISION_ACCEPT: "accept",
    pb.REVIEW_DECISION_FIX_AND_ACCEPT: "fix_and_accept",
    pb.REVIEW_DECISION_REJECT: "reject",
}
DECISION_PB = {v: k for k, v in DECISIONS.items()}
STATES = {
    "labeling": pb.TASK_QUALITY_STATE_LABELING,
    "awaiting_project": pb.TASK_QUALITY_STATE_LABELING,
    "in_review": pb.TASK_QUALITY_STATE_IN_REVIEW,
    "accepted": pb.TASK_QUALITY_STATE_ACCEPTED,
    "rejected": pb.TASK_QUALITY_STATE_REJECTED,
}


def task_stream(project_id: str, task_id: uuid.UUID | str) -> str:
    return f"projects/{project_id}/tasks/{task_id}"


def quality_stream(project_id: str) -> str:
    return f"projects/{project_id}/quality"


def task_uuid(task_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(task_id)
    except ValueError:
        raise InvalidArgument("bad task id", [FieldViolation("task_id", "not a task id")]) from None


def review_policy(config: rpb.WorkflowConfig) -> str:
    """The stored name of a project's review policy (unset → targeted)."""
    return REVIEW_POLICIES.get(config.review_policy, "targeted")


@dataclass(frozen=True)
class Project:
    """A routing project as QA needs it: its ontology version and review policy."""

    project_id: str
    ontology_id: str
    ontology_version: str
    review_policy: str  # none | sampled | targeted | all
    review_sample_rate: float
    high_stakes_classes: Sequence[str]

    @classmethod
    def of(cls, p: rpb.Project) -> Project:
        return cls(
            p.project_id,
            p.ontology_id,
            p.ontology_version,
            review_policy(p.config),
            p.config.review_sample_rate,
            list(p.config.high_stakes_classes),
        )


@dataclass(frozen=True)
class Task:
    """A task's quality state (one row of the tasks read model)."""

    task_id: uuid.UUID
    project_id: str
    item_id: str
    required: int
    received: int
    gold: bool
    #: ``ItemLabels`` of a gold task's expected answer.
    gold_expected: bytes | None
    high_stakes: bool
    #: ``ItemContext`` of the item (copied into a reviewer's fix).
    context: bytes
    state: str  # labeling | awaiting_project | in_review | accepted | rejected
    review_reason: str = ""
    review_decision: str = ""
    reviewer: str = ""
    prelabel_model: str = ""
    prelabel_model_version: str = ""


@dataclass(frozen=True)
class Submission:
    """One annotator's labels of a task, as routing published them."""

    annotator_id: str
    labels: L.ItemLabels
    event_id: str
    submitted_at: datetime

    @property
    def order(self) -> tuple[datetime, uuid.UUID]:
        """Submission order: time, then event id (as the labels table orders them)."""
        return self.submitted_at, uuid.UUID(self.event_id)


def with_submission(earlier: Sequence[Submission], new: Submission) -> list[Submission]:
    """``earlier`` (in submission order) and ``new`` in its place: the task's labels without
    reading back the one just stored."""
    if any(s.event_id == new.event_id for s in earlier):
        return list(earlier)
    return sorted([*earlier, new], key=lambda s: s.order)


def pairs(subs: Sequence[Submission]) -> list[tuple[str, L.ItemLabels]]:
    """(annotator, labels) per submission, what ``task_consensus`` takes."""
    return [(s.annotator_id, s.labels) for s in subs]


def consensus_result(
    run_id: str,
    task: Task,
    method: str,
    labels: L.ItemLabels,
    score: float,
    subs: Sequence[Submission],
    at: datetime,
) -> pb.Consensus:
    """The consensus of ``task`` in ``run_id`` over ``subs``, computed at ``at``."""
    c = pb.Consensus(
        run_id=run_id,
        task_id=str(task.task_id),
        item_id=task.item_id,
        method=METHOD_PB[method],
        labels=labels,
        score=score,
        annotator_ids=[s.annotator_id for s in subs],
    )
    c.create_time.FromDatetime(at)
    return c


def shows_candidates(task: Task) -> bool:
    """A task in review or reviewed shows its annotators' labels (the reviewer's choice)."""
    return task.state == "in_review" or bool(task.review_decision)


def candidates(subs: Sequence[Submission]) -> list[pb.Candidate]:
    return [
        pb.Candidate(annotator_id=s.annotator_id, labels=s.labels, label_event_id=s.event_id)
        for s in subs
    ]


def task_quality(
    task: Task, consensus: pb.Consensus, subs: Sequence[Submission] = ()
) -> pb.TaskQuality:
    """The API view of a task and its latest live consensus; with ``subs`` the candidates
    when the task is in review or was reviewed."""
    return pb.TaskQuality(
        candidates=candidates(subs) if shows_candidates(task) else [],
        project_id=task.project_id,
        task_id=str(task.task_id),
        item_id=task.item_id,
        state=STATES[task.state],
        required_labels=task.required,
        labels_received=task.received,
        consensus=consensus,
        review_reason=task.review_reason,
        review_decision=DECISION_PB.get(task.review_decision, pb.REVIEW_DECISION_UNSPECIFIED),
        reviewer=task.reviewer,
    )
