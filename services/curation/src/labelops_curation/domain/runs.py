"""What a FindDuplicates or AnalyzeCoverage run decides from a dataset's vectors (pure).

The handler loads the vectors of one space under the dataset's row lock (``VectorSet``), runs
the algorithm (``dedup.find_near_duplicates``, ``coverage.analyze_coverage``) and records the
run with these rules: which item represents a duplicate group, which items are excluded or
included, the events and the answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import numpy as np
from google.protobuf.message import Message
from labelops.curation.v1 import curation_pb2 as pb
from labelops.curation.v1 import events_pb2
from labelops_core.errors import FieldViolation, InvalidArgument

from .decisions import IDS_PER_EVENT, curated_events
from .dedup import DuplicateGroup
from .items import DatasetPolicy

if TYPE_CHECKING:  # scikit-learn takes a while to import; only AnalyzeCoverage needs it
    from .coverage import CoverageReport

#: Groups per DuplicatesFound event (well below the 1 MB event limit).
GROUPS_PER_EVENT: Final = 2_000
#: Groups in a FindDuplicates answer when ``max_groups`` is 0.
DEFAULT_MAX_GROUPS: Final = 100
EDGE_CASE_NOTE: Final = "rare cluster or outlier (AnalyzeCoverage)"


@dataclass(frozen=True)
class VectorSet:
    """Vectors of one space, in registration order, with what ranks a representative."""

    item_ids: list[str]
    vectors: np.ndarray
    states: np.ndarray
    pixels: np.ndarray
    sizes: np.ndarray
    seqs: np.ndarray


# --- FindDuplicates ---------------------------------------------------------------------------


def check_find_duplicates(req: pb.FindDuplicatesRequest, policy: DatasetPolicy) -> float:
    """The threshold of the run (the dataset's unless given), or INVALID_ARGUMENT."""
    bad: list[FieldViolation] = []
    threshold = req.threshold or policy.near_duplicate_threshold
    if not 0 < threshold <= 1:
        bad.append(FieldViolation("threshold", "must be in (0, 1]"))
    if not 0 <= req.max_groups <= 10_000:
        bad.append(FieldViolation("max_groups", "must be 0..10000"))
    if bad:
        raise InvalidArgument("FindDuplicates has invalid fields", bad)
    return threshold


def representative_rank(vs: VectorSet) -> np.ndarray:
    """Preference per row for representing its group (higher wins): an included item first,
    then most pixels, most bytes, earliest registered."""
    order = np.lexsort((-vs.seqs, vs.sizes, vs.pixels, vs.states == pb.CURATION_STATE_INCLUDED))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank


def duplicate_groups(vs: VectorSet, groups: Sequence[DuplicateGroup]) -> list[pb.DuplicateGroup]:
    """The groups as the API and the events name them (item ids)."""
    return [
        pb.DuplicateGroup(
            representative_item_id=vs.item_ids[g.representative],
            item_ids=[vs.item_ids[m] for m in g.members],
            min_similarity=float(g.min_similarity),
        )
        for g in groups
    ]


def duplicates_to_exclude(groups: Sequence[pb.DuplicateGroup]) -> list[tuple[str, str]]:
    """(item, its representative) for every member that is not its group's representative."""
    return [
        (m, g.representative_item_id)
        for g in groups
        for m in g.item_ids
        if m != g.representative_item_id
    ]


def near_duplicate_note(threshold: float, space: str) -> str:
    return f"near duplicate (cosine >= {threshold:g} in {space})"


@dataclass(frozen=True)
class DuplicatesRun:
    """A FindDuplicates run: its events, its answer and the exclusions to apply."""

    events: list[Message]
    response: pb.FindDuplicatesResponse
    excluded: list[tuple[str, str]]


def duplicates_run(
    req: pb.FindDuplicatesRequest,
    run_id: str,
    space: str,
    threshold: float,
    vs: VectorSet,
    groups: Sequence[DuplicateGroup],
) -> DuplicatesRun:
    """Record the groups found (``DuplicatesFound`` in parts of ``GROUPS_PER_EVENT``) and, with
    ``exclude_duplicates``, exclude every member but the representative (``NEAR_DUPLICATE``)."""
    pgroups = duplicate_groups(vs, groups)
    parts = max(1, -(-len(pgroups) // GROUPS_PER_EVENT))
    events: list[Message] = [
        events_pb2.DuplicatesFound(
            dataset_id=req.dataset_id,
            run_id=run_id,
            vector_space=space,
            threshold=threshold,
            items_scanned=len(vs.item_ids),
            groups=pgroups[p * GROUPS_PER_EVENT : (p + 1) * GROUPS_PER_EVENT],
            part=p + 1,
            parts=parts,
        )
        for p in range(parts)
    ]
    excluded = duplicates_to_exclude(pgroups) if req.exclude_duplicates else []
    events += curated_events(
        req.dataset_id,
        pb.DECISION_EXCLUDE,
        pb.CURATION_REASON_NEAR_DUPLICATE,
        near_duplicate_note(threshold, space),
        [c[0] for c in excluded],
        run_id=run_id,
        duplicate_of=[c[1] for c in excluded],
    )
    response = pb.FindDuplicatesResponse(
        run_id=run_id,
        vector_space=space,
        threshold=threshold,
        items_scanned=len(vs.item_ids),
        group_count=len(pgroups),
        duplicate_count=sum(len(g.item_ids) - 1 for g in pgroups),
        groups=pgroups[: req.max_groups or DEFAULT_MAX_GROUPS],
        items_excluded=len(excluded),
    )
    return DuplicatesRun(events, response, excluded)


# --- AnalyzeCoverage --------------------------------------------------------------------------


def check_analyze_coverage(req: pb.AnalyzeCoverageRequest) -> None:
    """INVALID_ARGUMENT naming every bad field of an AnalyzeCoverage request."""
    bad: list[FieldViolation] = []
    if not 0 <= req.n_clusters <= 1000:
        bad.append(FieldViolation("n_clusters", "must be 0..1000 (0 = automatic)"))
    if not 0 <= req.rare_share < 1:
        bad.append(FieldViolation("rare_share", "must be in [0, 1)"))
    if not 0 <= req.samples_per_cluster <= 100:
        bad.append(FieldViolation("samples_per_cluster", "must be 0..100"))
    if bad:
        raise InvalidArgument("AnalyzeCoverage has invalid fields", bad)


@dataclass(frozen=True)
class CoverageRun:
    """An AnalyzeCoverage run: its events, its answer and the edge cases to include."""

    events: list[Message]
    response: pb.AnalyzeCoverageResponse
    included: list[str]


def coverage_run(
    req: pb.AnalyzeCoverageRequest,
    run_id: str,
    space: str,
    vs: VectorSet,
    report: CoverageReport,
) -> CoverageRun:
    """Record the analysis (``CoverageAnalyzed``: clusters without their samples, at most
    ``IDS_PER_EVENT`` edge cases) and, with ``include_edge_cases``, include the edge cases
    that are still pending (``EDGE_CASE``)."""
    clusters = [
        pb.Cluster(
            cluster_id=c.cluster_id,
            size=c.size,
            share=c.share,
            medoid_item_id=vs.item_ids[c.medoid],
            sample_item_ids=[vs.item_ids[m] for m in c.samples],
            cohesion=c.cohesion,
            rare=c.is_rare,
        )
        for c in report.clusters
    ]
    edge_ids = [vs.item_ids[i] for i in report.edge_cases]
    included: list[str] = []
    if req.include_edge_cases:
        pending = vs.states == pb.CURATION_STATE_PENDING
        included = [vs.item_ids[i] for i in report.edge_cases if pending[i]]
    event_clusters = []
    for c in clusters:
        ec = pb.Cluster()
        ec.CopyFrom(c)
        del ec.sample_item_ids[:]
        event_clusters.append(ec)
    events: list[Message] = [
        events_pb2.CoverageAnalyzed(
            dataset_id=req.dataset_id,
            run_id=run_id,
            vector_space=space,
            items_analyzed=len(vs.item_ids),
            clusters=event_clusters,
            balance=report.balance,
            edge_case_item_ids=edge_ids[:IDS_PER_EVENT],
        )
    ]
    events += curated_events(
        req.dataset_id,
        pb.DECISION_INCLUDE,
        pb.CURATION_REASON_EDGE_CASE,
        EDGE_CASE_NOTE,
        included,
        run_id=run_id,
    )
    response = pb.AnalyzeCoverageResponse(
        run_id=run_id,
        vector_space=space,
        items_analyzed=len(vs.item_ids),
        clusters=clusters,
        balance=report.balance,
        edge_case_item_ids=edge_ids,
        items_included=len(included),
    )
    return CoverageRun(events, response, included)
