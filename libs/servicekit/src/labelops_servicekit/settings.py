"""``ServiceSettings``: the fields every event-sourced labelops service has, once.

A service's ``config.py`` names only what is its own::

    class Settings(ServiceSettings):
        model_config = service_config("ontology")
        service_name: ServiceName = "ontology"
        port: Port = 50051
        compiled_cache_size: Annotated[int, Field(ge=1)] = 256

Every field is read from ``LABELOPS_<SERVICE>_<FIELD>``; the schema also from
``LABELOPS_<SERVICE>_SCHEMA``. Defaults a service does not override:

- ``db_schema``: the service's default name (not the overridden ``service_name``: tests give
  each run a unique service name and a schema of their own);
- ``migrations_dir``: ``migrations/`` next to the service's ``src/`` in a checkout, else
  ``$LABELOPS_HOME/services/<service>/migrations`` (the container image sets LABELOPS_HOME).

Credentials are not settings: the gRPC server reads ``LABELOPS_API_KEYS`` /
``LABELOPS_API_KEYS_FILE`` / ``LABELOPS_JWT_*`` (libs/grpckit), and keys made through
``CredentialService`` live hashed in ``auth_schema`` (``auth_*`` settings say how they are
read); OpenTelemetry reads the standard ``OTEL_*`` variables (libs/telemetry).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1024 * 1024

#: ``service_name``: topic ``labelops.<service_name>.events.v1``, envelope source, group prefix.
ServiceName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$")]
Port = Annotated[int, Field(ge=0, le=65535)]
SCHEMA_PATTERN = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
SchemaName = Annotated[str, Field(pattern=SCHEMA_PATTERN.pattern)]


def service_config(service: str, **extra: Any) -> SettingsConfigDict:
    """The settings config of ``service``: env prefix ``LABELOPS_<SERVICE>_``, frozen."""
    return SettingsConfigDict(
        env_prefix=f"LABELOPS_{service.upper()}_",
        extra="ignore",
        populate_by_name=True,
        frozen=True,
        **extra,  # type: ignore[typeddict-item]
    )


def events_topic_of(service: str) -> str:
    return f"labelops.{service}.events.v1"


class ServiceSettings(BaseSettings):
    """Base of every service's ``Settings`` (see the module docstring)."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    #: PostgreSQL of the service (everything it keeps lives in ``db_schema``).
    pg_dsn: str = "postgresql://labelops@127.0.0.1:55432/labelops"
    pg_pool_min_size: Annotated[int, Field(ge=1)] = 1
    pg_pool_max_size: Annotated[int, Field(ge=1)] = 10
    #: Postgres schema of the event store and read models (``LABELOPS_<SERVICE>_SCHEMA``).
    db_schema: SchemaName = ""
    #: Kafka bootstrap servers (outbox relay and consumers).
    kafka_bootstrap: str = "127.0.0.1:29092"
    service_name: ServiceName = ""
    #: Topics of the services whose events this one may consume (its consumers.py says which).
    ontology_topic: str = events_topic_of("ontology")
    curation_topic: str = events_topic_of("curation")
    routing_topic: str = events_topic_of("routing")
    prelabel_topic: str = events_topic_of("prelabel")
    qa_topic: str = events_topic_of("qa")
    datasets_topic: str = events_topic_of("datasets")
    #: Run the outbox relay in this process (one relay per schema publishes at a time anyway).
    relay_enabled: bool = True
    #: Run this service's Kafka consumers in this process.
    consumers_enabled: bool = True
    #: Record every command and every denial in ``<db_schema>.audit_log`` (docs/security.md).
    audit_enabled: bool = True
    #: Seconds between the audit log's batched writes.
    audit_flush_interval_s: Annotated[float, Field(gt=0)] = 0.2
    #: Audit records held in memory while the database is unreachable; more are dropped
    #: (counted and warned about) rather than failing calls.
    audit_max_buffer: Annotated[int, Field(ge=1)] = 10000
    #: Chain the audit log and the event table per tenant (hash chains, ``labelops audit
    #: verify``) in this process; pause between rounds when nothing is new.
    chain_enabled: bool = True
    chain_interval_s: Annotated[float, Field(gt=0)] = 1.0
    host: str = "[::]"
    port: Port = 0
    #: Largest gRPC message either way; above it grpc itself answers RESOURCE_EXHAUSTED.
    max_message_bytes: Annotated[int, Field(ge=1 * MIB)] = 16 * MIB
    #: Seconds in-flight calls may run after SIGTERM.
    grace_period_s: Annotated[float, Field(ge=0)] = 10.0
    #: Seconds a unary call may take when the client sets no deadline.
    default_timeout_s: Annotated[float, Field(gt=0)] = 30.0
    #: SQL migrations of the read models (see the module docstring for the default).
    migrations_dir: Path = Path()
    log_level: str = "INFO"
    #: Outbound calls (model servers, embedders, item URLs) may go only to public addresses;
    #: these CIDRs / host names are allowed besides (``labelops_core.netguard``). JSON list in
    #: the environment: ``LABELOPS_<SVC>_OUTBOUND_ALLOW='["10.8.0.0/16","models.internal"]'``.
    outbound_allow: list[str] = []

    # --- credentials (API keys hashed in Postgres, ``labelops_servicekit.credentials``) -----
    #: Accept keys stored in ``<auth_schema>.api_keys`` and mount ``CredentialService``.
    auth_keys_enabled: bool = True
    #: The shared schema of API keys (one for all services of a deployment).
    auth_schema: SchemaName = "labelops_auth"
    #: Create / migrate ``auth_schema`` at start. Off where the service's database role may
    #: only read it (deploy/postgres/roles.sql: the admin role migrates it).
    auth_migrate: bool = True
    #: Postgres DSN of the role that may write ``auth_schema`` (deploy/postgres/roles.sql:
    #: ``labelops_auth_admin``). Set: CredentialService writes and the auth migrations go
    #: through it; empty: through ``pg_dsn`` (one role for everything: development). A service
    #: whose role may only read keys answers CredentialService writes FAILED_PRECONDITION.
    auth_admin_dsn: str = ""
    #: Seconds between two snapshots of the keys: a revoked, rotated or new key takes effect
    #: on this service within about this long.
    auth_refresh_s: Annotated[float, Field(gt=0, le=60)] = 1.0
    #: A snapshot older than this (Postgres unreachable) fails API-key calls UNAVAILABLE
    #: rather than keep accepting keys that may have been revoked.
    auth_max_staleness_s: Annotated[float, Field(gt=0)] = 30.0

    # --- per-principal rate limit (token bucket per tenant + subject, libs/grpckit) ---------
    #: Calls per second a principal may sustain (unary calls and stream opens); 0 disables.
    rate_limit_per_s: Annotated[float, Field(ge=0)] = 500.0
    #: Calls a principal may make at once above the sustained rate.
    rate_limit_burst: Annotated[int, Field(ge=1)] = 1000

    # --- request caps (the grpckit validator; services add caps of their own fields) --------
    #: Longest string field, in characters.
    request_max_string_chars: Annotated[int, Field(ge=1)] = 8192
    #: Largest bytes field.
    request_max_bytes: Annotated[int, Field(ge=1)] = 1 * MIB
    #: Most entries of a repeated or map field.
    request_max_repeated: Annotated[int, Field(ge=1)] = 10_000
    #: Deepest nesting of a google.protobuf.Struct / Value.
    request_max_struct_depth: Annotated[int, Field(ge=1)] = 32

    @classmethod
    def default_service(cls) -> str:
        """The service's own name: the class default of ``service_name``."""
        name = cls.model_fields["service_name"].default
        if not name:
            raise TypeError(f"{cls.__name__} must give service_name a default")
        return str(name)

    @classmethod
    def default_migrations_dir(cls) -> Path:
        service = cls.default_service()
        module_file = getattr(sys.modules.get(cls.__module__), "__file__", None)
        if module_file:
            # <checkout>/services/<service>/src/labelops_<service>/config.py
            checkout = Path(module_file).resolve().parents[2] / "migrations"
            if checkout.is_dir():
                return checkout
        home = os.environ.get("LABELOPS_HOME", ".")
        return Path(home) / "services" / service / "migrations"

    @model_validator(mode="before")
    @classmethod
    def _service_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        service = cls.default_service()
        if not data.get("db_schema"):
            env_name = f"LABELOPS_{service.upper()}_SCHEMA"
            from_env = os.environ.get(env_name)
            if from_env is not None and not SCHEMA_PATTERN.fullmatch(from_env):
                # Name the variable the operator set, not the field it lands in.
                raise ValueError(
                    f"{env_name}={from_env!r} is not a schema name"
                    " (lower-case letters, digits and _, at most 63, not starting with a digit)"
                )
            data["db_schema"] = from_env or service.replace("-", "_")
        if not data.get("migrations_dir") and cls.model_fields["migrations_dir"].default == Path():
            data["migrations_dir"] = cls.default_migrations_dir()
        return data

    @field_validator("migrations_dir")
    @classmethod
    def _migrations_exist(cls, v: Path) -> Path:
        if not (v / "0001_read_models.sql").is_file():
            service = cls.default_service()
            raise ValueError(
                f"{v} holds no 0001_read_models.sql; set LABELOPS_{service.upper()}_MIGRATIONS_DIR"
                f" to the service's migrations directory (services/{service}/migrations)"
            )
        return v

    def topic_of(self, producer: str) -> str:
        """The events topic of ``producer`` as this deployment names it."""
        topic = getattr(self, f"{producer}_topic", None)
        return str(topic) if topic else events_topic_of(producer)
