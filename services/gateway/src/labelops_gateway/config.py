"""Settings of the HTTP gateway, from the environment (prefix ``LABELOPS_GATEWAY_``).

Credentials are not configured here: the gateway authenticates each caller with the same
``LABELOPS_API_KEYS`` / ``LABELOPS_API_KEYS_FILE`` / ``LABELOPS_JWT_*`` variables the services
read (``labelops_grpckit.Authenticator.from_env``) to check its route table and rate limits,
and forwards the caller's own credential to the services, which check it again. The gateway
has no credential of its own.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1024 * 1024

#: The backends, in the order the issue numbers them; also the keys of ``Settings.targets``.
SERVICES = ("ontology", "curation", "routing", "prelabel", "qa", "datasets")


def default_topics() -> list[str]:
    """Every service's events topic (``labelops.<service>.events.v1``)."""
    return [f"labelops.{s}.events.v1" for s in SERVICES]


class Settings(BaseSettings):
    """Every field can be set as ``LABELOPS_GATEWAY_<FIELD>`` (lists and dicts as JSON)."""

    model_config = SettingsConfigDict(
        env_prefix="LABELOPS_GATEWAY_", extra="ignore", populate_by_name=True, frozen=True
    )

    host: str = "0.0.0.0"
    port: Annotated[int, Field(ge=0, le=65535)] = 8080

    #: gRPC targets ("host:port") of the services.
    ontology_target: str = "127.0.0.1:50051"
    curation_target: str = "127.0.0.1:50052"
    routing_target: str = "127.0.0.1:50053"
    prelabel_target: str = "127.0.0.1:50054"
    qa_target: str = "127.0.0.1:50055"
    datasets_target: str = "127.0.0.1:50056"
    #: Deadline of each unary call to a service; a call that runs out → 500 (DEADLINE_EXCEEDED).
    request_timeout_s: Annotated[float, Field(gt=0)] = 30.0
    #: Largest reply the gateway accepts from a service (the services' own send limit).
    max_message_bytes: Annotated[int, Field(ge=1 * MIB)] = 16 * MIB
    #: Largest JSON request body; larger → 413.
    max_body_bytes: Annotated[int, Field(ge=1024)] = 8 * MIB

    #: Event stream (``GET /v1/events/stream``): one Kafka consumer per connection.
    kafka_bootstrap: str = "127.0.0.1:29092"
    event_topics: list[str] = Field(default_factory=default_topics)
    #: Idle streams get a comment line this often, so proxies keep them open.
    sse_heartbeat_s: Annotated[float, Field(gt=0)] = 15.0
    #: How often a stream looks for topics (or partitions) created after it started.
    sse_topic_refresh_s: Annotated[float, Field(gt=0)] = 5.0
    #: Open streams at once (each holds a Kafka consumer); more → 429.
    sse_max_streams: Annotated[int, Field(ge=1)] = 64
    #: Open streams at once per principal (tenant + subject); more → 429, so one caller cannot
    #: take every slot.
    sse_max_streams_per_principal: Annotated[int, Field(ge=1)] = 2

    #: The gateway's Postgres (optional). With it the gateway reads the keys stored by
    #: ``CredentialService`` / ``labelops keys`` (``<auth_schema>.api_keys``, read only), so a
    #: created, rotated or revoked key takes effect here as on the services without a restart,
    #: and writes its own denials to ``<audit_schema>.audit_log`` (hash-chained per tenant,
    #: ``labelops audit verify --schema <audit_schema>``). Empty: only the ``LABELOPS_API_KEYS``
    #: / ``LABELOPS_JWT_*`` credentials, and denials go to the ``labelops.audit`` log.
    pg_dsn: str = ""
    auth_schema: Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]{0,62}$")] = "labelops_auth"
    audit_schema: Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]{0,62}$")] = "labelops_gateway"
    #: Seconds between two snapshots of the stored keys; a snapshot older than
    #: ``auth_max_staleness_s`` makes stored-key callers 503 (fail closed).
    auth_refresh_s: Annotated[float, Field(gt=0, le=60)] = 1.0
    auth_max_staleness_s: Annotated[float, Field(gt=0)] = 30.0

    #: Per-principal rate limit (token bucket keyed by tenant + subject) on every
    #: authenticated route: requests per second refilled, and the burst a bucket holds.
    #: 0 requests per second = no limit. Over it → 429 with ``Retry-After``.
    rate_limit_per_s: Annotated[float, Field(ge=0)] = 20.0
    rate_limit_burst: Annotated[int, Field(ge=1)] = 100
    #: Login attempts (``POST /v1/session``) per client address: per second and burst.
    login_rate_per_s: Annotated[float, Field(ge=0)] = 1.0
    login_burst: Annotated[int, Field(ge=1)] = 10

    #: The session cookie the login endpoint sets (HttpOnly, SameSite=Strict; Secure when
    #: the request came over https, or always with ``session_cookie_secure``).
    session_cookie_name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")] = (
        "labelops_session"
    )
    session_cookie_max_age_s: Annotated[int, Field(ge=60)] = 8 * 3600
    session_cookie_secure: bool = False

    #: Where dataset version files are read from for downloads. Empty = the store the version's
    #: manifest URI names (right when the gateway sees the same store as the datasets service:
    #: the same S3 bucket, or the same mounted folder).
    datasets_store_url: str = ""
    #: Bytes per chunk of a streamed file download.
    download_chunk_bytes: Annotated[int, Field(ge=4096)] = 1 * MIB

    #: Origins allowed to call the gateway from a browser (CORS); empty = same origin only.
    cors_origins: list[str] = Field(default_factory=list)
    #: After SIGTERM, how long open requests (event streams) may run before they are cancelled.
    shutdown_grace_s: Annotated[int, Field(ge=0)] = 5
    log_level: str = "INFO"

    @property
    def targets(self) -> dict[str, str]:
        """gRPC target per service name."""
        return {s: getattr(self, f"{s}_target") for s in SERVICES}
