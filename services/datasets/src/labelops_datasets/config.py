"""Settings of the datasets service, from the environment (prefix ``LABELOPS_DATASETS_``).

The fields every service shares (Postgres, Kafka, the qa / curation / ontology topics it
consumes, port, limits, migrations) come from ``labelops_servicekit.ServiceSettings``; only
the datasets service's own are here.
"""

from __future__ import annotations

from typing import Annotated

from labelops_servicekit import MIB, Port, ServiceName, ServiceSettings, service_config
from pydantic import Field


class Settings(ServiceSettings):
    """Every field can be set as ``LABELOPS_DATASETS_<FIELD>``."""

    model_config = service_config("datasets")

    service_name: ServiceName = "datasets"
    port: Port = 50056
    #: A full version of a large project takes minutes: the default deadline allows for it.
    default_timeout_s: Annotated[float, Field(gt=0)] = 600.0
    #: Where versions live: a local folder (default) or any fsspec URL, e.g. s3://bucket/prefix.
    store_url: str = "var/datasets"
    #: Offsets per segment file: an incremental version rewrites only the segments that changed.
    segment_span: Annotated[int, Field(ge=1)] = 8_192
    #: Records per projection transaction.
    projection_batch: Annotated[int, Field(ge=1)] = 5_000
    #: Bytes of Arrow IPC / export data per streamed message.
    stream_chunk_bytes: Annotated[int, Field(ge=64 * 1024)] = 1 * MIB
