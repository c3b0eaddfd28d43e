"""Declarative, versioned routing rules: which labeling pool gets a task.

A rule set is an ordered list of rules plus default pools. The first rule whose condition
matches a task's signals names its candidate pools, either by id or by a ``kind:<kind>``
selector (every active pool of that kind, cheapest first). Inactive pools and pools not
qualified for the task's class are dropped; the task goes to the first candidate that is not
at capacity. When every candidate is full, the task still goes to the first one and waits there
as backlog, because moving it to a pool the rule did not name (e.g. a vendor for a high-stakes
task) would be worse than waiting.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from .errors import FieldViolation, violation

POOL_KINDS: Final = frozenset({"in_house", "vendor"})
RULE_ORDERS: Final = frozenset({"listed", "cost"})
#: Prefix of a pool selector: ``kind:in_house`` stands for every active in-house pool.
SELECTOR_PREFIX: Final = "kind:"
#: ``RouteDecision.rule`` when no rule matched (or none had a usable pool).
DEFAULT_RULE: Final = "default"
MAX_RULES: Final = 200
MAX_RULE_NAME_CHARS: Final = 128


class NoPoolAvailable(Exception):
    """No active, qualified pool exists for a task under any matching rule or the defaults."""


@dataclass(frozen=True, slots=True)
class TaskSignals:
    """What routing knows about a task.

    Attributes:
        class_id: the class the task is about ("" = unknown).
        confidence: pre-label confidence in [0, 1]; None when the task has no pre-label.
        ambiguity: disagreement among labels so far, in [0, 1].
        high_stakes: the task's class is marked high-stakes by the project.
    """

    class_id: str = ""
    confidence: float | None = None
    ambiguity: float = 0.0
    high_stakes: bool = False


@dataclass(frozen=True, slots=True)
class PoolInfo:
    """A labeling pool as routing sees it (its load is a snapshot taken by the caller).

    Attributes:
        kind: "in_house" or "vendor".
        capacity: max outstanding tasks routed to the pool; 0 = unlimited.
        outstanding: open tasks currently routed to the pool.
        qualified_classes: classes the pool may label; empty = every class.
    """

    pool_id: str
    kind: str
    vendor_id: str = ""
    capacity: int = 0
    outstanding: int = 0
    cost_per_task: float = 0.0
    qualified_classes: frozenset[str] = frozenset()
    active: bool = True

    @property
    def full(self) -> bool:
        """True when the pool has a capacity and has reached it."""
        return self.capacity > 0 and self.outstanding >= self.capacity

    def qualifies(self, class_id: str) -> bool:
        """True when the pool may label tasks of ``class_id``."""
        return not self.qualified_classes or class_id in self.qualified_classes


@dataclass(frozen=True, slots=True)
class Condition:
    """When a rule applies; every field that is set must hold (an empty Condition matches all).

    Bounds are inclusive. A task without a pre-label (confidence None) counts as not confident:
    it satisfies ``max_confidence`` but never ``min_confidence``. ``has_prelabel`` narrows a
    rule to tasks with (True) or without (False) a pre-label.
    """

    class_ids: frozenset[str] = frozenset()
    min_confidence: float | None = None
    max_confidence: float | None = None
    min_ambiguity: float | None = None
    high_stakes: bool | None = None
    has_prelabel: bool | None = None

    def matches(self, signals: TaskSignals) -> bool:
        """True when ``signals`` satisfy every set field of this condition."""
        if self.class_ids and signals.class_id not in self.class_ids:
            return False
        conf = signals.confidence
        if self.has_prelabel is not None and (conf is not None) != self.has_prelabel:
            return False
        # Comparisons are written as ``not (a <= b)`` so a NaN signal fails every bound instead
        # of silently passing it.
        if self.min_confidence is not None and (conf is None or not conf >= self.min_confidence):
            return False
        if self.max_confidence is not None and conf is not None and not conf <= self.max_confidence:
            return False
        if self.min_ambiguity is not None and not signals.ambiguity >= self.min_ambiguity:
            return False
        return self.high_stakes is None or signals.high_stakes == self.high_stakes


@dataclass(frozen=True, slots=True)
class Rule:
    """Route tasks matching ``when`` to ``pools``.

    Attributes:
        pools: pool ids and/or selectors ``kind:in_house`` / ``kind:vendor``.
        order: "listed" keeps the expanded order; "cost" sorts all candidates by cost per task
            (stable, so equally priced pools keep their listed order).
    """

    name: str
    when: Condition
    pools: tuple[str, ...]
    order: str = "listed"


@dataclass(frozen=True, slots=True)
class RuleSet:
    """An ordered, versioned list of rules; ``default_pools`` serve tasks no rule can place."""

    version: int
    rules: tuple[Rule, ...]
    default_pools: tuple[str, ...] = ("kind:in_house",)


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """Where a task goes and why.

    Attributes:
        rule: name of the rule that placed the task, or "default".
        candidates: the usable pools of that rule, in preference order.
        overflowed: True when ``pool_id`` is not the first candidate because earlier ones were
            full.
        reason: human-readable explanation for operators.
    """

    pool_id: str
    rule: str
    candidates: tuple[str, ...]
    overflowed: bool
    reason: str


def candidates(
    entries: Iterable[str],
    pools: Mapping[str, PoolInfo],
    class_id: str,
    order: str = "listed",
) -> tuple[str, ...]:
    """Usable pool ids named by ``entries``, in preference order, without duplicates.

    Selectors expand to the active pools of their kind sorted by (cost, id). Inactive pools,
    pools not qualified for ``class_id`` and unknown ids or selectors are left out: the rules
    may have been saved before a pool was deactivated or removed, and routing must not fail on
    that. ``order="cost"`` then sorts the result by cost per task (stable).
    """
    out: dict[str, PoolInfo] = {}
    for entry in entries:
        for pool_id in _expand(entry, pools):
            pool = pools[pool_id]
            if pool.active and pool.qualifies(class_id):
                out.setdefault(pool_id, pool)
    ids = list(out)
    if order == "cost":
        ids.sort(key=lambda pid: out[pid].cost_per_task)
    return tuple(ids)


def _expand(entry: str, pools: Mapping[str, PoolInfo]) -> list[str]:
    if entry.startswith(SELECTOR_PREFIX):
        kind = entry[len(SELECTOR_PREFIX) :]
        return sorted(
            (pid for pid, p in pools.items() if p.kind == kind),
            key=lambda pid: (pools[pid].cost_per_task, pid),
        )
    return [entry] if entry in pools else []


def route(signals: TaskSignals, rules: RuleSet, pools: Mapping[str, PoolInfo]) -> RouteDecision:
    """Choose the pool for a task.

    The first matching rule with at least one usable candidate decides (a matching rule whose
    pools are all inactive or unqualified falls through to the next matching rule, then to the
    default pools). Among the candidates the first one that is not full wins; if all are full
    the first candidate gets the task as backlog.

    Raises:
        NoPoolAvailable: neither a matching rule nor the defaults yield a usable pool.
    """
    skipped: list[str] = []
    for rule in rules.rules:
        if not rule.when.matches(signals):
            continue
        cands = candidates(rule.pools, pools, signals.class_id, rule.order)
        if cands:
            return _pick(rule.name, f"rule {rule.name}", cands, pools, skipped)
        skipped.append(rule.name)
    cands = candidates(rules.default_pools, pools, signals.class_id)
    if cands:
        return _pick(DEFAULT_RULE, DEFAULT_RULE, cands, pools, skipped)
    tried = ", ".join([*skipped, DEFAULT_RULE])
    raise NoPoolAvailable(
        f"no active pool qualified for class {signals.class_id!r} "
        f"(rule set version {rules.version}; tried: {tried})"
    )


def _pick(
    rule: str,
    label: str,
    cands: tuple[str, ...],
    pools: Mapping[str, PoolInfo],
    skipped: list[str],
) -> RouteDecision:
    # Say which earlier matching rules had no usable pool: otherwise a task landing on a
    # later rule looks like a misconfigured condition.
    note = f" (no usable pool under rule {', '.join(skipped)})" if skipped else ""
    for i, pool_id in enumerate(cands):
        if not pools[pool_id].full:
            if i == 0:
                reason = f"{label}: first candidate {pool_id}{note}"
            else:
                reason = f"{label}: overflow to {pool_id}: {_fullness(cands[:i], pools)}{note}"
            return RouteDecision(pool_id, rule, cands, i > 0, reason)
    reason = (
        f"{label}: all candidates full, queued as backlog on {cands[0]}: "
        f"{_fullness(cands, pools)}{note}"
    )
    return RouteDecision(cands[0], rule, cands, False, reason)


def _fullness(pool_ids: Iterable[str], pools: Mapping[str, PoolInfo]) -> str:
    return ", ".join(
        f"{pid} full ({pools[pid].outstanding}/{pools[pid].capacity})" for pid in pool_ids
    )


def validate_rules(rules: RuleSet, pools: Mapping[str, PoolInfo]) -> list[FieldViolation]:
    """Every problem of a rule set (empty when valid).

    Field paths are relative to the rule set (``rules[2].pools[0]``,
    ``rules[0].when.min_confidence``, ``default_pools``). Pool ids must name pools in ``pools``.
    """
    out: list[FieldViolation] = []
    if len(rules.rules) > MAX_RULES:
        # Checking thousands of rules one by one would bury this in violations.
        return [violation("rules", f"at most {MAX_RULES} rules, got {len(rules.rules)}")]
    names: dict[str, int] = {}
    for i, rule in enumerate(rules.rules):
        p = f"rules[{i}]"
        if not rule.name:
            out.append(violation(f"{p}.name", "is required"))
        elif len(rule.name) > MAX_RULE_NAME_CHARS:
            out.append(violation(f"{p}.name", f"longer than {MAX_RULE_NAME_CHARS} characters"))
        elif rule.name == DEFAULT_RULE:
            # Decisions report "default" for the default pools; a rule of that name would make
            # them ambiguous.
            out.append(violation(f"{p}.name", f"{DEFAULT_RULE!r} is reserved"))
        elif rule.name in names:
            out.append(violation(f"{p}.name", f"duplicates rules[{names[rule.name]}].name"))
        else:
            names[rule.name] = i
        out += _check_condition(f"{p}.when", rule.when)
        out += _check_pool_entries(f"{p}.pools", rule.pools, pools)
        if rule.order not in RULE_ORDERS:
            out.append(violation(f"{p}.order", f"{rule.order!r} is not 'listed' or 'cost'"))
    out += _check_pool_entries("default_pools", rules.default_pools, pools)
    return out


def _check_condition(p: str, c: Condition) -> list[FieldViolation]:
    out: list[FieldViolation] = []
    for name in ("min_confidence", "max_confidence", "min_ambiguity"):
        value = getattr(c, name)
        if value is not None and not (0.0 <= value <= 1.0):
            out.append(violation(f"{p}.{name}", f"{value} is outside [0, 1]"))
    lo, hi = c.min_confidence, c.max_confidence
    if lo is not None and hi is not None and lo > hi:
        out.append(violation(f"{p}.min_confidence", f"{lo} is greater than max_confidence {hi}"))
    if c.has_prelabel is False and lo is not None:
        out.append(
            violation(
                f"{p}.min_confidence",
                "needs a pre-label, so with has_prelabel=false the rule never matches",
            )
        )
    if any(not cid for cid in c.class_ids):
        out.append(violation(f"{p}.class_ids", "contains an empty class id"))
    return out


def _check_pool_entries(
    p: str, entries: tuple[str, ...], pools: Mapping[str, PoolInfo]
) -> list[FieldViolation]:
    if not entries:
        return [violation(p, "at least one pool id or kind:<kind> selector is required")]
    out: list[FieldViolation] = []
    for k, entry in enumerate(entries):
        if entry.startswith(SELECTOR_PREFIX):
            if entry[len(SELECTOR_PREFIX) :] not in POOL_KINDS:
                out.append(
                    violation(
                        f"{p}[{k}]",
                        f"unknown selector {entry!r}; use kind:in_house or kind:vendor",
                    )
                )
        elif entry not in pools:
            out.append(violation(f"{p}[{k}]", f"unknown pool id {entry!r}"))
    return out


def hybrid_default(version: int = 1) -> RuleSet:
    """The documented hybrid default rule set.

    - high-stakes tasks → in-house pools only;
    - ambiguous tasks (ambiguity ≥ 0.3) → in-house, overflowing to vendors;
    - pre-labeled tasks with confidence ≤ 0.5 → in-house, overflowing to vendors;
    - everything else → vendors cheapest first, overflowing to in-house.

    The low-confidence rule requires a pre-label: tasks without one go to the default (vendor)
    volume, so the share sent to vendors depends only on well-defined signals.
    """
    in_house = f"{SELECTOR_PREFIX}in_house"
    vendor = f"{SELECTOR_PREFIX}vendor"
    return RuleSet(
        version=version,
        rules=(
            Rule("high-stakes", Condition(high_stakes=True), (in_house,)),
            Rule("ambiguous", Condition(min_ambiguity=0.3), (in_house, vendor)),
            Rule(
                "low-confidence",
                Condition(max_confidence=0.5, has_prelabel=True),
                (in_house, vendor),
            ),
        ),
        default_pools=(vendor, in_house),
    )
