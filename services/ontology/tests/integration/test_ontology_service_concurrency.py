"""Concurrent writers, request-id replays and restarts, over gRPC with real Postgres."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import grpc
import pytest
from labelops.ontology.v1 import ontology_pb2 as o
from labelops_core.errors import Aborted
from labelops_grpckit import Authenticator
from labelops_ontology.adapters.repository import OntologyRepository
from labelops_ontology.application.handlers import OntologyHandlers
from labelops_ontology.bootstrap import build_app
from labelops_ontology.domain import commands as c
from labelops_ontology.domain.ontology import Ontology
from ontology_grpc_support import API_KEY, PRINCIPAL, fails, ontology_settings, stored
from ontology_samples import add_class, remove, rename, vehicles


async def _create(stub, oid: str = "vehicles", request_id: str = "") -> o.Ontology:
    resp = await stub.CreateOntology(
        o.CreateOntologyRequest(
            ontology_id=oid, display_name="Vehicles", definition=vehicles(), request_id=request_id
        )
    )
    return resp.ontology


async def test_two_edits_with_the_same_expected_revision_one_wins_one_is_aborted(
    ontology_stub, pg_pool, pg_schema
) -> None:
    await _create(ontology_stub)
    for round_ in range(5):
        revision = 1 + round_
        calls = [
            ontology_stub.UpdateOntologyDraft(
                o.UpdateOntologyDraftRequest(
                    ontology_id="vehicles",
                    expected_revision=revision,
                    edits=[add_class(f"c{i}-{round_}")],
                )
            )
            for i in range(2)
        ]
        results = await asyncio.gather(*calls, return_exceptions=True)
        ok = [r for r in results if isinstance(r, o.UpdateOntologyDraftResponse)]
        aborted = [
            r
            for r in results
            if isinstance(r, grpc.aio.AioRpcError) and r.code() == grpc.StatusCode.ABORTED
        ]
        assert (len(ok), len(aborted)) == (1, 1), results
        assert ok[0].ontology.draft_revision == revision + 1
    got = await ontology_stub.GetOntology(o.GetOntologyRequest(ontology_id="vehicles"))
    assert got.ontology.draft_revision == 6
    assert len(got.ontology.draft.classes) == 3 + 5
    assert (await stored(pg_pool, pg_schema))["events"] == 6


class _RacingRepository(OntologyRepository):
    """Runs ``race`` once, right after a load: another writer commits between our read of the
    stream and our append, deterministically."""

    race: Callable[[], Awaitable[object]] | None = None

    async def load(self, tenant_id: str, ontology_id: str) -> Ontology:
        agg = await super().load(tenant_id, ontology_id)
        race, self.race = self.race, None
        if race is not None:
            await race()
        return agg


async def test_a_conflicting_writer_makes_the_handler_decide_again(ontology_app) -> None:
    """A migration loses the race against a draft edit: it is decided again on the new state
    and succeeds. A stale draft edit loses too, and the second decision is ABORTED."""
    app = ontology_app
    racing = _RacingRepository(app.store, cache_size=0)
    handlers = OntologyHandlers(app.store, racing, app.parts.handlers.read_model)
    await app.parts.handlers.create_ontology(c.CreateOntology("vehicles", "V", "", vehicles()))
    await app.parts.handlers.publish_ontology_version(c.PublishOntologyVersion("vehicles", 1))
    await app.parts.handlers.update_ontology_draft(
        c.UpdateOntologyDraft("vehicles", 1, [rename("car", "auto")])
    )
    await app.parts.handlers.publish_ontology_version(c.PublishOntologyVersion("vehicles", 2))

    racing.race = lambda: app.parts.handlers.update_ontology_draft(
        c.UpdateOntologyDraft("vehicles", 2, [add_class("bus")])
    )
    migration = await handlers.create_ontology_migration(
        c.CreateOntologyMigration("vehicles", "1.0.0", "1.0.1")
    )
    assert migration.migration.name == "ontologies/vehicles/migrations/1.0.0..1.0.1"

    racing.race = lambda: app.parts.handlers.update_ontology_draft(
        c.UpdateOntologyDraft("vehicles", 3, [add_class("van")])
    )
    with pytest.raises(Aborted) as info:
        await handlers.update_ontology_draft(
            c.UpdateOntologyDraft("vehicles", 3, [add_class("truck")])
        )
    assert info.value.reason == "DRAFT_REVISION_MISMATCH"
    draft = (await app.parts.queries.get_ontology("vehicles")).ontology
    assert (draft.draft_revision, [x.id for x in draft.draft.classes][-2:]) == (4, ["bus", "van"])


async def test_request_id_replay_returns_the_first_answer_and_writes_nothing(
    ontology_stub, pg_pool, pg_schema
) -> None:
    stub = ontology_stub
    # Create without an id: the retry must return the same generated id.
    req = o.CreateOntologyRequest(display_name="Road", definition=vehicles(), request_id="r-create")
    first = await stub.CreateOntology(req)
    after_first = await stored(pg_pool, pg_schema)
    again = await stub.CreateOntology(req)
    assert again == first
    assert await stored(pg_pool, pg_schema) == after_first
    oid = first.ontology.ontology_id

    update = o.UpdateOntologyDraftRequest(
        ontology_id=oid, expected_revision=1, edits=[add_class("bus")], request_id="r-edit"
    )
    edited = await stub.UpdateOntologyDraft(update)
    publish = o.PublishOntologyVersionRequest(
        ontology_id=oid, expected_revision=2, request_id="r-pub"
    )
    v1 = await stub.PublishOntologyVersion(publish)
    await stub.UpdateOntologyDraft(
        o.UpdateOntologyDraftRequest(ontology_id=oid, expected_revision=2, edits=[remove("bus")])
    )
    snapshot = await stored(pg_pool, pg_schema)
    # The draft moved on (revision 3), yet retries answer as the first time.
    assert await stub.UpdateOntologyDraft(update) == edited
    assert await stub.PublishOntologyVersion(publish) == v1
    # Concurrent duplicates of a new request: one write, the same answer for all.
    deprecate = o.DeprecateOntologyRequest(ontology_id=oid, reason="old", request_id="r-dep")
    answers = await asyncio.gather(*(stub.DeprecateOntology(deprecate) for _ in range(4)))
    assert all(a == answers[0] for a in answers)
    after = await stored(pg_pool, pg_schema)
    assert after["events"] == snapshot["events"] + 1
    assert after["requests"] == snapshot["requests"] + 1

    # The same request id for different content is refused, and writes nothing.
    _, fields = await fails(
        stub.CreateOntology(
            o.CreateOntologyRequest(
                display_name="Other", definition=vehicles(), request_id="r-create"
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "REQUEST_ID_REUSED",
    )
    assert fields == ["request_id"]
    assert await stored(pg_pool, pg_schema) == after


async def test_state_survives_a_restart_rebuilt_from_the_event_store(
    pg_pool, pg_schema, kafka_bootstrap, unique_name
) -> None:
    from labelops.ontology.v1 import ontology_pb2_grpc
    from labelops_grpckit import channel

    settings = ontology_settings(pg_schema, unique_name, kafka_bootstrap)
    auth = Authenticator({API_KEY: PRINCIPAL})

    async def call(fn):
        async with (
            build_app(settings, pool=pg_pool, authenticator=auth) as app,
            channel(app.target, api_key=API_KEY) as ch,
        ):
            return await fn(ontology_pb2_grpc.OntologyServiceStub(ch))

    async def first_life(stub):
        await _create(stub)
        await stub.UpdateOntologyDraft(
            o.UpdateOntologyDraftRequest(
                ontology_id="vehicles", expected_revision=1, edits=[add_class("bus")]
            )
        )
        return await stub.PublishOntologyVersion(
            o.PublishOntologyVersionRequest(ontology_id="vehicles", expected_revision=2)
        )

    async def second_life(stub):
        # A fresh process has no cached aggregate: this decision replays the stream.
        await fails(
            stub.UpdateOntologyDraft(
                o.UpdateOntologyDraftRequest(
                    ontology_id="vehicles", expected_revision=1, edits=[add_class("van")]
                )
            ),
            grpc.StatusCode.ABORTED,
            "DRAFT_REVISION_MISMATCH",
        )
        await stub.UpdateOntologyDraft(
            o.UpdateOntologyDraftRequest(
                ontology_id="vehicles", expected_revision=2, edits=[remove("bus")]
            )
        )
        return await stub.PublishOntologyVersion(
            o.PublishOntologyVersionRequest(ontology_id="vehicles", expected_revision=3)
        )

    v1 = await call(first_life)
    v2 = await call(second_life)
    assert (v1.version.version, v2.version.version) == ("1.0.0", "2.0.0")
    assert [c.id for c in v2.version.definition.classes] == ["car", "person", "lane"]
