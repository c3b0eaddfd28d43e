"""Deterministic sampling: overlap (labels per item) and gold slots."""

from __future__ import annotations

import pytest
from labelops_routing.domain.overlap import (
    ClassOverlap,
    OverlapPolicy,
    is_gold_slot,
    required_labels,
    validate_overlap,
)
from labelops_routing.domain.sampling import unit_hash

POLICY = OverlapPolicy(
    default_sample_rate=0.0,
    default_annotators=2,
    per_class={
        "tumor": ClassOverlap("tumor", 1.0, 3),
        "sky": ClassOverlap("sky", 0.1, 2),
    },
)
ITEMS = [f"item-{i}" for i in range(10_000)]


def test_unit_hash_is_pinned_across_versions() -> None:
    # Persisted decisions (which items got overlap, which offers were gold) must be
    # reproducible after upgrades: these values may never change.
    assert unit_hash("p", "i", "overlap") == 0.0022022970936237396
    assert unit_hash() == 0.8931675160897388


def test_unit_hash_range_and_separation() -> None:
    values = [unit_hash("proj", str(i)) for i in range(2000)]
    assert all(0.0 <= v < 1.0 for v in values)
    assert len(set(values)) == len(values)
    # Boundaries between parts count, and so does their order.
    assert unit_hash("ab", "c") != unit_hash("a", "bc")
    assert unit_hash("a", "b") != unit_hash("b", "a")
    assert unit_hash("a", "b") == unit_hash("a", "b")


def test_full_rate_class_always_gets_its_annotators() -> None:
    assert {required_labels(POLICY, "proj", i, "tumor") for i in ITEMS[:2000]} == {3}


def test_zero_rate_means_a_single_label() -> None:
    assert {required_labels(POLICY, "proj", i, "road") for i in ITEMS[:2000]} == {1}


def test_ten_percent_class_samples_about_ten_percent() -> None:
    counts = [required_labels(POLICY, "proj", i, "sky") for i in ITEMS]
    assert set(counts) == {1, 2}
    share = counts.count(2) / len(counts)
    assert 0.07 <= share <= 0.13


def test_unlisted_class_uses_the_defaults() -> None:
    policy = OverlapPolicy(default_sample_rate=1.0, default_annotators=4)
    assert required_labels(policy, "proj", "x", "anything") == 4


def test_required_labels_is_deterministic_and_depends_on_project() -> None:
    first = [required_labels(POLICY, "proj", i, "sky") for i in ITEMS[:2000]]
    again = [required_labels(POLICY, "proj", i, "sky") for i in ITEMS[:2000]]
    other = [required_labels(POLICY, "other-proj", i, "sky") for i in ITEMS[:2000]]
    assert first == again
    assert first != other


def test_policy_is_isolated_from_the_callers_dict_and_hashable() -> None:
    source = {"sky": ClassOverlap("sky", 1.0, 2)}
    policy = OverlapPolicy(per_class=source)
    source["sky"] = ClassOverlap("sky", 0.0, 2)
    assert required_labels(policy, "p", "i", "sky") == 2
    assert policy == OverlapPolicy(per_class={"sky": ClassOverlap("sky", 1.0, 2)})
    assert hash(policy) == hash(OverlapPolicy(per_class={"sky": ClassOverlap("sky", 1.0, 2)}))


def test_valid_overlap_has_no_violations() -> None:
    assert validate_overlap(POLICY) == []
    assert validate_overlap(OverlapPolicy()) == []


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        (OverlapPolicy(default_sample_rate=1.01), "overlap.default_sample_rate"),
        (OverlapPolicy(default_sample_rate=-0.01), "overlap.default_sample_rate"),
        (OverlapPolicy(default_sample_rate=float("nan")), "overlap.default_sample_rate"),
        (OverlapPolicy(default_annotators=1), "overlap.default_annotators"),
        (OverlapPolicy(default_annotators=11), "overlap.default_annotators"),
        (
            OverlapPolicy(per_class={"car": ClassOverlap("car", 1.5, 2)}),
            "overlap.per_class[car].sample_rate",
        ),
        (
            OverlapPolicy(per_class={"car": ClassOverlap("car", 0.5, 0)}),
            "overlap.per_class[car].annotators",
        ),
        (
            OverlapPolicy(per_class={"car": ClassOverlap("car", 0.5, 11)}),
            "overlap.per_class[car].annotators",
        ),
        (
            OverlapPolicy(per_class={"": ClassOverlap("", 0.5, 2)}),
            "overlap.per_class[].class_id",
        ),
        (
            OverlapPolicy(per_class={"car": ClassOverlap("bus", 0.5, 2)}),
            "overlap.per_class[car].class_id",
        ),
    ],
)
def test_validate_overlap_reports_the_bad_field(policy: OverlapPolicy, field: str) -> None:
    assert [v.field for v in validate_overlap(policy)] == [field]


def test_validate_overlap_uses_the_prefix() -> None:
    out = validate_overlap(OverlapPolicy(default_annotators=0), prefix="config.overlap")
    assert [v.field for v in out] == ["config.overlap.default_annotators"]


def test_gold_rate_is_respected_over_many_offers() -> None:
    draws = [is_gold_slot(0.1, "proj", f"annotator-{i % 20}", i // 20) for i in range(20_000)]
    assert 0.08 <= sum(draws) / len(draws) <= 0.12


def test_gold_slots_are_reproducible_and_differ_between_annotators() -> None:
    alice = [is_gold_slot(0.2, "proj", "alice", n) for n in range(500)]
    assert alice == [is_gold_slot(0.2, "proj", "alice", n) for n in range(500)]
    assert alice != [is_gold_slot(0.2, "proj", "bob", n) for n in range(500)]


def test_gold_rate_zero_never_and_one_always() -> None:
    assert not any(is_gold_slot(0.0, "proj", "alice", n) for n in range(2000))
    assert all(is_gold_slot(1.0, "proj", "alice", n) for n in range(2000))
