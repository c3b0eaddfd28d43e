"""Domain errors shared by every service.

Each error carries the gRPC status it maps to (see CONVENTIONS.md, "Errors → gRPC status →
HTTP") and an UPPER_SNAKE ``reason`` for ``google.rpc.ErrorInfo`` (AIP-193). The domain raises
these; only libs/grpckit and the gateway translate them to the wire, so domain code stays free
of grpc imports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class ErrorCode(StrEnum):
    """Canonical codes; values are the grpc.StatusCode names."""

    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    ABORTED = "ABORTED"
    FAILED_PRECONDITION = "FAILED_PRECONDITION"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"
    UNAVAILABLE = "UNAVAILABLE"
    INTERNAL = "INTERNAL"


@dataclass(frozen=True)
class FieldViolation:
    """One bad field of a request: ``field`` is a dotted path (``labels[3].geometry.box``)."""

    field: str
    description: str


class DomainError(Exception):
    """Base of every error the domain raises on purpose.

    Args:
        message: human-readable, safe to show to the caller.
        reason: UPPER_SNAKE machine-readable reason (ErrorInfo.reason).
        metadata: extra key/values for ErrorInfo.metadata.
    """

    code: ErrorCode = ErrorCode.INTERNAL
    default_reason: str = "INTERNAL"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.metadata: dict[str, str] = dict(metadata or {})


class NotFound(DomainError):
    code = ErrorCode.NOT_FOUND
    default_reason = "NOT_FOUND"


class AlreadyExists(DomainError):
    code = ErrorCode.ALREADY_EXISTS
    default_reason = "ALREADY_EXISTS"


class InvalidArgument(DomainError):
    """Bad input; carries one FieldViolation per bad field (google.rpc.BadRequest)."""

    code = ErrorCode.INVALID_ARGUMENT
    default_reason = "INVALID_ARGUMENT"

    def __init__(
        self,
        message: str,
        violations: Iterable[FieldViolation] = (),
        *,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, reason=reason, metadata=metadata)
        self.violations: list[FieldViolation] = list(violations)


class Aborted(DomainError):
    """Optimistic-concurrency conflict: the caller should re-read and retry."""

    code = ErrorCode.ABORTED
    default_reason = "ABORTED"


class ConcurrencyConflict(Aborted):
    default_reason = "STREAM_VERSION_CONFLICT"


class FailedPrecondition(DomainError):
    code = ErrorCode.FAILED_PRECONDITION
    default_reason = "FAILED_PRECONDITION"


class PermissionDenied(DomainError):
    code = ErrorCode.PERMISSION_DENIED
    default_reason = "PERMISSION_DENIED"


class Unauthenticated(DomainError):
    code = ErrorCode.UNAUTHENTICATED
    default_reason = "UNAUTHENTICATED"


class ResourceExhausted(DomainError):
    code = ErrorCode.RESOURCE_EXHAUSTED
    default_reason = "RESOURCE_EXHAUSTED"


class Unavailable(DomainError):
    code = ErrorCode.UNAVAILABLE
    default_reason = "UNAVAILABLE"


@dataclass
class ViolationCollector:
    """Collects field violations, then raises one InvalidArgument with all of them."""

    violations: list[FieldViolation] = field(default_factory=list)

    def add(self, field_path: str, description: str) -> None:
        self.violations.append(FieldViolation(field_path, description))

    def __bool__(self) -> bool:
        return bool(self.violations)

    def raise_if_any(self, message: str = "request has invalid fields") -> None:
        if self.violations:
            raise InvalidArgument(message, self.violations)
