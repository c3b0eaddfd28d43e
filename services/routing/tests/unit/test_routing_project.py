"""Project workflow config and id validation."""

from __future__ import annotations

from dataclasses import replace

import pytest
from labelops_routing.domain.overlap import ClassOverlap, OverlapPolicy
from labelops_routing.domain.project import WorkflowConfig, validate_config, validate_id

DEFAULT = WorkflowConfig()


def test_default_config_is_valid_and_hashable() -> None:
    assert validate_config(DEFAULT) == []
    assert hash(DEFAULT) == hash(WorkflowConfig())


@pytest.mark.parametrize(
    "cfg",
    [
        replace(DEFAULT, lease_seconds=2),
        replace(DEFAULT, lease_seconds=86_400),
        replace(DEFAULT, gold_rate=0.5),
        replace(DEFAULT, review_sample_rate=0.0),
        replace(DEFAULT, review_sample_rate=1.0),
        replace(DEFAULT, max_tasks_per_claim=1),
        replace(DEFAULT, max_tasks_per_claim=1000),
        replace(DEFAULT, review_policy="none"),
        replace(DEFAULT, review_policy="sampled"),
        replace(DEFAULT, review_policy="all"),
        replace(DEFAULT, high_stakes_classes=frozenset({"tumor"}), prelabels_enabled=True),
    ],
)
def test_boundary_values_are_accepted(cfg: WorkflowConfig) -> None:
    assert validate_config(cfg) == []


@pytest.mark.parametrize(
    ("cfg", "field"),
    [
        (replace(DEFAULT, lease_seconds=1), "config.lease_seconds"),
        (replace(DEFAULT, lease_seconds=86_401), "config.lease_seconds"),
        (replace(DEFAULT, gold_rate=0.51), "config.gold_rate"),
        (replace(DEFAULT, gold_rate=-0.1), "config.gold_rate"),
        (replace(DEFAULT, review_sample_rate=1.1), "config.review_sample_rate"),
        (replace(DEFAULT, review_sample_rate=float("nan")), "config.review_sample_rate"),
        (replace(DEFAULT, max_tasks_per_claim=0), "config.max_tasks_per_claim"),
        (replace(DEFAULT, max_tasks_per_claim=1001), "config.max_tasks_per_claim"),
        (replace(DEFAULT, review_policy="?"), "config.review_policy"),
        (replace(DEFAULT, review_policy=""), "config.review_policy"),
        (replace(DEFAULT, high_stakes_classes=frozenset({""})), "config.high_stakes_classes"),
        (
            replace(DEFAULT, overlap=OverlapPolicy(default_annotators=1)),
            "config.overlap.default_annotators",
        ),
        (
            replace(DEFAULT, overlap=OverlapPolicy(per_class={"car": ClassOverlap("car", 2.0, 2)})),
            "config.overlap.per_class[car].sample_rate",
        ),
    ],
)
def test_validate_config_reports_the_bad_field(cfg: WorkflowConfig, field: str) -> None:
    assert [v.field for v in validate_config(cfg)] == [field]


def test_validate_config_reports_every_problem() -> None:
    cfg = WorkflowConfig(lease_seconds=0, gold_rate=0.9, review_policy="x", max_tasks_per_claim=0)
    assert {v.field for v in validate_config(cfg)} == {
        "config.lease_seconds",
        "config.gold_rate",
        "config.review_policy",
        "config.max_tasks_per_claim",
    }


@pytest.mark.parametrize("value", ["a", "0", "proj-1", "a-", "x" * 63, "9lives"])
def test_good_ids(value: str) -> None:
    assert validate_id("project_id", value) == []


@pytest.mark.parametrize("value", ["-a", "Proj", "a_b", "a b", "a.b", "x" * 64, "abc\n", "é"])
def test_bad_ids(value: str) -> None:
    out = validate_id("pool.pool_id", value)
    assert [v.field for v in out] == ["pool.pool_id"]
    assert "lowercase" in out[0].description


def test_missing_id_is_required() -> None:
    out = validate_id("project_id", "")
    assert [(v.field, v.description) for v in out] == [("project_id", "is required")]
