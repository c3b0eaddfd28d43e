"""Process-wide OpenTelemetry setup: one TracerProvider and one MeterProvider per process.

OpenTelemetry's global providers can be set only once per process, so ``setup_telemetry`` is
idempotent: the first call builds and registers the providers, later calls return the same
handle and only attach the extra exporter / reader they were given (tests rely on that to
observe spans and metrics of code that already configured telemetry).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_NAMESPACE, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)

_log = logging.getLogger(__name__)

#: Value of the ``service.namespace`` resource attribute on every labelops service.
SERVICE_NAMESPACE_VALUE = "labelops"

_OTLP_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
_OTLP_TRACES_ENDPOINT = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
_OTLP_METRICS_ENDPOINT = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"
_CONSOLE = "LABELOPS_OTEL_CONSOLE"


@dataclass
class Telemetry:
    """Handle on the process's providers, returned by :func:`setup_telemetry`."""

    service_name: str
    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    # Identity lists (exporters / readers need not be hashable) so a repeated setup call
    # with the same object does not attach it twice and duplicate every span.
    _span_exporters: list[SpanExporter] = field(default_factory=list, repr=False)
    _metric_readers: list[MetricReader] = field(default_factory=list, repr=False)

    def force_flush(self, timeout_millis: int = 10_000) -> bool:
        """Export everything buffered so far; True when both providers flushed in time."""
        spans_ok = self.tracer_provider.force_flush(timeout_millis)
        metrics_ok = self.meter_provider.force_flush(timeout_millis)
        return bool(spans_ok and metrics_ok)

    def shutdown(self) -> None:
        """Flush and stop exporting (call once, at process exit; atexit also does it)."""
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


_lock = threading.Lock()
_state: Telemetry | None = None


def setup_telemetry(
    service_name: str,
    *,
    span_exporter: SpanExporter | None = None,
    metric_reader: MetricReader | None = None,
    environ: Mapping[str, str] | None = None,
) -> Telemetry:
    """Configure tracing and metrics for this process and register them globally.

    Exporters come from the environment: OTLP/gRPC when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or the
    signal-specific ``..._TRACES_ENDPOINT`` / ``..._METRICS_ENDPOINT``) is set, the console when
    ``LABELOPS_OTEL_CONSOLE=1``. ``span_exporter`` / ``metric_reader`` add explicit ones (tests:
    ``InMemorySpanExporter`` / ``InMemoryMetricReader``); an explicit span exporter is fed by a
    synchronous ``SimpleSpanProcessor`` so spans are visible as soon as they end.

    Safe to call more than once: later calls return the first call's handle (a different
    ``service_name`` is ignored with a warning) and attach any exporter / reader not yet
    attached.
    """
    global _state
    env = os.environ if environ is None else environ
    with _lock:
        if _state is None:
            _state = _build(service_name, env)
        elif service_name != _state.service_name:
            _log.warning(
                "telemetry already set up for service %r; ignoring service name %r",
                _state.service_name,
                service_name,
            )
        if span_exporter is not None:
            _attach_span_exporter(_state, span_exporter)
        if metric_reader is not None:
            _attach_metric_reader(_state, metric_reader)
        return _state


def get_tracer(name: str) -> trace.Tracer:
    """A tracer from the global provider (a no-op proxy until ``setup_telemetry`` runs)."""
    return trace.get_tracer(name)


def get_meter(name: str) -> metrics.Meter:
    """A meter from the global provider (a no-op proxy until ``setup_telemetry`` runs)."""
    return metrics.get_meter(name)


def _build(service_name: str, env: Mapping[str, str]) -> Telemetry:
    # Explicit attributes win over OTEL_RESOURCE_ATTRIBUTES / OTEL_SERVICE_NAME, so a service
    # cannot be mislabelled by an environment meant for another one.
    resource = Resource.create(
        {SERVICE_NAME: service_name, SERVICE_NAMESPACE: SERVICE_NAMESPACE_VALUE}
    )
    console = env.get(_CONSOLE, "").strip().lower() in ("1", "true", "yes")

    tracer_provider = _existing_sdk_tracer_provider() or TracerProvider(resource=resource)
    if env.get(_OTLP_ENDPOINT) or env.get(_OTLP_TRACES_ENDPOINT):
        # Imported lazily: the OTLP exporter pulls in grpc channels nobody needs otherwise.
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    if console:
        tracer_provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))

    readers: list[MetricReader] = []
    if env.get(_OTLP_ENDPOINT) or env.get(_OTLP_METRICS_ENDPOINT):
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
    if console:
        readers.append(PeriodicExportingMetricReader(ConsoleMetricExporter()))

    meter_provider = _existing_sdk_meter_provider()
    if meter_provider is None:
        meter_provider = MeterProvider(resource=resource, metric_readers=readers)
    else:
        for reader in readers:
            _add_reader(meter_provider, reader)

    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(meter_provider)
    return Telemetry(service_name, tracer_provider, meter_provider)


def _existing_sdk_tracer_provider() -> TracerProvider | None:
    # Auto-instrumentation (opentelemetry-instrument) may have registered a provider already;
    # ours could not replace it, so reuse it rather than exporting into a provider nobody reads.
    current = trace.get_tracer_provider()
    return current if isinstance(current, TracerProvider) else None


def _existing_sdk_meter_provider() -> MeterProvider | None:
    current = metrics.get_meter_provider()
    return current if isinstance(current, MeterProvider) else None


def _attach_span_exporter(state: Telemetry, exporter: SpanExporter) -> None:
    if any(existing is exporter for existing in state._span_exporters):
        return
    state.tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    state._span_exporters.append(exporter)


def _attach_metric_reader(state: Telemetry, reader: MetricReader) -> None:
    if any(existing is reader for existing in state._metric_readers):
        return
    _add_reader(state.meter_provider, reader)
    state._metric_readers.append(reader)


def _add_reader(provider: MeterProvider, reader: MetricReader) -> None:
    # MeterProvider.add_metric_reader only exists in recent SDKs (the pinned 1.45 has it);
    # older ones fix their readers at construction.
    add = getattr(provider, "add_metric_reader", None)
    if add is None:
        raise RuntimeError(
            "this opentelemetry-sdk cannot add a metric reader to a running MeterProvider; "
            "pass metric_reader to the first setup_telemetry() call"
        )
    add(reader)
