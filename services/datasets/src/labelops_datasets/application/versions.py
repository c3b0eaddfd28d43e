"""CreateDatasetVersion: a version at a cut of the log (and ``rebuild``, its reproducibility
check).

How a version is made, and why it is reproducible and cheap to extend:

1. The *cut* is resolved to per-partition end offsets of the accepted-labels topic (a latest
   or timestamp cut is recorded as the offsets it meant), and must not be ahead of the
   projection — of what is *linked*: ``Projection.link`` runs first, and parses what it links.
2. The version's number, project and target ontology are decided (``domain.versioning``).
3. ``VersionBuilder`` writes the segment files that are not built yet and the manifest, taking
   the events the link parsed instead of parsing them again.
4. The record and ``DatasetVersionCreated`` are stored in one transaction, with the request id
   and the answer (a retried request id gets the version it created).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import asyncpg
from labelops.datasets.v1 import datasets_pb2 as pb
from labelops.datasets.v1 import events_pb2 as ev
from labelops_core.context import current_principal, current_tenant
from labelops_core.errors import ConcurrencyConflict, FailedPrecondition
from labelops_eventstore import Command, EventStore, NewEvent
from labelops_eventstore.store import StreamAppend

from ..adapters.accepted import AcceptedLog
from ..adapters.catalog import Catalog
from ..adapters.object_store import ObjectStore
from ..adapters.versions import VersionRepository
from ..domain.filters import RowFilter
from ..domain.versioning import (
    check_create,
    check_project_known,
    creator,
    cut_offsets,
    cut_time,
    dataset_stream,
    next_number,
    project_of,
    row_filter_of,
    target_ontology,
    timestamp_cut,
    version_record,
)
from .builder import Built, VersionBuilder, VersionSpec
from .projection import Projection
from .queries import DatasetQueries

log = logging.getLogger(__name__)


class DatasetVersions:
    """The write side: CreateDatasetVersion, and ``rebuild``."""

    def __init__(
        self,
        store: EventStore,
        repo: VersionRepository,
        accepted: AcceptedLog,
        catalog: Catalog,
        objects: ObjectStore,
        *,
        projection: Projection,
        builder: VersionBuilder,
        queries: DatasetQueries,
        qa_topic: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.pool: asyncpg.Pool = store.pool
        self.repo = repo
        self.accepted = accepted
        self.catalog = catalog
        self.objects = objects
        self.projection = projection
        self.builder = builder
        self.queries = queries
        self.qa_topic = qa_topic
        self.clock = clock
        self._create_lock: dict[tuple[str, str], asyncio.Lock] = defaultdict(asyncio.Lock)

    async def create(self, req: pb.CreateDatasetVersionRequest) -> pb.CreateDatasetVersionResponse:
        # dataset.write is the method's action (entrypoints/access.py); the version is of the
        # caller's tenant, built from its labels only.
        row_filter = check_create(req)
        command = await self.store.command(
            "CreateDatasetVersion", req, pb.CreateDatasetVersionResponse
        )
        if command.earlier is not None:
            return command.earlier
        tenant = current_tenant()
        async with self._create_lock[(tenant, req.dataset_id)]:
            return await self._create(tenant, req, row_filter, command)

    async def _create(
        self,
        tenant: str,
        req: pb.CreateDatasetVersionRequest,
        row_filter: RowFilter,
        command: Command[pb.CreateDatasetVersionResponse],
    ) -> pb.CreateDatasetVersionResponse:
        stored = await self.repo.project_of(self.pool, tenant, req.dataset_id)
        project_id = project_of(req.dataset_id, stored, req.project_id)
        current = await self.repo.latest_number(self.pool, tenant, req.dataset_id)
        number = next_number(req.dataset_id, current, req.version)
        # The cut is resolved against what is linked, not what is appended: rows appended
        # meanwhile are not linked yet and must not be in this version.
        linked = await self.projection.link(self.pool)
        cut = await self._resolve_cut(req.cut, linked.positions)
        seen = await self.catalog.project_ontologies(self.pool, tenant, project_id, self.qa_topic)
        check_project_known(project_id, stored, seen)
        ontology = target_ontology(project_id, seen, cut, req.ontology_version)
        spec = VersionSpec(
            req.dataset_id,
            number,
            project_id,
            cut,
            row_filter,
            ontology,
            creator(current_principal()),
            tenant,
        )
        built = await self.builder.build(spec)
        record = version_record(
            req,
            number=number,
            project_id=project_id,
            topic=self.qa_topic,
            cut=cut,
            row_filter=spec.row_filter,
            ontology=ontology,
            created_by=spec.created_by,
            digest=built.digest,
            manifest_uri=self.objects.manifest_url(built.digest),
            manifest=built.manifest,
            reused=built.reused,
            now=self.clock(),
        )
        resp = pb.CreateDatasetVersionResponse(version=record)
        await self._save(tenant, record, current, resp, command)
        log.info(
            "dataset %s version %d: %d rows, %d files (%d reused), manifest %s",
            req.dataset_id,
            number,
            record.rows,
            record.files,
            built.reused,
            built.digest,
        )
        return resp

    async def _resolve_cut(self, cut: pb.Cut, positions: Mapping[int, int]) -> dict[int, int]:
        """The cut as end offsets per partition, none beyond ``positions`` (what is linked)."""
        offsets = cut_offsets(cut, positions, self.qa_topic)
        if offsets is not None:
            return offsets
        at = cut_time(cut, self.clock())
        return timestamp_cut(
            positions, await self.accepted.first_after(self.pool, self.qa_topic, at)
        )

    async def _save(
        self,
        tenant: str,
        record: pb.DatasetVersion,
        current: int,
        resp: pb.CreateDatasetVersionResponse,
        command: Command[pb.CreateDatasetVersionResponse],
    ) -> None:
        """The record and its event (stream version = the previous number), with the answer."""
        try:
            async with self.store.transaction() as conn:
                await self.repo.add(conn, tenant, record)
                await self.store.append_streams(
                    [
                        StreamAppend(
                            dataset_stream(record.dataset_id, tenant),
                            current,
                            [
                                NewEvent.of(
                                    ev.DatasetVersionCreated(version=record), tenant_id=tenant
                                )
                            ],
                        )
                    ],
                    conn=conn,
                    **command.recording(resp),
                )
        except asyncpg.UniqueViolationError as exc:
            raise ConcurrencyConflict(
                f"version {record.version} of {record.dataset_id} was created concurrently; retry"
            ) from exc

    async def rebuild(
        self, dataset_id: str, version: int, *, tenant_id: str | None = None
    ) -> Built:
        """Materialize a recorded version again from the current projection (same cut,
        filter, ontology and creator). Its digest equals the recorded one when the projection
        holds the same log: how reproducibility is checked (tests, ``labelops versions
        verify``). Writes only content-addressed objects, never a version record. Of
        ``tenant_id`` (default: the caller's)."""
        tenant = tenant_id if tenant_id is not None else current_tenant()
        rec = await self.queries.record(tenant, dataset_id, version)
        linked = await self.projection.link(self.pool)
        behind = [c.partition for c in rec.cut if c.offset > linked.positions.get(c.partition, 0)]
        if behind:
            raise FailedPrecondition(
                f"the projection has not reached the cut of {rec.name} on partitions {behind}",
                reason="PROJECTION_BEHIND",
            )
        spec = VersionSpec(
            rec.dataset_id,
            rec.version,
            rec.project_id,
            {c.partition: c.offset for c in rec.cut},
            row_filter_of(rec.filter, []),
            (rec.ontology_id, rec.ontology_version),
            rec.created_by,
            tenant,
        )
        return await self.builder.build(spec)
