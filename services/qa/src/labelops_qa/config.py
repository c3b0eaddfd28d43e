"""Settings of the QA service, from the environment (prefix ``LABELOPS_QA_``).

The fields every service shares (Postgres, Kafka, topics, port, limits, migrations) come from
``labelops_servicekit.ServiceSettings``; only the QA service's own are here. It consumes
routing's topic (tasks and labels) and the ontology service's (published versions, to
validate reviewers' fixes): ``routing_topic``, ``ontology_topic``.
"""

from __future__ import annotations

from typing import Annotated

from labelops_servicekit import Port, ServiceName, ServiceSettings, service_config
from pydantic import Field


class Settings(ServiceSettings):
    """Every field can be set as ``LABELOPS_QA_<FIELD>`` (``LABELOPS_QA_PG_DSN``)."""

    model_config = service_config("qa")

    service_name: ServiceName = "qa"
    port: Port = 50055
    #: Project-wide consensus runs and label-issue detection read a whole project.
    default_timeout_s: Annotated[float, Field(gt=0)] = 120.0
    #: Gold answers per drift window; drift = recent window accuracy below the earlier
    #: accuracy by at least drift_drop.
    drift_window: Annotated[int, Field(ge=5)] = 20
    drift_drop: Annotated[float, Field(gt=0, le=1)] = 0.2
    #: Box consensus: IoU a box needs with a cluster to join it, per class ("*" = default).
    box_iou_thresholds: dict[str, Annotated[float, Field(gt=0, le=1)]] = {"*": 0.5}
    #: A task whose consensus score is below this goes to review (targeted policy).
    review_min_score: Annotated[float, Field(ge=0, le=1)] = 0.7
