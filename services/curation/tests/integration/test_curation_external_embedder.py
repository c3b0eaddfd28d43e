"""An external embedding server configured through the environment, inside the running service.

The model server here is a small HTTP server speaking the protocol of adapters/embedders/
external.py. It reads nothing but the request: an image's "scene" comes from its URI, a query's
from its words, so queries and images share one space the way a CLIP server's do. Items with
remote URIs (which the service cannot read) still get embedded: the server fetches URIs itself.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
import pytest
import pytest_asyncio
from curation_support import API_KEY, PRINCIPAL, curation_settings, fails, register, stored
from labelops.curation.v1 import curation_pb2 as pb
from labelops.curation.v1 import curation_pb2_grpc
from labelops_curation.bootstrap import build_app
from labelops_curation.config import Settings
from labelops_grpckit import Authenticator, channel

SCENES = ("car", "cat", "beach", "forest")
DIM = 8


def scene_vector(text: str) -> list[float]:
    """One axis per scene named in ``text`` plus a small per-text component."""
    v = [1.0 if s in text else 0.0 for s in SCENES] + [0.0] * (DIM - len(SCENES))
    v[len(SCENES) + len(text) % (DIM - len(SCENES))] = 0.1
    return v


class ModelServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.inputs: list[dict[str, Any]] = []
        self.down = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/embed"


class _Handler(BaseHTTPRequestHandler):
    server: ModelServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.server.down or self.headers.get("Authorization") != "Bearer model-key":
            status, answer = (503 if self.server.down else 401), {"error": "no"}
        else:
            self.server.inputs.extend(body["inputs"])
            rows = [scene_vector(i.get("uri") or i.get("text") or "") for i in body["inputs"]]
            status, answer = 200, {"model_version": "scene-clip@3", "embeddings": rows}
        raw = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


@pytest.fixture
def model_server() -> Iterator[ModelServer]:
    server = ModelServer()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest_asyncio.fixture(loop_scope="session")
async def clip_stub(
    model_server: ModelServer,
    monkeypatch: pytest.MonkeyPatch,
    pg_pool: Any,
    pg_schema: str,
    kafka_bootstrap: str,
    unique_name: str,
) -> Any:
    """The service with no built-ins and one external embedder ``clip``, configured the way an
    operator does it: LABELOPS_CURATION_EXTERNAL_EMBEDDERS as JSON."""
    monkeypatch.setenv(
        "LABELOPS_CURATION_EXTERNAL_EMBEDDERS",
        json.dumps(
            {
                "clip": {
                    "url": model_server.url,
                    "dim": DIM,
                    "modalities": ["image", "text"],
                    "api_key": "model-key",
                    "timeout_s": 5,
                }
            }
        ),
    )
    monkeypatch.setenv("LABELOPS_CURATION_BUILTIN_EMBEDDERS", "[]")
    # The fake model server listens on 127.0.0.1: allowed here, refused by default.
    monkeypatch.setenv("LABELOPS_CURATION_OUTBOUND_ALLOW", '["127.0.0.1/32"]')
    settings = curation_settings(pg_schema, unique_name, kafka_bootstrap)
    assert isinstance(settings, Settings) and list(settings.external_embedders) == ["clip"]
    assert settings.outbound_allow == ["127.0.0.1/32"]
    auth = Authenticator({API_KEY: PRINCIPAL})
    async with (
        build_app(settings, pool=pg_pool, authenticator=auth) as app,
        channel(app.target, api_key=API_KEY) as ch,
    ):
        yield curation_pb2_grpc.CurationServiceStub(ch)


def _images(n_per_scene: int, prefix: str = "img") -> list[pb.ItemSpec]:
    return [
        pb.ItemSpec(
            external_id=f"{prefix}-{scene}-{k}",
            uri=f"s3://photos/{scene}/{prefix}-{k}.jpg",
            modality=pb.MODALITY_IMAGE,
        )
        for scene in SCENES
        for k in range(n_per_scene)
    ]


async def test_remote_items_are_embedded_by_the_server_and_searchable_by_text(
    clip_stub, model_server: ModelServer
) -> None:
    await clip_stub.CreateDataset(pb.CreateDatasetRequest(dataset_id="photos", embedders=["clip"]))
    imp = await register(clip_stub, "photos", _images(3))
    assert imp.items_registered == 12 and imp.vectors_written == 12
    sent = [i for i in model_server.inputs if i["modality"] == "image"]
    assert sorted(i["uri"] for i in sent) == sorted(s.uri for s in _images(3))
    assert all(i.get("content_b64") is None for i in sent)  # the server fetches URIs itself

    res = await clip_stub.SearchText(
        pb.SearchTextRequest(dataset_id="photos", query="a cat on a sofa", limit=3)
    )
    assert res.vector_space == "clip"
    assert [r.item.uri.split("/")[3] for r in res.results] == ["cat"] * 3
    assert model_server.inputs[-1] == {
        "id": "query-0",
        "modality": "text",
        "text": "a cat on a sofa",
    }

    dup = await clip_stub.FindDuplicates(
        pb.FindDuplicatesRequest(dataset_id="photos", threshold=0.95)
    )
    assert dup.vector_space == "clip"
    assert sorted(len(g.item_ids) for g in dup.groups) == [3, 3, 3, 3]


async def test_server_down_fails_the_batch_and_stores_nothing(
    clip_stub, model_server: ModelServer, pg_pool: Any, pg_schema: str
) -> None:
    await clip_stub.CreateDataset(pb.CreateDatasetRequest(dataset_id="photos", embedders=["clip"]))
    before = await stored(pg_pool, pg_schema)
    model_server.down = True
    await fails(
        register(clip_stub, "photos", _images(2, "late")),
        grpc.StatusCode.UNAVAILABLE,
        "EMBEDDER_UNAVAILABLE",
    )
    assert await stored(pg_pool, pg_schema) == before
    model_server.down = False
    imp = await register(clip_stub, "photos", _images(2, "late"))  # the retry lands
    assert imp.items_registered == 8 and imp.vectors_written == 8
