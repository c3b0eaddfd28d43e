"""Command handlers of the curation service: validate → (read / compute outside any lock where
it is slow) → one transaction: lock the dataset row, decide (domain/), append events, update
read models → COMMIT.

All events of a dataset go to its stream ``datasets/{id}`` (of the dataset's tenant: streams,
dataset ids and everything under a dataset are per tenant). Every writer of a dataset holds the
dataset's row lock for its transaction, so appends never conflict and the checks that need
everything committed before (external id, checksum, current curation states) are exact.

Bad input writes nothing: a request is validated completely before its transaction starts, and
anything found inside the transaction rolls it back. Commands with a ``request_id`` are
idempotent (AIP-155, ``EventStore.command``): a repeat returns the first answer. The handlers
take the protobuf requests as their commands. RegisterItems batches are in ``ingest.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TypeVar

import asyncpg
from google.protobuf.message import Message
from labelops.curation.v1 import curation_pb2 as pb
from labelops_core.authz import Action, require
from labelops_core.context import current_tenant
from labelops_core.ids import new_id
from labelops_eventstore import Command, EventStore, NewEvent

from ..adapters.read_model import CurationReadModel
from ..domain import events as ev
from ..domain.datasets import (
    choose_space,
    dataset_created,
    dataset_exists,
    dataset_from_event,
    dataset_not_found,
)
from ..domain.decisions import (
    ItemState,
    changed_items,
    check_curate_request,
    curated_events,
    state_deltas,
    state_of,
)
from ..domain.dedup import find_near_duplicates
from ..domain.embedding import Embedder
from ..domain.items import DatasetPolicy, check_dataset_id
from ..domain.runs import (
    EDGE_CASE_NOTE,
    check_analyze_coverage,
    check_find_duplicates,
    coverage_run,
    duplicates_run,
    near_duplicate_note,
    representative_rank,
)

R = TypeVar("R", bound=Message)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class CurationHandlers:
    """The write side of the curation service (datasets and decisions).

    Args:
        store: the event store (its pool runs the transactions).
        read_model: tables written in the same transactions as the events.
        embedders: embedders this deployment offers, by name.
    """

    def __init__(
        self,
        store: EventStore,
        read_model: CurationReadModel,
        embedders: Mapping[str, Embedder],
        *,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.store = store
        self.read_model = read_model
        self.embedders = dict(embedders)
        self.clock = clock

    # --- datasets -----------------------------------------------------------------------------

    async def create_dataset(self, req: pb.CreateDatasetRequest) -> pb.CreateDatasetResponse:
        check_dataset_id(req.dataset_id)
        cmd = await self.store.command("CreateDataset", req, pb.CreateDatasetResponse)
        if cmd.earlier is not None:
            return cmd.earlier
        created = dataset_created(req, self.embedders)
        now = self.clock()
        async with self.store.transaction() as conn:
            # Dataset ids are per tenant (so are the stream and the Qdrant collections): only
            # the caller's own tenant can have taken this one; another tenant's says nothing.
            if not await self.read_model.insert_dataset(conn, current_tenant(), created, now):
                raise dataset_exists(req.dataset_id)
            response = pb.CreateDatasetResponse(dataset=dataset_from_event(created, now))
            result = await self.store.append(
                ev.stream_id(req.dataset_id),
                0,
                [NewEvent.of(created, occurred_at=now)],
                conn=conn,
                **cmd.recording(response),
            )
            if result.replayed:
                return pb.CreateDatasetResponse.FromString(result.response or b"")
        return response

    async def policy(self, dataset_id: str) -> DatasetPolicy:
        """What the caller's tenant's dataset accepts; NOT_FOUND ``DATASET_NOT_FOUND`` when that
        tenant has no such dataset (another tenant's answers the same)."""
        check_dataset_id(dataset_id)
        policy = await self.read_model.dataset_policy(current_tenant(), dataset_id)
        if policy is None:
            raise dataset_not_found(dataset_id)
        return policy

    async def resolve_space(
        self, policy: DatasetPolicy, requested: str, field_name: str = "vector_space"
    ) -> str:
        """The vector space to work in (see ``domain.datasets.choose_space``)."""
        spaces = await self.read_model.vector_spaces(current_tenant(), policy.dataset_id)
        return choose_space(policy, spaces, requested, field_name)

    # --- decisions ----------------------------------------------------------------------------

    async def curate_items(self, req: pb.CurateItemsRequest) -> pb.CurateItemsResponse:
        check_dataset_id(req.dataset_id)
        cmd = await self.store.command("CurateItems", req, pb.CurateItemsResponse)
        if cmd.earlier is not None:
            return cmd.earlier
        reason = check_curate_request(req)
        await self.policy(req.dataset_id)
        ids = list(dict.fromkeys(req.item_ids))
        state = state_of(req.decision)
        now = self.clock()
        tenant = current_tenant()
        async with self.store.transaction() as conn:
            await self.read_model.lock_dataset(conn, tenant, req.dataset_id)
            current = await self.read_model.item_states(conn, tenant, req.dataset_id, ids)
            changed = changed_items(req.dataset_id, ids, current, state, reason)
            response = pb.CurateItemsResponse(
                changed=len(changed), unchanged=len(ids) - len(changed)
            )
            if not changed:
                return response
            events = curated_events(req.dataset_id, req.decision, reason, req.note, changed)
            new_events = [NewEvent.of(e, occurred_at=now) for e in events]
            response.event_ids.extend(str(e.event_id) for e in new_events)
            earlier = await self._append(conn, cmd, req.dataset_id, new_events, response)
            if earlier is not None:
                return earlier
            await self._apply_curation(
                conn, req.dataset_id, changed, current, state, reason, req.note, None, now
            )
        return response

    async def _apply_curation(
        self,
        conn: asyncpg.Connection,
        dataset_id: str,
        ids: Sequence[str],
        current: Mapping[str, ItemState],
        state: int,
        reason: int,
        note: str,
        duplicate_of: Sequence[str] | None,
        now: datetime,
    ) -> None:
        tenant = current_tenant()
        await self.read_model.set_states(
            conn, tenant, dataset_id, ids, state, reason, note, duplicate_of, now
        )
        await self.read_model.add_counts(
            conn, tenant, dataset_id, state_deltas(ids, current, state)
        )

    async def _append(
        self,
        conn: asyncpg.Connection,
        cmd: Command[R],
        dataset_id: str,
        events: Sequence[NewEvent],
        response: R,
    ) -> R | None:
        """Append ``events`` to the dataset's stream with ``response`` as the request's answer;
        the stored answer instead when a concurrent duplicate of the request committed first
        (then nothing else may be written)."""
        result = await self.store.append(
            ev.stream_id(dataset_id), None, events, conn=conn, **cmd.recording(response)
        )
        if result.replayed:
            return type(response).FromString(result.response or b"")
        return None

    # --- duplicates and coverage ---------------------------------------------------------------

    async def find_duplicates(self, req: pb.FindDuplicatesRequest) -> pb.FindDuplicatesResponse:
        if req.exclude_duplicates:
            # The method is a read (items.read); excluding what it finds changes items.
            require(Action.ITEMS_WRITE)
        policy = await self.policy(req.dataset_id)
        cmd = await self.store.command("FindDuplicates", req, pb.FindDuplicatesResponse)
        if cmd.earlier is not None:
            return cmd.earlier
        threshold = check_find_duplicates(req, policy)
        space = await self.resolve_space(policy, req.vector_space)
        run_id = new_id()
        now = self.clock()
        tenant = current_tenant()
        async with self.store.transaction() as conn:
            await self.read_model.lock_dataset(conn, tenant, req.dataset_id)
            vs = await self.read_model.load_vectors(
                conn, tenant, req.dataset_id, space, include_excluded=False
            )
            groups = await asyncio.to_thread(
                find_near_duplicates,
                vs.vectors,
                float(threshold),
                preference=representative_rank(vs),
            )
            run = duplicates_run(req, run_id, space, threshold, vs, groups)
            events = [NewEvent.of(e, occurred_at=now) for e in run.events]
            earlier = await self._append(conn, cmd, req.dataset_id, events, run.response)
            if earlier is not None:
                return earlier
            if run.excluded:
                ids = [c[0] for c in run.excluded]
                current = await self.read_model.item_states(conn, tenant, req.dataset_id, ids)
                await self._apply_curation(
                    conn,
                    req.dataset_id,
                    ids,
                    current,
                    pb.CURATION_STATE_EXCLUDED,
                    pb.CURATION_REASON_NEAR_DUPLICATE,
                    near_duplicate_note(threshold, space),
                    [c[1] for c in run.excluded],
                    now,
                )
        return run.response

    async def analyze_coverage(self, req: pb.AnalyzeCoverageRequest) -> pb.AnalyzeCoverageResponse:
        if req.include_edge_cases:
            # The method is a read (items.read); including edge cases changes items.
            require(Action.ITEMS_WRITE)
        policy = await self.policy(req.dataset_id)
        cmd = await self.store.command("AnalyzeCoverage", req, pb.AnalyzeCoverageResponse)
        if cmd.earlier is not None:
            return cmd.earlier
        check_analyze_coverage(req)
        space = await self.resolve_space(policy, req.vector_space)
        run_id = new_id()
        now = self.clock()
        tenant = current_tenant()
        async with self.store.transaction() as conn:
            await self.read_model.lock_dataset(conn, tenant, req.dataset_id)
            vs = await self.read_model.load_vectors(
                conn, tenant, req.dataset_id, space, include_excluded=req.include_excluded
            )
            # Imported here: scikit-learn takes a while to import and only this command needs it.
            from ..domain.coverage import analyze_coverage

            report = await asyncio.to_thread(
                analyze_coverage,
                vs.vectors,
                n_clusters=req.n_clusters or None,
                rare_share=req.rare_share or 0.02,
                max_samples_per_cluster=req.samples_per_cluster or 5,
            )
            run = coverage_run(req, run_id, space, vs, report)
            events = [NewEvent.of(e, occurred_at=now) for e in run.events]
            earlier = await self._append(conn, cmd, req.dataset_id, events, run.response)
            if earlier is not None:
                return earlier
            if run.included:
                current = await self.read_model.item_states(
                    conn, tenant, req.dataset_id, run.included
                )
                await self._apply_curation(
                    conn,
                    req.dataset_id,
                    run.included,
                    current,
                    pb.CURATION_STATE_INCLUDED,
                    pb.CURATION_REASON_EDGE_CASE,
                    EDGE_CASE_NOTE,
                    None,
                    now,
                )
        return run.response
