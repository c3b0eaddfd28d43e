"""Task and assignment state machines: the one rule the service runs.

A task needs ``required`` labels; each label is produced under an assignment (a lease of the
task to one annotator). A task's state follows from its counts (``task_state``); the transition
tables say which moves are legal. ``TaskCounts`` applies the moves the service makes (a lease
taken or ended, labels submitted, a re-open, a cancel) to a task's locked row and refuses an
illegal one; the adapters write the counts and state it returns.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final

from .errors import FailedPrecondition


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


class IllegalTransition(FailedPrecondition):
    """A state change the state machine does not allow (FAILED_PRECONDITION).

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
        super().__init__(
            f"{self.entity} cannot move from {current} to {target}", reason="ILLEGAL_TRANSITION"
        )


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


#: Tasks whose state no lease, label or re-open changes any more (until QA re-opens a labeled
#: one, which ``TaskCounts.reopened`` does).
SETTLED: Final = frozenset({TaskState.LABELED, TaskState.CANCELED})


@dataclass(frozen=True, slots=True)
class TaskCounts:
    """A task's counters and state, as its row holds them.

    Gold tasks are served to anyone, any number of times, and never complete: their counts
    move, their state stays QUEUED. Every move returns the new counts; a move the state
    machine does not allow raises ``IllegalTransition``.
    """

    state: TaskState
    required: int
    submitted: int = 0
    active: int = 0
    gold: bool = False

    @classmethod
    def new(cls, required: int, *, gold: bool = False) -> TaskCounts:
        """A task just created: queued, no leases, no labels."""
        return cls(TaskState.QUEUED, required, gold=gold)

    @property
    def offerable(self) -> bool:
        """Whether one more annotator may lease it (gold: always)."""
        return self.gold or can_offer(self.required, self.submitted, self.active, self.state)

    @property
    def changeable(self) -> bool:
        """Whether new signals / pre-labels still matter (not gold, labeled or canceled)."""
        return not self.gold and self.state not in SETTLED

    @property
    def movable(self) -> bool:
        """Whether it may be re-routed to another pool: nobody holds a lease on it or has
        labeled it (a lease or a label ties it to its pool)."""
        return self.changeable and self.active == 0 and self.submitted == 0

    @property
    def reopenable(self) -> bool:
        """Whether QA may send it back for one more label (gold and canceled tasks: no)."""
        return not self.gold and TaskState.QUEUED in TASK_TRANSITIONS[self.state]

    def claimed(self) -> TaskCounts:
        """One more lease (a claim offered it)."""
        if not self.offerable:
            raise IllegalTransition(self.state, TaskState.IN_PROGRESS)
        return self._counted(active=self.active + 1)

    def leases_ended(self, n: int = 1) -> TaskCounts:
        """``n`` leases expired, were skipped or released: their labels are needed from
        someone else. A settled task keeps its state."""
        self._check_leases(n)
        if self.state in SETTLED:
            return replace(self, active=self.active - n)
        return self._counted(active=self.active - n)

    def labels_submitted(self, n: int) -> TaskCounts:
        """``n`` leases ended with a label each."""
        self._check_leases(n)
        return self._counted(submitted=self.submitted + n, active=self.active - n)

    def completed_by(self, n: int) -> bool:
        """Whether ``n`` more labels complete this task (gold tasks never complete)."""
        return (
            not self.gold
            and self.state is not TaskState.LABELED
            and self.labels_submitted(n).state is TaskState.LABELED
        )

    def reopened(self) -> TaskCounts:
        """QA rejected a label or flagged an issue: one more label is needed."""
        if not self.reopenable:
            raise IllegalTransition(self.state, TaskState.QUEUED)
        return self._counted(required=self.required + 1)

    def canceled(self) -> TaskCounts:
        """The item left the project (curation excluded it): its leases are released."""
        check_task_transition(self.state, TaskState.CANCELED)
        return replace(self, state=TaskState.CANCELED, active=0)

    def _check_leases(self, n: int) -> None:
        if not 0 < n <= self.active:
            raise ValueError(f"{n} lease(s) cannot end on a task with {self.active} active")

    def _counted(
        self,
        *,
        required: int | None = None,
        submitted: int | None = None,
        active: int | None = None,
    ) -> TaskCounts:
        moved = TaskCounts(
            self.state,
            self.required if required is None else required,
            self.submitted if submitted is None else submitted,
            self.active if active is None else active,
            self.gold,
        )
        if self.gold:
            return moved
        target = task_state(moved.required, moved.submitted, moved.active)
        check_task_transition(self.state, target)
        return replace(moved, state=target)
