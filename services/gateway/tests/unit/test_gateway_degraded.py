"""The gateway with nothing behind it (closed ports): what callers see when dependencies are
down, and the limits it enforces before any service is asked."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest_asyncio
from gateway_support import ADMIN, KEYS, VENDOR, error
from labelops_gateway import dashboard
from labelops_gateway.bootstrap import create_app
from labelops_gateway.config import SERVICES, Settings
from labelops_grpckit import Authenticator


def _closed_port() -> int:
    # Bound and closed again: nothing listens there for the test's duration.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest_asyncio.fixture(loop_scope="session")
async def client() -> AsyncIterator[httpx.AsyncClient]:
    dead = f"127.0.0.1:{_closed_port()}"
    settings = Settings(
        **{f"{s}_target": dead for s in SERVICES},
        kafka_bootstrap=dead,
        max_body_bytes=1024,
        request_timeout_s=5,
    )
    app = create_app(settings, authenticator=Authenticator(KEYS))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as c,
    ):
        yield c


async def test_a_service_down_is_503_without_its_address(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/projects", headers=ADMIN)
    assert response.status_code == 503
    err = error(response)
    assert err["code"] == "UNAVAILABLE" and err["reason"] == "BACKEND_UNAVAILABLE"
    assert err["metadata"] == {"service": "routing"}
    assert "127.0.0.1" not in response.text

    ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json() == {"ready": False, "services": dict.fromkeys(SERVICES, "UNREACHABLE")}
    assert (await client.get("/healthz")).status_code == 200


async def test_kafka_down_refuses_the_event_stream_with_503(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/events/stream", headers=ADMIN)
    assert response.status_code == 503
    assert error(response)["reason"] == "KAFKA_UNAVAILABLE"
    # Credentials are checked first: no Kafka connection for a caller who may not stream.
    assert (await client.get("/v1/events/stream", headers=VENDOR)).status_code == 403


async def test_oversized_body_is_413_before_any_service_is_asked(
    client: httpx.AsyncClient,
) -> None:
    big = {"ontology_id": "x", "description": "d" * 2048}
    response = await client.post("/v1/ontologies", json=big, headers=ADMIN)
    assert response.status_code == 413
    assert error(response)["reason"] == "BODY_TOO_LARGE"

    async def parts() -> AsyncIterator[bytes]:
        # No Content-Length: the limit is counted while reading.
        for part in (b'{"description": "', b"d" * 2048, b'"}'):
            yield part

    chunked = await client.post(
        "/v1/ontologies", content=parts(), headers={**ADMIN, "content-type": "application/json"}
    )
    assert chunked.status_code == 413


async def test_openapi_documents_bodies_replies_and_errors(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    create = doc["paths"]["/v1/ontologies"]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]
    assert body["title"] == "labelops.ontology.v1.CreateOntologyRequest"
    assert body["properties"]["definition"] == {
        "$ref": "#/components/schemas/labelops.ontology.v1.OntologyDefinition"
    }
    assert set(create["responses"]) == {"201", "default"}
    tasks = doc["paths"]["/v1/projects/{project_id}/tasks"]["get"]
    state = next(p for p in tasks["parameters"] if p["name"] == "state")
    assert doc["components"]["schemas"]["TaskState"]["enum"] == [
        "queued",
        "in_progress",
        "labeled",
        "canceled",
    ]
    assert state["schema"]["anyOf"][0]["items"] == {"$ref": "#/components/schemas/TaskState"}
    assert {"ApiKey", "Bearer"} <= set(doc["components"]["securitySchemes"])


async def test_dashboard_folder_served_at_dashboard_once_it_exists(tmp_path: Path) -> None:
    app = create_app(Settings(), authenticator=Authenticator(KEYS))
    assert not dashboard.mount(app, tmp_path / "missing")
    (tmp_path / "index.html").write_text("<h1>labelops</h1>")
    assert dashboard.mount(app, tmp_path)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as c:
        page = await c.get("/dashboard/")
    assert page.status_code == 200 and "labelops" in page.text
    # Static files are not API operations (the summary route they read is).
    assert not [p for p in app.openapi()["paths"] if p.startswith("/dashboard")]


async def test_cors_only_for_configured_origins() -> None:
    app = create_app(
        Settings(cors_origins=["https://tools.example"]), authenticator=Authenticator(KEYS)
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as c:
        allowed = await c.options(
            "/v1/projects",
            headers={
                "origin": "https://tools.example",
                "access-control-request-method": "GET",
                "access-control-request-headers": "x-api-key",
            },
        )
        other = await c.get("/healthz", headers={"origin": "https://evil.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://tools.example"
    assert "access-control-allow-origin" not in other.headers


async def test_the_image_healthcheck_asks_healthz_of_a_running_gateway() -> None:
    # `python -m labelops_gateway --health` (the Dockerfile's HEALTHCHECK): the process is
    # healthy while it answers, even with every backend down; unhealthy once it is gone.
    import asyncio
    from urllib.parse import urlparse

    from gateway_support import served
    from labelops_gateway.entrypoints.__main__ import healthy

    dead = f"127.0.0.1:{_closed_port()}"
    app = create_app(Settings(**{f"{s}_target": dead for s in SERVICES}, kafka_bootstrap=dead))
    async with served(app) as url:
        port = urlparse(url).port
        assert port is not None
        assert await asyncio.to_thread(healthy, port)
    assert not await asyncio.to_thread(healthy, port, 1.0)
