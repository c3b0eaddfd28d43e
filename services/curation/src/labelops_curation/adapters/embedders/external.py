"""External embedder over HTTP: where a model server (CLIP-style, or anything else) plugs in.

Wire protocol (JSON over HTTP, UTF-8)
=====================================

Request -- ``POST {url}``, headers ``Content-Type: application/json`` and, when an API key is
configured, ``Authorization: Bearer <api_key>``::

    {
      "model": "<configured model name>" | null,
      "inputs": [
        {
          "id": "<item_id>",
          "modality": "image" | "text" | "video" | "audio" | "dicom",
          "uri": "<item uri>",               # the server may fetch it itself
          "text": "<item text>" | null,       # set for text items
          "content_b64": "<base64>" | null    # item bytes, only with include_content=True
        },
        ...
      ]
    }

For natural-language queries (``embed_query``) each input is
``{"id": "query-<i>", "modality": "text", "text": "<query>"}`` -- no ``uri`` / ``content_b64``
keys; servers must treat a missing key as null. A CLIP server embeds these with its text tower,
so queries and images share one space.

Response -- ``200``, ``Content-Type: application/json``::

    {
      "model_version": "<string identifying the weights>",
      "embeddings": [[<float>, ...], ...]      # one row per input, in input order
    }

Each row must have exactly ``dim`` finite numbers and must not be all zeros; rows need not be
normalized (the client L2-normalizes them). ``model_version`` is optional; when present it
replaces the embedder's ``model_version`` (so stored vectors record the server's weights).

Errors and retries
------------------

- Connection failures (refused, reset, DNS, connect timeout, connection closed before a
  response), ``429`` and ``5xx`` (except ``501 Not Implemented``) are retried
  ``retries`` times (default 2) with exponential backoff (``backoff_s`` * 2**attempt).
- A read timeout is *not* retried: the server is up but slower than ``timeout_s`` (default
  10 s) for this batch, and resending the same batch would only add load. Each attempt also has
  an overall deadline of ``timeout_s``, so a server trickling bytes cannot hold a call forever.
- Anything else -- other ``4xx``, a body that is not the JSON above, the wrong number of rows --
  raises ``EmbeddingError(index=-1)`` naming the cause. A bad row (wrong length, non-numbers,
  NaN/infinity, all zeros) raises ``EmbeddingError(index=<row>)``.
- Inputs of a modality the embedder was not declared for raise ``EmbeddingError(index=i)``
  before any request is sent.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import math
import re
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np
from labelops_core.errors import InvalidArgument
from labelops_core.netguard import OutboundPolicy, check_url, forbidden_reason

from ...domain.embedding import MODALITIES, EmbeddingError, EmbedInput

__all__ = ["HttpEmbedder"]

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504}) | frozenset(range(505, 600))


class HttpEmbedder:
    """``Embedder`` + ``QueryEmbedder`` backed by a model server speaking the protocol above.

    ``name``: the embedder's stable name (part of the vector collection name), lowercase
    ``[a-z0-9-]``. ``dim`` / ``modalities``: what the server produces and accepts.
    ``model``: sent as ``"model"`` (for servers hosting several models), default null.
    ``include_content``: send item bytes base64-encoded (for servers that cannot read the
    items' URIs). ``model_version``: reported until the server tells its own.

    ``outbound``: where the service may call (``labelops_core.netguard``; default: public
    addresses only). The server's URL is checked when the embedder is configured (a literal
    loopback / private / link-local / metadata address is a ``ValueError``) and again before
    every request (a name may resolve elsewhere later): a refused URL is INVALID_ARGUMENT
    ``OUTBOUND_URL_NOT_ALLOWED`` and nothing is sent. The http(s) URIs of items are passed to
    the server, which fetches them: they are checked by the same policy before the request
    (an item refused is an ``EmbeddingError`` with its index). Errors never repeat what a
    server answered (status code and size only).

    The HTTP client (connection pool) is created on first use; call ``aclose()`` (or use
    ``async with``) when done.
    """

    def __init__(
        self,
        *,
        url: str,
        dim: int,
        modalities: Iterable[str],
        name: str = "http",
        model: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 10.0,
        retries: int = 2,
        backoff_s: float = 0.25,
        include_content: bool = False,
        model_version: str = "unknown",
        outbound: OutboundPolicy | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"url must be http(s): {url!r}")
        self.outbound = outbound if outbound is not None else OutboundPolicy.of()
        _check_literal(url, self.outbound)
        if dim < 1:
            raise ValueError("dim must be >= 1")
        mods = frozenset(modalities)
        if not mods:
            raise ValueError("modalities must not be empty")
        unknown = mods - MODALITIES
        if unknown:
            raise ValueError(f"unknown modalities: {sorted(unknown)}")
        if not _NAME_RE.match(name):
            raise ValueError(f"name must be lowercase [a-z0-9-]: {name!r}")
        if timeout_s <= 0:
            raise ValueError("timeout_s must be > 0")
        if retries < 0:
            raise ValueError("retries must be >= 0")
        self.name = name
        self.dim = dim
        self.modalities = mods
        self.model_version = model_version
        self.url = url
        self.model = model
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.include_content = include_content
        # The server reads URIs itself unless told to take the bytes inline: items whose content
        # the service could not read (s3://, https://, ...) still get embedded.
        self.needs_content = include_content
        self._headers = {"Accept": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._client: httpx.AsyncClient | None = None

    # --- lifecycle ------------------------------------------------------------------------------

    def _http(self) -> httpx.AsyncClient:
        if self._client is None or self._client.is_closed:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout_s), headers=self._headers
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __aenter__(self) -> HttpEmbedder:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- the port -------------------------------------------------------------------------------

    async def embed(self, inputs: Sequence[EmbedInput]) -> np.ndarray:
        payload_inputs: list[dict[str, Any]] = []
        checked: set[str] = set()
        for i, item in enumerate(inputs):
            if item.modality not in self.modalities:
                raise EmbeddingError(
                    f"input {i} ({item.item_id}): modality {item.modality!r} not served by "
                    f"{self.name} ({', '.join(sorted(self.modalities))})",
                    index=i,
                )
            content_b64 = None
            if self.include_content and item.content is not None:
                content_b64 = base64.b64encode(item.content).decode("ascii")
            if item.uri.lower().startswith(("http://", "https://")):
                await self._check_item_uri(i, item.uri, checked)
            if not item.uri and item.text is None and content_b64 is None:
                raise EmbeddingError(
                    f"input {i} ({item.item_id}): nothing to send (no uri, text or content)",
                    index=i,
                )
            payload_inputs.append(
                {
                    "id": item.item_id,
                    "modality": item.modality,
                    "uri": item.uri,
                    "text": item.text,
                    "content_b64": content_b64,
                }
            )
        return await self._request(payload_inputs)

    async def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        payload_inputs: list[dict[str, Any]] = []
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise EmbeddingError(f"query {i} is not a string", index=i)
            payload_inputs.append({"id": f"query-{i}", "modality": "text", "text": text})
        return await self._request(payload_inputs)

    async def _check_item_uri(self, i: int, uri: str, checked: set[str]) -> None:
        """The server would fetch ``uri``: refuse it unless the policy allows its host (one
        look-up per distinct scheme + host + port of a request)."""
        try:
            parts = urlsplit(uri)
            key = f"{parts.scheme.lower()}://{parts.hostname}:{parts.port}"
        except ValueError:
            key = ""  # check_url refuses it
        if key and key in checked:
            return
        try:
            await check_url(uri, self.outbound, field="uri")
        except InvalidArgument as exc:
            why = exc.violations[0].description if exc.violations else exc.message
            raise EmbeddingError(f"input {i}: uri refused ({why})", index=i) from None
        checked.add(key)

    # --- transport ------------------------------------------------------------------------------

    async def _request(self, payload_inputs: list[dict[str, Any]]) -> np.ndarray:
        if not payload_inputs:
            return np.zeros((0, self.dim), dtype=np.float32)
        payload = {"model": self.model, "inputs": payload_inputs}
        response = await self._post_with_retries(payload)
        return self._parse(response, len(payload_inputs))

    async def _post_with_retries(self, payload: dict[str, Any]) -> httpx.Response:
        client = self._http()
        last_problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
            # Before every attempt: what the name resolves to may have changed.
            await check_url(self.url, self.outbound, field=f"embedders.{self.name}.url")
            try:
                async with asyncio.timeout(self.timeout_s):
                    response = await client.post(self.url, json=payload)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError) as exc:
                # Nothing (or no complete response) came back: safe and useful to retry.
                last_problem = f"{type(exc).__name__}: {exc}"
                continue
            except (httpx.TimeoutException, TimeoutError) as exc:
                raise EmbeddingError(
                    f"{self.name}: no response from {self.url} within {self.timeout_s:g} s",
                    index=-1,
                ) from exc
            except httpx.HTTPError as exc:
                raise EmbeddingError(
                    f"{self.name}: request to {self.url} failed: {type(exc).__name__}: {exc}",
                    index=-1,
                ) from exc
            if response.status_code in _RETRY_STATUS:
                last_problem = f"HTTP {response.status_code} ({_size(response)})"
                continue
            if response.status_code != 200:
                raise EmbeddingError(
                    f"{self.name}: {self.url} answered HTTP {response.status_code}"
                    f" ({_size(response)})",
                    index=-1,
                )
            return response
        raise EmbeddingError(
            f"{self.name}: {self.url} failed after {self.retries + 1} attempts; "
            f"last: {last_problem}",
            index=-1,
        )

    def _parse(self, response: httpx.Response, n: int) -> np.ndarray:
        try:
            body = response.json()
        except ValueError as exc:
            raise EmbeddingError(
                f"{self.name}: response is not JSON ({_size(response)})", index=-1
            ) from exc
        if not isinstance(body, dict) or not isinstance(body.get("embeddings"), list):
            raise EmbeddingError(
                f"{self.name}: response has no 'embeddings' list ({_size(response)})", index=-1
            )
        rows = body["embeddings"]
        if len(rows) != n:
            raise EmbeddingError(
                f"{self.name}: sent {n} inputs, got {len(rows)} embeddings", index=-1
            )
        version = body.get("model_version")
        if version is not None and not isinstance(version, str):
            raise EmbeddingError(f"{self.name}: model_version is not a string", index=-1)
        out = np.empty((n, self.dim), dtype=np.float32)
        for i, row in enumerate(rows):
            out[i] = self._check_row(i, row)
        if version:
            self.model_version = version
        return out

    def _check_row(self, i: int, row: object) -> np.ndarray:
        if not isinstance(row, list) or len(row) != self.dim:
            size = len(row) if isinstance(row, list) else type(row).__name__
            raise EmbeddingError(
                f"{self.name}: embedding {i} has size {size}, expected {self.dim}", index=i
            )
        # Exact type check: json gives int/float; bool is an int subclass but not a number here.
        if not all(type(x) is float or type(x) is int for x in row):
            raise EmbeddingError(f"{self.name}: embedding {i} holds non-numbers", index=i)
        if not all(math.isfinite(x) for x in row):
            raise EmbeddingError(f"{self.name}: embedding {i} holds NaN or infinity", index=i)
        vec = np.asarray(row, dtype=np.float64)
        peak = float(np.max(np.abs(vec)))
        if peak == 0.0:
            raise EmbeddingError(f"{self.name}: embedding {i} is all zeros", index=i)
        vec /= peak  # first scale to max 1, so huge (finite) values cannot overflow the norm
        return (vec / np.linalg.norm(vec)).astype(np.float32)


def _size(response: httpx.Response) -> str:
    # Never the body: whatever a server (or what it was tricked into fetching) answers stays
    # out of error messages, which reach callers.
    return f"{len(response.content)} bytes"


def _check_literal(url: str, policy: OutboundPolicy) -> None:
    """ValueError when ``url`` names a literal address the policy refuses (a configuration
    mistake found at start-up; names are resolved before each call)."""
    host = httpx.URL(url).host
    try:
        addr = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return
    if policy.host_allowed(host) or policy.address_allowed(addr):
        return
    why = forbidden_reason(addr)
    if why is not None:
        raise ValueError(
            f"url {url!r} is {why}; allow it with LABELOPS_CURATION_OUTBOUND_ALLOW if intended"
        )
