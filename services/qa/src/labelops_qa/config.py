"""Settings of the QA service, from the environment (prefix ``LABELOPS_QA_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1024 * 1024


def default_migrations_dir() -> Path:
    """``services/qa/migrations`` of the checkout this package runs from."""
    return Path(__file__).resolve().parents[2] / "migrations"


class Settings(BaseSettings):
    """Every field can be set as ``LABELOPS_QA_<FIELD>``."""

    model_config = SettingsConfigDict(
        env_prefix="LABELOPS_QA_", extra="ignore", populate_by_name=True, frozen=True
    )

    pg_dsn: str = "postgresql://labelops@127.0.0.1:55432/labelops"
    pg_pool_min_size: Annotated[int, Field(ge=1)] = 1
    pg_pool_max_size: Annotated[int, Field(ge=1)] = 10
    db_schema: Annotated[
        str, Field(validation_alias="LABELOPS_QA_SCHEMA", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    ] = "qa"
    kafka_bootstrap: str = "127.0.0.1:29092"
    service_name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$")] = "qa"
    #: Tasks and labels come from routing; published versions (to validate reviewers' fixes)
    #: from the ontology service.
    routing_topic: str = "labelops.routing.events.v1"
    ontology_topic: str = "labelops.ontology.events.v1"
    relay_enabled: bool = True
    consumers_enabled: bool = True
    host: str = "[::]"
    port: Annotated[int, Field(ge=0, le=65535)] = 50055
    max_message_bytes: Annotated[int, Field(ge=1 * MIB)] = 16 * MIB
    grace_period_s: Annotated[float, Field(ge=0)] = 10.0
    default_timeout_s: Annotated[float, Field(gt=0)] = 120.0
    #: Gold answers per drift window; drift = recent window accuracy below the earlier
    #: accuracy by at least drift_drop.
    drift_window: Annotated[int, Field(ge=5)] = 20
    drift_drop: Annotated[float, Field(gt=0, le=1)] = 0.2
    #: Box consensus: IoU a box needs with a cluster to join it, per class ("*" = default).
    box_iou_thresholds: dict[str, Annotated[float, Field(gt=0, le=1)]] = {"*": 0.5}
    #: A task whose consensus score is below this goes to review (targeted policy).
    review_min_score: Annotated[float, Field(ge=0, le=1)] = 0.7
    migrations_dir: Path = Field(default_factory=default_migrations_dir, validate_default=True)
    log_level: str = "INFO"

    @field_validator("migrations_dir")
    @classmethod
    def _exists(cls, v: Path) -> Path:
        if not (v / "0001_read_models.sql").is_file():
            raise ValueError(
                f"{v} holds no 0001_read_models.sql; set LABELOPS_QA_MIGRATIONS_DIR to the"
                " service's migrations directory (services/qa/migrations)"
            )
        return v
