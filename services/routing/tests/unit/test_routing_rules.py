"""Routing rules: which pool a task lands in, why, and which rule sets are refused."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from labelops_routing.domain.rules import (
    Condition,
    NoPoolAvailable,
    PoolInfo,
    Rule,
    RuleSet,
    TaskSignals,
    hybrid_default,
    route,
    validate_rules,
)


def pool(
    pool_id: str,
    kind: str = "in_house",
    *,
    cost: float = 1.0,
    capacity: int = 0,
    outstanding: int = 0,
    classes: tuple[str, ...] = (),
    active: bool = True,
) -> PoolInfo:
    return PoolInfo(
        pool_id=pool_id,
        kind=kind,
        vendor_id="acme" if kind == "vendor" else "",
        capacity=capacity,
        outstanding=outstanding,
        cost_per_task=cost,
        qualified_classes=frozenset(classes),
        active=active,
    )


def by_id(*pools: PoolInfo) -> dict[str, PoolInfo]:
    return {p.pool_id: p for p in pools}


ANY = Condition()
CAR = TaskSignals(class_id="car", confidence=0.9)


# --- conditions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cond", "signals", "matches"),
    [
        (Condition(), TaskSignals(), True),
        (Condition(class_ids=frozenset({"car"})), TaskSignals(class_id="car"), True),
        (Condition(class_ids=frozenset({"car"})), TaskSignals(class_id="bus"), False),
        # No pre-label counts as "not confident": it meets a ceiling but never a floor.
        (Condition(max_confidence=0.5), TaskSignals(confidence=None), True),
        (Condition(min_confidence=0.5), TaskSignals(confidence=None), False),
        (Condition(max_confidence=0.5), TaskSignals(confidence=0.5), True),
        (Condition(max_confidence=0.5), TaskSignals(confidence=0.51), False),
        (Condition(min_confidence=0.5), TaskSignals(confidence=0.5), True),
        (Condition(min_confidence=0.5), TaskSignals(confidence=0.49), False),
        (Condition(min_confidence=0.1), TaskSignals(confidence=float("nan")), False),
        (Condition(max_confidence=0.9), TaskSignals(confidence=float("nan")), False),
        (Condition(min_ambiguity=0.3), TaskSignals(ambiguity=0.3), True),
        (Condition(min_ambiguity=0.3), TaskSignals(ambiguity=0.29), False),
        (Condition(high_stakes=True), TaskSignals(high_stakes=True), True),
        (Condition(high_stakes=True), TaskSignals(high_stakes=False), False),
        (Condition(high_stakes=False), TaskSignals(high_stakes=True), False),
        (Condition(has_prelabel=True), TaskSignals(confidence=0.2), True),
        (Condition(has_prelabel=True), TaskSignals(confidence=None), False),
        (Condition(has_prelabel=False), TaskSignals(confidence=None), True),
        (Condition(has_prelabel=False), TaskSignals(confidence=0.2), False),
        (Condition(max_confidence=0.5, has_prelabel=True), TaskSignals(confidence=None), False),
        # Every set field must hold.
        (
            Condition(class_ids=frozenset({"car"}), min_ambiguity=0.5),
            TaskSignals(class_id="car", ambiguity=0.1),
            False,
        ),
    ],
)
def test_condition_matches(cond: Condition, signals: TaskSignals, matches: bool) -> None:
    assert cond.matches(signals) is matches


def test_pool_full_and_qualifies() -> None:
    assert not pool("a", capacity=0, outstanding=10_000).full  # 0 = unlimited
    assert not pool("a", capacity=5, outstanding=4).full
    assert pool("a", capacity=5, outstanding=5).full
    assert pool("a").qualifies("anything")
    assert pool("a", classes=("car",)).qualifies("car")
    assert not pool("a", classes=("car",)).qualifies("bus")


# --- route --------------------------------------------------------------------------------


def test_first_matching_rule_wins() -> None:
    pools = by_id(pool("p1"), pool("p2"), pool("p3"))
    rules = RuleSet(
        1,
        (
            Rule("buses", Condition(class_ids=frozenset({"bus"})), ("p1",)),
            Rule("cars", Condition(class_ids=frozenset({"car"})), ("p2",)),
            Rule("everything", ANY, ("p3",)),
        ),
    )
    d = route(CAR, rules, pools)
    assert (d.pool_id, d.rule, d.overflowed) == ("p2", "cars", False)
    assert d.reason == "rule cars: first candidate p2"
    assert route(TaskSignals(class_id="bike"), rules, pools).pool_id == "p3"


def test_no_matching_rule_uses_default_pools() -> None:
    pools = by_id(pool("p1"), pool("fallback"))
    rules = RuleSet(
        1, (Rule("buses", Condition(class_ids=frozenset({"bus"})), ("p1",)),), ("fallback",)
    )
    d = route(CAR, rules, pools)
    assert (d.pool_id, d.rule) == ("fallback", "default")


def test_selector_expands_to_active_pools_of_kind_cheapest_first() -> None:
    pools = by_id(
        pool("v-b", "vendor", cost=0.5),
        pool("v-a", "vendor", cost=0.5),
        pool("v-c", "vendor", cost=0.2),
        pool("v-off", "vendor", cost=0.1, active=False),
        pool("ih", "in_house", cost=0.05),
    )
    d = route(CAR, RuleSet(1, (Rule("vendors", ANY, ("kind:vendor",)),)), pools)
    # Cost first, pool id breaks ties; inactive and other kinds are not candidates.
    assert d.candidates == ("v-c", "v-a", "v-b")
    assert d.pool_id == "v-c"


def test_listed_order_is_kept_unless_order_is_cost() -> None:
    pools = by_id(
        pool("ih", cost=9.0), pool("v1", "vendor", cost=2.0), pool("v2", "vendor", cost=1.0)
    )
    listed = RuleSet(1, (Rule("r", ANY, ("ih", "kind:vendor")),))
    assert route(CAR, listed, pools).candidates == ("ih", "v2", "v1")
    by_cost = RuleSet(1, (Rule("r", ANY, ("ih", "kind:vendor"), order="cost"),))
    d = route(CAR, by_cost, pools)
    assert d.candidates == ("v2", "v1", "ih")
    assert d.pool_id == "v2"


def test_cost_order_keeps_listed_order_between_equal_costs() -> None:
    pools = by_id(pool("z", cost=1.0), pool("a", cost=1.0), pool("m", cost=0.5))
    rules = RuleSet(1, (Rule("r", ANY, ("z", "a", "m"), order="cost"),))
    assert route(CAR, rules, pools).candidates == ("m", "z", "a")


def test_duplicate_entries_are_candidates_once() -> None:
    pools = by_id(pool("ih-a", cost=2.0), pool("ih-b", cost=1.0))
    rules = RuleSet(1, (Rule("r", ANY, ("ih-a", "kind:in_house", "ih-a")),))
    assert route(CAR, rules, pools).candidates == ("ih-a", "ih-b")


def test_inactive_unqualified_and_unknown_pools_are_skipped() -> None:
    pools = by_id(
        pool("off", active=False),
        pool("bus-only", classes=("bus",)),
        pool("car-ok", classes=("car", "truck")),
    )
    # "gone" was deleted after the rules were saved: routing must not fail on it.
    rules = RuleSet(1, (Rule("r", ANY, ("gone", "off", "bus-only", "car-ok")),))
    d = route(CAR, rules, pools)
    assert d.candidates == ("car-ok",)
    assert (d.pool_id, d.overflowed) == ("car-ok", False)


def test_overflow_to_next_candidate_when_first_is_full() -> None:
    pools = by_id(
        pool("vendor-a", "vendor", cost=1.0, capacity=200, outstanding=200),
        pool("vendor-b", "vendor", cost=2.0, capacity=200, outstanding=10),
    )
    d = route(CAR, RuleSet(1, (Rule("vendors", ANY, ("kind:vendor",)),)), pools)
    assert d.pool_id == "vendor-b"
    assert d.overflowed is True
    assert d.candidates == ("vendor-a", "vendor-b")
    assert "overflow" in d.reason
    assert "vendor-a full (200/200)" in d.reason


def test_all_candidates_full_queues_backlog_on_first() -> None:
    pools = by_id(
        pool("a", capacity=3, outstanding=3, cost=1.0),
        pool("b", capacity=5, outstanding=7, cost=2.0),
    )
    d = route(CAR, RuleSet(1, (Rule("r", ANY, ("a", "b")),)), pools)
    assert d.pool_id == "a"
    assert d.overflowed is False
    assert "all candidates full" in d.reason
    assert "a full (3/3)" in d.reason and "b full (7/5)" in d.reason


def test_rule_without_usable_pool_falls_through_to_next_matching_rule() -> None:
    pools = by_id(pool("bus-team", classes=("bus",)), pool("off", active=False), pool("gen"))
    rules = RuleSet(
        1,
        (
            Rule("specialists", ANY, ("bus-team",)),
            Rule("not-cars", Condition(class_ids=frozenset({"bike"})), ("gen",)),
            Rule("dead", ANY, ("off",)),
            Rule("generalists", ANY, ("gen",)),
        ),
    )
    d = route(CAR, rules, pools)
    assert (d.pool_id, d.rule) == ("gen", "generalists")
    # The reason tells an operator why the earlier matching rules did not apply.
    assert "specialists" in d.reason and "dead" in d.reason


def test_falls_through_to_default_when_no_matching_rule_has_a_pool() -> None:
    pools = by_id(pool("bus-team", classes=("bus",)), pool("v", "vendor"))
    rules = RuleSet(1, (Rule("specialists", ANY, ("bus-team",)),), ("kind:vendor",))
    d = route(CAR, rules, pools)
    assert (d.pool_id, d.rule) == ("v", "default")


def test_no_pool_available_raises_with_clear_message() -> None:
    pools = by_id(pool("off", active=False), pool("bus-team", classes=("bus",)))
    rules = RuleSet(7, (Rule("r", ANY, ("off", "bus-team")),), ("kind:in_house",))
    with pytest.raises(NoPoolAvailable, match="no active pool qualified for class 'car'") as exc:
        route(CAR, rules, pools)
    assert "r, default" in str(exc.value)


def test_no_pools_at_all_raises() -> None:
    with pytest.raises(NoPoolAvailable):
        route(CAR, hybrid_default(), {})


# --- hybrid default -----------------------------------------------------------------------


def hybrid_pools(**over: PoolInfo) -> dict[str, PoolInfo]:
    pools = by_id(
        pool("in-house-a", "in_house", cost=5.0, capacity=100),
        pool("in-house-b", "in_house", cost=6.0, capacity=100),
        pool("vendor-cheap", "vendor", cost=1.0, capacity=200),
        pool("vendor-pricey", "vendor", cost=2.0, capacity=200),
    )
    pools.update(over)
    return pools


def full(p: PoolInfo) -> PoolInfo:
    return replace(p, outstanding=p.capacity)


@pytest.mark.parametrize(
    ("signals", "rule", "pool_id"),
    [
        (TaskSignals("car", confidence=0.99, high_stakes=True), "high-stakes", "in-house-a"),
        (TaskSignals("car", confidence=0.9, ambiguity=0.3), "ambiguous", "in-house-a"),
        (TaskSignals("car", confidence=0.5), "low-confidence", "in-house-a"),
        (TaskSignals("car", confidence=0.9), "default", "vendor-cheap"),
        # Without a pre-label the task is vendor volume, not "low confidence".
        (TaskSignals("car", confidence=None), "default", "vendor-cheap"),
    ],
)
def test_hybrid_default_routes(signals: TaskSignals, rule: str, pool_id: str) -> None:
    d = route(signals, hybrid_default(), hybrid_pools())
    assert (d.rule, d.pool_id, d.overflowed) == (rule, pool_id, False)


def test_hybrid_default_confident_volume_overflows_vendor_to_vendor_to_in_house() -> None:
    confident = TaskSignals("car", confidence=0.95)
    pools = hybrid_pools()
    pools["vendor-cheap"] = full(pools["vendor-cheap"])
    d = route(confident, hybrid_default(), pools)
    assert (d.pool_id, d.overflowed) == ("vendor-pricey", True)
    assert "vendor-cheap full (200/200)" in d.reason

    pools["vendor-pricey"] = full(pools["vendor-pricey"])
    d = route(confident, hybrid_default(), pools)
    assert (d.pool_id, d.overflowed) == ("in-house-a", True)
    assert d.candidates == ("vendor-cheap", "vendor-pricey", "in-house-a", "in-house-b")


def test_hybrid_default_high_stakes_never_overflows_to_vendors() -> None:
    hs = TaskSignals("car", confidence=0.99, high_stakes=True)
    pools = hybrid_pools()
    pools["in-house-a"] = full(pools["in-house-a"])
    assert route(hs, hybrid_default(), pools).pool_id == "in-house-b"
    pools["in-house-b"] = full(pools["in-house-b"])
    d = route(hs, hybrid_default(), pools)
    # Both in-house pools full: the task waits in-house rather than going to a vendor.
    assert (d.pool_id, d.overflowed) == ("in-house-a", False)
    assert d.candidates == ("in-house-a", "in-house-b")


def test_hybrid_default_is_valid_and_carries_its_version() -> None:
    rules = hybrid_default(version=4)
    assert rules.version == 4
    assert validate_rules(rules, hybrid_pools()) == []


# --- validate_rules -----------------------------------------------------------------------

POOLS = by_id(pool("ih"), pool("v", "vendor"))
VALID = RuleSet(
    1,
    (
        Rule("first", Condition(min_confidence=0.2, max_confidence=0.8), ("ih", "kind:vendor")),
        Rule("second", Condition(min_ambiguity=0.5), ("kind:in_house",), order="cost"),
    ),
    ("kind:vendor", "ih"),
)


def with_rule(i: int, **changes: object) -> Callable[[RuleSet], RuleSet]:
    def edit(rs: RuleSet) -> RuleSet:
        rules = list(rs.rules)
        rules[i] = replace(rules[i], **changes)  # type: ignore[arg-type]
        return replace(rs, rules=tuple(rules))

    return edit


def with_when(i: int, **changes: object) -> Callable[[RuleSet], RuleSet]:
    def edit(rs: RuleSet) -> RuleSet:
        return with_rule(i, when=replace(rs.rules[i].when, **changes))(rs)  # type: ignore[arg-type]

    return edit


def test_valid_rules_have_no_violations() -> None:
    assert validate_rules(VALID, POOLS) == []


@pytest.mark.parametrize(
    ("edit", "field", "says"),
    [
        (with_rule(1, pools=("ih", "nope")), "rules[1].pools[1]", "unknown pool id 'nope'"),
        (with_rule(0, pools=("kind:robot",)), "rules[0].pools[0]", "unknown selector"),
        (with_rule(0, pools=("kind:",)), "rules[0].pools[0]", "unknown selector"),
        (with_rule(0, pools=()), "rules[0].pools", "at least one"),
        (with_rule(1, name="first"), "rules[1].name", "duplicates rules[0].name"),
        (with_rule(0, name=""), "rules[0].name", "required"),
        (with_rule(0, name="x" * 129), "rules[0].name", "longer than"),
        (with_rule(1, name="default"), "rules[1].name", "reserved"),
        (with_rule(0, order="random"), "rules[0].order", "'random'"),
        (with_when(0, min_confidence=-0.1), "rules[0].when.min_confidence", "outside [0, 1]"),
        (with_when(0, max_confidence=1.5), "rules[0].when.max_confidence", "outside [0, 1]"),
        (with_when(1, min_ambiguity=2.0), "rules[1].when.min_ambiguity", "outside [0, 1]"),
        (with_when(1, min_ambiguity=float("nan")), "rules[1].when.min_ambiguity", "outside"),
        (with_when(0, min_confidence=0.9), "rules[0].when.min_confidence", "greater than"),
        (with_when(0, has_prelabel=False), "rules[0].when.min_confidence", "never matches"),
        (with_when(0, class_ids=frozenset({"car", ""})), "rules[0].when.class_ids", "empty"),
        (lambda rs: replace(rs, default_pools=()), "default_pools", "at least one"),
        (lambda rs: replace(rs, default_pools=("ih", "gone")), "default_pools[1]", "'gone'"),
        (lambda rs: replace(rs, default_pools=("kind:x",)), "default_pools[0]", "selector"),
    ],
)
def test_validate_rules_reports_the_bad_field(
    edit: Callable[[RuleSet], RuleSet], field: str, says: str
) -> None:
    out = validate_rules(edit(VALID), POOLS)
    assert [v.field for v in out] == [field]
    assert says in out[0].description


def test_validate_rules_reports_every_problem_at_once() -> None:
    bad = RuleSet(1, (Rule("", Condition(min_confidence=3.0), ("gone",), order="?"),), ())
    fields = {v.field for v in validate_rules(bad, POOLS)}
    assert fields == {
        "rules[0].name",
        "rules[0].when.min_confidence",
        "rules[0].pools[0]",
        "rules[0].order",
        "default_pools",
    }


def test_validate_rules_limits_rule_count() -> None:
    many = tuple(Rule(f"r{i}", ANY, ("ih",)) for i in range(201))
    out = validate_rules(RuleSet(1, many), POOLS)
    assert [v.field for v in out] == ["rules"]
    assert "200" in out[0].description
    assert validate_rules(RuleSet(1, many[:200]), POOLS) == []
