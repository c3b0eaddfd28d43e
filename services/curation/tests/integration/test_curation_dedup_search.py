"""Near-duplicates, similarity search, coverage and reversible decisions over gRPC."""

from __future__ import annotations

import numpy as np
from curation_support import register, stored, vector_items, wait_for_envelopes
from labelops.curation.v1 import curation_pb2 as pb
from labelops.curation.v1 import events_pb2

DIM = 32


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


def _planted(n_base: int, groups: int, seed: int = 1) -> tuple[np.ndarray, list[list[int]]]:
    """``n_base`` random unit vectors; the first ``groups`` of them get 1-3 near copies each
    (cosine ≈ 0.99), appended at the end. Returns vectors and the planted index groups."""
    rng = np.random.default_rng(seed)
    base = _unit(rng.normal(size=(n_base, DIM)))
    extra, planted = [], []
    for g in range(groups):
        members = [g]
        for _ in range(1 + g % 3):
            members.append(n_base + len(extra))
            extra.append(_unit(base[g] + rng.normal(scale=0.02, size=DIM)))
        planted.append(members)
    return np.vstack([base, np.array(extra, np.float32)]), planted


async def _ids(stub, dataset_id: str) -> dict[str, str]:
    out, token = {}, ""
    while True:
        page = await stub.ListItems(
            pb.ListItemsRequest(dataset_id=dataset_id, page_size=1000, page_token=token)
        )
        out |= {i.external_id: i.item_id for i in page.items}
        if not (token := page.next_page_token):
            return out


async def test_find_duplicates_groups_planted_copies_and_excludes_them(
    curation_stub, pg_pool, pg_schema, kafka_bootstrap, unique_name
) -> None:
    await curation_stub.CreateDataset(
        pb.CreateDatasetRequest(dataset_id="photos", custom_vector_dim=DIM)
    )
    vectors, planted = _planted(400, 30)
    await register(curation_stub, "photos", vector_items(vectors))
    ids = await _ids(curation_stub, "photos")
    # The copy of group 0 is included already: it must be kept as the representative.
    keep = ids[f"it-{planted[0][1]}"]
    await curation_stub.CurateItems(
        pb.CurateItemsRequest(dataset_id="photos", decision=pb.DECISION_INCLUDE, item_ids=[keep])
    )

    found = await curation_stub.FindDuplicates(
        pb.FindDuplicatesRequest(dataset_id="photos", threshold=0.95, max_groups=1000)
    )
    expected = {frozenset(ids[f"it-{m}"] for m in g) for g in planted}
    assert {frozenset(g.item_ids) for g in found.groups} == expected
    assert found.group_count == 30 and found.items_scanned == len(vectors)
    assert found.duplicate_count == sum(len(g) - 1 for g in planted)
    group0 = next(g for g in found.groups if keep in g.item_ids)
    assert group0.representative_item_id == keep
    # Without a preference, the earliest registered member represents its group.
    for g, members in zip(
        sorted(found.groups, key=lambda g: min(g.item_ids)), sorted(planted), strict=False
    ):
        assert g.min_similarity >= 0.95
        del members
    others = [g for g in found.groups if keep not in g.item_ids]
    reps = {g.representative_item_id for g in others}
    assert reps == {ids[f"it-{g[0]}"] for g in planted[1:]}
    assert (await stored(pg_pool, pg_schema))["items"] == len(vectors)  # reported only

    excluded = await curation_stub.FindDuplicates(
        pb.FindDuplicatesRequest(
            dataset_id="photos", threshold=0.95, exclude_duplicates=True, request_id="dedup-1"
        )
    )
    assert excluded.items_excluded == found.duplicate_count
    ds = (await curation_stub.GetDataset(pb.GetDatasetRequest(dataset_id="photos"))).dataset
    assert ds.counts.excluded == found.duplicate_count
    dup = (
        await curation_stub.GetItem(
            pb.GetItemRequest(dataset_id="photos", item_id=ids[f"it-{planted[1][1]}"])
        )
    ).item
    assert dup.state == pb.CURATION_STATE_EXCLUDED
    assert dup.reason == pb.CURATION_REASON_NEAR_DUPLICATE
    assert dup.duplicate_of == ids[f"it-{planted[1][0]}"]

    # The same request id answers the same without writing; a new scan sees no duplicates
    # left (excluded items are not scanned again).
    before = await stored(pg_pool, pg_schema)
    replay = await curation_stub.FindDuplicates(
        pb.FindDuplicatesRequest(
            dataset_id="photos", threshold=0.95, exclude_duplicates=True, request_id="dedup-1"
        )
    )
    assert replay == excluded
    assert await stored(pg_pool, pg_schema) == before
    rescan = await curation_stub.FindDuplicates(pb.FindDuplicatesRequest(dataset_id="photos"))
    assert rescan.group_count == 0

    # Reversible: include one excluded copy again.
    back = await curation_stub.CurateItems(
        pb.CurateItemsRequest(
            dataset_id="photos",
            decision=pb.DECISION_INCLUDE,
            item_ids=[dup.item_id],
            note="different lighting, keep it",
        )
    )
    assert back.changed == 1 and len(back.event_ids) == 1
    again = (
        await curation_stub.GetItem(pb.GetItemRequest(dataset_id="photos", item_id=dup.item_id))
    ).item
    assert again.state == pb.CURATION_STATE_INCLUDED and again.reason == pb.CURATION_REASON_MANUAL

    envs = await wait_for_envelopes(
        kafka_bootstrap, f"labelops.{unique_name}.events.v1", 1 + 2 * len(vectors) + 6
    )
    found_events = [
        events_pb2.DuplicatesFound.FromString(e.payload)
        for e in envs
        if e.type == "labelops.curation.v1.DuplicatesFound"
    ]
    assert [len(e.groups) for e in found_events][:2] == [30, 30]
    curated = [
        events_pb2.ItemsCurated.FromString(e.payload)
        for e in envs
        if e.type == "labelops.curation.v1.ItemsCurated"
    ]
    assert [c.reason for c in curated] == [
        pb.CURATION_REASON_MANUAL,
        pb.CURATION_REASON_NEAR_DUPLICATE,
        pb.CURATION_REASON_MANUAL,
    ]
    assert curated[1].run_id == excluded.run_id
    assert len(curated[1].duplicate_of) == len(curated[1].item_ids) == excluded.items_excluded


async def test_search_similar_finds_neighbours_and_filters_states(curation_stub) -> None:
    await curation_stub.CreateDataset(
        pb.CreateDatasetRequest(dataset_id="photos", custom_vector_dim=DIM)
    )
    vectors, planted = _planted(200, 10, seed=7)
    await register(curation_stub, "photos", vector_items(vectors))
    ids = await _ids(curation_stub, "photos")
    group = planted[2]  # base + 3 copies
    res = await curation_stub.SearchSimilar(
        pb.SearchSimilarRequest(dataset_id="photos", item_id=ids[f"it-{group[0]}"], limit=3)
    )
    assert {r.item.item_id for r in res.results} == {ids[f"it-{m}"] for m in group[1:]}
    assert all(r.score > 0.95 for r in res.results)
    assert res.results[0].score >= res.results[-1].score
    # Exclude one copy: a search for included-or-pending items no longer returns it.
    gone = ids[f"it-{group[1]}"]
    await curation_stub.CurateItems(
        pb.CurateItemsRequest(
            dataset_id="photos",
            decision=pb.DECISION_EXCLUDE,
            reason=pb.CURATION_REASON_LOW_QUALITY,
            item_ids=[gone],
        )
    )
    res = await curation_stub.SearchSimilar(
        pb.SearchSimilarRequest(
            dataset_id="photos",
            item_id=ids[f"it-{group[0]}"],
            limit=3,
            states=[pb.CURATION_STATE_PENDING, pb.CURATION_STATE_INCLUDED],
        )
    )
    assert gone not in {r.item.item_id for r in res.results}
    assert len(res.results) == 3


async def test_coverage_names_the_rare_cluster_and_includes_its_items(curation_stub) -> None:
    await curation_stub.CreateDataset(
        pb.CreateDatasetRequest(dataset_id="scenes", custom_vector_dim=DIM)
    )
    rng = np.random.default_rng(3)
    centers = _unit(rng.normal(size=(6, DIM)))
    sizes = [200, 200, 200, 200, 200, 6]  # the sixth cluster is rare (< 1%)
    vectors = np.vstack(
        [
            _unit(c + rng.normal(scale=0.08, size=(n, DIM)))
            for c, n in zip(centers, sizes, strict=True)
        ]
    )
    await register(curation_stub, "scenes", vector_items(vectors))
    ids = await _ids(curation_stub, "scenes")
    rare_ids = {ids[f"it-{k}"] for k in range(1000, 1006)}
    report = await curation_stub.AnalyzeCoverage(
        pb.AnalyzeCoverageRequest(dataset_id="scenes", include_edge_cases=True)
    )
    assert report.items_analyzed == 1006
    rare = [c for c in report.clusters if c.rare]
    assert len(rare) == 1 and rare[0].size == 6
    assert rare_ids <= set(report.edge_case_item_ids)
    assert sum(c.size for c in report.clusters) == 1006
    assert 0.5 < report.balance <= 1.0
    assert report.items_included == len(report.edge_case_item_ids)
    listed = await curation_stub.ListItems(
        pb.ListItemsRequest(dataset_id="scenes", states=[pb.CURATION_STATE_INCLUDED])
    )
    assert rare_ids <= {i.item_id for i in listed.items}
    assert {i.reason for i in listed.items} == {pb.CURATION_REASON_EDGE_CASE}
