"""OpenTelemetry instruments of the consumer runner (meter "labelops.bus").

The SDK keeps the callbacks of the *first* registration of an observable instrument and
ignores those of later registrations with the same name. One lag gauge per meter therefore
reports for every live runner (a service may run several projections), instead of each runner
registering its own gauge.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation

if TYPE_CHECKING:
    from typing import Protocol

    class _Reports(Protocol):
        def _lag_observations(self) -> list[Observation]: ...


METER_NAME = "labelops.bus"
PROCESSED = "labelops.consumer.processed"
LAG = "labelops.consumer.lag"
HANDLER_DURATION = "labelops.consumer.handler.duration"
RETRIES = "labelops.consumer.retries"


class Instruments:
    """Instruments shared by every runner that reports to one meter provider."""

    def __init__(self, meter: metrics.Meter) -> None:
        self.runners: weakref.WeakSet[_Reports] = weakref.WeakSet()
        self.processed = meter.create_counter(
            PROCESSED,
            unit="{event}",
            description="Records finished by a consumer, by outcome "
            "(applied, duplicate, dead_lettered).",
        )
        self.handler_duration = meter.create_histogram(
            HANDLER_DURATION,
            unit="s",
            description="Duration of one handler call inside its transaction (each attempt).",
        )
        self.retries = meter.create_counter(
            RETRIES,
            unit="{attempt}",
            description="Failed attempts that were retried.",
        )
        meter.create_observable_gauge(
            LAG,
            callbacks=[self._observe_lag],
            unit="{message}",
            description="Messages between the consumer's position and the end of the "
            "partition (last stable offset under read_committed).",
        )

    def _observe_lag(self, _options: CallbackOptions) -> Iterable[Observation]:
        for runner in list(self.runners):
            yield from runner._lag_observations()


_lock = threading.Lock()
_by_provider: dict[Any, Instruments] = {}
_GLOBAL = object()


def instruments_for(provider: MeterProvider | None) -> Instruments:
    """The shared instruments for ``provider`` (None: the global provider, even if it is set
    later — the API's proxy meter forwards to it)."""
    key = _GLOBAL if provider is None else provider
    with _lock:
        found = _by_provider.get(key)
        if found is None:
            meter = (
                metrics.get_meter(METER_NAME)
                if provider is None
                else provider.get_meter(METER_NAME)
            )
            found = _by_provider[key] = Instruments(meter)
        return found
