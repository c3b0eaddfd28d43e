"""gRPC assertions shared by the services' integration tests."""

from __future__ import annotations

from collections.abc import Awaitable, Iterable
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from labelops_grpckit import channel, error_details


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


async def serving(target: str, services: Iterable[str] = ()) -> bool:
    """True when the server's health says SERVING, overall and for each of ``services``."""
    async with channel(target) as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        for service in ("", *services):
            resp = await stub.Check(health_pb2.HealthCheckRequest(service=service))
            if resp.status != health_pb2.HealthCheckResponse.SERVING:
                return False
    return True
