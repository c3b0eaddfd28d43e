"""The external model-server adapter against a real HTTP server on 127.0.0.1.

The server is a threaded ``http.server`` speaking MODEL_SERVER_PROTOCOL.md. Each test scripts
its replies (status, body, delay); by default it answers like a well-behaved model. Whatever the
server does, ``predict`` must return a result (never raise), retry only what is worth retrying,
and stop calling a server that keeps failing (circuit breaker, with an injected clock).
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from labelops_core.errors import InvalidArgument
from labelops_prelabel.adapters.model_server import (
    BOUNDS_TOLERANCE,
    Box,
    BreakerState,
    CallError,
    ItemRef,
    Mask,
    ModelServerClient,
    Polygon,
    PredictionResult,
    Task,
    TextSpan,
)
from labelops_testkit.model_server import Handler, ModelServer, Reply, running, well_behaved

CLASSES = ["cat", "dog", "car"]
IMAGES = [
    ItemRef("img-1", "s3://bucket/1.jpg", width=100, height=80),
    ItemRef("img-2", "s3://bucket/2.jpg", width=640, height=480),
]
TEXT = "The cat sat on the mat."
DOC = ItemRef("doc-1", "s3://bucket/doc.txt", text=TEXT)

# --- the model server ---------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[ModelServer]:
    with running() as srv:
        yield srv


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def client_for(server: ModelServer, **kw: Any) -> ModelServerClient:
    opts: dict[str, Any] = {"timeout_s": 2.0, "retries": 2, "backoff_s": 0.01}
    opts.update(kw)
    return ModelServerClient(server.url, **opts)


def reply_with(preds: list[dict[str, Any]], version: str = "m@1") -> Reply:
    return Reply(body={"model_version": version, "predictions": preds})


def good_pred(item_id: str, **over: Any) -> dict[str, Any]:
    pred: dict[str, Any] = {
        "item_id": item_id,
        "class_probabilities": {"cat": 0.8, "dog": 0.2},
        "labels": [{"class_id": "cat", "confidence": 0.8}],
    }
    pred.update(over)
    return pred


# --- a good server ------------------------------------------------------------------------------


async def test_classify_returns_validated_predictions(server: ModelServer) -> None:
    async with client_for(server, api_key="k-123") as client:
        result = await client.predict("llm-cls", [*IMAGES, DOC], CLASSES, Task.CLASSIFY)

    assert result.ok and result.error is None and result.failed == {}
    assert result.model_version == "llm-cls@7" and result.attempts == 1
    assert set(result.predictions) == {"img-1", "img-2", "doc-1"}
    pred = result.predictions["img-1"]
    assert pred.class_probabilities == pytest.approx({"cat": 0.7, "dog": 0.15, "car": 0.15})
    assert pred.top_class == ("cat", 0.7)
    assert [(lbl.class_id, lbl.confidence, lbl.geometry) for lbl in pred.labels] == [
        ("cat", 0.7, None)
    ]
    proto = pred.labels[0].to_label_proto("l0")
    assert proto.WhichOneof("geometry") == "whole_item" and proto.class_id == "cat"

    # The request is the documented one.
    (request,) = server.requests
    assert request == {
        "model": "llm-cls",
        "items": [
            {"item_id": "img-1", "uri": "s3://bucket/1.jpg", "width": 100, "height": 80},
            {"item_id": "img-2", "uri": "s3://bucket/2.jpg", "width": 640, "height": 480},
            {
                "item_id": "doc-1",
                "uri": "s3://bucket/doc.txt",
                "width": 0,
                "height": 0,
                "text": TEXT,
            },
        ],
        "classes": CLASSES,
        "task": "classify",
    }
    headers = server.headers_seen[0]
    assert headers["Authorization"] == "Bearer k-123"
    assert headers["Content-Type"] == "application/json"


async def test_detect_returns_boxes_inside_the_image(server: ModelServer) -> None:
    async with ModelServerClient(server.url + "/", timeout_s=2.0) as client:  # trailing slash ok
        result = await client.predict("sam", IMAGES, CLASSES, "detect")

    assert result.ok and result.failed == {}
    assert server.requests[0]["task"] == "detect"
    labels = result.predictions["img-2"].labels
    assert labels[0].geometry == Box(64.0, 48.0, 320.0, 432.0) and labels[0].confidence == 0.9
    assert labels[1].geometry == Box(0, 0, 640, 480) and labels[1].confidence == 0.0
    protos = result.predictions["img-2"].to_label_protos("pre")
    assert [p.label_id for p in protos] == ["pre-0", "pre-1"]
    assert protos[0].WhichOneof("geometry") == "box"
    assert (protos[0].box.x, protos[0].box.width, protos[0].confidence) == (64.0, 320.0, 0.9)


async def test_segment_polygon_mask_and_text_span(server: ModelServer) -> None:
    # 4x2 mask (height 2, width 4): runs of 0s and 1s over the column-major pixels.
    small = ItemRef("img-s", "s3://bucket/s.png", width=4, height=2)
    server.script.append(
        reply_with(
            [
                {
                    "item_id": "img-s",
                    "labels": [
                        {"class_id": "cat", "polygon": [[0, 0], [4, 0], [4.0, 2.0005]]},
                        {"class_id": "dog", "mask": {"height": 2, "width": 4, "counts": [3, 5]}},
                    ],
                },
                {
                    "item_id": "doc-1",
                    "labels": [
                        {"class_id": "cat", "confidence": 1, "text_span": {"start": 4, "end": 7}}
                    ],
                },
            ]
        )
    )
    async with client_for(server) as client:
        result = await client.predict("seg", [small, DOC], CLASSES, Task.SEGMENT)

    assert result.ok and result.failed == {}
    seg = result.predictions["img-s"]
    assert seg.class_probabilities == {} and seg.top_class is None  # optional outside classify
    assert seg.labels[0].geometry == Polygon(((0.0, 0.0), (4.0, 0.0), (4.0, 2.0005)))
    assert seg.labels[1].geometry == Mask(2, 4, (3, 5))
    span = result.predictions["doc-1"].labels[0]
    assert span.geometry == TextSpan(4, 7) and TEXT[4:7] == "cat"
    protos = [*seg.to_label_protos(), *result.predictions["doc-1"].to_label_protos()]
    assert [p.WhichOneof("geometry") for p in protos] == ["polygon", "mask", "text_span"]
    assert list(protos[1].mask.counts) == [3, 5] and len(protos[0].polygon.points) == 3


async def test_the_documented_example_is_valid(server: ModelServer) -> None:
    """The request / response examples of MODEL_SERVER_PROTOCOL.md, served for real."""
    doc = (Path(__file__).parents[2] / "MODEL_SERVER_PROTOCOL.md").read_text()
    request, response = (json.loads(b) for b in re.findall(r"```json\n(.*?)```", doc, re.S)[:2])
    server.script.append(Reply(body=response))
    async with client_for(server) as client:
        result = await client.predict(
            request["model"],
            [ItemRef(**i) for i in request["items"]],
            request["classes"],
            request["task"],
        )
    assert server.requests == [request]
    assert result.ok and result.failed == {} and len(result.predictions) == 2
    kinds = [type(lbl.geometry) for p in result.predictions.values() for lbl in p.labels]
    assert kinds == [Box, Polygon, Mask, TextSpan]


async def test_no_items_sends_nothing(server: ModelServer) -> None:
    async with client_for(server) as client:
        result = await client.predict("m", [], CLASSES, Task.CLASSIFY)
    assert result == PredictionResult() and result.ok and server.calls == 0


@pytest.mark.parametrize(
    ("items", "classes", "task", "field"),
    [
        (IMAGES, CLASSES, "transcribe", "task"),
        (IMAGES, [], "classify", "classes"),
        (IMAGES, ["cat", "cat"], "classify", "classes[1]"),
        ([IMAGES[0], IMAGES[0]], CLASSES, "classify", "items[1].item_id"),
        ([ItemRef("")], CLASSES, "classify", "items[0].item_id"),
        ([ItemRef("x", width=-1)], CLASSES, "classify", "items[0]"),
    ],
)
async def test_a_wrong_call_raises_invalid_argument(
    server: ModelServer, items: list[ItemRef], classes: list[str], task: str, field: str
) -> None:
    async with client_for(server) as client:
        with pytest.raises(InvalidArgument) as info:
            await client.predict("m", items, classes, task)
    assert field in [v.field for v in info.value.violations]
    assert server.calls == 0


def test_bounds_tolerance_matches_the_label_validator() -> None:
    from labelops_ontologykit import geometry

    assert geometry.BOUNDS_TOLERANCE == BOUNDS_TOLERANCE


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError):
        ModelServerClient("ftp://model")
    with pytest.raises(ValueError):
        ModelServerClient("http://")
    with pytest.raises(ValueError):
        ModelServerClient("http://model", timeout_s=0)
    with pytest.raises(ValueError):
        ModelServerClient("http://model", breaker_failures=0)


# --- a server that hangs, refuses or breaks the connection ------------------------------------


async def test_hanging_server_times_out_without_raising(server: ModelServer) -> None:
    server.respond = lambda request: Reply(delay=30.0, body={"late": True})
    timeout, retries, backoff = 0.2, 1, 0.05
    async with client_for(server, timeout_s=timeout, retries=retries, backoff_s=backoff) as client:
        start = time.monotonic()
        result = await client.predict("m", IMAGES, CLASSES, Task.DETECT)
        elapsed = time.monotonic() - start

    assert result.error is CallError.TIMEOUT and result.error == "timeout"
    assert "after 2 attempts" in result.detail and result.attempts == 2
    assert result.predictions == {} and result.failed == {}
    assert result.no_prediction_reason("img-1") is not None
    assert result.no_prediction_reason("img-1").startswith("timeout")  # type: ignore[union-attr]
    assert server.calls == 2  # timeouts are retried
    assert timeout * (retries + 1) <= elapsed < timeout * (retries + 1) + backoff + 0.5


async def test_trickling_server_hits_the_overall_deadline(server: ModelServer) -> None:
    """Headers at once, then nothing: the per-attempt deadline covers the body too."""

    class Slow(Handler):
        def _send(self, reply: Reply) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b'{"model_version": ')
            self.wfile.flush()
            self.server.release.wait(30.0)

    server.RequestHandlerClass = Slow
    async with client_for(server, timeout_s=0.2, retries=0) as client:
        start = time.monotonic()
        result = await client.predict("m", IMAGES, CLASSES, Task.DETECT)
    assert result.error is CallError.TIMEOUT and time.monotonic() - start < 1.0


async def test_connection_refused_is_retried_then_reported() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    async with ModelServerClient(f"http://127.0.0.1:{port}", retries=2, backoff_s=0.01) as client:
        result = await client.predict("m", IMAGES, CLASSES, Task.DETECT)
    assert result.error is CallError.CONNECTION and result.attempts == 3
    assert "after 3 attempts" in result.detail


async def test_body_cut_short_is_a_connection_failure(server: ModelServer) -> None:
    class Truncating(Handler):
        def _send(self, reply: Reply) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b'{"model_version": "m@1"')
            self.close_connection = True

    server.RequestHandlerClass = Truncating
    async with client_for(server, retries=1) as client:
        result = await client.predict("m", IMAGES, CLASSES, Task.DETECT)
    assert result.error is CallError.CONNECTION and result.attempts == 2 and server.calls == 2


# --- status codes and retries ---------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 429])
async def test_transient_status_then_success_is_retried(server: ModelServer, status: int) -> None:
    server.script.append(Reply(status=status, body={"error": "busy"}))
    async with client_for(server) as client:
        result = await client.predict("m", IMAGES, CLASSES, Task.CLASSIFY)
    assert result.ok and set(result.predictions) == {"img-1", "img-2"}
    assert result.attempts == 2 and server.calls == 2


async def test_persistent_5xx_reports_server_error_after_retries(server: ModelServer) -> None:
    server.respond = lambda request: Reply(status=503, body={"error": "overloaded"})
    async with client_for(server, retries=2) as client:
        result = await client.predict("m", IMAGES, CLASSES, Task.CLASSIFY)
    assert result.error is CallError.SERVER_ERROR and result.attempts == 3 and server.calls == 3
    assert "HTTP 503" in result.detail and "overloaded" in result.detail
    # The detail stays in the logs; a caller hears the status only.
    assert result.no_prediction_reason("img-1") == "server_error: the model server answered 503"


@pytest.mark.parametrize("status", [400, 401, 404, 422, 501])
async def test_client_errors_are_not_retried(server: ModelServer, status: int) -> None:
    server.respond = lambda request: Reply(status=status, body={"error": "x" * 1000})
    async with client_for(server, retries=3) as client:
        result = await client.predict("m", IMAGES, CLASSES, Task.CLASSIFY)
    assert result.error is CallError.REJECTED and result.attempts == 1 and server.calls == 1
    assert f"HTTP {status}" in result.detail and len(result.detail) < 300  # body snippet only
    told = result.no_prediction_reason("img-1")
    assert told == f"rejected: the model server answered {status}" and "x" not in told


async def test_wrong_path_is_rejected(server: ModelServer) -> None:
    async with ModelServerClient(server.url + "/v2", retries=3) as client:
        result = await client.predict("m", IMAGES, CLASSES, Task.CLASSIFY)
    assert result.error is CallError.REJECTED and "404" in result.detail


@pytest.mark.parametrize("content_length", [True, False])
async def test_oversized_response_is_cut_off(server: ModelServer, content_length: bool) -> None:
    pad = {"pad": "x" * 5000}
    server.respond = lambda request: Reply(
        body={**well_behaved(request).body, **pad}, content_length=content_length
    )
    async with client_for(server, max_response_bytes=1000) as client:
        result = await client.predict("m", IMAGES, CLASSES, Task.CLASSIFY)
    assert result.error is CallError.TOO_LARGE and result.attempts == 1


# --- garbage --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"<html>model is warming up</html>", "not JSON"),
        (b"", "not JSON"),
        (b"\xff\xfe\x00garbage", "not JSON"),
        (b"\x00\x01{\n\tjunk", "not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
        ([1, 2, 3], "not a JSON object"),
        ({"predictions": []}, "model_version"),
        ({"model_version": 7, "predictions": []}, "model_version"),
        ({"model_version": "m@1"}, "'predictions' is not a list"),
        ({"model_version": "m@1", "predictions": {"img-1": {}}}, "'predictions' is not a list"),
        (
            {"model_version": "m@1", "predictions": [good_pred("img-1")] * 3},
            "3 predictions for 2 items",
        ),
        ({"model_version": "m@1", "predictions": ["img-1"]}, "predictions[0]"),
        ({"model_version": "m@1", "predictions": [{"labels": []}]}, "predictions[0]"),
        (
            {"model_version": "m@1", "predictions": [good_pred("img-1"), good_pred("img-9")]},
            "'img-9' was not requested",
        ),
        (
            {"model_version": "m@1", "predictions": [good_pred("img-1"), good_pred("img-1")]},
            "appears twice",
        ),
    ],
)
async def test_garbage_body_is_a_bad_response_not_retried(
    server: ModelServer, body: Any, detail: str
) -> None:
    server.respond = lambda request: Reply(body=body)
    async with client_for(server, retries=2) as client:
        result = await client.predict("m", IMAGES, CLASSES, Task.CLASSIFY)
    assert result.error is CallError.BAD_RESPONSE, result
    assert detail in result.detail
    # Details go to logs and Postgres text: control characters arrive escaped, never raw.
    assert result.detail.isprintable()
    assert result.predictions == {} and result.failed == {}
    assert result.attempts == 1 and server.calls == 1


NAN = float("nan")


@pytest.mark.parametrize(
    ("bad", "task", "reason"),
    [
        ({"class_probabilities": {"cat": NAN, "dog": 0.2}}, "classify", "not finite"),
        ({"class_probabilities": {"cat": float("inf")}}, "classify", "not finite"),
        ({"class_probabilities": {"cat": 10**400}}, "classify", "not finite"),
        ({"class_probabilities": {"cat": 1.2, "dog": -0.2}}, "classify", "outside [0, 1]"),
        ({"class_probabilities": {"cat": 0.5, "dog": 0.4}}, "classify", "sum to 0.9"),
        ({"class_probabilities": {"cat": 0.5, "bird": 0.5}}, "classify", "unknown class"),
        ({"class_probabilities": {"cat": "0.9", "dog": 0.1}}, "classify", "not a number"),
        ({"class_probabilities": {"cat": True}}, "classify", "not a number"),
        ({"class_probabilities": [0.8, 0.2]}, "classify", "not an object"),
        ({"class_probabilities": {}}, "classify", "required for task classify"),
        ({"class_probabilities": None}, "classify", "required for task classify"),
        ({"labels": {"class_id": "cat"}}, "classify", "labels: not a list"),
        ({"labels": ["cat"]}, "classify", "labels[0]: not an object"),
        ({"labels": [{"class_id": "bird"}]}, "classify", "unknown class id 'bird'"),
        ({"labels": [{"confidence": 0.3}]}, "classify", "class_id: not a string"),
        ({"labels": [{"class_id": "cat", "confidence": 1.5}]}, "classify", "outside [0, 1]"),
        (
            {"labels": [{"class_id": "cat", "box": {"x": 90, "y": 10, "width": 20, "height": 5}}]},
            "detect",
            "right edge 110 is beyond the item width 100",
        ),
        (
            {"labels": [{"class_id": "cat", "box": {"x": 1, "y": 70, "width": 5, "height": 11}}]},
            "detect",
            "bottom edge 81 is beyond the item height 80",
        ),
        (
            {"labels": [{"class_id": "cat", "box": {"x": -3, "y": 0, "width": 5, "height": 5}}]},
            "detect",
            "x -3 is outside the item",
        ),
        (
            {"labels": [{"class_id": "cat", "box": {"x": 1, "y": 1, "width": 0, "height": 5}}]},
            "detect",
            "must be > 0",
        ),
        (
            {"labels": [{"class_id": "cat", "box": {"x": 1, "y": NAN, "width": 2, "height": 2}}]},
            "detect",
            "box.y: nan is not finite",
        ),
        (
            {"labels": [{"class_id": "cat", "box": {"x": 1, "y": 1, "width": 2}}]},
            "detect",
            "box.height: not a number",
        ),
        (
            {"labels": [{"class_id": "cat", "polygon": [[0, 0], [5, 5]]}]},
            "segment",
            "2 points",
        ),
        (
            {"labels": [{"class_id": "cat", "polygon": [[0, 0], [5, 5], [101, 3]]}]},
            "segment",
            "polygon[2]: x 101 is outside the item",
        ),
        (
            {"labels": [{"class_id": "cat", "polygon": [[0, 0], [5, 5], {"x": 1, "y": 2}]}]},
            "segment",
            "not an [x, y] pair",
        ),
        (
            {"labels": [{"class_id": "cat", "mask": {"height": 8, "width": 10, "counts": [80]}}]},
            "segment",
            "differs from the item 100x80",
        ),
        (
            {
                "labels": [
                    {"class_id": "cat", "mask": {"height": 80, "width": 100, "counts": [10, 5]}}
                ]
            },
            "segment",
            "runs sum to 15",
        ),
        (
            {
                "labels": [
                    {"class_id": "cat", "mask": {"height": 80, "width": 100, "counts": [-1, 8001]}}
                ]
            },
            "segment",
            "counts[0]: -1 is outside",
        ),
        (
            {
                "labels": [
                    {
                        "class_id": "cat",
                        "box": {"x": 1, "y": 1, "width": 2, "height": 2},
                        "polygon": [[0, 0], [5, 5], [1, 3]],
                    }
                ]
            },
            "detect",
            "more than one geometry (box, polygon)",
        ),
        (
            {"labels": [{"class_id": "cat", "box": [1, 1, 2, 2]}]},
            "detect",
            "box: not an object",
        ),
    ],
)
async def test_garbage_item_drops_that_item_only(
    server: ModelServer, bad: dict[str, Any], task: str, reason: str
) -> None:
    server.script.append(reply_with([good_pred("img-1", **bad), good_pred("img-2")]))
    async with client_for(server) as client:
        result = await client.predict("m", IMAGES, CLASSES, task)
    assert result.ok and result.attempts == 1 and result.model_version == "m@1"
    assert list(result.predictions) == ["img-2"]
    assert list(result.failed) == ["img-1"]
    assert reason in result.failed["img-1"], result.failed["img-1"]
    # What a caller is told names the failure, never what the server sent.
    told = result.no_prediction_reason("img-1")
    assert told == "invalid_prediction: the model server gave an invalid prediction for this item"
    assert result.no_prediction_reason("img-2") is None
    assert client.breaker.consecutive_failures == 0  # one good item: the server works


@pytest.mark.parametrize(
    ("span", "reason"),
    [
        ({"start": 4, "end": 99}, "beyond the text length 23"),
        ({"start": 7, "end": 4}, "must be > start"),
        ({"start": -1, "end": 4}, "start: -1 is outside"),
        ({"start": 1.5, "end": 4}, "start: not an integer"),
    ],
)
async def test_bad_text_span_drops_the_document(
    server: ModelServer, span: dict[str, Any], reason: str
) -> None:
    server.script.append(
        reply_with([good_pred("doc-1", labels=[{"class_id": "cat", "text_span": span}])])
    )
    async with client_for(server) as client:
        result = await client.predict("m", [DOC], CLASSES, Task.DETECT)
    assert result.ok and result.predictions == {}
    assert reason in result.failed["doc-1"]


async def test_items_without_a_prediction_are_reported_missing(server: ModelServer) -> None:
    server.script.append(reply_with([good_pred("img-2")]))
    async with client_for(server) as client:
        result = await client.predict("m", IMAGES, CLASSES, Task.CLASSIFY)
    assert result.ok and list(result.predictions) == ["img-2"]
    assert result.failed == {"img-1": "no prediction returned"}


async def test_too_many_labels_drop_the_item(server: ModelServer) -> None:
    labels = [{"class_id": "cat"}] * 4
    server.script.append(reply_with([good_pred("img-1", labels=labels), good_pred("img-2")]))
    async with client_for(server, max_labels_per_item=3) as client:
        result = await client.predict("m", IMAGES, CLASSES, Task.CLASSIFY)
    assert "4 labels, at most 3" in result.failed["img-1"] and "img-2" in result.predictions


async def test_sizes_unknown_skip_bounds_but_not_finiteness(server: ModelServer) -> None:
    unsized = ItemRef("u", "s3://bucket/u.jpg")
    huge = {"x": 5000, "y": 7000, "width": 300, "height": 300}
    server.script.append(
        reply_with([{"item_id": "u", "labels": [{"class_id": "car", "box": huge}]}])
    )
    server.script.append(
        reply_with(
            [
                {
                    "item_id": "u",
                    "labels": [{"class_id": "car", "box": {**huge, "x": 1e308, "width": 1e308}}],
                }
            ]
        )
    )
    async with client_for(server) as client:
        first = await client.predict("m", [unsized], CLASSES, Task.DETECT)
        second = await client.predict("m", [unsized], CLASSES, Task.DETECT)
    assert first.predictions["u"].labels[0].geometry == Box(5000, 7000, 300, 300)
    assert second.failed["u"] == "labels[0].box: x + width overflows"


# --- circuit breaker ------------------------------------------------------------------------


async def test_breaker_opens_after_repeated_failures_and_recovers(server: ModelServer) -> None:
    clock = FakeClock()
    server.respond = lambda request: Reply(status=503, body={"error": "down"})
    async with client_for(
        server, retries=0, breaker_failures=3, breaker_reset_s=10.0, clock=clock
    ) as client:
        for _ in range(3):
            assert (await client.predict("m", IMAGES, CLASSES, "classify")).error == "server_error"
        assert client.breaker_state is BreakerState.OPEN and server.calls == 3

        # Open: no call reaches the server, and the answer is immediate.
        start = time.monotonic()
        for _ in range(20):
            result = await client.predict("m", IMAGES, CLASSES, "classify")
            assert result.error is CallError.CIRCUIT_OPEN and result.attempts == 0
        assert time.monotonic() - start < 0.5 and server.calls == 3
        assert result.no_prediction_reason("img-1").startswith("circuit_open")  # type: ignore[union-attr]

        clock.now += 9.9
        assert (await client.predict("m", IMAGES, CLASSES, "classify")).error == "circuit_open"
        assert server.calls == 3

        # Half-open after the reset time; the server is back: the trial closes the breaker.
        clock.now += 0.1
        assert client.breaker_state is BreakerState.HALF_OPEN
        server.respond = well_behaved
        result = await client.predict("m", IMAGES, CLASSES, "classify")
        assert result.ok and len(result.predictions) == 2 and server.calls == 4
        assert client.breaker_state is BreakerState.CLOSED
        assert (await client.predict("m", IMAGES, CLASSES, "classify")).ok and server.calls == 5


async def test_failed_trial_reopens_and_is_a_single_attempt(server: ModelServer) -> None:
    clock = FakeClock()
    server.respond = lambda request: Reply(status=500, body={})
    async with client_for(
        server, retries=2, breaker_failures=2, breaker_reset_s=5.0, clock=clock
    ) as client:
        await client.predict("m", IMAGES, CLASSES, "classify")
        await client.predict("m", IMAGES, CLASSES, "classify")
        assert client.breaker_state is BreakerState.OPEN and server.calls == 6  # 2 x 3 attempts

        clock.now += 5.0
        trial = await client.predict("m", IMAGES, CLASSES, "classify")
        assert trial.error is CallError.SERVER_ERROR and trial.attempts == 1 and server.calls == 7
        assert client.breaker_state is BreakerState.OPEN  # for another reset period
        assert (await client.predict("m", IMAGES, CLASSES, "classify")).error == "circuit_open"

        clock.now += 5.0
        server.respond = well_behaved
        assert (await client.predict("m", IMAGES, CLASSES, "classify")).ok
        assert client.breaker_state is BreakerState.CLOSED and server.calls == 8


async def test_half_open_lets_one_trial_through(server: ModelServer) -> None:
    clock = FakeClock()
    server.script = [Reply(status=503, body={})]
    async with client_for(
        server, retries=0, breaker_failures=1, breaker_reset_s=1.0, clock=clock
    ) as client:
        await client.predict("m", IMAGES, CLASSES, "classify")
        assert client.breaker_state is BreakerState.OPEN
        clock.now += 1.0
        server.respond = lambda request: Reply(delay=0.2, body=well_behaved(request).body)
        results = await asyncio.gather(
            *(client.predict("m", IMAGES, CLASSES, "classify") for _ in range(3))
        )
    assert sorted(str(r.error) for r in results) == ["None", "circuit_open", "circuit_open"]
    assert server.calls == 2


async def test_cancelled_trial_gives_the_trial_back(server: ModelServer) -> None:
    clock = FakeClock()
    server.script = [Reply(status=503, body={}), Reply(delay=30.0, body={})]
    async with client_for(
        server, retries=0, breaker_failures=1, breaker_reset_s=1.0, clock=clock
    ) as client:
        await client.predict("m", IMAGES, CLASSES, "classify")
        clock.now += 1.0
        task = asyncio.create_task(client.predict("m", IMAGES, CLASSES, "classify"))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert (await client.predict("m", IMAGES, CLASSES, "classify")).ok


async def test_a_server_answering_only_garbage_opens_the_breaker(server: ModelServer) -> None:
    nan_probs = {"class_probabilities": {"cat": NAN}}
    server.respond = lambda request: reply_with(
        [good_pred(i["item_id"], **nan_probs) for i in request["items"]]
    )
    async with client_for(server, breaker_failures=2, clock=FakeClock()) as client:
        for _ in range(2):
            result = await client.predict("m", IMAGES, CLASSES, "classify")
            assert result.ok and result.predictions == {} and len(result.failed) == 2
        assert (await client.predict("m", IMAGES, CLASSES, "classify")).error == "circuit_open"
    assert server.calls == 2


async def test_a_success_resets_the_failure_count(server: ModelServer) -> None:
    server.script = [Reply(status=400, body={}), Reply(status=400, body={})]
    async with client_for(server, breaker_failures=3, clock=FakeClock()) as client:
        await client.predict("m", IMAGES, CLASSES, "classify")
        await client.predict("m", IMAGES, CLASSES, "classify")
        assert client.breaker.consecutive_failures == 2
        assert (await client.predict("m", IMAGES, CLASSES, "classify")).ok
        assert client.breaker.consecutive_failures == 0
        assert client.breaker_state is BreakerState.CLOSED


async def test_client_reopens_after_close(server: ModelServer) -> None:
    client = client_for(server)
    assert (await client.predict("m", IMAGES, CLASSES, "classify")).ok
    await client.close()
    assert (await client.predict("m", IMAGES, CLASSES, "classify")).ok
    await client.close()
    assert server.calls == 2
