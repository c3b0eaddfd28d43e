"""The wire types of MODEL_SERVER_PROTOCOL.md: what goes in (``ItemRef``), what comes out
(validated ``ItemPrediction`` / ``PredictionResult``), and the errors of a whole call."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from labelops.labels.v1 import label_pb2

#: Pixels a coordinate may exceed the item by (same value as labelops_ontologykit.geometry).
BOUNDS_TOLERANCE: Final = 1e-3
#: How far the class probabilities of one item may sum away from 1.
PROBABILITY_TOLERANCE: Final = 1e-3
#: Longest accepted ``model_version``.
MAX_VERSION_LENGTH: Final = 256
#: Most points in one polygon.
MAX_POLYGON_POINTS: Final = 100_000


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
    #: The URL resolves to an address outbound calls may not reach (loopback, link-local,
    #: private, metadata... unless allow-listed): the server was not called.
    NOT_ALLOWED = "not_allowed"


#: What a caller is told about a failed call: never a word of what the server sent (the body
#: of an answer from an internal address must not travel back to whoever registered the URL).
_PUBLIC_REASON: Final = {
    CallError.TIMEOUT: "the model server did not answer in time",
    CallError.CONNECTION: "the model server could not be reached",
    CallError.BAD_RESPONSE: "the model server gave an invalid response",
    CallError.TOO_LARGE: "the model server gave an invalid response (too large)",
    CallError.CIRCUIT_OPEN: "the model server was not called (circuit open after failures)",
    CallError.NOT_ALLOWED: "the model server's URL is not allowed for outbound calls",
}
NO_PREDICTION: Final = "no prediction returned"


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

    ``error`` is set when the whole call failed (``detail`` says why in words, for the logs
    only: it may quote the server's body); then ``predictions`` and ``failed`` are empty.
    Otherwise ``predictions`` holds the valid predictions and ``failed`` the requested items
    that got an invalid prediction or none (reasons for the logs, too). ``status``: the HTTP
    status of the last attempt (0 without one). ``attempts`` counts HTTP requests sent (0
    when the breaker was open or the URL was refused). What callers may be told is
    ``no_prediction_reason``.
    """

    model_version: str = ""
    predictions: dict[str, ItemPrediction] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    error: CallError | None = None
    detail: str = ""
    attempts: int = 0
    status: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None

    def no_prediction_reason(self, item_id: str) -> str | None:
        """Why ``item_id`` has no prediction (``"<error>: <words>"``), or None when it has
        one. Safe to return to a caller: it names the failure and the HTTP status, never any
        part of the server's body (``detail`` / ``failed`` may, and stay in the logs)."""
        if item_id in self.predictions:
            return None
        if self.error is not None:
            if self.error in (CallError.SERVER_ERROR, CallError.REJECTED):
                said = f"the model server answered {self.status}" if self.status else "refused"
                return f"{self.error}: {said}"
            return f"{self.error}: {_PUBLIC_REASON[self.error]}"
        why = self.failed.get(item_id)
        if why is None:
            return "not requested"
        if why == NO_PREDICTION:
            return NO_PREDICTION
        return "invalid_prediction: the model server gave an invalid prediction for this item"
