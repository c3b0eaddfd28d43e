"""Dataset versions: create at a cut of the log, fetch, stream, diff, export.

How a version is made (``_materialize``), and why it is reproducible and cheap to extend:

1. The *cut* is resolved to per-partition end offsets of the accepted-labels topic (a latest
   or timestamp cut is recorded as the offsets it meant), and must not be ahead of the
   projection.
2. The project's labels below the cut are grouped into *segments*: fixed spans of offsets per
   partition (``segment_span``). A task's row in the version is its latest ``LabelAccepted``
   below the cut, i.e. the row whose successor is at or above it; the set of rows of a segment
   is therefore fixed by (segment, end of the cut inside it, the rows of the segment superseded
   below the cut) — which is all a segment's *fingerprint* hashes, together with the filter,
   the target ontology version, the schema version and the writer.
3. A segment whose fingerprint was built before reuses its file (cache ``segment_files`` +
   the content-addressed blob); the others are built from the history rows (decode, migrate,
   filter, split) and written as one sorted Parquet file each.
4. The manifest lists the segment files in (partition, segment) order with counts merged from
   the segments' stats; its sha256 is the version's address.

A version after +10k labels on a large base rewrites only the segments the new labels (and
the rows they supersede) fall in; everything else is reused by hash.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import io
import json
import logging
import re
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from google.protobuf.timestamp_pb2 import Timestamp
from labelops.datasets.v1 import datasets_pb2 as pb
from labelops.datasets.v1 import events_pb2 as ev
from labelops.labels.v1 import label_pb2 as L
from labelops.ontology.v1 import events_pb2 as oev
from labelops.qa.v1 import events_pb2 as qev
from labelops_core.context import current_principal
from labelops_core.errors import (
    ConcurrencyConflict,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from labelops_core.paging import decode_token, encode_token, filter_fingerprint, page_size
from labelops_eventstore import EventStore, NewEvent
from labelops_eventstore.store import StreamAppend, request_fingerprint
from labelops_ontologykit.diff import parse_version
from labelops_ontologykit.migration import MigrationPlan, chain_migrations, compile_migration

from ..adapters.object_store import ObjectStore
from ..adapters.tables import Tables
from ..domain import exports
from ..domain.build import (
    CONSENSUS_METHODS,
    REVIEW_DECISIONS,
    AcceptedRecord,
    ItemMeta,
    NoMigrationPath,
    RowFilter,
    build_rows,
)
from ..domain.materialize import FileEntry, assemble, segment_format, write_segments
from ..domain.rows import SCHEMA, SCHEMA_VERSION
from ..domain.splits import DEFAULT_RATIOS, SPLITS
from .projection import Projection

log = logging.getLogger(__name__)

DATASET_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
#: Bumped when the fingerprint's inputs or the segment layout change meaning.
FINGERPRINT_VERSION = 1
#: Segments built per round (bounds memory on a first, full build).
_SEGMENTS_PER_ROUND = 8
#: Columns a diff compares: the label itself (class, geometry, answers, attributes: all in the
#: serialized label, after migration), its split and its item's URI. The geometry columns are
#: derived from the label, so they are not compared again.
_DIFF_COLUMNS = ("split", "item_uri", "label_proto")


def dataset_stream(dataset_id: str) -> str:
    return f"datasets/{dataset_id}"


def version_name(dataset_id: str, version: int) -> str:
    return f"datasets/{dataset_id}/versions/{version}"


@dataclass(frozen=True)
class _Segment:
    partition: int
    segment: int
    lo: int
    end: int  # exclusive, already clipped to the cut
    cut_end: int  # the cut of the partition (rows superseded at or above it are valid)
    excluded: tuple[int, ...]
    fingerprint: str


@dataclass(frozen=True)
class Built:
    manifest_bytes: bytes
    digest: str
    manifest: dict[str, Any]
    reused: int


class DatasetVersions:
    def __init__(
        self,
        store: EventStore,
        tables: Tables,
        objects: ObjectStore,
        *,
        schema: str,
        qa_topic: str,
        segment_span: int,
        chunk_bytes: int,
        projection: Projection,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.pool: asyncpg.Pool = store.pool
        self.t = tables
        self.objects = objects
        self.schema = schema
        self.qa_topic = qa_topic
        self.span = segment_span
        self.chunk_bytes = chunk_bytes
        self.projection = projection
        self.clock = clock
        self._create_lock: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    # ------------------------------------------------------------------------- create

    async def create(self, req: pb.CreateDatasetVersionRequest) -> pb.CreateDatasetVersionResponse:
        require_internal()
        violations: list[FieldViolation] = []
        if not DATASET_ID.match(req.dataset_id):
            violations.append(FieldViolation("dataset_id", "3-63 lowercase letters, digits or '-'"))
        if req.version < 0:
            violations.append(FieldViolation("version", "must be >= 0"))
        row_filter = self._row_filter(req.filter, violations)
        if violations:
            raise InvalidArgument("invalid CreateDatasetVersion request", violations)
        fp = request_fingerprint("CreateDatasetVersion", req.SerializeToString(deterministic=True))
        earlier = await self.store.earlier_response(
            req.request_id, fp, pb.CreateDatasetVersionResponse
        )
        if earlier is not None:
            return earlier
        async with self._create_lock[req.dataset_id]:
            return await self._create(req, row_filter, fp)

    async def _create(
        self, req: pb.CreateDatasetVersionRequest, row_filter: RowFilter, fp: str
    ) -> pb.CreateDatasetVersionResponse:
        dataset = await self.pool.fetchrow(
            f"SELECT project_id FROM {self.t.datasets} WHERE dataset_id = $1", req.dataset_id
        )
        if dataset is None:
            if not req.project_id:
                raise InvalidArgument(
                    f"dataset {req.dataset_id} does not exist yet: name its project",
                    [FieldViolation("project_id", "required for a dataset's first version")],
                )
            project_id = req.project_id
        else:
            project_id = dataset["project_id"]
            if req.project_id and req.project_id != project_id:
                raise FailedPrecondition(
                    f"dataset {req.dataset_id} holds project {project_id}, not {req.project_id}",
                    reason="DATASET_PROJECT_MISMATCH",
                )
        current = int(
            await self.pool.fetchval(
                f"SELECT coalesce(max(version), 0) FROM {self.t.versions} WHERE dataset_id = $1",
                req.dataset_id,
            )
        )
        number = current + 1
        if req.version:
            if req.version <= current:
                raise FailedPrecondition(
                    f"version {req.version} of {req.dataset_id} exists; versions are immutable",
                    reason="VERSION_EXISTS",
                )
            if req.version != number:
                raise FailedPrecondition(
                    f"the next version of {req.dataset_id} is {number}, not {req.version}",
                    reason="VERSION_GAP",
                )
        # The cut is resolved against what is linked, not what is appended: rows appended
        # meanwhile are not linked yet and must not be in this version.
        linked = await self.projection.link(self.pool, self.qa_topic)
        cut = await self._resolve_cut(req.cut, linked)
        ontology_id, target = await self._target_ontology(project_id, cut, req.ontology_version)
        created_by = _creator()
        built = await self._materialize(
            req.dataset_id,
            number,
            project_id,
            cut,
            row_filter,
            ontology_id,
            target,
            created_by,
        )
        m = built.manifest
        record = pb.DatasetVersion(
            name=version_name(req.dataset_id, number),
            dataset_id=req.dataset_id,
            version=number,
            project_id=project_id,
            cut=[
                pb.PartitionOffset(topic=self.qa_topic, partition=p, offset=o)
                for p, o in sorted(cut.items())
            ],
            filter=_filter_proto(row_filter),
            ontology_id=ontology_id,
            ontology_version=target,
            manifest_sha256=built.digest,
            manifest_uri=self.objects.manifest_url(built.digest),
            rows=m["row_count"],
            labels=m["counts"]["labels"],
            files=len(m["files"]),
            bytes=sum(f["bytes"] for f in m["files"]),
            created_by=created_by,
            state=pb.VERSION_STATE_READY,
            description=req.description,
            files_reused=built.reused,
        )
        record.create_time.FromDatetime(self.clock())
        resp = pb.CreateDatasetVersionResponse(version=record)
        try:
            async with self.store.transaction() as conn:
                await conn.execute(
                    f"INSERT INTO {self.t.datasets} VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    req.dataset_id,
                    project_id,
                )
                await conn.execute(
                    f"INSERT INTO {self.t.versions} VALUES ($1, $2, $3, $4)",
                    req.dataset_id,
                    number,
                    record.SerializeToString(),
                    built.digest,
                )
                await self.store.append_streams(
                    [
                        StreamAppend(
                            dataset_stream(req.dataset_id),
                            current,
                            [NewEvent.of(ev.DatasetVersionCreated(version=record))],
                        )
                    ],
                    request_id=req.request_id or None,
                    fingerprint=fp,
                    response=resp.SerializeToString(),
                    conn=conn,
                )
        except asyncpg.UniqueViolationError as exc:
            raise ConcurrencyConflict(
                f"version {number} of {req.dataset_id} was created concurrently; retry"
            ) from exc
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

    @staticmethod
    def _row_filter(f: pb.Filter, violations: list[FieldViolation]) -> RowFilter:
        ratios: tuple[float, float, float] = (f.splits.train, f.splits.val, f.splits.test)
        if ratios == (0.0, 0.0, 0.0):
            ratios = DEFAULT_RATIOS
        rf = RowFilter(
            classes=tuple(sorted(set(f.class_ids))),
            min_consensus_score=f.min_consensus_score,
            review_decisions=tuple(sorted(set(f.review_decisions))),
            split_ratios=ratios,
            split_salt=f.splits.salt,
        )
        for field, description in rf.validate():
            violations.append(FieldViolation(f"filter.{field}", description))
        return rf

    async def _resolve_cut(self, cut: pb.Cut, positions: Mapping[int, int]) -> dict[int, int]:
        """The cut as end offsets per partition, none beyond ``positions`` (what is linked)."""
        kind = cut.WhichOneof("kind")
        if kind in (None, "latest"):
            resolved = dict(positions)
        elif kind == "offsets":
            resolved = {}
            violations = []
            for i, po in enumerate(cut.offsets.offsets):
                if po.topic and po.topic != self.qa_topic:
                    violations.append(
                        FieldViolation(
                            f"cut.offsets.offsets[{i}].topic", f"must be {self.qa_topic}"
                        )
                    )
                if po.partition < 0 or po.offset < 0:
                    violations.append(
                        FieldViolation(f"cut.offsets.offsets[{i}]", "must not be negative")
                    )
                if po.partition in resolved:
                    violations.append(
                        FieldViolation(f"cut.offsets.offsets[{i}].partition", "listed twice")
                    )
                resolved[po.partition] = po.offset
            if violations:
                raise InvalidArgument("invalid cut", violations)
            behind = {p: o for p, o in resolved.items() if o > positions.get(p, 0)}
            if behind:
                raise FailedPrecondition(
                    "the projection has not reached the cut yet: "
                    + ", ".join(
                        f"partition {p} at {positions.get(p, 0)} < {o}"
                        for p, o in sorted(behind.items())
                    ),
                    reason="PROJECTION_BEHIND",
                )
        else:
            at = cut.timestamp.ToDatetime(tzinfo=UTC)
            if at > self.clock():
                raise InvalidArgument(
                    "a timestamp cut must not be in the future",
                    [FieldViolation("cut.timestamp", "must be at or before now")],
                )
            rows = await self.pool.fetch(
                f'SELECT partition, min("offset") AS first_after FROM {self.t.accepted}'
                " WHERE topic = $1 AND ts > $2 GROUP BY partition",
                self.qa_topic,
                at,
            )
            after = {r["partition"]: r["first_after"] for r in rows}
            resolved = {p: min(after.get(p, o), o) for p, o in positions.items()}
        return {p: o for p, o in sorted(resolved.items()) if o > 0}

    async def _target_ontology(
        self, project_id: str, cut: Mapping[int, int], requested: str
    ) -> tuple[str, str]:
        rows = await self.pool.fetch(
            f"SELECT ontology_id, ontology_version, partition, first_offset"
            f" FROM {self.t.project_ontologies} WHERE project_id = $1 AND topic = $2",
            project_id,
            self.qa_topic,
        )
        seen = {
            (r["ontology_id"], r["ontology_version"])
            for r in rows
            if r["first_offset"] < cut.get(r["partition"], 0)
        }
        ids = sorted({o for o, _ in seen})
        if len(ids) > 1:
            raise FailedPrecondition(
                f"project {project_id} has labels of several ontologies {ids} below the cut",
                reason="MIXED_ONTOLOGIES",
            )
        if not ids:
            return "", requested
        if requested:
            try:
                parse_version(requested)
            except ValueError as exc:
                raise InvalidArgument(
                    "ontology_version is not a version",
                    [FieldViolation("ontology_version", str(exc))],
                ) from exc
            return ids[0], requested
        return ids[0], max((v for _, v in seen), key=_version_key)

    # -------------------------------------------------------------------- materialize

    async def _materialize(
        self,
        dataset_id: str,
        number: int,
        project_id: str,
        cut: Mapping[int, int],
        row_filter: RowFilter,
        ontology_id: str,
        target: str,
        created_by: str,
    ) -> Built:
        filter_json = row_filter.to_json()
        segments = await self._segments(project_id, cut, filter_json, ontology_id, target)
        cached = {
            r["fingerprint"]: FileEntry(r["sha256"], r["rows"], r["bytes"], json.loads(r["stats"]))
            for r in await self.pool.fetch(
                f"SELECT * FROM {self.t.segment_files} WHERE fingerprint = ANY($1::text[])",
                [s.fingerprint for s in segments],
            )
        }
        # A cached file whose blob is gone (a wiped store) is built again.
        gone = await asyncio.to_thread(
            lambda: [f for f, e in cached.items() if e.rows and not self.objects.has_blob(e.sha256)]
        )
        for fpr in gone:
            del cached[fpr]
        todo = [s for s in segments if s.fingerprint not in cached]
        resolver = await self._migrations(ontology_id, target)
        for i in range(0, len(todo), _SEGMENTS_PER_ROUND):
            round_ = todo[i : i + _SEGMENTS_PER_ROUND]
            tables = [
                await self._segment_table(project_id, s, row_filter, target, resolver)
                for s in round_
            ]
            files = await asyncio.to_thread(write_segments, tables)
            for s, f in zip(round_, files, strict=True):
                if f.rows:
                    await asyncio.to_thread(self.objects.put_blob, f.data)
                entry = FileEntry(f.sha256, f.rows, len(f.data), f.stats)
                await self.pool.execute(
                    f"INSERT INTO {self.t.segment_files} VALUES ($1, $2, $3, $4, $5)"
                    " ON CONFLICT DO NOTHING",
                    s.fingerprint,
                    f.sha256,
                    f.rows,
                    len(f.data),
                    _canonical(f.stats).decode(),
                )
                cached[s.fingerprint] = entry
        entries = [cached[s.fingerprint] for s in segments]
        extra = {
            "segments": [
                {"topic": self.qa_topic, "partition": s.partition, "segment": s.segment}
                for s, e in zip(segments, entries, strict=True)
                if e.rows
            ],
            "segment_span": self.span,
            "project_id": project_id,
        }
        manifest_bytes, digest, manifest = assemble(
            entries,
            dataset_id=dataset_id,
            version=number,
            cut=[
                {"topic": self.qa_topic, "partition": p, "offset": o}
                for p, o in sorted(cut.items())
            ],
            filter=filter_json,
            ontology={"ontology_id": ontology_id, "version": target},
            created_by=created_by,
            extra=extra,
        )
        # Every listed blob was checked (cached) or just written above: no second size check.
        await asyncio.to_thread(
            functools.partial(self.objects.put_manifest, manifest_bytes, digest, check_blobs=False)
        )
        return Built(manifest_bytes, digest, manifest, len(segments) - len(todo))

    async def _segments(
        self,
        project_id: str,
        cut: Mapping[int, int],
        filter_json: Mapping[str, Any],
        ontology_id: str,
        target: str,
    ) -> list[_Segment]:
        if not cut:
            return []
        span = self.span
        present = await self.pool.fetch(
            f"SELECT partition, segment FROM {self.t.segments}"
            " WHERE project_id = $1 AND topic = $2 ORDER BY partition, segment",
            project_id,
            self.qa_topic,
        )
        excluded: dict[tuple[int, int], list[int]] = defaultdict(list)
        for p, end in cut.items():
            for r in await self.pool.fetch(
                f'SELECT "offset" FROM {self.t.accepted} WHERE project_id = $1 AND topic = $2'
                ' AND partition = $3 AND superseded_offset < $4 AND "offset" < $4'
                ' ORDER BY "offset"',
                project_id,
                self.qa_topic,
                p,
                end,
            ):
                excluded[(p, r["offset"] // span)].append(r["offset"])
        common = {
            "v": FINGERPRINT_VERSION,
            "schema_version": SCHEMA_VERSION,
            # pyarrow version, writer settings, row groups, row schema and stats layout.
            "format": segment_format(),
            "project_id": project_id,
            "topic": self.qa_topic,
            "span": span,
            "filter": filter_json,
            "ontology": [ontology_id, target],
        }
        out = []
        for r in present:
            p, s = r["partition"], r["segment"]
            cut_end = cut.get(p, 0)
            lo = s * span
            if lo >= cut_end:
                continue
            end = min(lo + span, cut_end)
            ex = tuple(excluded.get((p, s), ()))
            fingerprint = hashlib.sha256(
                _canonical({**common, "partition": p, "segment": s, "end": end, "excluded": ex})
            ).hexdigest()
            out.append(_Segment(p, s, lo, end, cut_end, ex, fingerprint))
        return out

    async def _segment_table(
        self,
        project_id: str,
        s: _Segment,
        row_filter: RowFilter,
        target: str,
        resolver: Callable[[str, str], MigrationPlan | None],
    ) -> pa.Table:
        rows = await self.pool.fetch(
            f'SELECT "offset", event_id, payload FROM {self.t.accepted}'
            " WHERE project_id = $1 AND topic = $2 AND partition = $3"
            ' AND "offset" >= $4 AND "offset" < $5'
            " AND (superseded_offset IS NULL OR superseded_offset >= $6)",
            project_id,
            self.qa_topic,
            s.partition,
            s.lo,
            s.end,
            s.cut_end,
        )
        item_ids = sorted({_item_of(r["payload"]) for r in rows})
        items = {
            r["item_id"]: ItemMeta(r["uri"], r["width"], r["height"])
            for r in await self.pool.fetch(
                f"SELECT item_id, uri, width, height FROM {self.t.items}"
                " WHERE item_id = ANY($1::text[])",
                item_ids,
            )
        }
        missing = [i for i in item_ids if i not in items]
        if missing:
            raise FailedPrecondition(
                f"{len(missing)} labeled items have no metadata from curation yet (e.g. "
                f"{', '.join(missing[:5])}); a version needs every item's registration so that "
                "rebuilding it gives the same bytes",
                reason="ITEM_METADATA_MISSING",
                metadata={"missing": str(len(missing))},
            )
        records = [
            AcceptedRecord(r["payload"], r["event_id"], self.qa_topic, s.partition, r["offset"])
            for r in rows
        ]
        try:
            return await asyncio.to_thread(
                build_rows,
                records,
                items=items,
                filter=row_filter,
                target_ontology_version=target or None,
                migration=resolver,
            )
        except NoMigrationPath as exc:
            raise FailedPrecondition(str(exc), reason="NO_MIGRATION_PATH") from exc

    async def _migrations(
        self, ontology_id: str, target: str
    ) -> Callable[[str, str], MigrationPlan | None]:
        edges: dict[str, list[tuple[str, bytes]]] = defaultdict(list)
        for r in await self.pool.fetch(
            f"SELECT from_version, to_version, rules FROM {self.t.ontology_migrations}"
            " WHERE ontology_id = $1 ORDER BY from_version, to_version",
            ontology_id,
        ):
            edges[r["from_version"]].append((r["to_version"], r["rules"]))
        plans: dict[tuple[str, str], MigrationPlan | None] = {}

        def resolve(from_version: str, to_version: str) -> MigrationPlan | None:
            key = (from_version, to_version)
            if key not in plans:
                plans[key] = _path(edges, from_version, to_version)
            return plans[key]

        return resolve

    async def rebuild(self, dataset_id: str, version: int) -> Built:
        """Materialize a recorded version again from the current projection (same cut,
        filter, ontology and creator). Its digest equals the recorded one when the projection
        holds the same log: how reproducibility is checked (tests, ``labelops versions
        verify``). Writes only content-addressed objects, never a version record."""
        rec = await self._record(dataset_id, version)
        linked = await self.projection.link(self.pool, self.qa_topic)
        behind = [c.partition for c in rec.cut if c.offset > linked.get(c.partition, 0)]
        if behind:
            raise FailedPrecondition(
                f"the projection has not reached the cut of {rec.name} on partitions {behind}",
                reason="PROJECTION_BEHIND",
            )
        violations: list[FieldViolation] = []
        row_filter = self._row_filter(rec.filter, violations)
        return await self._materialize(
            rec.dataset_id,
            rec.version,
            rec.project_id,
            {c.partition: c.offset for c in rec.cut},
            row_filter,
            rec.ontology_id,
            rec.ontology_version,
            rec.created_by,
        )

    # --------------------------------------------------------------------------- read

    async def _record(self, dataset_id: str, version: int) -> pb.DatasetVersion:
        if version < 0:
            raise InvalidArgument("invalid version", [FieldViolation("version", "must be >= 0")])
        if version == 0:
            raw = await self.pool.fetchval(
                f"SELECT record FROM {self.t.versions} WHERE dataset_id = $1"
                " ORDER BY version DESC LIMIT 1",
                dataset_id,
            )
        else:
            raw = await self.pool.fetchval(
                f"SELECT record FROM {self.t.versions} WHERE dataset_id = $1 AND version = $2",
                dataset_id,
                version,
            )
        if raw is None:
            what = f"version {version}" if version else "any version"
            raise NotFound(f"dataset {dataset_id} has no {what}", reason="VERSION_NOT_FOUND")
        return pb.DatasetVersion.FromString(raw)

    async def get(self, req: pb.GetDatasetVersionRequest) -> pb.GetDatasetVersionResponse:
        require_internal()
        rec = await self._record(req.dataset_id, req.version)
        manifest = await asyncio.to_thread(self.objects.manifest_bytes, rec.manifest_sha256)
        return pb.GetDatasetVersionResponse(version=rec, manifest_json=manifest)

    async def list_versions(
        self, req: pb.ListDatasetVersionsRequest
    ) -> pb.ListDatasetVersionsResponse:
        require_internal()
        size = page_size(req.page_size)
        bound = filter_fingerprint(req.dataset_id)
        after = int(decode_token(req.page_token, bound)) if req.page_token else 0
        rows = await self.pool.fetch(
            f"SELECT version, record FROM {self.t.versions}"
            " WHERE dataset_id = $1 AND version > $2 ORDER BY version LIMIT $3",
            req.dataset_id,
            after,
            size + 1,
        )
        resp = pb.ListDatasetVersionsResponse(
            versions=[pb.DatasetVersion.FromString(r["record"]) for r in rows[:size]]
        )
        if len(rows) > size:
            resp.next_page_token = encode_token(rows[size - 1]["version"], bound)
        return resp

    async def table(self, dataset_id: str, version: int) -> tuple[pb.DatasetVersion, pa.Table]:
        require_internal()
        rec = await self._record(dataset_id, version)
        return rec, await asyncio.to_thread(self.objects.open_version, rec.manifest_sha256)

    async def stream(
        self, req: pb.StreamDatasetVersionRequest
    ) -> AsyncIterator[pb.StreamDatasetVersionResponse]:
        require_internal()
        violations = []
        if req.split and req.split not in SPLITS:
            violations.append(FieldViolation("split", f"one of {', '.join(SPLITS)}"))
        unknown = [c for c in req.columns if c not in SCHEMA.names]
        if unknown:
            violations.append(FieldViolation("columns", f"unknown columns {unknown}"))
        if violations:
            raise InvalidArgument("invalid StreamDatasetVersion request", violations)
        rec = await self._record(req.dataset_id, req.version)
        manifest = json.loads(
            await asyncio.to_thread(self.objects.manifest_bytes, rec.manifest_sha256)
        )
        columns = list(dict.fromkeys(req.columns)) or list(SCHEMA.names)
        schema = pa.schema([SCHEMA.field(c) for c in columns])
        read = columns if not req.split or "split" in columns else [*columns, "split"]
        sink = io.BytesIO()
        writer = pa.ipc.new_stream(sink, schema)
        rows = 0
        for entry in manifest["files"]:
            data = await asyncio.to_thread(self.objects.get_file, entry["sha256"])
            parquet = pq.ParquetFile(pa.BufferReader(data))
            for batch in parquet.iter_batches(batch_size=16_384, columns=read):
                if req.split:
                    batch = batch.filter(pc.equal(batch.column("split"), req.split))
                batch = pa.RecordBatch.from_arrays(
                    [batch.column(c) for c in columns], schema=schema
                )
                if not batch.num_rows:
                    continue
                writer.write_batch(batch)
                rows += batch.num_rows
                if sink.tell() >= self.chunk_bytes:
                    yield pb.StreamDatasetVersionResponse(arrow_ipc=_drain(sink), rows=rows)
                    rows = 0
        writer.close()
        yield pb.StreamDatasetVersionResponse(arrow_ipc=_drain(sink), rows=rows)

    # --------------------------------------------------------------------------- diff

    async def diff(self, req: pb.DiffDatasetVersionsRequest) -> pb.DiffDatasetVersionsResponse:
        size = page_size(req.page_size, default=100, maximum=1000)
        bound = filter_fingerprint(req.dataset_id, req.from_version, req.to_version)
        start = int(decode_token(req.page_token, bound)) if req.page_token else 0
        a, ta = await self.table(req.dataset_id, req.from_version)
        b, tb = await self.table(req.dataset_id, req.to_version)
        changes, summary = await asyncio.to_thread(_diff_tables, ta, tb)
        page = changes[start : start + size]
        cut_a = {c.partition: c.offset for c in a.cut}
        cut_b = {c.partition: c.offset for c in b.cut}
        blame = await self._blame(b.project_id, {c.task_id for c in page}, cut_a, cut_b)
        for c in page:
            c.blame.extend(blame.get(c.task_id, []))
        resp = pb.DiffDatasetVersionsResponse(summary=summary, changes=page)
        if start + size < len(changes):
            resp.next_page_token = encode_token(start + size, bound)
        return resp

    async def _blame(
        self,
        project_id: str,
        task_ids: set[str],
        cut_a: Mapping[int, int],
        cut_b: Mapping[int, int],
    ) -> dict[str, list[pb.BlameEvent]]:
        if not task_ids:
            return {}
        rows = await self.pool.fetch(
            f'SELECT task_id, partition, "offset", ts, event_id, payload FROM {self.t.accepted}'
            " WHERE project_id = $1 AND topic = $2 AND task_id = ANY($3::text[])"
            ' ORDER BY partition, "offset"',
            project_id,
            self.qa_topic,
            sorted(task_ids),
        )
        out: dict[str, list[pb.BlameEvent]] = defaultdict(list)
        for r in rows:
            p, o = r["partition"], r["offset"]
            lo, hi = sorted((cut_a.get(p, 0), cut_b.get(p, 0)))
            if not lo <= o < hi:
                continue
            lineage = qev.LabelAccepted.FromString(r["payload"]).lineage
            when = Timestamp()
            when.FromDatetime(r["ts"])
            out[r["task_id"]].append(
                pb.BlameEvent(
                    event_id=r["event_id"],
                    topic=self.qa_topic,
                    partition=p,
                    offset=o,
                    time=when,
                    consensus_method=CONSENSUS_METHODS.get(lineage.consensus_method, "none"),
                    review_decision=REVIEW_DECISIONS[lineage.review_decision]
                    if 0 <= lineage.review_decision < len(REVIEW_DECISIONS)
                    else "none",
                    annotator_ids=list(lineage.annotator_ids),
                    reviewer=lineage.reviewer,
                )
            )
        return out

    # ------------------------------------------------------------------------- export

    async def export(
        self, req: pb.ExportDatasetVersionRequest
    ) -> AsyncIterator[pb.ExportDatasetVersionResponse]:
        if req.format == pb.EXPORT_FORMAT_UNSPECIFIED or req.format not in pb.ExportFormat.values():
            raise InvalidArgument(
                "choose an export format", [FieldViolation("format", "one of ExportFormat")]
            )
        _, table = await self.table(req.dataset_id, req.version)
        result = await asyncio.to_thread(_export, table, req.format)
        header = pb.ExportHeader(format=req.format, stats_json=_canonical(result.stats).decode())
        paths = sorted(result.files)
        for path in paths:
            data = result.files[path]
            header.files.append(
                pb.ExportFile(path=path, size=len(data), sha256=hashlib.sha256(data).hexdigest())
            )
        yield pb.ExportDatasetVersionResponse(header=header)
        for path in paths:
            data = result.files[path]
            for offset in range(0, max(len(data), 1), self.chunk_bytes):
                yield pb.ExportDatasetVersionResponse(
                    chunk=pb.ExportChunk(
                        path=path, offset=offset, data=data[offset : offset + self.chunk_bytes]
                    )
                )


# ------------------------------------------------------------------------------ helpers


def _item_of(payload: bytes) -> str:
    e = qev.LabelAccepted.FromString(payload)
    return e.item_id or e.labels.item_id


def require_internal() -> None:
    """Datasets are for the organisation's own people and services, not vendor workforces
    (who only see the tasks routed to them)."""
    p = current_principal()
    if p is not None and p.kind == "vendor":
        raise PermissionDenied(
            f"vendor {p.subject} may not read or create dataset versions",
            reason="DATASETS_INTERNAL_ONLY",
        )


def _creator() -> str:
    p = current_principal()
    return "" if p is None else f"{p.kind}:{p.subject}"


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _version_key(v: str) -> tuple[int, int, int]:
    try:
        return parse_version(v)
    except ValueError:
        return (-1, -1, -1)


def _path(
    edges: Mapping[str, list[tuple[str, bytes]]], start: str, goal: str
) -> MigrationPlan | None:
    """The chained plan of the shortest migration path start → goal (BFS), or None."""
    frontier: list[tuple[str, list[tuple[str, str, bytes]]]] = [(start, [])]
    seen = {start}
    while frontier:
        nxt = []
        for node, path in frontier:
            for to, raw in edges.get(node, ()):
                if to in seen:
                    continue
                step = [*path, (node, to, raw)]
                if to == goal:
                    return chain_migrations(
                        [
                            compile_migration(
                                f, t, oev.OntologyMigrationCreated.FromString(r).rules
                            )
                            for f, t, r in step
                        ]
                    )
                seen.add(to)
                nxt.append((to, step))
        frontier = nxt
    return None


def _filter_proto(f: RowFilter) -> pb.Filter:
    return pb.Filter(
        class_ids=list(f.classes),
        min_consensus_score=f.min_consensus_score,
        review_decisions=list(f.review_decisions),
        splits=pb.Splits(
            train=f.split_ratios[0],
            val=f.split_ratios[1],
            test=f.split_ratios[2],
            salt=f.split_salt,
        ),
    )


def _drain(sink: io.BytesIO) -> bytes:
    data = sink.getvalue()
    sink.seek(0)
    sink.truncate()
    return data


def _diff_tables(a: pa.Table, b: pa.Table) -> tuple[list[pb.LabelChange], pb.DiffSummary]:
    """Label-level changes from ``a`` to ``b``, ordered by (item, task, label).

    Labels are matched per task: by label id first; a task's labels left over on both sides
    (a re-label whose consensus produced new label ids) are paired in (class, label id) order
    and reported as changed (``label_id`` among the changed fields); the rest are added or
    removed.
    """
    cols = ["item_id", "task_id", "label_id", "label_event_id", "class_id", *_DIFF_COLUMNS]

    def by_task(t: pa.Table) -> dict[str, dict[str, dict[str, Any]]]:
        data = t.select(cols).to_pydict()
        out: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        for i in range(t.num_rows):
            out[data["task_id"][i]][data["label_id"][i]] = {c: data[c][i] for c in cols}
        return out

    ta, tb = by_task(a), by_task(b)
    pairs: list[tuple[dict[str, Any] | None, dict[str, Any] | None]] = []
    for task in ta.keys() | tb.keys():
        la, lb = ta.get(task, {}), tb.get(task, {})
        pairs.extend((la[k], lb[k]) for k in la.keys() & lb.keys())
        rest_a = sorted((la[k] for k in la.keys() - lb.keys()), key=_label_order)
        rest_b = sorted((lb[k] for k in lb.keys() - la.keys()), key=_label_order)
        n = min(len(rest_a), len(rest_b))
        pairs.extend(zip(rest_a[:n], rest_b[:n], strict=True))
        pairs.extend((r, None) for r in rest_a[n:])
        pairs.extend((None, r) for r in rest_b[n:])

    def order(pair: tuple[dict[str, Any] | None, dict[str, Any] | None]) -> tuple[str, ...]:
        row = pair[1] or pair[0]
        assert row is not None
        return (row["item_id"], row["task_id"], row["label_id"], (pair[0] or row)["label_id"])

    changes: list[pb.LabelChange] = []
    summary = pb.DiffSummary()
    for ra, rb in sorted(pairs, key=order):
        if ra is not None and rb is not None:
            fields = _changed_fields(ra, rb)
            if not fields:
                summary.unchanged += 1
                continue
            summary.changed += 1
            kind = pb.CHANGE_KIND_CHANGED
        elif rb is not None:
            summary.added += 1
            kind, fields = pb.CHANGE_KIND_ADDED, []
        else:
            summary.removed += 1
            kind, fields = pb.CHANGE_KIND_REMOVED, []
        row = rb or ra
        assert row is not None
        changes.append(
            pb.LabelChange(
                kind=kind,
                item_id=row["item_id"],
                task_id=row["task_id"],
                label_id=row["label_id"],
                from_class_id=ra["class_id"] if ra else "",
                to_class_id=rb["class_id"] if rb else "",
                changed_fields=fields,
                from_event_id=ra["label_event_id"] if ra else "",
                to_event_id=rb["label_event_id"] if rb else "",
            )
        )
    return changes, summary


def _changed_fields(ra: Mapping[str, Any], rb: Mapping[str, Any]) -> list[str]:
    """What differs between two rows of one task: ``split``, ``item_uri`` and the label's own
    fields (``label_id``, ``class_id``, ``geometry``, ``answers``, ``attributes``,
    ``confidence``)."""
    fields = [c for c in ("split", "item_uri") if ra[c] != rb[c]]
    if ra["label_id"] != rb["label_id"]:
        fields.append("label_id")
    if ra["label_proto"] != rb["label_proto"]:
        la = L.Label.FromString(ra["label_proto"])
        lb = L.Label.FromString(rb["label_proto"])
        if la.class_id != lb.class_id:
            fields.append("class_id")
        ga, gb = la.WhichOneof("geometry"), lb.WhichOneof("geometry")
        if ga != gb or (ga is not None and getattr(la, ga) != getattr(lb, gb)):
            fields.append("geometry")
        for name in ("answers", "attributes", "confidence"):
            if getattr(la, name) != getattr(lb, name):
                fields.append(name)
    return fields


def _label_order(row: dict[str, Any]) -> tuple[str, str]:
    return (row["class_id"], row["label_id"])


def _export(table: pa.Table, fmt: int) -> exports.Export:
    if fmt == pb.EXPORT_FORMAT_COCO:
        return exports.to_coco(table)
    if fmt == pb.EXPORT_FORMAT_YOLO:
        return exports.to_yolo(table)
    if fmt == pb.EXPORT_FORMAT_LABEL_STUDIO:
        return exports.to_label_studio(table)
    files = {}
    for split in SPLITS:
        part = table.filter(pc.equal(table.column("split"), split))
        if part.num_rows:
            files[f"data/{split}.parquet"] = exports.to_parquet_bytes(part)
    return exports.Export(files=files, format="hf_parquet", stats={"rows": table.num_rows})
