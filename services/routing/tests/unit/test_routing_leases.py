"""Lease decisions (domain.leases): what a claim offers, and whether a lease may still be
extended, labeled or skipped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from labelops_core.errors import FailedPrecondition
from labelops_routing.domain.leases import (
    claim_size,
    effective_state,
    gold_slots,
    interleave,
    lease_active,
    lease_expiry,
    skip_outcome,
    submit_refusal,
)
from labelops_routing.domain.tasks import AssignmentState

A = AssignmentState
NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
LATER = NOW + timedelta(seconds=30)
EARLIER = NOW - timedelta(seconds=1)


def test_claim_size_is_capped_by_the_project() -> None:
    assert claim_size(10, 50) == 10
    assert claim_size(500, 50) == 50


def test_gold_slots_follow_the_rate_and_the_offer_sequence() -> None:
    assert gold_slots(0.0, "p", "w", 0, 5) == [False] * 5
    slots = gold_slots(0.5, "p", "w", 0, 400)
    assert 140 < sum(slots) < 260
    # Reproducible, and the n-th offer is the same slot whichever claim hands it out.
    assert gold_slots(0.5, "p", "w", 0, 400) == slots
    assert gold_slots(0.5, "p", "w", 100, 300) == slots[100:]
    assert gold_slots(0.5, "p", "other", 0, 400) != slots


def test_interleave_lays_tasks_into_their_slots() -> None:
    slots = [False, True, False, True]
    assert interleave(slots, ["r1", "r2"], ["g1", "g2"]) == ["r1", "g1", "r2", "g2"]


def test_a_short_supply_is_not_filled_with_the_other_kind() -> None:
    slots = [True, True, False]
    assert interleave(slots, [], ["g1", "g2"]) == ["g1", "g2"]
    assert interleave(slots, ["r1", "r2"], []) == ["r1"]
    assert interleave([True, True], ["r1"], ["g1"]) == ["g1"]


def test_lease_expiry() -> None:
    assert lease_expiry(NOW, 900) == NOW + timedelta(seconds=900)


@pytest.mark.parametrize(
    ("state", "expires", "effective"),
    [
        ("active", LATER, A.ACTIVE),
        ("active", EARLIER, A.EXPIRED),  # before the sweeper has recorded it
        ("submitted", LATER, A.SUBMITTED),
        ("skipped", EARLIER, A.SKIPPED),
        ("released", LATER, A.RELEASED),
    ],
)
def test_a_lease_past_its_time_is_expired(state: str, expires: datetime, effective: A) -> None:
    assert effective_state(state, expires, NOW) is effective
    assert lease_active(state, expires, NOW) is (effective is A.ACTIVE)


def test_a_label_on_an_active_lease_is_taken() -> None:
    assert submit_refusal(0, "a1", "active", LATER, NOW) is None


@pytest.mark.parametrize(
    ("state", "expires", "shown", "reason"),
    [
        ("active", EARLIER, "expired", "LEASE_EXPIRED"),
        ("expired", LATER, "expired", "LEASE_EXPIRED"),
        ("submitted", LATER, "submitted", "ASSIGNMENT_NOT_ACTIVE"),
        ("skipped", LATER, "skipped", "ASSIGNMENT_NOT_ACTIVE"),
        ("released", LATER, "released", "ASSIGNMENT_NOT_ACTIVE"),
    ],
)
def test_a_late_label_is_refused(state: str, expires: datetime, shown: str, reason: str) -> None:
    refused = submit_refusal(4, "a1", state, expires, NOW)
    assert isinstance(refused, FailedPrecondition)
    assert refused.reason == reason
    assert refused.message == f"submissions[4]: the lease of assignment a1 is {shown}"
    assert refused.metadata == {"submission_index": "4", "assignment_id": "a1"}


def test_skip_outcomes() -> None:
    assert skip_outcome("a1", "active", release=False) is A.SKIPPED
    assert skip_outcome("a1", "active", release=True) is A.RELEASED
    for ended in ("submitted", "expired", "skipped", "released"):
        with pytest.raises(FailedPrecondition) as exc:
            skip_outcome("a1", ended, release=False)
        assert exc.value.reason == "ASSIGNMENT_NOT_ACTIVE"
        assert exc.value.message == f"assignment a1 is {ended}"
