"""Task and assignment state machines."""

from __future__ import annotations

import itertools

import pytest
from labelops_routing.domain.tasks import (
    AssignmentState,
    IllegalTransition,
    TaskState,
    can_offer,
    check_assignment_transition,
    check_task_transition,
    task_state,
)

A = AssignmentState
T = TaskState

# Written out by hand (not read from the module's tables) so a wrong table fails the tests.
LEGAL_ASSIGNMENT = {
    (A.ACTIVE, A.SUBMITTED),
    (A.ACTIVE, A.EXPIRED),
    (A.ACTIVE, A.SKIPPED),
    (A.ACTIVE, A.RELEASED),
}
LEGAL_TASK = {
    (T.QUEUED, T.QUEUED),
    (T.QUEUED, T.IN_PROGRESS),
    (T.QUEUED, T.LABELED),
    (T.QUEUED, T.CANCELED),
    (T.IN_PROGRESS, T.IN_PROGRESS),
    (T.IN_PROGRESS, T.QUEUED),
    (T.IN_PROGRESS, T.LABELED),
    (T.IN_PROGRESS, T.CANCELED),
    (T.LABELED, T.QUEUED),
    (T.LABELED, T.CANCELED),
}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(A, A)))
def test_assignment_transitions(current: AssignmentState, target: AssignmentState) -> None:
    if (current, target) in LEGAL_ASSIGNMENT:
        check_assignment_transition(current, target)
    else:
        with pytest.raises(IllegalTransition) as exc:
            check_assignment_transition(current, target)
        assert (exc.value.current, exc.value.target) == (current, target)
        assert str(exc.value) == f"assignment cannot move from {current} to {target}"


@pytest.mark.parametrize(("current", "target"), list(itertools.product(T, T)))
def test_task_transitions(current: TaskState, target: TaskState) -> None:
    if (current, target) in LEGAL_TASK:
        check_task_transition(current, target)
    else:
        with pytest.raises(IllegalTransition) as exc:
            check_task_transition(current, target)
        assert (exc.value.current, exc.value.target) == (current, target)
        assert str(exc.value) == f"task cannot move from {current} to {target}"


def test_late_submit_on_expired_lease_is_refused() -> None:
    with pytest.raises(IllegalTransition, match="from expired to submitted"):
        check_assignment_transition(A.EXPIRED, A.SUBMITTED)


@pytest.mark.parametrize(
    ("required", "submitted", "active", "canceled", "state"),
    [
        (1, 0, 0, False, T.QUEUED),
        (1, 0, 1, False, T.IN_PROGRESS),
        (1, 1, 0, False, T.LABELED),
        (3, 1, 1, False, T.QUEUED),  # one more label still needs a lease
        (3, 1, 2, False, T.IN_PROGRESS),
        (3, 2, 2, False, T.IN_PROGRESS),  # more leases than needed still counts as covered
        (3, 3, 1, False, T.LABELED),  # a straggler lease does not hold a finished task open
        (3, 4, 0, False, T.LABELED),
        (3, 3, 0, True, T.CANCELED),
        (1, 0, 0, True, T.CANCELED),
    ],
)
def test_task_state_follows_counts(
    required: int, submitted: int, active: int, canceled: bool, state: TaskState
) -> None:
    assert task_state(required, submitted, active, canceled) is state


@pytest.mark.parametrize(
    ("required", "submitted", "active", "state", "offer"),
    [
        (1, 0, 0, T.QUEUED, True),
        (3, 1, 1, T.QUEUED, True),
        (1, 0, 1, T.IN_PROGRESS, False),
        (3, 1, 2, T.IN_PROGRESS, False),
        (3, 1, 0, T.CANCELED, False),
        # QA sent a labeled task back but the counts were not reset yet: still not offerable.
        (2, 2, 0, T.QUEUED, False),
        (3, 1, 0, T.LABELED, False),
    ],
)
def test_can_offer(
    required: int, submitted: int, active: int, state: TaskState, offer: bool
) -> None:
    assert can_offer(required, submitted, active, state) is offer


def test_states_have_wire_values() -> None:
    # The application stores and converts these strings; renaming one would break stored rows.
    assert [s.value for s in T] == ["queued", "in_progress", "labeled", "canceled"]
    assert [s.value for s in A] == ["active", "submitted", "expired", "skipped", "released"]
