"""Deterministic splits: pinned values, the documented formula, ratios, and vector == scalar."""

from __future__ import annotations

import hashlib
from collections import Counter

import pyarrow as pa
import pytest
from labelops_datasets.domain.splits import SPLITS, split_column, split_of

N = 100_000
IDS = [f"item-{i}" for i in range(N)]


def reference(item_id: str, ratios: tuple[float, float, float], salt: str) -> str:
    """The rule as the module docstring states it, written independently."""
    digest = hashlib.blake2b((salt + item_id).encode("utf-8"), digest_size=8).digest()
    u = (int.from_bytes(digest, "big") >> 11) / 2.0**53
    if u < ratios[0]:
        return "train"
    return "val" if u < ratios[0] + ratios[1] else "test"


def test_pinned_assignments_never_change() -> None:
    """Splits must be stable forever: a change here re-splits every existing dataset."""
    assert [split_of(f"item-{i}") for i in range(8)] == [
        "train",
        "val",
        "train",
        "val",
        "train",
        "train",
        "train",
        "val",
    ]
    assert [split_of(f"item-{i}", (0.5, 0.25, 0.25), salt="s1") for i in range(8)] == [
        "train",
        "test",
        "train",
        "train",
        "train",
        "train",
        "train",
        "train",
    ]
    assert split_of("画像-001") == "val"


@pytest.mark.parametrize(
    ("ratios", "salt"),
    [((0.8, 0.1, 0.1), ""), ((0.7, 0.2, 0.1), "dataset-42"), ((1 / 3, 1 / 3, 1 / 3), "x")],
)
def test_matches_the_documented_formula(ratios: tuple[float, float, float], salt: str) -> None:
    for item_id in [*IDS[:2000], "", "画像-001", "a" * 500]:
        assert split_of(item_id, ratios, salt=salt) == reference(item_id, ratios, salt)


def test_deterministic_across_calls_and_inputs() -> None:
    first = [split_of(i, salt="s") for i in IDS[:1000]]
    assert [split_of(i, salt="s") for i in IDS[:1000]] == first
    assert split_column(IDS[:1000], salt="s").to_pylist() == first
    assert split_column(list(reversed(IDS[:1000])), salt="s").to_pylist() == first[::-1]


@pytest.mark.parametrize(("ratios", "salt"), [((0.8, 0.1, 0.1), ""), ((0.6, 0.25, 0.15), "salted")])
def test_ratios_hold_within_one_percent(ratios: tuple[float, float, float], salt: str) -> None:
    counts = Counter(split_column(IDS, ratios, salt=salt).to_pylist())
    for name, ratio in zip(SPLITS, ratios, strict=True):
        assert abs(counts[name] / N - ratio) <= 0.01, (name, counts)


@pytest.mark.parametrize(
    "ratios",
    [(0.8, 0.1, 0.1), (0.7, 0.2, 0.1), (1.0, 0.0, 0.0), (0.0, 0.0, 1.0), (0.5, 0.5, 0.0)],
)
def test_split_column_equals_split_of_elementwise(ratios: tuple[float, float, float]) -> None:
    ids = [*IDS[:20000], "", "画像-001", "ü" * 40]
    expected = [split_of(i, ratios, salt="s") for i in ids]
    assert split_column(ids, ratios, salt="s").to_pylist() == expected
    arrow = pa.array(ids)
    assert split_column(arrow, ratios, salt="s").to_pylist() == expected
    chunked = pa.chunked_array([arrow.slice(0, 7), arrow.slice(7)])
    assert split_column(chunked, ratios, salt="s").to_pylist() == expected
    assert split_column(arrow.cast(pa.large_string()), ratios, salt="s").to_pylist() == expected


def test_degenerate_ratios_put_everything_in_one_split() -> None:
    assert set(split_column(IDS[:5000], (1.0, 0.0, 0.0)).to_pylist()) == {"train"}
    assert set(split_column(IDS[:5000], (0.0, 1.0, 0.0)).to_pylist()) == {"val"}
    assert set(split_column(IDS[:5000], (0.0, 0.0, 1.0)).to_pylist()) == {"test"}


def test_salt_and_ratios_re_split() -> None:
    """Documented behaviour: a new salt is a new split; growing train only moves items in."""
    base = split_column(IDS[:10_000]).to_pylist()
    salted = split_column(IDS[:10_000], salt="other").to_pylist()
    assert sum(a != b for a, b in zip(base, salted, strict=True)) > 2000
    wider = split_column(IDS[:10_000], (0.9, 0.05, 0.05)).to_pylist()
    assert all(w == "train" for b, w in zip(base, wider, strict=True) if b == "train")


def test_output_type_and_empty_input() -> None:
    out = split_column(["a", "b"])
    assert isinstance(out, pa.Array) and out.type == pa.string() and out.null_count == 0
    assert split_column([]).to_pylist() == []
    assert split_column(pa.array([], pa.string())).type == pa.string()


@pytest.mark.parametrize(
    "ratios", [(0.8, 0.1), (0.8, 0.1, 0.2), (1.1, -0.1, 0.0), (float("nan"), 0.5, 0.5)]
)
def test_invalid_ratios_are_rejected(ratios: tuple[float, ...]) -> None:
    with pytest.raises(ValueError):
        split_of("a", ratios)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        split_column(["a"], ratios)  # type: ignore[arg-type]


def test_invalid_ids_are_rejected() -> None:
    with pytest.raises(ValueError):
        split_column(pa.array(["a", None]))
    with pytest.raises(ValueError):
        split_column(pa.array([1, 2]))
    with pytest.raises(ValueError):
        split_column(["a", 3])  # type: ignore[list-item]
