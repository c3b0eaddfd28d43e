"""Bad input over gRPC: the right status with field violations, nothing stored, still SERVING."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
from curation_support import CURATION, fails, register, serving, sha256, stored, vector_items
from labelops.curation.v1 import curation_pb2 as pb

DIM = 8
MIB = 1024 * 1024


@pytest.fixture
async def seeded(curation_stub, curation_app, pg_pool, pg_schema):
    """Dataset "docs" with one registered item; yields a checker that asserts nothing was
    stored since and the server still serves."""
    await curation_stub.CreateDataset(
        pb.CreateDatasetRequest(dataset_id="docs", custom_vector_dim=DIM)
    )
    await register(curation_stub, "docs", vector_items(np.eye(DIM, dtype=np.float32)[:1]))
    before = await stored(pg_pool, pg_schema)
    assert before["items"] == 1

    async def unchanged() -> None:
        assert await stored(pg_pool, pg_schema) == before
        assert await serving(curation_app.target, [CURATION])

    return unchanged


def _spec(**kw) -> pb.ItemSpec:
    base = {
        "external_id": "x",
        "uri": "s3://bucket/x.jpg",
        "modality": pb.MODALITY_IMAGE,
        "embedding": [1.0] + [0.0] * (DIM - 1),
    }
    base.update(kw)
    return pb.ItemSpec(**base)


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (_spec(uri="not a uri"), "items[1].uri"),
        (_spec(uri="bucket/x.jpg"), "items[1].uri"),
        (_spec(uri="ftp://host/x.jpg"), "items[1].uri"),
        (_spec(uri="s3:///x.jpg"), "items[1].uri"),
        (_spec(uri="file://otherhost/x.jpg"), "items[1].uri"),
        (_spec(uri="data:text/plain;base64,@@@"), "items[1].uri"),
        (_spec(checksum="sha256:XYZ"), "items[1].checksum"),
        (_spec(checksum="crc32:1234abcd"), "items[1].checksum"),
        (_spec(embedding=[1.0, 0.0, 0.0]), "items[1].embedding"),
        (_spec(embedding=[float("nan")] + [0.0] * (DIM - 1)), "items[1].embedding"),
        (_spec(embedding=[0.0] * DIM), "items[1].embedding"),
        (_spec(modality=pb.MODALITY_UNSPECIFIED), "items[1].modality"),
        (_spec(external_id=""), "items[1].external_id"),
        (_spec(width=-1, height=10), "items[1].width"),
    ],
)
async def test_invalid_item_is_invalid_argument_and_stores_nothing(
    curation_stub, seeded, spec, field
) -> None:
    good = _spec(external_id="fine", uri="s3://bucket/fine.jpg")
    _, fields = await fails(
        register(curation_stub, "docs", [good, spec]), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert field in fields, fields
    await seeded()


async def test_every_bad_item_of_a_message_is_reported(curation_stub, seeded) -> None:
    specs = [
        _spec(external_id="a", uri="nope"),
        _spec(external_id="b", checksum="md5:zz"),
        _spec(external_id="c", embedding=[1.0]),
        _spec(external_id="c"),
    ]
    _, fields = await fails(
        register(curation_stub, "docs", specs), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert {
        "items[0].uri",
        "items[1].checksum",
        "items[2].embedding",
        "items[3].external_id",
    } <= set(fields)
    await seeded()


async def test_violation_paths_count_from_the_start_of_the_stream(curation_stub, seeded) -> None:
    specs = [_spec(external_id=f"ok-{k}", uri=f"s3://b/{k}.jpg") for k in range(5)]
    specs.append(_spec(external_id="bad", uri="bad uri"))
    err, fields = await fails(
        register(curation_stub, "docs", specs, batch=5), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert fields == ["items[5].uri"]
    # The first message (5 valid items) was committed; the caller learns how far it got.
    from labelops_grpckit import error_details

    assert error_details(err).metadata["items_committed"] == "5"


async def test_checksum_that_does_not_match_the_file(curation_stub, seeded, tmp_path) -> None:
    f = tmp_path / "doc.txt"
    f.write_bytes(b"actual content")
    spec = pb.ItemSpec(
        external_id="doc",
        uri=f.as_uri(),
        modality=pb.MODALITY_TEXT,
        checksum=sha256(b"something else"),
    )
    _, fields = await fails(
        register(curation_stub, "docs", [spec]), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert fields == ["items[0].checksum"]
    missing = pb.ItemSpec(
        external_id="gone", uri=(tmp_path / "missing.txt").as_uri(), modality=pb.MODALITY_TEXT
    )
    _, fields = await fails(
        register(curation_stub, "docs", [missing]), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert fields == ["items[0].uri"]
    await seeded()


async def test_reregistering_an_external_id_with_other_content_is_refused(
    curation_stub, seeded
) -> None:
    changed = _spec(external_id="it-0", uri="s3://bucket/another.jpg")
    _, fields = await fails(
        register(curation_stub, "docs", [changed]), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert fields == ["items[0].external_id"]
    await seeded()


async def test_unknown_dataset_is_not_found(curation_stub, seeded) -> None:
    await fails(
        register(curation_stub, "nowhere", [_spec()]),
        grpc.StatusCode.NOT_FOUND,
        "DATASET_NOT_FOUND",
    )
    await fails(
        curation_stub.GetDataset(pb.GetDatasetRequest(dataset_id="nowhere")),
        grpc.StatusCode.NOT_FOUND,
    )
    await fails(
        curation_stub.FindDuplicates(pb.FindDuplicatesRequest(dataset_id="nowhere")),
        grpc.StatusCode.NOT_FOUND,
    )
    _, fields = await fails(
        register(curation_stub, "Bad_Id", [_spec()]), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert fields == ["dataset_id"]
    await seeded()


async def test_oversized_message_is_resource_exhausted(curation_stub, seeded) -> None:
    big = [_spec(external_id=f"m{k}", metadata={"blob": "x" * 2000}) for k in range(1000)]
    for s in big:  # ~17 MiB in one message: above the server's 16 MiB limit
        s.metadata.update({f"k{j}": "y" * 2000 for j in range(8)})
    await fails(
        register(curation_stub, "docs", big, batch=1000), grpc.StatusCode.RESOURCE_EXHAUSTED
    )
    await seeded()


async def test_bad_dataset_and_curation_requests(curation_stub, seeded) -> None:
    _, fields = await fails(
        curation_stub.CreateDataset(
            pb.CreateDatasetRequest(
                dataset_id="other",
                embedders=["no-such-model"],
                near_duplicate_threshold=1.5,
                custom_vector_dim=-1,
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert set(fields) == {"embedders[0]", "near_duplicate_threshold", "custom_vector_dim"}
    await fails(
        curation_stub.CreateDataset(pb.CreateDatasetRequest(dataset_id="docs")),
        grpc.StatusCode.ALREADY_EXISTS,
    )
    await fails(
        curation_stub.CurateItems(
            pb.CurateItemsRequest(
                dataset_id="docs",
                decision=pb.DECISION_EXCLUDE,
                item_ids=["00000000-0000-0000-0000-000000000001"],
            )
        ),
        grpc.StatusCode.NOT_FOUND,
        "ITEM_NOT_FOUND",
    )
    _, fields = await fails(
        curation_stub.CurateItems(
            pb.CurateItemsRequest(
                dataset_id="docs",
                decision=pb.DECISION_INCLUDE,
                reason=pb.CURATION_REASON_NEAR_DUPLICATE,
                item_ids=["not-a-uuid"],
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert set(fields) == {"reason", "item_ids[0]"}
    _, fields = await fails(
        curation_stub.FindDuplicates(pb.FindDuplicatesRequest(dataset_id="docs", threshold=2)),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert fields == ["threshold"]
    await seeded()
