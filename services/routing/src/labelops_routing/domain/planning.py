"""Routing tasks into pools with capacity: a new task, and a task whose signals changed.

``pools`` maps pool id → ``PoolInfo`` read under lock in the caller's transaction; each
function updates the outstanding counts it changes in place, so overflow stays exact across
the tasks of one batch.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace

from .rules import NoPoolAvailable, PoolInfo, RouteDecision, RuleSet, TaskSignals, route


def safe_route(signals: TaskSignals, ruleset: RuleSet, pools: dict[str, PoolInfo]) -> RouteDecision:
    """``route``, plus the one guarantee rules cannot express by order alone: high-stakes work
    never reaches a vendor pool unless a rule written for high-stakes work sends it there
    (when no in-house pool can take it, the rule engine falls through to the vendor defaults).
    """
    decision = route(signals, ruleset, pools)
    if signals.high_stakes and pools[decision.pool_id].kind == "vendor":
        rule = next((r for r in ruleset.rules if r.name == decision.rule), None)
        if rule is None or rule.when.high_stakes is not True:
            raise NoPoolAvailable(
                f"high-stakes task (class {signals.class_id!r}) has no active in-house pool"
                " qualified for it; add one, or a rule for high_stakes that names vendor pools"
            )
    return decision


def route_new(signals: TaskSignals, ruleset: RuleSet, pools: dict[str, PoolInfo]) -> RouteDecision:
    """Route a new task and count it against the pool it goes to.

    Raises:
        NoPoolAvailable: no pool can take it.
    """
    decision = safe_route(signals, ruleset, pools)
    pools[decision.pool_id] = bump(pools[decision.pool_id])
    return decision


def reroute(
    signals: TaskSignals, ruleset: RuleSet, pools: dict[str, PoolInfo], current: str
) -> RouteDecision | None:
    """Route a task again (as if it were not counted in ``current``, its pool); the decision
    when it moves (counts follow it), None when it stays where it is.

    Raises:
        NoPoolAvailable: no pool can take it.
    """
    decision = safe_route(signals, ruleset, without(pools, current))
    if decision.pool_id == current:
        return None
    if current in pools:
        pools[current] = bump(pools[current], -1)
    pools[decision.pool_id] = bump(pools[decision.pool_id])
    return decision


def overflow(
    signals: TaskSignals,
    ruleset: RuleSet,
    pools: dict[str, PoolInfo],
    current: str,
    eligible: Collection[str],
) -> RouteDecision:
    """Move a task that no annotator of its pool ``current`` may label any more (each has
    labeled, leased or skipped it, or lacks the skill) to a pool among ``eligible`` (pools
    with an active annotator who may), by the rules as they stand: a pool without such an
    annotator is unusable for this task, as an inactive one is, so the matching rule's next
    candidate takes it (its overflow), else a later matching rule, else the default pools; the
    high-stakes guarantee holds. Counts follow the move.

    Raises:
        NoPoolAvailable: no other pool with an eligible annotator can take it.
    """
    usable = {pid: p for pid, p in pools.items() if pid != current and pid in eligible}
    decision = safe_route(signals, ruleset, usable)
    if current in pools:
        pools[current] = bump(pools[current], -1)
    pools[decision.pool_id] = bump(pools[decision.pool_id])
    return decision


def bump(p: PoolInfo, by: int = 1) -> PoolInfo:
    return replace(p, outstanding=p.outstanding + by)


def without(pools: dict[str, PoolInfo], pool_id: str) -> dict[str, PoolInfo]:
    """Pools as if the task were not counted in its current pool (re-routing it)."""
    out = dict(pools)
    if pool_id in out:
        out[pool_id] = bump(out[pool_id], -1)
    return out
