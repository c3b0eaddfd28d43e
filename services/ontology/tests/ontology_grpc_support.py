"""Helpers of the ontology service's integration tests (fixtures live in conftest.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from labelops.events.v1 import envelope_pb2
from labelops_grpckit import channel, error_details
from labelops_testkit.kafka import read_envelopes

API_KEY = "ontology-test-key-0123456789"
PRINCIPAL = {"subject": "alice", "tenant_id": "acme", "roles": ["admin"]}
CLIENT_MAX_BYTES = 64 * 1024 * 1024

_TABLES = ("events", "requests", "ontologies", "ontology_versions", "ontology_migrations")


async def stored(pool: Any, schema: str) -> dict[str, int]:
    """Row counts of every table the service writes (events, idempotency, read models)."""
    return {t: await pool.fetchval(f'SELECT count(*) FROM "{schema}".{t}') for t in _TABLES}


async def fails(
    call: Awaitable[Any], code: grpc.StatusCode, reason: str | None = None
) -> tuple[grpc.aio.AioRpcError, list[str]]:
    """Await ``call``, expecting ``code`` (and ``reason``); returns the error and the fields of
    its BadRequest violations."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    err = info.value
    assert err.code() == code, (err.code(), err.details())
    details = error_details(err)
    if reason is not None:
        assert details.reason == reason, (details.reason, err.details())
    return err, [v.field for v in details.violations]


async def serving(target: str) -> bool:
    """True when the server's health says SERVING, overall and for the ontology service."""
    async with channel(target) as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        for service in ("", "labelops.ontology.v1.OntologyService"):
            resp = await stub.Check(health_pb2.HealthCheckRequest(service=service))
            if resp.status != health_pb2.HealthCheckResponse.SERVING:
                return False
    return True


async def wait_for_envelopes(
    bootstrap: str, topic: str, count: int, timeout: float = 30.0
) -> list[envelope_pb2.EventEnvelope]:
    """The envelopes on ``topic`` once there are at least ``count`` (TimeoutError after
    ``timeout`` seconds)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        got = await read_envelopes(bootstrap, topic)
        if len(got) >= count:
            return got
        if loop.time() > deadline:
            raise TimeoutError(f"{len(got)} of {count} events on {topic} after {timeout}s")
        await asyncio.sleep(0.3)
