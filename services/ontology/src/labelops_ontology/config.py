"""Settings of the ontology service, from the environment (prefix ``LABELOPS_ONTOLOGY_``).

Credentials are not here: the gRPC server reads ``LABELOPS_API_KEYS`` /
``LABELOPS_API_KEYS_FILE`` / ``LABELOPS_JWT_SECRET`` like every labelops service (libs/grpckit).
OpenTelemetry is configured by the standard ``OTEL_*`` variables (libs/telemetry).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1024 * 1024


def default_migrations_dir() -> Path:
    """``services/ontology/migrations`` of the checkout this package runs from."""
    return Path(__file__).resolve().parents[2] / "migrations"


class Settings(BaseSettings):
    """Every field can be set as ``LABELOPS_ONTOLOGY_<FIELD>`` (``LABELOPS_ONTOLOGY_PG_DSN``)."""

    model_config = SettingsConfigDict(
        env_prefix="LABELOPS_ONTOLOGY_", extra="ignore", populate_by_name=True, frozen=True
    )

    #: PostgreSQL of the service (the service keeps everything in ``schema``).
    pg_dsn: str = "postgresql://labelops@127.0.0.1:55432/labelops"
    pg_pool_min_size: Annotated[int, Field(ge=1)] = 1
    pg_pool_max_size: Annotated[int, Field(ge=1)] = 10
    #: Postgres schema of the event store and read models (``LABELOPS_ONTOLOGY_SCHEMA``).
    db_schema: Annotated[
        str,
        Field(validation_alias="LABELOPS_ONTOLOGY_SCHEMA", pattern=r"^[a-z_][a-z0-9_]{0,62}$"),
    ] = "ontology"
    #: Kafka bootstrap servers for the outbox relay.
    kafka_bootstrap: str = "127.0.0.1:29092"
    #: Service name: events topic ``labelops.<service_name>.events.v1`` and envelope source.
    service_name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$")] = "ontology"
    #: Run the outbox relay in this process (one relay per schema publishes at a time anyway).
    relay_enabled: bool = True
    host: str = "[::]"
    port: Annotated[int, Field(ge=0, le=65535)] = 50051
    #: Largest gRPC message either way. Above the 2 MiB definition limit on purpose: an
    #: oversized ontology must reach the service to get a helpful INVALID_ARGUMENT, and only
    #: requests beyond this are refused by gRPC itself (RESOURCE_EXHAUSTED).
    max_message_bytes: Annotated[int, Field(ge=1 * MIB)] = 16 * MIB
    #: Largest event payload. Must fit one Kafka message of the events topic (the broker's
    #: default message.max.bytes is 1 MiB, envelope and headers included).
    max_event_bytes: Annotated[int, Field(ge=64 * 1024)] = 1_000_000
    #: Seconds in-flight calls may run after SIGTERM.
    grace_period_s: Annotated[float, Field(ge=0)] = 10.0
    #: Seconds a unary call may take when the client sets no deadline.
    default_timeout_s: Annotated[float, Field(gt=0)] = 30.0
    #: Compiled published versions kept in memory for ValidateLabels.
    compiled_cache_size: Annotated[int, Field(ge=1)] = 256
    #: Rebuilt ontology aggregates kept in memory (0 = replay every stream on every command).
    aggregate_cache_size: Annotated[int, Field(ge=0)] = 256
    #: SQL migrations of the read models; default: ``migrations/`` next to ``src/``.
    migrations_dir: Path = Field(default_factory=default_migrations_dir, validate_default=True)
    log_level: str = "INFO"

    @field_validator("migrations_dir")
    @classmethod
    def _exists(cls, v: Path) -> Path:
        if not (v / "0001_read_models.sql").is_file():
            raise ValueError(
                f"{v} holds no 0001_read_models.sql; set LABELOPS_ONTOLOGY_MIGRATIONS_DIR to"
                " the service's migrations directory (services/ontology/migrations)"
            )
        return v
