"""Errors of the ontology domain.

Each one is a ``labelops_core.errors`` error (so libs/grpckit maps it to the right gRPC status)
with an UPPER_SNAKE reason clients can switch on (``google.rpc.ErrorInfo.reason``). Messages are
shown to users as they are: they say what is wrong and what to do about it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

from labelops_core.errors import (
    Aborted,
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
)

# ErrorInfo reasons of this service (besides the generic ones of labelops_core).
ONTOLOGY_NOT_FOUND: Final = "ONTOLOGY_NOT_FOUND"
VERSION_NOT_FOUND: Final = "VERSION_NOT_FOUND"
ONTOLOGY_ALREADY_EXISTS: Final = "ONTOLOGY_ALREADY_EXISTS"
DRAFT_REVISION_MISMATCH: Final = "DRAFT_REVISION_MISMATCH"
ONTOLOGY_DEPRECATED: Final = "ONTOLOGY_DEPRECATED"
NO_CHANGES: Final = "NO_CHANGES"
VERSION_IMMUTABLE: Final = "VERSION_IMMUTABLE"
MIGRATION_IMMUTABLE: Final = "MIGRATION_IMMUTABLE"
DRAFT_INVALID: Final = "DRAFT_INVALID"
INVALID_DEFINITION: Final = "INVALID_DEFINITION"
INVALID_EDIT: Final = "INVALID_EDIT"
INVALID_VERSION: Final = "INVALID_VERSION"
INVALID_MIGRATION: Final = "INVALID_MIGRATION"
EVENT_TOO_LARGE: Final = "EVENT_TOO_LARGE"

__all__ = [
    "DRAFT_INVALID",
    "DRAFT_REVISION_MISMATCH",
    "EVENT_TOO_LARGE",
    "INVALID_DEFINITION",
    "INVALID_EDIT",
    "INVALID_MIGRATION",
    "INVALID_VERSION",
    "MIGRATION_IMMUTABLE",
    "NO_CHANGES",
    "ONTOLOGY_ALREADY_EXISTS",
    "ONTOLOGY_DEPRECATED",
    "ONTOLOGY_NOT_FOUND",
    "VERSION_IMMUTABLE",
    "VERSION_NOT_FOUND",
    "ReplayError",
    "draft_invalid",
    "invalid",
    "ontology_already_exists",
    "ontology_deprecated",
    "ontology_not_found",
    "revision_mismatch",
    "version_not_found",
]


class ReplayError(RuntimeError):
    """A stored event cannot be applied to the state rebuilt so far.

    Events were decided against that very state, so this means the stream or the code that
    replays it is broken; it surfaces as INTERNAL, never as a user error.
    """


def invalid(
    message: str, violations: Iterable[FieldViolation], reason: str = "INVALID_ARGUMENT"
) -> InvalidArgument:
    return InvalidArgument(message, list(violations), reason=reason)


def ontology_not_found(ontology_id: str) -> NotFound:
    return NotFound(
        f"ontology {ontology_id!r} does not exist",
        reason=ONTOLOGY_NOT_FOUND,
        metadata={"ontology_id": ontology_id},
    )


def version_not_found(ontology_id: str, version: str, published: Sequence[str]) -> NotFound:
    if not published:
        message = f"ontology {ontology_id!r} has no published version yet"
    else:
        shown = ", ".join(published[-10:])
        more = f" (latest 10 of {len(published)})" if len(published) > 10 else ""
        message = f"ontology {ontology_id!r} has no version {version!r}; published: {shown}{more}"
    return NotFound(
        message,
        reason=VERSION_NOT_FOUND,
        metadata={"ontology_id": ontology_id, "version": version},
    )


def ontology_already_exists(ontology_id: str) -> AlreadyExists:
    return AlreadyExists(
        f"ontology {ontology_id!r} already exists",
        reason=ONTOLOGY_ALREADY_EXISTS,
        metadata={"ontology_id": ontology_id},
    )


def revision_mismatch(ontology_id: str, expected: int, current: int) -> Aborted:
    return Aborted(
        f"the draft of ontology {ontology_id!r} is at revision {current}, not {expected}:"
        " someone changed it since you read it; read it again (GetOntology) and retry",
        reason=DRAFT_REVISION_MISMATCH,
        metadata={
            "ontology_id": ontology_id,
            "expected_revision": str(expected),
            "current_revision": str(current),
        },
    )


def ontology_deprecated(ontology_id: str, action: str) -> FailedPrecondition:
    return FailedPrecondition(
        f"ontology {ontology_id!r} is deprecated: cannot {action}"
        " (its published versions stay readable)",
        reason=ONTOLOGY_DEPRECATED,
        metadata={"ontology_id": ontology_id},
    )


def draft_invalid(ontology_id: str, violations: Sequence[FieldViolation]) -> FailedPrecondition:
    first = "; ".join(f"{v.field}: {v.description}" for v in violations[:5])
    return FailedPrecondition(
        f"the draft of ontology {ontology_id!r} is not valid and cannot be published"
        f" ({len(violations)} problems: {first}); fix it with UpdateOntologyDraft",
        reason=DRAFT_INVALID,
        metadata={"ontology_id": ontology_id, "problems": str(len(violations))},
    )
