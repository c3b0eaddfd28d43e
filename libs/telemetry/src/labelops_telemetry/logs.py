"""JSON log lines on stderr, each stamped with the service and the active trace/span ids.

One JSON object per line lets the log pipeline index fields without parsing free text, and the
trace id joins a log line to its trace in the tracing backend.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import IO, Any

from opentelemetry import trace

# Attributes every LogRecord has; anything else on a record came from ``extra=`` and is
# worth emitting as its own field.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
    "trace_id",
    "span_id",
}
_RESERVED = frozenset(
    {"timestamp", "level", "logger", "message", "service", "trace_id", "span_id", "exc_info"}
)


class TraceContextFilter(logging.Filter):
    """Copies the active span's ids onto each record.

    Runs while the record is being emitted, i.e. in the caller's thread and context, so the ids
    are right even when a later handler formats the record elsewhere (e.g. a QueueHandler).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Stamp ``trace_id`` / ``span_id`` (unless already set); never drops a record."""
        if not hasattr(record, "trace_id"):
            span_context = trace.get_current_span().get_span_context()
            if span_context.is_valid:
                record.trace_id = format(span_context.trace_id, "032x")
                record.span_id = format(span_context.span_id, "016x")
        return True


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object.

    Fields: timestamp (UTC, ISO 8601, milliseconds), level, logger, message, service,
    trace_id / span_id when a span was active, exc_info (formatted traceback) when given,
    plus any ``extra=`` fields.
    """

    def __init__(self, service_name: str) -> None:
        super().__init__()
        self._service = service_name

    def format(self, record: logging.LogRecord) -> str:
        """The JSON line for ``record`` (without the trailing newline)."""
        line: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": self._service,
        }
        trace_id = getattr(record, "trace_id", None)
        if trace_id is None:
            # No TraceContextFilter on this handler: fall back to the formatting context.
            span_context = trace.get_current_span().get_span_context()
            if span_context.is_valid:
                line["trace_id"] = format(span_context.trace_id, "032x")
                line["span_id"] = format(span_context.span_id, "016x")
        else:
            line["trace_id"] = trace_id
            line["span_id"] = getattr(record, "span_id", "")
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc_info"] = record.exc_text
        if record.stack_info:
            line["stack_info"] = self.formatStack(record.stack_info)
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRS and key not in _RESERVED and not key.startswith("_"):
                line[key] = value
        # default=str: an odd ``extra`` value must not make the log line itself fail.
        return json.dumps(line, default=str, ensure_ascii=False)


class StreamDetachNoiseFilter(logging.Filter):
    """Demotes OpenTelemetry's "Failed to detach context" to DEBUG when it comes from a gRPC
    stream closed by its client (open-telemetry/opentelemetry-python-contrib#2357): the aio
    stream interceptor's span context is closed from another context when the client cancels.
    Only the log line is affected (the span still ends); left at ERROR it would be logged for
    every vendor that disconnects a ``Work`` stream."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "opentelemetry.context" and record.getMessage().startswith(
            "Failed to detach context"
        ):
            exc = record.exc_info[1] if record.exc_info else None
            if isinstance(exc, ValueError) and "different Context" in str(exc):
                record.levelno, record.levelname = logging.DEBUG, "DEBUG"
                return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


def configure_logging(
    service_name: str, level: str | int = "INFO", *, stream: IO[str] | None = None
) -> logging.Handler:
    """Send every log record of the process as JSON lines to stderr (or ``stream``).

    Installs one handler on the root logger and sets the root level. Calling it again replaces
    the handler it installed before (so there are never duplicate lines) and leaves handlers
    installed by others (pytest's capture, for one) alone. Warnings issued through
    ``warnings.warn`` are routed into logging too. Returns the installed handler.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_labelops_json", False):
            root.removeHandler(handler)
            handler.close()
    handler = logging.StreamHandler(sys.stderr if stream is None else stream)
    handler._labelops_json = True  # type: ignore[attr-defined]
    handler.addFilter(TraceContextFilter())
    handler.addFilter(StreamDetachNoiseFilter())
    handler.setFormatter(JsonFormatter(service_name))
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    logging.captureWarnings(True)
    return handler
