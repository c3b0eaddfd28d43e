"""Who may work which pool and which lease, who sees gold (domain.access): given a caller and
a pool, an assignment or an annotator id, allowed or the exact refusal."""

from __future__ import annotations

import pytest
from labelops_core.context import Principal
from labelops_core.errors import DomainError, NotFound, PermissionDenied
from labelops_routing.domain.access import (
    acts_only_as_itself,
    can_see_gold,
    check_annotator,
    check_assignment_access,
    check_assignments_found,
    check_pool_access,
    missing_assignment,
    missing_pool,
    missing_submission,
    submission_refusal,
    vendor_of,
)

VENDOR_A = Principal("va-bot", "acme", kind="vendor", vendor_id="va")
VENDOR_B = Principal("vb-bot", "acme", kind="vendor", vendor_id="vb")
TOOL = Principal("label-tool", "acme", roles=frozenset({"annotator"}))
MANAGER = Principal("mia", "acme", roles=frozenset({"manager"}))
ADMIN = Principal("alice", "acme", roles=frozenset({"admin"}))
SERVICE = Principal("qa", "acme", kind="service")

IN_HOUSE = ("in-house", "in_house", "")
POOL_A = ("vendor-a", "vendor", "va")
POOL_B = ("vendor-b", "vendor", "vb")


@pytest.mark.parametrize(
    ("who", "pool", "allowed"),
    [
        (None, POOL_A, True),  # no authenticator: embedded use
        (None, IN_HOUSE, True),
        (VENDOR_A, POOL_A, True),
        (VENDOR_A, POOL_B, False),
        (VENDOR_A, IN_HOUSE, False),
        (VENDOR_B, POOL_B, True),
        (TOOL, IN_HOUSE, True),
        (TOOL, POOL_A, False),
        # Nobody but the vendor works a vendor's pool: its work is attributed to the vendor.
        (MANAGER, POOL_A, False),
        (ADMIN, POOL_B, False),
        (SERVICE, POOL_A, False),
        (ADMIN, IN_HOUSE, True),
    ],
)
def test_pool_access(who: Principal | None, pool: tuple[str, str, str], allowed: bool) -> None:
    if allowed:
        check_pool_access(who, *pool)
        return
    with pytest.raises(PermissionDenied) as exc:
        check_pool_access(who, *pool)
    assert exc.value.reason == "POOL_NOT_YOURS"


def test_pool_refusals_say_why() -> None:
    with pytest.raises(PermissionDenied, match="pool vendor-b is not worked by vendor va"):
        check_pool_access(VENDOR_A, *POOL_B)
    with pytest.raises(PermissionDenied, match="pool vendor-a belongs to a vendor"):
        check_pool_access(TOOL, *POOL_A)


def test_a_vendor_learns_nothing_from_a_missing_pool() -> None:
    err = missing_pool(VENDOR_A, "nope")
    assert isinstance(err, PermissionDenied) and err.reason == "POOL_NOT_YOURS"
    assert err.message == "pool nope is not worked by vendor va"
    for who in (None, TOOL, MANAGER):
        err = missing_pool(who, "nope")
        assert isinstance(err, NotFound) and err.reason == "POOL_NOT_FOUND"


@pytest.mark.parametrize(
    ("who", "leased_by", "allowed"),
    [
        (VENDOR_A, "va", True),
        (VENDOR_A, "vb", False),
        (VENDOR_A, "", False),  # an in-house lease
        (VENDOR_B, "va", False),
        (None, "va", True),
    ],
)
def test_vendor_assignment_access(who: Principal | None, leased_by: str, allowed: bool) -> None:
    if allowed:
        check_assignment_access(who, "a1", leased_by, "va/w1")
        return
    with pytest.raises(PermissionDenied) as exc:
        check_assignment_access(who, "a1", leased_by, "va/w1")
    assert exc.value.reason == "NOT_YOUR_TASK"
    assert exc.value.message == f"assignment a1 is not leased to vendor {who.vendor_id}"  # type: ignore[union-attr]


@pytest.mark.parametrize("who", [TOOL, ADMIN, MANAGER, SERVICE])
def test_a_vendors_lease_is_missing_to_anyone_else(who: Principal) -> None:
    with pytest.raises(NotFound) as exc:
        check_assignment_access(who, "a1", "va", "va/w1")
    assert exc.value.reason == "ASSIGNMENT_NOT_FOUND"
    err = submission_refusal(who, 2, "a1", "va", "va/w1")
    assert isinstance(err, NotFound) and err.metadata == {"submission_index": "2"}


def test_an_annotator_acts_only_as_itself() -> None:
    check_assignment_access(TOOL, "a1", "", "label-tool")
    check_annotator(TOOL, "label-tool")
    with pytest.raises(PermissionDenied) as exc:
        check_assignment_access(TOOL, "a1", "", "bob")
    assert exc.value.reason == "ANNOTATOR_MISMATCH"
    with pytest.raises(PermissionDenied) as exc:
        check_annotator(TOOL, "bob")
    assert exc.value.reason == "ANNOTATOR_MISMATCH"
    err = submission_refusal(TOOL, 4, "a1", "", "bob")
    assert isinstance(err, PermissionDenied) and err.reason == "ANNOTATOR_MISMATCH"
    assert err.metadata == {"submission_index": "4"}
    # A reviewer who also labels is still one annotator; an admin may act for the team.
    assert acts_only_as_itself(Principal("r", "acme", roles=frozenset({"reviewer", "annotator"})))
    assert not acts_only_as_itself(ADMIN)
    check_annotator(ADMIN, "bob")
    check_assignment_access(ADMIN, "a1", "", "bob")
    # Vendors are checked by their pools, not by annotator id.
    assert not acts_only_as_itself(VENDOR_A)
    check_annotator(VENDOR_A, "va/w7")
    check_annotator(None, "anyone")


def test_gold_is_for_gold_readers_only() -> None:
    assert can_see_gold(ADMIN) and can_see_gold(MANAGER) and can_see_gold(SERVICE)
    assert can_see_gold(None)  # embedded use
    assert not can_see_gold(VENDOR_A)
    assert not can_see_gold(TOOL)


def test_a_heartbeat_naming_unknown_leases() -> None:
    check_assignments_found(VENDOR_A, ["a1", "a2"], 2)
    check_assignments_found(VENDOR_A, ["a1", "a1"], 1)  # the same id twice
    check_assignments_found(TOOL, ["a1", "a2"], 1)  # others get inactive leases back
    with pytest.raises(PermissionDenied) as exc:
        check_assignments_found(VENDOR_A, ["a1", "a2"], 1)
    assert exc.value.reason == "NOT_YOUR_TASK"


@pytest.mark.parametrize(
    ("who", "kind", "reason"),
    [
        (VENDOR_A, PermissionDenied, "NOT_YOUR_TASK"),
        (TOOL, NotFound, "ASSIGNMENT_NOT_FOUND"),
        (None, NotFound, "ASSIGNMENT_NOT_FOUND"),
    ],
)
def test_missing_leases(who: Principal | None, kind: type[DomainError], reason: str) -> None:
    skip = missing_assignment(who, "a9")
    assert isinstance(skip, kind) and skip.reason == reason
    submit = missing_submission(who, 3, "a9")
    assert isinstance(submit, kind) and submit.reason == reason
    assert submit.metadata == {"submission_index": "3"}
    assert submit.message.startswith("submissions[3]: assignment ")


def test_vendor_of() -> None:
    assert vendor_of(VENDOR_A) == "va"
    assert vendor_of(TOOL) is None
    assert vendor_of(None) is None
    # A user key that happens to carry a vendor id is not a vendor.
    assert vendor_of(Principal("u", "acme", vendor_id="va")) is None
