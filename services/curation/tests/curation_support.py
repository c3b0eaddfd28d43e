"""Helpers of the curation service tests (fixtures live in conftest.py)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from labelops.curation.v1 import curation_pb2 as pb
from labelops.curation.v1 import curation_pb2_grpc
from labelops_curation.config import Settings
from labelops_testkit.grpc import fails, serving
from labelops_testkit.kafka import wait_for_envelopes

__all__ = [
    "API_KEY",
    "CLIENT_MAX_BYTES",
    "PRINCIPAL",
    "curation_settings",
    "fails",
    "register",
    "serving",
    "stored",
    "vector_items",
    "wait_for_envelopes",
]

API_KEY = "curation-test-key-0123456789"
PRINCIPAL = {"subject": "carol", "tenant_id": "acme", "roles": ["admin"]}
CLIENT_MAX_BYTES = 64 * 1024 * 1024
CURATION = "labelops.curation.v1.CurationService"

_TABLES = ("events", "requests", "datasets", "items", "vectors")


async def stored(pool: Any, schema: str) -> dict[str, int]:
    """Row counts of the tables that hold curation data."""
    return {t: await pool.fetchval(f'SELECT count(*) FROM "{schema}".{t}') for t in _TABLES}


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def vector_items(
    vectors: np.ndarray, *, prefix: str = "it", start: int = 0, **fields: Any
) -> list[pb.ItemSpec]:
    """Image item specs with caller-supplied vectors and distinct s3 URIs."""
    return [
        pb.ItemSpec(
            external_id=f"{prefix}-{start + k}",
            uri=f"s3://bucket/{prefix}/{start + k}.jpg",
            modality=pb.MODALITY_IMAGE,
            embedding=v.tolist(),
            **fields,
        )
        for k, v in enumerate(vectors)
    ]


async def register(
    stub: curation_pb2_grpc.CurationServiceStub,
    dataset_id: str,
    items: Sequence[pb.ItemSpec],
    *,
    batch: int = 500,
    import_id: str = "",
) -> pb.Import:
    """Register ``items`` in messages of ``batch``; returns the import's final counts."""

    def messages() -> Iterable[pb.RegisterItemsRequest]:
        for k in range(0, max(len(items), 1), batch):
            yield pb.RegisterItemsRequest(
                dataset_id=dataset_id if k == 0 else "",
                import_id=import_id,
                items=items[k : k + batch],
            )

    resp = await stub.RegisterItems(messages())
    return getattr(resp, "import")


def curation_settings(pg_schema: str, service: str, kafka_bootstrap: str, **over: Any) -> Settings:
    return Settings(
        db_schema=pg_schema,
        service_name=service,
        kafka_bootstrap=kafka_bootstrap,
        host="127.0.0.1",
        port=0,
        grace_period_s=1.0,
        qdrant_path=":memory:",
        **over,
    )
