"""The task state machine as the service runs it: given a task's counts, when a lease is taken
or ends, labels arrive, QA re-opens it or curation cancels it, then these counts and state (and
an illegal move is refused). No database: the adapters only write what these return."""

from __future__ import annotations

import pytest
from labelops_core.errors import FailedPrecondition
from labelops_routing.domain.tasks import IllegalTransition, TaskCounts, TaskState

T = TaskState


def counts(state: TaskState, required: int, submitted: int = 0, active: int = 0) -> TaskCounts:
    return TaskCounts(state, required, submitted, active)


def gold(submitted: int = 0, active: int = 0) -> TaskCounts:
    return TaskCounts(T.QUEUED, 0, submitted, active, gold=True)


def test_a_new_task_is_queued_without_leases_or_labels() -> None:
    assert TaskCounts.new(2) == TaskCounts(T.QUEUED, 2, 0, 0, False)
    assert TaskCounts.new(0, gold=True) == TaskCounts(T.QUEUED, 0, 0, 0, True)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        # The last lease a task needs takes it off the queue.
        (counts(T.QUEUED, 1), counts(T.IN_PROGRESS, 1, 0, 1)),
        # Overlap: still needs a lease for its second label.
        (counts(T.QUEUED, 2), counts(T.QUEUED, 2, 0, 1)),
        (counts(T.QUEUED, 2, 0, 1), counts(T.IN_PROGRESS, 2, 0, 2)),
        (counts(T.QUEUED, 3, 1, 1), counts(T.IN_PROGRESS, 3, 1, 2)),
    ],
)
def test_a_claim_adds_a_lease(before: TaskCounts, after: TaskCounts) -> None:
    assert before.claimed() == after


@pytest.mark.parametrize(
    "task",
    [
        counts(T.IN_PROGRESS, 1, 0, 1),  # every label has its lease
        counts(T.LABELED, 1, 1, 0),
        counts(T.CANCELED, 1, 0, 0),
        counts(T.QUEUED, 2, 2, 0),  # counts say labeled: not offerable whatever the state says
    ],
)
def test_a_task_that_needs_no_lease_cannot_be_claimed(task: TaskCounts) -> None:
    assert not task.offerable
    with pytest.raises(IllegalTransition):
        task.claimed()


def test_gold_tasks_are_served_to_anyone_and_stay_queued() -> None:
    g = gold()
    for _ in range(3):
        g = g.claimed()
    assert g == gold(active=3)
    g = g.labels_submitted(2).leases_ended(1)
    assert g == gold(submitted=2, active=0)
    assert not gold(active=1).completed_by(1)
    assert not g.reopenable and not g.changeable and not g.movable


@pytest.mark.parametrize(
    ("before", "n", "after"),
    [
        (counts(T.IN_PROGRESS, 1, 0, 1), 1, counts(T.LABELED, 1, 1, 0)),
        # One of two labels in: the other lease still covers the task.
        (counts(T.IN_PROGRESS, 2, 0, 2), 1, counts(T.IN_PROGRESS, 2, 1, 1)),
        (counts(T.IN_PROGRESS, 2, 0, 2), 2, counts(T.LABELED, 2, 2, 0)),
        # One label of two, the second not leased yet: back in the queue's view.
        (counts(T.QUEUED, 2, 0, 1), 1, counts(T.QUEUED, 2, 1, 0)),
    ],
)
def test_labels_move_leases_to_submitted(before: TaskCounts, n: int, after: TaskCounts) -> None:
    assert before.labels_submitted(n) == after
    assert before.completed_by(n) is (after.state is T.LABELED)


def test_a_labeled_task_is_not_completed_twice() -> None:
    assert not counts(T.LABELED, 1, 1, 0).completed_by(1)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (counts(T.IN_PROGRESS, 1, 0, 1), counts(T.QUEUED, 1, 0, 0)),
        (counts(T.IN_PROGRESS, 2, 1, 1), counts(T.QUEUED, 2, 1, 0)),
        (counts(T.IN_PROGRESS, 2, 0, 2), counts(T.QUEUED, 2, 0, 1)),
        (counts(T.QUEUED, 2, 0, 1), counts(T.QUEUED, 2, 0, 0)),
        # A settled task keeps its state: the lease's end changes nothing it needs.
        (counts(T.LABELED, 1, 1, 1), counts(T.LABELED, 1, 1, 0)),
    ],
)
def test_an_ended_lease_puts_the_task_back(before: TaskCounts, after: TaskCounts) -> None:
    assert before.leases_ended() == after


@pytest.mark.parametrize(
    ("task", "n"),
    [(counts(T.QUEUED, 1), 1), (counts(T.IN_PROGRESS, 2, 0, 1), 2), (counts(T.QUEUED, 1), 0)],
)
def test_leases_that_are_not_there_cannot_end(task: TaskCounts, n: int) -> None:
    with pytest.raises(ValueError, match="cannot end"):
        task.leases_ended(n)
    with pytest.raises(ValueError, match="cannot end"):
        task.labels_submitted(n)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (counts(T.LABELED, 1, 1, 0), counts(T.QUEUED, 2, 1, 0)),
        (counts(T.LABELED, 3, 3, 0), counts(T.QUEUED, 4, 3, 0)),
        (counts(T.IN_PROGRESS, 1, 0, 1), counts(T.QUEUED, 2, 0, 1)),
        (counts(T.QUEUED, 2, 1, 0), counts(T.QUEUED, 3, 1, 0)),
    ],
)
def test_qa_reopens_a_task_for_one_more_label(before: TaskCounts, after: TaskCounts) -> None:
    assert before.reopenable
    assert before.reopened() == after


@pytest.mark.parametrize("task", [counts(T.CANCELED, 1), gold()])
def test_canceled_and_gold_tasks_are_not_reopened(task: TaskCounts) -> None:
    assert not task.reopenable
    with pytest.raises(IllegalTransition):
        task.reopened()


@pytest.mark.parametrize(
    "before", [counts(T.QUEUED, 2, 1, 0), counts(T.IN_PROGRESS, 1, 0, 1), counts(T.LABELED, 1, 1)]
)
def test_cancel_releases_every_lease(before: TaskCounts) -> None:
    after = before.canceled()
    assert after == TaskCounts(T.CANCELED, before.required, before.submitted, 0)


def test_a_canceled_task_stays_canceled() -> None:
    with pytest.raises(IllegalTransition) as exc:
        counts(T.CANCELED, 1).canceled()
    # Illegal moves answer like every refused state change.
    assert isinstance(exc.value, FailedPrecondition)
    assert exc.value.reason == "ILLEGAL_TRANSITION"
    assert str(exc.value) == "task cannot move from canceled to canceled"


@pytest.mark.parametrize(
    ("task", "changeable", "movable"),
    [
        (counts(T.QUEUED, 1), True, True),
        (counts(T.QUEUED, 2, 0, 1), True, False),  # a lease ties it to its pool
        (counts(T.QUEUED, 2, 1, 0), True, False),  # so does a label
        (counts(T.IN_PROGRESS, 1, 0, 1), True, False),
        (counts(T.LABELED, 1, 1, 0), False, False),
        (counts(T.CANCELED, 1), False, False),
    ],
)
def test_which_tasks_new_signals_change_and_move(
    task: TaskCounts, changeable: bool, movable: bool
) -> None:
    assert (task.changeable, task.movable) == (changeable, movable)


def test_the_counts_a_task_goes_through() -> None:
    # Two labels wanted; a lease lapses, two others label it, QA wants a third.
    t = TaskCounts.new(2).claimed().claimed()
    assert t == counts(T.IN_PROGRESS, 2, 0, 2)
    t = t.leases_ended()
    assert t == counts(T.QUEUED, 2, 0, 1)
    t = t.claimed().labels_submitted(2)
    assert t == counts(T.LABELED, 2, 2, 0)
    t = t.reopened().claimed()
    assert t == counts(T.IN_PROGRESS, 3, 2, 1)
    assert t.completed_by(1)
    assert t.labels_submitted(1) == counts(T.LABELED, 3, 3, 0)
