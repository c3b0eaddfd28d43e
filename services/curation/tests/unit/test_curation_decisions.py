"""Datasets and include / exclude decisions: given a request (and the items' states)
→ the event, the changed items and counters, or the error a caller sees (no Postgres)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from labelops.curation.v1 import curation_pb2 as pb
from labelops.curation.v1 import events_pb2
from labelops_core.errors import FailedPrecondition, InvalidArgument, NotFound
from labelops_curation.domain.datasets import choose_space, dataset_created, dataset_from_event
from labelops_curation.domain.decisions import (
    IDS_PER_EVENT,
    ItemState,
    changed_items,
    check_curate_request,
    curated_events,
    state_deltas,
    state_of,
)
from labelops_curation.domain.items import DatasetPolicy

PENDING, INCLUDED, EXCLUDED = (
    pb.CURATION_STATE_PENDING,
    pb.CURATION_STATE_INCLUDED,
    pb.CURATION_STATE_EXCLUDED,
)
OFFERED = ("image-phash", "text-minilm-l6")


def ids(n: int) -> list[str]:
    return [str(uuid.UUID(int=i + 1)) for i in range(n)]


def fields(err: InvalidArgument) -> list[str]:
    return [v.field for v in err.violations]


def policy(*embedders: str) -> DatasetPolicy:
    return DatasetPolicy("street", tuple(embedders), 0, False, 0.95)


# --- datasets ----------------------------------------------------------------------------------


def test_create_dataset_decides_dataset_created_with_the_default_threshold() -> None:
    req = pb.CreateDatasetRequest(
        dataset_id="street", display_name="Street", embedders=["image-phash"], auto_include=True
    )
    created = dataset_created(req, OFFERED)
    assert created == events_pb2.DatasetCreated(
        dataset_id="street",
        display_name="Street",
        embedders=["image-phash"],
        auto_include=True,
        near_duplicate_threshold=0.95,
    )
    at = datetime(2026, 3, 1, tzinfo=UTC)
    dataset = dataset_from_event(created, at)
    assert (dataset.name, dataset.counts, dataset.create_time.ToDatetime(UTC)) == (
        "datasets/street",
        pb.ItemCounts(),
        at,
    )


def test_create_dataset_names_every_bad_field() -> None:
    req = pb.CreateDatasetRequest(
        dataset_id="street",
        display_name="x" * 201,
        embedders=["clip", "image-phash", "image-phash"],
        custom_vector_dim=9000,
        near_duplicate_threshold=1.5,
    )
    with pytest.raises(InvalidArgument) as info:
        dataset_created(req, OFFERED)
    assert fields(info.value) == [
        "display_name",
        "embedders[0]",
        "embedders[2]",
        "custom_vector_dim",
        "near_duplicate_threshold",
    ]
    assert "this deployment offers ['image-phash', 'text-minilm-l6']" in (
        info.value.violations[1].description
    )


def test_the_vector_space_is_the_first_embedder_with_vectors_then_custom() -> None:
    p = policy("text-minilm-l6", "image-phash")
    assert choose_space(p, ["image-phash", "text-minilm-l6"], "") == "text-minilm-l6"
    assert choose_space(p, ["custom", "image-phash"], "") == "image-phash"
    assert choose_space(p, ["custom"], "") == "custom"
    # a requested space of the dataset is taken even before it has vectors
    assert choose_space(p, [], "image-phash") == "image-phash"


def test_a_dataset_without_vectors_has_no_space_to_work_in() -> None:
    with pytest.raises(FailedPrecondition) as info:
        choose_space(policy("image-phash"), [], "")
    assert info.value.reason == "NO_VECTORS"


@pytest.mark.parametrize("requested", ["clip", "Image-Phash"])
def test_an_unknown_space_names_those_the_dataset_has(requested: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        choose_space(policy("image-phash"), ["custom"], requested, "space")
    assert fields(info.value) == ["space"]
    assert "['custom', 'image-phash']" in info.value.violations[0].description


# --- CurateItems -------------------------------------------------------------------------------


def test_curate_defaults_to_a_manual_reason() -> None:
    req = pb.CurateItemsRequest(dataset_id="street", decision=pb.DECISION_INCLUDE, item_ids=ids(2))
    assert check_curate_request(req) == pb.CURATION_REASON_MANUAL


def test_curate_refuses_a_reason_that_does_not_go_with_the_decision_and_bad_ids() -> None:
    req = pb.CurateItemsRequest(
        dataset_id="street",
        decision=pb.DECISION_INCLUDE,
        reason=pb.CURATION_REASON_DUPLICATE,
        item_ids=[ids(1)[0], "not-an-id"],
        note="n" * 2001,
    )
    with pytest.raises(InvalidArgument) as info:
        check_curate_request(req)
    assert fields(info.value) == ["reason", "note", "item_ids[1]"]
    assert "CURATION_REASON_DUPLICATE does not go with DECISION_INCLUDE" in (
        info.value.violations[0].description
    )


def test_curate_needs_a_decision_and_items() -> None:
    with pytest.raises(InvalidArgument) as info:
        check_curate_request(pb.CurateItemsRequest(dataset_id="street"))
    assert fields(info.value) == ["decision", "item_ids"]


def test_only_items_whose_state_or_reason_changes_are_changed() -> None:
    a, b, c = ids(3)
    current = {
        a: ItemState(a, INCLUDED, pb.CURATION_REASON_MANUAL, 1),
        b: ItemState(b, INCLUDED, pb.CURATION_REASON_AUTO, 2),
        c: ItemState(c, PENDING, 0, 3),
    }
    state = state_of(pb.DECISION_INCLUDE)
    assert state == INCLUDED
    assert changed_items("street", [c, a, b], current, state, pb.CURATION_REASON_MANUAL) == [c, b]


def test_curating_an_unknown_item_changes_nothing() -> None:
    a, b = ids(2)
    with pytest.raises(NotFound) as info:
        changed_items("street", [a, b], {a: ItemState(a, PENDING, 0, 1)}, EXCLUDED, 0)
    assert info.value.reason == "ITEM_NOT_FOUND"
    assert info.value.metadata == {"dataset_id": "street", "item_id": b}


def test_decisions_are_recorded_in_events_of_at_most_5000_ids() -> None:
    many = ids(IDS_PER_EVENT + 1)
    events = curated_events(
        "street",
        pb.DECISION_EXCLUDE,
        pb.CURATION_REASON_NEAR_DUPLICATE,
        "near",
        many,
        run_id="r1",
        duplicate_of=list(reversed(many)),
    )
    assert [len(e.item_ids) for e in events] == [IDS_PER_EVENT, 1]
    assert [len(e.duplicate_of) for e in events] == [IDS_PER_EVENT, 1]
    assert events[1].item_ids == many[-1:] and events[1].duplicate_of == many[:1]
    assert {(e.run_id, e.note) for e in events} == {("r1", "near")}
    assert curated_events("street", pb.DECISION_INCLUDE, 0, "", []) == []


def test_counters_move_from_the_old_states_to_the_new_one() -> None:
    a, b, c = ids(3)
    current = {
        a: ItemState(a, PENDING, 0, 1),
        b: ItemState(b, INCLUDED, pb.CURATION_REASON_AUTO, 2),
        c: ItemState(c, EXCLUDED, pb.CURATION_REASON_MANUAL, 3),
    }
    assert state_deltas([a, b, c], current, EXCLUDED) == {EXCLUDED: 2, PENDING: -1, INCLUDED: -1}
    assert state_deltas([c], current, EXCLUDED) == {EXCLUDED: 0}
