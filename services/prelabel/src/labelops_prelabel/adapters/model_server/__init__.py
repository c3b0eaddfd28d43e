"""External model server over HTTP: where a SAM-style segmenter, an LLM classifier or any other
model plugs into pre-labeling, by URL.

The wire protocol (``POST {url}/predict``, JSON in and out) and its validation rules are
documented in ``services/prelabel/MODEL_SERVER_PROTOCOL.md``; this package is its client:
``protocol`` (the wire types), ``validation`` (the answer's rules), ``breaker`` and ``client``.

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

from .breaker import BreakerState, CircuitBreaker
from .client import ModelServerClient, ModelServers, is_http_url
from .protocol import (
    BOUNDS_TOLERANCE,
    MAX_POLYGON_POINTS,
    MAX_VERSION_LENGTH,
    PROBABILITY_TOLERANCE,
    Box,
    CallError,
    Geometry,
    ItemPrediction,
    ItemRef,
    Mask,
    Polygon,
    PredictedLabel,
    PredictionResult,
    Task,
    TextSpan,
)

__all__ = [
    "BOUNDS_TOLERANCE",
    "MAX_POLYGON_POINTS",
    "MAX_VERSION_LENGTH",
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
    "ModelServers",
    "Polygon",
    "PredictedLabel",
    "PredictionResult",
    "Task",
    "TextSpan",
    "is_http_url",
]
