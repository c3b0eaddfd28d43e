"""The ontology events (``labelops.ontology.v1``) and helpers to build and decode them.

Stream: ``ontologies/{ontology_id}`` (another tenant than the default:
``tenants/{tenant_id}/ontologies/{ontology_id}``). Event type = the payload's full protobuf
name. Every event is one fact; the aggregate is rebuilt from them (``Ontology.apply``) and
they are published on ``labelops.ontology.events.v1`` for datasets (versions, migrations)
and routing (published versions for label validation).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final, TypeAlias

from google.protobuf.message import Message
from labelops.ontology.v1 import definition_pb2, events_pb2, ontology_pb2
from labelops_core.context import DEFAULT_TENANT

OntologyCreated = events_pb2.OntologyCreated
OntologyDraftUpdated = events_pb2.OntologyDraftUpdated
OntologyVersionPublished = events_pb2.OntologyVersionPublished
OntologyMigrationCreated = events_pb2.OntologyMigrationCreated
OntologyDeprecated = events_pb2.OntologyDeprecated

Event: TypeAlias = (
    events_pb2.OntologyCreated
    | events_pb2.OntologyDraftUpdated
    | events_pb2.OntologyVersionPublished
    | events_pb2.OntologyMigrationCreated
    | events_pb2.OntologyDeprecated
)

#: Event type (full protobuf name) → message class.
EVENT_TYPES: Final[dict[str, type[Message]]] = {
    m.DESCRIPTOR.full_name: m
    for m in (
        OntologyCreated,
        OntologyDraftUpdated,
        OntologyVersionPublished,
        OntologyMigrationCreated,
        OntologyDeprecated,
    )
}


def stream_id(ontology_id: str, tenant_id: str = DEFAULT_TENANT) -> str:
    """The event stream (and Kafka key) of one ontology of a tenant.

    Ontology ids are per tenant (two tenants may both have "animals"), but stream ids are one
    namespace in the event store: another tenant's stream is prefixed; the default tenant's
    keeps the name it always had (``ontologies/{id}``).
    """
    if tenant_id == DEFAULT_TENANT:
        return f"ontologies/{ontology_id}"
    return f"tenants/{tenant_id}/ontologies/{ontology_id}"


def event_type(event: Message) -> str:
    return str(event.DESCRIPTOR.full_name)


def decode(type_name: str, payload: bytes) -> Event:
    """Parse a stored payload by its type; unknown types raise ``KeyError``."""
    msg = EVENT_TYPES[type_name]()
    msg.ParseFromString(payload)
    return msg  # type: ignore[return-value]


def ontology_created(
    ontology_id: str,
    display_name: str,
    description: str,
    definition: definition_pb2.OntologyDefinition,
) -> events_pb2.OntologyCreated:
    return OntologyCreated(
        ontology_id=ontology_id,
        display_name=display_name,
        description=description,
        definition=definition,
    )


def draft_updated(
    ontology_id: str, edits: Sequence[ontology_pb2.DraftEdit], draft_revision: int
) -> events_pb2.OntologyDraftUpdated:
    return OntologyDraftUpdated(ontology_id=ontology_id, edits=edits, draft_revision=draft_revision)


def version_published(
    ontology_id: str,
    version: str,
    definition: definition_pb2.OntologyDefinition,
    fingerprint: str,
    previous_version: str,
    changes: Sequence[ontology_pb2.DiffEntry],
    breaking: bool,
    notes: str,
    draft_revision: int,
) -> events_pb2.OntologyVersionPublished:
    return OntologyVersionPublished(
        ontology_id=ontology_id,
        version=version,
        definition=definition,
        fingerprint=fingerprint,
        previous_version=previous_version,
        changes=changes,
        breaking=breaking,
        notes=notes,
        draft_revision=draft_revision,
    )


def migration_created(
    ontology_id: str,
    from_version: str,
    to_version: str,
    rules: Sequence[ontology_pb2.MigrationRule],
) -> events_pb2.OntologyMigrationCreated:
    return OntologyMigrationCreated(
        ontology_id=ontology_id, from_version=from_version, to_version=to_version, rules=rules
    )


def ontology_deprecated(ontology_id: str, reason: str) -> events_pb2.OntologyDeprecated:
    return OntologyDeprecated(ontology_id=ontology_id, reason=reason)


class EventMeta:
    """What the aggregate needs from an event's envelope: when, and by whom."""

    __slots__ = ("actor_id", "occurred_at")

    def __init__(self, occurred_at: datetime, actor_id: str = "") -> None:
        self.occurred_at = occurred_at
        self.actor_id = actor_id
