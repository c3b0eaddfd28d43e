"""W3C trace-context helpers: the path gRPC → envelope → Kafka headers → consumer span."""

from __future__ import annotations

from opentelemetry import context as otel_context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_propagator = TraceContextTextMapPropagator()


def current_traceparent() -> str:
    """The ``traceparent`` of the active span, or "" when no span is recording."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get("traceparent", "")


def context_from_traceparent(traceparent: str | bytes | None) -> otel_context.Context:
    """An OpenTelemetry context whose parent is ``traceparent`` (empty context if absent)."""
    if isinstance(traceparent, bytes):
        traceparent = traceparent.decode("ascii", "replace")
    if not traceparent:
        return otel_context.Context()
    return _propagator.extract({"traceparent": traceparent})


def trace_id_of(traceparent: str) -> str:
    """The 32-hex trace id inside a traceparent ("" if malformed)."""
    parts = traceparent.split("-")
    return parts[1] if len(parts) == 4 else ""
