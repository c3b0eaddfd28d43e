"""FindDuplicates and AnalyzeCoverage decisions: given a dataset's vectors (and the groups or
clusters found) → the representative, the items excluded or included, the events and the
answer (no Postgres, no Kafka)."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from labelops.curation.v1 import curation_pb2 as pb
from labelops.curation.v1 import events_pb2
from labelops_core.errors import InvalidArgument
from labelops_curation.domain.coverage import ClusterSummary, CoverageReport
from labelops_curation.domain.dedup import DuplicateGroup
from labelops_curation.domain.items import DatasetPolicy
from labelops_curation.domain.runs import (
    GROUPS_PER_EVENT,
    VectorSet,
    check_analyze_coverage,
    check_find_duplicates,
    coverage_run,
    duplicates_run,
    representative_rank,
)

PENDING, INCLUDED, EXCLUDED = (
    pb.CURATION_STATE_PENDING,
    pb.CURATION_STATE_INCLUDED,
    pb.CURATION_STATE_EXCLUDED,
)


def vector_set(
    states: list[int],
    pixels: list[int] | None = None,
    sizes: list[int] | None = None,
) -> VectorSet:
    n = len(states)
    return VectorSet(
        item_ids=[str(uuid.UUID(int=i + 1)) for i in range(n)],
        vectors=np.ones((n, 2), np.float32),
        states=np.array(states, np.int16),
        pixels=np.array(pixels or [0] * n, np.int64),
        sizes=np.array(sizes or [0] * n, np.int64),
        seqs=np.arange(1, n + 1, dtype=np.int64),
    )


def best(vs: VectorSet, members: list[int]) -> int:
    rank = representative_rank(vs)
    return max(members, key=lambda m: rank[m])


# --- FindDuplicates ----------------------------------------------------------------------------


def test_the_representative_is_an_included_item_then_most_pixels_bytes_earliest() -> None:
    assert best(vector_set([PENDING, INCLUDED, PENDING], [900, 10, 900]), [0, 1, 2]) == 1
    assert best(vector_set([PENDING] * 3, [10, 900, 900], [5, 1, 2]), [0, 1, 2]) == 2
    assert best(vector_set([PENDING] * 3, [10, 10, 10], [1, 1, 1]), [0, 1, 2]) == 0


def test_find_duplicates_uses_the_dataset_threshold_unless_given() -> None:
    p = DatasetPolicy("street", (), 2, False, 0.9)
    assert check_find_duplicates(pb.FindDuplicatesRequest(dataset_id="street"), p) == 0.9
    req = pb.FindDuplicatesRequest(threshold=0.97, max_groups=10)
    assert check_find_duplicates(req, p) == pytest.approx(0.97)
    with pytest.raises(InvalidArgument) as info:
        check_find_duplicates(pb.FindDuplicatesRequest(threshold=1.5, max_groups=10_001), p)
    assert [v.field for v in info.value.violations] == ["threshold", "max_groups"]


def test_a_run_records_the_groups_and_excludes_all_but_the_representative() -> None:
    vs = vector_set([PENDING] * 5)
    i = vs.item_ids
    groups = [DuplicateGroup(1, (0, 1, 2), 0.99, 0.96), DuplicateGroup(3, (3, 4), 0.98, 0.98)]
    req = pb.FindDuplicatesRequest(dataset_id="street", exclude_duplicates=True, max_groups=1)
    run = duplicates_run(req, "run-1", "custom", 0.95, vs, groups)
    found, excluded = run.events
    assert isinstance(found, events_pb2.DuplicatesFound)
    assert (found.part, found.parts, found.items_scanned, len(found.groups)) == (1, 1, 5, 2)
    assert found.groups[0].representative_item_id == i[1]
    assert run.excluded == [(i[0], i[1]), (i[2], i[1]), (i[4], i[3])]
    assert excluded == events_pb2.ItemsCurated(
        dataset_id="street",
        decision=pb.DECISION_EXCLUDE,
        reason=pb.CURATION_REASON_NEAR_DUPLICATE,
        note="near duplicate (cosine >= 0.95 in custom)",
        item_ids=[i[0], i[2], i[4]],
        run_id="run-1",
        duplicate_of=[i[1], i[1], i[3]],
    )
    r = run.response
    assert (r.group_count, r.duplicate_count, r.items_excluded, len(r.groups)) == (2, 3, 3, 1)


def test_a_run_without_exclusion_only_reports_and_splits_many_groups_in_parts() -> None:
    n = 2 * (GROUPS_PER_EVENT + 1)
    vs = vector_set([PENDING] * n)
    groups = [DuplicateGroup(k, (k, k + 1), 1.0, 1.0) for k in range(0, n, 2)]
    run = duplicates_run(pb.FindDuplicatesRequest(), "r", "custom", 0.95, vs, groups)
    assert [(e.part, e.parts, len(e.groups)) for e in run.events] == [  # type: ignore[attr-defined]
        (1, 2, GROUPS_PER_EVENT),
        (2, 2, 1),
    ]
    assert run.excluded == [] and len(run.response.groups) == 100


def test_a_run_over_no_duplicates_still_records_one_part() -> None:
    run = duplicates_run(pb.FindDuplicatesRequest(), "r", "custom", 0.95, vector_set([]), [])
    assert [(e.part, e.parts) for e in run.events] == [(1, 1)]  # type: ignore[attr-defined]


# --- AnalyzeCoverage ---------------------------------------------------------------------------


def report(edge_cases: tuple[int, ...]) -> CoverageReport:
    return CoverageReport(
        n_items=4,
        n_clusters=2,
        k_selection="given",
        clusters=(
            ClusterSummary(0, 3, 0.75, 1, (1, 0), 0.9, False),
            ClusterSummary(1, 1, 0.25, 3, (3,), 1.0, True),
        ),
        balance=0.81,
        rare_cut=0.3,
        outliers=(),
        edge_cases=edge_cases,
        labels=np.array([0, 0, 0, 1]),
        centroid_similarity=np.ones(4, np.float32),
    )


def test_coverage_includes_the_pending_edge_cases_when_asked() -> None:
    vs = vector_set([PENDING, PENDING, EXCLUDED, PENDING])
    i = vs.item_ids
    req = pb.AnalyzeCoverageRequest(dataset_id="street", include_edge_cases=True)
    run = coverage_run(req, "run-2", "custom", vs, report((0, 2, 3)))
    assert run.included == [i[0], i[3]]
    analyzed, included = run.events
    assert isinstance(analyzed, events_pb2.CoverageAnalyzed)
    assert list(analyzed.edge_case_item_ids) == [i[0], i[2], i[3]]
    # the event names each cluster's medoid, not its samples (the answer has them)
    assert [list(c.sample_item_ids) for c in analyzed.clusters] == [[], []]
    assert [c.medoid_item_id for c in analyzed.clusters] == [i[1], i[3]]
    assert [list(c.sample_item_ids) for c in run.response.clusters] == [[i[1], i[0]], [i[3]]]
    assert (included.reason, included.run_id) == (pb.CURATION_REASON_EDGE_CASE, "run-2")
    assert run.response.items_included == 2


def test_coverage_without_inclusion_only_reports() -> None:
    vs = vector_set([PENDING] * 4)
    run = coverage_run(pb.AnalyzeCoverageRequest(), "r", "custom", vs, report((3,)))
    assert (len(run.events), run.included, run.response.items_included) == (1, [], 0)
    assert [c.rare for c in run.response.clusters] == [False, True]


def test_analyze_coverage_names_every_bad_field() -> None:
    check_analyze_coverage(pb.AnalyzeCoverageRequest(n_clusters=1000, samples_per_cluster=100))
    req = pb.AnalyzeCoverageRequest(n_clusters=1001, rare_share=1.0, samples_per_cluster=101)
    with pytest.raises(InvalidArgument) as info:
        check_analyze_coverage(req)
    assert [v.field for v in info.value.violations] == [
        "n_clusters",
        "rare_share",
        "samples_per_cluster",
    ]
