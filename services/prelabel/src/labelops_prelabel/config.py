"""Settings of the prelabel service, from the environment (prefix ``LABELOPS_PRELABEL_``).

The fields every service shares (Postgres, Kafka, topics, port, limits, migrations) come from
``labelops_servicekit.ServiceSettings``; only the prelabel service's own are here. It reads
routing's topic (tasks and annotators' outcomes), QA's (accepted labels) and curation's
(embeddings).
"""

from __future__ import annotations

from typing import Annotated

from labelops_servicekit import Port, ServiceName, ServiceSettings, service_config
from pydantic import Field


class Settings(ServiceSettings):
    """Every field can be set as ``LABELOPS_PRELABEL_<FIELD>``."""

    model_config = service_config("prelabel")

    service_name: ServiceName = "prelabel"
    port: Port = 50054
    #: Trainings and scoring rounds can take a while.
    default_timeout_s: Annotated[float, Field(gt=0)] = 120.0
    #: The pre-label and training loops. Run them in one replica per schema (a second one
    #: would only lose optimistic-concurrency races, never publish twice).
    workers_enabled: bool = True
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
