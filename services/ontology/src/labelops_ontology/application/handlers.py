"""Command handlers: load the aggregate from its stream → decide → append + read models.

Every command runs the same way (``_execute``):

1. A ``request_id`` seen before returns the stored response of that request (AIP-155) and
   writes nothing, even when the ontology has changed since; the same id with other content is
   INVALID_ARGUMENT ``REQUEST_ID_REUSED``.
2. Load the ontology (``ontologies/{id}``), decide (pure domain code), evolve a copy by the
   new events to get the response.
3. One Postgres transaction: append the events with the stream version that was read (the
   optimistic-concurrency check), the request id and the serialized response; update the read
   models. COMMIT, then answer. A concurrent duplicate of the same request waits on its request
   id inside the store and then gets the first response.
4. A concurrent writer on the same stream (ConcurrencyConflict) makes us reload and decide
   again, a few times: a command that is still valid on the new state succeeds, one that is
   not (a stale ``expected_revision``) fails with the domain's error.

Events must fit in one Kafka message: the outbox relay cannot publish a larger one, and a stuck
relay would hold back every later event of the service. So sizes are checked before anything is
stored (``Limits``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TypeVar

from google.protobuf.message import Message
from labelops.ontology.v1 import events_pb2, ontology_pb2
from labelops_core.context import current_principal
from labelops_core.errors import (
    Aborted,
    ConcurrencyConflict,
    DomainError,
    FieldViolation,
    InvalidArgument,
    PermissionDenied,
    ResourceExhausted,
)
from labelops_core.ids import new_id
from labelops_eventstore import EventStore

from ..adapters.read_model import OntologyReadModel
from ..adapters.repository import OntologyRepository
from ..domain import errors
from ..domain import events as ev
from ..domain.commands import (
    Command,
    CreateOntology,
    CreateOntologyMigration,
    DeprecateOntology,
    PublishOntologyVersion,
    UpdateOntologyDraft,
)
from ..domain.ontology import Ontology, check_ontology_id

log = logging.getLogger(__name__)

R = TypeVar("R", bound=Message)

#: Principal kinds that may change ontologies (vendor and model credentials are read-only).
WRITER_KINDS = frozenset({"user", "service"})

#: Longest request id accepted (AIP-155 suggests a UUID: 36 characters).
MAX_REQUEST_ID_CHARS = 128


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


def _utcnow() -> datetime:
    return datetime.now(UTC)


class OntologyHandlers:
    """The write side of the ontology service.

    Args:
        store: the event store (its pool runs the transactions).
        repository: loads and appends ontology streams.
        read_model: tables updated in the same transaction as the events.
        limits: event and draft size limits.
        clock: time of the decided events (UTC).
        new_ontology_id: ids for ontologies created without one (UUIDv7).
        max_attempts: decide/append rounds on concurrent writes to the same ontology.
    """

    def __init__(
        self,
        store: EventStore,
        repository: OntologyRepository,
        read_model: OntologyReadModel,
        *,
        limits: Limits | None = None,
        clock: Callable[[], datetime] = _utcnow,
        new_ontology_id: Callable[[], str] = new_id,
        max_attempts: int = 3,
    ) -> None:
        self.store = store
        self.repository = repository
        self.read_model = read_model
        self.limits = limits or Limits()
        self.clock = clock
        self.new_ontology_id = new_ontology_id
        self.max_attempts = max_attempts

    # --- commands ------------------------------------------------------------------------------

    async def create_ontology(self, cmd: CreateOntology) -> ontology_pb2.CreateOntologyResponse:
        fingerprint = cmd.fingerprint()
        if not cmd.ontology_id:
            cmd = replace(cmd, ontology_id=self.new_ontology_id())

        def respond(agg: Ontology, _events: Sequence[ev.Event]) -> Message:
            return ontology_pb2.CreateOntologyResponse(ontology=agg.to_proto())

        return await self._execute(
            cmd,
            fingerprint,
            lambda agg: agg.create(cmd),
            respond,
            ontology_pb2.CreateOntologyResponse,
            check_id=False,  # the domain reports a bad id together with the other fields
        )

    async def update_ontology_draft(
        self, cmd: UpdateOntologyDraft
    ) -> ontology_pb2.UpdateOntologyDraftResponse:
        return await self._execute(
            cmd,
            cmd.fingerprint(),
            lambda agg: agg.update_draft(cmd),
            lambda agg, _: ontology_pb2.UpdateOntologyDraftResponse(ontology=agg.to_proto()),
            ontology_pb2.UpdateOntologyDraftResponse,
        )

    async def publish_ontology_version(
        self, cmd: PublishOntologyVersion
    ) -> ontology_pb2.PublishOntologyVersionResponse:
        def respond(agg: Ontology, events: Sequence[ev.Event]) -> Message:
            (published,) = events
            assert isinstance(published, events_pb2.OntologyVersionPublished)
            version = agg.find_version(published.version)
            return ontology_pb2.PublishOntologyVersionResponse(
                version=version.to_proto(agg.ontology_id)
            )

        return await self._execute(
            cmd,
            cmd.fingerprint(),
            lambda agg: agg.publish(cmd),
            respond,
            ontology_pb2.PublishOntologyVersionResponse,
        )

    async def create_ontology_migration(
        self, cmd: CreateOntologyMigration
    ) -> ontology_pb2.CreateOntologyMigrationResponse:
        def respond(agg: Ontology, _events: Sequence[ev.Event]) -> Message:
            # Also the answer when the very same migration existed (no new event).
            source = agg.find_version(cmd.from_version)
            target = agg.find_version(cmd.to_version)
            migration = agg.migrations[(source.version, target.version)]
            return ontology_pb2.CreateOntologyMigrationResponse(
                migration=migration.to_proto(agg.ontology_id)
            )

        return await self._execute(
            cmd,
            cmd.fingerprint(),
            lambda agg: agg.create_migration(cmd),
            respond,
            ontology_pb2.CreateOntologyMigrationResponse,
        )

    async def deprecate_ontology(
        self, cmd: DeprecateOntology
    ) -> ontology_pb2.DeprecateOntologyResponse:
        return await self._execute(
            cmd,
            cmd.fingerprint(),
            lambda agg: agg.deprecate(cmd),
            lambda agg, _: ontology_pb2.DeprecateOntologyResponse(ontology=agg.to_proto()),
            ontology_pb2.DeprecateOntologyResponse,
        )

    # --- the write path --------------------------------------------------------------------------

    async def _execute(
        self,
        cmd: Command,
        fingerprint: str,
        decide: Callable[[Ontology], list[ev.Event]],
        respond: Callable[[Ontology, Sequence[ev.Event]], Message],
        response_type: type[R],
        *,
        check_id: bool = True,
    ) -> R:
        principal = current_principal()
        if principal is not None and principal.kind not in WRITER_KINDS:
            # Vendor workforces and models read ontologies to label against them; changing
            # what everybody labels against is for people and services of the platform.
            raise PermissionDenied(
                f"{principal.kind} credentials may read ontologies but not change them",
                reason=errors.ONTOLOGY_READ_ONLY,
                metadata={"kind": principal.kind},
            )
        if check_id:
            check_ontology_id(cmd.ontology_id)
        if len(cmd.request_id) > MAX_REQUEST_ID_CHARS:
            raise InvalidArgument(
                f"request_id is longer than {MAX_REQUEST_ID_CHARS} characters",
                [FieldViolation("request_id", "use a UUID")],
            )
        if cmd.request_id:
            earlier = await self.repository.find_request(cmd.request_id)
            if earlier is not None:
                return self._replayed(
                    earlier.fingerprint, earlier.response, fingerprint, response_type
                )
        actor = principal.subject if principal else ""
        tenant = principal.tenant_id if principal else ""
        for attempt in range(1, self.max_attempts + 1):
            agg = await self.repository.load(cmd.ontology_id)
            expected_version = agg.version
            try:
                events = decide(agg)
            except DomainError:
                # A concurrent duplicate of this request may have committed after our first
                # look-up and changed the state this decision saw: its answer is ours.
                if cmd.request_id:
                    earlier = await self.repository.find_request(cmd.request_id)
                    if earlier is not None:
                        return self._replayed(
                            earlier.fingerprint, earlier.response, fingerprint, response_type
                        )
                raise
            if not events:
                return self._as(respond(agg, events), response_type)
            now = self.clock()
            for e in events:
                agg.apply(e, ev.EventMeta(now, actor))
            self._check_sizes(cmd, agg, events)
            response = self._as(respond(agg, events), response_type)
            try:
                async with self.store.transaction() as conn:
                    result = await self.repository.append(
                        conn,
                        cmd.ontology_id,
                        expected_version,
                        events,
                        occurred_at=now,
                        request_id=cmd.request_id,
                        fingerprint=fingerprint,
                        response=response.SerializeToString(),
                    )
                    if result.replayed:
                        # A concurrent duplicate of this request committed first.
                        return self._replayed(
                            fingerprint, result.response, fingerprint, response_type
                        )
                    await self.read_model.save(conn, agg, events, tenant_id=tenant)
            except ConcurrencyConflict:
                if isinstance(cmd, CreateOntology):
                    raise errors.ontology_already_exists(cmd.ontology_id) from None
                if attempt == self.max_attempts:
                    raise
                log.info(
                    "ontology %s changed concurrently; deciding %s again (attempt %d)",
                    cmd.ontology_id,
                    type(cmd).__name__,
                    attempt + 1,
                )
                continue
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _as(message: Message, response_type: type[R]) -> R:
        assert isinstance(message, response_type)
        return message

    @staticmethod
    def _replayed(
        stored_fingerprint: str, stored: bytes | None, fingerprint: str, response_type: type[R]
    ) -> R:
        if stored_fingerprint != fingerprint:
            raise InvalidArgument(
                "request_id was already used for a different request; use a new request_id"
                " for a new request",
                [FieldViolation("request_id", "reused with different content")],
                reason="REQUEST_ID_REUSED",
            )
        if stored is None:  # pragma: no cover - every append here stores its response
            raise Aborted("the first attempt of this request left no answer; retry it")
        return response_type.FromString(stored)

    def _check_sizes(self, cmd: Command, agg: Ontology, events: Sequence[ev.Event]) -> None:
        limits = self.limits
        if isinstance(cmd, CreateOntology | UpdateOntologyDraft):
            where = "definition" if isinstance(cmd, CreateOntology) else "draft"
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
        for e in events:
            size = e.ByteSize()
            if size <= limits.max_event_bytes:
                continue
            if isinstance(cmd, UpdateOntologyDraft):
                description = (
                    f"these edits are {size} bytes serialized; at most"
                    f" {limits.max_event_bytes} bytes per request"
                    " (LABELOPS_ONTOLOGY_MAX_EVENT_BYTES): split them"
                )
                raise InvalidArgument(
                    f"edits are too large: {description}",
                    [FieldViolation("edits", description)],
                    reason=errors.EVENT_TOO_LARGE,
                )
            if isinstance(cmd, CreateOntology):
                description = (
                    f"the ontology is {size} bytes serialized; at most {limits.max_event_bytes}"
                    " bytes (LABELOPS_ONTOLOGY_MAX_EVENT_BYTES)"
                )
                raise InvalidArgument(
                    f"definition is too large: {description}",
                    [FieldViolation("definition", description)],
                    reason=errors.EVENT_TOO_LARGE,
                )
            raise ResourceExhausted(
                f"{type(e).__name__} would be {size} bytes, more than the"
                f" {limits.max_event_bytes} bytes an event may have"
                " (LABELOPS_ONTOLOGY_MAX_EVENT_BYTES); for a publication this means too many"
                " changes at once for so large an ontology",
                reason=errors.EVENT_TOO_LARGE,
                metadata={"size": str(size), "limit": str(limits.max_event_bytes)},
            )
