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
stored (``domain.limits``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TypeVar

from google.protobuf.message import Message
from labelops.ontology.v1 import events_pb2, ontology_pb2
from labelops_core.context import current_principal, current_tenant
from labelops_core.errors import Aborted, ConcurrencyConflict, DomainError
from labelops_core.ids import new_id
from labelops_eventstore import Command as IdempotentCommand
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
from ..domain.limits import Limits, check_sizes
from ..domain.ontology import Ontology, check_ontology_id

__all__ = ["Limits", "OntologyHandlers"]

log = logging.getLogger(__name__)

R = TypeVar("R", bound=Message)

#: Longest request id accepted (AIP-155 suggests a UUID: 36 characters).
MAX_REQUEST_ID_CHARS = 128


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
        # Who may write is the method table's (entrypoints/access.py, checked before this runs).
        if check_id:
            check_ontology_id(cmd.ontology_id)
        # The fingerprint is the command's own (domain/commands.py), as stored since the first
        # release: a retry from before an upgrade still finds its answer.
        earlier: R | None = await self._earlier(cmd.request_id, fingerprint, response_type)
        request: IdempotentCommand[R] = IdempotentCommand(cmd.request_id, fingerprint, earlier)
        if request.earlier is not None:
            return request.earlier
        for attempt in range(1, self.max_attempts + 1):
            last = attempt == self.max_attempts
            answer = await self._attempt(cmd, request, decide, respond, response_type, last=last)
            if answer is not None:
                return answer
            log.info(
                "ontology %s changed concurrently; deciding %s again (attempt %d)",
                cmd.ontology_id,
                type(cmd).__name__,
                attempt + 1,
            )
        raise AssertionError("unreachable")  # pragma: no cover

    async def _attempt(
        self,
        cmd: Command,
        request: IdempotentCommand[R],
        decide: Callable[[Ontology], list[ev.Event]],
        respond: Callable[[Ontology, Sequence[ev.Event]], Message],
        response_type: type[R],
        *,
        last: bool,
    ) -> R | None:
        """One round of load → decide → append + read models; None when another writer
        appended to the stream meanwhile (decide again), unless this is the ``last`` round."""
        tenant = current_tenant()
        agg = await self.repository.load(tenant, cmd.ontology_id)
        expected_version = agg.version
        try:
            events = decide(agg)
        except DomainError:
            # A concurrent duplicate of this request may have committed after our first
            # look-up and changed the state this decision saw: its answer is ours.
            earlier = await self._earlier(request.request_id, request.fingerprint, response_type)
            if earlier is not None:
                return earlier
            raise
        if not events:
            return self._as(respond(agg, events), response_type)
        now = self.clock()
        principal = current_principal()
        for e in events:
            agg.apply(e, ev.EventMeta(now, principal.subject if principal else ""))
        check_sizes(self.limits, cmd, agg, events)
        response = self._as(respond(agg, events), response_type)
        try:
            async with self.store.transaction() as conn:
                result = await self.repository.append(
                    conn,
                    tenant,
                    cmd.ontology_id,
                    expected_version,
                    events,
                    occurred_at=now,
                    **request.recording(response),
                )
                if result.replayed:
                    # A concurrent duplicate of this request committed first.
                    return self._stored(result.response, response_type)
                await self.read_model.save(conn, tenant, agg, events)
        except ConcurrencyConflict:
            if isinstance(cmd, CreateOntology):
                raise errors.ontology_already_exists(cmd.ontology_id) from None
            if last:
                raise
            return None
        return response

    async def _earlier(self, request_id: str, fingerprint: str, response_type: type[R]) -> R | None:
        """The stored answer of an earlier request with this id (REQUEST_ID_REUSED when the
        content differs; INVALID_ARGUMENT when the id is too long)."""
        return await self.store.earlier_response(
            request_id, fingerprint, response_type, max_chars=MAX_REQUEST_ID_CHARS
        )

    @staticmethod
    def _as(message: Message, response_type: type[R]) -> R:
        assert isinstance(message, response_type)
        return message

    @staticmethod
    def _stored(stored: bytes | None, response_type: type[R]) -> R:
        # The store already refused a replay with other content (REQUEST_ID_REUSED).
        if stored is None:  # pragma: no cover - every append here stores its response
            raise Aborted("the first attempt of this request left no answer; retry it")
        return response_type.FromString(stored)
