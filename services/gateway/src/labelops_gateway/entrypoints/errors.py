"""Errors → HTTP: the CONVENTIONS.md table, one JSON shape for every failure.

Body: ``{"error": {"code", "message", "reason", "field_violations": [{"field",
"description"}], "metadata"}}`` — ``code`` is the gRPC status name, ``reason`` the
``google.rpc.ErrorInfo`` reason (UPPER_SNAKE; "" when the status carried none), the violations
come from ``google.rpc.BadRequest``. A service's error reaches the client unchanged except for
500s, whose messages are replaced (they may name hosts, files or SQL).

The gateway's own failures (a body that is not the request message, an unknown route, a file
the manifest does not list) are ``labelops_core.errors`` domain errors and go through the same
table.
"""

from __future__ import annotations

import logging
import math
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from labelops_core.errors import DomainError, FieldViolation, InvalidArgument, ResourceExhausted
from labelops_grpckit import error_details
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..adapters.backends import BackendError

log = logging.getLogger("labelops_gateway")

#: gRPC status name → HTTP status (CONVENTIONS.md); every other code is a 500.
HTTP_STATUS: dict[str, int] = {
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "INVALID_ARGUMENT": 400,
    "ABORTED": 409,
    "FAILED_PRECONDITION": 400,
    "PERMISSION_DENIED": 403,
    "UNAUTHENTICATED": 401,
    "RESOURCE_EXHAUSTED": 429,
    "UNAVAILABLE": 503,
}

# grpc's own "message too large" status carries no ErrorInfo, only this text.
_GRPC_SIZE_MESSAGE = re.compile(r"(received|sent) message larger than max", re.IGNORECASE)
# What a labelops service already scrubbed its INTERNAL message to (grpckit's interceptor).
_SCRUBBED = re.compile(r"internal error \((trace_id|error_id)=[0-9a-f]+\)")


def retry_after_header(wait_s: float) -> str:
    """The ``Retry-After`` value (whole seconds, at least 1) of a wait."""
    return str(max(1, math.ceil(wait_s)))


class RateLimited(ResourceExhausted):
    """Over a rate limit or a per-principal cap: 429 with ``Retry-After`` (seconds)."""

    def __init__(self, message: str, *, retry_after_s: float, reason: str = "RATE_LIMITED") -> None:
        header = retry_after_header(retry_after_s)
        super().__init__(message, reason=reason, metadata={"retry_after_s": header})
        self.retry_after = header


def http_status(code: str, reason: str = "", message: str = "") -> int:
    """The HTTP status of a gRPC status name; RESOURCE_EXHAUSTED is 413 when it is about size
    (a ``*_TOO_LARGE`` reason, or grpc's own message-size error) and 429 otherwise (quota)."""
    if code == "RESOURCE_EXHAUSTED" and (
        reason.endswith("_TOO_LARGE") or (not reason and _GRPC_SIZE_MESSAGE.search(message))
    ):
        return 413
    return HTTP_STATUS.get(code, 500)


def error_body(
    code: str,
    message: str,
    reason: str = "",
    violations: Iterable[FieldViolation] = (),
    metadata: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The JSON body of an error response."""
    return {
        "error": {
            "code": code,
            "message": message,
            "reason": reason,
            "field_violations": [
                {"field": v.field, "description": v.description} for v in violations
            ],
            "metadata": dict(metadata or {}),
        }
    }


def _response(
    code: str,
    message: str,
    reason: str = "",
    violations: Iterable[FieldViolation] = (),
    metadata: Mapping[str, str] | None = None,
    *,
    status: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    status = status if status is not None else http_status(code, reason, message)
    return JSONResponse(
        error_body(code, message, reason, violations, metadata),
        status_code=status,
        headers=dict(headers or {}),
    )


def _internal(code: str, detail: str, *, context: str) -> JSONResponse:
    # Log what happened under an id the caller can quote; tell the caller only the id.
    error_id = uuid.uuid4().hex[:16]
    log.error("internal error %s (%s): %s: %s", error_id, context, code, detail)
    return _response(code, f"internal error (error_id={error_id})", "INTERNAL", status=500)


def backend_error_response(exc: BackendError) -> JSONResponse:
    """The HTTP response for a failed backend call."""
    err = exc.error
    code = err.code().name
    message = err.details() or ""
    details = error_details(err)
    status = http_status(code, details.reason, message)
    if status == 500:
        if _SCRUBBED.fullmatch(message):
            # Already scrubbed by the service; its trace / error id finds its log line.
            return _response(code, message, details.reason or "INTERNAL", status=500)
        return _internal(code, message, context=f"backend {exc.service}")
    if code == "UNAVAILABLE" and not details.reason:
        # grpc's own "failed to connect to all addresses; ipv4:10.0.3.7:50051: ..." names the
        # network behind the gateway; the caller only needs to know which service is down.
        log.warning("backend %s unavailable: %s", exc.service, message)
        return _response(
            code,
            f"the {exc.service} service is unavailable",
            "BACKEND_UNAVAILABLE",
            metadata={"service": exc.service},
            status=503,
        )
    return _response(code, message, details.reason, details.violations, details.metadata)


def domain_error_response(exc: DomainError) -> JSONResponse:
    """The HTTP response for an error the gateway raised itself."""
    code = exc.code.value
    if http_status(code, exc.reason, exc.message) == 500:
        return _internal(code, exc.message, context="gateway")
    violations = exc.violations if isinstance(exc, InvalidArgument) else ()
    headers = {"Retry-After": exc.retry_after} if isinstance(exc, RateLimited) else None
    return _response(code, exc.message, exc.reason, violations, exc.metadata, headers=headers)


def _loc_field(error: Mapping[str, Any]) -> str:
    """A violation's field path from a pydantic error location (``("query", "page_size")`` →
    ``page_size``, ``("body", "a", 0)`` → ``a[0]``)."""
    parts = [str(p) for p in error.get("loc", ())]
    if error.get("type") == "json_invalid" or not parts:
        return "body"
    if len(parts) > 1 and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    out = parts[0]
    for p in parts[1:]:
        out += f"[{p}]" if p.isdigit() else f".{p}"
    return out


def validation_error_response(exc: RequestValidationError) -> JSONResponse:
    """FastAPI's parameter / body validation errors as INVALID_ARGUMENT (400, not 422: the
    conventions table has one status for validation)."""
    violations = [FieldViolation(_loc_field(e), str(e.get("msg", "invalid"))) for e in exc.errors()]
    return _response(
        "INVALID_ARGUMENT", "request has invalid fields", "INVALID_ARGUMENT", violations
    )


_HTTP_CODES = {
    400: ("INVALID_ARGUMENT", "INVALID_ARGUMENT"),
    401: ("UNAUTHENTICATED", "UNAUTHENTICATED"),
    403: ("PERMISSION_DENIED", "PERMISSION_DENIED"),
    404: ("NOT_FOUND", "ROUTE_NOT_FOUND"),
    405: ("UNIMPLEMENTED", "METHOD_NOT_ALLOWED"),
    413: ("RESOURCE_EXHAUSTED", "BODY_TOO_LARGE"),
    415: ("INVALID_ARGUMENT", "UNSUPPORTED_MEDIA_TYPE"),
}


def http_exception_response(exc: StarletteHTTPException) -> JSONResponse:
    """Starlette's own errors (no such route, wrong method, body too large) in our shape."""
    code, reason = _HTTP_CODES.get(exc.status_code, ("INVALID_ARGUMENT", "BAD_REQUEST"))
    if exc.status_code >= 500:
        return _internal("INTERNAL", str(exc.detail), context="http")
    return _response(
        code, str(exc.detail), reason, status=exc.status_code, headers=exc.headers or {}
    )


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    async def on_backend(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, BackendError)
        return backend_error_response(exc)

    async def on_domain(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DomainError)
        return domain_error_response(exc)

    async def on_validation(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return validation_error_response(exc)

    async def on_http(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return http_exception_response(exc)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _internal("INTERNAL", repr(exc), context=f"{request.method} {request.url.path}")

    app.add_exception_handler(BackendError, on_backend)
    app.add_exception_handler(DomainError, on_domain)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
