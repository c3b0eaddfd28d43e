"""Settings of the curation service, from the environment (prefix ``LABELOPS_CURATION_``).

The fields every service shares (Postgres, Kafka, port, limits, migrations) come from
``labelops_servicekit.ServiceSettings``; only the curation service's own are here.
``max_message_bytes`` (shared, 16 MiB) bounds one RegisterItems message.
"""

from __future__ import annotations

from typing import Annotated

from labelops_servicekit import MIB, Port, ServiceName, ServiceSettings, service_config
from pydantic import BaseModel, Field


class ExternalEmbedder(BaseModel):
    """An embedding server this deployment offers under ``name`` (see adapters/embedders)."""

    url: str
    dim: Annotated[int, Field(ge=1, le=8192)]
    modalities: list[str] = ["image"]
    api_key: str | None = None
    timeout_s: Annotated[float, Field(gt=0)] = 10.0


class Settings(ServiceSettings):
    """Every field can be set as ``LABELOPS_CURATION_<FIELD>`` (``LABELOPS_CURATION_PG_DSN``)."""

    model_config = service_config("curation")

    service_name: ServiceName = "curation"
    port: Port = 50052
    #: Seconds a unary call may take when the client sets no deadline (embedding and
    #: FindDuplicates / AnalyzeCoverage over large datasets take a while).
    default_timeout_s: Annotated[float, Field(gt=0)] = 60.0
    #: Qdrant server URL; empty = embedded Qdrant at ``qdrant_path``.
    qdrant_url: str = ""
    qdrant_api_key: str | None = None
    #: Embedded Qdrant storage (a directory, or ":memory:").
    qdrant_path: str = ".local/qdrant/curation"
    #: Collection name prefix (collections are "<prefix><dataset>--<vector space>").
    qdrant_prefix: str = "labelops-"
    #: Directories whose files the service may read through file:// URIs (JSON list).
    file_roots: list[str] = []
    #: Files above this size are registered without being read.
    max_content_bytes: Annotated[int, Field(ge=1)] = 64 * MIB
    #: Built-in embedders offered to datasets.
    builtin_embedders: list[str] = ["text-minilm-l6", "image-phash"]
    #: External embedding servers by name (JSON: {"clip": {"url": ..., "dim": 512, ...}}).
    external_embedders: dict[str, ExternalEmbedder] = {}
    #: Outbound destinations allowed besides public addresses (CIDRs or host names, JSON list:
    #: ``["10.0.5.0/24", "clip.internal"]``): external embedders and the http(s) item URIs they
    #: are sent to. Loopback, link-local, metadata, private and reserved addresses are refused
    #: otherwise (``labelops_core.netguard``).
    outbound_allow: list[str] = []
