"""Who sees what on the event stream, against a real broker: events of two tenants (and of
none) and gold tasks published on a topic of the test's own, read through the gateway over a
real socket. No service runs: these are the gateway's own guarantees."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio
from gateway_support import ADMIN, KEYS, MANAGER, ML, OTHER, REVIEWER, VENDOR, error, served
from labelops.ontology.v1 import events_pb2 as oev
from labelops.qa.v1 import events_pb2 as qev
from labelops.routing.v1 import events_pb2 as rev
from labelops_bus import ensure_topics
from labelops_gateway.bootstrap import create_app
from labelops_gateway.config import SERVICES, Settings
from labelops_grpckit import Authenticator
from labelops_testkit.kafka import envelope, publish
from labelops_testkit.waiting import eventually

DEAD = "127.0.0.1:9"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def topic(kafka_bootstrap: str) -> str:
    import uuid

    name = f"gw-access-{uuid.uuid4().hex[:10]}"
    await ensure_topics(kafka_bootstrap, [name], 1)
    return name


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def base_url(kafka_bootstrap: str, topic: str) -> AsyncIterator[str]:
    settings = Settings(
        **{f"{s}_target": DEAD for s in SERVICES},
        kafka_bootstrap=kafka_bootstrap,
        event_topics=[topic],
        sse_heartbeat_s=0.5,
        sse_topic_refresh_s=0.5,
        sse_max_streams_per_principal=2,
    )
    app = create_app(settings, authenticator=Authenticator(KEYS))
    async with app.router.lifespan_context(app), served(app) as url:
        yield url


class Stream:
    def __init__(self, lines: AsyncIterator[str]) -> None:
        self.lines = lines

    async def events(self, n: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        """The next ``n`` events: ``{"event": type, "data": decoded JSON}``."""

        async def read() -> list[dict[str, Any]]:
            out: list[dict[str, Any]] = []
            fields: dict[str, str] = {}
            async for line in self.lines:
                if line.startswith(":"):
                    continue
                if line == "":
                    if fields:
                        out.append({"event": fields["event"], "data": json.loads(fields["data"])})
                        fields = {}
                        if len(out) == n:
                            return out
                    continue
                key, _, value = line.partition(": ")
                fields[key] = value
            raise AssertionError("stream ended")

        return await asyncio.wait_for(read(), timeout)


@contextlib.asynccontextmanager
async def stream(base_url: str, headers: dict[str, str]) -> AsyncIterator[Stream]:
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=30) as http,
        http.stream("GET", "/v1/events/stream", headers=headers) as response,
    ):
        assert response.status_code == 200, await response.aread()
        lines = response.aiter_lines()
        # The consumer is positioned: what is published from now on is delivered.
        assert await lines.__anext__() == ": subscribed"
        yield Stream(lines)


def _env(message: Any, stream_id: str, tenant_id: str) -> Any:
    env = envelope(message, stream_id)
    env.tenant_id = tenant_id
    return env


def _ontology(ontology_id: str) -> oev.OntologyCreated:
    return oev.OntologyCreated(ontology_id=ontology_id)


async def test_a_tenant_never_receives_another_tenants_events(
    base_url: str, kafka_bootstrap: str, topic: str
) -> None:
    async with stream(base_url, ADMIN) as acme, stream(base_url, OTHER) as globex:
        await publish(
            kafka_bootstrap,
            topic,
            [
                _env(_ontology("acme-1"), "ontologies/acme-1", "acme"),
                _env(_ontology("nobody"), "ontologies/nobody", ""),
                _env(_ontology("globex-1"), "ontologies/globex-1", "globex"),
                _env(_ontology("acme-2"), "ontologies/acme-2", "acme"),
            ],
        )
        seen_by_acme = await acme.events(2)
        seen_by_globex = await globex.events(1)
    assert [e["data"]["payload"]["ontology_id"] for e in seen_by_acme] == ["acme-1", "acme-2"]
    assert [e["data"]["payload"]["ontology_id"] for e in seen_by_globex] == ["globex-1"]
    assert {e["data"]["tenant_id"] for e in seen_by_globex} == {"globex"}


async def test_gold_is_stripped_for_callers_without_gold_read(
    base_url: str, kafka_bootstrap: str, topic: str
) -> None:
    gold = rev.TaskCreated(project_id="p", task_id="t-gold", item_id="i", gold=True)
    gold.gold_expected.item_id = "i"
    gold.gold_expected.labels.add(label_id="l", class_id="secret-answer")
    labeled = rev.LabelSubmitted(project_id="p", task_id="t-gold", gold=True, annotator_id="a")
    scored = qev.GoldScored(project_id="p", task_id="t-gold", expected_class="secret-answer")
    after = _ontology("sentinel")
    async with stream(base_url, ML) as ml, stream(base_url, MANAGER) as manager:
        await publish(
            kafka_bootstrap,
            topic,
            [
                _env(gold, "tasks/t-gold", "acme"),
                _env(labeled, "tasks/t-gold", "acme"),
                _env(scored, "quality/p", "acme"),
                _env(after, "ontologies/sentinel", "acme"),
            ],
        )
        # ml_engineer: events.read, no gold.read.
        for_ml = await ml.events(3)
        for_manager = await manager.events(4)
    assert [e["event"].rsplit(".", 1)[-1] for e in for_ml] == [
        "TaskCreated",
        "LabelSubmitted",
        "OntologyCreated",
    ]
    task, label = for_ml[0]["data"]["payload"], for_ml[1]["data"]["payload"]
    assert task["task_id"] == "t-gold" and "gold" not in task and "gold_expected" not in task
    assert "gold" not in label and label["annotator_id"] == "a"
    assert "secret-answer" not in json.dumps(for_ml)
    # A manager holds gold.read: everything, answers included.
    assert for_manager[0]["data"]["payload"]["gold"] is True
    assert "secret-answer" in json.dumps(for_manager[0])
    assert for_manager[2]["event"] == "labelops.qa.v1.GoldScored"


async def test_roles_without_events_read_are_refused(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as http:
        for headers in (VENDOR, REVIEWER):
            response = await http.get("/v1/events/stream", headers=headers)
            assert response.status_code == 403
            assert error(response)["reason"] == "PERMISSION_DENIED_BY_ROLE"


async def test_one_principal_cannot_take_every_stream_slot(base_url: str) -> None:
    async with stream(base_url, ML), stream(base_url, ML):
        async with httpx.AsyncClient(base_url=base_url) as http:
            third = await http.get("/v1/events/stream", headers=ML)
        assert third.status_code == 429
        assert error(third)["reason"] == "TOO_MANY_STREAMS_FOR_PRINCIPAL"
        assert int(third.headers["retry-after"]) >= 1
        # Someone else still gets a stream.
        async with stream(base_url, MANAGER):
            pass

    # Closed streams give their slots back (once the server has seen the disconnects).
    async def two_again() -> bool:
        async with (
            httpx.AsyncClient(base_url=base_url, timeout=30) as http,
            http.stream("GET", "/v1/events/stream", headers=ML) as one,
            http.stream("GET", "/v1/events/stream", headers=ML) as two,
        ):
            return one.status_code == two.status_code == 200

    await eventually(two_again, timeout=10)
