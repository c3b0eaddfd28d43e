"""Leases (assignments): what a claim offers, and whether a lease may still be worked.

A claim of ``n`` tasks draws, per offer, whether it is a gold (known-answer) slot; the regular
and gold tasks found are laid into those slots. A lease past its expiry is expired for every
purpose at once, even before the sweeper has recorded it: a late heartbeat does not revive it
and a late label is refused (the task may already be someone else's).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from .errors import FailedPrecondition
from .overlap import is_gold_slot
from .tasks import ASSIGNMENT_TRANSITIONS, AssignmentState

T = TypeVar("T")


def claim_size(max_tasks: int, max_tasks_per_claim: int) -> int:
    """How many tasks one claim may lease: what was asked, within the project's cap."""
    return min(max_tasks, max_tasks_per_claim)


def gold_slots(
    gold_rate: float, project_id: str, annotator_id: str, seq: int, n: int
) -> list[bool]:
    """For each of the next ``n`` offers (the annotator has had ``seq`` in the project):
    whether it is a gold slot."""
    return [is_gold_slot(gold_rate, project_id, annotator_id, seq + i) for i in range(n)]


def interleave(slots: Sequence[bool], regular: Iterable[T], gold: Iterable[T]) -> list[T]:
    """Lay the tasks into the drawn slots, in order. A short supply of either kind is not
    filled with the other: an all-gold claim on an empty queue would give gold away, and
    regular work in a gold slot would let a worker tell the slots apart."""
    ri, gi = iter(regular), iter(gold)
    out: list[T] = []
    for is_gold in slots:
        task = next(gi if is_gold else ri, None)
        if task is not None:
            out.append(task)
    return out


def lease_expiry(now: datetime, lease_seconds: int) -> datetime:
    """When a lease taken or extended ``now`` ends."""
    return now + timedelta(seconds=lease_seconds)


def effective_state(state: str, lease_expires: datetime, now: datetime) -> AssignmentState:
    """The lease's state as of ``now``: an active lease past its expiry counts as expired."""
    current = AssignmentState(state)
    if current is AssignmentState.ACTIVE and lease_expires < now:
        return AssignmentState.EXPIRED
    return current


def lease_active(state: str, lease_expires: datetime, now: datetime) -> bool:
    """Whether a heartbeat may extend the lease."""
    return effective_state(state, lease_expires, now) is AssignmentState.ACTIVE


def submit_refusal(
    index: int, assignment_id: object, state: str, lease_expires: datetime, now: datetime
) -> FailedPrecondition | None:
    """Why submission ``index`` may not be recorded on its lease, or None when it may."""
    current = effective_state(state, lease_expires, now)
    if AssignmentState.SUBMITTED in ASSIGNMENT_TRANSITIONS[current]:
        return None
    return FailedPrecondition(
        f"submissions[{index}]: the lease of assignment {assignment_id} is {current}",
        reason="LEASE_EXPIRED" if current is AssignmentState.EXPIRED else "ASSIGNMENT_NOT_ACTIVE",
        metadata={"submission_index": str(index), "assignment_id": str(assignment_id)},
    )


def skip_outcome(assignment_id: object, state: str, release: bool) -> AssignmentState:
    """The state a skip (``release``: handed back without a reason against the item) moves
    the lease to; FAILED_PRECONDITION ``ASSIGNMENT_NOT_ACTIVE`` when it has ended already.

    The recorded state counts, not the expiry: a worker may still skip a lease the sweeper
    has not expired yet.
    """
    target = AssignmentState.RELEASED if release else AssignmentState.SKIPPED
    if target not in ASSIGNMENT_TRANSITIONS[AssignmentState(state)]:
        raise FailedPrecondition(
            f"assignment {assignment_id} is {state}", reason="ASSIGNMENT_NOT_ACTIVE"
        )
    return target
