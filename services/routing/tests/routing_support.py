"""Helpers of the routing service tests (fixtures live in conftest.py)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

from labelops.events.v1 import envelope_pb2
from labelops.labels.v1 import label_pb2 as L
from labelops.ontology.v1 import definition_pb2 as D
from labelops.ontology.v1 import events_pb2 as oev
from labelops.routing.v1 import workforce_pb2 as wpb
from labelops_testkit.grpc import fails
from labelops_testkit.kafka import envelope as _envelope
from labelops_testkit.kafka import publish

__all__ = ["envelope", "fails", "publish"]

#: The tenant of the test keys (and of the events the tests play other services with).
TENANT = "acme"


def envelope(
    message: Any,
    stream_id: str,
    *,
    version: int = 1,
    source: str = "test",
    tenant_id: str = TENANT,
) -> envelope_pb2.EventEnvelope:
    """An event of another service, as its relay would publish it, of ``tenant_id`` (the
    consumers read and write only that tenant's rows)."""
    env = _envelope(message, stream_id, version=version, source=source)
    env.tenant_id = tenant_id
    env.actor.kind = envelope_pb2.ACTOR_KIND_SERVICE
    env.actor.id = source
    return env


ADMIN_KEY = "routing-admin-key-0123456789"
VENDOR_A_KEY = "routing-vendor-a-key-0123456789"
VENDOR_B_KEY = "routing-vendor-b-key-0123456789"
TOOL_KEY = "routing-inhouse-tool-key-012345"
IH1_KEY = "routing-annotator-ih-1-key-0123"
IH2_KEY = "routing-annotator-ih-2-key-0123"
BETA_ADMIN_KEY = "routing-beta-admin-key-0123456"
KEYS = {
    ADMIN_KEY: {"subject": "alice", "tenant_id": "acme", "roles": ["admin"]},
    VENDOR_A_KEY: {"subject": "va-bot", "tenant_id": "acme", "kind": "vendor", "vendor_id": "va"},
    VENDOR_B_KEY: {"subject": "vb-bot", "tenant_id": "acme", "kind": "vendor", "vendor_id": "vb"},
    TOOL_KEY: {"subject": "label-tool", "tenant_id": "acme", "roles": ["annotator"]},
    # In-house annotators, each acting as itself (their subject is their annotator id).
    IH1_KEY: {"subject": "ih-1", "tenant_id": "acme", "roles": ["annotator"]},
    IH2_KEY: {"subject": "ih-2", "tenant_id": "acme", "roles": ["annotator"]},
    # Another tenant's administrator: sees and changes nothing of acme's.
    BETA_ADMIN_KEY: {"subject": "bob", "tenant_id": "beta", "roles": ["admin"]},
}
ONTOLOGY = ("street", "1.0.0")
W, H = 640, 480


def definition() -> D.OntologyDefinition:
    d = D.OntologyDefinition()
    car = d.classes.add(id="car", name="Car", geometry=D.GEOMETRY_KIND_BOUNDING_BOX)
    color = car.classifications.add(id="color", name="Color", kind=D.CLASSIFICATION_KIND_RADIO)
    color.options.add(id="red", name="Red")
    color.options.add(id="blue", name="Blue")
    d.classes.add(id="person", name="Person", geometry=D.GEOMETRY_KIND_BOUNDING_BOX)
    d.classes.add(id="sign", name="Sign", geometry=D.GEOMETRY_KIND_BOUNDING_BOX)
    return d


def ontology_published() -> envelope_pb2.EventEnvelope:
    oid, version = ONTOLOGY
    return envelope(
        oev.OntologyVersionPublished(ontology_id=oid, version=version, definition=definition()),
        f"ontologies/{oid}",
    )


def box_labels(item_id: str, cls: str = "person", x: float = 10) -> L.ItemLabels:
    return L.ItemLabels(
        item_id=item_id,
        labels=[
            L.Label(label_id="l1", class_id=cls, box=L.BoundingBox(x=x, y=10, width=50, height=40))
        ],
    )


async def eventually(check: Any, timeout: float = 20.0, interval: float = 0.1) -> Any:
    """Await ``check()`` until it returns a truthy value (consumers are asynchronous)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {value!r})")
        await asyncio.sleep(interval)


class WorkStream:
    """A client of the bidirectional ``Work`` stream: send one message, await its answer."""

    def __init__(self, stub: Any) -> None:
        self._queue: asyncio.Queue[wpb.WorkRequest | None] = asyncio.Queue()
        self._ids = itertools.count(1)
        self._call = stub.Work(self._requests())
        self.errors: list[wpb.WorkResponse] = []

    async def _requests(self) -> AsyncIterator[wpb.WorkRequest]:
        while (msg := await self._queue.get()) is not None:
            yield msg

    async def send(self, **kind: Any) -> wpb.WorkResponse:
        cid = str(next(self._ids))
        await self._queue.put(wpb.WorkRequest(correlation_id=cid, **kind))
        resp = await self._call.read()
        assert resp.correlation_id == cid, (resp.correlation_id, cid)
        return resp

    async def claim(
        self, pool_id: str, annotator_id: str, n: int, project_id: str = ""
    ) -> list[wpb.TaskOffer]:
        resp = await self.send(
            claim=wpb.ClaimTasksRequest(
                pool_id=pool_id, annotator_id=annotator_id, max_tasks=n, project_id=project_id
            )
        )
        assert resp.WhichOneof("kind") == "offers", resp
        return list(resp.offers.offers)

    async def close(self) -> None:
        await self._queue.put(None)
        await self._call.wait_for_connection()
        self._call.cancel()
