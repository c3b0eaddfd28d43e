"""labelops telemetry: OpenTelemetry setup, JSON logging and W3C trace-context helpers."""

from labelops_telemetry.logs import JsonFormatter, TraceContextFilter, configure_logging
from labelops_telemetry.propagation import (
    context_from_traceparent,
    current_trace_id,
    current_traceparent,
    trace_id_of,
)
from labelops_telemetry.providers import Telemetry, get_meter, get_tracer, setup_telemetry

__all__ = [
    "JsonFormatter",
    "Telemetry",
    "TraceContextFilter",
    "configure_logging",
    "context_from_traceparent",
    "current_trace_id",
    "current_traceparent",
    "get_meter",
    "get_tracer",
    "setup_telemetry",
    "trace_id_of",
]
