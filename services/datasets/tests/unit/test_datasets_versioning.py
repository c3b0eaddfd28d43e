"""CreateDatasetVersion's decisions without Postgres or Kafka (``domain.versioning``): given a
request and what is stored → the number, project, cut, target ontology and record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from labelops.datasets.v1 import datasets_pb2 as pb
from labelops_core.context import Principal
from labelops_core.errors import FailedPrecondition, InvalidArgument, NotFound
from labelops_datasets.domain.filters import RowFilter
from labelops_datasets.domain.versioning import (
    check_create,
    check_items,
    check_project_known,
    creator,
    cut_offsets,
    cut_time,
    final_cut,
    next_number,
    project_of,
    row_filter_of,
    target_ontology,
    timestamp_cut,
    version_record,
)

TOPIC = "labelops.qa.events.v1"


def offsets(*pairs: tuple[int, int], topic: str = "") -> pb.Cut:
    return pb.Cut(
        offsets=pb.Offsets(
            offsets=[pb.PartitionOffset(topic=topic, partition=p, offset=o) for p, o in pairs]
        )
    )


def test_a_request_is_checked_field_by_field() -> None:
    with pytest.raises(InvalidArgument) as e:
        check_create(
            pb.CreateDatasetVersionRequest(
                dataset_id="X",
                version=-1,
                filter=pb.Filter(min_consensus_score=2.0, review_decisions=["maybe"]),
            )
        )
    fields = {v.field for v in e.value.violations}
    assert {"dataset_id", "version", "filter.min_consensus_score"} <= fields
    assert any(f.startswith("filter.review_decisions") for f in fields)


def test_the_filter_defaults_to_80_10_10_and_sorts_its_sets() -> None:
    rf = check_create(
        pb.CreateDatasetVersionRequest(
            dataset_id="zoo-train", filter=pb.Filter(class_ids=["dog", "cat", "dog"])
        )
    )
    assert rf == RowFilter(classes=("cat", "dog"), split_ratios=(0.8, 0.1, 0.1))
    # The record states it back: a rebuild reads the same filter from it.
    from labelops_datasets.domain.versioning import filter_proto

    assert row_filter_of(filter_proto(rf), []) == rf


def test_the_first_version_names_its_project_and_later_ones_keep_it() -> None:
    with pytest.raises(InvalidArgument):
        project_of("zoo", None, "")
    assert project_of("zoo", None, "p1") == "p1"
    assert project_of("zoo", "p1", "") == "p1"
    with pytest.raises(FailedPrecondition) as e:
        project_of("zoo", "p1", "p2")
    assert e.value.reason == "DATASET_PROJECT_MISMATCH"


def test_a_first_version_needs_a_project_with_accepted_labels() -> None:
    seen = [("onto", "1.0.0", 0, 5)]
    check_project_known("zoo", None, seen)
    # A dataset that holds its project keeps it, labels or not (a version of before).
    check_project_known("zoo", "zoo", [])
    with pytest.raises(NotFound) as e:
        check_project_known("zoo", None, [])
    assert e.value.reason == "PROJECT_NOT_FOUND"


def test_versions_are_numbered_without_gaps_and_never_replaced() -> None:
    assert next_number("zoo", 0, 0) == 1
    assert next_number("zoo", 3, 4) == 4
    with pytest.raises(FailedPrecondition) as e:
        next_number("zoo", 3, 2)
    assert e.value.reason == "VERSION_EXISTS"
    with pytest.raises(FailedPrecondition) as e:
        next_number("zoo", 3, 6)
    assert e.value.reason == "VERSION_GAP"


def test_a_latest_cut_is_what_is_linked_without_empty_partitions() -> None:
    assert cut_offsets(pb.Cut(latest=True), {2: 5, 0: 7, 1: 0}, TOPIC) == {0: 7, 2: 5}
    assert cut_offsets(pb.Cut(), {0: 3}, TOPIC) == {0: 3}


def test_an_offsets_cut_must_be_valid_and_not_ahead_of_the_projection() -> None:
    assert cut_offsets(offsets((1, 4), (0, 0), topic=TOPIC), {0: 9, 1: 9}, TOPIC) == {1: 4}
    with pytest.raises(InvalidArgument) as e:
        cut_offsets(offsets((0, 1), (0, 2), (1, -1), topic="other"), {0: 9}, TOPIC)
    fields = [v.field for v in e.value.violations]
    assert "cut.offsets.offsets[0].topic" in fields
    assert "cut.offsets.offsets[1].partition" in fields
    assert "cut.offsets.offsets[2]" in fields
    with pytest.raises(FailedPrecondition) as e2:
        cut_offsets(offsets((0, 10)), {0: 9}, TOPIC)
    assert e2.value.reason == "PROJECTION_BEHIND"


def test_a_timestamp_cut_holds_the_records_at_or_before_it() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    cut = pb.Cut()
    cut.timestamp.FromDatetime(now - timedelta(hours=1))
    assert cut_offsets(cut, {0: 5}, TOPIC) is None
    assert cut_time(cut, now) == now - timedelta(hours=1)
    later = pb.Cut()
    later.timestamp.FromDatetime(now + timedelta(seconds=1))
    with pytest.raises(InvalidArgument):
        cut_time(later, now)
    # Partition 0 has records after the time from offset 3 on; partition 1 none.
    assert timestamp_cut({0: 10, 1: 4, 2: 6}, {0: 3, 2: 0}) == {0: 3, 1: 4}
    assert final_cut({3: 1, 1: 0, 0: 2}) == {0: 2, 3: 1}


def test_the_target_ontology_is_the_newest_seen_below_the_cut_unless_one_is_asked() -> None:
    seen = [
        ("zoo", "1.0.0", 0, 0),
        ("zoo", "1.10.0", 0, 5),
        ("zoo", "1.9.0", 1, 2),
        ("zoo", "3.0.0", 1, 50),  # above the cut
    ]
    cut = {0: 10, 1: 10}
    assert target_ontology("p", seen, cut, "") == ("zoo", "1.10.0")  # semver, not text order
    assert target_ontology("p", seen, cut, "2.0.0") == ("zoo", "2.0.0")
    assert target_ontology("p", seen, {0: 0}, "2.0.0") == ("", "2.0.0")
    with pytest.raises(InvalidArgument):
        target_ontology("p", seen, cut, "latest")
    with pytest.raises(FailedPrecondition) as e:
        target_ontology("p", [*seen, ("birds", "1.0.0", 0, 1)], cut, "")
    assert e.value.reason == "MIXED_ONTOLOGIES"


def test_every_labeled_item_needs_its_registration() -> None:
    check_items(["a", "b"], {"a": 1, "b": 2})
    with pytest.raises(FailedPrecondition) as e:
        check_items(["a", "b", "c"], {"b": 1})
    assert e.value.reason == "ITEM_METADATA_MISSING"
    assert e.value.metadata == {"missing": "2"}


def test_the_record_states_what_the_version_is() -> None:
    req = pb.CreateDatasetVersionRequest(dataset_id="zoo", description="d")
    manifest = {
        "row_count": 7,
        "counts": {"labels": 6},
        "files": [{"bytes": 10}, {"bytes": 32}],
        "content_sha256": "cd" * 32,
    }
    now = datetime(2026, 1, 2, tzinfo=UTC)
    rec = version_record(
        req,
        number=2,
        project_id="p",
        topic=TOPIC,
        cut={1: 4, 0: 9},
        row_filter=RowFilter(),
        ontology=("zoo-o", "1.0.0"),
        created_by=creator(Principal(subject="ml", tenant_id="acme", kind="user")),
        digest="ab" * 32,
        manifest_uri="file:///m",
        manifest=manifest,
        reused=1,
        now=now,
    )
    assert rec.name == "datasets/zoo/versions/2"
    assert [(c.partition, c.offset, c.topic) for c in rec.cut] == [(0, 9, TOPIC), (1, 4, TOPIC)]
    assert (rec.rows, rec.labels, rec.files, rec.bytes, rec.files_reused) == (7, 6, 2, 42, 1)
    assert rec.content_sha256 == "cd" * 32  # the manifest's: of the files, not the number
    assert rec.created_by == "user:ml" and creator(None) == ""
    assert rec.state == pb.VERSION_STATE_READY
    assert rec.create_time.ToDatetime(tzinfo=UTC) == now
