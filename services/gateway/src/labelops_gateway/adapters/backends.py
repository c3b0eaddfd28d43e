"""The gRPC services behind the gateway: one channel per service, opened on first use.

Channels are ``labelops_grpckit.channel``s without a credential of their own: every call carries
the HTTP caller's credential as metadata (grpckit's interceptors let call metadata win), so the
service sees the end user, not the gateway. A grpc.aio channel belongs to the event loop it was
created on, hence "on first use" (inside the serving loop) rather than in ``create_app``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from labelops.curation.v1 import curation_pb2_grpc
from labelops.datasets.v1 import datasets_pb2_grpc
from labelops.ontology.v1 import ontology_pb2_grpc
from labelops.prelabel.v1 import prelabel_pb2_grpc
from labelops.qa.v1 import qa_pb2_grpc
from labelops.routing.v1 import routing_pb2_grpc
from labelops_grpckit import channel

from ..config import Settings

#: The stub class of each service's API.
STUBS: dict[str, Any] = {
    "ontology": ontology_pb2_grpc.OntologyServiceStub,
    "curation": curation_pb2_grpc.CurationServiceStub,
    "routing": routing_pb2_grpc.RoutingServiceStub,
    "prelabel": prelabel_pb2_grpc.PrelabelServiceStub,
    "qa": qa_pb2_grpc.QualityServiceStub,
    "datasets": datasets_pb2_grpc.DatasetServiceStub,
}

Metadata = Sequence[tuple[str, str]]

#: Largest header / trailer block accepted from a service (error details travel there).
METADATA_BYTES = 4 * 1024 * 1024


class BackendError(Exception):
    """A failed call to a backend service: the ``grpc.aio.AioRpcError`` and whose it was."""

    def __init__(self, service: str, error: grpc.aio.AioRpcError) -> None:
        super().__init__(f"{service}: {error.code().name}: {error.details()}")
        self.service = service
        self.error = error


class Backends:
    """Channels and stubs of the six services."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._targets = settings.targets
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._stubs: dict[str, Any] = {}

    @property
    def names(self) -> list[str]:
        return list(self._targets)

    def _channel(self, service: str) -> grpc.aio.Channel:
        ch = self._channels.get(service)
        if ch is None:
            ch = channel(
                self._targets[service],
                default_timeout=self._settings.request_timeout_s,
                max_receive_message_bytes=self._settings.max_message_bytes,
                max_send_message_bytes=self._settings.max_message_bytes,
                # A rejected request can carry hundreds of field violations in its trailers;
                # past grpc's 8 KiB default the reply would be dropped ("metadata size exceeds
                # soft limit") and the caller would see RESOURCE_EXHAUSTED instead of a 400.
                options=[
                    ("grpc.max_metadata_size", METADATA_BYTES),
                    ("grpc.absolute_max_metadata_size", METADATA_BYTES),
                ],
            )
            self._channels[service] = ch
        return ch

    def stub(self, service: str) -> Any:
        """The API stub of ``service``."""
        stub = self._stubs.get(service)
        if stub is None:
            stub = self._stubs[service] = STUBS[service](self._channel(service))
        return stub

    async def call(self, service: str, method: str, request: Any, metadata: Metadata) -> Any:
        """``service.method(request)`` with the caller's metadata; failures → BackendError."""
        try:
            return await getattr(self.stub(service), method)(request, metadata=tuple(metadata))
        except grpc.aio.AioRpcError as exc:
            raise BackendError(service, exc) from None

    async def health(self, timeout: float = 2.0) -> dict[str, str]:
        """Each service's overall grpc.health.v1 status name (``SERVING``, ``NOT_SERVING``…),
        or ``UNREACHABLE`` when it does not answer within ``timeout``."""

        async def check(service: str) -> str:
            stub = health_pb2_grpc.HealthStub(self._channel(service))
            try:
                reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=timeout)
            except grpc.aio.AioRpcError:
                return "UNREACHABLE"
            return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))

        statuses = await asyncio.gather(*(check(s) for s in self.names))
        return dict(zip(self.names, statuses, strict=True))

    async def close(self) -> None:
        channels, self._channels, self._stubs = list(self._channels.values()), {}, {}
        for ch in channels:
            with contextlib.suppress(Exception):
                await ch.close()
