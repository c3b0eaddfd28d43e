"""setup_telemetry, JSON logging and the trace-context helpers."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from labelops_telemetry import (
    configure_logging,
    context_from_traceparent,
    current_trace_id,
    current_traceparent,
    get_meter,
    get_tracer,
    setup_telemetry,
    trace_id_of,
)
from opentelemetry import trace
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


@pytest.fixture(scope="module")
def spans() -> InMemorySpanExporter:
    """Spans of this module, collected through the process-wide telemetry setup."""
    exporter = InMemorySpanExporter()
    setup_telemetry("telemetry-tests", span_exporter=exporter)
    return exporter


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """JSON logging into a buffer; the root logger is restored afterwards."""
    root = logging.getLogger()
    saved_level = root.level
    stream = io.StringIO()
    handler = configure_logging("telemetry-tests", "DEBUG", stream=stream)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(saved_level)
        logging.captureWarnings(False)


def _lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_log_line_inside_span_carries_its_trace_and_span_id(spans, log_stream):
    with get_tracer("tests").start_as_current_span("work") as span:
        logging.getLogger("labelops.test").info("inside %s", "span", extra={"task_id": "t9"})
    logging.getLogger("labelops.test").warning("outside")

    inside, outside = _lines(log_stream)
    context = span.get_span_context()
    assert inside["trace_id"] == f"{context.trace_id:032x}"
    assert inside["span_id"] == f"{context.span_id:016x}"
    assert inside["message"] == "inside span"
    assert (inside["level"], inside["logger"], inside["service"]) == (
        "INFO",
        "labelops.test",
        "telemetry-tests",
    )
    assert inside["task_id"] == "t9"
    assert inside["timestamp"].endswith("+00:00")
    assert "trace_id" not in outside and outside["level"] == "WARNING"


def test_exception_is_logged_with_traceback(log_stream):
    try:
        raise ValueError("bad thing")
    except ValueError:
        logging.getLogger("labelops.test").exception("failed")
    (line,) = _lines(log_stream)
    assert line["message"] == "failed"
    assert "Traceback" in line["exc_info"] and "ValueError: bad thing" in line["exc_info"]


def test_configure_logging_twice_does_not_duplicate_lines(log_stream):
    second = io.StringIO()
    handler = configure_logging("telemetry-tests", "INFO", stream=second)
    try:
        logging.getLogger("labelops.test").info("once")
    finally:
        logging.getLogger().removeHandler(handler)
    assert log_stream.getvalue() == ""
    assert [line["message"] for line in _lines(second)] == ["once"]


def test_setup_twice_returns_the_same_providers(spans):
    first = setup_telemetry("telemetry-tests")
    again = setup_telemetry("telemetry-tests", span_exporter=spans)  # already attached
    other_name = setup_telemetry("some-other-service")
    assert first is again is other_name
    assert first.tracer_provider is trace.get_tracer_provider()
    # The first setup in the process names the service (another suite may have run first);
    # a later call with another name must not rename it.
    assert first.tracer_provider.resource.attributes["service.name"] != "some-other-service"

    with get_tracer("tests").start_as_current_span("counted-once"):
        pass
    assert [s.name for s in spans.get_finished_spans()].count("counted-once") == 1


def test_metric_reader_attached_later_sees_measurements():
    reader = InMemoryMetricReader()
    setup_telemetry("telemetry-tests", metric_reader=reader)
    get_meter("tests").create_counter("labelops.test.things").add(3, {"kind": "a"})
    data = reader.get_metrics_data()
    assert data is not None
    points = [
        point
        for resource_metrics in data.resource_metrics
        for scope_metrics in resource_metrics.scope_metrics
        for metric in scope_metrics.metrics
        if metric.name == "labelops.test.things"
        for point in metric.data.data_points
    ]
    assert [getattr(p, "value", None) for p in points] == [3]


def test_traceparent_round_trip(spans):
    tracer = get_tracer("tests")
    with tracer.start_as_current_span("producer") as producer:
        traceparent = current_traceparent()
        assert current_trace_id() == f"{producer.get_span_context().trace_id:032x}"
    assert trace_id_of(traceparent) == f"{producer.get_span_context().trace_id:032x}"

    # The consumer side: a new span whose parent is the producer, from the header alone.
    with tracer.start_as_current_span(
        "consumer", context=context_from_traceparent(traceparent.encode())
    ) as consumer:
        assert trace_id_of(current_traceparent()) == trace_id_of(traceparent)
    parent = getattr(consumer, "parent", None)  # an SDK span attribute, not in the API type
    assert parent is not None
    assert parent.span_id == producer.get_span_context().span_id


def test_no_span_means_empty_helpers():
    assert current_traceparent() == ""
    assert current_trace_id() == ""
    assert trace_id_of("garbage") == ""
    assert context_from_traceparent(None) is not None


def test_stream_detach_noise_is_demoted_but_other_errors_stay(log_stream):
    otel = logging.getLogger("opentelemetry.context")
    logging.getLogger().setLevel(logging.INFO)
    try:
        raise ValueError("<Token var=...> was created in a different Context")
    except ValueError:
        otel.exception("Failed to detach context")
    try:
        raise RuntimeError("something else")
    except RuntimeError:
        otel.exception("Failed to detach context")
    (line,) = _lines(log_stream)  # the known stream-cancel case is dropped at INFO
    assert line["level"] == "ERROR" and "something else" in line["exc_info"]
    logging.getLogger().setLevel(logging.DEBUG)
    try:
        raise ValueError("was created in a different Context")
    except ValueError:
        otel.exception("Failed to detach context")
    assert _lines(log_stream)[-1]["level"] == "DEBUG"
