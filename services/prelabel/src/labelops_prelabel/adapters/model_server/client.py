"""The HTTP client of one model server (``ModelServerClient``), and one client per URL
(``ModelServers``); see ``model_server``'s docstring for the failure policy."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Final

import httpx
from labelops_core.errors import InvalidArgument
from labelops_core.netguard import OutboundPolicy, check_url

from .breaker import BreakerState, CircuitBreaker
from .protocol import CallError, ItemRef, PredictionResult, Task
from .validation import SNIPPET_BYTES, check_call, parse_body
from .validation import snippet as snippet_of

log = logging.getLogger("labelops_prelabel.adapters.model_server")

_RETRY_STATUS: Final = frozenset({429}) | (frozenset(range(500, 600)) - {501})


@dataclass(frozen=True)
class _Failure:
    error: CallError
    detail: str
    retryable: bool
    status: int = 0


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
        task = check_call(model, items, classes, task)
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
                    error=outcome.error,
                    detail=outcome.detail,
                    attempts=attempts,
                    status=outcome.status,
                )
                success = False
            else:
                result, success = parse_body(
                    outcome,
                    items,
                    frozenset(classes),
                    task,
                    attempts,
                    max_labels_per_item=self.max_labels_per_item,
                    url=self.url,
                )
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
                outcome.error,
                f"{outcome.detail} (after {max_attempts} attempts)",
                False,
                outcome.status,
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
                        return _Failure(
                            CallError.SERVER_ERROR, f"HTTP {status}: {snippet}", True, status
                        )
                    return _Failure(CallError.REJECTED, f"HTTP {status}: {snippet}", False, status)
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


async def _read_snippet(response: httpx.Response) -> str:
    """At most ``SNIPPET_BYTES`` of an error body, for the detail message."""
    buf = b""
    async for chunk in response.aiter_bytes():
        buf += chunk
        if len(buf) >= SNIPPET_BYTES:
            break
    return snippet_of(buf)


def is_http_url(url: str) -> bool:
    """Whether ``url`` is an http(s) URL with a host (what a client can be made for)."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return False
    return parsed.scheme in ("http", "https") and bool(parsed.host)


class ModelServers:
    """One client (and circuit breaker) per model server URL, made by ``factory``, behind the
    outbound guard: every call first checks the URL against ``policy``
    (``labelops_core.netguard``), at each call and not only at registration, since what a name
    resolves to can change and a model stored before the rule (or under a wider allow list)
    must not be called either."""

    def __init__(
        self,
        factory: Callable[[str], ModelServerClient],
        policy: OutboundPolicy | None = None,
    ) -> None:
        self.factory = factory
        self.policy = policy if policy is not None else OutboundPolicy()
        self._clients: dict[str, ModelServerClient] = {}

    async def check(self, url: str, *, field: str = "url") -> None:
        """INVALID_ARGUMENT (a violation on ``field``) unless ``url`` may be called."""
        await check_url(url, self.policy, field=field)

    async def predict(
        self,
        url: str,
        model: str,
        items: Sequence[ItemRef],
        classes: Sequence[str],
        task: Task | str,
    ) -> PredictionResult:
        """``ModelServerClient.predict`` on ``url``'s client once the URL passed the guard; a
        refused URL is a ``not_allowed`` result (the server is not called)."""
        try:
            await self.check(url)
        except InvalidArgument as exc:
            log.warning("model server %s not called: %s", url, exc.message)
            return PredictionResult(error=CallError.NOT_ALLOWED, detail=exc.message)
        return await self.client(url).predict(model, items, classes, task)

    def client(self, url: str) -> ModelServerClient:
        c = self._clients.get(url)
        if c is None:
            c = self._clients[url] = self.factory(url)
        return c

    async def close(self) -> None:
        for c in self._clients.values():
            await c.close()
        self._clients.clear()
