"""Routing with capacity (domain.planning): a new task counts against its pool, a re-routed
task moves its count, high-stakes work never reaches a vendor by fall-through."""

from __future__ import annotations

import pytest
from labelops_routing.domain.planning import overflow, reroute, route_new, safe_route
from labelops_routing.domain.rules import (
    Condition,
    NoPoolAvailable,
    PoolInfo,
    Rule,
    RuleSet,
    TaskSignals,
    hybrid_default,
)


def pools(in_house_capacity: int = 0, vendor_capacity: int = 0) -> dict[str, PoolInfo]:
    return {
        "in-house": PoolInfo("in-house", "in_house", capacity=in_house_capacity, cost_per_task=1),
        "vendor": PoolInfo(
            "vendor", "vendor", vendor_id="v", capacity=vendor_capacity, cost_per_task=0.1
        ),
    }


VENDOR_FIRST = RuleSet(version=1, rules=(), default_pools=("vendor", "in-house"))


def test_new_tasks_fill_pools_and_overflow() -> None:
    p = pools(vendor_capacity=2)
    placed = [route_new(TaskSignals(), VENDOR_FIRST, p).pool_id for _ in range(4)]
    assert placed == ["vendor", "vendor", "in-house", "in-house"]
    assert (p["vendor"].outstanding, p["in-house"].outstanding) == (2, 2)


def test_a_rerouted_task_moves_its_count() -> None:
    p = pools()
    p["in-house"] = PoolInfo("in-house", "in_house", outstanding=1, cost_per_task=1)
    d = reroute(TaskSignals(), VENDOR_FIRST, p, "in-house")
    assert d is not None and d.pool_id == "vendor"
    assert (p["vendor"].outstanding, p["in-house"].outstanding) == (1, 0)


def test_a_task_that_would_stay_is_not_moved() -> None:
    p = pools(vendor_capacity=1)
    p["vendor"] = PoolInfo("vendor", "vendor", vendor_id="v", capacity=1, outstanding=1)
    # Counted out of its own pool, the task fits there again: it stays, counts unchanged.
    assert reroute(TaskSignals(), VENDOR_FIRST, p, "vendor") is None
    assert p["vendor"].outstanding == 1


def test_high_stakes_never_falls_through_to_a_vendor() -> None:
    only_vendor = {"vendor": pools()["vendor"]}
    with pytest.raises(NoPoolAvailable, match="high-stakes"):
        safe_route(TaskSignals(high_stakes=True), hybrid_default(1), only_vendor)
    # Unless a rule written for high-stakes work names the vendor.
    rules = RuleSet(
        version=1,
        rules=(Rule("hs-vendor", Condition(high_stakes=True), ("vendor",)),),
        default_pools=("kind:in_house",),
    )
    assert safe_route(TaskSignals(high_stakes=True), rules, only_vendor).pool_id == "vendor"


def test_no_pool_at_all() -> None:
    with pytest.raises(NoPoolAvailable):
        route_new(TaskSignals(), VENDOR_FIRST, {})


def test_an_exhausted_task_overflows_to_a_pool_with_an_eligible_annotator() -> None:
    p = pools()
    p["in-house"] = PoolInfo("in-house", "in_house", outstanding=1, cost_per_task=1)
    p["in-house-2"] = PoolInfo("in-house-2", "in_house", cost_per_task=2)
    rules = RuleSet(
        version=1,
        rules=(Rule("people", Condition(), ("in-house", "in-house-2")),),
        default_pools=("in-house",),
    )
    d = overflow(TaskSignals(), rules, p, "in-house", {"in-house-2", "vendor"})
    assert (d.pool_id, d.rule) == ("in-house-2", "people")
    assert (p["in-house"].outstanding, p["in-house-2"].outstanding) == (0, 1)


def test_an_exhausted_high_stakes_task_never_falls_through_to_a_vendor() -> None:
    p = pools()
    with pytest.raises(NoPoolAvailable):
        overflow(TaskSignals(high_stakes=True), hybrid_default(), p, "in-house", {"vendor"})
    # Without an eligible pool anywhere else it has nowhere to go either.
    with pytest.raises(NoPoolAvailable):
        overflow(TaskSignals(), VENDOR_FIRST, p, "vendor", set())
