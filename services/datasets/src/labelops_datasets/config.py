"""Settings of the datasets service, from the environment (prefix ``LABELOPS_DATASETS_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1024 * 1024


def default_migrations_dir() -> Path:
    """``services/datasets/migrations`` of the checkout this package runs from."""
    return Path(__file__).resolve().parents[2] / "migrations"


class Settings(BaseSettings):
    """Every field can be set as ``LABELOPS_DATASETS_<FIELD>``."""

    model_config = SettingsConfigDict(
        env_prefix="LABELOPS_DATASETS_", extra="ignore", populate_by_name=True, frozen=True
    )

    pg_dsn: str = "postgresql://labelops@127.0.0.1:55432/labelops"
    pg_pool_min_size: Annotated[int, Field(ge=1)] = 1
    pg_pool_max_size: Annotated[int, Field(ge=1)] = 10
    db_schema: Annotated[
        str,
        Field(validation_alias="LABELOPS_DATASETS_SCHEMA", pattern=r"^[a-z_][a-z0-9_]{0,62}$"),
    ] = "datasets"
    kafka_bootstrap: str = "127.0.0.1:29092"
    service_name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$")] = "datasets"
    #: Accepted labels (qa), item metadata (curation), ontology versions and migrations.
    qa_topic: str = "labelops.qa.events.v1"
    curation_topic: str = "labelops.curation.events.v1"
    ontology_topic: str = "labelops.ontology.events.v1"
    #: Where versions live: a local folder (default) or any fsspec URL, e.g. s3://bucket/prefix.
    store_url: str = "var/datasets"
    #: Offsets per segment file: an incremental version rewrites only the segments that changed.
    segment_span: Annotated[int, Field(ge=1)] = 8_192
    #: Records per projection transaction.
    projection_batch: Annotated[int, Field(ge=1)] = 5_000
    relay_enabled: bool = True
    consumers_enabled: bool = True
    host: str = "[::]"
    port: Annotated[int, Field(ge=0, le=65535)] = 50056
    max_message_bytes: Annotated[int, Field(ge=1 * MIB)] = 16 * MIB
    #: Bytes of Arrow IPC / export data per streamed message.
    stream_chunk_bytes: Annotated[int, Field(ge=64 * 1024)] = 1 * MIB
    grace_period_s: Annotated[float, Field(ge=0)] = 10.0
    default_timeout_s: Annotated[float, Field(gt=0)] = 600.0
    migrations_dir: Path = Field(default_factory=default_migrations_dir, validate_default=True)
    log_level: str = "INFO"

    @field_validator("migrations_dir")
    @classmethod
    def _exists(cls, v: Path) -> Path:
        if not (v / "0001_read_models.sql").is_file():
            raise ValueError(
                f"{v} holds no 0001_read_models.sql; set LABELOPS_DATASETS_MIGRATIONS_DIR to"
                " the service's migrations directory (services/datasets/migrations)"
            )
        return v
