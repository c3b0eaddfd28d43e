"""How large what a command decides may be (pure rules).

Checked by the handlers before anything is stored: a refused command writes nothing. (Who
may change ontologies is the method table's: ``entrypoints/access.py``.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from labelops_core.errors import (
    FieldViolation,
    InvalidArgument,
    ResourceExhausted,
)

from . import errors
from . import events as ev
from .commands import Command, CreateOntology, UpdateOntologyDraft
from .ontology import Ontology


@dataclass(frozen=True)
class Limits:
    """Size limits that come from the deployment rather than from the domain.

    ``max_event_bytes``: the largest event payload stored; it must fit in one Kafka message of
    the events topic (broker/topic ``max.message.bytes``, 1 MiB by default, minus the envelope).
    ``max_draft_bytes``: the largest draft, leaving room in the publication event (which
    carries the definition *and* the changes) below ``max_event_bytes``.
    """

    max_event_bytes: int = 1_000_000
    max_draft_bytes: int = 750_000

    @classmethod
    def for_event_bytes(cls, max_event_bytes: int) -> Limits:
        return cls(max_event_bytes, max_event_bytes * 3 // 4)


def check_sizes(limits: Limits, cmd: Command, agg: Ontology, events: Sequence[ev.Event]) -> None:
    """Refuse what would not fit: ``agg`` is the state after ``events`` (decided for ``cmd``).

    Events must fit in one Kafka message: the outbox relay cannot publish a larger one, and a
    stuck relay would hold back every later event of the service. A draft must leave room for
    its publication. Errors name the field the caller can change (INVALID_ARGUMENT), or are
    RESOURCE_EXHAUSTED when nothing in this request can be made smaller.
    """
    if isinstance(cmd, CreateOntology | UpdateOntologyDraft):
        _check_draft(limits, "definition" if isinstance(cmd, CreateOntology) else "draft", agg)
    for e in events:
        size = e.ByteSize()
        if size > limits.max_event_bytes:
            raise _event_too_large(limits, cmd, e, size)


def _check_draft(limits: Limits, where: str, agg: Ontology) -> None:
    draft_size = agg.draft.ByteSize()
    if draft_size > limits.max_draft_bytes:
        description = (
            f"the {where} would be {draft_size} bytes serialized; this deployment keeps"
            f" drafts to at most {limits.max_draft_bytes} bytes so that a published"
            " version fits in one event (LABELOPS_ONTOLOGY_MAX_EVENT_BYTES)"
        )
        raise InvalidArgument(
            f"{where} is too large: {description}",
            [FieldViolation(where, description)],
            reason=errors.EVENT_TOO_LARGE,
        )


def _event_too_large(
    limits: Limits, cmd: Command, e: ev.Event, size: int
) -> InvalidArgument | ResourceExhausted:
    if isinstance(cmd, UpdateOntologyDraft):
        description = (
            f"these edits are {size} bytes serialized; at most"
            f" {limits.max_event_bytes} bytes per request"
            " (LABELOPS_ONTOLOGY_MAX_EVENT_BYTES): split them"
        )
        return InvalidArgument(
            f"edits are too large: {description}",
            [FieldViolation("edits", description)],
            reason=errors.EVENT_TOO_LARGE,
        )
    if isinstance(cmd, CreateOntology):
        description = (
            f"the ontology is {size} bytes serialized; at most {limits.max_event_bytes}"
            " bytes (LABELOPS_ONTOLOGY_MAX_EVENT_BYTES)"
        )
        return InvalidArgument(
            f"definition is too large: {description}",
            [FieldViolation("definition", description)],
            reason=errors.EVENT_TOO_LARGE,
        )
    return ResourceExhausted(
        f"{type(e).__name__} would be {size} bytes, more than the"
        f" {limits.max_event_bytes} bytes an event may have"
        " (LABELOPS_ONTOLOGY_MAX_EVENT_BYTES); for a publication this means too many"
        " changes at once for so large an ontology",
        reason=errors.EVENT_TOO_LARGE,
        metadata={"size": str(size), "limit": str(limits.max_event_bytes)},
    )
