"""Settings of the curation service, from the environment (prefix ``LABELOPS_CURATION_``).

Credentials are not here: the gRPC server reads ``LABELOPS_API_KEYS`` / ``LABELOPS_JWT_SECRET``
like every labelops service (libs/grpckit). OpenTelemetry uses the standard ``OTEL_*`` variables.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1024 * 1024


def default_migrations_dir() -> Path:
    """``services/curation/migrations`` of the checkout this package runs from."""
    return Path(__file__).resolve().parents[2] / "migrations"


class ExternalEmbedder(BaseModel):
    """An embedding server this deployment offers under ``name`` (see adapters/embedders)."""

    url: str
    dim: Annotated[int, Field(ge=1, le=8192)]
    modalities: list[str] = ["image"]
    api_key: str | None = None
    timeout_s: Annotated[float, Field(gt=0)] = 10.0


class Settings(BaseSettings):
    """Every field can be set as ``LABELOPS_CURATION_<FIELD>`` (``LABELOPS_CURATION_PG_DSN``)."""

    model_config = SettingsConfigDict(
        env_prefix="LABELOPS_CURATION_", extra="ignore", populate_by_name=True, frozen=True
    )

    pg_dsn: str = "postgresql://labelops@127.0.0.1:55432/labelops"
    pg_pool_min_size: Annotated[int, Field(ge=1)] = 1
    pg_pool_max_size: Annotated[int, Field(ge=1)] = 10
    #: Postgres schema of the event store and read models (``LABELOPS_CURATION_SCHEMA``).
    db_schema: Annotated[
        str,
        Field(validation_alias="LABELOPS_CURATION_SCHEMA", pattern=r"^[a-z_][a-z0-9_]{0,62}$"),
    ] = "curation"
    kafka_bootstrap: str = "127.0.0.1:29092"
    #: Service name: events topic ``labelops.<service_name>.events.v1`` and envelope source.
    service_name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$")] = "curation"
    relay_enabled: bool = True
    host: str = "[::]"
    port: Annotated[int, Field(ge=0, le=65535)] = 50052
    #: Largest gRPC message (one RegisterItems batch). Larger: RESOURCE_EXHAUSTED.
    max_message_bytes: Annotated[int, Field(ge=1 * MIB)] = 16 * MIB
    grace_period_s: Annotated[float, Field(ge=0)] = 10.0
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
    migrations_dir: Path = Field(default_factory=default_migrations_dir, validate_default=True)
    log_level: str = "INFO"

    @field_validator("migrations_dir")
    @classmethod
    def _exists(cls, v: Path) -> Path:
        if not (v / "0001_read_models.sql").is_file():
            raise ValueError(
                f"{v} holds no 0001_read_models.sql; set LABELOPS_CURATION_MIGRATIONS_DIR to"
                " the service's migrations directory (services/curation/migrations)"
            )
        return v
