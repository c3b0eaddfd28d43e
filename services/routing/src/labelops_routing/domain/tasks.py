"""Task and assignment state machines.

A task needs ``required`` labels; each label is produced under an assignment (a lease of the
task to one annotator). A task's state follows from its counts (``task_state``); the transition
tables say which moves the application may record as events.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class TaskState(StrEnum):
    #: Needs more labels than it has active leases for: can be offered.
    QUEUED = "queued"
    #: Every still-needed label has an active lease.
    IN_PROGRESS = "in_progress"
    #: All required labels submitted.
    LABELED = "labeled"
    #: Item excluded by curation or project closed.
    CANCELED = "canceled"


class AssignmentState(StrEnum):
    ACTIVE = "active"
    SUBMITTED = "submitted"
    EXPIRED = "expired"
    SKIPPED = "skipped"
    RELEASED = "released"


class IllegalTransition(Exception):
    """A state change the state machine does not allow.

    Attributes:
        current: the state the entity is in.
        target: the state that was requested.
        entity: "task" or "assignment".
    """

    def __init__(
        self, current: TaskState | AssignmentState, target: TaskState | AssignmentState
    ) -> None:
        self.current = current
        self.target = target
        self.entity = "task" if isinstance(current, TaskState) else "assignment"
        super().__init__(f"{self.entity} cannot move from {current} to {target}")


ASSIGNMENT_TRANSITIONS: Final[dict[AssignmentState, frozenset[AssignmentState]]] = {
    AssignmentState.ACTIVE: frozenset(
        {
            AssignmentState.SUBMITTED,
            AssignmentState.EXPIRED,
            AssignmentState.SKIPPED,
            AssignmentState.RELEASED,
        }
    ),
    # A finished lease never comes back: a late submit on an expired lease must be refused,
    # since the task may already have been offered to someone else.
    AssignmentState.SUBMITTED: frozenset(),
    AssignmentState.EXPIRED: frozenset(),
    AssignmentState.SKIPPED: frozenset(),
    AssignmentState.RELEASED: frozenset(),
}

TASK_TRANSITIONS: Final[dict[TaskState, frozenset[TaskState]]] = {
    # Self-moves are allowed because a new or ended lease changes the counts without
    # necessarily changing the state.
    TaskState.QUEUED: frozenset(
        {TaskState.QUEUED, TaskState.IN_PROGRESS, TaskState.LABELED, TaskState.CANCELED}
    ),
    TaskState.IN_PROGRESS: frozenset(
        {TaskState.IN_PROGRESS, TaskState.QUEUED, TaskState.LABELED, TaskState.CANCELED}
    ),
    # QA may send a labeled task back for re-labeling.
    TaskState.LABELED: frozenset({TaskState.QUEUED, TaskState.CANCELED}),
    TaskState.CANCELED: frozenset(),
}


def task_state(required: int, submitted: int, active: int, canceled: bool = False) -> TaskState:
    """The state implied by a task's label counts (``active`` = unexpired leases)."""
    if canceled:
        return TaskState.CANCELED
    if submitted >= required:
        return TaskState.LABELED
    if submitted + active >= required:
        return TaskState.IN_PROGRESS
    return TaskState.QUEUED


def check_assignment_transition(current: AssignmentState, target: AssignmentState) -> None:
    """Raise ``IllegalTransition`` unless an assignment may move from ``current`` to ``target``."""
    if target not in ASSIGNMENT_TRANSITIONS.get(current, frozenset()):
        raise IllegalTransition(current, target)


def check_task_transition(current: TaskState, target: TaskState) -> None:
    """Raise ``IllegalTransition`` unless a task may move from ``current`` to ``target``."""
    if target not in TASK_TRANSITIONS.get(current, frozenset()):
        raise IllegalTransition(current, target)


def can_offer(required: int, submitted: int, active: int, state: TaskState) -> bool:
    """Whether the task may be leased to one more annotator."""
    if state in (TaskState.CANCELED, TaskState.LABELED):
        return False
    return submitted + active < required
