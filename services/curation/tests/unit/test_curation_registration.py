"""RegisterItems decisions: given the registered items and the earliest item per checksum, when
a message is registered → its events, states, counters and vectors (no Postgres, no Kafka)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from labelops.curation.v1 import curation_pb2 as pb
from labelops.curation.v1 import events_pb2
from labelops_core.errors import InvalidArgument
from labelops_curation.domain.embedding import EmbedInput
from labelops_curation.domain.items import DatasetPolicy, item_id_for
from labelops_curation.domain.registration import (
    Content,
    ExistingItem,
    check_re_registrations,
    check_specs,
    custom_vectors,
    embedding_inputs,
    new_checksums,
    register,
)

SHA_A = "sha256:" + "a" * 64
SHA_B = "sha256:" + "b" * 64


def policy(*, auto_include: bool = False, dim: int = 0) -> DatasetPolicy:
    return DatasetPolicy("street", ("image-phash",), dim, auto_include, 0.95)


def spec(n: int, checksum: str = "", **fields: object) -> pb.ItemSpec:
    return pb.ItemSpec(
        external_id=f"it-{n}",
        uri=f"s3://bucket/{n}.jpg",
        modality=pb.MODALITY_IMAGE,
        checksum=checksum,
        **fields,  # type: ignore[arg-type]
    )


def iid(n: int) -> str:
    return item_id_for("street", f"it-{n}")


def types(events: Sequence[object]) -> list[str]:
    return [type(e).__name__ for e in events]


class FakeEmbedder:
    name = "image-phash"
    model_version = "v1"
    dim = 2
    modalities = frozenset({"image"})

    def __init__(self, needs_content: bool = True) -> None:
        self.needs_content = needs_content

    async def embed(self, inputs: Sequence[EmbedInput]) -> np.ndarray:  # pragma: no cover
        return np.zeros((len(inputs), self.dim), np.float32)


# --- checks ------------------------------------------------------------------------------------


def test_a_bad_message_is_refused_with_its_position_in_the_import() -> None:
    specs = [spec(1), pb.ItemSpec(external_id="it-2", uri="ftp://x", modality=pb.MODALITY_IMAGE)]
    with pytest.raises(InvalidArgument) as info:
        check_specs(specs, policy(), 1000)
    assert [v.field for v in info.value.violations] == ["items[1001].uri"]
    assert info.value.metadata == {"first_item": "1000", "items_in_message": "2"}


def test_registering_the_same_item_again_is_fine_but_other_content_is_not() -> None:
    existing = {
        "it-1": ExistingItem(iid(1), "it-1", "s3://bucket/1.jpg", pb.MODALITY_IMAGE, SHA_A),
        "it-2": ExistingItem(iid(2), "it-2", "s3://bucket/2.jpg", pb.MODALITY_IMAGE, SHA_A),
        "it-3": ExistingItem(iid(3), "it-3", "s3://bucket/old.jpg", pb.MODALITY_IMAGE, ""),
    }
    # it-1: same; it-2: read content has another checksum; it-3: another URI; it-4: new
    specs = [spec(1, SHA_A), spec(2), spec(3), spec(4)]
    with pytest.raises(InvalidArgument) as info:
        check_re_registrations(specs, {1: Content(b"x", checksum=SHA_B)}, existing, 10)
    assert [v.field for v in info.value.violations] == [
        "items[11].external_id",
        "items[12].external_id",
    ]
    check_re_registrations(specs[:1], {}, existing, 0)


def test_checksums_to_look_up_are_those_of_the_new_items_read_or_given() -> None:
    specs = [spec(1, SHA_B), spec(2), spec(3, SHA_B), spec(4, SHA_A)]
    assert new_checksums(specs, {1: Content(b"x", checksum=SHA_A)}, [0, 1, 2]) == [SHA_A, SHA_B]


# --- the registration --------------------------------------------------------------------------


def test_new_items_are_pending_and_counted() -> None:
    batch = register(policy(), "imp-1", [spec(1), spec(2)], {}, [0, 1], {}, {})
    assert types(batch.events) == ["ItemRegistered", "ItemRegistered"]
    assert [e.item_id for e in batch.registered] == [iid(1), iid(2)]
    assert {e.import_id for e in batch.registered} == {"imp-1"}
    assert batch.states == [(pb.CURATION_STATE_PENDING, 0, "")] * 2
    assert batch.counts == {
        0: 2,
        pb.CURATION_STATE_EXCLUDED: 0,
        pb.CURATION_STATE_INCLUDED: 0,
        pb.CURATION_STATE_PENDING: 2,
    }


def test_an_exact_duplicate_is_excluded_as_a_duplicate_of_the_earliest_item() -> None:
    earlier = iid(99)
    specs = [spec(1, SHA_A), spec(2, SHA_B), spec(3, SHA_B)]
    batch = register(policy(auto_include=True), "imp", specs, {}, [0, 1, 2], {SHA_A: earlier}, {})
    assert batch.duplicates == [(iid(1), earlier), (iid(3), iid(2))]
    assert [e.exact_duplicate_of for e in batch.registered] == [earlier, "", iid(2)]
    assert batch.states == [
        (pb.CURATION_STATE_EXCLUDED, pb.CURATION_REASON_DUPLICATE, earlier),
        (pb.CURATION_STATE_INCLUDED, pb.CURATION_REASON_AUTO, ""),
        (pb.CURATION_STATE_EXCLUDED, pb.CURATION_REASON_DUPLICATE, iid(2)),
    ]
    excluded, included = batch.events[3:]
    assert excluded == events_pb2.ItemsCurated(
        dataset_id="street",
        decision=pb.DECISION_EXCLUDE,
        reason=pb.CURATION_REASON_DUPLICATE,
        note="same checksum as an earlier item",
        item_ids=[iid(1), iid(3)],
        duplicate_of=[earlier, iid(2)],
    )
    assert (included.decision, list(included.item_ids)) == (pb.DECISION_INCLUDE, [iid(2)])
    assert batch.counts[pb.CURATION_STATE_PENDING] == 0


def test_what_was_read_completes_the_registration() -> None:
    content = Content(b"img", checksum=SHA_A, size_bytes=3, width=4, height=5, perceptual_hash="f")
    (e,) = register(policy(), "imp", [spec(1, width=8, height=6)], {0: content}, [0], {}, {}).events
    assert isinstance(e, events_pb2.ItemRegistered)
    assert (e.checksum, e.size_bytes, e.width, e.height, e.perceptual_hash) == (SHA_A, 3, 8, 6, "f")


def test_only_new_items_get_vectors_and_embedded_events() -> None:
    vecs = np.array([[1, 0], [0, 1], [0.6, 0.8]], np.float32)
    vectors = {"custom": ("caller-supplied", [0, 1, 2], vecs)}
    # item 1 was registered by a concurrent import meanwhile: not in todo
    batch = register(policy(), "imp", [spec(0), spec(1), spec(2)], {}, [0, 2], {}, vectors)
    assert types(batch.events) == ["ItemRegistered"] * 2 + ["ItemEmbedded"] * 2
    model_version, item_ids, rows = batch.vectors["custom"]
    assert (model_version, item_ids) == ("caller-supplied", [iid(0), iid(2)])
    assert np.array_equal(rows, vecs[[0, 2]])
    assert batch.vectors_written == 2
    assert batch.events[3].vector == pytest.approx([0.6, 0.8])


def test_nothing_new_registers_nothing() -> None:
    vectors = {"custom": ("caller-supplied", [0], np.ones((1, 2), np.float32))}
    batch = register(policy(), "imp", [spec(0)], {}, [], {}, vectors)
    assert (batch.events, batch.vectors_written) == ([], 0)


# --- what is embedded --------------------------------------------------------------------------


def test_caller_supplied_vectors_are_normalized() -> None:
    specs = [spec(0, embedding=[3.0, 4.0]), spec(1), spec(2, embedding=[0.0, 2.0])]
    ((space, (version, idx, rows)),) = custom_vectors(specs, [0, 1, 2]).items()
    assert (space, version, idx) == ("custom", "caller-supplied", [0, 2])
    assert np.allclose(rows, [[0.6, 0.8], [0.0, 1.0]])
    assert custom_vectors(specs, [1]) == {}


def test_an_embedder_gets_the_items_of_its_modalities_it_can_read() -> None:
    text = pb.ItemSpec(external_id="t", uri="s3://b/t.txt", modality=pb.MODALITY_TEXT, text="hi")
    specs = [spec(0), spec(1, metadata={"k": "v"}), text]
    contents = {1: Content(b"img", checksum=SHA_A)}
    idx, inputs = embedding_inputs("street", FakeEmbedder(), specs, [0, 1, 2], contents)
    assert idx == [1]
    assert inputs == [EmbedInput(iid(1), "image", "s3://bucket/1.jpg", b"img", None, {"k": "v"})]
    # an embedder that fetches URIs itself also gets the unread ones
    idx, inputs = embedding_inputs("street", FakeEmbedder(False), specs, [0, 1, 2], contents)
    assert idx == [0, 1] and inputs[0].content is None
