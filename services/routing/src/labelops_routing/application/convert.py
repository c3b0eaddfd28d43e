"""Protobuf messages ↔ the pure domain types (domain/ never sees protobuf)."""

from __future__ import annotations

import asyncpg
from labelops.routing.v1 import routing_pb2 as pb

from ..domain.overlap import ClassOverlap, OverlapPolicy
from ..domain.project import WorkflowConfig
from ..domain.rules import Condition, Rule, RuleSet, TaskSignals

POOL_KINDS = {pb.POOL_KIND_IN_HOUSE: "in_house", pb.POOL_KIND_VENDOR: "vendor"}
POOL_KIND_PB = {v: k for k, v in POOL_KINDS.items()}
REVIEW_POLICIES = {
    pb.REVIEW_POLICY_NONE: "none",
    pb.REVIEW_POLICY_SAMPLED: "sampled",
    pb.REVIEW_POLICY_TARGETED: "targeted",
    pb.REVIEW_POLICY_ALL: "all",
}
RULE_ORDERS = {pb.RULE_ORDER_UNSPECIFIED: "listed", pb.RULE_ORDER_LISTED: "listed"}
RULE_ORDERS[pb.RULE_ORDER_COST] = "cost"
TASK_STATES = {
    "queued": pb.TASK_STATE_QUEUED,
    "in_progress": pb.TASK_STATE_IN_PROGRESS,
    "labeled": pb.TASK_STATE_LABELED,
    "canceled": pb.TASK_STATE_CANCELED,
}
TASK_STATE_NAMES = {v: k for k, v in TASK_STATES.items()}
ASSIGNMENT_STATES = {
    "active": pb.ASSIGNMENT_STATE_ACTIVE,
    "submitted": pb.ASSIGNMENT_STATE_SUBMITTED,
    "expired": pb.ASSIGNMENT_STATE_EXPIRED,
    "skipped": pb.ASSIGNMENT_STATE_SKIPPED,
    "released": pb.ASSIGNMENT_STATE_RELEASED,
}

#: Defaults applied to zero fields of a WorkflowConfig (proto3 cannot tell 0 from unset).
DEFAULT_CONFIG = WorkflowConfig()


def normalized_config(cfg: pb.WorkflowConfig) -> pb.WorkflowConfig:
    """The config as stored: unset (zero) fields get the documented defaults."""
    out = pb.WorkflowConfig()
    out.CopyFrom(cfg)
    if not out.HasField("overlap"):
        out.overlap.default_annotators = DEFAULT_CONFIG.overlap.default_annotators
    if out.overlap.default_annotators == 0:
        out.overlap.default_annotators = DEFAULT_CONFIG.overlap.default_annotators
    if out.review_policy == pb.REVIEW_POLICY_UNSPECIFIED:
        out.review_policy = pb.REVIEW_POLICY_TARGETED
    if out.lease_seconds == 0:
        out.lease_seconds = DEFAULT_CONFIG.lease_seconds
    if out.max_tasks_per_claim == 0:
        out.max_tasks_per_claim = DEFAULT_CONFIG.max_tasks_per_claim
    return out


def config_from_pb(cfg: pb.WorkflowConfig) -> WorkflowConfig:
    o = cfg.overlap
    per_class = {
        c.class_id: ClassOverlap(c.class_id, c.sample_rate, c.annotators) for c in o.per_class
    }
    return WorkflowConfig(
        overlap=OverlapPolicy(
            default_sample_rate=o.default_sample_rate,
            default_annotators=o.default_annotators,
            per_class=per_class,
        ),
        review_policy=REVIEW_POLICIES.get(cfg.review_policy, "?"),
        review_sample_rate=cfg.review_sample_rate,
        lease_seconds=cfg.lease_seconds,
        gold_rate=cfg.gold_rate,
        max_tasks_per_claim=cfg.max_tasks_per_claim,
        prelabels_enabled=cfg.prelabels_enabled,
        high_stakes_classes=frozenset(cfg.high_stakes_classes),
    )


def rules_from_pb(rules: pb.RoutingRules) -> RuleSet:
    out = []
    for r in rules.rules:
        w = r.when
        out.append(
            Rule(
                name=r.name,
                when=Condition(
                    class_ids=frozenset(w.class_ids),
                    min_confidence=w.min_confidence if w.HasField("min_confidence") else None,
                    max_confidence=w.max_confidence if w.HasField("max_confidence") else None,
                    min_ambiguity=w.min_ambiguity if w.HasField("min_ambiguity") else None,
                    high_stakes=w.high_stakes if w.HasField("high_stakes") else None,
                    has_prelabel=w.has_prelabel if w.HasField("has_prelabel") else None,
                ),
                pools=tuple(r.pools),
                order=RULE_ORDERS.get(r.order, "?"),
            )
        )
    return RuleSet(
        version=rules.version, rules=tuple(out), default_pools=tuple(rules.default_pools)
    )


def rules_to_pb(rules: RuleSet) -> pb.RoutingRules:
    out = pb.RoutingRules(version=rules.version, default_pools=list(rules.default_pools))
    for r in rules.rules:
        w = r.when
        cond = pb.RuleCondition(class_ids=sorted(w.class_ids))
        for name in ("min_confidence", "max_confidence", "min_ambiguity"):
            if (v := getattr(w, name)) is not None:
                setattr(cond, name, v)
        if w.high_stakes is not None:
            cond.high_stakes = w.high_stakes
        if w.has_prelabel is not None:
            cond.has_prelabel = w.has_prelabel
        out.rules.append(
            pb.RoutingRule(
                name=r.name,
                when=cond,
                pools=list(r.pools),
                order=pb.RULE_ORDER_COST if r.order == "cost" else pb.RULE_ORDER_LISTED,
            )
        )
    return out


def signals_from_pb(s: pb.TaskSignals) -> TaskSignals:
    return TaskSignals(
        class_id=s.class_id,
        confidence=s.confidence if s.HasField("confidence") else None,
        ambiguity=s.ambiguity,
        high_stakes=s.high_stakes,
    )


def pool_to_pb(r: asyncpg.Record, outstanding: int = 0) -> pb.Pool:
    return pb.Pool(
        pool_id=r["pool_id"],
        display_name=r["display_name"],
        kind=POOL_KIND_PB[r["kind"]],
        vendor_id=r["vendor_id"],
        capacity=r["capacity"],
        cost_per_task=r["cost_per_task"],
        qualified_classes=list(r["qualified_classes"]),
        active=r["active"],
        outstanding=outstanding,
    )
