"""Qdrant collection names: one per (tenant, dataset, vector space), never another's."""

from __future__ import annotations

import itertools
import re

import pytest
from labelops_curation.adapters.vector_index import collection_name

QDRANT_UNSAFE = re.compile(r"[/\\:*?\"<>|\x00]")


def test_the_default_tenant_keeps_its_names() -> None:
    assert collection_name("labelops-", "default", "street", "custom") == "labelops-street--custom"


@pytest.mark.parametrize(
    "tenant",
    ["acme", "ACME", "Acme Corp/EU", "ünïcode", "a" * 500, "../../etc", "x\x00y", ""],
)
def test_names_are_safe_bounded_and_readable(tenant: str) -> None:
    name = collection_name("labelops-", tenant, "s" * 63, "e" * 63)
    assert not QDRANT_UNSAFE.search(name)
    assert len(name) <= len("labelops-") + 171 <= 255
    assert name.startswith("labelops-t_") and name.endswith("_" + "s" * 63 + "_" + "e" * 63)


def test_no_two_tenants_datasets_or_spaces_share_a_collection() -> None:
    tenants = ["default", "acme", "ACME", "acme ", "acme-", "beta", "b" * 30, "b" * 31]
    datasets = ["street", "street--a", "t", "t-acme", "a"]
    spaces = ["custom", "a--street", "a", "words"]
    names = [
        collection_name("labelops-", t, d, s)
        for t, d, s in itertools.product(tenants, datasets, spaces)
    ]
    # Within 'default' the old scheme can pair ("street--a", "a") with ("street", "a--a"):
    # what matters here is across tenants.
    by_name: dict[str, set[str]] = {}
    for (t, _, _), n in zip(itertools.product(tenants, datasets, spaces), names, strict=True):
        by_name.setdefault(n, set()).add(t)
    assert all(len(ts) == 1 for ts in by_name.values())
    # Tenants of one slug ("acme" / "ACME" / "acme-") are told apart by the hash.
    assert len({collection_name("p-", t, "d", "s") for t in ("acme", "ACME", "acme-")}) == 3
