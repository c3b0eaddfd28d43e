"""Materializing a version: its segment files (reused by fingerprint or built) and manifest.

1. The project's labels below the cut are grouped into segments (``domain.segments``); each
   one's fingerprint says what its bytes depend on.
2. A segment whose fingerprint was built before reuses its file (cache ``segment_files`` +
   the content-addressed blob); the others are built from the history rows (decode, migrate,
   filter, split: ``domain.build``) and written as one sorted Parquet file each.
3. The manifest lists the segment files in (partition, segment) order with counts merged from
   the segments' stats; its sha256 is the version's address.

A version after +10k labels on a large base rewrites only the segments the new labels (and
the rows they supersede) fall in; everything else is reused by hash.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
import pyarrow as pa
import pyarrow.compute as pc
from labelops.ontology.v1.definition_pb2 import OntologyDefinition
from labelops_core.errors import FailedPrecondition

from ..adapters.accepted import AcceptedLog
from ..adapters.catalog import Catalog
from ..adapters.object_store import ObjectStore
from ..adapters.versions import VersionRepository
from ..domain.build import AcceptedRecord, NoMigrationPath, RowFilter, apply_items, build_rows
from ..domain.materialize import FileEntry, assemble, write_segments
from ..domain.migration_paths import Resolver, TargetOntologyUnknown, resolver
from ..domain.pruning import TargetVersion
from ..domain.segments import Segment, cut_json, manifest_extra, plan_segments
from ..domain.versioning import check_items

#: Segments built per round (bounds memory on a first, full build).
_SEGMENTS_PER_ROUND = 8


@dataclass(frozen=True)
class VersionSpec:
    """What a version's bytes are made of (besides the log itself)."""

    dataset_id: str
    number: int
    project_id: str
    cut: Mapping[int, int]
    row_filter: RowFilter
    ontology: tuple[str, str]  # (ontology id, target version)
    created_by: str
    #: Whose labels, items, migrations and cached segment files it is built from.
    tenant_id: str


@dataclass(frozen=True)
class Built:
    manifest_bytes: bytes
    digest: str
    manifest: dict[str, Any]
    reused: int


class VersionBuilder:
    def __init__(
        self,
        pool: asyncpg.Pool,
        accepted: AcceptedLog,
        catalog: Catalog,
        versions: VersionRepository,
        objects: ObjectStore,
        *,
        qa_topic: str,
        segment_span: int,
    ) -> None:
        self.pool = pool
        self.accepted = accepted
        self.catalog = catalog
        self.versions = versions
        self.objects = objects
        self.topic = qa_topic
        self.span = segment_span

    async def build(self, spec: VersionSpec) -> Built:
        """Write the version's new segment files and its manifest (see the module docstring)."""
        filter_json = spec.row_filter.to_json()
        definition = await self._target_definition(spec)
        segments = await self._segments(
            spec, filter_json, hashlib.sha256(definition).hexdigest() if definition else ""
        )
        cached = await self._cached(spec.tenant_id, segments)
        todo = [s for s in segments if s.fingerprint not in cached]
        # Migrated labels are fitted to the target version; with its definition unknown a
        # migration is refused (TargetOntologyUnknown), not made with stale answers.
        targets = {}
        if definition is not None:
            targets[spec.ontology[1]] = TargetVersion(OntologyDefinition.FromString(definition))
        resolve = resolver(
            await self.catalog.migrations(self.pool, spec.tenant_id, spec.ontology[0]), targets
        )
        for i in range(0, len(todo), _SEGMENTS_PER_ROUND):
            round_ = todo[i : i + _SEGMENTS_PER_ROUND]
            tables = [await self._segment_table(spec, s, resolve) for s in round_]
            files = await asyncio.to_thread(write_segments, tables)
            for s, f in zip(round_, files, strict=True):
                if f.rows:
                    await asyncio.to_thread(self.objects.put_blob, f.data)
                entry = FileEntry(f.sha256, f.rows, len(f.data), f.stats)
                await self.versions.add_segment_file(
                    self.pool, spec.tenant_id, s.fingerprint, entry
                )
                cached[s.fingerprint] = entry
        entries = [cached[s.fingerprint] for s in segments]
        manifest_bytes, digest, manifest = assemble(
            entries,
            dataset_id=spec.dataset_id,
            version=spec.number,
            cut=cut_json(spec.cut, self.topic),
            filter=filter_json,
            ontology={"ontology_id": spec.ontology[0], "version": spec.ontology[1]},
            created_by=spec.created_by,
            extra=manifest_extra(
                segments, entries, topic=self.topic, span=self.span, project_id=spec.project_id
            ),
        )
        # Every listed blob was checked (cached) or just written above: no second size check.
        await asyncio.to_thread(
            functools.partial(self.objects.put_manifest, manifest_bytes, digest, check_blobs=False)
        )
        return Built(manifest_bytes, digest, manifest, len(segments) - len(todo))

    async def _target_definition(self, spec: VersionSpec) -> bytes | None:
        """The stored definition of the version's target ontology version, None if unknown."""
        ontology_id, version = spec.ontology
        if not version:
            return None
        return await self.catalog.definition(self.pool, spec.tenant_id, ontology_id, version)

    async def _segments(
        self, spec: VersionSpec, filter_json: Mapping[str, Any], target_definition: str
    ) -> list[Segment]:
        if not spec.cut:
            return []
        tenant, project = spec.tenant_id, spec.project_id
        present = await self.accepted.present_segments(self.pool, tenant, project, self.topic)
        superseded = {
            p: await self.accepted.superseded_below(self.pool, tenant, project, self.topic, p, end)
            for p, end in spec.cut.items()
        }
        return plan_segments(
            present,
            superseded,
            spec.cut,
            span=self.span,
            project_id=spec.project_id,
            topic=self.topic,
            filter_json=filter_json,
            ontology=spec.ontology,
            target_definition=target_definition,
        )

    async def _cached(self, tenant_id: str, segments: list[Segment]) -> dict[str, FileEntry]:
        """The segments' files written before whose blobs are still stored (a cached file
        whose blob is gone, e.g. a wiped store, is built again)."""
        cached = await self.versions.segment_files(
            self.pool, tenant_id, [s.fingerprint for s in segments]
        )
        gone = await asyncio.to_thread(
            lambda: [f for f, e in cached.items() if e.rows and not self.objects.has_blob(e.sha256)]
        )
        for fingerprint in gone:
            del cached[fingerprint]
        return cached

    async def _segment_table(self, spec: VersionSpec, s: Segment, resolve: Resolver) -> pa.Table:
        rows = await self.accepted.segment_rows(
            self.pool,
            spec.tenant_id,
            spec.project_id,
            self.topic,
            s.partition,
            s.lo,
            s.end,
            s.cut_end,
        )
        records = [
            AcceptedRecord(r["payload"], r["event_id"], self.topic, s.partition, r["offset"])
            for r in rows
        ]
        try:
            # The rows first (each payload parsed once, there), then the items they name.
            table = await asyncio.to_thread(
                build_rows,
                records,
                items={},
                filter=spec.row_filter,
                target_ontology_version=spec.ontology[1] or None,
                migration=resolve,
            )
        except NoMigrationPath as exc:
            raise FailedPrecondition(str(exc), reason="NO_MIGRATION_PATH") from exc
        except TargetOntologyUnknown as exc:
            raise FailedPrecondition(str(exc), reason="ONTOLOGY_VERSION_UNKNOWN") from exc
        item_ids = pc.unique(table.column("item_id")).to_pylist()
        items = await self.catalog.items(self.pool, spec.tenant_id, item_ids)
        check_items(sorted(item_ids), items)
        return await asyncio.to_thread(apply_items, table, items)
