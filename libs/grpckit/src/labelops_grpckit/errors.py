"""Domain errors ↔ rich gRPC status (google.rpc.Status with ErrorInfo and BadRequest).

The server side turns a ``labelops_core.errors.DomainError`` into a status whose details carry
an ``ErrorInfo`` (AIP-193: machine-readable reason, domain "labelops", metadata), for
invalid arguments a ``BadRequest`` listing every bad field, and for an error carrying a
``retry_delay_s`` attribute (rate limits) a ``RetryInfo`` saying when to try again.
The client side reads them back (``error_details``, ``retry_delay``) so tests and the gateway
never parse message strings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status
from labelops_core.errors import DomainError, FieldViolation, InvalidArgument

#: ``ErrorInfo.domain`` of every error labelops services raise.
ERROR_DOMAIN = "labelops"

# The trailer grpcio-status writes the serialized google.rpc.Status into.
_STATUS_DETAILS_KEY = "grpc-status-details-bin"


class ErrorDetails(NamedTuple):
    """What a failed call's rich status says: the ErrorInfo reason and metadata, and any field
    violations."""

    reason: str
    violations: list[FieldViolation]
    #: A shared empty default (NamedTuple); error_details always passes its own dict.
    metadata: dict[str, str] = {}


def grpc_code(error: DomainError) -> grpc.StatusCode:
    """The gRPC status code a domain error maps to (CONVENTIONS.md errors table)."""
    return grpc.StatusCode[error.code.value]


def rich_status(
    code: grpc.StatusCode,
    message: str,
    *,
    reason: str,
    metadata: Mapping[str, str] | None = None,
    violations: Iterable[FieldViolation] = (),
    retry_delay_s: float | None = None,
) -> grpc.Status:
    """A ``grpc.Status`` for ``context.abort`` carrying ErrorInfo (+ BadRequest if violations,
    + RetryInfo if ``retry_delay_s`` is given).

    Pass its ``code``, ``details`` and ``trailing_metadata`` to
    ``grpc.aio.ServicerContext.abort``.
    """
    status = status_pb2.Status(code=code.value[0], message=message)
    info = error_details_pb2.ErrorInfo(
        reason=reason, domain=ERROR_DOMAIN, metadata=dict(metadata or {})
    )
    status.details.append(_pack(info))
    field_violations = [
        error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
        for v in violations
    ]
    if field_violations:
        status.details.append(
            _pack(error_details_pb2.BadRequest(field_violations=field_violations))
        )
    if retry_delay_s is not None:
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(max(0, round(retry_delay_s * 1e9)))
        status.details.append(_pack(error_details_pb2.RetryInfo(retry_delay=delay)))
    return rpc_status.to_status(status)


def status_for(error: DomainError) -> grpc.Status:
    """The rich status for a domain error: its code, message, reason, metadata, violations,
    and a RetryInfo when the error has a ``retry_delay_s`` (see ``ratelimit.RateLimited``)."""
    violations = error.violations if isinstance(error, InvalidArgument) else ()
    delay = getattr(error, "retry_delay_s", None)
    return rich_status(
        grpc_code(error),
        error.message,
        reason=error.reason,
        metadata=error.metadata,
        violations=violations,
        retry_delay_s=delay if isinstance(delay, int | float) else None,
    )


def status_proto(rpc_error: grpc.RpcError) -> status_pb2.Status | None:
    """The ``google.rpc.Status`` a failed call carried in its trailers, or None."""
    trailing = _call(rpc_error, "trailing_metadata")
    for key, value in trailing or ():
        if key == _STATUS_DETAILS_KEY and isinstance(value, bytes):
            return status_pb2.Status.FromString(value)
    return None


def error_info(rpc_error: grpc.RpcError) -> error_details_pb2.ErrorInfo | None:
    """The ``google.rpc.ErrorInfo`` of a failed call (reason, domain, metadata), or None."""
    status = status_proto(rpc_error)
    if status is None:
        return None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info
    return None


def retry_delay(rpc_error: grpc.RpcError) -> float | None:
    """Seconds the server asked the caller to wait (``google.rpc.RetryInfo``), or None."""
    status = status_proto(rpc_error)
    if status is None:
        return None
    for detail in status.details:
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return float(info.retry_delay.ToNanoseconds()) / 1e9
    return None


def error_details(rpc_error: grpc.RpcError) -> ErrorDetails:
    """``(reason, violations)`` of a failed call: ErrorInfo.reason and BadRequest violations.

    ``reason`` is "" and ``violations`` empty when the server sent no rich status (e.g. errors
    raised by grpc itself, such as RESOURCE_EXHAUSTED for an oversized message).
    """
    status = status_proto(rpc_error)
    if status is None:
        return ErrorDetails("", [])
    reason = ""
    metadata: dict[str, str] = {}
    violations: list[FieldViolation] = []
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason = info.reason
            metadata = dict(info.metadata)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            violations.extend(
                FieldViolation(v.field, v.description) for v in bad_request.field_violations
            )
    return ErrorDetails(reason, violations, metadata)


def _pack(message: Any) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def _call(rpc_error: grpc.RpcError, name: str) -> Any:
    # grpc.RpcError itself declares no accessors; the concrete errors (aio.AioRpcError, the sync
    # stack's _InactiveRpcError) implement grpc.Call's.
    method = getattr(rpc_error, name, None)
    return method() if callable(method) else None
