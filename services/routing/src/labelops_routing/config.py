"""Settings of the routing service, from the environment (prefix ``LABELOPS_ROUTING_``).

The fields every service shares (Postgres, Kafka and the topics consumed, port, limits,
migrations) come from ``labelops_servicekit.ServiceSettings``; only routing's own are here.
Credentials are not settings: the gRPC server reads ``LABELOPS_API_KEYS`` /
``LABELOPS_JWT_SECRET`` like every labelops service (libs/grpckit); a vendor's key carries its
``vendor_id``.
"""

from __future__ import annotations

from typing import Annotated

from labelops_servicekit import MIB, Port, ServiceName, ServiceSettings, service_config
from pydantic import Field


class Settings(ServiceSettings):
    """Every field can be set as ``LABELOPS_ROUTING_<FIELD>`` (``LABELOPS_ROUTING_PG_DSN``)."""

    model_config = service_config("routing")

    service_name: ServiceName = "routing"
    port: Port = 50053
    #: Every Work stream holds a connection per message in flight: more than the kit's default.
    pg_pool_min_size: Annotated[int, Field(ge=1)] = 2
    pg_pool_max_size: Annotated[int, Field(ge=1)] = 20
    #: Largest label batch (SubmitLabels / a Work submit). Larger: RESOURCE_EXHAUSTED for that
    #: batch; on the Work stream the stream stays open.
    max_batch_bytes: Annotated[int, Field(ge=64 * 1024)] = 8 * MIB
    #: Transport limit of any gRPC message; above it grpc itself answers RESOURCE_EXHAUSTED
    #: (and a Work stream ends: the transport cannot skip a message). Keep it above
    #: max_batch_bytes so that oversized batches get the friendlier answer.
    max_message_bytes: Annotated[int, Field(ge=1 * MIB)] = 16 * MIB
    #: Most label submissions in one SubmitLabels batch.
    max_submissions: Annotated[int, Field(ge=1, le=10_000)] = 1000
    #: How often expired leases are looked for.
    lease_sweep_interval_s: Annotated[float, Field(gt=0)] = 1.0
