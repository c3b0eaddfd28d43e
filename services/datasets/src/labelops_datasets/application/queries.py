"""The read side: GetDatasetVersion, ListDatasetVersions, StreamDatasetVersion,
DiffDatasetVersions, ExportDatasetVersion (and ``table``: a version's rows, for callers in
the process). Every call reads the version record, then its files from the object store.

Who may call which is ``entrypoints/access.py`` (``dataset.read``; vendors and annotators hold
it not). Every read is of the caller's tenant: another tenant's dataset is not found.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import asyncpg
import pyarrow as pa
from labelops.datasets.v1 import datasets_pb2 as pb
from labelops_core.context import current_tenant
from labelops_core.errors import FieldViolation, InvalidArgument, NotFound
from labelops_core.paging import decode_token, encode_token, filter_fingerprint, page_size

from ..adapters.accepted import AcceptedLog
from ..adapters.object_store import ObjectStore
from ..adapters.versions import VersionRepository
from ..domain.diff import blame, diff_tables
from ..domain.exports import check_format, export_as, export_replies
from ..domain.manifest import content_sha256
from ..domain.streaming import IpcStream


class DatasetQueries:
    def __init__(
        self,
        pool: asyncpg.Pool,
        repo: VersionRepository,
        accepted: AcceptedLog,
        objects: ObjectStore,
        *,
        qa_topic: str,
        chunk_bytes: int,
    ) -> None:
        self.pool = pool
        self.repo = repo
        self.accepted = accepted
        self.objects = objects
        self.qa_topic = qa_topic
        self.chunk_bytes = chunk_bytes

    async def record(self, tenant_id: str, dataset_id: str, version: int) -> pb.DatasetVersion:
        """A version's record (``version`` 0: the newest) of the tenant's dataset."""
        if version < 0:
            raise InvalidArgument("invalid version", [FieldViolation("version", "must be >= 0")])
        rec = await self.repo.record(self.pool, tenant_id, dataset_id, version)
        if rec is None:
            what = f"version {version}" if version else "any version"
            raise NotFound(f"dataset {dataset_id} has no {what}", reason="VERSION_NOT_FOUND")
        return rec

    async def get(self, req: pb.GetDatasetVersionRequest) -> pb.GetDatasetVersionResponse:
        rec = await self.record(current_tenant(), req.dataset_id, req.version)
        manifest = await asyncio.to_thread(self.objects.manifest_bytes, rec.manifest_sha256)
        if not rec.content_sha256:  # a version made before the field: from its manifest
            rec.content_sha256 = content_sha256(json.loads(manifest)["files"])
        return pb.GetDatasetVersionResponse(version=rec, manifest_json=manifest)

    async def list_versions(
        self, req: pb.ListDatasetVersionsRequest
    ) -> pb.ListDatasetVersionsResponse:
        size = page_size(req.page_size)
        bound = filter_fingerprint(req.dataset_id)
        after = int(decode_token(req.page_token, bound)) if req.page_token else 0
        records = await self.repo.page(self.pool, current_tenant(), req.dataset_id, after, size + 1)
        resp = pb.ListDatasetVersionsResponse(versions=records[:size])
        if len(records) > size:
            resp.next_page_token = encode_token(records[size - 1].version, bound)
        return resp

    async def table(
        self, dataset_id: str, version: int, *, tenant_id: str | None = None
    ) -> tuple[pb.DatasetVersion, pa.Table]:
        """A version's record and rows, every file verified (of ``tenant_id``, default: the
        caller's)."""
        tenant = tenant_id if tenant_id is not None else current_tenant()
        rec = await self.record(tenant, dataset_id, version)
        return rec, await asyncio.to_thread(self.objects.open_version, rec.manifest_sha256)

    async def stream(
        self, req: pb.StreamDatasetVersionRequest
    ) -> AsyncIterator[pb.StreamDatasetVersionResponse]:
        ipc = IpcStream(req.split, req.columns, self.chunk_bytes)
        rec = await self.record(current_tenant(), req.dataset_id, req.version)
        manifest = json.loads(
            await asyncio.to_thread(self.objects.manifest_bytes, rec.manifest_sha256)
        )
        for entry in manifest["files"]:
            data = await asyncio.to_thread(self.objects.get_file, entry["sha256"])
            for chunk, rows in ipc.add(data):
                yield pb.StreamDatasetVersionResponse(arrow_ipc=chunk, rows=rows)
        chunk, rows = ipc.close()
        yield pb.StreamDatasetVersionResponse(arrow_ipc=chunk, rows=rows)

    async def diff(self, req: pb.DiffDatasetVersionsRequest) -> pb.DiffDatasetVersionsResponse:
        size = page_size(req.page_size, default=100, maximum=1000)
        bound = filter_fingerprint(req.dataset_id, req.from_version, req.to_version)
        start = int(decode_token(req.page_token, bound)) if req.page_token else 0
        a, ta = await self.table(req.dataset_id, req.from_version)
        b, tb = await self.table(req.dataset_id, req.to_version)
        changes, summary = await asyncio.to_thread(diff_tables, ta, tb)
        page = changes[start : start + size]
        cut_a = {c.partition: c.offset for c in a.cut}
        cut_b = {c.partition: c.offset for c in b.cut}
        task_ids = {c.task_id for c in page}
        rows = (
            await self.accepted.of_tasks(
                self.pool, current_tenant(), b.project_id, self.qa_topic, task_ids
            )
            if task_ids
            else []
        )
        blamed = blame(
            (
                (r["task_id"], r["partition"], r["offset"], r["ts"], r["event_id"], r["payload"])
                for r in rows
            ),
            cut_a,
            cut_b,
            self.qa_topic,
        )
        for c in page:
            c.blame.extend(blamed.get(c.task_id, []))
        resp = pb.DiffDatasetVersionsResponse(summary=summary, changes=page)
        if start + size < len(changes):
            resp.next_page_token = encode_token(start + size, bound)
        return resp

    async def export(
        self, req: pb.ExportDatasetVersionRequest
    ) -> AsyncIterator[pb.ExportDatasetVersionResponse]:
        check_format(req.format)
        _, table = await self.table(req.dataset_id, req.version)
        result = await asyncio.to_thread(export_as, table, req.format)
        for reply in export_replies(result, req.format, self.chunk_bytes):
            yield reply
