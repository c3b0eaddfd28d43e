"""Review: which completed task a person reviews, and what a review decides.

A task whose live consensus is computed either goes to review (``ReviewRequested``) or is
accepted (``LabelAccepted`` with its lineage). Targeted review (the default policy) always
reviews high stakes and disagreement, and samples the rest at a per-class rate that grows with
the class's measured ambiguity. A review accepts, fixes and accepts, or rejects
(``LabelRejected``: routing re-opens the task).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from google.protobuf.message import Message
from labelops.labels.v1 import label_pb2 as L
from labelops.qa.v1 import events_pb2 as ev
from labelops.qa.v1 import qa_pb2 as pb
from labelops_core.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from labelops_ontologykit.compiled import CompiledOntology

from .model import DECISION_PB, DECISIONS, Project, Submission, Task


def unit_hash(*parts: str) -> float:
    """A stable draw in [0, 1) from ``parts`` (the same task always draws the same)."""
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@dataclass(frozen=True)
class ClassStats:
    """Running agreement of one class of a project: tasks decided and their scores' sum."""

    tasks: int
    score_sum: float

    @property
    def ambiguity(self) -> float:
        return 1 - self.score_sum / self.tasks if self.tasks else 0.0


def policy_reason(
    project: Project,
    task: Task,
    classes: Sequence[str],
    score: float,
    *,
    min_score: float,
    disagreements: Sequence[str] = (),
) -> str | None:
    """Why the project's policy reviews this task ("" = it does not), or None when only the
    classes' ambiguity can tell (targeted policy, easy case: see ``ambiguity_reason``).

    ``classes``: the consensus's classes (whole-item class and the objects'); ``disagreements``:
    the fields of the consensus without a strict majority (``answers.color of b1``): under any
    policy but ``NONE`` they send the task to review, naming them."""
    policy = project.review_policy
    rate = float(project.review_sample_rate)
    if policy == "none":
        return ""
    if disagreements:
        more = f" and {len(disagreements) - 5} more" if len(disagreements) > 5 else ""
        return "no agreement on " + ", ".join(disagreements[:5]) + more
    if policy == "all":
        return "review policy: all"
    if policy == "sampled":
        return f"sampled ({rate:.0%})" if _draw(task) < rate else ""
    if task.high_stakes or set(classes) & set(project.high_stakes_classes):
        return "high stakes"
    if score < min_score:
        return f"annotators disagree (agreement {score:.2f})"
    return None


def ambiguity_reason(
    project: Project, task: Task, classes: Sequence[str], stats: Mapping[str, ClassStats]
) -> str:
    """Targeted sampling: the project's rate plus the ambiguity (1 - mean score) of the
    consensus's most ambiguous class (an image's boxes: the hardest of their classes)."""
    class_id, ambiguity = "", 0.0
    for c in classes:
        a = stats[c].ambiguity if c in stats else 0.0
        if not class_id or a > ambiguity:
            class_id, ambiguity = c, a
    class_rate = min(1.0, float(project.review_sample_rate) + ambiguity)
    if _draw(task) < class_rate:
        return f"sampled ({class_rate:.0%} for class {class_id or '-'}: ambiguity {ambiguity:.2f})"
    return ""


def _draw(task: Task) -> float:
    return unit_hash(str(task.task_id), "review")


def accepted(
    project: Project | None,
    task: Task,
    consensus: pb.Consensus,
    subs: Sequence[Submission],
    decision: str = "",
    reviewer: str = "",
    labels: L.ItemLabels | None = None,
) -> ev.LabelAccepted:
    """The final label of ``task`` (``labels``, else the consensus) and its lineage."""
    return ev.LabelAccepted(
        project_id=task.project_id,
        task_id=str(task.task_id),
        item_id=task.item_id,
        labels=labels if labels is not None else consensus.labels,
        lineage=ev.Lineage(
            annotator_ids=[s.annotator_id for s in subs],
            label_event_ids=[s.event_id for s in subs],
            consensus_method=consensus.method,
            consensus_score=consensus.score,
            consensus_run_id=consensus.run_id,
            review_decision=DECISION_PB.get(decision, pb.REVIEW_DECISION_UNSPECIFIED),
            reviewer=reviewer,
            prelabel_model=task.prelabel_model,
            prelabel_model_version=task.prelabel_model_version,
            ontology_id=project.ontology_id if project else "",
            ontology_version=project.ontology_version if project else "",
        ),
    )


@dataclass(frozen=True)
class Outcome:
    """What happens to a task: its new state (and review fields), the event that says so and
    the labels it was accepted with (None when not accepted)."""

    task: Task
    event: Message
    accepted_labels: L.ItemLabels | None = None


def completed(
    project: Project,
    task: Task,
    consensus: pb.Consensus,
    subs: Sequence[Submission],
    reason: str,
) -> Outcome:
    """A task whose live consensus is ``consensus``: to review when there is a ``reason``,
    else accepted as the consensus."""
    if reason:
        request = ev.ReviewRequested(
            project_id=task.project_id,
            task_id=str(task.task_id),
            item_id=task.item_id,
            reason=reason,
        )
        in_review = replace(
            task, state="in_review", review_reason=reason, review_decision="", reviewer=""
        )
        return Outcome(in_review, request)
    event = accepted(project, task, consensus, subs)
    return Outcome(replace(task, state="accepted"), event, event.labels)


def decision_of(req: pb.SubmitReviewRequest) -> str:
    decision = DECISIONS.get(req.decision)
    if decision is None:
        raise InvalidArgument(
            "a decision is required",
            [FieldViolation("decision", "ACCEPT, FIX_AND_ACCEPT or REJECT")],
        )
    return decision


def check_in_review(task: Task | None, task_id: str) -> Task:
    if task is None:
        raise NotFound(f"task {task_id} not found", reason="TASK_NOT_FOUND")
    if task.state != "in_review":
        raise FailedPrecondition(
            f"task {task_id} is {task.state}, not in review", reason="TASK_NOT_IN_REVIEW"
        )
    return task


def check_not_own(reviewer: str, subs: Sequence[Submission]) -> None:
    """A reviewer does not judge a task they labeled (PERMISSION_DENIED
    ``REVIEWER_LABELED_TASK``): the second pair of eyes must be another's."""
    if reviewer and any(s.annotator_id == reviewer for s in subs):
        raise PermissionDenied(
            f"{reviewer} labeled this task and may not review it",
            reason="REVIEWER_LABELED_TASK",
        )


def accepted_candidate(
    req: pb.SubmitReviewRequest, live: pb.Consensus, subs: Sequence[Submission]
) -> L.ItemLabels | None:
    """What ``ACCEPT`` accepts: the labels of ``candidate_annotator_id`` when named (an
    annotator of the task, else INVALID_ARGUMENT), else the consensus (None) — refused
    (FAILED_PRECONDITION ``EMPTY_CONSENSUS``) when the consensus has no labels although
    annotators drew some: accepting it would write "no objects" for an item that has them."""
    if req.candidate_annotator_id:
        for s in subs:
            if s.annotator_id == req.candidate_annotator_id:
                return s.labels
        raise InvalidArgument(
            f"{req.candidate_annotator_id} did not label this task",
            [FieldViolation("candidate_annotator_id", "not an annotator of the task")],
        )
    drew = [s.annotator_id for s in subs if s.labels.labels]
    if not live.labels.labels and drew:
        raise FailedPrecondition(
            f"the consensus is empty but {', '.join(drew)} drew labels: accept a candidate"
            " (candidate_annotator_id), fix and accept, or reject",
            reason="EMPTY_CONSENSUS",
        )
    return None


def fixed_labels(req: pb.SubmitReviewRequest, task: Task) -> L.ItemLabels:
    """A reviewer's fix, on the task's item (its id and context, whatever the request says)."""
    fixed = L.ItemLabels()
    fixed.CopyFrom(req.fixed_labels)
    fixed.item_id = task.item_id
    fixed.item.CopyFrom(L.ItemContext.FromString(task.context))
    if not fixed.labels:
        raise InvalidArgument(
            "fixed labels are required", [FieldViolation("fixed_labels", "empty")]
        )
    return fixed


def check_fix(ontology: CompiledOntology, fixed: L.ItemLabels) -> None:
    """INVALID_ARGUMENT naming each field of the fix the project's ontology version refuses."""
    if issues := ontology.validate_item(fixed):
        raise InvalidArgument(
            f"{len(issues)} invalid label field(s)",
            [
                FieldViolation(
                    f"fixed_labels.labels[{i.label_index}].{i.field}"
                    if i.label_index >= 0
                    else f"fixed_labels.{i.field}",
                    f"{i.reason}: {i.description}",
                )
                for i in issues
            ],
        )


def reviewed(
    project: Project | None,
    task: Task,
    live: pb.Consensus,
    subs: Sequence[Submission],
    req: pb.SubmitReviewRequest,
    decision: str,
    reviewer: str,
    fixed: L.ItemLabels | None,
) -> Outcome:
    """A review's outcome: rejected (``LabelRejected``) or accepted as the consensus or the
    reviewer's fix (``LabelAccepted``)."""
    if decision == "reject":
        rejected = replace(task, state="rejected", review_decision=decision, reviewer=reviewer)
        event = ev.LabelRejected(
            project_id=req.project_id,
            task_id=req.task_id,
            item_id=task.item_id,
            reason=req.note or "rejected in review",
            reviewer=reviewer,
        )
        return Outcome(rejected, event)
    done = replace(task, state="accepted", review_decision=decision, reviewer=reviewer)
    acc = accepted(project, task, live, subs, decision, reviewer, labels=fixed)
    return Outcome(done, acc, acc.labels)
