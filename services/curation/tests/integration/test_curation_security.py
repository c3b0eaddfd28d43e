"""Curation as an attacker would try it: another tenant against acme's dataset and import
(NOT_FOUND / empty, nothing written), vendor and model keys, hostile strings, outbound calls
to loopback / link-local / metadata / private addresses (refused, a canary never called) and a
symlink out of a file root (refused, nothing of the target revealed)."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import pytest
import pytest_asyncio
from curation_support import curation_settings, fails, register, serving, stored
from labelops.curation.v1 import curation_pb2 as pb
from labelops.curation.v1 import curation_pb2_grpc
from labelops_core.netguard import OutboundPolicy
from labelops_curation.adapters.embedders.external import HttpEmbedder
from labelops_curation.bootstrap import App, build_app
from labelops_grpckit import Authenticator, channel, error_details

KEYS: dict[str, dict[str, Any]] = {
    "acme-admin-0123456789": {"subject": "carol", "tenant_id": "acme", "roles": ["admin"]},
    "beta-admin-0123456789": {"subject": "bob", "tenant_id": "beta", "roles": ["admin"]},
    "acme-vendor-012345678": {
        "subject": "v1",
        "tenant_id": "acme",
        "kind": "vendor",
        "vendor_id": "v1",
        "roles": ["admin"],
    },
    "acme-model-0123456789": {"subject": "sam", "tenant_id": "acme", "kind": "model"},
}
Stub = curation_pb2_grpc.CurationServiceStub
DIM = 4


class Canary(ThreadingHTTPServer):
    """Answers every request like an embedding server and counts it: it must never be hit."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _CanaryHandler)
        self.hits = 0

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _CanaryHandler(BaseHTTPRequestHandler):
    server: Canary

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        self.server.hits += 1
        n = 0
        if self.command == "POST":
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            n = len(body.get("inputs", []))
        raw = json.dumps({"embeddings": [[1.0] * DIM] * n, "secret": "canary-body"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    do_GET = _answer
    do_POST = _answer


@pytest.fixture
def canary() -> Iterator[Canary]:
    server = Canary()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


async def _app(
    pg_pool: Any, pg_schema: str, kafka_bootstrap: str, unique_name: str, **kw: Any
) -> Any:
    embedders = kw.pop("embedders", None)
    settings = curation_settings(pg_schema, unique_name, kafka_bootstrap, **kw)
    return build_app(settings, pool=pg_pool, authenticator=Authenticator(KEYS), embedders=embedders)


@pytest_asyncio.fixture(loop_scope="session")
async def app(
    pg_pool: Any, pg_schema: str, kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> AsyncIterator[App]:
    root = tmp_path / "root"
    root.mkdir()
    ctx = await _app(
        pg_pool, pg_schema, kafka_bootstrap, unique_name, file_roots=[str(root)], embedders={}
    )
    async with ctx as app:
        yield app


@pytest_asyncio.fixture(loop_scope="session")
async def stubs(app: App) -> AsyncIterator[dict[str, Stub]]:
    channels = {k: channel(app.target, api_key=k) for k in KEYS}
    opened = {k: await c.__aenter__() for k, c in channels.items()}
    try:
        yield {k.rsplit("-", 1)[0]: Stub(ch) for k, ch in opened.items()}
    finally:
        for c in channels.values():
            await c.__aexit__(None, None, None)


def _items(n: int, prefix: str = "it") -> list[pb.ItemSpec]:
    return [
        pb.ItemSpec(
            external_id=f"{prefix}-{k}",
            uri=f"s3://bucket/{prefix}/{k}.jpg",
            modality=pb.MODALITY_IMAGE,
            embedding=[1.0, float(k + 1), 0.0, 0.5],
        )
        for k in range(n)
    ]


async def _seed(acme: Stub) -> pb.Import:
    await acme.CreateDataset(pb.CreateDatasetRequest(dataset_id="street", custom_vector_dim=DIM))
    return await register(acme, "street", _items(3), import_id="imp-1")


async def test_another_tenant_cannot_see_or_touch_a_dataset(
    app: App, stubs: dict[str, Stub], pg_pool: Any, pg_schema: str
) -> None:
    acme, beta = stubs["acme-admin"], stubs["beta-admin"]
    imp = await _seed(acme)
    item_id = (await acme.ListItems(pb.ListItemsRequest(dataset_id="street"))).items[0].item_id
    rows = await stored(pg_pool, pg_schema)
    calls = [
        beta.GetDataset(pb.GetDatasetRequest(dataset_id="street")),
        beta.GetImport(pb.GetImportRequest(import_id=imp.import_id)),
        beta.GetItem(pb.GetItemRequest(dataset_id="street", item_id=item_id)),
        beta.ListItems(pb.ListItemsRequest(dataset_id="street")),
        beta.FindDuplicates(pb.FindDuplicatesRequest(dataset_id="street")),
        beta.SearchSimilar(pb.SearchSimilarRequest(dataset_id="street", item_id=item_id)),
        beta.SearchText(pb.SearchTextRequest(dataset_id="street", query="car")),
        beta.AnalyzeCoverage(pb.AnalyzeCoverageRequest(dataset_id="street")),
        beta.CurateItems(
            pb.CurateItemsRequest(
                dataset_id="street",
                item_ids=[item_id],
                decision=pb.DECISION_EXCLUDE,
                reason=pb.CURATION_REASON_MANUAL,
            )
        ),
        beta.RegisterItems(
            iter([pb.RegisterItemsRequest(dataset_id="street", items=_items(1, "beta"))])
        ),
        # beta reusing acme's import id gets nothing of acme's import.
        beta.RegisterItems(iter([pb.RegisterItemsRequest(dataset_id="street", import_id="imp-1")])),
    ]
    for call in calls:
        await fails(call, grpc.StatusCode.NOT_FOUND)
    listed = await beta.ListDatasets(pb.ListDatasetsRequest())
    assert list(listed.datasets) == []
    assert await stored(pg_pool, pg_schema) == rows
    mine = (await acme.GetDataset(pb.GetDatasetRequest(dataset_id="street"))).dataset
    assert (mine.counts.total, mine.counts.excluded) == (3, 0)
    assert await serving(app.target)


async def test_import_ids_are_per_tenant(stubs: dict[str, Stub]) -> None:
    acme, beta = stubs["acme-admin"], stubs["beta-admin"]
    await _seed(acme)
    await beta.CreateDataset(pb.CreateDatasetRequest(dataset_id="roads", custom_vector_dim=DIM))
    theirs = await register(beta, "roads", _items(2, "b"), import_id="imp-1")
    assert (theirs.dataset_id, theirs.items_registered) == ("roads", 2)
    mine = getattr(await acme.GetImport(pb.GetImportRequest(import_id="imp-1")), "import")
    assert (mine.dataset_id, mine.items_registered) == ("street", 3)


async def test_vendors_read_nothing_and_models_only_read(
    stubs: dict[str, Stub], pg_pool: Any, pg_schema: str
) -> None:
    await _seed(stubs["acme-admin"])
    rows = await stored(pg_pool, pg_schema)
    vendor, model = stubs["acme-vendor"], stubs["acme-model"]
    for call in (
        vendor.GetDataset(pb.GetDatasetRequest(dataset_id="street")),
        vendor.ListItems(pb.ListItemsRequest(dataset_id="street")),
        vendor.CreateDataset(pb.CreateDatasetRequest(dataset_id="v", custom_vector_dim=DIM)),
    ):
        await fails(call, grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED_BY_ROLE")
    got = await model.ListItems(pb.ListItemsRequest(dataset_id="street"))
    assert len(got.items) == 3
    dup = await model.FindDuplicates(pb.FindDuplicatesRequest(dataset_id="street"))
    assert dup.run_id
    for call in (
        model.CreateDataset(pb.CreateDatasetRequest(dataset_id="m", custom_vector_dim=DIM)),
        model.RegisterItems(iter([pb.RegisterItemsRequest(dataset_id="street")])),
        model.CurateItems(
            pb.CurateItemsRequest(
                dataset_id="street",
                item_ids=[got.items[0].item_id],
                decision=pb.DECISION_EXCLUDE,
                reason=pb.CURATION_REASON_MANUAL,
            )
        ),
        # A read that would change items needs items.write too.
        model.FindDuplicates(
            pb.FindDuplicatesRequest(dataset_id="street", exclude_duplicates=True)
        ),
    ):
        await fails(call, grpc.StatusCode.PERMISSION_DENIED)
    assert (await stored(pg_pool, pg_schema))["items"] == rows["items"]


@pytest.mark.parametrize(
    "request_",
    [
        pb.GetDatasetRequest(dataset_id="str\x00eet"),
        pb.GetDatasetRequest(dataset_id="s" * 100_000),
        pb.CreateDatasetRequest(dataset_id="x", display_name="nul\x00"),
        pb.GetImportRequest(import_id="\x01" * 8),
    ],
    ids=["nul-id", "huge-id", "nul-name", "control-import"],
)
async def test_hostile_strings_are_invalid_argument(
    request_: Any, app: App, stubs: dict[str, Stub], pg_pool: Any, pg_schema: str
) -> None:
    method = type(request_).__name__.removesuffix("Request")
    rows = await stored(pg_pool, pg_schema)
    _, fields = await fails(
        getattr(stubs["acme-admin"], method)(request_), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert fields
    assert await stored(pg_pool, pg_schema) == rows
    assert await serving(app.target)


async def test_a_symlink_out_of_a_file_root_is_refused(
    app: App, stubs: dict[str, Stub], tmp_path: Path, pg_pool: Any, pg_schema: str
) -> None:
    acme = stubs["acme-admin"]
    root = tmp_path / "root"
    secret = tmp_path / "outside.txt"
    secret.write_text("not yours")
    (root / "passwd").symlink_to("/etc/passwd")
    (root / "sub").mkdir()
    (root / "sub" / "up").symlink_to(secret)
    (root / "ok.txt").write_text("fine")
    (root / "inside").symlink_to(root / "ok.txt")  # a link that stays inside is fine
    await acme.CreateDataset(pb.CreateDatasetRequest(dataset_id="docs"))
    rows = await stored(pg_pool, pg_schema)
    for target in (root / "passwd", root / "sub" / "up", root / "sub" / ".." / "passwd"):
        spec = pb.ItemSpec(external_id="x", uri=target.as_uri(), modality=pb.MODALITY_TEXT)
        err, fields = await fails(
            acme.RegisterItems(iter([pb.RegisterItemsRequest(dataset_id="docs", items=[spec])])),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert fields == ["items[0].uri"]
        (violation,) = error_details(err).violations
        assert "outside the allowed file roots" in violation.description
        told = err.details() + violation.description
        assert "sha256" not in told and "root:" not in told and "not yours" not in told
    assert await stored(pg_pool, pg_schema) == rows
    ok = pb.ItemSpec(external_id="ok", uri=(root / "inside").as_uri(), modality=pb.MODALITY_TEXT)
    imp = await register(acme, "docs", [ok])
    assert imp.items_registered == 1
    item = (await acme.ListItems(pb.ListItemsRequest(dataset_id="docs"))).items[0]
    assert item.size_bytes == 4


FORBIDDEN = ["127.0.0.1", "[::1]", "169.254.169.254", "10.0.0.1"]


@pytest.mark.parametrize("host", FORBIDDEN)
def test_an_embedder_on_a_forbidden_address_is_refused_when_configured(host: str) -> None:
    with pytest.raises(ValueError, match="OUTBOUND_ALLOW"):
        HttpEmbedder(url=f"http://{host}:8080/embed", dim=DIM, modalities=["image"])
    # Allowed on purpose: fine.
    cidr = {"127.0.0.1": "127.0.0.1/32", "[::1]": "::1/128"}.get(host, host + "/32")
    HttpEmbedder(
        url=f"http://{host}:8080/embed",
        dim=DIM,
        modalities=["image"],
        outbound=OutboundPolicy.of([cidr]),
    )


async def test_outbound_calls_to_internal_addresses_never_leave(
    canary: Canary, pg_pool: Any, pg_schema: str, kafka_bootstrap: str, unique_name: str
) -> None:
    """No allow list: an embedder whose name resolves to loopback is refused before each call;
    an allowed embedder is never handed item URIs on internal addresses. The canary (a
    willing embedding server on 127.0.0.1) counts every request it gets: none."""
    sneaky = HttpEmbedder(  # a name, so only the per-call check can catch it
        url=f"http://localhost:{canary.port}/embed", dim=DIM, modalities=["image"], name="sneaky"
    )
    allowed = HttpEmbedder(  # allowed by name: its item URIs still face the address rules
        url=f"http://localhost:{canary.port}/embed",
        dim=DIM,
        modalities=["image"],
        name="clip",
        outbound=OutboundPolicy.of(["localhost"]),
        retries=0,
    )
    ctx = await _app(
        pg_pool,
        pg_schema,
        kafka_bootstrap,
        unique_name,
        embedders={"sneaky": sneaky, "clip": allowed},
    )
    async with ctx as app, channel(app.target, api_key="acme-admin-0123456789") as ch:
        stub = Stub(ch)
        await stub.CreateDataset(pb.CreateDatasetRequest(dataset_id="a", embedders=["sneaky"]))
        await stub.CreateDataset(pb.CreateDatasetRequest(dataset_id="b", embedders=["clip"]))
        spec = pb.ItemSpec(external_id="i", uri="s3://bucket/i.jpg", modality=pb.MODALITY_IMAGE)
        err, _ = await fails(
            stub.RegisterItems(iter([pb.RegisterItemsRequest(dataset_id="a", items=[spec])])),
            grpc.StatusCode.INVALID_ARGUMENT,
            "OUTBOUND_URL_NOT_ALLOWED",
        )
        assert "canary-body" not in err.details()
        for host in [*FORBIDDEN, f"127.0.0.1:{canary.port}", "metadata.google.internal"]:
            item = pb.ItemSpec(
                external_id="i", uri=f"http://{host}/latest/x.jpg", modality=pb.MODALITY_IMAGE
            )
            _, fields = await fails(
                stub.RegisterItems(iter([pb.RegisterItemsRequest(dataset_id="b", items=[item])])),
                grpc.StatusCode.INVALID_ARGUMENT,
            )
            assert fields == ["items[0].uri"], host
        assert await serving(app.target)
    assert canary.hits == 0
