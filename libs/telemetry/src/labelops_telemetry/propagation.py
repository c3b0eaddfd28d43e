"""W3C trace-context helpers: the path gRPC → envelope → Kafka headers → consumer span."""

from __future__ import annotations

from opentelemetry import context as otel_context
from opentelemetry import trace
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


def current_trace_id() -> str:
    """The 32-hex trace id of the active span, or "" when there is none.

    Works without a recording SDK span too: a non-recording span that carries a remote parent
    still has that parent's trace id, which is what callers correlate on.
    """
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return ""
    return format(span_context.trace_id, "032x")
