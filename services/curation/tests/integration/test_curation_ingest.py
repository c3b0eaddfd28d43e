"""Ingestion over the real gRPC stream: batches committed, idempotent by external id, exact
duplicates by checksum, progress by import id, paging and filters, events on Kafka."""

from __future__ import annotations

import grpc
import numpy as np
from curation_support import (
    fails,
    register,
    sha256,
    stored,
    vector_items,
    wait_for_envelopes,
)
from labelops.curation.v1 import curation_pb2 as pb
from labelops.curation.v1 import events_pb2

DIM = 16


def _vectors(n: int, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


async def _dataset(stub, dataset_id: str = "street", **kw) -> pb.Dataset:
    resp = await stub.CreateDataset(
        pb.CreateDatasetRequest(dataset_id=dataset_id, custom_vector_dim=DIM, **kw)
    )
    return resp.dataset


async def test_register_commits_batches_and_reports_progress(
    curation_stub, curation_app, pg_pool, pg_schema, kafka_bootstrap, unique_name
) -> None:
    await _dataset(curation_stub)
    items = vector_items(_vectors(1200), size_bytes=10, width=64, height=48)
    imp = await register(curation_stub, "street", items, batch=500, import_id="imp-1")
    assert imp.state == pb.IMPORT_STATE_SUCCEEDED
    assert (imp.items_received, imp.items_registered, imp.messages_committed) == (1200, 1200, 3)
    assert imp.vectors_written == 1200
    progress = getattr(
        await curation_stub.GetImport(pb.GetImportRequest(import_id="imp-1")), "import"
    )
    assert progress.items_registered == 1200 and progress.state == pb.IMPORT_STATE_SUCCEEDED

    ds = (await curation_stub.GetDataset(pb.GetDatasetRequest(dataset_id="street"))).dataset
    assert (ds.counts.total, ds.counts.pending) == (1200, 1200)
    assert list(ds.vector_spaces) == ["custom"]

    # Every vector reached Qdrant before RegisterItems answered.
    assert await curation_app.parts.index.count("acme", "street", "custom") == 1200

    # Re-sending the whole import writes nothing.
    before = await stored(pg_pool, pg_schema)
    again = await register(curation_stub, "street", items, batch=700)
    assert (again.items_registered, again.items_already_registered) == (0, 1200)
    assert await stored(pg_pool, pg_schema) == before

    # Events on the service's topic, keyed by dataset: 1 DatasetCreated + 1200 registrations +
    # 1200 vectors.
    envs = await wait_for_envelopes(kafka_bootstrap, f"labelops.{unique_name}.events.v1", 2401)
    types = [e.type for e in envs]
    assert types.count("labelops.curation.v1.ItemRegistered") == 1200
    assert types.count("labelops.curation.v1.ItemEmbedded") == 1200
    assert {e.stream_id for e in envs} == {"datasets/street"}
    reg = events_pb2.ItemRegistered.FromString(
        next(e for e in envs if e.type.endswith("ItemRegistered")).payload
    )
    assert reg.external_id == "it-0" and reg.import_id == "imp-1" and reg.width == 64


async def test_item_ids_are_stable_and_lookups_work(curation_stub) -> None:
    await _dataset(curation_stub)
    await register(curation_stub, "street", vector_items(_vectors(3)))
    by_ext = (
        await curation_stub.GetItem(pb.GetItemRequest(dataset_id="street", item_id="external:it-1"))
    ).item
    by_id = (
        await curation_stub.GetItem(pb.GetItemRequest(dataset_id="street", item_id=by_ext.item_id))
    ).item
    assert by_id == by_ext
    assert by_id.uri == "s3://bucket/it/1.jpg" and by_id.state == pb.CURATION_STATE_PENDING
    assert list(by_id.vector_spaces) == ["custom"]
    await fails(
        curation_stub.GetItem(
            pb.GetItemRequest(dataset_id="street", item_id="00000000-0000-0000-0000-000000000000")
        ),
        grpc.StatusCode.NOT_FOUND,
        "ITEM_NOT_FOUND",
    )


async def test_exact_duplicates_by_checksum_are_registered_and_excluded(
    curation_stub, tmp_path
) -> None:
    await _dataset(curation_stub, auto_include=True)
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("the same bytes")
    b.write_text("the same bytes")
    specs = [
        pb.ItemSpec(external_id="a", uri=a.as_uri(), modality=pb.MODALITY_TEXT),
        # Same content, given checksum: duplicate of a (first registered wins).
        pb.ItemSpec(
            external_id="b",
            uri=b.as_uri(),
            modality=pb.MODALITY_TEXT,
            checksum=sha256(b"the same bytes"),
        ),
        pb.ItemSpec(
            external_id="c",
            uri="s3://bucket/c.txt",
            modality=pb.MODALITY_TEXT,
            checksum=sha256(b"other"),
        ),
    ]
    imp = await register(curation_stub, "street", specs)
    assert (imp.items_registered, imp.exact_duplicates) == (3, 1)
    items = {
        i.external_id: i
        for i in (await curation_stub.ListItems(pb.ListItemsRequest(dataset_id="street"))).items
    }
    assert items["a"].checksum == sha256(b"the same bytes")  # computed from the file
    assert items["b"].state == pb.CURATION_STATE_EXCLUDED
    assert items["b"].reason == pb.CURATION_REASON_DUPLICATE
    assert items["b"].duplicate_of == items["a"].item_id
    assert items["a"].state == items["c"].state == pb.CURATION_STATE_INCLUDED
    assert items["a"].reason == pb.CURATION_REASON_AUTO
    # A later import of the same bytes is a duplicate of the first item too.
    imp2 = await register(
        curation_stub,
        "street",
        [
            pb.ItemSpec(
                external_id="d",
                uri="s3://bucket/d.txt",
                modality=pb.MODALITY_TEXT,
                checksum=sha256(b"the same bytes"),
            )
        ],
    )
    assert imp2.exact_duplicates == 1
    d = (
        await curation_stub.GetItem(pb.GetItemRequest(dataset_id="street", item_id="external:d"))
    ).item
    assert d.duplicate_of == items["a"].item_id
    ds = (await curation_stub.GetDataset(pb.GetDatasetRequest(dataset_id="street"))).dataset
    assert (ds.counts.total, ds.counts.included, ds.counts.excluded) == (4, 2, 2)


async def test_list_items_pages_and_filters(curation_stub) -> None:
    await _dataset(curation_stub)
    specs = vector_items(_vectors(25))
    for k, s in enumerate(specs):
        s.metadata["camera"] = "front" if k % 2 == 0 else "rear"
    await register(curation_stub, "street", specs, batch=10)
    seen: list[str] = []
    token = ""
    while True:
        page = await curation_stub.ListItems(
            pb.ListItemsRequest(
                dataset_id="street", page_size=4, page_token=token, metadata={"camera": "front"}
            )
        )
        assert page.total_size == 13
        seen += [i.external_id for i in page.items]
        token = page.next_page_token
        if not token:
            break
    assert seen == [f"it-{k}" for k in range(0, 25, 2)]
    # A token is bound to its filters.
    first = await curation_stub.ListItems(pb.ListItemsRequest(dataset_id="street", page_size=2))
    _, fields = await fails(
        curation_stub.ListItems(
            pb.ListItemsRequest(
                dataset_id="street",
                page_size=2,
                page_token=first.next_page_token,
                states=[pb.CURATION_STATE_INCLUDED],
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert fields == ["page_token"]
