"""Settings of the ontology service, from the environment (prefix ``LABELOPS_ONTOLOGY_``).

The fields every service shares (Postgres, Kafka, port, limits, migrations) come from
``labelops_servicekit.ServiceSettings``; only the ontology's own are here.
"""

from __future__ import annotations

from typing import Annotated

from labelops_servicekit import MIB, Port, ServiceName, ServiceSettings, service_config
from pydantic import Field


class Settings(ServiceSettings):
    """Every field can be set as ``LABELOPS_ONTOLOGY_<FIELD>`` (``LABELOPS_ONTOLOGY_PG_DSN``)."""

    model_config = service_config("ontology")

    service_name: ServiceName = "ontology"
    port: Port = 50051
    #: Above the 2 MiB definition limit on purpose: an oversized ontology must reach the
    #: service to get a helpful INVALID_ARGUMENT; only requests beyond this are refused by
    #: gRPC itself (RESOURCE_EXHAUSTED).
    max_message_bytes: Annotated[int, Field(ge=1 * MIB)] = 16 * MIB
    #: Largest event payload. Must fit one Kafka message of the events topic (the broker's
    #: default message.max.bytes is 1 MiB, envelope and headers included).
    max_event_bytes: Annotated[int, Field(ge=64 * 1024)] = 1_000_000
    #: Compiled published versions kept in memory for ValidateLabels.
    compiled_cache_size: Annotated[int, Field(ge=1)] = 256
    #: Rebuilt ontology aggregates kept in memory (0 = replay every stream on every command).
    aggregate_cache_size: Annotated[int, Field(ge=0)] = 256
