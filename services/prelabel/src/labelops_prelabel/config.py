"""Settings of the prelabel service, from the environment (prefix ``LABELOPS_PRELABEL_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1024 * 1024


def default_migrations_dir() -> Path:
    """``services/prelabel/migrations`` of the checkout this package runs from."""
    return Path(__file__).resolve().parents[2] / "migrations"


class Settings(BaseSettings):
    """Every field can be set as ``LABELOPS_PRELABEL_<FIELD>``."""

    model_config = SettingsConfigDict(
        env_prefix="LABELOPS_PRELABEL_", extra="ignore", populate_by_name=True, frozen=True
    )

    pg_dsn: str = "postgresql://labelops@127.0.0.1:55432/labelops"
    pg_pool_min_size: Annotated[int, Field(ge=1)] = 1
    pg_pool_max_size: Annotated[int, Field(ge=1)] = 10
    db_schema: Annotated[
        str, Field(validation_alias="LABELOPS_PRELABEL_SCHEMA", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    ] = "prelabel"
    kafka_bootstrap: str = "127.0.0.1:29092"
    service_name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$")] = "prelabel"
    #: Tasks and annotators' outcomes come from routing, accepted labels from QA, embeddings
    #: from curation.
    routing_topic: str = "labelops.routing.events.v1"
    qa_topic: str = "labelops.qa.events.v1"
    curation_topic: str = "labelops.curation.events.v1"
    relay_enabled: bool = True
    consumers_enabled: bool = True
    #: The pre-label and training loops. Run them in one replica per schema (a second one
    #: would only lose optimistic-concurrency races, never publish twice).
    workers_enabled: bool = True
    host: str = "[::]"
    port: Annotated[int, Field(ge=0, le=65535)] = 50054
    max_message_bytes: Annotated[int, Field(ge=1 * MIB)] = 16 * MIB
    grace_period_s: Annotated[float, Field(ge=0)] = 10.0
    default_timeout_s: Annotated[float, Field(gt=0)] = 120.0
    #: How often the loops look for pending tasks and due trainings.
    poll_interval_s: Annotated[float, Field(gt=0)] = 0.5
    #: Tasks pre-labeled per model call.
    prelabel_batch: Annotated[int, Field(ge=1, le=1000)] = 64
    #: Model-server calls a task waits through (a failed call is tried again in a later
    #: round); after that the task goes on without a pre-label.
    prelabel_attempts: Annotated[int, Field(ge=1, le=10)] = 2
    #: External model servers: one attempt's deadline, retries, circuit breaker.
    model_timeout_s: Annotated[float, Field(gt=0)] = 5.0
    model_retries: Annotated[int, Field(ge=0, le=10)] = 2
    model_breaker_failures: Annotated[int, Field(ge=1)] = 5
    model_breaker_reset_s: Annotated[float, Field(gt=0)] = 30.0
    #: Built-in models: first training after this many accepted labels.
    min_labels_to_train: Annotated[int, Field(ge=2)] = 20
    #: ROI: observations needed with and without pre-labels before a switch, the window of
    #: recent observations per side, how many new observations trigger a re-evaluation, the
    #: saving (s per item) pre-labels must credibly keep, and the extra saving needed to switch
    #: a disabled class on again.
    roi_min_samples: Annotated[int, Field(ge=2)] = 20
    roi_window: Annotated[int, Field(ge=2)] = 500
    roi_eval_every: Annotated[int, Field(ge=1)] = 5
    roi_min_saving_s: float = 0.0
    roi_hysteresis_s: Annotated[float, Field(ge=0)] = 1.0
    #: Bootstrap resamples behind the saving's confidence bounds.
    roi_n_boot: Annotated[int, Field(ge=100)] = 2000
    #: Share of tasks of a switched-off class that still get pre-labels, so the evidence that
    #: could switch it on again keeps coming (0 = none).
    roi_explore_rate: Annotated[float, Field(ge=0, le=1)] = 0.1
    migrations_dir: Path = Field(default_factory=default_migrations_dir, validate_default=True)
    log_level: str = "INFO"

    @field_validator("migrations_dir")
    @classmethod
    def _exists(cls, v: Path) -> Path:
        if not (v / "0001_read_models.sql").is_file():
            raise ValueError(
                f"{v} holds no 0001_read_models.sql; set LABELOPS_PRELABEL_MIGRATIONS_DIR to the"
                " service's migrations directory (services/prelabel/migrations)"
            )
        return v
