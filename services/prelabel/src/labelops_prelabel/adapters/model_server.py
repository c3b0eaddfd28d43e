"""External model server over HTTP: where a SAM-style segmenter, an LLM classifier or any other
model plugs into pre-labeling, by URL.

The wire protocol (``POST {url}/predict``, JSON in and out) and its validation rules are
documented in ``services/prelabel/MODEL_SERVER_PROTOCOL.md``; this module is its client.

Failure policy: a model server is an optional helper, never a dependency of task offering. So
``ModelServerClient.predict`` does not raise on anything the server does (hangs, refuses
connections, answers 5xx, 4xx, non-JSON, the wrong shape, NaN probabilities, boxes outside
the image, more bytes than allowed). It returns a ``PredictionResult``:

- ``error`` (a ``CallError``, a ``str``) + ``detail`` when the whole call failed; then there
  are no predictions at all;
- otherwise ``predictions`` (validated, by item id) and ``failed`` (item id -> reason) for the
  items whose prediction was invalid or missing. One bad item drops that item only.

Only caller bugs raise (``InvalidArgument`` for a bad ``predict`` call, ``ValueError`` for a
bad configuration).

Retries: timeouts, connection failures, ``429`` and ``5xx`` (except ``501``) are retried
``retries`` times with exponential backoff (``backoff_s * 2**n``). Other statuses and bad bodies
are not: resending the same request would get the same answer.

Circuit breaker: after ``breaker_failures`` consecutive failed calls the breaker opens and
calls return ``CallError.CIRCUIT_OPEN`` at once, without touching the network. After
``breaker_reset_s`` one trial call (a single attempt, no retries) goes through (half-open): a
success closes the breaker, a failure opens it for another ``breaker_reset_s``. A call counts
as failed when it has an ``error`` other than ``circuit_open``, or when every prediction the
server returned was invalid (a server answering only garbage is as useless as a dead one).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import Any, Final

import httpx
from labelops.labels.v1 import label_pb2
from labelops_core.errors import InvalidArgument, ViolationCollector

__all__ = [
    "BOUNDS_TOLERANCE",
    "PROBABILITY_TOLERANCE",
    "Box",
    "BreakerState",
    "CallError",
    "CircuitBreaker",
    "Geometry",
    "ItemPrediction",
    "ItemRef",
    "Mask",
    "ModelServerClient",
    "Polygon",
    "PredictedLabel",
    "PredictionResult",
    "Task",
    "TextSpan",
]

log = logging.getLogger(__name__)

#: Pixels a coordinate may exceed the item by (same value as labelops_ontologykit.geometry).
BOUNDS_TOLERANCE: Final = 1e-3
#: How far the class probabilities of one item may sum away from 1.
PROBABILITY_TOLERANCE: Final = 1e-3
#: Longest accepted ``model_version``.
MAX_VERSION_LENGTH: Final = 256
#: Most points in one polygon.
MAX_POLYGON_POINTS: Final = 100_000

_RETRY_STATUS: Final = frozenset({429}) | (frozenset(range(500, 600)) - {501})
_SNIPPET_BYTES: Final = 200
_INT32_MAX: Final = 2**31 - 1
_UINT32_MAX: Final = 2**32 - 1
_INT64_MAX: Final = 2**63 - 1
_GEOMETRY_KEYS: Final = ("box", "polygon", "mask", "text_span")


class Task(StrEnum):
    """What the model is asked to do; sent as ``"task"``."""

    CLASSIFY = "classify"
    DETECT = "detect"
    SEGMENT = "segment"


class CallError(StrEnum):
    """Why a whole call produced no predictions (``PredictionResult.error``)."""

    #: No complete response within ``timeout_s``, on every attempt.
    TIMEOUT = "timeout"
    #: Connection refused / reset / closed early, DNS failure..., on every attempt.
    CONNECTION = "connection"
    #: ``429`` or ``5xx`` on every attempt.
    SERVER_ERROR = "server_error"
    #: Another non-200 status (``4xx``, ``501``...): not retried.
    REJECTED = "rejected"
    #: Not JSON, not the documented shape, or predictions for items that were not asked for.
    BAD_RESPONSE = "bad_response"
    #: The body exceeded ``max_response_bytes``.
    TOO_LARGE = "too_large"
    #: The circuit breaker is open: the server was not called.
    CIRCUIT_OPEN = "circuit_open"


# --- what goes in ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemRef:
    """One item to predict on. ``width`` / ``height`` in pixels, 0 when unknown (bounds are
    then not checked); ``text`` for text items (span bounds are checked against it)."""

    item_id: str
    uri: str = ""
    width: int = 0
    height: int = 0
    text: str | None = None

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "item_id": self.item_id,
            "uri": self.uri,
            "width": self.width,
            "height": self.height,
        }
        if self.text is not None:
            out["text"] = self.text
        return out


# --- what comes out -------------------------------------------------------------------------


@dataclass(frozen=True)
class Box:
    """Axis-aligned box in item pixels: top-left corner plus size."""

    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Polygon:
    """At least 3 ``(x, y)`` points, not closed."""

    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Mask:
    """Uncompressed COCO RLE over the column-major mask, starting with a run of 0s."""

    height: int
    width: int
    counts: tuple[int, ...]


@dataclass(frozen=True)
class TextSpan:
    """Character offsets into the item's text: ``start`` inclusive, ``end`` exclusive."""

    start: int
    end: int


#: ``None`` means the label applies to the whole item.
Geometry = Box | Polygon | Mask | TextSpan | None


@dataclass(frozen=True)
class PredictedLabel:
    """One proposed label; ``confidence`` in [0, 1], 0 when the server gave none."""

    class_id: str
    confidence: float
    geometry: Geometry = None

    def to_label_proto(self, label_id: str) -> label_pb2.Label:
        """This label as ``labelops.labels.v1.Label`` (whole-item when there is no geometry)."""
        label = label_pb2.Label(
            label_id=label_id, class_id=self.class_id, confidence=self.confidence
        )
        g = self.geometry
        if g is None:
            label.whole_item.SetInParent()
        elif isinstance(g, Box):
            label.box.CopyFrom(label_pb2.BoundingBox(x=g.x, y=g.y, width=g.width, height=g.height))
        elif isinstance(g, Polygon):
            label.polygon.points.extend(label_pb2.Point2D(x=x, y=y) for x, y in g.points)
        elif isinstance(g, Mask):
            label.mask.CopyFrom(label_pb2.Mask(height=g.height, width=g.width, counts=g.counts))
        else:
            label.text_span.CopyFrom(label_pb2.TextSpan(start=g.start, end=g.end))
        return label


@dataclass(frozen=True)
class ItemPrediction:
    """The validated prediction for one item.

    ``class_probabilities`` holds only the classes the server named (absent classes are 0);
    it is empty when the server gave none (allowed for detect / segment).
    """

    item_id: str
    class_probabilities: Mapping[str, float]
    labels: tuple[PredictedLabel, ...] = ()

    @property
    def top_class(self) -> tuple[str, float] | None:
        """The most probable class and its probability, or None without probabilities."""
        if not self.class_probabilities:
            return None
        best = max(self.class_probabilities.items(), key=lambda kv: (kv[1], kv[0]))
        return best[0], best[1]

    def to_label_protos(self, prefix: str = "prelabel") -> list[label_pb2.Label]:
        """The labels as protos, with ids ``{prefix}-{i}``."""
        return [lbl.to_label_proto(f"{prefix}-{i}") for i, lbl in enumerate(self.labels)]


@dataclass(frozen=True)
class PredictionResult:
    """What one ``predict`` call produced. Never raised, always returned.

    ``error`` is set when the whole call failed (``detail`` says why in words); then
    ``predictions`` and ``failed`` are empty. Otherwise ``predictions`` holds the valid
    predictions and ``failed`` the requested items that got an invalid prediction or none.
    ``attempts`` counts HTTP requests sent (0 when the breaker was open).
    """

    model_version: str = ""
    predictions: dict[str, ItemPrediction] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    error: CallError | None = None
    detail: str = ""
    attempts: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None

    def no_prediction_reason(self, item_id: str) -> str | None:
        """Why ``item_id`` has no prediction, or None when it has one."""
        if item_id in self.predictions:
            return None
        if self.error is not None:
            return f"{self.error}: {self.detail}" if self.detail else str(self.error)
        return self.failed.get(item_id, "not requested")


# --- circuit breaker ------------------------------------------------------------------------


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Consecutive-failure breaker: closed -> open after ``failure_threshold`` failures in a
    row -> half-open ``reset_s`` later (one trial call at a time) -> closed on a success, open
    again on a failure. ``clock`` returns seconds (monotonic); injected by tests.

    Use: ``permit = breaker.acquire()``; None means refused; otherwise call, then
    ``breaker.record(permit, success)`` (or ``breaker.release(permit)`` if the call was
    abandoned before it had an outcome, e.g. cancelled).
    """

    CALL: Final = "call"
    TRIAL: Final = "trial"

    def __init__(
        self, failure_threshold: int, reset_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("breaker_failures must be >= 1")
        if reset_s < 0:
            raise ValueError("breaker_reset_s must be >= 0")
        self.failure_threshold = failure_threshold
        self.reset_s = reset_s
        self._clock = clock
        self._failures = 0
        self._open = False
        self._opened_at = 0.0
        self._trial_in_flight = False

    @property
    def state(self) -> BreakerState:
        if not self._open:
            return BreakerState.CLOSED
        if self._trial_in_flight or self._clock() - self._opened_at >= self.reset_s:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def acquire(self) -> str | None:
        """``CALL`` (closed), ``TRIAL`` (the one half-open trial) or None (refused)."""
        state = self.state
        if state is BreakerState.CLOSED:
            return self.CALL
        if state is BreakerState.HALF_OPEN and not self._trial_in_flight:
            self._trial_in_flight = True
            return self.TRIAL
        return None

    def release(self, permit: str) -> None:
        """Give a permit back without an outcome (the call was cancelled)."""
        if permit == self.TRIAL:
            self._trial_in_flight = False

    def record(self, permit: str, success: bool) -> None:
        if permit == self.TRIAL:
            self._trial_in_flight = False
        if success:
            if self._open:
                log.info("model server circuit closed")
            self._open = False
            self._failures = 0
            return
        self._failures += 1
        # A failed trial re-opens at once; a late failure of a call that started before the
        # breaker opened does not push the reset time back.
        if permit == self.TRIAL or (not self._open and self._failures >= self.failure_threshold):
            log.warning(
                "model server circuit open for %gs after %d consecutive failures",
                self.reset_s,
                self._failures,
            )
            self._open = True
            self._opened_at = self._clock()


# --- the client -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Failure:
    error: CallError
    detail: str
    retryable: bool


class ModelServerClient:
    """Client of one model server speaking MODEL_SERVER_PROTOCOL.md.

    Args:
        url: base URL; requests go to ``{url}/predict``.
        timeout_s: deadline of one attempt, from sending to the last byte of the body.
        retries: extra attempts after a retryable failure (0 = one attempt only).
        backoff_s: sleep before retry n (1-based) is ``backoff_s * 2**(n-1)``.
        breaker_failures / breaker_reset_s: see ``CircuitBreaker``.
        max_response_bytes: larger bodies (after decompression) fail with ``too_large``.
        max_labels_per_item: an item with more labels fails.
        api_key: sent as ``Authorization: Bearer <api_key>`` when set.
        clock: monotonic seconds for the breaker (tests inject a fake one).
        transport: an httpx transport (tests / proxies); default: real network.

    One client per server; safe for concurrent ``predict`` calls on one event loop. The HTTP
    connection pool is created on first use; ``close()`` (or ``async with``) releases it.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 5.0,
        retries: int = 2,
        backoff_s: float = 0.2,
        breaker_failures: int = 5,
        breaker_reset_s: float = 30.0,
        max_response_bytes: int = 32 * 1024 * 1024,
        max_labels_per_item: int = 1000,
        api_key: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise ValueError(f"invalid url {url!r}: {exc}") from exc
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError(f"url must be http(s)://host...: {url!r}")
        if not timeout_s > 0:
            raise ValueError("timeout_s must be > 0")
        if retries < 0:
            raise ValueError("retries must be >= 0")
        if backoff_s < 0:
            raise ValueError("backoff_s must be >= 0")
        if max_response_bytes < 1:
            raise ValueError("max_response_bytes must be >= 1")
        if max_labels_per_item < 0:
            raise ValueError("max_labels_per_item must be >= 0")
        self.url = url.rstrip("/")
        self.endpoint = f"{self.url}/predict"
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_response_bytes = max_response_bytes
        self.max_labels_per_item = max_labels_per_item
        self.breaker = CircuitBreaker(breaker_failures, breaker_reset_s, clock)
        self._headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": "labelops-prelabel",
        }
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    # --- lifecycle ------------------------------------------------------------------------------

    def _http(self) -> httpx.AsyncClient:
        if self._client is None or self._client.is_closed:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout_s),
                headers=self._headers,
                transport=self._transport,
                follow_redirects=False,
            )
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    aclose = close

    async def __aenter__(self) -> ModelServerClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def breaker_state(self) -> BreakerState:
        return self.breaker.state

    # --- the call -------------------------------------------------------------------------------

    async def predict(
        self,
        model: str,
        items: Sequence[ItemRef],
        classes: Sequence[str],
        task: Task | str,
    ) -> PredictionResult:
        """Ask the server for predictions on ``items``; never raises on a server fault.

        Raises:
            InvalidArgument: the call itself is wrong (unknown task, no classes, duplicate or
                empty ids, negative sizes).
        """
        task = _check_call(model, items, classes, task)
        if not items:
            return PredictionResult()
        permit = self.breaker.acquire()
        if permit is None:
            return PredictionResult(
                error=CallError.CIRCUIT_OPEN,
                detail=f"{self.url}: circuit open after repeated failures; not called",
            )
        payload = json.dumps(
            {
                "model": model,
                "items": [item.to_wire() for item in items],
                "classes": list(classes),
                "task": str(task),
            },
            allow_nan=False,
        ).encode()
        # The half-open trial is a single attempt: a still-dead server costs one timeout.
        max_attempts = 1 if permit == CircuitBreaker.TRIAL else self.retries + 1
        recorded = False
        try:
            outcome, attempts = await self._exchange(payload, max_attempts)
            if isinstance(outcome, _Failure):
                result = PredictionResult(
                    error=outcome.error, detail=outcome.detail, attempts=attempts
                )
                success = False
            else:
                result, success = self._parse(outcome, items, frozenset(classes), task, attempts)
            self.breaker.record(permit, success)
            recorded = True
        finally:
            if not recorded:
                self.breaker.release(permit)
        if result.error is not None:
            log.warning("model server %s: %s: %s", self.url, result.error, result.detail)
        elif result.failed:
            log.info(
                "model server %s: %d of %d items without a valid prediction",
                self.url,
                len(result.failed),
                len(items),
            )
        return result

    async def _exchange(self, payload: bytes, max_attempts: int) -> tuple[bytes | _Failure, int]:
        """POST with retries: the body of a 200, or the last failure; and attempts made."""
        outcome: bytes | _Failure = _Failure(CallError.CONNECTION, "not attempted", False)
        for attempt in range(max_attempts):
            if attempt and self.backoff_s:
                await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
            outcome = await self._attempt(payload)
            if isinstance(outcome, bytes) or not outcome.retryable:
                return outcome, attempt + 1
        if isinstance(outcome, _Failure) and max_attempts > 1:
            outcome = _Failure(
                outcome.error, f"{outcome.detail} (after {max_attempts} attempts)", False
            )
        return outcome, max_attempts

    async def _attempt(self, payload: bytes) -> bytes | _Failure:
        client = self._http()
        try:
            async with (
                asyncio.timeout(self.timeout_s),
                client.stream("POST", self.endpoint, content=payload) as response,
            ):
                status = response.status_code
                if status != 200:
                    snippet = await _read_snippet(response)
                    if status in _RETRY_STATUS:
                        return _Failure(CallError.SERVER_ERROR, f"HTTP {status}: {snippet}", True)
                    return _Failure(CallError.REJECTED, f"HTTP {status}: {snippet}", False)
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > self.max_response_bytes:
                    return self._too_large(int(declared))
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > self.max_response_bytes:
                        return self._too_large(size)
                    chunks.append(chunk)
                return b"".join(chunks)
        except (TimeoutError, httpx.TimeoutException):
            return _Failure(
                CallError.TIMEOUT, f"no complete response within {self.timeout_s:g} s", True
            )
        except httpx.DecodingError as exc:
            return _Failure(CallError.BAD_RESPONSE, f"undecodable body: {exc}", False)
        except httpx.TransportError as exc:
            return _Failure(CallError.CONNECTION, f"{type(exc).__name__}: {exc}", True)
        except httpx.HTTPError as exc:
            return _Failure(CallError.CONNECTION, f"{type(exc).__name__}: {exc}", False)
        except Exception as exc:  # whatever the network stack throws must not reach the caller
            log.exception("model server %s: unexpected error", self.url)
            return _Failure(CallError.CONNECTION, f"{type(exc).__name__}: {exc}", False)

    def _too_large(self, size: int) -> _Failure:
        return _Failure(
            CallError.TOO_LARGE,
            f"response of {size}+ bytes exceeds max_response_bytes={self.max_response_bytes}",
            False,
        )

    # --- validation -----------------------------------------------------------------------------

    def _parse(
        self,
        raw: bytes,
        items: Sequence[ItemRef],
        classes: frozenset[str],
        task: Task,
        attempts: int,
    ) -> tuple[PredictionResult, bool]:
        """The result for a 200 body, and whether the call counts as a success."""

        def bad(detail: str) -> tuple[PredictionResult, bool]:
            return (
                PredictionResult(error=CallError.BAD_RESPONSE, detail=detail, attempts=attempts),
                False,
            )

        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            return bad(f"body is not JSON: {_snippet(raw)}")
        if not isinstance(body, dict):
            return bad(f"body is not a JSON object: {_snippet(raw)}")
        version = body.get("model_version")
        if not isinstance(version, str) or not version or len(version) > MAX_VERSION_LENGTH:
            return bad(f"model_version must be a non-empty string of <= {MAX_VERSION_LENGTH}")
        preds = body.get("predictions")
        if not isinstance(preds, list):
            return bad("'predictions' is not a list")
        if len(preds) > len(items):
            return bad(f"{len(preds)} predictions for {len(items)} items")
        by_id = {item.item_id: item for item in items}
        seen: set[str] = set()
        for i, pred in enumerate(preds):
            item_id = pred.get("item_id") if isinstance(pred, dict) else None
            if not isinstance(item_id, str):
                return bad(f"predictions[{i}] is not an object with a string item_id")
            if item_id not in by_id:
                return bad(f"predictions[{i}]: item_id {_clip(item_id)!r} was not requested")
            if item_id in seen:
                return bad(f"predictions[{i}]: item_id {_clip(item_id)!r} appears twice")
            seen.add(item_id)

        predictions: dict[str, ItemPrediction] = {}
        failed: dict[str, str] = {}
        for pred in preds:
            item = by_id[pred["item_id"]]
            try:
                predictions[item.item_id] = self._item(pred, item, classes, task)
            except _Invalid as exc:
                failed[item.item_id] = str(exc)
            except Exception:  # a validator bug must not take the caller down
                log.exception("model server %s: validating %s failed", self.url, item.item_id)
                failed[item.item_id] = "prediction could not be validated"
        invalid = len(failed)
        for item in items:
            if item.item_id not in seen:
                failed[item.item_id] = "no prediction returned"
        result = PredictionResult(
            model_version=version, predictions=predictions, failed=failed, attempts=attempts
        )
        # Garbage for every item it answered for: as useless as a dead server.
        return result, not (invalid and not predictions)

    def _item(
        self, pred: dict[str, Any], item: ItemRef, classes: frozenset[str], task: Task
    ) -> ItemPrediction:
        probs = _probabilities(pred.get("class_probabilities"), classes)
        if task is Task.CLASSIFY and not probs:
            raise _Invalid("class_probabilities: required for task classify")
        raw_labels = pred.get("labels", [])
        if raw_labels is None:
            raw_labels = []
        if not isinstance(raw_labels, list):
            raise _Invalid("labels: not a list")
        if len(raw_labels) > self.max_labels_per_item:
            raise _Invalid(f"labels: {len(raw_labels)} labels, at most {self.max_labels_per_item}")
        labels = tuple(
            _label(f"labels[{i}]", raw, item, classes) for i, raw in enumerate(raw_labels)
        )
        return ItemPrediction(item_id=item.item_id, class_probabilities=probs, labels=labels)


# --- validators (raise _Invalid with "field.path: problem") ---------------------------------


class _Invalid(Exception):
    pass


def _check_call(
    model: str, items: Sequence[ItemRef], classes: Sequence[str], task: Task | str
) -> Task:
    v = ViolationCollector()
    if not isinstance(model, str):
        v.add("model", "must be a string")
    try:
        parsed = Task(task)
    except ValueError:
        v.add("task", f"must be one of {', '.join(t.value for t in Task)}, got {task!r}")
        parsed = Task.CLASSIFY
    if not classes:
        v.add("classes", "at least one class is required")
    seen_classes: set[str] = set()
    for i, c in enumerate(classes):
        if not isinstance(c, str) or not c:
            v.add(f"classes[{i}]", "must be a non-empty string")
        elif c in seen_classes:
            v.add(f"classes[{i}]", f"duplicate class id {c!r}")
        seen_classes.add(c)
    seen_items: set[str] = set()
    for i, item in enumerate(items):
        if not item.item_id:
            v.add(f"items[{i}].item_id", "must not be empty")
        elif item.item_id in seen_items:
            v.add(f"items[{i}].item_id", f"duplicate item id {item.item_id!r}")
        seen_items.add(item.item_id)
        if item.width < 0 or item.height < 0:
            v.add(f"items[{i}]", "width and height must be >= 0 (0 = unknown)")
    if v:
        raise InvalidArgument("invalid model server call", v.violations)
    return parsed


def _number(path: str, v: Any) -> float:
    """A finite JSON number as float (bool is not a number here)."""
    if type(v) is not int and type(v) is not float:
        raise _Invalid(f"{path}: not a number")
    try:
        f = float(v)
    except OverflowError:
        f = math.inf
    if not math.isfinite(f):
        raise _Invalid(f"{path}: {v} is not finite")
    return f


def _integer(path: str, v: Any, lo: int, hi: int) -> int:
    """A JSON integer (or integral float) in [lo, hi]."""
    if type(v) is float and math.isfinite(v) and v.is_integer():
        v = int(v)
    if type(v) is not int:
        raise _Invalid(f"{path}: not an integer")
    if not lo <= v <= hi:
        raise _Invalid(f"{path}: {v} is outside [{lo}, {hi}]")
    return v


def _probabilities(raw: Any, classes: frozenset[str]) -> dict[str, float]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _Invalid("class_probabilities: not an object")
    out: dict[str, float] = {}
    for class_id, p in raw.items():
        path = f"class_probabilities[{_clip(class_id)!r}]"
        if class_id not in classes:
            raise _Invalid(f"{path}: unknown class id")
        value = _number(path, p)
        if not 0.0 <= value <= 1.0:
            raise _Invalid(f"{path}: {value:g} is outside [0, 1]")
        out[class_id] = value
    if out:
        total = math.fsum(out.values())
        if abs(total - 1.0) > PROBABILITY_TOLERANCE:
            raise _Invalid(f"class_probabilities: sum to {total:.6g}, not 1")
    return out


def _label(path: str, raw: Any, item: ItemRef, classes: frozenset[str]) -> PredictedLabel:
    if not isinstance(raw, dict):
        raise _Invalid(f"{path}: not an object")
    class_id = raw.get("class_id")
    if not isinstance(class_id, str):
        raise _Invalid(f"{path}.class_id: not a string")
    if class_id not in classes:
        raise _Invalid(f"{path}.class_id: unknown class id {_clip(class_id)!r}")
    confidence = 0.0
    if raw.get("confidence") is not None:
        confidence = _number(f"{path}.confidence", raw["confidence"])
        if not 0.0 <= confidence <= 1.0:
            raise _Invalid(f"{path}.confidence: {confidence:g} is outside [0, 1]")
    kinds = [k for k in _GEOMETRY_KEYS if raw.get(k) is not None]
    if len(kinds) > 1:
        raise _Invalid(f"{path}: more than one geometry ({', '.join(kinds)})")
    geometry: Geometry = None
    if kinds:
        kind = kinds[0]
        gpath = f"{path}.{kind}"
        value = raw[kind]
        if kind == "box":
            geometry = _box(gpath, value, item)
        elif kind == "polygon":
            geometry = _polygon(gpath, value, item)
        elif kind == "mask":
            geometry = _mask(gpath, value, item)
        else:
            geometry = _text_span(gpath, value, item)
    return PredictedLabel(class_id=class_id, confidence=confidence, geometry=geometry)


def _limits(item: ItemRef) -> tuple[float, float]:
    hx = item.width + BOUNDS_TOLERANCE if item.width > 0 else math.inf
    hy = item.height + BOUNDS_TOLERANCE if item.height > 0 else math.inf
    return hx, hy


def _point(path: str, x: float, y: float, hx: float, hy: float) -> None:
    if x < -BOUNDS_TOLERANCE or x > hx:
        raise _Invalid(f"{path}: x {x:g} is outside the item")
    if y < -BOUNDS_TOLERANCE or y > hy:
        raise _Invalid(f"{path}: y {y:g} is outside the item")


def _box(path: str, raw: Any, item: ItemRef) -> Box:
    if not isinstance(raw, dict):
        raise _Invalid(f"{path}: not an object")
    x, y, w, h = (_number(f"{path}.{k}", raw.get(k)) for k in ("x", "y", "width", "height"))
    if w <= 0 or h <= 0:
        raise _Invalid(f"{path}: width and height must be > 0, got {w:g}x{h:g}")
    hx, hy = _limits(item)
    _point(path, x, y, hx, hy)
    if not math.isfinite(x + w):
        raise _Invalid(f"{path}: x + width overflows")
    if not math.isfinite(y + h):
        raise _Invalid(f"{path}: y + height overflows")
    if x + w > hx:
        raise _Invalid(f"{path}: right edge {x + w:g} is beyond the item width {item.width}")
    if y + h > hy:
        raise _Invalid(f"{path}: bottom edge {y + h:g} is beyond the item height {item.height}")
    return Box(x, y, w, h)


def _polygon(path: str, raw: Any, item: ItemRef) -> Polygon:
    if not isinstance(raw, list):
        raise _Invalid(f"{path}: not a list of [x, y] points")
    if not 3 <= len(raw) <= MAX_POLYGON_POINTS:
        raise _Invalid(f"{path}: {len(raw)} points, needs 3..{MAX_POLYGON_POINTS}")
    hx, hy = _limits(item)
    points: list[tuple[float, float]] = []
    for i, p in enumerate(raw):
        ppath = f"{path}[{i}]"
        if not isinstance(p, list) or len(p) != 2:
            raise _Invalid(f"{ppath}: not an [x, y] pair")
        x, y = _number(f"{ppath}[0]", p[0]), _number(f"{ppath}[1]", p[1])
        _point(ppath, x, y, hx, hy)
        points.append((x, y))
    return Polygon(tuple(points))


def _mask(path: str, raw: Any, item: ItemRef) -> Mask:
    if not isinstance(raw, dict):
        raise _Invalid(f"{path}: not an object")
    h = _integer(f"{path}.height", raw.get("height"), 1, _INT32_MAX)
    w = _integer(f"{path}.width", raw.get("width"), 1, _INT32_MAX)
    if (item.width > 0 and w != item.width) or (item.height > 0 and h != item.height):
        raise _Invalid(f"{path}: mask {w}x{h} differs from the item {item.width}x{item.height}")
    counts = raw.get("counts")
    if not isinstance(counts, list) or not counts:
        raise _Invalid(f"{path}.counts: not a non-empty list")
    if len(counts) > h * w + 1:
        raise _Invalid(f"{path}.counts: {len(counts)} runs for {h * w} pixels")
    runs = tuple(_integer(f"{path}.counts[{i}]", c, 0, _UINT32_MAX) for i, c in enumerate(counts))
    total = sum(runs)
    if total != h * w:
        raise _Invalid(f"{path}.counts: runs sum to {total}, expected height*width = {h * w}")
    return Mask(h, w, runs)


def _text_span(path: str, raw: Any, item: ItemRef) -> TextSpan:
    if not isinstance(raw, dict):
        raise _Invalid(f"{path}: not an object")
    start = _integer(f"{path}.start", raw.get("start"), 0, _INT64_MAX)
    end = _integer(f"{path}.end", raw.get("end"), 0, _INT64_MAX)
    if end <= start:
        raise _Invalid(f"{path}: end {end} must be > start {start}")
    if item.text is not None and end > len(item.text):
        raise _Invalid(f"{path}: end {end} is beyond the text length {len(item.text)}")
    return TextSpan(start, end)


# --- helpers --------------------------------------------------------------------------------


async def _read_snippet(response: httpx.Response) -> str:
    """At most ``_SNIPPET_BYTES`` of an error body, for the detail message."""
    buf = b""
    async for chunk in response.aiter_bytes():
        buf += chunk
        if len(buf) >= _SNIPPET_BYTES:
            break
    return _snippet(buf)


def _printable(s: str) -> str:
    """Control characters escaped: details end up in logs and Postgres text (no NUL there)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in s)


def _snippet(raw: bytes) -> str:
    text = _printable(raw[:_SNIPPET_BYTES].decode("utf-8", "replace"))
    return text + ("..." if len(raw) > _SNIPPET_BYTES else "")


def _clip(s: str, n: int = 80) -> str:
    s = _printable(s)
    return s if len(s) <= n else s[:n] + "..."
