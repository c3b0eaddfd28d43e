"""The event stream over a real socket (uvicorn): subscribe, cause events, read them decoded."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio
from fastapi import FastAPI
from gateway_support import ADMIN, VENDOR, error, ontology_body, served
from labelops_testkit.waiting import eventually


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def base_url(gateway: FastAPI) -> AsyncIterator[str]:
    async with served(gateway) as url:
        yield url


class Sse:
    """Reads one SSE response: events (dicts of their fields) and comment lines."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.aiter_lines()
        self.comments: list[str] = []

    async def next_event(self, timeout: float = 20.0) -> dict[str, Any]:
        async def read() -> dict[str, Any]:
            fields: dict[str, Any] = {}
            async for line in self.lines:
                if line.startswith(":"):
                    self.comments.append(line[1:].strip())
                elif line == "":
                    if fields:
                        return fields
                else:
                    key, _, value = line.partition(": ")
                    fields[key] = value
            raise AssertionError("stream ended")

        return await asyncio.wait_for(read(), timeout)

    async def comment(self, timeout: float = 10.0) -> str:
        async def read() -> str:
            async for line in self.lines:
                if line.startswith(":"):
                    self.comments.append(line[1:].strip())
                    return self.comments[-1]
            raise AssertionError("stream ended")

        return await asyncio.wait_for(read(), timeout)


@contextlib.asynccontextmanager
async def stream(base_url: str, **params: Any) -> AsyncIterator[Sse]:
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=30) as http,
        http.stream("GET", "/v1/events/stream", params=params, headers=ADMIN) as response,
    ):
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        sse = Sse(response)
        # The first comment says the consumer is positioned: events from now on arrive.
        assert await sse.comment() == "subscribed"
        yield sse


async def create_and_publish(base_url: str, ontology_id: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, headers=ADMIN) as http:
        created = await http.post("/v1/ontologies", json=ontology_body(ontology_id))
        revision = created.json()["ontology"]["draft_revision"]
        published = await http.post(
            f"/v1/ontologies/{ontology_id}/versions",
            json={"expected_revision": revision, "version": "1.0.0", "notes": "first"},
        )
        assert published.status_code == 201, published.text


async def test_published_version_arrives_decoded_with_its_type(
    base_url: str, gateway: FastAPI, unique_name: str
) -> None:
    published_type = "labelops.ontology.v1.OntologyVersionPublished"
    async with stream(base_url, type=published_type) as sse:
        await create_and_publish(base_url, unique_name)
        event = await sse.next_event()
        # The type filter left out OntologyCreated, which came first.
        assert event["event"] == published_type
        data = json.loads(event["data"])
        assert data["event_id"] == event["id"]
        assert data["type"] == published_type
        # (The ontology service may prefix the tenant: tenants/<tenant>/ontologies/<id>.)
        assert data["stream_id"].endswith(f"ontologies/{unique_name}")
        assert data["tenant_id"] == "acme"
        assert data["actor"] == {"kind": "ACTOR_KIND_USER", "id": "lead"}
        payload = data["payload"]
        assert payload["ontology_id"] == unique_name and payload["version"] == "1.0.0"
        assert [c["id"] for c in payload["definition"]["classes"]] == ["cat", "dog"]
        assert "traceparent" not in data and data["kafka"]["topic"].endswith("ontology.events.v1")
        # Idle now: heartbeats keep the connection alive.
        assert await sse.comment() == "heartbeat"
        assert len(gateway.state.streams) == 1

    # The client went away: the stream's consumer is stopped and forgotten.
    await eventually(lambda: asyncio.sleep(0, len(gateway.state.streams) == 0), timeout=10)

    # From the earliest offsets, the same event is there for a late subscriber.
    async with stream(base_url, type=published_type, **{"from": "earliest"}) as sse:
        seen = set()
        while event["id"] not in seen:
            seen.add((await sse.next_event())["id"])


async def test_every_event_of_a_project_creation_arrives_in_order(
    base_url: str, unique_name: str
) -> None:
    async with stream(base_url) as sse:
        await create_and_publish(base_url, unique_name)
        types = [(await sse.next_event())["event"] for _ in range(2)]
        assert types == [
            "labelops.ontology.v1.OntologyCreated",
            "labelops.ontology.v1.OntologyVersionPublished",
        ]
        async with httpx.AsyncClient(base_url=base_url, headers=ADMIN) as http:

            async def create() -> bool:
                r = await http.post(
                    "/v1/projects",
                    json={
                        "project_id": unique_name,
                        "ontology_id": unique_name,
                        "ontology_version": "1.0.0",
                    },
                )
                return r.status_code == 201

            await eventually(create)
        while True:
            event = await sse.next_event()
            if event["event"] == "labelops.routing.v1.ProjectCreated":
                break
        assert json.loads(event["data"])["payload"]["project"]["project_id"] == unique_name


async def test_stream_refuses_missing_and_vendor_credentials(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as http:
        anonymous = await http.get("/v1/events/stream")
        assert anonymous.status_code == 401
        assert error(anonymous)["reason"] == "CREDENTIALS_MISSING"
        vendor = await http.get("/v1/events/stream", headers=VENDOR)
        assert vendor.status_code == 403
        assert error(vendor)["reason"] == "PERMISSION_DENIED_BY_ROLE"
