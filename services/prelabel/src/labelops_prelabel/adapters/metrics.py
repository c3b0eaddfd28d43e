"""OpenTelemetry instruments of the prelabel service (meter "labelops.prelabel").

Throughput: pre-label decisions by outcome (proposed / skipped / failed / pending = retried).
Queue depth: tasks waiting for a pre-label, refreshed by the pre-label loop each round (an
observable gauge cannot query Postgres from its callback). Training time per model kind.
"""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

_meter = metrics.get_meter("labelops.prelabel")
#: schema → pending tasks; written by ``set_pending``.
_pending: dict[str, int] = {}

prelabels = _meter.create_counter(
    "labelops.prelabel.decisions",
    unit="{task}",
    description="Pre-label decisions per task, by outcome (proposed, skipped, failed, pending).",
)
trainings = _meter.create_histogram(
    "labelops.prelabel.training.duration",
    unit="s",
    description="Wall time of one built-in model training, by kind.",
)


def _observe(options: CallbackOptions) -> Iterable[Observation]:
    for schema, n in list(_pending.items()):
        yield Observation(n, {"schema": schema})


_meter.create_observable_gauge(
    "labelops.prelabel.queue.depth",
    callbacks=[_observe],
    unit="{task}",
    description="Open tasks waiting for a pre-label.",
)


def set_pending(schema: str, n: int) -> None:
    _pending[schema] = n
