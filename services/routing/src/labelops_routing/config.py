"""Settings of the routing service, from the environment (prefix ``LABELOPS_ROUTING_``).

Credentials are not here: the gRPC server reads ``LABELOPS_API_KEYS`` / ``LABELOPS_JWT_SECRET``
like every labelops service (libs/grpckit); a vendor's key carries its ``vendor_id``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1024 * 1024


def default_migrations_dir() -> Path:
    """``services/routing/migrations`` of the checkout this package runs from."""
    return Path(__file__).resolve().parents[2] / "migrations"


class Settings(BaseSettings):
    """Every field can be set as ``LABELOPS_ROUTING_<FIELD>``."""

    model_config = SettingsConfigDict(
        env_prefix="LABELOPS_ROUTING_", extra="ignore", populate_by_name=True, frozen=True
    )

    pg_dsn: str = "postgresql://labelops@127.0.0.1:55432/labelops"
    pg_pool_min_size: Annotated[int, Field(ge=1)] = 2
    pg_pool_max_size: Annotated[int, Field(ge=1)] = 20
    db_schema: Annotated[
        str,
        Field(validation_alias="LABELOPS_ROUTING_SCHEMA", pattern=r"^[a-z_][a-z0-9_]{0,62}$"),
    ] = "routing"
    kafka_bootstrap: str = "127.0.0.1:29092"
    #: Events topic ``labelops.<service_name>.events.v1``, envelope source, consumer group prefix.
    service_name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$")] = "routing"
    #: Topics consumed: items and curation decisions, published ontology versions.
    curation_topic: str = "labelops.curation.events.v1"
    ontology_topic: str = "labelops.ontology.events.v1"
    #: QA decisions that send tasks back for re-labeling.
    qa_topic: str = "labelops.qa.events.v1"
    #: Pre-labels and active-learning priorities of tasks.
    prelabel_topic: str = "labelops.prelabel.events.v1"
    relay_enabled: bool = True
    consumers_enabled: bool = True
    host: str = "[::]"
    port: Annotated[int, Field(ge=0, le=65535)] = 50053
    #: Largest label batch (SubmitLabels / a Work submit). Larger: RESOURCE_EXHAUSTED for that
    #: batch; on the Work stream the stream stays open.
    max_batch_bytes: Annotated[int, Field(ge=64 * 1024)] = 8 * MIB
    #: Transport limit of any gRPC message; above it grpc itself answers RESOURCE_EXHAUSTED
    #: (and a Work stream ends: the transport cannot skip a message). Keep it above
    #: max_batch_bytes so that oversized batches get the friendlier answer.
    max_message_bytes: Annotated[int, Field(ge=1 * MIB)] = 16 * MIB
    #: Most label submissions in one SubmitLabels batch.
    max_submissions: Annotated[int, Field(ge=1, le=10_000)] = 1000
    grace_period_s: Annotated[float, Field(ge=0)] = 10.0
    default_timeout_s: Annotated[float, Field(gt=0)] = 30.0
    #: How often expired leases are looked for.
    lease_sweep_interval_s: Annotated[float, Field(gt=0)] = 1.0
    migrations_dir: Path = Field(default_factory=default_migrations_dir, validate_default=True)
    log_level: str = "INFO"

    @field_validator("migrations_dir")
    @classmethod
    def _exists(cls, v: Path) -> Path:
        if not (v / "0001_read_models.sql").is_file():
            raise ValueError(
                f"{v} holds no 0001_read_models.sql; set LABELOPS_ROUTING_MIGRATIONS_DIR to"
                " the service's migrations directory (services/routing/migrations)"
            )
        return v
